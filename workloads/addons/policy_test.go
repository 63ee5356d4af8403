package addons

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aiplatform/infra/tests/golden"
	"github.com/aiplatform/infra/workloads/internal/wltest"
	"github.com/stretchr/testify/assert"
)

func TestLoadBalancerControllerPolicyGolden(t *testing.T) {
	golden.Assert(t, "testdata/lb-controller-policy.json", LoadBalancerControllerPolicy("aws").JSON()+"\n")
}

func TestLoadBalancerControllerPolicyOnlyMutatesOwnedResources(t *testing.T) {
	doc := LoadBalancerControllerPolicy("aws")
	var actions []string
	for sid, s := range wltest.Statements(t, doc) {
		assert.Equal(t, "Allow", s.Effect, sid)
		actions = append(actions, s.Action...)
		for _, a := range s.Action {
			destructive := strings.HasPrefix(a, "elasticloadbalancing:Delete") || a == "ec2:DeleteSecurityGroup" ||
				a == "elasticloadbalancing:ModifyLoadBalancerAttributes" || a == "elasticloadbalancing:SetSubnets"
			if destructive {
				if strings.HasSuffix(a, "DeleteListener") || strings.HasSuffix(a, "DeleteRule") {
					continue // listeners and rules carry no tags; the load balancer does
				}
				assert.Equal(t, map[string]any{"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}, s.Condition["Null"],
					"%s in %s must be limited to resources tagged by the controller", a, sid)
			}
		}
		if s.Action[0] == "iam:CreateServiceLinkedRole" {
			assert.Equal(t, "elasticloadbalancing.amazonaws.com", s.Condition["StringEquals"]["iam:AWSServiceName"])
		}
	}
	// The complete controller policy: spot-check actions only recent controller versions need.
	for _, a := range []string{
		"ec2:GetSecurityGroupsForVpc", "elasticloadbalancing:DescribeListenerAttributes",
		"elasticloadbalancing:ModifyListenerAttributes", "elasticloadbalancing:SetRulePriorities",
		"elasticloadbalancing:DescribeTrustStores", "wafv2:AssociateWebACL", "shield:CreateProtection",
	} {
		assert.Contains(t, actions, a)
	}
	assert.True(t, json.Valid([]byte(doc.JSON())))
	assert.Contains(t, LoadBalancerControllerPolicy("aws-cn").JSON(), "arn:aws-cn:elasticloadbalancing")
}

func TestClusterAutoscalerPolicyOnlyScalesOwnedGroups(t *testing.T) {
	st := wltest.Statements(t, ClusterAutoscalerPolicy("aws", "us-west-2", "ai-dev"))
	scale := st["ScaleClusterGroups"]
	assert.ElementsMatch(t, []string{"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"}, scale.Action)
	assert.Equal(t, map[string]any{"aws:ResourceTag/k8s.io/cluster-autoscaler/ai-dev": "owned"}, scale.Condition["StringEquals"])
	assert.Equal(t, []string{"arn:aws:eks:us-west-2:*:nodegroup/ai-dev/*"}, st["DescribeClusterNodeGroups"].Resource)
	for _, a := range st["DiscoverGroups"].Action {
		assert.Regexp(t, `:(Describe|Get)`, a, "unconditioned statement must be read-only")
	}
}

func TestExternalDNSPolicyIsLimitedToTheZones(t *testing.T) {
	st := wltest.Statements(t, ExternalDNSPolicy("aws", []string{"Z111", "Z222"}))
	zones := []string{"arn:aws:route53:::hostedzone/Z111", "arn:aws:route53:::hostedzone/Z222"}
	assert.Equal(t, []string{"route53:ChangeResourceRecordSets"}, st["ChangeRecordsInZones"].Action)
	assert.Equal(t, zones, st["ChangeRecordsInZones"].Resource)
	assert.Equal(t, zones, st["ReadRecordsInZones"].Resource)
	assert.Equal(t, []string{"route53:ListHostedZones"}, st["ListZones"].Action, "only listing zones is account-wide")
	for sid, s := range st {
		for _, a := range s.Action {
			if a == "route53:ChangeResourceRecordSets" {
				assert.NotContains(t, s.Resource, "*", sid)
			}
		}
	}
}
