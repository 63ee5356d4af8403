package workloads

import (
	"github.com/aiplatform/infra/infra"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// GPU placement: GPU pods select GPU nodes by the platform's node-kind label
// and tolerate their taint; nothing else tolerates it, so GPU capacity stays
// free for GPU work.
func GPUNodeSelector() pulumi.StringMap {
	return pulumi.StringMap{infra.NodeKindLabel: pulumi.String(string(infra.GPUNodes))}
}

func GPUTolerations() corev1.TolerationArray {
	return corev1.TolerationArray{corev1.TolerationArgs{
		Key:      pulumi.String(infra.GPUTaintKey),
		Operator: pulumi.String("Exists"),
		Effect:   pulumi.String(infra.KubernetesEffect(infra.GPUTaintEffect)),
	}}
}

// The same placement as Helm values.
func GPUNodeSelectorValues() pulumi.Map {
	return pulumi.Map{infra.NodeKindLabel: pulumi.String(string(infra.GPUNodes))}
}

func GPUTolerationValues() pulumi.Array {
	return pulumi.Array{pulumi.Map{
		"key":      pulumi.String(infra.GPUTaintKey),
		"operator": pulumi.String("Exists"),
		"effect":   pulumi.String(infra.KubernetesEffect(infra.GPUTaintEffect)),
	}}
}

// GPUAffinityValues requires GPU nodes even when a chart ships its own
// default affinity (the device plugin chart does), which values replace.
func GPUAffinityValues() pulumi.Map {
	return pulumi.Map{"nodeAffinity": pulumi.Map{
		"requiredDuringSchedulingIgnoredDuringExecution": pulumi.Map{
			"nodeSelectorTerms": pulumi.Array{pulumi.Map{
				"matchExpressions": pulumi.Array{pulumi.Map{
					"key":      pulumi.String(infra.NodeKindLabel),
					"operator": pulumi.String("In"),
					"values":   pulumi.Array{pulumi.String(string(infra.GPUNodes))},
				}},
			}},
		},
	}}
}

// Cluster add-ons run on the on-demand system nodes and tolerate the
// CriticalAddonsOnly taint a system group may carry.
func SystemNodeSelectorValues() pulumi.Map {
	return pulumi.Map{infra.NodeKindLabel: pulumi.String(string(infra.SystemNodes))}
}

func SystemTolerationValues() pulumi.Array {
	return pulumi.Array{pulumi.Map{
		"key":      pulumi.String(infra.CriticalAddonsOnlyTaintKey),
		"operator": pulumi.String("Exists"),
	}}
}
