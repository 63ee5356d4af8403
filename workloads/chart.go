package workloads

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Chart pins one official Helm chart: repository, name and exact version.
type Chart struct {
	Repo    string
	Name    string
	Version string
}

// AddonChart is one row of the add-on chart table: the pin the platform
// installs, the chartVersions key that overrides it, and the previous pin,
// which stays usable for one release so a stack can hold back an upgrade.
// Defaults, validation, the docs/configure.md table, the Renovate configuration's test
// and the chart-source tests all derive from AddonCharts.
//
// The pins do not depend on the Kubernetes minor: every accepted minor
// (infra.KubernetesVersions) is inside each chart's kubeVersion constraint,
// which a test checks against the packaged charts. Images that do depend on
// the minor (the Cluster Autoscaler) live in that infra table.
type AddonChart struct {
	// Key is the field of ChartVersions: aiplatform:chartVersions.<Key>.
	Key string
	// Chart is the pin: the newest release the values mapping is tested with.
	Chart Chart
	// Previous is the pin before Chart, still accepted through chartVersions
	// for one release; the values mapping branches on the version where the
	// two differ. Empty when there is none.
	Previous string
	// field selects the ChartVersions field named by Key.
	field func(*ChartVersions) *string
}

// AddonCharts are the official charts and the versions this platform is
// tested with, one line each (Renovate's regex manager reads and bumps the
// Chart{...} literals; see renovate.json). The repository can only be
// replaced as a whole by one mirror (chartRepository) that serves the same
// charts under the same names and versions; see From.
var AddonCharts = []AddonChart{
	{Key: "nvidiaDevicePlugin", Chart: Chart{"https://nvidia.github.io/k8s-device-plugin", "nvidia-device-plugin", "0.20.0"}, Previous: "0.17.1",
		field: func(v *ChartVersions) *string { return &v.DevicePlugin }},
	{Key: "metricsServer", Chart: Chart{"https://kubernetes-sigs.github.io/metrics-server/", "metrics-server", "3.13.1"}, Previous: "3.12.2",
		field: func(v *ChartVersions) *string { return &v.MetricsServer }},
	{Key: "clusterAutoscaler", Chart: Chart{"https://kubernetes.github.io/autoscaler", "cluster-autoscaler", "9.59.0"}, Previous: "9.46.6",
		field: func(v *ChartVersions) *string { return &v.ClusterAutoscaler }},
	{Key: "awsLoadBalancerController", Chart: Chart{"https://aws.github.io/eks-charts", "aws-load-balancer-controller", "3.5.0"}, Previous: "1.13.0",
		field: func(v *ChartVersions) *string { return &v.LoadBalancerController }},
	{Key: "externalDns", Chart: Chart{"https://kubernetes-sigs.github.io/external-dns/", "external-dns", "1.21.1"}, Previous: "1.18.0",
		field: func(v *ChartVersions) *string { return &v.ExternalDNS }},
	{Key: "argoCd", Chart: Chart{"https://argoproj.github.io/argo-helm", "argo-cd", "10.1.1"}, Previous: "8.3.0",
		field: func(v *ChartVersions) *string { return &v.ArgoCD }},
	{Key: "kubePrometheusStack", Chart: Chart{"https://prometheus-community.github.io/helm-charts", "kube-prometheus-stack", "88.5.3"},
		field: func(v *ChartVersions) *string { return &v.KubePrometheusStack }},
	{Key: "prometheusAdapter", Chart: Chart{"https://prometheus-community.github.io/helm-charts", "prometheus-adapter", "5.3.0"},
		field: func(v *ChartVersions) *string { return &v.PrometheusAdapter }},
	{Key: "dcgmExporter", Chart: Chart{"https://nvidia.github.io/dcgm-exporter/helm-charts", "dcgm-exporter", "4.8.2"},
		field: func(v *ChartVersions) *string { return &v.DCGMExporter }},
	{Key: "keda", Chart: Chart{"https://kedacore.github.io/charts", "keda", "2.20.2"},
		field: func(v *ChartVersions) *string { return &v.KEDA }},
}

