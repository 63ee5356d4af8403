package workloads

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aiplatform/infra/workloads/internal/wltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The chart table is complete and consistent: one row per ChartVersions
// field, the exported pins are its rows, and the previous pin is older.
func TestAddonChartTable(t *testing.T) {
	require.Equal(t, reflect.TypeFor[ChartVersions]().NumField(), len(AddonCharts), "one AddonCharts row per chartVersions key")
	names, keys := map[string]bool{}, map[string]bool{}
	for _, row := range AddonCharts {
		c := row.Chart
		require.NoError(t, c.Validate(), c.Name)
		assert.True(t, strings.HasPrefix(c.Repo, "https://"), c.Name)
		require.False(t, names[c.Name], "%s listed twice", c.Name)
		require.False(t, keys[row.Key], "%s listed twice", row.Key)
		names[c.Name], keys[row.Key] = true, true
		if row.Previous != "" {
			require.Regexp(t, chartVersionPattern, row.Previous, c.Name)
			assert.Negative(t, CompareVersions(row.Previous, c.Version), "%s: the previous pin is older than the pin", c.Name)
		}
		// The row's field is the chartVersions key it names.
		var v ChartVersions
		*row.field(&v) = "1.2.3"
		b, err := json.Marshal(v)
		require.NoError(t, err)
		assert.JSONEq(t, fmt.Sprintf(`{%q:"1.2.3"}`, row.Key), string(b), c.Name)
	}
	for _, c := range []Chart{DevicePluginChart, MetricsServerChart, ClusterAutoscalerChart, LoadBalancerControllerChart, ExternalDNSChart, ArgoCDChart,
		KubePrometheusStackChart, PrometheusAdapterChart, DCGMExporterChart, KEDAChart} {
		row, ok := LookupAddonChart(c.Name)
		require.True(t, ok, c.Name)
		assert.Equal(t, row.Chart, c)
	}
	// The pins of issue #13: the newest releases in shared/charts.
	pins := map[string]string{}
	for _, row := range AddonCharts {
		pins[row.Chart.Name] = row.Previous + " -> " + row.Chart.Version
	}
	assert.Equal(t, map[string]string{
		"aws-load-balancer-controller": "1.13.0 -> 3.5.0",
		"argo-cd":                      "8.3.0 -> 10.1.1",
		"cluster-autoscaler":           "9.46.6 -> 9.59.0",
		"external-dns":                 "1.18.0 -> 1.21.1",
		"metrics-server":               "3.12.2 -> 3.13.1",
		"nvidia-device-plugin":         "0.17.1 -> 0.20.0",
		// Issue #8's metrics stack: new charts, no previous pin yet.
		"kube-prometheus-stack": " -> 88.5.3",
		"prometheus-adapter":    " -> 5.3.0",
		"dcgm-exporter":         " -> 4.8.2",
		// Issue #20's scale to zero: installed only with triton.scaleToZero.
		"keda": " -> 2.20.2",
	}, pins)
}

// chartVersions accepts the pin and the previous pin of each chart, and
// refuses any other version with the versions it would accept, so a stack
// never installs a chart the values mapping was not written for.
func TestChartVersionsOnlyVersionsWithAValuesMapping(t *testing.T) {
	defaults := ChartVersions{}.WithDefaults()
	for _, row := range AddonCharts {
		assert.Equal(t, row.Chart.Version, *row.field(&defaults), row.Key)
		for _, version := range row.Supported() {
			v := ChartVersions{}
			*row.field(&v) = version
			assert.NoError(t, v.WithDefaults().Validate("aiplatform:chartVersions"), "%s %s", row.Key, version)
			assert.NoError(t, row.Chart.WithVersion(version).checkSupported())
		}
		v := ChartVersions{}
		*row.field(&v) = "99.0.0"
		wltest.ExpectErrors(t, v.WithDefaults().Validate("aiplatform:chartVersions"),
			fmt.Sprintf(`aiplatform:chartVersions.%s: "99.0.0" is not supported; supported: %s`, row.Key, strings.Join(row.Supported(), ", ")))
	}
	wltest.ExpectErrors(t, ChartVersions{ArgoCD: "9.0.0"}.WithDefaults().Validate("aiplatform:chartVersions"),
		`aiplatform:chartVersions.argoCd: "9.0.0" is not supported; supported: 8.3.0, 10.1.1`)
	wltest.ExpectErrors(t, ArgoCDChart.WithVersion("9.0.0").checkSupported(), "chart argo-cd 9.0.0: no values mapping for this version; supported: 8.3.0, 10.1.1")
	wltest.ExpectErrors(t, Chart{Repo: "https://charts.example.com", Name: "nginx", Version: "1.0.0"}.checkSupported(), "chart nginx: not an add-on chart of this platform")
	// A range is refused as a range, not as an unknown version.
	err := ChartVersions{ExternalDNS: "^1.18"}.WithDefaults().Validate("aiplatform:chartVersions")
	wltest.ExpectErrors(t, err, `aiplatform:chartVersions.externalDns: "^1.18" must be an exact chart version`)
	assert.NotContains(t, err.Error(), "is not supported")
}

// readmeChartRow is the docs' "Add-on charts" row of a table row; the
// Renovate configuration bumps these rows with the Go table.
func readmeChartRow(row AddonChart) string {
	return fmt.Sprintf("| `%s` | %s | %s | `%s` | %s |", row.Chart.Name, row.Chart.Version, row.Previous, row.Key, row.Chart.Repo)
}

// The "Add-on charts" table of docs/configure.md is the Go table, row for row.
func TestDocsAddonChartsTableMatchesGo(t *testing.T) {
	readme, err := os.ReadFile("../docs/configure.md")
	require.NoError(t, err)
	for _, row := range AddonCharts {
		assert.Contains(t, string(readme), readmeChartRow(row)+"\n")
	}
}
