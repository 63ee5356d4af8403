package stacks

import (
	"strings"
	"testing"

	"github.com/aiplatform/infra/infra"
	"github.com/stretchr/testify/require"
)

const admin = `["arn:aws:iam::123456789012:role/admin"]`

func valid() MapSource {
	return MapSource{"adminRoleArns": admin}
}

func parse(src MapSource) (Config, error) {
	region := "us-west-2"
	if r, ok := src["aws:region"]; ok {
		region = r
	}
	return ParseConfig("dev", region, src)
}

func TestDefaults(t *testing.T) {
	cfg, err := parse(valid())
	require.NoError(t, err)
	require.Equal(t, "aiplatform-dev", cfg.ClusterName)
	require.Equal(t, DefaultKubernetesVersion, cfg.KubernetesVersion)
	require.Equal(t, "10.0.0.0/16", cfg.VPCCIDR)
	require.Equal(t, 3, cfg.AZCount)
	require.Equal(t, infra.SingleNAT, cfg.NAT)
	require.Equal(t, PrivateEndpoint, cfg.EndpointAccess, "the API server is private unless opted in")
	require.Empty(t, cfg.PublicAccessCIDRs)
	require.Len(t, cfg.NodeGroups, 3)
	require.Equal(t, map[string]string{"project": "aiplatform", "stack": "dev", "managed-by": "pulumi"}, cfg.Tags)
}

func TestConfiguredValuesWin(t *testing.T) {
	src := valid()
	src["clusterName"] = "inference-prod"
	src["kubernetesVersion"] = "1.34"
	src["natGateways"] = "perAz"
	src["availabilityZoneCount"] = "2"
	src["tags"] = `{"cost-center":"ml","stack":"override"}`
	src["endpointAccess"] = "public-and-private"
	src["publicAccessCidrs"] = `["198.51.100.0/24","203.0.113.7/32"]`
	cfg, err := parse(src)
	require.NoError(t, err)
	require.Equal(t, "inference-prod", cfg.ClusterName)
	require.Equal(t, "1.34", cfg.KubernetesVersion)
	require.Equal(t, infra.NATPerAZ, cfg.NAT)
	require.Equal(t, 2, cfg.AZCount)
	require.Equal(t, "ml", cfg.Tags["cost-center"])
	require.Equal(t, "override", cfg.Tags["stack"])
	require.Equal(t, []string{"198.51.100.0/24", "203.0.113.7/32"}, cfg.PublicAccessCIDRs)
}

func TestNodeGroupDefaultsFillOnlyUnset(t *testing.T) {
	src := valid()
	src["nodeGroups"] = `[{"name":"system","kind":"system","instanceTypes":["m7i.large"],"minSize":3,"desiredSize":3,"maxSize":6,"diskSizeGiB":80}]`
	cfg, err := parse(src)
	require.NoError(t, err)
	require.Len(t, cfg.NodeGroups, 1)
	g := cfg.NodeGroups[0]
	require.Equal(t, infra.OnDemand, g.Capacity)
	require.Equal(t, 80, g.DiskSizeGiB)
	require.Equal(t, 1, g.IMDSHopLimit)
}

