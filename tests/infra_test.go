package tests

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/aiplatform/infra/infra"
	"github.com/aiplatform/infra/stacks"
	"github.com/aiplatform/infra/tests/mocks"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	subnetType      = "aws:ec2/subnet:Subnet"
	natType         = "aws:ec2/natGateway:NatGateway"
	rtType          = "aws:ec2/routeTable:RouteTable"
	mngType         = "eks:index:ManagedNodeGroup"
	eksType         = "eks:index:Cluster"
	ltType          = "aws:ec2/launchTemplate:LaunchTemplate"
	roleType        = "aws:iam/role:Role"
	kmsKeyType      = "aws:kms/key:Key"
	attachType      = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
	addonType       = "aws:eks/addon:Addon"
	ingressRuleType = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	issuerHost      = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
)

func TestNetworkSpansThreeAZsWithTaggedSubnets(t *testing.T) {
	rec := runProgram(t, baseConfig())
	vpc := plain(find(t, rec, "aws:ec2/vpc:Vpc", "network").Inputs)
	require.Equal(t, "10.0.0.0/16", vpc["cidrBlock"])
	require.Equal(t, true, vpc["enableDnsHostnames"])

	zones := map[string]map[string]bool{"public": {}, "private": {}}
	for _, s := range rec.ByType(subnetType) {
		in := plain(s.Inputs)
		tags := in["tags"].(map[string]any)
		require.Equal(t, "shared", tags["kubernetes.io/cluster/aiplatform-dev"], s.Name)
		require.NotEqual(t, true, in["mapPublicIpOnLaunch"], "%s must not hand out public IPs", s.Name)
		switch {
		case tags["kubernetes.io/role/elb"] == "1":
			require.NotContains(t, tags, "kubernetes.io/role/internal-elb")
			zones["public"][in["availabilityZone"].(string)] = true
		case tags["kubernetes.io/role/internal-elb"] == "1":
			zones["private"][in["availabilityZone"].(string)] = true
		default:
			t.Fatalf("subnet %s has no ELB discovery tag", s.Name)
		}
	}
	want := map[string]bool{"us-west-2a": true, "us-west-2b": true, "us-west-2c": true}
	require.Equal(t, want, zones["public"])
	require.Equal(t, want, zones["private"])

	endpoint := plain(find(t, rec, "aws:ec2/vpcEndpoint:VpcEndpoint", "network-s3").Inputs)
	require.Equal(t, "com.amazonaws.us-west-2.s3", endpoint["serviceName"])
	require.Equal(t, "Gateway", endpoint["vpcEndpointType"])
	require.Len(t, endpoint["routeTableIds"], 3, "every private route table reaches S3 through the endpoint")

	sg := plain(find(t, rec, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "network-default").Inputs)
	require.Empty(t, sg["ingress"], "default security group must have no rules")
	require.Empty(t, sg["egress"])
}

// natOfPrivateRouteTables maps each private route table to its NAT gateway id.
func natOfPrivateRouteTables(rec *mocks.Recorder) []string {
	var nats []string
	for _, rt := range rec.ByType(rtType) {
		if nat, ok := path(plain(rt.Inputs), "routes", 0, "natGatewayId").(string); ok {
			nats = append(nats, nat)
		}
	}
	sort.Strings(nats)
	return nats
}

func TestNATGateways(t *testing.T) {
	single := runProgram(t, baseConfig())
	require.Len(t, single.ByType(natType), 1)
	require.Equal(t, []string{"network-nat-0-id", "network-nat-0-id", "network-nat-0-id"}, natOfPrivateRouteTables(single))

	perAZ := runProgram(t, with(baseConfig(), "aiplatform:natGateways", "perAz"))
	require.Len(t, perAZ.ByType(natType), 3)
	require.Equal(t, []string{"network-nat-0-id", "network-nat-1-id", "network-nat-2-id"}, natOfPrivateRouteTables(perAZ),
		"each AZ's private subnets egress through their own NAT")
	for _, nat := range perAZ.ByType(natType) {
		require.Contains(t, nat.Inputs["subnetId"].StringValue(), "network-public-", "NAT gateways live in public subnets")
	}
}

func TestTwoAZs(t *testing.T) {
	rec := runProgram(t, with(baseConfig(), "aiplatform:availabilityZoneCount", "2", "aiplatform:vpcCidr", "10.20.0.0/18"))
	require.Len(t, rec.ByType(subnetType), 4)
	require.Equal(t, "10.20.0.0/18", find(t, rec, "aws:ec2/vpc:Vpc", "network").Inputs["cidrBlock"].StringValue())
	require.Equal(t, "10.20.0.0/21", find(t, rec, subnetType, "network-private-0").Inputs["cidrBlock"].StringValue())
}

