package stacks

import (
	"fmt"
	"os"
	"testing"

	"github.com/aiplatform/infra/infra"
	"github.com/stretchr/testify/require"
)

func TestEndpointAccessSources(t *testing.T) {
	src := valid()
	src["endpointAccessSecurityGroupIds"] = `["sg-0123456789abcdef0","sg-01234567"]`
	src["endpointAccessCidrs"] = `["10.50.0.0/16","198.51.100.0/24"]`
	cfg, err := parse(src)
	require.NoError(t, err)
	require.Equal(t, []string{"sg-0123456789abcdef0", "sg-01234567"}, cfg.EndpointAccessSecurityGroupIDs)
	require.Equal(t, []string{"10.50.0.0/16", "198.51.100.0/24"}, cfg.EndpointAccessCIDRs)

	cases := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"sg id garbage", map[string]string{"endpointAccessSecurityGroupIds": `["runner"]`}, `aiplatform:endpointAccessSecurityGroupIds[0]: "runner" is not a security group id like sg-0123456789abcdef0`},
		{"sg id upper case", map[string]string{"endpointAccessSecurityGroupIds": `["sg-0123456789ABCDEF0"]`}, `aiplatform:endpointAccessSecurityGroupIds[0]: "sg-0123456789ABCDEF0" is not a security group id`},
		{"sg id twice", map[string]string{"endpointAccessSecurityGroupIds": `["sg-01234567","sg-01234567"]`}, `aiplatform:endpointAccessSecurityGroupIds[1]: "sg-01234567" is already listed as endpointAccessSecurityGroupIds[0]`},
		{"sg ids not a list", map[string]string{"endpointAccessSecurityGroupIds": `"sg-01234567"`}, "aiplatform:endpointAccessSecurityGroupIds: cannot parse a list of strings"},
		{"cidr to the world", map[string]string{"endpointAccessCidrs": `["0.0.0.0/0"]`}, `aiplatform:endpointAccessCidrs[0]: "0.0.0.0/0" opens the API server to every address`},
		{"cidr too wide", map[string]string{"endpointAccessCidrs": `["10.0.0.0/7"]`}, `aiplatform:endpointAccessCidrs[0]: "10.0.0.0/7" is wider than /8`},
		{"cidr ipv6", map[string]string{"endpointAccessCidrs": `["fd00::/64"]`}, `aiplatform:endpointAccessCidrs[0]: "fd00::/64" is not an IPv4 CIDR like 10.20.0.0/16`},
		{"cidr host bits", map[string]string{"endpointAccessCidrs": `["10.50.1.0/16"]`}, `aiplatform:endpointAccessCidrs[0]: "10.50.1.0/16" has host bits set; did you mean 10.50.0.0/16?`},
		{"cidr twice", map[string]string{"endpointAccessCidrs": `["10.50.0.0/16","10.50.0.0/16"]`}, `aiplatform:endpointAccessCidrs[1]: "10.50.0.0/16" is already listed as endpointAccessCidrs[0]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { requireConfigError(t, tc.set, tc.want) })
	}
}

// Validation accepts exactly the minors of infra.KubernetesVersions.
func TestKubernetesVersionMustHaveARow(t *testing.T) {
	for _, v := range infra.KubernetesVersions {
		src := valid()
		src["kubernetesVersion"] = v.Minor
		_, err := parse(src)
		require.NoError(t, err, v.Minor)
	}
	for _, minor := range []string{"1.30", "1.31", "1.37"} {
		src := valid()
		src["kubernetesVersion"] = minor
		_, err := parse(src)
		require.ErrorContains(t, err, `aiplatform:kubernetesVersion: "`+minor+`" is not a supported EKS version; allowed: 1.32, 1.33, 1.34, 1.35, 1.36`)
	}
}

// The default is the newest minor in EKS standard support on the day the
// table was reviewed: 1.33 left standard support in July 2026.
func TestDefaultKubernetesVersionIsNewestInStandardSupport(t *testing.T) {
	newest, ok := infra.NewestInStandardSupport(KubernetesVersionsReviewed)
	require.True(t, ok, "no row is in standard support on %s; add the new minors", KubernetesVersionsReviewed)
	require.Equal(t, newest.Minor, DefaultKubernetesVersion)
}

// The "Kubernetes versions" table of docs/configure.md is the Go table, row for row.
func TestDocsKubernetesVersionsTableMatchesGo(t *testing.T) {
	readme, err := os.ReadFile("../docs/configure.md")
	require.NoError(t, err)
	for _, v := range infra.KubernetesVersions {
		row := fmt.Sprintf("| `%s` | %s | %s | `%s` | `%s` | `%s` |", v.Minor,
			v.StandardSupportEnd.Format("2006-01-02"), v.ExtendedSupportEnd.Format("2006-01-02"), v.VpcCniAddon, v.ClusterAutoscalerImage, v.EBSCSIAddon)
		require.Contains(t, string(readme), row)
	}
}

func TestClusterCreatorRoleArn(t *testing.T) {
	src := valid()
	src["clusterCreatorRoleArn"] = "arn:aws:iam::123456789012:role/ci-apply"
	cfg, err := parse(src)
	require.NoError(t, err)
	require.Equal(t, "arn:aws:iam::123456789012:role/ci-apply", cfg.ClusterCreatorRoleARN)

	src["clusterCreatorRoleArn"] = "ci-apply"
	_, err = parse(src)
	require.ErrorContains(t, err, `aiplatform:clusterCreatorRoleArn: "ci-apply" is not an IAM role ARN`)

	src["clusterCreatorRoleArn"] = "arn:aws:iam::123456789012:role/ci-preview"
	src["viewerRoleArns"] = `["arn:aws:iam::123456789012:role/ci-preview"]`
	_, err = parse(src)
	require.ErrorContains(t, err, `aiplatform:viewerRoleArns[0]: "arn:aws:iam::123456789012:role/ci-preview" is clusterCreatorRoleArn, which EKS makes cluster admin`)
}
