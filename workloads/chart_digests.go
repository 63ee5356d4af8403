package workloads

import "github.com/aiplatform/infra/internal/charts"

// ChartDigests are the content digests (charts.ContentDigest: the same for
// the upstream release asset and for `helm package` of the chart's tag) of
// every version AddonCharts supports, its pins and previous pins, by
// <name>-<version>; a test keeps it to exactly those. `aiplatform charts
// fetch` and `aiplatform charts verify` check packaged charts against it.
//
// They were computed from the charts of ../shared/charts, whose README names
// each file's upstream source. When a pin changes, `aiplatform charts fetch`
// prints the new version's digest as "got" and writes nothing; add that
// line once the chart is checked against its upstream source.
var ChartDigests = map[string]string{
	"argo-cd-8.3.0":                       "d85219dc0002d5ca89e7c096a51438709adbc5c6a5253fefbb6c019188a9354c",
	"argo-cd-10.1.1":                      "ea6c7647917c431a26f8a12974c10700dac9492a4e126916ed465c60db0bdb3c",
	"aws-load-balancer-controller-1.13.0": "b83ab26fba05c35aa05478c2e95e5bdb014547f9d633a937817470e37dc59a74",
	"aws-load-balancer-controller-3.5.0":  "c3d3f5d5458cc3454e84286417f19ab2b045d91ebecc5fd65a3d16169cc94d4a",
	"cluster-autoscaler-9.46.6":           "4bb1e0400ff2df736b6bcc81ebda7f4c618ba98727ec5435da4661705ce6bf59",
	"cluster-autoscaler-9.59.0":           "5e23af97c8763a8badb927319bfe2c13388a6dca4be4134004a95a3257953c77",
	"dcgm-exporter-4.8.2":                 "c6e4759f501f2e4e3b164dde7cc08c198973d61e7426856466869134a3e8441b",
	"external-dns-1.18.0":                 "a3bd23dfe9257b0afca608c7672e8b28f5e79988135101899752eab8965cae1b",
	"external-dns-1.21.1":                 "dd84bb78e4eb80b8a4972963af881eaefdc7294f9e857711ed674be0260c42ab",
	"keda-2.20.2":                         "bf0369b816d36e519a47232028380559a10716dcd847d67fd777bc3b6cf88f6a",
	"kube-prometheus-stack-88.5.3":        "fd9ab028e381c68ec2eed2204ca2add95e88505406e98c979db8ff401b93dee3",
	"metrics-server-3.12.2":               "c21d2a26f6a1c9cbd8ef641ae8a01fb24038bd990113fa536fb03896cf92bebd",
	"metrics-server-3.13.1":               "80b8ebaadb943e4b460d2771e35aaabfd00aace41f91c62470c34dd7257bff40",
	"nvidia-device-plugin-0.17.1":         "0be9f88b963b17003c45e6ec0119717e82bdbc4bdf158ac28b0651c600749d6a",
	"nvidia-device-plugin-0.20.0":         "61c8fa6aafcfae9cd463c0480a47ebdce820892893b3cef7df01209098227f54",
	"prometheus-adapter-5.3.0":            "10552ef5db772a307c0ab6f796316256bac17d324e3aaa9f1385d052f79d1f7c",
}

// ChartPins lists every version AddonCharts supports (each row's
// Supported: previous pin, then pin) with its official repository and its
// ChartDigests entry ("" when missing, which fetch and verify report).
func ChartPins() []charts.Pin {
	var pins []charts.Pin
	for _, row := range AddonCharts {
		for _, v := range row.Supported() {
			pins = append(pins, charts.Pin{
				Repo:    row.Chart.Repo,
				Name:    row.Chart.Name,
				Version: v,
				Digest:  ChartDigests[row.Chart.Name+"-"+v],
			})
		}
	}
	return pins
}