func TestClusterIsPrivateEncryptedAndAuditable(t *testing.T) {
	rec := runProgram(t, baseConfig())
	c := plain(find(t, rec, eksType, "cluster").Inputs)
	require.Equal(t, "aiplatform-dev", c["name"])
	require.Equal(t, stacks.DefaultKubernetesVersion, c["version"])
	require.Equal(t, "API", c["authenticationMode"])
	require.Equal(t, true, c["endpointPrivateAccess"])
	require.Equal(t, false, c["endpointPublicAccess"], "the API server is private by default")
	require.NotContains(t, c, "publicAccessCidrs")
	require.Equal(t, true, c["skipDefaultNodeGroup"])
	require.Equal(t, false, c["nodeAssociatePublicIpAddress"])
	require.Equal(t, "172.20.0.0/16", c["kubernetesServiceIpAddressRange"])
	require.ElementsMatch(t, []any{"api", "audit", "authenticator", "controllerManager", "scheduler"}, c["enabledClusterLogTypes"])
	require.Equal(t, []any{"network-private-0-id", "network-private-1-id", "network-private-2-id"}, c["privateSubnetIds"])

	key := find(t, rec, kmsKeyType, "cluster-secrets")
	require.Equal(t, true, plain(key.Inputs)["enableKeyRotation"])
	require.Equal(t, key.Outputs["arn"].StringValue(), c["encryptionConfigKeyArn"], "secrets are encrypted with the cluster's own key")

	entry := path(c, "accessEntries", infra.AccessEntryKey("admin", adminRole)).(map[string]any)
	require.Equal(t, adminRole, entry["principalArn"])
	require.Equal(t, "STANDARD", entry["type"])
	require.Equal(t, "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", path(entry, "accessPolicies", "admin", "policyArn"))
	require.Equal(t, "cluster", path(entry, "accessPolicies", "admin", "accessScope", "type"))

	require.Len(t, c["accessEntries"], 1, "only the configured admin has access by default")

	oidc := plain(find(t, rec, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "cluster").Inputs)
	require.Equal(t, mocks.OIDCIssuer, oidc["url"], "the provider trusts the cluster's own issuer")
	require.Equal(t, []any{"sts.amazonaws.com"}, oidc["clientIdLists"])

	require.Equal(t, true, c["useDefaultVpcCni"], "pulumi-eks must not install its own CNI next to the add-on")
	cni := plain(find(t, rec, "aws:eks/addon:Addon", "cluster-vpc-cni").Inputs)
	require.Equal(t, "vpc-cni", cni["addonName"])
	require.Equal(t, "aiplatform-dev", cni["clusterName"])
	require.JSONEq(t, `{"enableNetworkPolicy":"true"}`, cni["configurationValues"].(string), "NetworkPolicies must be enforced")

	provider := find(t, rec, "pulumi:providers:kubernetes", "cluster")
	require.True(t, provider.Inputs["kubeconfig"].IsSecret(), "the kubeconfig must stay secret")
}

func TestPublicEndpointIsAnExplicitOptIn(t *testing.T) {
	rec := runProgram(t, with(baseConfig(),
		"aiplatform:endpointAccess", "public-and-private",
		"aiplatform:publicAccessCidrs", `["203.0.113.0/24"]`))
	c := plain(find(t, rec, eksType, "cluster").Inputs)
	require.Equal(t, true, c["endpointPublicAccess"])
	require.Equal(t, true, c["endpointPrivateAccess"], "nodes keep using the private endpoint")
	require.Equal(t, []any{"203.0.113.0/24"}, c["publicAccessCidrs"])
}

func TestClusterKubeconfigOutputIsSecret(t *testing.T) {
	_, err := mocks.Run(baseConfig(), func(ctx *pulumi.Context) error {
		c, err := infra.NewCluster(ctx, "c", &infra.ClusterArgs{
			ClusterName: "c", KubernetesVersion: "1.36", Region: mocks.Region,
			VpcID: pulumi.String("vpc-1"), PrivateSubnetIDs: pulumi.ToStringArray([]string{"s-1"}),
			AdminRoleArns: []string{adminRole}, ServiceCIDR: "172.20.0.0/16",
		})
		if err != nil {
			return err
		}
		kc, err := internals.UnsafeAwaitOutput(ctx.Context(), c.Kubeconfig)
		require.NoError(t, err)
		require.True(t, kc.Secret, "kubeconfig output must be secret")
		require.Contains(t, kc.Value, `"get-token"`)
		issuer, err := internals.UnsafeAwaitOutput(ctx.Context(), c.OIDCIssuer)
		require.NoError(t, err)
		require.Equal(t, mocks.OIDCIssuer, issuer.Value)
		return nil
	})
	require.NoError(t, err)
}

