package tests

import (
	"regexp"
	"strings"
	"testing"

	"github.com/aiplatform/infra/stacks"
	"github.com/aiplatform/infra/tests/mocks"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An invoke the mocks do not model fails, as the real tier's fake AWS does:
// an empty answer would let the program run on zero values (issue 19, item 10).
func TestMocksRefuseAnUnmodelledInvoke(t *testing.T) {
	rec := &mocks.Recorder{}
	_, err := rec.Call(pulumi.MockCallArgs{Token: "aws:ec2/getVpc:getVpc"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aws:ec2/getVpc:getVpc is not modelled")

	out, err := rec.Call(pulumi.MockCallArgs{Token: "aws:index/getPartition:getPartition"})
	require.NoError(t, err)
	assert.Equal(t, "aws", out["partition"].StringValue())
}

// The partition, the OIDC issuer and the endpoints follow aws:region, as in
// AWS: a us-gov stack's IRSA trust names an aws-us-gov OIDC provider of a
// us-gov issuer, which the program does not build itself (issue 19, item 10).
func TestMocksFollowTheRegion(t *testing.T) {
	for _, tc := range []struct{ region, partition, suffix string }{
		{"us-west-2", "aws", "amazonaws.com"},
		{"us-gov-west-1", "aws-us-gov", "amazonaws.com"},
		{"cn-north-1", "aws-cn", "amazonaws.com.cn"},
	} {
		assert.Equal(t, tc.partition, mocks.Partition(tc.region))
		assert.Equal(t, "https://oidc.eks."+tc.region+"."+tc.suffix+"/id/EXAMPLED539D4633E53DE1B71EXAMPLE", mocks.IssuerFor(tc.region))
	}
	assert.Equal(t, mocks.OIDCIssuer, mocks.IssuerFor(mocks.Region))

	gov := "arn:aws-us-gov:iam::123456789012:role/platform-admin"
	rec := runProgram(t, with(baseConfig(), "aws:region", "us-gov-west-1", "aiplatform:adminRoleArns", `["`+gov+`"]`))
	oidc := plain(rec.ByType("aws:iam/openIdConnectProvider:OpenIdConnectProvider")[0].Inputs)
	assert.Equal(t, mocks.IssuerFor("us-gov-west-1"), oidc["url"])
	trusts := 0
	for _, role := range rec.ByType("aws:iam/role:Role") {
		doc, _ := plain(role.Inputs)["assumeRolePolicy"].(string)
		if strings.Contains(doc, "oidc-provider/") {
			trusts++
			assert.Contains(t, doc, "arn:aws-us-gov:iam::123456789012:oidc-provider/oidc.eks.us-gov-west-1.amazonaws.com/id/", role.Name)
		}
	}
	require.Greater(t, trusts, 2, "no IRSA role trusts the OIDC provider")
}

// Add-ons and access entries carry the ARN shapes the EKS API returns.
func TestMocksUseAWSARNShapes(t *testing.T) {
	rec := runProgram(t, baseConfig())
	addons := rec.ByType("aws:eks/addon:Addon")
	require.NotEmpty(t, addons)
	addonARN := regexp.MustCompile(`^arn:aws:eks:us-west-2:123456789012:addon/aiplatform-dev/[a-z-]+/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	for _, a := range addons {
		assert.Regexp(t, addonARN, a.Outputs["arn"].StringValue(), a.Name)
	}
	// pulumi-eks creates the access entries inside its component, which has
	// no children under the mocks: register one directly.
	_, outs, err := (&mocks.Recorder{}).NewResource(pulumi.MockResourceArgs{
		TypeToken: "aws:eks/accessEntry:AccessEntry", Name: "admin-0a1b2c3d", Custom: true,
		Inputs: resource.NewPropertyMapFromMap(map[string]any{"clusterName": "aiplatform-dev", "principalArn": adminRole}),
	})
	require.NoError(t, err)
	assert.Regexp(t, `^arn:aws:eks:us-west-2:123456789012:access-entry/aiplatform-dev/role/123456789012/platform-admin/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, outs["accessEntryArn"].StringValue())
}

// The whole program also runs as a preview (RunInfo.DryRun): computed values
// are unknown, resources being created have no id, and no kept secret is
// drawn (issue 19, item 11).
func TestProgramAsAPreview(t *testing.T) {
	cfg := with(baseConfig(), "aiplatform:observability", `{"enabled":true}`)
	rec, err := mocks.RunPreview(cfg, stacks.Run)
	require.NoError(t, err)
	require.Equal(t, len(runProgram(t, cfg).All()), len(rec.All()), "a preview registers what an update registers")

	cluster := rec.ByType("eks:index:Cluster")
	require.Len(t, cluster, 1)
	assert.True(t, unknownSomewhere(cluster[0].Outputs["kubeconfigJson"]), "the kubeconfig is unknown before the cluster exists")

	// Kept secrets (workloads/kept_secret.go) are generated once and kept in
	// the state: a preview draws nothing, so their data is unknown; an update
	// of the same config draws them.
	unknownData := map[string]bool{}
	for _, s := range rec.ByType("kubernetes:core/v1:Secret") {
		if data, ok := s.Inputs["data"]; ok && unknownSomewhere(data) {
			unknownData[s.Name] = true
		}
	}
	assert.GreaterOrEqual(t, len(unknownData), 3, "kept secrets are unknown in a preview, never drawn")
	for _, s := range runProgram(t, cfg).ByType("kubernetes:core/v1:Secret") {
		if unknownData[s.Name] {
			assert.False(t, unknownSomewhere(s.Inputs["data"]), "%s is drawn in an update", s.Name)
		}
	}
	for _, svc := range rec.ByType("kubernetes:core/v1:Service") {
		_, has := svc.Outputs["status"]
		assert.True(t, !has || unknownSomewhere(svc.Outputs["status"]), "%s: a load balancer address is not known in a preview", svc.Name)
	}
}

func unknownSomewhere(v resource.PropertyValue) bool {
	switch {
	case v.IsComputed(), v.IsOutput() && !v.OutputValue().Known:
		return true
	case v.IsSecret():
		return unknownSomewhere(v.SecretValue().Element)
	case v.IsObject():
		for _, e := range v.ObjectValue() {
			if unknownSomewhere(e) {
				return true
			}
		}
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			if unknownSomewhere(e) {
				return true
			}
		}
	}
	return false
}
