package infra

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSubnetPlan(t *testing.T) {
	cases := []struct {
		vpc             string
		azs             int
		public, private []string
	}{
		{"10.0.0.0/16", 3, []string{"10.0.224.0/22", "10.0.228.0/22", "10.0.232.0/22"}, []string{"10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"}},
		{"10.1.0.0/16", 2, []string{"10.1.224.0/22", "10.1.228.0/22"}, []string{"10.1.0.0/19", "10.1.32.0/19"}},
		{"172.16.0.0/20", 3, []string{"172.16.14.0/26", "172.16.14.64/26", "172.16.14.128/26"}, []string{"172.16.0.0/23", "172.16.2.0/23", "172.16.4.0/23"}},
	}
	for _, tc := range cases {
		t.Run(tc.vpc, func(t *testing.T) {
			public, private, err := SubnetPlan(tc.vpc, tc.azs)
			require.NoError(t, err)
			require.Equal(t, tc.public, public)
			require.Equal(t, tc.private, private)
			vpc := netip.MustParsePrefix(tc.vpc)
			all := append(append([]string{}, public...), private...)
			for i, a := range all {
				pa := netip.MustParsePrefix(a)
				require.True(t, vpc.Contains(pa.Addr()), "%s outside %s", a, vpc)
				for _, b := range all[i+1:] {
					require.False(t, pa.Overlaps(netip.MustParsePrefix(b)), "%s overlaps %s", a, b)
				}
			}
		})
	}
}

func TestSubnetPlanRejects(t *testing.T) {
	for _, tc := range []struct {
		vpc string
		azs int
	}{{"10.0.0.0/24", 3}, {"not-a-cidr", 3}, {"10.0.0.0/16", 0}} {
		_, _, err := SubnetPlan(tc.vpc, tc.azs)
		require.Error(t, err, "%s with %d AZs", tc.vpc, tc.azs)
	}
}

func TestNetworkArgsValidate(t *testing.T) {
	a, err := NetworkArgs{CIDR: "10.0.0.0/16", AvailabilityZones: []string{"a"}, NAT: "many"}.withDefaults()
	require.NoError(t, err)
	err = a.Validate()
	require.ErrorContains(t, err, "availabilityZones: need 2 or 3, got 1")
	require.ErrorContains(t, err, `nat: "many"`)
	require.ErrorContains(t, err, "clusterName: required")
	require.ErrorContains(t, err, "region: required")
}
