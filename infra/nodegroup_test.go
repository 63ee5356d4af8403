package infra

import (
	"context"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"
)

func TestDefaultNodeGroupsAreValid(t *testing.T) {
	groups := DefaultNodeGroups()
	for i := range groups {
		groups[i] = groups[i].WithDefaults()
	}
	require.NoError(t, ValidateNodeGroups("nodeGroups", groups))
	kinds := map[NodeGroupKind]NodeGroupSpec{}
	for _, g := range groups {
		kinds[g.Kind] = g
	}
	require.Equal(t, OnDemand, kinds[SystemNodes].Capacity)
	require.Equal(t, Spot, kinds[CPUNodes].Capacity)
	require.GreaterOrEqual(t, len(kinds[CPUNodes].InstanceTypes), 3)
	require.Zero(t, kinds[GPUNodes].MinSize, "GPU group must scale to zero")
	require.Zero(t, kinds[CPUNodes].MinSize)
}

func TestNodeGroupSpecDerived(t *testing.T) {
	gpu := NodeGroupSpec{Name: "gpu", Kind: GPUNodes, InstanceTypes: []string{"g5.xlarge"}, MaxSize: 1}.WithDefaults()
	require.Equal(t, "AL2023_x86_64_NVIDIA", gpu.AMIType())
	require.Equal(t, []Taint{{"nvidia.com/gpu", "true", "NO_SCHEDULE"}}, gpu.NodeTaints())
	require.Equal(t, "gpu", gpu.NodeLabels()[NodeKindLabel])
	require.Equal(t, "nvidia", gpu.NodeLabels()[AcceleratorLabel])
	require.Equal(t, 1, gpu.IMDSHopLimit)
	require.Equal(t, 200, gpu.DiskSizeGiB)

	sys := NodeGroupSpec{Name: "system", Kind: SystemNodes}.WithDefaults()
	require.Equal(t, "AL2023_x86_64_STANDARD", sys.AMIType())
	require.Empty(t, sys.NodeTaints())
	sys.CriticalAddonsOnly = true
	require.Equal(t, []Taint{{"CriticalAddonsOnly", "true", "NO_SCHEDULE"}}, sys.NodeTaints())
}

