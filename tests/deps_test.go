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

// The state-backend bootstrap is a bucket, a key, IAM roles and optionally
// the runner pools: it must link without the cluster's SDKs (pulumi-eks,
// pulumi-kubernetes, pulumi-aws's eks), which package infra needs and
// infra/awsbase does not. Linking them more than doubled the bootstrap test
// binary's link time. pulumi-aws's ec2 is allowed since the runner pools'
// VPC needs it: measured 2026-12-04, the bootstrap binary links in 5.7 s
// with it and 5.3 s without (125.5 and 125.3 MB).
func TestBootstrapImportsNoClusterSDKs(t *testing.T) {
	const awsSDK = "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/"
	out, err := exec.Command("go", "list", "-deps", "-test", "-f", "{{.ImportPath}}", "github.com/aiplatform/infra/stacks/bootstrap/...").CombinedOutput()
	require.NoError(t, err, string(out))
	forbidden := []string{
		"github.com/pulumi/pulumi-eks",
		"github.com/pulumi/pulumi-kubernetes",
		awsSDK + "eks",
	}
	var offenders []string
	deps := map[string]bool{}
	for _, d := range strings.Fields(string(out)) {
		deps[d] = true
		bad := d == "github.com/aiplatform/infra/infra" // infra/awsbase is the bootstrap's share of it
		for _, f := range forbidden {
			bad = bad || d == f || strings.HasPrefix(d, f+"/")
		}
		if bad {
			offenders = append(offenders, d)
		}
	}
	require.True(t, deps[awsSDK+"s3"], "the bootstrap's dependencies lack pulumi-aws's s3 package, which creates its bucket: is the package list empty?")
	require.Empty(t, offenders, "stacks/bootstrap links the cluster's SDKs; build it on infra/awsbase, not infra")
}

// Imports flow one way: stacks -> workloads/<concern> -> workloads -> infra.
// The concern packages (addons, gitops, inference, observability) do not
// import each other: what one needs of another (a metric name, a peer) is
// passed in by stacks, which composes them.
func TestImportsFlowOneWay(t *testing.T) {
	const mod = "github.com/aiplatform/infra"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, mod+"/...").CombinedOutput()
	require.NoError(t, err, string(out))
	// layer ranks: a package may import only packages of a lower rank.
	rank := func(p string) int {
		switch {
		// internal/setup is the engine of `aiplatform setup`, which runs the
		// bootstrap (stacks/bootstrap) and reads its outputs: cmd's layer.
		case p == mod || strings.HasPrefix(p, mod+"/tests"), strings.HasPrefix(p, mod+"/cmd"), p == mod+"/internal/setup":
			return 5
		case strings.HasPrefix(p, mod+"/stacks"):
			return 4
		case strings.HasPrefix(p, mod+"/workloads/internal/"):
			return 2
		case strings.HasPrefix(p, mod+"/workloads/"):
			return 3
		case p == mod+"/workloads":
			return 2
		case strings.HasPrefix(p, mod+"/infra"), strings.HasPrefix(p, mod+"/cost"):
			return 1
		}
		return 0
	}
	// concern is the first folder under workloads/ (observability for
	// workloads/observability/signals).
	concern := func(p string) string {
		c, _, _ := strings.Cut(strings.TrimPrefix(p, mod+"/workloads/"), "/")
		return c
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := fields[0]
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			checked++
			if r := rank(pkg); r == rank(imp) && (r != 3 || concern(pkg) == concern(imp)) && r != 2 {
				continue // within stacks, within infra, within one concern: free
			}
			require.Less(t, rank(imp), rank(pkg), "%s must not import %s (stacks -> workloads/<concern> -> workloads -> infra)", pkg, imp)
		}
	}
	require.Positive(t, checked)
}

// The signals package is what tests/promql (its own module, with Prometheus)
// links against: it must stay standard-library only, or that module would
// need the whole program's dependencies in its go.sum (and CI's clean
// checkout would fail there).
func TestSignalsImportOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "github.com/aiplatform/infra/workloads/observability/signals").CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, []string{"github.com/aiplatform/infra/workloads/observability/signals"}, strings.Fields(string(out)))
}
