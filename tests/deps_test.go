package tests

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Importing helm/v3 or kubernetes/yaml drags every Kubernetes API group into
// the build (62% of cold compile CPU here); the program must not need them.
func TestProgramImportsOnlyWhatItUses(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/aiplatform/infra").CombinedOutput()
	require.NoError(t, err, string(out))
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4")
	groups := 0
	for _, d := range deps {
		require.False(t, strings.HasPrefix(d, "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"), "forbidden import %s", d)
		require.False(t, strings.HasPrefix(d, "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/yaml"), "forbidden import %s", d)
		if strings.HasPrefix(d, "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/") && strings.Count(d, "/") == 8 {
			groups++
		}
	}
	require.Less(t, groups, 16, "the program pulls in %d Kubernetes API group packages", groups)
}