// nodeGroups returns the recorded managed node groups by their EKS name.
func nodeGroups(t *testing.T, rec *mocks.Recorder) map[string]map[string]any {
	groups := map[string]map[string]any{}
	for _, ng := range rec.ByType(mngType) {
		in := plain(ng.Inputs)
		groups[in["nodeGroupName"].(string)] = in
	}
	require.Len(t, groups, 3)
	return groups
}

func TestNodeGroups(t *testing.T) {
	rec := runProgram(t, baseConfig())
	groups := nodeGroups(t, rec)

	system := groups["system"]
	require.Equal(t, "ON_DEMAND", system["capacityType"])
	require.Equal(t, "AL2023_x86_64_STANDARD", system["amiType"])
	require.Empty(t, system["taints"])
	require.GreaterOrEqual(t, path(system, "scalingConfig", "minSize"), 1.0)

	spot := groups["spot"]
	require.Equal(t, "SPOT", spot["capacityType"])
	require.GreaterOrEqual(t, len(spot["instanceTypes"].([]any)), 3, "spot capacity must be diversified")
	require.Equal(t, 0.0, path(spot, "scalingConfig", "minSize"))
	require.Equal(t, "cpu", path(spot, "labels", infra.NodeKindLabel))

	gpu := groups["gpu"]
	require.Equal(t, "AL2023_x86_64_NVIDIA", gpu["amiType"])
	require.Equal(t, []any{map[string]any{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}}, gpu["taints"])
	require.Equal(t, "gpu", path(gpu, "labels", infra.NodeKindLabel))
	require.Equal(t, "nvidia", path(gpu, "labels", "k8s.amazonaws.com/accelerator"))
	require.Equal(t, 0.0, path(gpu, "scalingConfig", "minSize"), "GPU nodes scale to zero")
	require.Equal(t, 0.0, path(gpu, "scalingConfig", "desiredSize"))
	require.Equal(t, "true:NoSchedule", path(gpu, "tags", "k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu"))

	for name, g := range groups {
		require.Equal(t, "true", path(g, "tags", "k8s.io/cluster-autoscaler/enabled"), name)
		require.Equal(t, "owned", path(g, "tags", "k8s.io/cluster-autoscaler/aiplatform-dev"), name)
		require.Equal(t, []any{"network-private-0-id", "network-private-1-id", "network-private-2-id"}, g["subnetIds"], "%s nodes live in private subnets", name)
		require.NotContains(t, g, "remoteAccess", "%s: no SSH", name)
		require.NotContains(t, g, "diskSize", "%s: disk comes from the launch template", name)
		require.Equal(t, "nodes-"+name+"-id", path(g, "launchTemplate", "id"))
	}
}

func TestLaunchTemplatesRequireIMDSv2AndEncryptedDisks(t *testing.T) {
	rec := runProgram(t, baseConfig())
	lts := rec.ByType(ltType)
	require.Len(t, lts, 3)
	for _, lt := range lts {
		in := plain(lt.Inputs)
		require.Equal(t, "required", path(in, "metadataOptions", "httpTokens"), lt.Name)
		require.Equal(t, 1.0, path(in, "metadataOptions", "httpPutResponseHopLimit"), "%s: pods must not reach node credentials", lt.Name)
		require.NotContains(t, in, "keyName", "%s: no SSH key", lt.Name)
		require.Equal(t, "true", path(in, "blockDeviceMappings", 0, "ebs", "encrypted"), lt.Name)
		require.Equal(t, "gp3", path(in, "blockDeviceMappings", 0, "ebs", "volumeType"), lt.Name)
	}
	require.Equal(t, 200.0, path(plain(find(t, rec, ltType, "nodes-gpu").Inputs), "blockDeviceMappings", 0, "ebs", "volumeSize"))
}

