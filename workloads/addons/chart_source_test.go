package addons

import (
	"strings"
	"testing"

	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/internal/wltest"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// addonCharts are the charts this package installs.
var addonCharts = []workloads.Chart{workloads.DevicePluginChart, workloads.MetricsServerChart, workloads.ClusterAutoscalerChart,
	workloads.LoadBalancerControllerChart, workloads.ExternalDNSChart}

// chartValuesFor renders each add-on's values for a chart version with
// placeholder inputs, so every key the program can set is there.
func chartValuesFor(chart workloads.Chart) pulumi.Map {
	arn := pulumi.String("arn:aws:iam::123456789012:role/addon").ToStringOutput()
	cluster := workloads.ClusterInfo{Name: pulumi.String("aiplatform-dev"), VpcID: pulumi.String("vpc-0123"), Region: "us-west-2"}
	switch chart.Name {
	case workloads.DevicePluginChart.Name:
		return devicePluginValues(chart)
	case workloads.MetricsServerChart.Name:
		return metricsServerValues(chart)
	case workloads.ClusterAutoscalerChart.Name:
		return clusterAutoscalerValues(ClusterAutoscalerArgs{Cluster: cluster, KubernetesVersion: "1.36", Chart: chart}.withDefaults(), arn)
	case workloads.LoadBalancerControllerChart.Name:
		return loadBalancerControllerValues(cluster, arn, pulumi.StringMap{}.ToStringMapOutput())
	case workloads.ExternalDNSChart.Name:
		return externalDNSValues(ExternalDNSArgs{Cluster: cluster, Domain: "ai.example.com", HostedZoneIDs: []string{"Z0123456789ABCDEFGHIJ"},
			OwnerID: "aiplatform-dev", Chart: chart}.withDefaults(), arn)
	}
	panic("no values for chart " + chart.Name)
}

// Every key the program sets exists in that chart version: a key a release
// removed or renamed would be ignored by Helm without a word (the brief
// cases: nfd.* keys dropped by node-feature-discovery 0.19, argo-cd's
// configs.params defaults dropped in 9.0.0). Both supported versions of
// every chart are checked.
func TestChartValuesUseOnlyKnownKeys(t *testing.T) {
	for _, c := range addonCharts {
		row, _ := workloads.LookupAddonChart(c.Name)
		wltest.CheckValuesUseOnlyKnownKeys(t, c.Name, row.Supported(), func(v string) pulumi.Map { return chartValuesFor(c.WithVersion(v)) })
	}
}

// The values branch on the version where the charts differ (and only there).
func TestChartValuesBranchOnTheVersion(t *testing.T) {
	for _, c := range addonCharts {
		row, _ := workloads.LookupAddonChart(c.Name)
		require.Len(t, row.Supported(), 2, "%s: the table keeps the previous pin for one release", c.Name)
	}
	keys := func(c workloads.Chart) []string {
		var out []string
		for _, k := range wltest.ValueKeys(chartValuesFor(c)) {
			out = append(out, strings.Join(k, "."))
		}
		return out
	}
	// nvidia-device-plugin: node-feature-discovery 0.19 (chart 0.20.0) has
	// postDeleteCleanup; 0.15.3 (chart 0.17.1) knows no such key.
	assert.Contains(t, keys(workloads.DevicePluginChart), "nfd.postDeleteCleanup")
	assert.NotContains(t, keys(workloads.DevicePluginChart.WithVersion("0.17.1")), "nfd.postDeleteCleanup")
	// metrics-server: tls.type exists from 3.13.0.
	assert.Contains(t, keys(workloads.MetricsServerChart), "tls.type")
	assert.NotContains(t, keys(workloads.MetricsServerChart.WithVersion("3.12.2")), "tls.type")
	// The rest set the same keys for both versions.
	for _, c := range []workloads.Chart{workloads.ClusterAutoscalerChart, workloads.LoadBalancerControllerChart, workloads.ExternalDNSChart} {
		row, _ := workloads.LookupAddonChart(c.Name)
		assert.Equal(t, keys(c), keys(c.WithVersion(row.Previous)), c.Name)
	}
	assert.True(t, workloads.Chart{Version: "0.20.0"}.AtLeast("0.20.0"))
	assert.True(t, workloads.Chart{Version: "10.1.1"}.AtLeast("9.0.0"), "numbers, not strings")
	assert.False(t, workloads.Chart{Version: "0.17.1"}.AtLeast("0.20.0"))
}

// The Load Balancer Controller chart takes the webhook CA and certificate
// from webhookTLS.caCert/cert/key before anything else, serves the webhooks
// from Service <chart name without -controller>-webhook-service, and signs
// for <svc>.<ns>, <svc>.<ns>.svc and <svc>.<ns>.svc.<cluster.dnsDomain>
// (templates/_helpers.tpl webhookCerts). The kept certificate must match
// that in every supported version; from 3.x keepTLSSecret defaults to false,
// so without webhookTLS every render would draw a new CA.
func TestLoadBalancerControllerWebhookTLSMatchesTheChart(t *testing.T) {
	dir := wltest.ChartsDir(t)
	row, _ := workloads.LookupAddonChart(workloads.LoadBalancerControllerChart.Name)
	for _, v := range row.Supported() {
		chart := wltest.ReadChart(t, dir, row.Chart.Name, v)
		helpers := chart.Files["templates/_helpers.tpl"]
		certs := helpers[strings.Index(helpers, `define "aws-load-balancer-controller.webhookCerts"`):]
		first := strings.Index(certs, "{{- if")
		require.GreaterOrEqual(t, first, 0, v)
		assert.Contains(t, certs[first:strings.Index(certs, "{{- else")], "(and .Values.webhookTLS.caCert .Values.webhookTLS.cert .Values.webhookTLS.key)",
			"%s: webhookTLS is the first source of the webhook certificate", v)
		assert.Contains(t, helpers, `printf "%s-webhook-service" (include "aws-load-balancer-controller.namePrefix" .)`, v)
		assert.Contains(t, helpers, `$defaultNamePrefix := .Chart.Name | trimSuffix "-controller"`, v)
		assert.Contains(t, certs, `$altNames := list (printf "%s.%s" $serviceName .Release.Namespace) (printf "%s.%s.svc" $serviceName .Release.Namespace) (printf "%s.%s.svc.%s" $serviceName .Release.Namespace .Values.cluster.dnsDomain)`, v)
		values := chart.Values(t, "")
		assert.Equal(t, "cluster.local", values["cluster"].(map[string]any)["dnsDomain"], v)
		assert.Equal(t, loadBalancerWebhookService, strings.TrimSuffix(row.Chart.Name, "-controller")+"-webhook-service")
		assert.Equal(t, workloads.ServiceDNSNames(loadBalancerWebhookService, workloads.AddonNamespace)[2],
			loadBalancerWebhookService+"."+workloads.AddonNamespace+".svc."+values["cluster"].(map[string]any)["dnsDomain"].(string))
		if workloads.CompareVersions(v, "3.0.0") >= 0 {
			assert.Equal(t, false, values["keepTLSSecret"], "%s: keepTLSSecret defaults to false from 3.x", v)
		}
		rendered := chartValuesFor(row.Chart.WithVersion(v))
		assert.Equal(t, pulumi.Bool(true), rendered["keepTLSSecret"])
		assert.ElementsMatch(t, []string{"caCert", "cert", "key"}, wltest.MapKeys(rendered["webhookTLS"].(pulumi.Map)))
	}
}

// The device plugin chart's node-feature-discovery subchart is off (its
// condition's first path, nfd.enabled, is false), so none of its templates,
// hooks included, render; from 0.20.0 (NFD 0.19) the post-delete prune Job
// is also switched off by postDeleteCleanup, which gates it.
func TestDevicePluginValuesKeepNFDHooksOut(t *testing.T) {
	dir := wltest.ChartsDir(t)
	row, _ := workloads.LookupAddonChart(workloads.DevicePluginChart.Name)
	for _, v := range row.Supported() {
		chart := wltest.ReadChart(t, dir, row.Chart.Name, v)
		meta := chart.Meta(t, "")
		require.Len(t, meta.Dependencies, 1, v)
		require.Equal(t, "nfd", meta.Dependencies[0].Alias, v)
		require.True(t, strings.HasPrefix(meta.Dependencies[0].Condition, "nfd.enabled"), "%s: nfd.enabled decides", v)
		rendered := chartValuesFor(row.Chart.WithVersion(v))
		nfd := rendered["nfd"].(pulumi.Map)
		assert.Equal(t, pulumi.Bool(false), nfd["enabled"], v)
		hooks := 0
		for path, body := range chart.Files {
			if !strings.Contains(body, "helm.sh/hook") || strings.Contains(path, "/tests/") {
				continue
			}
			require.True(t, strings.HasPrefix(path, "charts/node-feature-discovery/"), "%s: hook outside the disabled subchart: %s", v, path)
			assert.True(t, strings.HasPrefix(body, "{{- if .Values.postDeleteCleanup }}"), "%s: %s is gated by postDeleteCleanup", v, path)
			assert.Equal(t, pulumi.Bool(false), nfd["postDeleteCleanup"], v)
			hooks++
		}
		if workloads.CompareVersions(v, "0.20.0") >= 0 {
			assert.Positive(t, hooks, "%s: NFD 0.19 ships the post-delete prune hooks", v)
		}
	}
}
