package tests

import (
	"testing"

	"github.com/aiplatform/infra/stacks"
	"github.com/aiplatform/infra/tests/mocks"
	"github.com/stretchr/testify/require"
)

func TestProgramRunsUnderMocks(t *testing.T) {
	rec := runProgram(t, baseConfig())
	counts := map[string]int{}
	for _, r := range rec.All() {
		counts[r.Type]++
	}
	t.Logf("%d resources: %v", len(rec.All()), counts)
	require.Len(t, rec.ByType("eks:index:Cluster"), 1)
	require.Len(t, rec.ByType("eks:index:ManagedNodeGroup"), 3)
}

func TestBadConfigFailsBeforeAnyResource(t *testing.T) {
	rec, err := mocks.Run(with(baseConfig(), "aiplatform:vpcCidr", "10.0.0.0/33", "aiplatform:natGateways", "lots"), stacks.Run)
	require.Error(t, err)
	require.Contains(t, err.Error(), "aiplatform:vpcCidr")
	require.Contains(t, err.Error(), `aiplatform:natGateways: "lots" is not one of single, perAz`)
	require.Empty(t, rec.All(), "nothing may be registered when the config is invalid")
	require.Empty(t, rec.Invokes(), "nothing may be looked up when the config is invalid")
}

// BenchmarkProgramUnderMocks measures one whole run of the program (config,
// infra and workloads) against the mocks.
func BenchmarkProgramUnderMocks(b *testing.B) {
	cfg := baseConfig()
	for b.Loop() {
		if _, err := mocks.Run(cfg, stacks.Run); err != nil {
			b.Fatal(err)
		}
	}
}
