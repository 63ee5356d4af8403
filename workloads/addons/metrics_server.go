package addons

import (
	"github.com/aiplatform/infra/workloads"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const metricsServerType = "aiplatform:workloads:MetricsServer"

const metricsServerRelease = "metrics-server"

// MetricsServerArgs configures metrics-server.
type MetricsServerArgs struct {
	// Chart defaults to MetricsServerChart.
	Chart workloads.Chart
}

// MetricsServer serves the resource metrics API the HPAs scale on; two
// replicas with a disruption budget so autoscaling survives a node drain.
type MetricsServer struct {
	pulumi.ResourceState

	Chart *helmv4.Chart
}

// NewMetricsServer installs the chart.
func NewMetricsServer(ctx *pulumi.Context, name string, args *MetricsServerArgs, opts ...pulumi.ResourceOption) (*MetricsServer, error) {
	if args == nil {
		args = &MetricsServerArgs{}
	}
	chart := args.Chart
	if chart.Name == "" {
		chart = workloads.MetricsServerChart
	}
	m := &MetricsServer{}
	if err := ctx.RegisterComponentResource(metricsServerType, name, m, opts...); err != nil {
		return nil, err
	}
	release, err := workloads.InstallChart(ctx, name, chart, metricsServerRelease, workloads.AddonNamespace, metricsServerValues(chart), pulumi.Parent(m))
	if err != nil {
		return nil, err
	}
	m.Chart = release
	return m, ctx.RegisterResourceOutputs(m, pulumi.Map{})
}

// metricsServerValues are the chart values for the chart's version.
func metricsServerValues(chart workloads.Chart) pulumi.Map {
	values := pulumi.Map{
		"replicas":            pulumi.Int(2),
		"podDisruptionBudget": pulumi.Map{"enabled": pulumi.Bool(true), "maxUnavailable": pulumi.Int(1)},
		"nodeSelector":        workloads.SystemNodeSelectorValues(),
		"tolerations":         workloads.SystemTolerationValues(),
	}
	if chart.AtLeast("3.13.0") {
		// 3.13 added tls.type. Its default, metrics-server (the server
		// signs its own serving certificate at start), is the only type
		// that renders the same on every run without cert-manager: helm
		// makes a new certificate with genSelfSignedCert whenever its
		// lookup finds nothing, as in every preview (templates/apiservice.yaml).
		// Pinned, so a changed chart default cannot bring that in.
		values["tls"] = pulumi.Map{"type": pulumi.String("metrics-server")}
	}
	return values
}