// The pinned charts by component, for callers that name one.
var (
	DevicePluginChart           = pinnedChart("nvidia-device-plugin")
	MetricsServerChart          = pinnedChart("metrics-server")
	ClusterAutoscalerChart      = pinnedChart("cluster-autoscaler")
	LoadBalancerControllerChart = pinnedChart("aws-load-balancer-controller")
	ExternalDNSChart            = pinnedChart("external-dns")
	ArgoCDChart                 = pinnedChart("argo-cd")
	KubePrometheusStackChart    = pinnedChart("kube-prometheus-stack")
	PrometheusAdapterChart      = pinnedChart("prometheus-adapter")
	DCGMExporterChart           = pinnedChart("dcgm-exporter")
	KEDAChart                   = pinnedChart("keda")
)

func pinnedChart(name string) Chart {
	row, ok := LookupAddonChart(name)
	if !ok {
		panic("workloads: no AddonCharts row for chart " + name)
	}
	return row.Chart
}

// LookupAddonChart returns the table row of the chart named name.
func LookupAddonChart(name string) (AddonChart, bool) {
	for _, c := range AddonCharts {
		if c.Chart.Name == name {
			return c, true
		}
	}
	return AddonChart{}, false
}

// Supported lists the versions the values mapping knows, oldest first.
func (c AddonChart) Supported() []string {
	if c.Previous == "" {
		return []string{c.Chart.Version}
	}
	return []string{c.Previous, c.Chart.Version}
}

// Supports reports whether the values mapping knows version.
func (c AddonChart) Supports(version string) bool {
	return slices.Contains(c.Supported(), version)
}

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

// From returns the chart fetched from mirror instead of its official
// repository, or unchanged when mirror is empty. A mirror is one of (see
// ValidateChartRepository):
//   - an OCI registry path, oci://123456789012.dkr.ecr.us-west-2.amazonaws.com/charts:
//     the chart is <mirror>/<name> at the pinned version (how Helm and ECR name charts);
//   - a Helm repository over HTTPS (an index.yaml), https://charts.example.com/stable;
//   - a local directory of packaged charts, /srv/charts or file:///srv/charts:
//     the chart is <dir>/<name>-<version>.tgz, as `helm package` and
//     `helm pull` name them (air-gapped machines).
func (c Chart) From(mirror string) Chart {
	if mirror != "" {
		c.Repo = mirror
	}
	return c
}

// ChartSourceKind says how a chart repository is reached.
type ChartSourceKind int

const (
	// HelmRepository is an HTTP(S) Helm repository with an index.yaml.
	HelmRepository ChartSourceKind = iota
	// OCIRegistry is a registry path holding charts as OCI artifacts.
	OCIRegistry
	// LocalDirectory holds packaged charts <name>-<version>.tgz.
	LocalDirectory
)

// chartSourceKind classifies a repository (official or mirror) and returns
// the local directory for LocalDirectory.
func chartSourceKind(repo string) (ChartSourceKind, string) {
	switch {
	case strings.HasPrefix(repo, "oci://"):
		return OCIRegistry, ""
	case strings.HasPrefix(repo, "file://"):
		return LocalDirectory, strings.TrimPrefix(repo, "file://")
	case strings.HasPrefix(repo, "/"):
		return LocalDirectory, repo
	}
	return HelmRepository, ""
}

// ValidateChartRepository checks a chart mirror. Plain http:// is refused:
// charts run with cluster-admin rights, so they are fetched over TLS or from
// disk only.
func ValidateChartRepository(key, repo string) error {
	if repo == "" {
		return nil
	}
	allowed := "an oci:// registry path, an https:// Helm repository, or an absolute directory (/path or file:///path) of packaged charts"
	switch kind, dir := chartSourceKind(repo); kind {
	case LocalDirectory:
		if !filepath.IsAbs(dir) {
			return fmt.Errorf("%s: %q is not an absolute directory; use %s", key, repo, allowed)
		}
		st, err := os.Stat(dir)
		if err != nil || !st.IsDir() {
			return fmt.Errorf("%s: directory %q does not exist on this machine; use %s", key, dir, allowed)
		}
	default:
		u, err := url.Parse(repo)
		switch {
		case err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
			return fmt.Errorf("%s: %q is not a repository URL without credentials, query or fragment; use %s", key, repo, allowed)
		case kind == HelmRepository && u.Scheme != "https":
			return fmt.Errorf("%s: %q is not allowed (charts are fetched over TLS only); use %s", key, repo, allowed)
		}
	}
	return nil
}