func TestBadConfig(t *testing.T) {
	cases := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"no admin roles", map[string]string{"adminRoleArns": `[]`}, "aiplatform:adminRoleArns: at least one IAM role ARN is required"},
		{"viewer not a role", map[string]string{"viewerRoleArns": `["ci-preview"]`}, `aiplatform:viewerRoleArns[0]: "ci-preview" is not an IAM role ARN`},
		{"viewer is also admin", map[string]string{"viewerRoleArns": admin}, `aiplatform:viewerRoleArns[0]: "arn:aws:iam::123456789012:role/admin" is already in adminRoleArns`},
		{"admin is a user", map[string]string{"adminRoleArns": `["arn:aws:iam::123456789012:user/bob"]`}, `aiplatform:adminRoleArns[0]: "arn:aws:iam::123456789012:user/bob" is not an IAM role ARN`},
		{"admin roles not a list", map[string]string{"adminRoleArns": `"arn:aws:iam::123456789012:role/a"`}, "aiplatform:adminRoleArns: cannot parse a list of strings"},
		{"missing region", map[string]string{"aws:region": ""}, "aws:region: required"},
		{"bad region", map[string]string{"aws:region": "mars-1"}, `aws:region: "mars-1" is not an AWS region`},
		{"vpc cidr garbage", map[string]string{"vpcCidr": "10.0.0/16"}, `aiplatform:vpcCidr: "10.0.0/16" is not an IPv4 CIDR`},
		{"vpc cidr ipv6", map[string]string{"vpcCidr": "fd00::/48"}, `aiplatform:vpcCidr: "fd00::/48" is not an IPv4 CIDR`},
		{"vpc cidr host bits", map[string]string{"vpcCidr": "10.0.1.0/16"}, "aiplatform:vpcCidr: \"10.0.1.0/16\" has host bits set; did you mean 10.0.0.0/16?"},
		{"vpc too small", map[string]string{"vpcCidr": "10.0.0.0/24"}, "aiplatform:vpcCidr: prefix /24 is not allowed; use /16 to /20"},
		{"vpc too large", map[string]string{"vpcCidr": "10.0.0.0/8"}, "aiplatform:vpcCidr: prefix /8 is not allowed"},
		{"vpc public range", map[string]string{"vpcCidr": "8.8.0.0/16"}, "aiplatform:vpcCidr: 8.8.0.0/16 is not in an RFC 1918 private range"},
		{"service cidr overlaps vpc", map[string]string{"serviceCidr": "10.0.128.0/20"}, "aiplatform:serviceCidr: 10.0.128.0/20 overlaps vpcCidr 10.0.0.0/16"},
		{"service cidr garbage", map[string]string{"serviceCidr": "x"}, `aiplatform:serviceCidr: "x" is not an IPv4 CIDR`},
		{"one AZ", map[string]string{"availabilityZoneCount": "1"}, "aiplatform:availabilityZoneCount: must be 2 or 3, got 1"},
		{"four AZs", map[string]string{"availabilityZoneCount": "4"}, "aiplatform:availabilityZoneCount: must be 2 or 3, got 4"},
		{"AZ count not a number", map[string]string{"availabilityZoneCount": "three"}, `aiplatform:availabilityZoneCount: "three" is not a whole number`},
		{"nat mode", map[string]string{"natGateways": "many"}, `aiplatform:natGateways: "many" is not one of single, perAz`},
		{"version with patch", map[string]string{"kubernetesVersion": "1.33.2"}, `aiplatform:kubernetesVersion: "1.33.2" must look like 1.36`},
		{"version v-prefixed", map[string]string{"kubernetesVersion": "v1.33"}, `aiplatform:kubernetesVersion: "v1.33" must look like`},
		{"version too old", map[string]string{"kubernetesVersion": "1.25"}, `aiplatform:kubernetesVersion: "1.25" is not a supported EKS version; allowed: 1.32, 1.33, 1.34, 1.35, 1.36`},
		{"cluster name", map[string]string{"clusterName": "-bad name"}, `aiplatform:clusterName: "-bad name" must be 1-100 letters`},
		{"endpoint access", map[string]string{"endpointAccess": "public"}, `aiplatform:endpointAccess: "public" is not one of private, public-and-private`},
		{"public without cidrs", map[string]string{"endpointAccess": "public-and-private"}, "aiplatform:publicAccessCidrs: a public endpoint needs the named CIDRs"},
		{"public to the world", map[string]string{"endpointAccess": "public-and-private", "publicAccessCidrs": `["0.0.0.0/0"]`}, `aiplatform:publicAccessCidrs[0]: "0.0.0.0/0" opens the API server to the whole internet`},
		{"public too wide", map[string]string{"endpointAccess": "public-and-private", "publicAccessCidrs": `["0.0.0.0/1"]`}, `aiplatform:publicAccessCidrs[0]: "0.0.0.0/1" is wider than /8`},
		{"public cidr private", map[string]string{"endpointAccess": "public-and-private", "publicAccessCidrs": `["10.1.0.0/16"]`}, `aiplatform:publicAccessCidrs[0]: "10.1.0.0/16" is private`},
		{"public cidr garbage", map[string]string{"endpointAccess": "public-and-private", "publicAccessCidrs": `["office"]`}, `aiplatform:publicAccessCidrs[0]: "office" is not an IPv4 CIDR`},
		{"cidrs while private", map[string]string{"publicAccessCidrs": `["203.0.113.0/24"]`}, "aiplatform:publicAccessCidrs: only used with endpointAccess \"public-and-private\""},
		{"node groups not json", map[string]string{"nodeGroups": `[{name: system}]`}, "aiplatform:nodeGroups: cannot parse the object"},
		{"node group unknown field", map[string]string{"nodeGroups": `[{"name":"system","kind":"system","instanceType":"m6i.large"}]`}, `aiplatform:nodeGroups: cannot parse the object: json: unknown field "instanceType"`},
		{"no system group", map[string]string{"nodeGroups": `[{"name":"gpu","kind":"gpu","instanceTypes":["g5.xlarge"],"maxSize":1}]`}, "aiplatform:nodeGroups: exactly one group of kind system is required, got 0"},
		{"node group sizes", map[string]string{"nodeGroups": `[{"name":"system","kind":"system","instanceTypes":["m6i.large"],"minSize":2,"desiredSize":3,"maxSize":2}]`}, "aiplatform:nodeGroups[0].maxSize: must be >= desiredSize (3), got 2"},
		{"spot with two types", map[string]string{"nodeGroups": `[{"name":"system","kind":"system","instanceTypes":["m6i.large"],"minSize":1,"desiredSize":1,"maxSize":2},{"name":"spot","kind":"cpu","capacityType":"SPOT","instanceTypes":["m6i.large","m5.large"],"maxSize":3}]`}, "aiplatform:nodeGroups[1].instanceTypes: a SPOT group needs at least 3 instance types"},
		{"triton on V100 nodes", map[string]string{"nodeGroups": `[{"name":"system","kind":"system","instanceTypes":["m6i.large"],"minSize":1,"desiredSize":1,"maxSize":2},{"name":"gpu","kind":"gpu","instanceTypes":["g5.xlarge","p3.2xlarge"],"maxSize":3}]`}, `aiplatform:nodeGroups[1].instanceTypes[1]: "p3.2xlarge" (V100, compute capability 7.0) cannot run Triton`},
		{"gpu group with cpu type", map[string]string{"nodeGroups": `[{"name":"system","kind":"system","instanceTypes":["m6i.large"],"minSize":1,"desiredSize":1,"maxSize":2},{"name":"gpu","kind":"gpu","instanceTypes":["c6i.4xlarge"],"maxSize":3}]`}, `aiplatform:nodeGroups[1].instanceTypes[0]: "c6i.4xlarge" is not an NVIDIA GPU type`},
		{"tags reserved prefix", map[string]string{"tags": `{"aws:owner":"me"}`}, `aiplatform:tags: key "aws:owner" uses the reserved aws: prefix`},
		{"tags not strings", map[string]string{"tags": `{"n":1}`}, "aiplatform:tags: cannot parse a map of strings"},
	}
	require.GreaterOrEqual(t, len(cases), 25)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { requireConfigError(t, tc.set, tc.want) })
	}
}

