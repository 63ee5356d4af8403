package addons

import (
	"regexp"
	"strings"
	"testing"

	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/internal/wltest"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// addonCharts are the charts this package installs.
var addonCharts = []workloads.Chart{workloads.DevicePluginChart, workloads.MetricsServerChart, workloads.ClusterAutoscalerChart,
	workloads.LoadBalancerControllerChart, workloads.ExternalDNSChart, workloads.KEDAChart}

// chartValuesFor renders each add-on's values for a chart version with
// placeholder inputs, so every key the program can set is there.
func chartValuesFor(chart workloads.Chart) pulumi.Map {
	arn := pulumi.String("arn:aws:iam::123456789012:role/addon").ToStringOutput()
	cluster := workloads.ClusterInfo{Name: pulumi.String("aiplatform-dev"), VpcID: pulumi.String("vpc-0123"), Region: "us-west-2"}
	switch chart.Name {
	case workloads.DevicePluginChart.Name:
		return devicePluginValues(chart)
	case workloads.MetricsServerChart.Name:
		return metricsServerValues(chart)
	case workloads.ClusterAutoscalerChart.Name:
		return clusterAutoscalerValues(ClusterAutoscalerArgs{Cluster: cluster, KubernetesVersion: "1.36", Chart: chart}.withDefaults(), arn)
	case workloads.LoadBalancerControllerChart.Name:
		return loadBalancerControllerValues(cluster, arn, pulumi.StringMap{}.ToStringMapOutput())
	case workloads.ExternalDNSChart.Name:
		return externalDNSValues(ExternalDNSArgs{Cluster: cluster, Domain: "ai.example.com", HostedZoneIDs: []string{"Z0123456789ABCDEFGHIJ"},
			OwnerID: "aiplatform-dev", Chart: chart}.withDefaults(), arn)
	case workloads.KEDAChart.Name:
		return kedaValues()
	}
	panic("no values for chart " + chart.Name)
}

// Every key the program sets exists in that chart version: a key a release
// removed or renamed would be ignored by Helm without a word (the brief
// cases: nfd.* keys dropped by node-feature-discovery 0.19, argo-cd's
// configs.params defaults dropped in 9.0.0). Both supported versions of
// every chart are checked.
func TestChartValuesUseOnlyKnownKeys(t *testing.T) {
	for _, c := range addonCharts {
		row, _ := workloads.LookupAddonChart(c.Name)
		wltest.CheckValuesUseOnlyKnownKeys(t, c.Name, row.Supported(), func(v string) pulumi.Map { return chartValuesFor(c.WithVersion(v)) })
	}
}

// The values branch on the version where the charts differ (and only there).
func TestChartValuesBranchOnTheVersion(t *testing.T) {
	for _, c := range addonCharts {
		row, _ := workloads.LookupAddonChart(c.Name)
		if c.Name == workloads.KEDAChart.Name {
			require.Empty(t, row.Previous, "keda is new (issue #20): no previous pin, so no branch yet")
			continue
		}
		require.Len(t, row.Supported(), 2, "%s: the table keeps the previous pin for one release", c.Name)
	}
	keys := func(c workloads.Chart) []string {
		var out []string
		for _, k := range wltest.ValueKeys(chartValuesFor(c)) {
			out = append(out, strings.Join(k, "."))
		}
		return out
	}
	// nvidia-device-plugin: node-feature-discovery 0.19 (chart 0.20.0) has
	// postDeleteCleanup; 0.15.3 (chart 0.17.1) knows no such key.
	assert.Contains(t, keys(workloads.DevicePluginChart), "nfd.postDeleteCleanup")
	assert.NotContains(t, keys(workloads.DevicePluginChart.WithVersion("0.17.1")), "nfd.postDeleteCleanup")
	// metrics-server: tls.type exists from 3.13.0.
	assert.Contains(t, keys(workloads.MetricsServerChart), "tls.type")
	assert.NotContains(t, keys(workloads.MetricsServerChart.WithVersion("3.12.2")), "tls.type")
	// The rest set the same keys for both versions.
	for _, c := range []workloads.Chart{workloads.ClusterAutoscalerChart, workloads.LoadBalancerControllerChart, workloads.ExternalDNSChart} {
		row, _ := workloads.LookupAddonChart(c.Name)
		assert.Equal(t, keys(c), keys(c.WithVersion(row.Previous)), c.Name)
	}
	assert.True(t, workloads.Chart{Version: "0.20.0"}.AtLeast("0.20.0"))
	assert.True(t, workloads.Chart{Version: "10.1.1"}.AtLeast("9.0.0"), "numbers, not strings")
	assert.False(t, workloads.Chart{Version: "0.17.1"}.AtLeast("0.20.0"))
}

// The Load Balancer Controller chart takes the webhook CA and certificate
// from webhookTLS.caCert/cert/key before anything else, serves the webhooks
// from Service <chart name without -controller>-webhook-service, and signs
// for <svc>.<ns>, <svc>.<ns>.svc and <svc>.<ns>.svc.<cluster.dnsDomain>
// (templates/_helpers.tpl webhookCerts). The kept certificate must match
// that in every supported version; from 3.x keepTLSSecret defaults to false,
// so without webhookTLS every render would draw a new CA.
func TestLoadBalancerControllerWebhookTLSMatchesTheChart(t *testing.T) {
	dir := wltest.ChartsDir(t)
	row, _ := workloads.LookupAddonChart(workloads.LoadBalancerControllerChart.Name)
	for _, v := range row.Supported() {
		chart := wltest.ReadChart(t, dir, row.Chart.Name, v)
		helpers := chart.Files["templates/_helpers.tpl"]
		certs := helpers[strings.Index(helpers, `define "aws-load-balancer-controller.webhookCerts"`):]
		first := strings.Index(certs, "{{- if")
		require.GreaterOrEqual(t, first, 0, v)
		assert.Contains(t, certs[first:strings.Index(certs, "{{- else")], "(and .Values.webhookTLS.caCert .Values.webhookTLS.cert .Values.webhookTLS.key)",
			"%s: webhookTLS is the first source of the webhook certificate", v)
		assert.Contains(t, helpers, `printf "%s-webhook-service" (include "aws-load-balancer-controller.namePrefix" .)`, v)
		assert.Contains(t, helpers, `$defaultNamePrefix := .Chart.Name | trimSuffix "-controller"`, v)
		assert.Contains(t, certs, `$altNames := list (printf "%s.%s" $serviceName .Release.Namespace) (printf "%s.%s.svc" $serviceName .Release.Namespace) (printf "%s.%s.svc.%s" $serviceName .Release.Namespace .Values.cluster.dnsDomain)`, v)
		values := chart.Values(t, "")
		assert.Equal(t, "cluster.local", values["cluster"].(map[string]any)["dnsDomain"], v)
		assert.Equal(t, loadBalancerWebhookService, strings.TrimSuffix(row.Chart.Name, "-controller")+"-webhook-service")
		assert.Equal(t, workloads.ServiceDNSNames(loadBalancerWebhookService, workloads.AddonNamespace)[2],
			loadBalancerWebhookService+"."+workloads.AddonNamespace+".svc."+values["cluster"].(map[string]any)["dnsDomain"].(string))
		if workloads.CompareVersions(v, "3.0.0") >= 0 {
			assert.Equal(t, false, values["keepTLSSecret"], "%s: keepTLSSecret defaults to false from 3.x", v)
		}
		rendered := chartValuesFor(row.Chart.WithVersion(v))
		assert.Equal(t, pulumi.Bool(true), rendered["keepTLSSecret"])
		assert.ElementsMatch(t, []string{"caCert", "cert", "key"}, wltest.MapKeys(rendered["webhookTLS"].(pulumi.Map)))
	}
}

// The device plugin chart's node-feature-discovery subchart is off (its
// condition's first path, nfd.enabled, is false), so none of its templates,
// hooks included, render; from 0.20.0 (NFD 0.19) the post-delete prune Job
// is also switched off by postDeleteCleanup, which gates it.
func TestDevicePluginValuesKeepNFDHooksOut(t *testing.T) {
	dir := wltest.ChartsDir(t)
	row, _ := workloads.LookupAddonChart(workloads.DevicePluginChart.Name)
	for _, v := range row.Supported() {
		chart := wltest.ReadChart(t, dir, row.Chart.Name, v)
		meta := chart.Meta(t, "")
		require.Len(t, meta.Dependencies, 1, v)
		require.Equal(t, "nfd", meta.Dependencies[0].Alias, v)
		require.True(t, strings.HasPrefix(meta.Dependencies[0].Condition, "nfd.enabled"), "%s: nfd.enabled decides", v)
		rendered := chartValuesFor(row.Chart.WithVersion(v))
		nfd := rendered["nfd"].(pulumi.Map)
		assert.Equal(t, pulumi.Bool(false), nfd["enabled"], v)
		hooks := 0
		for path, body := range chart.Files {
			if !strings.Contains(body, "helm.sh/hook") || strings.Contains(path, "/tests/") {
				continue
			}
			require.True(t, strings.HasPrefix(path, "charts/node-feature-discovery/"), "%s: hook outside the disabled subchart: %s", v, path)
			assert.True(t, strings.HasPrefix(body, "{{- if .Values.postDeleteCleanup }}"), "%s: %s is gated by postDeleteCleanup", v, path)
			assert.Equal(t, pulumi.Bool(false), nfd["postDeleteCleanup"], v)
			hooks++
		}
		if workloads.CompareVersions(v, "0.20.0") >= 0 {
			assert.Positive(t, hooks, "%s: NFD 0.19 ships the post-delete prune hooks", v)
		}
	}
}

// renderTimeFunction is a template action calling a function whose result
// differs between renders or depends on the cluster (Helm's lookup, Sprig's
// random, certificate, uuid and time functions).
var renderTimeFunction = regexp.MustCompile(`\{\{[^}]*\b(lookup|rand[A-Z][A-Za-z]*|gen[A-Z][A-Za-z]*|uuidv4|now)\b`)

// What the scale to zero needs of the KEDA chart, read from its templates
// and values.yaml with the program's values (shared/charts/README.md: no
// hooks, no lookup, no random values): the ScaledObject CRD, the operator,
// the metrics API server behind APIService v1beta1.external.metrics.k8s.io
// and the validating webhooks (failurePolicy Ignore) all render, with
// certificates the operator generates (no cert-manager objects), and every
// pod lands on the system nodes and is restricted-clean (namespace keda
// enforces Pod Security restricted).
func TestKEDAChartRendersWhatTheScaleToZeroNeeds(t *testing.T) {
	row := workloads.KEDAChart
	chart := wltest.ReadChart(t, wltest.ChartsDir(t), row.Name, row.Version)
	defaults := chart.Values(t, "")
	values := chartValuesFor(row)
	get := func(m map[string]any, path ...string) any {
		var v any = m
		for _, k := range path {
			v = v.(map[string]any)[k]
		}
		return v
	}
	templates := 0
	for path, body := range chart.Files {
		if !strings.HasPrefix(path, "templates/") {
			continue
		}
		templates++
		// Hooks never run under the Helm v4 Chart, a lookup or random value
		// changes every preview, a kept resource outlives `pulumi destroy`.
		assert.False(t, strings.Contains(body, "helm.sh/hook") || strings.Contains(body, "helm.sh/resource-policy"), "%s: a hook or kept resource", path)
		assert.Empty(t, renderTimeFunction.FindAllString(body, -1), "%s: lookup or a render-time random value", path)
	}
	require.Positive(t, templates)

	// The CRDs are templates (not the crds/ folder), gated by crds.install.
	crd := chart.Files["templates/crds/crd-scaledobjects.yaml"]
	assert.True(t, strings.HasPrefix(crd, "{{- if .Values.crds.install }}"))
	assert.Contains(t, crd, "name: scaledobjects.keda.sh")
	assert.Equal(t, true, get(defaults, "crds", "install"))

	// The operator, named from operator.name.
	assert.Contains(t, chart.Files["templates/manager/deployment.yaml"], "name: {{ .Values.operator.name }}\n")
	assert.Equal(t, "keda-operator", get(defaults, "operator", "name"))

	// The metrics API server and its APIService, gated by metricsServer.enabled.
	api := chart.Files["templates/metrics-server/apiservice.yaml"]
	assert.True(t, strings.HasPrefix(api, "{{- if .Values.metricsServer.enabled }}"))
	assert.Contains(t, api, "name: v1beta1.external.metrics.k8s.io\nspec:\n  service:\n    name: {{ .Values.operator.name }}-metrics-apiserver")
	assert.NotContains(t, api, "insecureSkipTLSVerify", "the operator patches the caBundle it generated")
	assert.Equal(t, true, get(defaults, "metricsServer", "enabled"))

	// The webhooks, on and with the chart's failurePolicy.
	hooks := chart.Files["templates/webhooks/validatingconfiguration.yaml"]
	assert.True(t, strings.HasPrefix(hooks, "{{- if and .Values.webhooks.enabled }}"))
	assert.Contains(t, hooks, "name: vscaledobject.kb.io")
	assert.Contains(t, hooks, "failurePolicy: {{ .Values.webhooks.failurePolicy }}")
	assert.Equal(t, "Ignore", get(defaults, "webhooks", "failurePolicy"))
	assert.Equal(t, pulumi.Map{"enabled": pulumi.Bool(true)}, values["webhooks"])

	// Certificates: made by the operator into Secret KEDACertsSecret, which
	// the operator mounts optionally (it writes it) and the other two pods
	// require; cert-manager's objects stay out.
	assert.Equal(t, pulumi.Map{"autoGenerated": pulumi.Bool(true)}, values["certificates"])
	assert.Equal(t, KEDACertsSecret, get(defaults, "certificates", "secretName"))
	mount := "      - name: certificates\n        secret:\n          defaultMode: 420\n          secretName: {{ .Values.certificates.secretName }}\n"
	assert.Contains(t, chart.Files["templates/manager/deployment.yaml"],
		mount+"          optional: {{ and .Values.certificates.autoGenerated ( not .Values.certificates.certManager.enabled ) }}\n")
	for _, tpl := range []string{"metrics-server", "webhooks"} {
		deploy := chart.Files["templates/"+tpl+"/deployment.yaml"]
		require.Contains(t, deploy, mount, tpl)
		assert.NotContains(t, deploy[strings.Index(deploy, mount)+len(mount):], "optional", "%s requires the Secret", tpl)
	}
	assert.Equal(t, false, get(defaults, "certificates", "certManager", "enabled"))
	for path, body := range chart.Files {
		if strings.HasPrefix(path, "templates/cert-manager/") {
			assert.Contains(t, body[:strings.Index(body, "\n")], ".Values.certificates.certManager.enabled", "%s is gated by certManager.enabled", path)
		}
	}

	// Placement and Pod Security of each pod: the component's own keys,
	// empty by default, fall back to the global ones the program sets.
	for component, tpl := range map[string]string{"operator": "manager", "metricsServer": "metrics-server", "webhooks": "webhooks"} {
		deploy := chart.Files["templates/"+tpl+"/deployment.yaml"]
		for _, key := range []string{"nodeSelector", "tolerations", "affinity"} {
			assert.Contains(t, deploy, "{{- with .Values."+component+"."+key+" | default .Values."+key+" }}", "%s: %s", tpl, key)
			assert.Empty(t, get(defaults, component, key), "%s.%s", component, key)
		}
		assert.Contains(t, deploy, "hostNetwork: {{ .Values."+component+".useHostNetwork }}", tpl)
		assert.Equal(t, false, get(defaults, component, "useHostNetwork"), component)
	}
	assert.Equal(t, workloads.SystemNodeSelectorValues(), values["nodeSelector"])
	assert.Equal(t, workloads.SystemTolerationValues(), values["tolerations"])
	for _, sc := range []string{"operator", "metricServer", "webhooks"} {
		assert.Equal(t, true, get(defaults, "podSecurityContext", sc, "runAsNonRoot"), sc)
		assert.Equal(t, map[string]any{
			"capabilities":             map[string]any{"drop": []any{"ALL"}},
			"allowPrivilegeEscalation": false,
			"readOnlyRootFilesystem":   true,
			"seccompProfile":           map[string]any{"type": "RuntimeDefault"},
		}, get(defaults, "securityContext", sc), sc)
	}
	assert.NotContains(t, values, "securityContext")
	assert.NotContains(t, values, "podSecurityContext")
}