func TestNodeGroupSpecValidate(t *testing.T) {
	valid := func() NodeGroupSpec {
		return NodeGroupSpec{Name: "spot", Kind: CPUNodes, Capacity: Spot, InstanceTypes: []string{"m6i.large", "m6a.large", "m5.large"}, MinSize: 0, DesiredSize: 1, MaxSize: 3}.WithDefaults()
	}
	require.NoError(t, valid().Validate("g"))
	cases := []struct {
		name   string
		mutate func(*NodeGroupSpec)
		want   string
	}{
		{"min above desired", func(s *NodeGroupSpec) { s.MinSize = 2 }, "g.desiredSize: must be >= minSize (2), got 1"},
		{"max below desired", func(s *NodeGroupSpec) { s.MaxSize = 0; s.DesiredSize = 1 }, "g.maxSize: must be >= 1, got 0"},
		{"max below min", func(s *NodeGroupSpec) { s.MinSize = 3; s.DesiredSize = 3; s.MaxSize = 2 }, "g.maxSize: must be >= minSize (3), got 2"},
		{"negative min", func(s *NodeGroupSpec) { s.MinSize = -1 }, "g.minSize: must be >= 0, got -1"},
		{"spot with two types", func(s *NodeGroupSpec) { s.InstanceTypes = s.InstanceTypes[:2] }, "g.instanceTypes: a SPOT group needs at least 3 instance types"},
		{"no instance types", func(s *NodeGroupSpec) { s.InstanceTypes = nil }, "g.instanceTypes: at least one instance type is required"},
		{"bad instance type", func(s *NodeGroupSpec) { s.InstanceTypes[0] = "large" }, `g.instanceTypes[0]: "large" is not an EC2 instance type`},
		{"duplicate instance type", func(s *NodeGroupSpec) { s.InstanceTypes[1] = s.InstanceTypes[0] }, `g.instanceTypes[1]: "m6i.large" is listed twice`},
		{"gpu with cpu type", func(s *NodeGroupSpec) { s.Kind = GPUNodes; s.GPUsPerNode = 1 }, `g.instanceTypes[0]: "m6i.large" is not an NVIDIA GPU type`},
		{"unknown kind", func(s *NodeGroupSpec) { s.Kind = "batch" }, `g.kind: "batch" is not one of system, cpu, gpu`},
		{"unknown capacity", func(s *NodeGroupSpec) { s.Capacity = "RESERVED" }, `g.capacityType: "RESERVED" is not one of ON_DEMAND, SPOT`},
		{"spot system", func(s *NodeGroupSpec) { s.Kind = SystemNodes; s.MinSize = 1 }, "g.capacityType: system nodes must be ON_DEMAND"},
		{"system without nodes", func(s *NodeGroupSpec) { s.Kind = SystemNodes; s.Capacity = OnDemand }, "g.minSize: the system group must keep at least 1 node"},
		{"bad name", func(s *NodeGroupSpec) { s.Name = "Spot_Group" }, `g.name: "Spot_Group" must be a lowercase DNS label`},
		{"hop limit 3", func(s *NodeGroupSpec) { s.IMDSHopLimit = 3 }, "g.imdsHopLimit: must be 1 (pods cannot reach IMDS) or 2 (pods need IMDS), got 3"},
		{"tiny disk", func(s *NodeGroupSpec) { s.DiskSizeGiB = 8 }, "g.diskSizeGiB: must be between 20 and 16384, got 8"},
		{"gpus on cpu group", func(s *NodeGroupSpec) { s.GPUsPerNode = 1 }, "g.gpusPerNode: only gpu groups have GPUs"},
		{"critical addons on cpu group", func(s *NodeGroupSpec) { s.CriticalAddonsOnly = true }, "g.criticalAddonsOnly: only the system group"},
		{"reserved label", func(s *NodeGroupSpec) { s.Labels = map[string]string{NodeKindLabel: "x"} }, `g.labels: "aiplatform.io/node-kind" is set by the platform`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := valid()
			tc.mutate(&s)
			require.ErrorContains(t, s.Validate("g"), tc.want)
		})
	}
}

func TestValidateNodeGroupsSet(t *testing.T) {
	groups := DefaultNodeGroups()
	for i := range groups {
		groups[i] = groups[i].WithDefaults()
	}
	dup := append(groups, groups[1])
	require.ErrorContains(t, ValidateNodeGroups("ng", dup), `ng[3].name: "spot" is already used by ng[1]`)
	require.ErrorContains(t, ValidateNodeGroups("ng", groups[1:]), "ng: exactly one group of kind system is required, got 0")
}

func TestAutoscalerTags(t *testing.T) {
	gpu := NodeGroupSpec{Name: "gpu", Kind: GPUNodes, InstanceTypes: []string{"p4d.24xlarge"}, MaxSize: 2, GPUsPerNode: 8}.WithDefaults()
	tags := AutoscalerTags("prod", gpu)
	require.Equal(t, "true", tags["k8s.io/cluster-autoscaler/enabled"])
	require.Equal(t, "owned", tags["k8s.io/cluster-autoscaler/prod"])
	require.Equal(t, "true:NoSchedule", tags["k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu"])
	require.Equal(t, "8", tags["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"])
	require.Equal(t, "gpu", tags["k8s.io/cluster-autoscaler/node-template/label/"+NodeKindLabel])
}

func TestIgnoreScalingChanges(t *testing.T) {
	args := &pulumi.ResourceTransformArgs{Type: "aws:eks/nodeGroup:NodeGroup", Name: "gpu", Props: pulumi.Map{}, Opts: pulumi.ResourceOptions{IgnoreChanges: []string{"tags"}}}
	res := IgnoreScalingChanges(context.Background(), args)
	require.NotNil(t, res)
	require.Equal(t, []string{"tags", "scalingConfig.desiredSize"}, res.Opts.IgnoreChanges)
	require.Equal(t, []string{"tags"}, args.Opts.IgnoreChanges, "the input options must not be mutated")
	require.Nil(t, IgnoreScalingChanges(context.Background(), &pulumi.ResourceTransformArgs{Type: "aws:iam/role:Role"}))
}