// helmSource is where the Helm v4 Chart resource reads the chart from.
func (c Chart) helmSource() (chart string, version string, repo *helmv4.RepositoryOptsArgs, err error) {
	switch kind, dir := chartSourceKind(c.Repo); kind {
	case OCIRegistry:
		return strings.TrimSuffix(c.Repo, "/") + "/" + c.Name, c.Version, nil, nil
	case LocalDirectory:
		// A packaged chart file carries its own version; asking for one as well
		// would make Helm look it up in a repository.
		path := filepath.Join(dir, c.Name+"-"+c.Version+".tgz")
		if _, statErr := os.Stat(path); statErr != nil {
			return "", "", nil, fmt.Errorf("chart %s %s: %s not found in the chart directory %s", c.Name, c.Version, filepath.Base(path), dir)
		}
		return path, "", nil, nil
	}
	return c.Name, c.Version, &helmv4.RepositoryOptsArgs{Repo: pulumi.String(c.Repo)}, nil
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
	KubePrometheusStack    string `json:"kubePrometheusStack,omitempty"`
	PrometheusAdapter      string `json:"prometheusAdapter,omitempty"`
	DCGMExporter           string `json:"dcgmExporter,omitempty"`
	KEDA                   string `json:"keda,omitempty"`
}

// WithDefaults fills every unset version with the platform's pin.
func (v ChartVersions) WithDefaults() ChartVersions {
	for _, c := range AddonCharts {
		if p := c.field(&v); *p == "" {
			*p = c.Chart.Version
		}
	}
	return v
}

// Validate reports every version that is not an exact version or that the
// program has no values mapping for, under path.
func (v ChartVersions) Validate(path string) error {
	var errs []error
	for _, c := range AddonCharts {
		switch version := *c.field(&v); {
		case !chartVersionPattern.MatchString(version):
			errs = append(errs, fmt.Errorf("%s.%s: %q must be an exact chart version like 1.2.3 (no ranges)", path, c.Key, version))
		case !c.Supports(version):
			errs = append(errs, fmt.Errorf("%s.%s: %q is not supported; supported: %s", path, c.Key, version, strings.Join(c.Supported(), ", ")))
		}
	}
	return errors.Join(errs...)
}

// checkSupported refuses a chart version the values mapping does not know:
// values are written for the chart's own values.yaml, and a key that a
// release renamed or removed would be ignored without a word.
func (c Chart) checkSupported() error {
	row, ok := LookupAddonChart(c.Name)
	switch {
	case !ok:
		return fmt.Errorf("chart %s: not an add-on chart of this platform", c.Name)
	case !row.Supports(c.Version):
		return fmt.Errorf("chart %s %s: no values mapping for this version; supported: %s", c.Name, c.Version, strings.Join(row.Supported(), ", "))
	}
	return nil
}

// AtLeast reports whether the chart's version is version or newer (exact
// X.Y.Z versions; the values mapping branches on it where releases differ).
func (c Chart) AtLeast(version string) bool {
	return CompareVersions(c.Version, version) >= 0
}

// CompareVersions orders two X.Y.Z versions by their numbers (pre-release
// suffixes are ignored: pins are releases).
func CompareVersions(a, b string) int {
	parse := func(s string) [3]int {
		var n [3]int
		core, _, _ := strings.Cut(s, "-")
		for i, part := range strings.SplitN(core, ".", 3) {
			n[i], _ = strconv.Atoi(part)
		}
		return n
	}
	pa, pb := parse(a), parse(b)
	for i := range pa {
		if pa[i] != pb[i] {
			return pa[i] - pb[i]
		}
	}
	return 0
}

// InstallChart installs a pinned chart as release into namespace. Helm v4
// charts are remote components: their children are created by the provider
// passed through opts.
func InstallChart(ctx *pulumi.Context, name string, chart Chart, release, namespace string, values pulumi.Map, opts ...pulumi.ResourceOption) (*helmv4.Chart, error) {
	if err := chart.Validate(); err != nil {
		return nil, err
	}
	if err := chart.checkSupported(); err != nil {
		return nil, err
	}
	source, version, repo, err := chart.helmSource()
	if err != nil {
		return nil, err
	}
	args := &helmv4.ChartArgs{
		Chart:     pulumi.String(source),
		Name:      pulumi.String(release),
		Namespace: pulumi.String(namespace),
		Values:    values,
	}
	if repo != nil {
		args.RepositoryOpts = repo
	}
	if version != "" {
		args.Version = pulumi.String(version)
	}
	return helmv4.NewChart(ctx, name, args, opts...)
}
