package workloads

import (
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const metricsServerType = "aiplatform:workloads:MetricsServer"

const metricsServerRelease = "metrics-server"

// MetricsServerArgs configures metrics-server.
type MetricsServerArgs struct {
	// Chart defaults to MetricsServerChart.
	Chart Chart
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
		chart = MetricsServerChart
	}
	m := &MetricsServer{}
	if err := ctx.RegisterComponentResource(metricsServerType, name, m, opts...); err != nil {
		return nil, err
	}
	values := pulumi.Map{
		"replicas":            pulumi.Int(2),
		"podDisruptionBudget": pulumi.Map{"enabled": pulumi.Bool(true), "maxUnavailable": pulumi.Int(1)},
		"nodeSelector":        systemNodeSelectorValues(),
		"tolerations":         systemTolerationValues(),
	}
	release, err := installChart(ctx, name, chart, metricsServerRelease, addonNamespace, values, pulumi.Parent(m))
	if err != nil {
		return nil, err
	}
	m.Chart = release
	return m, ctx.RegisterResourceOutputs(m, pulumi.Map{})
}
