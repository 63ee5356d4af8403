package realtier

import (
	"testing"

	"github.com/aiplatform/infra/tests/depscheck"
)

// The test programs follow the program's rule (tests/depscheck): the
// charts scenario depended on the load balancer controller's component, so
// TestRehearsal's `up --plan` sometimes refused the approved change
// ("MetricsServer::metrics-server violates plan: dependencies changed:
// deleted …LoadBalancerController$kubernetes:helm.sh/v4:Chart::…", stops 27
// and the cold run before it).
func TestNoDependencyListHoldsAComponentOfThisModule(t *testing.T) {
	depscheck.Require(t, ".", 10)
}
