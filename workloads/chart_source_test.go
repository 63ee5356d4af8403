package workloads

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aiplatform/infra/infra"
	"github.com/aiplatform/infra/workloads/internal/wltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kubeVersionConstraint is a Chart.yaml kubeVersion: comparisons joined by
// spaces or commas (all must hold), alternatives joined by "||".
var comparisonPattern = regexp.MustCompile(`(>=|<=|!=|>|<|=|\^)?\s*v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?`)

// version is a parsed X.Y.Z[-pre] version.
type version struct {
	core [3]int
	pre  string
}

func parseVersion(m []string) version {
	var v version
	for i := range 3 {
		v.core[i], _ = strconv.Atoi(m[i])
	}
	if len(m) > 3 {
		v.pre = m[3]
	}
	return v
}

// compare orders versions by SemVer precedence: a pre-release sorts before
// its release, numeric identifiers before alphanumeric ones.
func (v version) compare(o version) int {
	for i := range v.core {
		if v.core[i] != o.core[i] {
			return v.core[i] - o.core[i]
		}
	}
	switch {
	case v.pre == o.pre:
		return 0
	case v.pre == "":
		return 1
	case o.pre == "":
		return -1
	}
	a, b := strings.Split(v.pre, "."), strings.Split(o.pre, ".")
	for i := 0; i < len(a) && i < len(b); i++ {
		na, errA := strconv.Atoi(a[i])
		nb, errB := strconv.Atoi(b[i])
		switch {
		case errA == nil && errB == nil && na != nb:
			return na - nb
		case errA == nil && errB != nil:
			return -1
		case errA != nil && errB == nil:
			return 1
		case errA != nil && errB != nil && a[i] != b[i]:
			return strings.Compare(a[i], b[i])
		}
	}
	return len(a) - len(b)
}

// admits evaluates a kubeVersion constraint the way Helm does
// (Masterminds/semver v3, which chartutil.IsCompatibleRange uses): a
// version with a pre-release, such as the v1.36.1-eks-3025e55 that EKS
// reports, satisfies a comparison only if the comparison's own version has
// a pre-release too (hence charts write ">=1.25.0-0").
func admits(t *testing.T, constraint string, v version) bool {
	t.Helper()
	for _, alternative := range strings.Split(constraint, "||") {
		rest := strings.TrimSpace(alternative)
		ok := true
		for rest != "" {
			loc := comparisonPattern.FindStringSubmatchIndex(rest)
			require.NotNil(t, loc, "kubeVersion %q: unsupported syntax at %q; extend admits", constraint, rest)
			require.Empty(t, strings.Trim(rest[:loc[0]], " ,"), "kubeVersion %q: unsupported syntax at %q; extend admits", constraint, rest)
			m := comparisonPattern.FindStringSubmatch(rest[loc[0]:])
			rest = strings.TrimSpace(rest[loc[1]:])
			bound := parseVersion(m[2:])
			if v.pre != "" && bound.pre == "" {
				ok = false
				continue
			}
			c := v.compare(bound)
			switch m[1] {
			case ">=":
				ok = ok && c >= 0
			case ">":
				ok = ok && c > 0
			case "<=":
				ok = ok && c <= 0
			case "<":
				ok = ok && c < 0
			case "!=":
				ok = ok && c != 0
			case "^":
				// Masterminds caret: at least the bound, same major (dcgm-exporter's "^1.25.0-0").
				ok = ok && c >= 0 && v.core[0] == bound.core[0]
			default:
				ok = ok && c == 0
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func TestKubeVersionConstraint(t *testing.T) {
	eks := func(minor int) version { return version{core: [3]int{1, minor, 1}, pre: "eks-3025e55"} }
	assert.True(t, admits(t, ">=1.25.0-0", eks(36)))
	assert.False(t, admits(t, ">=1.25.0", eks(36)), "an EKS version is a pre-release to SemVer")
	assert.True(t, admits(t, ">= 1.10.0-0", eks(32)))
	assert.False(t, admits(t, ">=1.21.0-0 <1.33.0-0", eks(33)))
	assert.True(t, admits(t, ">=1.21.0-0 <1.33.0-0 || >=1.35.0-0", eks(36)))
	assert.True(t, admits(t, ">=1.25.0-0, <1.40.0-0", eks(36)))
	assert.True(t, admits(t, "^1.25.0-0", eks(36)))
	assert.False(t, admits(t, "^1.37.0-0", eks(36)))
}

// Chart pins are the same for every Kubernetes minor, so each pinned chart
// (and the previous pin still accepted), with every subchart, must declare a
// kubeVersion that admits every minor of infra.KubernetesVersions, as EKS
// reports it (v1.<minor>.<patch>-eks-<commit>). A chart without kubeVersion
// admits every version.
func TestChartKubeVersionAdmitsEveryAcceptedMinor(t *testing.T) {
	dir := wltest.ChartsDir(t)
	for _, row := range AddonCharts {
		for _, v := range row.Supported() {
			chart := wltest.ReadChart(t, dir, row.Chart.Name, v)
			for _, sub := range chart.Subcharts() {
				meta := chart.Meta(t, sub)
				if sub == "" {
					require.Equal(t, row.Chart.Name, meta.Name)
					require.Equal(t, v, meta.Version)
				}
				if meta.KubeVersion == "" {
					continue
				}
				for _, k := range infra.KubernetesVersions {
					minor, err := strconv.Atoi(strings.TrimPrefix(k.Minor, "1."))
					require.NoError(t, err, k.Minor)
					eks := version{core: [3]int{1, minor, 0}, pre: "eks-0000000"}
					assert.True(t, admits(t, meta.KubeVersion, eks), "%s %s (%s): kubeVersion %q refuses Kubernetes %s",
						row.Chart.Name, v, meta.Name, meta.KubeVersion, k.Minor)
				}
			}
		}
	}
}
