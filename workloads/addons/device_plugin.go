package addons

import (
	"github.com/aiplatform/infra/workloads"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const devicePluginType = "aiplatform:workloads:DevicePlugin"

const devicePluginRelease = "nvidia-device-plugin"

// DevicePluginArgs configures the NVIDIA device plugin.
type DevicePluginArgs struct {
	// Chart defaults to DevicePluginChart.
	Chart workloads.Chart
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
		chart = workloads.DevicePluginChart
	}
	d := &DevicePlugin{}
	if err := ctx.RegisterComponentResource(devicePluginType, name, d, opts...); err != nil {
		return nil, err
	}
	release, err := workloads.InstallChart(ctx, name, chart, devicePluginRelease, workloads.AddonNamespace, devicePluginValues(chart), pulumi.Parent(d))
	if err != nil {
		return nil, err
	}
	d.Chart = release
	return d, ctx.RegisterResourceOutputs(d, pulumi.Map{})
}

// devicePluginValues are the chart values for the chart's version.
func devicePluginValues(chart workloads.Chart) pulumi.Map {
	nfd := pulumi.Map{"enabled": pulumi.Bool(false)}
	if chart.AtLeast("0.20.0") {
		// node-feature-discovery 0.19 (chart 0.20.0) renders post-delete
		// hooks (a Job running nfd-master -prune) whenever the subchart is
		// on (charts/node-feature-discovery/templates/post-delete-job.yaml).
		// The Helm v4 Chart has no uninstall lifecycle to run them at; keep
		// them out of the render even if feature discovery is ever enabled.
		nfd["postDeleteCleanup"] = pulumi.Bool(false)
	}
	return pulumi.Map{
		"nodeSelector":      workloads.GPUNodeSelectorValues(),
		"affinity":          workloads.GPUAffinityValues(),
		"tolerations":       workloads.GPUTolerationValues(),
		"priorityClassName": pulumi.String("system-node-critical"),
		// Node and GPU feature discovery are not needed: the node group
		// labels its nodes. nfd.enabled is the first path of the subchart's
		// condition (Chart.yaml: nfd.enabled,gfd.enabled), so it decides.
		"gfd": pulumi.Map{"enabled": pulumi.Bool(false)},
		"nfd": nfd,
	}
}
