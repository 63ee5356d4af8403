package tests

import (
	"sort"
	"strings"
	"testing"

	"github.com/aiplatform/infra/tests/depscheck"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A dependency on one of this program's own components is expanded by the
// Go SDK to the children it has registered so far (sdk/go/pulumi/rpc.go,
// addDependency; a child is added in context.go getOpts, once its inputs
// resolve). During an update that list depends on timing, so `up --plan`
// refused an approved change in TestPlatform: "resource
// ...PrometheusAdapter::prometheus-adapter violates plan: dependencies
// changed: deleted ...ConfigMap::metrics-dashboard-aiplatform-gpu". The
// program therefore depends on charts, add-ons and pulumi-eks components by
// name; these are the exact lists.
func TestDependenciesNameResourcesNotOwnComponents(t *testing.T) {
	rec := runProgram(t, wlFullConfig())
	byURN := map[string]string{}
	for _, r := range rec.All() {
		byURN[r.URN] = r.Type + "::" + r.Name
	}
	names := func(urns []string) []string {
		var out []string
		for _, u := range urns {
			n, ok := byURN[u]
			require.True(t, ok, "dependency %s is not a recorded resource", u)
			out = append(out, n)
		}
		sort.Strings(out)
		return out
	}
	nodeGroups := func() []string {
		var out []string
		for _, r := range rec.ByType("eks:index:ManagedNodeGroup") {
			out = append(out, r.Type+"::"+r.Name)
		}
		require.NotEmpty(t, out, "the config has node groups")
		return out
	}
	with := func(extra ...string) []string {
		out := append(nodeGroups(), extra...)
		sort.Strings(out)
		return out
	}
	const chart = "kubernetes:helm.sh/v4:Chart::"
	// The controller's role and policy stay among them: an Ingress is
	// deleted while the controller can still delete its load balancer.
	lb := []string{"aws:iam/role:Role::aws-load-balancer-controller", "aws:iam/rolePolicy:RolePolicy::aws-load-balancer-controller",
		"kubernetes:core/v1:Secret::aws-load-balancer-controller-webhook-tls", chart + "aws-load-balancer-controller"}
	for _, c := range []struct {
		typ, name string
		want      []string
	}{
		{"aiplatform:workloads:PrometheusAdapter", "prometheus-adapter", with(append(lb, chart+"metrics")...)},
		{"aiplatform:workloads:DCGMExporter", "dcgm-exporter", with(append(lb, chart+"metrics")...)},
		{"aiplatform:workloads:MetricsStack", "metrics", with(append(lb, "kubernetes:storage.k8s.io/v1:StorageClass::default-storage-class")...)},
		// The agents' namespace, not its component with the network policies.
		{chartType, "metrics", []string{"kubernetes:core/v1:Namespace::metrics", "kubernetes:core/v1:Namespace::metrics-agents",
			"kubernetes:core/v1:Secret::metrics-admission", "kubernetes:core/v1:Secret::metrics-grafana-admin"}},
	} {
		got := names(find(t, rec, c.typ, c.name).DependsOn)
		assert.Equal(t, c.want, got, "%s %s depends on", c.typ, c.name)
		for _, g := range got {
			assert.False(t, strings.Contains(g, "ConfigMap::metrics-dashboard"), "%s depends on a dashboard", c.name)
		}
	}
}

// The exact lists above cover one config; the rule holds for every list in
// the module, checked from the types so that no goroutine timing can hide a
// breach (the kubernetes provider depended on infra.Cluster until this
// check found it).
func TestNoDependencyListHoldsAComponentOfThisModule(t *testing.T) {
	depscheck.Require(t, "..", 20)
}
