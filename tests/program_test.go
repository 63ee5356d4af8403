package tests

import (
	"os"
	"path/filepath"
	"strings"
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

// A misspelt top-level key fails the whole program (as `pulumi preview`
// runs it) before anything is registered or looked up, naming the key and
// the key it most likely meant.
func TestMisspeltKeyFailsBeforeAnyResource(t *testing.T) {
	rec, err := mocks.Run(with(baseConfig(), "aiplatform:endpointAcess", "public-and-private", "aiplatform:natGateway", "perAz", "aws:profile", "dev"), stacks.Run)
	require.Error(t, err)
	require.Contains(t, err.Error(), "aiplatform:endpointAcess: unknown key; did you mean aiplatform:endpointAccess?")
	require.Contains(t, err.Error(), "aiplatform:natGateway: unknown key; did you mean aiplatform:natGateways?")
	require.NotContains(t, err.Error(), "aws:profile", "other namespaces belong to their providers")
	require.Empty(t, rec.All())
	require.Empty(t, rec.Invokes())
}

// The offline preview reads Pulumi.<stack>.yaml as the CLI does; a typo
// there fails it the same way.
func TestMisspeltKeyInStackFileFailsOfflinePreview(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"Pulumi.yaml", "Pulumi.dev.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", f))
		require.NoError(t, err)
		if f == "Pulumi.dev.yaml" {
			b = []byte(strings.Replace(string(b), "config:\n", "config:\n  aiplatform:endpointAcess: public-and-private\n", 1))
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	cfg, _, err := mocks.StackConfig(dir, "dev")
	require.NoError(t, err)
	require.Contains(t, cfg, "aiplatform:endpointAcess", "the typo must reach the program as the CLI passes it")
	rec, err := mocks.Run(cfg, stacks.Run)
	require.ErrorContains(t, err, "aiplatform:endpointAcess: unknown key; did you mean aiplatform:endpointAccess?")
	require.Empty(t, rec.All())
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