func TestIMDSHopLimitTwoIsPerGroupOptIn(t *testing.T) {
	groups := `[{"name":"system","kind":"system","instanceTypes":["m6i.large"],"minSize":1,"desiredSize":1,"maxSize":2,"imdsHopLimit":2},
	{"name":"gpu","kind":"gpu","instanceTypes":["g5.xlarge"],"maxSize":3}]`
	rec := runProgram(t, with(baseConfig(), "aiplatform:nodeGroups", groups))
	require.Equal(t, 2.0, path(plain(find(t, rec, ltType, "nodes-system").Inputs), "metadataOptions", "httpPutResponseHopLimit"))
	require.Equal(t, 1.0, path(plain(find(t, rec, ltType, "nodes-gpu").Inputs), "metadataOptions", "httpPutResponseHopLimit"))
}

func TestCriticalAddonsOnlyTaint(t *testing.T) {
	groups := `[{"name":"system","kind":"system","instanceTypes":["m6i.large"],"minSize":2,"desiredSize":2,"maxSize":3,"criticalAddonsOnly":true}]`
	rec := runProgram(t, with(baseConfig(), "aiplatform:nodeGroups", groups))
	mng := plain(find(t, rec, mngType, "nodes-system").Inputs)
	require.Equal(t, []any{map[string]any{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}}, mng["taints"])
}

func TestAutoscalerDesiredSizeSurvivesUpdates(t *testing.T) {
	rec := runProgram(t, baseConfig())
	groups := rec.ByType(mngType)
	require.Len(t, groups, 3, "the dev config's three node groups")
	for _, ng := range groups {
		require.Len(t, ng.Transforms, 1, "%s must carry the transform that protects desiredSize", ng.Name)
		// The transform reaches the aws:eks NodeGroup that pulumi-eks creates inside the component.
		res := ng.Transforms[0](context.Background(), &pulumi.ResourceTransformArgs{
			Custom: true, Type: "aws:eks/nodeGroup:NodeGroup", Name: ng.Name, Props: pulumi.Map{},
		})
		require.NotNil(t, res)
		require.Contains(t, res.Opts.IgnoreChanges, "scalingConfig.desiredSize")
		require.Nil(t, ng.Transforms[0](context.Background(), &pulumi.ResourceTransformArgs{Type: "aws:ec2/launchTemplate:LaunchTemplate"}),
			"other resources keep their options")
	}
}

// nodeRolePolicies lists the managed policies attached to the role of node group name.
func nodeRolePolicies(t *testing.T, rec *mocks.Recorder, name string) []string {
	t.Helper()
	var policies []string
	for _, a := range rec.ByType(attachType) {
		if a.Parent == find(t, rec, "aiplatform:infra:NodeGroup", name).URN {
			policies = append(policies, a.Inputs["policyArn"].StringValue())
		}
	}
	return policies
}

// AmazonEKS_CNI_Policy belongs to the CNI's own IRSA role, not to every node
// ("Configure Amazon VPC CNI plugin to use IRSA", EKS user guide).
func TestNodeRolesCarryNoCNIPolicy(t *testing.T) {
	rec := runProgram(t, baseConfig())
	for _, name := range []string{"nodes-system", "nodes-spot", "nodes-gpu"} {
		role := plain(find(t, rec, roleType, name).Inputs)
		trust := policyJSON(t, role["assumeRolePolicy"])
		require.Equal(t, "ec2.amazonaws.com", path(trust, "Statement", 0, "Principal", "Service"))
		require.ElementsMatch(t, []string{
			"arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
			"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
			"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
		}, nodeRolePolicies(t, rec, name), name)
	}
}

