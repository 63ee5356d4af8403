package observability

import (
	"errors"
	"time"

	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/observability/signals"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const prometheusAdapterType = "aiplatform:workloads:PrometheusAdapter"

const (
	prometheusAdapterRelease = "prometheus-adapter"
	// prometheusAdapterService is the chart's Service behind the custom
	// metrics APIService: the fullname, which is the release when the
	// release contains the chart name (templates/_helpers.tpl).
	prometheusAdapterService = prometheusAdapterRelease
	// PrometheusAdapterTLSSecret keeps the APIService's CA and the serving
	// certificate (ca.crt, tls.crt, tls.key); the chart renders its own
	// Secret from the values.
	PrometheusAdapterTLSSecret = "aiplatform-prometheus-adapter-tls"
	prometheusAdapterReplicas  = 2
)

// PrometheusAdapterArgs configures prometheus-adapter.
type PrometheusAdapterArgs struct {
	// PrometheusURL is the Prometheus it queries (MetricsStack.PrometheusURL).
	PrometheusURL string
	// Chart defaults to PrometheusAdapterChart.
	Chart workloads.Chart
	// ExternalRules, when set, are served on external.metrics.k8s.io too
	// (the chart then registers that APIService; KEDA registers the same
	// one, so never both): the Triton HPA's offered load
	// (signals.OfferedLoadRule).
	ExternalRules []signals.AdapterRule
}

// PrometheusAdapter serves the Triton HPA's custom metrics
// (custom.metrics.k8s.io, AdapterRules) from Prometheus. The API server
// verifies it with a CA the program generates once and keeps, never with
// insecureSkipTLSVerify (the chart's default without tls.enable).
type PrometheusAdapter struct {
	pulumi.ResourceState

	Chart *helmv4.Chart
}

// NewPrometheusAdapter keeps the serving certificate and installs the chart.
func NewPrometheusAdapter(ctx *pulumi.Context, name string, args *PrometheusAdapterArgs, opts ...pulumi.ResourceOption) (*PrometheusAdapter, error) {
	if args == nil || args.PrometheusURL == "" {
		return nil, workloads.Errorf("prometheus adapter", name, errors.New("prometheusUrl: required"))
	}
	chart := args.Chart
	if chart.Name == "" {
		chart = workloads.PrometheusAdapterChart
	}
	c := &PrometheusAdapter{}
	if err := ctx.RegisterComponentResource(prometheusAdapterType, name, c, opts...); err != nil {
		return nil, err
	}
	_, tls, err := workloads.NewKeptSecret(ctx, name+"-tls", workloads.KeptSecretArgs{
		Name:      PrometheusAdapterTLSSecret,
		Namespace: pulumi.String(MonitoringNamespace),
		Labels:    workloads.CommonLabels(prometheusAdapterRelease, name),
		Generate: func() (map[string]string, error) {
			return workloads.GenerateWebhookTLS(prometheusAdapterRelease, workloads.ServiceDNSNames(prometheusAdapterService, MonitoringNamespace), time.Now())
		},
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	release, err := workloads.InstallChart(ctx, name, chart, prometheusAdapterRelease, MonitoringNamespace,
		prometheusAdapterValues(args.PrometheusURL, args.ExternalRules, tls), pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	c.Chart = release
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{})
}

// prometheusAdapterValues: only the platform's rules (rules.default would
// add a rule per container metric and relist them all every minute), two
// replicas so an HPA never loses its metrics to one eviction, TLS from the
// kept bundle (tls is ca.crt, tls.crt, tls.key).
func prometheusAdapterValues(prometheusURL string, external []signals.AdapterRule, tls pulumi.StringMapOutput) pulumi.Map {
	rules := pulumi.Map{
		"default": pulumi.Bool(false),
		"custom":  toValues(signals.AdapterRules()),
	}
	if len(external) > 0 {
		rules["external"] = toValues(external)
	}
	return systemPlacement(pulumi.Map{
		"prometheus":          pulumi.Map{"url": pulumi.String(prometheusURL), "port": pulumi.Int(PrometheusPort)},
		"rules":               rules,
		"replicas":            pulumi.Int(prometheusAdapterReplicas),
		"podDisruptionBudget": pulumi.Map{"enabled": pulumi.Bool(true), "maxUnavailable": pulumi.Int(1)},
		"resources":           adapterContainer.values(),
		"tls": pulumi.Map{
			"enable":      pulumi.Bool(true),
			"ca":          workloads.KeptValue(tls, workloads.TLSCAKey),
			"certificate": workloads.KeptValue(tls, workloads.TLSCertKey),
			"key":         workloads.KeptValue(tls, workloads.TLSKeyKey),
		},
	})
}
