package infra

import (
	"testing"

	"github.com/pulumi/pulumi-eks/sdk/v2/go/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"
)

const (
	adminArn   = "arn:aws:iam::123456789012:role/platform-admin"
	creatorArn = "arn:aws:iam::123456789012:role/ci-apply"
	viewerArn  = "arn:aws:iam::123456789012:role/ci-preview"
)

func principals(entries map[string]eks.AccessEntryArgs) map[string]string {
	out := map[string]string{}
	for k, e := range entries {
		out[k] = string(e.PrincipalArn.(pulumi.String))
	}
	return out
}

// The keys name the AccessEntry resources of live stacks ("<cluster>-<key>"
// in pulumi-eks), so they are pinned as literals: a change of the hash
// renames, and so replaces, every access entry of every stack, and must fail
// here. Each is the first 4 bytes of sha256(ARN) in hex, after the prefix
// (`printf %s ARN | sha256sum | cut -c1-8`).
func TestAccessEntryKeyIsAStableHashOfTheArn(t *testing.T) {
	for _, tc := range []struct{ prefix, arn, want string }{
		{"admin", adminArn, "admin-ce910ad9"},
		{"admin", creatorArn, "admin-95243757"},
		{"viewer", viewerArn, "viewer-0bf534a9"},
		{"viewer", adminArn, "viewer-ce910ad9"},
		{"admin", "arn:aws-us-gov:iam::123456789012:role/platform-admin", "admin-7eb935a8"},
	} {
		require.Equal(t, tc.want, AccessEntryKey(tc.prefix, tc.arn), "%s %s", tc.prefix, tc.arn)
	}
}

// pulumi-eks v2.8.1 creates the cluster with
// bootstrapClusterCreatorAdminPermissions: true (nodejs/eks/cluster.ts:617),
// so the deploying role already has an admin entry; a second one is a 409
// (pulumi/pulumi-eks#2373).
func TestAccessEntriesSkipTheCreatingRole_bootstrapClusterCreatorAdminPermissions(t *testing.T) {
	cases := []struct {
		name            string
		admins, viewers []string
		creator         string
		want            map[string]string
		skipped         []string
	}{
		{"creator not listed", []string{adminArn}, []string{viewerArn}, creatorArn,
			map[string]string{AccessEntryKey("admin", adminArn): adminArn, AccessEntryKey("viewer", viewerArn): viewerArn}, nil},
		{"creator is an admin", []string{adminArn, creatorArn}, nil, creatorArn,
			map[string]string{AccessEntryKey("admin", adminArn): adminArn}, []string{creatorArn}},
		{"creator is a viewer", []string{adminArn}, []string{creatorArn}, creatorArn,
			map[string]string{AccessEntryKey("admin", adminArn): adminArn}, []string{creatorArn}},
		{"ARN case differs", []string{adminArn, "arn:aws:iam::123456789012:role/CI-Apply"}, nil, creatorArn,
			map[string]string{AccessEntryKey("admin", adminArn): adminArn}, []string{"arn:aws:iam::123456789012:role/CI-Apply"}},
		{"creator unknown", []string{adminArn, creatorArn}, nil, "",
			map[string]string{AccessEntryKey("admin", adminArn): adminArn, AccessEntryKey("admin", creatorArn): creatorArn}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			entries, skipped := AccessEntries("aws", tc.admins, tc.viewers, tc.creator)
			require.Equal(t, tc.want, principals(entries))
			require.Equal(t, tc.skipped, skipped)
		})
	}
}

func TestAccessEntriesKeysSurviveReordering(t *testing.T) {
	a, _ := AccessEntries("aws", []string{adminArn, creatorArn}, nil, "")
	b, _ := AccessEntries("aws", []string{creatorArn, adminArn}, nil, "")
	require.Equal(t, principals(a), principals(b))
}

func TestAccessEntriesPolicies(t *testing.T) {
	entries, _ := AccessEntries("aws-cn", []string{adminArn}, []string{viewerArn}, "")
	policy := func(key, assoc string) string {
		return string(entries[key].AccessPolicies[assoc].(eks.AccessPolicyAssociationArgs).PolicyArn.(pulumi.String))
	}
	require.Equal(t, "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", policy(AccessEntryKey("admin", adminArn), "admin"))
	// AmazonEKSViewPolicy cannot read Secrets, CRDs, ClusterRoles or webhook
	// configurations, which `pulumi preview` must read.
	require.Equal(t, "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy", policy(AccessEntryKey("viewer", viewerArn), "viewer"))
}

func TestPartition(t *testing.T) {
	for region, want := range map[string]string{"us-west-2": "aws", "eu-central-1": "aws", "cn-north-1": "aws-cn", "us-gov-west-1": "aws-us-gov"} {
		require.Equal(t, want, Partition(region), region)
	}
	require.Equal(t, "arn:aws-us-gov:iam::aws:policy/AmazonEKSWorkerNodePolicy", managedPolicyArn(Partition("us-gov-east-1"), "AmazonEKSWorkerNodePolicy"))
}

func TestEndpointIngressesAreNamedBySource(t *testing.T) {
	require.Equal(t, []EndpointIngress{
		{Key: "sg-0123456789abcdef0", SecurityGroupID: "sg-0123456789abcdef0"},
		{Key: "10-20-0-0-16", CIDR: "10.20.0.0/16"},
		{Key: "198-51-100-7-32", CIDR: "198.51.100.7/32"},
	}, EndpointIngresses([]string{"sg-0123456789abcdef0"}, []string{"10.20.0.0/16", "198.51.100.7/32"}))
	require.Empty(t, EndpointIngresses(nil, nil))
}

func TestClusterArgsValidate(t *testing.T) {
	valid := ClusterArgs{
		ClusterName: "c", KubernetesVersion: "1.36", Region: "us-west-2",
		VpcID: pulumi.String("vpc-1"), PrivateSubnetIDs: pulumi.ToStringArray([]string{"s-1"}),
		AdminRoleArns: []string{adminArn},
	}
	require.NoError(t, valid.Validate())
	bad := valid
	bad.KubernetesVersion = "1.31"
	bad.Region = ""
	bad.EndpointAccessSecurityGroupIDs = []string{"sg-xyz"}
	bad.EndpointAccessCIDRs = []string{"0.0.0.0/0"}
	err := bad.Validate()
	require.Error(t, err)
	for _, want := range []string{
		`kubernetesVersion: "1.31" has no row in KubernetesVersions; accepted: 1.32, 1.33, 1.34, 1.35, 1.36`,
		"region: required",
		`endpointAccessSecurityGroupIds[0]: "sg-xyz" is not a security group id`,
		`endpointAccessCidrs[0]: "0.0.0.0/0" is not an IPv4 network of /8 or narrower`,
	} {
		require.Contains(t, err.Error(), want)
	}
}
