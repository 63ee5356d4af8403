package workloads

import (
	"errors"
	"fmt"
	"regexp"

	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Chart pins one official Helm chart: repository, name and exact version.
type Chart struct {
	Repo    string
	Name    string
	Version string
}

// Official charts and the versions this platform is tested with. Each version
// can be overridden per stack (chartVersions); the repository cannot, so a
// stack never installs a chart from an unreviewed source.
var (
	DevicePluginChart           = Chart{"https://nvidia.github.io/k8s-device-plugin", "nvidia-device-plugin", "0.17.1"}
	MetricsServerChart          = Chart{"https://kubernetes-sigs.github.io/metrics-server/", "metrics-server", "3.12.2"}
	ClusterAutoscalerChart      = Chart{"https://kubernetes.github.io/autoscaler", "cluster-autoscaler", "9.46.6"}
	LoadBalancerControllerChart = Chart{"https://aws.github.io/eks-charts", "aws-load-balancer-controller", "1.13.0"}
	ExternalDNSChart            = Chart{"https://kubernetes-sigs.github.io/external-dns/", "external-dns", "1.18.0"}
	ArgoCDChart                 = Chart{"https://argoproj.github.io/argo-helm", "argo-cd", "8.3.0"}
)

// chartVersionPattern accepts exact SemVer versions only: ranges ("^1.2",
// "~1", "1.x") would let a chart change under a stack without a diff.
var chartVersionPattern = regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`)

// WithVersion returns the chart pinned at version, or unchanged when version is empty.
func (c Chart) WithVersion(version string) Chart {
	if version != "" {
		c.Version = version
	}
	return c
}

// Validate checks the pin.
func (c Chart) Validate() error {
	var errs []error
	if c.Repo == "" || c.Name == "" {
		errs = append(errs, errors.New("chart: repository and name are required"))
	}
	if !chartVersionPattern.MatchString(c.Version) {
		errs = append(errs, fmt.Errorf("chart %s: version %q must be an exact version like 1.2.3", c.Name, c.Version))
	}
	return errors.Join(errs...)
}

// ChartVersions overrides the pinned chart versions; empty fields keep the default.
type ChartVersions struct {
	DevicePlugin           string `json:"nvidiaDevicePlugin,omitempty"`
	MetricsServer          string `json:"metricsServer,omitempty"`
	ClusterAutoscaler      string `json:"clusterAutoscaler,omitempty"`
	LoadBalancerController string `json:"awsLoadBalancerController,omitempty"`
	ExternalDNS            string `json:"externalDns,omitempty"`
	ArgoCD                 string `json:"argoCd,omitempty"`
}

// WithDefaults fills every unset version with the platform's pin.
func (v ChartVersions) WithDefaults() ChartVersions {
	fill := func(s *string, c Chart) {
		if *s == "" {
			*s = c.Version
		}
	}
	fill(&v.DevicePlugin, DevicePluginChart)
	fill(&v.MetricsServer, MetricsServerChart)
	fill(&v.ClusterAutoscaler, ClusterAutoscalerChart)
	fill(&v.LoadBalancerController, LoadBalancerControllerChart)
	fill(&v.ExternalDNS, ExternalDNSChart)
	fill(&v.ArgoCD, ArgoCDChart)
	return v
}

// Validate reports every version that is not an exact version, under path.
func (v ChartVersions) Validate(path string) error {
	var errs []error
	check := func(key, version string) {
		if !chartVersionPattern.MatchString(version) {
			errs = append(errs, fmt.Errorf("%s.%s: %q must be an exact chart version like 1.2.3 (no ranges)", path, key, version))
		}
	}
	check("nvidiaDevicePlugin", v.DevicePlugin)
	check("metricsServer", v.MetricsServer)
	check("clusterAutoscaler", v.ClusterAutoscaler)
	check("awsLoadBalancerController", v.LoadBalancerController)
	check("externalDns", v.ExternalDNS)
	check("argoCd", v.ArgoCD)
	return errors.Join(errs...)
}

// installChart installs a pinned chart as release into namespace. Helm v4
// charts are remote components: their children are created by the provider
// passed through opts.
func installChart(ctx *pulumi.Context, name string, chart Chart, release, namespace string, values pulumi.Map, opts ...pulumi.ResourceOption) (*helmv4.Chart, error) {
	if err := chart.Validate(); err != nil {
		return nil, err
	}
	return helmv4.NewChart(ctx, name, &helmv4.ChartArgs{
		Chart:          pulumi.String(chart.Name),
		Version:        pulumi.String(chart.Version),
		RepositoryOpts: &helmv4.RepositoryOptsArgs{Repo: pulumi.String(chart.Repo)},
		Name:           pulumi.String(release),
		Namespace:      pulumi.String(namespace),
		Values:         values,
	}, opts...)
}
