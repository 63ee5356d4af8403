package tests

import (
	"testing"

	"github.com/aiplatform/infra/cost"
	"github.com/aiplatform/infra/stacks/bootstrap/statebackend"
	"github.com/aiplatform/infra/tests/estimate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The bootstrap's runner option is priced from what it registers: its NAT
// gateway and address around the clock, and the assumed build-minutes at
// the pools' compute type (aws.amazon.com/codebuild/pricing, us-west-2:
// general1.medium $0.01 a minute). By hand, at the defaults: NAT 0.045 ×
// 730 = 32.85, its data 100 GB × 0.045 = 4.50, the address 0.005 × 730 =
// 3.65, 2,000 minutes × 0.01 = 20 over two pools; plus the state key and
// bucket as without runners.
func TestCostPricesTheRunnerPools(t *testing.T) {
	cfg := runnersConfig(`{"kind":"codebuild"}`)
	cfg["aws:region"] = "us-west-2"
	inv, a, err := estimate.Bootstrap(cfg, "account", pricedOn)
	require.NoError(t, err)
	require.Len(t, inv.CodeBuildProjects, len(statebackend.RunnerPools))
	assert.Empty(t, inv.Unpriced, "every resource of the runner option has a price row or is known to be free")
	e, err := cost.Prices.Price(inv, a)
	require.NoError(t, err)
	for _, pool := range statebackend.RunnerPools {
		l := costLine(t, e, "codebuild/"+runnersName+"-"+pool.Name)
		assert.InDelta(t, 10.0, l.Monthly, 1e-9, pool.Name)
		assert.Contains(t, l.Detail, "1000 build-minutes/month (assumed) on BUILD_GENERAL1_MEDIUM")
	}
	assert.InDelta(t, 32.85, costLine(t, e, "nat/"+runnersName+"-nat").Monthly, 1e-9)
	assert.InDelta(t, 4.5, costLine(t, e, "nat-data").Monthly, 1e-9)
	assert.InDelta(t, 3.65, costLine(t, e, "ipv4/"+runnersName+"-nat").Monthly, 1e-9)

	without := bootstrapCIConfig(`{"repository":"` + bootstrapRepo + `","applyPolicyArns":["` + bootstrapApplyPA + `"]}`)
	without["aws:region"] = "us-west-2"
	inv0, a0, err := estimate.Bootstrap(without, "account", pricedOn)
	require.NoError(t, err)
	e0, err := cost.Prices.Price(inv0, a0)
	require.NoError(t, err)
	assert.InDelta(t, 32.85+4.5+3.65+20, e.Totals.Monthly-e0.Totals.Monthly, 1e-6, "what the runner option adds")

	// More minutes and a larger compute type, from the stack's cost config.
	cfg["aiplatform-cost:runnerMinutesPerMonth"] = "6000"
	cfg[statebackend.Namespace+":runners"] = `{"kind":"codebuild","computeType":"BUILD_GENERAL1_LARGE"}`
	inv, a, err = estimate.Bootstrap(cfg, "account", pricedOn)
	require.NoError(t, err)
	e, err = cost.Prices.Price(inv, a)
	require.NoError(t, err)
	assert.InDelta(t, 60.0, costLine(t, e, "codebuild/"+runnersName+"-deploy").Monthly, 1e-9)

	// A region whose CodeBuild prices the table lacks is an error naming it.
	cfg["aws:region"] = "eu-west-1"
	inv, a, err = estimate.Bootstrap(cfg, "account", pricedOn)
	require.NoError(t, err)
	_, err = cost.Prices.Price(inv, a)
	require.ErrorContains(t, err, `no price for compute type "BUILD_GENERAL1_LARGE" in eu-west-1`)
}
