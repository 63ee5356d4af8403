package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aiplatform/infra/infra"
	"github.com/aiplatform/infra/internal/setup"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The committed dev stack's GPU group (g5.xlarge or g6.xlarge, 4 vCPUs
// each, maxSize 2) needs 8 vCPUs of the On-Demand G and VT quota: the
// figure docs/pipeline-guards.md gives.
func TestGPUQuotaNeedsOfTheDevStack(t *testing.T) {
	needs, err := gpuQuotaNeeds(filepath.Join("..", ".."), []string{"dev", "prod"})
	require.NoError(t, err)
	assert.Equal(t, []setup.GPUQuotaNeed{{Stack: "dev", Region: "us-west-2", Quota: setup.OnDemandGPUQuota, VCPUs: 8}}, needs,
		"dev's need; prod has no Pulumi.prod.yaml yet, so none")
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "pipeline-guards.md"))
	require.NoError(t, err)
	assert.Contains(t, string(doc), "needs **8** vCPUs of `L-DB2E81BA`")
}

func TestStackGPUNeeds(t *testing.T) {
	gpu := func(name string, c infra.CapacityType, max int, types ...string) infra.NodeGroupSpec {
		return infra.NodeGroupSpec{Name: name, Kind: infra.GPUNodes, Capacity: c, MaxSize: max, InstanceTypes: types}
	}
	cpu := infra.NodeGroupSpec{Name: "spot", Kind: infra.CPUNodes, Capacity: infra.Spot, MaxSize: 10, InstanceTypes: []string{"m6i.xlarge"}}
	need := func(q setup.GPUQuota, v int) setup.GPUQuotaNeed {
		return setup.GPUQuotaNeed{Stack: "dev", Region: "eu-west-1", Quota: q, VCPUs: v}
	}
	for _, c := range []struct {
		name   string
		groups []infra.NodeGroupSpec
		want   []setup.GPUQuotaNeed
	}{
		{"the largest type counts", []infra.NodeGroupSpec{gpu("gpu", infra.OnDemand, 3, "g5.xlarge", "g5.2xlarge")}, []setup.GPUQuotaNeed{need(setup.OnDemandGPUQuota, 24)}},
		{"on-demand and spot apart, CPU groups not at all", []infra.NodeGroupSpec{cpu, gpu("a", infra.OnDemand, 1, "g6.xlarge"), gpu("b", infra.Spot, 2, "g6e.2xlarge"), gpu("c", infra.OnDemand, 1, "g5.12xlarge")},
			[]setup.GPUQuotaNeed{need(setup.SpotGPUQuota, 16), need(setup.OnDemandGPUQuota, 52)}},
		{"maxSize 0 needs nothing", []infra.NodeGroupSpec{gpu("gpu", infra.OnDemand, 0, "g5.xlarge")}, nil},
		{"a P family is not read", []infra.NodeGroupSpec{gpu("big", infra.OnDemand, 1, "p5.48xlarge")},
			[]setup.GPUQuotaNeed{{Stack: "dev", Region: "eu-west-1", Unchecked: "node group big runs p5.48xlarge, and setup reads only the G and VT quotas"}}},
		{"a type without a vCPU count", []infra.NodeGroupSpec{gpu("gpu", infra.OnDemand, 1, "g4dn.xlarge", "g5.xlarge")},
			[]setup.GPUQuotaNeed{{Stack: "dev", Region: "eu-west-1", Unchecked: "node group gpu runs g4dn.xlarge, which the price table (cost/table.go) has no vCPU count for"}, need(setup.OnDemandGPUQuota, 4)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, stackGPUNeeds("dev", "eu-west-1", c.groups))
		})
	}
}
