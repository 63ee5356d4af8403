package infra

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Every row is complete and consistent; rows are ordered oldest first, which
// NewestInStandardSupport relies on.
func TestKubernetesVersionsTable(t *testing.T) {
	minor := regexp.MustCompile(`^1\.\d{2}$`)
	addon := regexp.MustCompile(`^v\d+\.\d+\.\d+-eksbuild\.\d+$`)
	seen := map[string]bool{}
	for i, v := range KubernetesVersions {
		require.Regexp(t, minor, v.Minor)
		require.False(t, seen[v.Minor], "%s listed twice", v.Minor)
		seen[v.Minor] = true
		require.Regexp(t, addon, v.VpcCniAddon, v.Minor)
		require.Regexp(t, `^v`+regexp.QuoteMeta(v.Minor)+`\.\d+$`, v.ClusterAutoscalerImage,
			"%s: the autoscaler must be built for the cluster's own minor", v.Minor)
		require.True(t, v.ExtendedSupportEnd.After(v.StandardSupportEnd), v.Minor)
		require.Equal(t, v.StandardSupportEnd.AddDate(1, 0, 0), v.ExtendedSupportEnd,
			"%s: EKS extended support is the 12 months after standard support", v.Minor)
		if i > 0 {
			prev := KubernetesVersions[i-1]
			require.Less(t, minorNumber(prev.Minor), minorNumber(v.Minor), "rows must be ordered oldest first")
			require.True(t, prev.StandardSupportEnd.Before(v.StandardSupportEnd), v.Minor)
		}
	}
}

func minorNumber(minor string) int {
	n := 0
	for _, c := range minor[2:] {
		n = n*10 + int(c-'0')
	}
	return n
}

// The accepted range and the image pins named in issue #7: 1.30 and 1.31 are
// past (or on the day of) the end of EKS extended support, 1.32 to 1.36 are
// accepted, each with the newest autoscaler patch of its minor.
func TestKubernetesVersionsAcceptedRange(t *testing.T) {
	require.Equal(t, "1.32, 1.33, 1.34, 1.35, 1.36", AcceptedKubernetesMinors())
	for _, old := range []string{"1.29", "1.30", "1.31", "1.37"} {
		_, ok := LookupKubernetesVersion(old)
		require.False(t, ok, old)
	}
	images := map[string]string{}
	for _, v := range KubernetesVersions {
		images[v.Minor] = v.ClusterAutoscalerImage
	}
	require.Equal(t, map[string]string{"1.32": "v1.32.7", "1.33": "v1.33.6", "1.34": "v1.34.5", "1.35": "v1.35.2", "1.36": "v1.36.1"}, images)
}

func TestNewestInStandardSupport(t *testing.T) {
	cases := []struct {
		at   time.Time
		want string
	}{
		{utcDay(2026, time.November, 25), "1.36"},
		{utcDay(2027, time.August, 1), "1.36"},
		{utcDay(2027, time.August, 2), ""}, // 1.36 left standard support; the table needs a new row
	}
	for _, tc := range cases {
		v, ok := NewestInStandardSupport(tc.at)
		require.Equal(t, tc.want != "", ok, tc.at)
		require.Equal(t, tc.want, v.Minor, tc.at)
	}
	v133, _ := LookupKubernetesVersion("1.33")
	require.False(t, v133.InStandardSupport(utcDay(2026, time.November, 25)), "1.33 left standard support in July 2026")
}