func TestModelBucketIsLockedDown(t *testing.T) {
	rec := runProgram(t, baseConfig())
	bucket := find(t, rec, "aws:s3/bucketV2:BucketV2", "models")
	require.True(t, bucket.RetainOnDelete, "model bucket must survive a destroy")
	key := find(t, rec, kmsKeyType, "models")
	require.True(t, key.RetainOnDelete)
	require.Equal(t, true, plain(key.Inputs)["enableKeyRotation"])

	block := plain(find(t, rec, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "models").Inputs)
	for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
		require.Equal(t, true, block[k], k)
	}
	versioning := plain(find(t, rec, "aws:s3/bucketVersioningV2:BucketVersioningV2", "models").Inputs)
	require.Equal(t, "Enabled", path(versioning, "versioningConfiguration", "status"))

	sse := plain(find(t, rec, "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", "models").Inputs)
	require.Equal(t, "aws:kms", path(sse, "rules", 0, "applyServerSideEncryptionByDefault", "sseAlgorithm"))
	require.Equal(t, key.Outputs["arn"].StringValue(), path(sse, "rules", 0, "applyServerSideEncryptionByDefault", "kmsMasterKeyId"))
	require.Equal(t, true, path(sse, "rules", 0, "bucketKeyEnabled"))

	policy := find(t, rec, "aws:s3/bucketPolicy:BucketPolicy", "models")
	doc := policyJSON(t, plain(policy.Inputs)["policy"])
	require.Equal(t, "Deny", path(doc, "Statement", 0, "Effect"))
	require.Equal(t, "false", path(doc, "Statement", 0, "Condition", "Bool", "aws:SecureTransport"))
	require.Equal(t, []any{"arn:aws:s3:::models-0a1b2c", "arn:aws:s3:::models-0a1b2c/*"}, path(doc, "Statement", 0, "Resource"))

	lifecycle := plain(find(t, rec, "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2", "models").Inputs)
	require.Equal(t, 90.0, path(lifecycle, "rules", 0, "noncurrentVersionExpiration", "noncurrentDays"))
}

func TestIRSARoleTrustsOneServiceAccount(t *testing.T) {
	rec, err := mocks.Run(baseConfig(), func(ctx *pulumi.Context) error {
		_, err := infra.NewIRSARole(ctx, "autoscaler", &infra.IRSARoleArgs{
			OIDCProviderArn: pulumi.String("arn:aws:iam::123456789012:oidc-provider/" + issuerHost),
			OIDCIssuer:      pulumi.String(mocks.OIDCIssuer),
			Namespace:       "kube-system",
			ServiceAccount:  "cluster-autoscaler",
			Policy:          pulumi.String(infra.NewPolicy(infra.Allow("Describe", []string{"autoscaling:DescribeAutoScalingGroups"}, []string{"*"})).JSON()),
		})
		return err
	})
	require.NoError(t, err)
	role := find(t, rec, roleType, "autoscaler")
	require.Equal(t, find(t, rec, "aiplatform:infra:IRSARole", "autoscaler").URN, role.Parent)
	trust := policyJSON(t, plain(role.Inputs)["assumeRolePolicy"])
	require.Equal(t, "sts:AssumeRoleWithWebIdentity", path(trust, "Statement", 0, "Action", 0))
	require.Equal(t, map[string]any{
		issuerHost + ":sub": "system:serviceaccount:kube-system:cluster-autoscaler",
		issuerHost + ":aud": "sts.amazonaws.com",
	}, path(trust, "Statement", 0, "Condition", "StringEquals"))
	inline := plain(find(t, rec, "aws:iam/rolePolicy:RolePolicy", "autoscaler").Inputs)
	require.Equal(t, "autoscaler", inline["role"])
}

func TestChildrenAreParentedToTheirComponent(t *testing.T) {
	rec := runProgram(t, baseConfig())
	components := map[string]bool{}
	for _, r := range rec.All() {
		if !r.Custom {
			components[r.URN] = true
		}
	}
	for _, r := range rec.All() {
		if r.Custom && r.Type != "pulumi:providers:kubernetes" {
			require.True(t, components[r.Parent], "%s %s is not parented to a component (parent %q)", r.Type, r.Name, r.Parent)
		}
	}
}

func TestViewerRolesGetReadOnlyAccess(t *testing.T) {
	viewer := "arn:aws:iam::123456789012:role/ci-preview"
	rec := runProgram(t, with(baseConfig(), "aiplatform:viewerRoleArns", `["`+viewer+`"]`))
	c := plain(find(t, rec, eksType, "cluster").Inputs)
	entry := path(c, "accessEntries", infra.AccessEntryKey("viewer", viewer)).(map[string]any)
	require.Equal(t, viewer, entry["principalArn"])
	// AmazonEKSAdminViewPolicy: get/list/watch on everything, Secrets and
	// custom resources included, which `pulumi preview` must read; nothing writable.
	require.Equal(t, map[string]any{"viewer": map[string]any{
		"policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy", "accessScope": map[string]any{"type": "cluster"},
	}}, entry["accessPolicies"], "a viewer must get the admin-view policy and nothing else")
	require.Equal(t, adminRole, path(c, "accessEntries", infra.AccessEntryKey("admin", adminRole), "principalArn"))
}

