package addons

import "github.com/aiplatform/infra/infra"

// Tag the AWS Load Balancer Controller puts on everything it creates; the
// mutating statements below only apply to resources carrying it.
const elbv2ClusterTag = "elbv2.k8s.aws/cluster"

// LoadBalancerControllerPolicy is the complete IAM policy of the AWS Load
// Balancer Controller (the action set of its docs/install/iam_policy.json,
// the same from v2.13.0 to v3.5.0): read access to describe the
// network, certificates and WAF/Shield state; create/modify/delete only on
// load balancers, target groups and security groups that carry the
// controller's cluster tag.
func LoadBalancerControllerPolicy(partition string) infra.PolicyDocument {
	arn := func(resource string) string { return "arn:" + partition + ":" + resource }
	loadBalancers := []string{
		arn("elasticloadbalancing:*:*:targetgroup/*/*"),
		arn("elasticloadbalancing:*:*:loadbalancer/net/*/*"),
		arn("elasticloadbalancing:*:*:loadbalancer/app/*/*"),
	}
	securityGroups := []string{arn("ec2:*:*:security-group/*")}
	requestTagged := map[string]any{"aws:RequestTag/" + elbv2ClusterTag: "false"}
	resourceTagged := map[string]any{"aws:ResourceTag/" + elbv2ClusterTag: "false"}
	retag := map[string]any{
		"aws:RequestTag/" + elbv2ClusterTag:  "true",
		"aws:ResourceTag/" + elbv2ClusterTag: "false",
	}
	cond := func(kv ...any) map[string]map[string]any {
		out := map[string]map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1].(map[string]any)
		}
		return out
	}
	withCondition := func(s infra.Statement, c map[string]map[string]any) infra.Statement {
		s.Condition = c
		return s
	}
	all := []string{"*"}
	return infra.NewPolicy(
		withCondition(infra.Allow("CreateELBServiceLinkedRole", []string{"iam:CreateServiceLinkedRole"}, all),
			cond("StringEquals", map[string]any{"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"})),
		infra.Allow("DescribeNetworkAndLoadBalancers", []string{
			"ec2:DescribeAccountAttributes",
			"ec2:DescribeAddresses",
			"ec2:DescribeAvailabilityZones",
			"ec2:DescribeInternetGateways",
			"ec2:DescribeVpcs",
			"ec2:DescribeVpcPeeringConnections",
			"ec2:DescribeSubnets",
			"ec2:DescribeSecurityGroups",
			"ec2:DescribeInstances",
			"ec2:DescribeNetworkInterfaces",
			"ec2:DescribeTags",
			"ec2:GetCoipPoolUsage",
			"ec2:DescribeCoipPools",
			"ec2:GetSecurityGroupsForVpc",
			"ec2:DescribeIpamPools",
			"ec2:DescribeRouteTables",
			"elasticloadbalancing:DescribeLoadBalancers",
			"elasticloadbalancing:DescribeLoadBalancerAttributes",
			"elasticloadbalancing:DescribeListeners",
			"elasticloadbalancing:DescribeListenerCertificates",
			"elasticloadbalancing:DescribeSSLPolicies",
			"elasticloadbalancing:DescribeRules",
			"elasticloadbalancing:DescribeTargetGroups",
			"elasticloadbalancing:DescribeTargetGroupAttributes",
			"elasticloadbalancing:DescribeTargetHealth",
			"elasticloadbalancing:DescribeTags",
			"elasticloadbalancing:DescribeTrustStores",
			"elasticloadbalancing:DescribeListenerAttributes",
			"elasticloadbalancing:DescribeCapacityReservation",
		}, all),
		infra.Allow("CertificatesWAFAndShield", []string{
			"cognito-idp:DescribeUserPoolClient",
			"acm:ListCertificates",
			"acm:DescribeCertificate",
			"iam:ListServerCertificates",
			"iam:GetServerCertificate",
			"waf-regional:GetWebACL",
			"waf-regional:GetWebACLForResource",
			"waf-regional:AssociateWebACL",
			"waf-regional:DisassociateWebACL",
			"wafv2:GetWebACL",
			"wafv2:GetWebACLForResource",
			"wafv2:AssociateWebACL",
			"wafv2:DisassociateWebACL",
			"shield:GetSubscriptionState",
			"shield:DescribeProtection",
			"shield:CreateProtection",
			"shield:DeleteProtection",
		}, all),
		// Ingress rules of node/pod security groups the controller does not own.
		infra.Allow("ManageSecurityGroupIngress", []string{
			"ec2:AuthorizeSecurityGroupIngress",
			"ec2:RevokeSecurityGroupIngress",
		}, all),
		infra.Allow("CreateSecurityGroup", []string{"ec2:CreateSecurityGroup"}, all),
		withCondition(infra.Allow("TagNewSecurityGroups", []string{"ec2:CreateTags"}, securityGroups),
			cond("StringEquals", map[string]any{"ec2:CreateAction": "CreateSecurityGroup"}, "Null", requestTagged)),
		withCondition(infra.Allow("RetagOwnedSecurityGroups", []string{"ec2:CreateTags", "ec2:DeleteTags"}, securityGroups),
			cond("Null", retag)),
		withCondition(infra.Allow("ManageOwnedSecurityGroups", []string{
			"ec2:AuthorizeSecurityGroupIngress",
			"ec2:RevokeSecurityGroupIngress",
			"ec2:DeleteSecurityGroup",
		}, all), cond("Null", resourceTagged)),
		withCondition(infra.Allow("CreateTaggedLoadBalancers", []string{
			"elasticloadbalancing:CreateLoadBalancer",
			"elasticloadbalancing:CreateTargetGroup",
		}, all), cond("Null", requestTagged)),
		infra.Allow("ManageListenersAndRules", []string{
			"elasticloadbalancing:CreateListener",
			"elasticloadbalancing:DeleteListener",
			"elasticloadbalancing:CreateRule",
			"elasticloadbalancing:DeleteRule",
		}, all),
		withCondition(infra.Allow("RetagOwnedLoadBalancers", []string{
			"elasticloadbalancing:AddTags",
			"elasticloadbalancing:RemoveTags",
		}, loadBalancers), cond("Null", retag)),
		infra.Allow("TagListenersAndRules", []string{
			"elasticloadbalancing:AddTags",
			"elasticloadbalancing:RemoveTags",
		}, []string{
			arn("elasticloadbalancing:*:*:listener/net/*/*/*"),
			arn("elasticloadbalancing:*:*:listener/app/*/*/*"),
			arn("elasticloadbalancing:*:*:listener-rule/net/*/*/*"),
			arn("elasticloadbalancing:*:*:listener-rule/app/*/*/*"),
		}),
		withCondition(infra.Allow("ManageOwnedLoadBalancers", []string{
			"elasticloadbalancing:ModifyLoadBalancerAttributes",
			"elasticloadbalancing:SetIpAddressType",
			"elasticloadbalancing:SetSecurityGroups",
			"elasticloadbalancing:SetSubnets",
			"elasticloadbalancing:DeleteLoadBalancer",
			"elasticloadbalancing:ModifyTargetGroup",
			"elasticloadbalancing:ModifyTargetGroupAttributes",
			"elasticloadbalancing:DeleteTargetGroup",
			"elasticloadbalancing:ModifyListenerAttributes",
			"elasticloadbalancing:ModifyCapacityReservation",
			"elasticloadbalancing:ModifyIpPools",
		}, all), cond("Null", resourceTagged)),
		withCondition(infra.Allow("TagOnCreate", []string{"elasticloadbalancing:AddTags"}, loadBalancers),
			cond("StringEquals", map[string]any{"elasticloadbalancing:CreateAction": []string{"CreateTargetGroup", "CreateLoadBalancer"}},
				"Null", requestTagged)),
		infra.Allow("RegisterTargets", []string{
			"elasticloadbalancing:RegisterTargets",
			"elasticloadbalancing:DeregisterTargets",
		}, []string{arn("elasticloadbalancing:*:*:targetgroup/*/*")}),
		infra.Allow("ManageListenerSettings", []string{
			"elasticloadbalancing:SetWebAcl",
			"elasticloadbalancing:ModifyListener",
			"elasticloadbalancing:AddListenerCertificates",
			"elasticloadbalancing:RemoveListenerCertificates",
			"elasticloadbalancing:ModifyRule",
			"elasticloadbalancing:SetRulePriorities",
		}, all),
	)
}
