package workloads

import (
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const devicePluginType = "aiplatform:workloads:DevicePlugin"

const devicePluginRelease = "nvidia-device-plugin"

// DevicePluginArgs configures the NVIDIA device plugin.
type DevicePluginArgs struct {
	// Chart defaults to DevicePluginChart.
	Chart Chart
}

// DevicePlugin is the NVIDIA device plugin daemon set, which advertises
// nvidia.com/gpu on GPU nodes. It runs only on GPU nodes: it selects them by
// the platform's node-kind label (also as required node affinity, replacing
// the chart's feature-discovery affinity) and tolerates their taint.
type DevicePlugin struct {
	pulumi.ResourceState

	Chart *helmv4.Chart
}

// NewDevicePlugin installs the chart.
func NewDevicePlugin(ctx *pulumi.Context, name string, args *DevicePluginArgs, opts ...pulumi.ResourceOption) (*DevicePlugin, error) {
	if args == nil {
		args = &DevicePluginArgs{}
	}
	chart := args.Chart
	if chart.Name == "" {
		chart = DevicePluginChart
	}
	d := &DevicePlugin{}
	if err := ctx.RegisterComponentResource(devicePluginType, name, d, opts...); err != nil {
		return nil, err
	}
	values := pulumi.Map{
		"nodeSelector":      gpuNodeSelectorValues(),
		"affinity":          gpuAffinityValues(),
		"tolerations":       gpuTolerationValues(),
		"priorityClassName": pulumi.String("system-node-critical"),
		// Node and GPU feature discovery are not needed: the node group labels its nodes.
		"gfd": pulumi.Map{"enabled": pulumi.Bool(false)},
		"nfd": pulumi.Map{"enabled": pulumi.Bool(false)},
	}
	release, err := installChart(ctx, name, chart, devicePluginRelease, addonNamespace, values, pulumi.Parent(d))
	if err != nil {
		return nil, err
	}
	d.Chart = release
	return d, ctx.RegisterResourceOutputs(d, pulumi.Map{})
}