// entryPrincipals maps the cluster's access entry keys to their principals.
func entryPrincipals(t *testing.T, rec *mocks.Recorder) map[string]any {
	t.Helper()
	out := map[string]any{}
	entries, _ := plain(find(t, rec, eksType, "cluster").Inputs)["accessEntries"].(map[string]any)
	for k, e := range entries {
		out[k] = e.(map[string]any)["principalArn"]
	}
	return out
}

// pulumi-eks v2.8.1 creates the cluster with
// bootstrapClusterCreatorAdminPermissions: true (nodejs/eks/cluster.ts:617), so
// EKS already gave the deploying role an admin access entry; another entry for
// it fails with ResourceInUseException (pulumi/pulumi-eks#2373).
func TestDeployingRoleGetsNoSecondAccessEntry_bootstrapClusterCreatorAdminPermissions(t *testing.T) {
	rec := runProgram(t, with(baseConfig(), "aiplatform:adminRoleArns", `["`+adminRole+`","`+mocks.DeployerRoleArn+`"]`))
	require.Equal(t, map[string]any{infra.AccessEntryKey("admin", adminRole): adminRole}, entryPrincipals(t, rec))

	// The deploying role is resolved from the caller's STS session.
	calls := rec.InvokesOf("aws:iam/getSessionContext:getSessionContext")
	require.Len(t, calls, 1)
	require.Equal(t, mocks.DeployerSessionArn, calls[0].Args["arn"].StringValue())

	// Not as a viewer either: it is already admin, and the entry would collide the same way.
	rec = runProgram(t, with(baseConfig(), "aiplatform:viewerRoleArns", `["`+mocks.DeployerRoleArn+`"]`))
	require.Equal(t, map[string]any{infra.AccessEntryKey("admin", adminRole): adminRole}, entryPrincipals(t, rec))
}

func TestAccessEntryKeysSurviveReorderingTheRoleList(t *testing.T) {
	other := "arn:aws:iam::123456789012:role/sre"
	a := entryPrincipals(t, runProgram(t, with(baseConfig(), "aiplatform:adminRoleArns", `["`+adminRole+`","`+other+`"]`)))
	b := entryPrincipals(t, runProgram(t, with(baseConfig(), "aiplatform:adminRoleArns", `["`+other+`","`+adminRole+`"]`)))
	require.Equal(t, a, b, "reordering adminRoleArns must not rename (and so replace) an access entry")
	// Literal keys (infra.AccessEntryKey: sha256 of the ARN), so a changed
	// hash, which would rename every entry of every stack, fails here too.
	require.Equal(t, map[string]any{"admin-ce910ad9": adminRole, "admin-736ecaf6": other}, a)
}

// pulumi-eks v2.8.1 refuses a non-empty instanceRoles when authenticationMode
// is API (nodejs/eks/authenticationMode.ts, lines 38-52), so the node roles
// are not passed to it, and no access entry of ours names them: EKS adds the
// managed node groups' entries itself. The node groups wait for their role's
// policies, attached under the policy's name.
func TestNodeRolesAreNotInstanceRoles_pulumiEksRejectsThemInAPIMode(t *testing.T) {
	rec := runProgram(t, baseConfig())
	c := plain(find(t, rec, eksType, "cluster").Inputs)
	require.Equal(t, "API", c["authenticationMode"])
	require.NotContains(t, c, "instanceRoles")
	for _, arn := range entryPrincipals(t, rec) {
		require.NotContains(t, arn, ":role/nodes-", "node roles get their access entries from EKS")
	}
	for _, name := range []string{"nodes-system", "nodes-spot", "nodes-gpu"} {
		mng := find(t, rec, mngType, name)
		for _, p := range infra.NodeRolePolicies {
			require.Contains(t, mng.DependsOn, find(t, rec, attachType, name+"-"+p.Policy).URN, "%s: nodes join only once their role can", name)
		}
	}
	// Former numbered names are aliases, so a stack that has the attachments
	// keeps them instead of attaching anew and then detaching the old ones.
	require.Contains(t, find(t, rec, attachType, "nodes-gpu-AmazonEKSWorkerNodePolicy").Aliases, "nodes-gpu-0")
	require.Contains(t, find(t, rec, attachType, "nodes-gpu-AmazonSSMManagedInstanceCore").Aliases, "nodes-gpu-3")
}