// requireConfigError parses the valid base config overlaid with set and
// requires an error containing want.
func requireConfigError(t *testing.T, set map[string]string, want string) {
	t.Helper()
	src := valid()
	for k, v := range set {
		src[k] = v
	}
	_, err := parse(src)
	require.Error(t, err)
	require.Contains(t, err.Error(), want)
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	_, err := parse(MapSource{"vpcCidr": "nope", "availabilityZoneCount": "9", "natGateways": "x", "kubernetesVersion": "2"})
	require.Error(t, err)
	for _, key := range []string{"aiplatform:vpcCidr", "aiplatform:availabilityZoneCount", "aiplatform:natGateways", "aiplatform:kubernetesVersion", "aiplatform:adminRoleArns"} {
		require.Contains(t, err.Error(), key)
	}
	require.Contains(t, err.Error(), "invalid stack config (5 problems)")
}

// FuzzParseConfig feeds arbitrary raw values for every key: parsing must never
// panic, and whatever it accepts must pass validation again.
func FuzzParseConfig(f *testing.F) {
	f.Add("10.0.0.0/16", "3", "single", "1.33", `[{"name":"system","kind":"system","instanceTypes":["m6i.large"],"minSize":1,"desiredSize":1,"maxSize":2}]`, `["203.0.113.0/24"]`, "public-and-private")
	f.Add("10.0.1.0/16", "x", "perAz", "1.2", `[{}]`, `["0.0.0.0/0"]`, "private")
	f.Add("", "", "", "", `null`, `null`, "")
	f.Fuzz(func(t *testing.T, vpc, azs, nat, version, groups, cidrs, access string) {
		src := MapSource{"adminRoleArns": admin, "vpcCidr": vpc, "availabilityZoneCount": azs, "natGateways": nat,
			"kubernetesVersion": version, "nodeGroups": groups, "publicAccessCidrs": cidrs, "endpointAccess": access}
		cfg, err := ParseConfig("dev", "us-west-2", src)
		if err != nil {
			if !strings.Contains(err.Error(), "aiplatform:") && !strings.Contains(err.Error(), "aws:region") {
				t.Fatalf("error names no key: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted config fails validation: %v", err)
		}
		if _, _, err := infra.SubnetPlan(cfg.VPCCIDR, cfg.AZCount); err != nil {
			t.Fatalf("accepted vpcCidr %q cannot be carved: %v", cfg.VPCCIDR, err)
		}
	})
}