// The VPC CNI add-on is pinned from the Kubernetes versions table, preserved
// on delete, and uses its own IRSA role; nodes and the Kubernetes provider wait for it.
func TestVpcCniAddon(t *testing.T) {
	rec := runProgram(t, baseConfig())
	addon := find(t, rec, addonType, "cluster-vpc-cni")
	cni := plain(addon.Inputs)
	row, ok := infra.LookupKubernetesVersion(stacks.DefaultKubernetesVersion)
	require.True(t, ok)
	require.Equal(t, row.VpcCniAddon, cni["addonVersion"])
	require.Equal(t, true, cni["preserve"], "removing the add-on must not take networking off running nodes")
	require.Equal(t, "arn:aws:iam::123456789012:role/cluster-vpc-cni", cni["serviceAccountRoleArn"])

	role := find(t, rec, roleType, "cluster-vpc-cni")
	require.Equal(t, find(t, rec, "aiplatform:infra:IRSARole", "cluster-vpc-cni").URN, role.Parent)
	trust := policyJSON(t, plain(role.Inputs)["assumeRolePolicy"])
	require.Equal(t, "system:serviceaccount:kube-system:aws-node", path(trust, "Statement", 0, "Condition", "StringEquals", issuerHost+":sub"))
	attach := plain(find(t, rec, attachType, "cluster-vpc-cni-0").Inputs)
	require.Equal(t, "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy", attach["policyArn"])
	require.Contains(t, addon.DependsOn, find(t, rec, attachType, "cluster-vpc-cni-0").URN, "aws-node starts with its permissions")

	for _, name := range []string{"nodes-system", "nodes-spot", "nodes-gpu"} {
		require.Contains(t, find(t, rec, mngType, name).DependsOn, addon.URN, "%s: no node before pod networking", name)
	}
	require.Contains(t, find(t, rec, "pulumi:providers:kubernetes", "cluster").DependsOn, addon.URN)

	v134 := plain(find(t, runProgram(t, with(baseConfig(), "aiplatform:kubernetesVersion", "1.34")), addonType, "cluster-vpc-cni").Inputs)
	row134, _ := infra.LookupKubernetesVersion("1.34")
	require.Equal(t, row134.VpcCniAddon, v134["addonVersion"], "the pin follows the cluster's minor")
}

// The control plane's ENIs carry only the EKS cluster security group and
// pulumi-eks's own, which admit 443 from the nodes alone: configured sources
// get one rule each on the EKS cluster security group.
func TestPrivateEndpointSources(t *testing.T) {
	require.Empty(t, runProgram(t, baseConfig()).ByType(ingressRuleType), "nothing is opened by default")
	rec := runProgram(t, with(baseConfig(),
		"aiplatform:endpointAccessSecurityGroupIds", `["sg-0123456789abcdef0"]`,
		"aiplatform:endpointAccessCidrs", `["10.50.0.0/16","192.168.10.0/24"]`))
	rules := rec.ByType(ingressRuleType)
	require.Len(t, rules, 3)
	cidrs := map[string]string{}
	for _, r := range rules {
		in := plain(r.Inputs)
		require.Equal(t, "sg-cluster0123", in["securityGroupId"], "the EKS cluster security group (vpcConfig.clusterSecurityGroupId)")
		require.Equal(t, "tcp", in["ipProtocol"])
		require.Equal(t, 443.0, in["fromPort"])
		require.Equal(t, 443.0, in["toPort"])
		require.Equal(t, find(t, rec, "aiplatform:infra:Cluster", "cluster").URN, r.Parent)
		if c, ok := in["cidrIpv4"].(string); ok {
			cidrs[r.Name] = c
		}
	}
	require.Equal(t, map[string]string{"cluster-api-10-50-0-0-16": "10.50.0.0/16", "cluster-api-192-168-10-0-24": "192.168.10.0/24"}, cidrs)
	sg := plain(find(t, rec, ingressRuleType, "cluster-api-sg-0123456789abcdef0").Inputs)
	require.Equal(t, "sg-0123456789abcdef0", sg["referencedSecurityGroupId"])
	require.NotContains(t, sg, "cidrIpv4")
}

// Local Zones and Wavelength Zones are listed by DescribeAvailabilityZones
// once opted in; the network must only use the region's own zones.
func TestAvailabilityZonesExcludeOptInZones(t *testing.T) {
	rec := runProgram(t, baseConfig())
	calls := rec.InvokesOf("aws:index/getAvailabilityZones:getAvailabilityZones")
	require.Len(t, calls, 1)
	args := plain(calls[0].Args)
	require.Equal(t, "available", args["state"])
	require.Equal(t, []any{map[string]any{"name": "opt-in-status", "values": []any{"opt-in-not-required"}}}, args["filters"])
}

// Outside the commercial partition every managed-policy and access-policy ARN
// must name the region's partition.
func TestPolicyArnsFollowThePartition(t *testing.T) {
	govAdmin := "arn:aws-us-gov:iam::123456789012:role/platform-admin"
	rec := runProgram(t, with(baseConfig(), "aws:region", "us-gov-west-1", "aiplatform:adminRoleArns", `["`+govAdmin+`"]`))
	for _, name := range []string{"nodes-system", "nodes-gpu"} {
		for _, arn := range nodeRolePolicies(t, rec, name) {
			require.True(t, strings.HasPrefix(arn, "arn:aws-us-gov:iam::aws:policy/"), arn)
		}
	}
	entry := path(plain(find(t, rec, eksType, "cluster").Inputs), "accessEntries", infra.AccessEntryKey("admin", govAdmin)).(map[string]any)
	require.Equal(t, "arn:aws-us-gov:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", path(entry, "accessPolicies", "admin", "policyArn"))
	require.Equal(t, "arn:aws-us-gov:iam::aws:policy/AmazonEKS_CNI_Policy", plain(find(t, rec, attachType, "cluster-vpc-cni-0").Inputs)["policyArn"])
}

// `pulumi destroy` must complete: the model bucket and its key are retained
// (the data survives) but not protected; its guard rails are retained with it
// so the bucket left behind is as locked down as before.
func TestModelBucketIsRetainedNotProtected(t *testing.T) {
	rec := runProgram(t, baseConfig())
	parent := find(t, rec, "aiplatform:infra:Bucket", "models").URN
	var children int
	for _, r := range rec.All() {
		if r.Parent != parent {
			continue
		}
		children++
		require.False(t, r.Protect, "%s %s must not block `pulumi destroy`", r.Type, r.Name)
		require.True(t, r.RetainOnDelete, "%s %s must survive `pulumi destroy`", r.Type, r.Name)
	}
	require.GreaterOrEqual(t, children, 8, "bucket, key and guard rails")
}

// With clusterCreatorRoleArn set, every role plans the same access entries: a
// preview by CI's preview role matches the apply role's update.
func TestConfiguredClusterCreatorIsTheSameForEveryCaller(t *testing.T) {
	creator := "arn:aws:iam::123456789012:role/first-admin"
	rec := runProgram(t, with(baseConfig(),
		"aiplatform:clusterCreatorRoleArn", creator,
		"aiplatform:adminRoleArns", `["`+adminRole+`","`+creator+`","`+mocks.DeployerRoleArn+`"]`))
	require.Equal(t, map[string]any{
		infra.AccessEntryKey("admin", adminRole):             adminRole,
		infra.AccessEntryKey("admin", mocks.DeployerRoleArn): mocks.DeployerRoleArn,
	}, entryPrincipals(t, rec), "the configured creator is skipped, whoever runs pulumi")
	require.Empty(t, rec.InvokesOf("aws:index/getCallerIdentity:getCallerIdentity"), "the caller is not looked up")
}

// pulumi-eks v2.8.1 creates the aws:eks NodeGroup inside ManagedNodeGroup
// with only its own dependsOn (nodegroup.js, createManagedNodeGroupInternal),
// so resource options on the component do not order it. The node group's
// inputs carry the order instead: the cluster name comes from the vpc-cni
// add-on and the role ARN waits for the role's policy attachments (the real
// tier's TestPlatform checks the resulting create order against the engine).
func TestNodeGroupsWaitForTheCNIAndTheirRolePolicies(t *testing.T) {
	rec := runProgram(t, baseConfig())
	cni := find(t, rec, addonType, "cluster-vpc-cni").URN
	for _, name := range []string{"nodes-system", "nodes-spot", "nodes-gpu"} {
		ng := find(t, rec, mngType, name)
		assert.Contains(t, ng.PropertyDeps["clusterName"], cni, name)
		assert.Equal(t, "aiplatform-dev", ng.Inputs["clusterName"].StringValue(), name)
		assert.NotContains(t, ng.Inputs, resource.PropertyKey("nodeRole"), "%s: nodeRoleArn carries the dependencies", name)
		parent := find(t, rec, "aiplatform:infra:NodeGroup", name).URN
		attachments := 0
		for _, a := range rec.ByType(attachType) {
			if a.Parent == parent {
				attachments++
				assert.Contains(t, ng.PropertyDeps["nodeRoleArn"], a.URN, "%s waits for %s", name, a.Name)
			}
		}
		assert.Positive(t, attachments, name)
	}
}
