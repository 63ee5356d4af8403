package gitops

import (
	"strings"
	"testing"

	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/internal/wltest"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
)

// chartValuesFor renders Argo CD's values for a chart version with every
// optional block on (exposure, notifications, admin password), so every key
// the program can set is there.
func chartValuesFor(chart workloads.Chart) pulumi.Map {
	spec := ArgoCDSpec{Exposure: workloads.Internal, Host: "argocd.ai.example.com", CertificateARN: "arn:aws:acm:us-west-2:123456789012:certificate/x",
		Notifications: &ArgoCDNotifications{Kind: GitHubCommitStatus}}.WithDefaults(workloads.Defaults{})
	return argoCDValues(spec, pulumi.String("$2a$10$hash"), pulumi.String("token"))
}

// Every key the program sets exists in both supported argo-cd charts (9.0.0
// dropped the configs.params defaults without a word from Helm).
func TestChartValuesUseOnlyKnownKeys(t *testing.T) {
	row, _ := workloads.LookupAddonChart(workloads.ArgoCDChart.Name)
	wltest.CheckValuesUseOnlyKnownKeys(t, row.Chart.Name, row.Supported(), func(v string) pulumi.Map { return chartValuesFor(row.Chart.WithVersion(v)) })
	keys := func(c workloads.Chart) []string {
		var out []string
		for _, k := range wltest.ValueKeys(chartValuesFor(c)) {
			out = append(out, strings.Join(k, "."))
		}
		return out
	}
	assert.Equal(t, keys(row.Chart), keys(row.Chart.WithVersion(row.Previous)), "the same keys for both versions")
}

// Argo CD's redis Deployment reads Secret argocd-redis, key auth, without
// optional in every supported version (templates/redis/deployment.yaml),
// and only the redis-secret-init hook Job would create it; that Job renders
// only with redisSecretInit.enabled. The program creates the Secret itself.
// From chart 9.0.0 configs.params has no defaults, and from 10.0.0 the
// chart's NetworkPolicies are on by default: the values set both explicitly.
func TestArgoCDRedisSecretMatchesTheChart(t *testing.T) {
	dir := wltest.ChartsDir(t)
	row, _ := workloads.LookupAddonChart(workloads.ArgoCDChart.Name)
	for _, v := range row.Supported() {
		chart := wltest.ReadChart(t, dir, row.Chart.Name, v)
		redis := chart.Files["templates/redis/deployment.yaml"]
		assert.Contains(t, redis, "secretKeyRef:\n              name: "+ArgoCDRedisSecret+"\n              key: "+ArgoCDRedisSecretKey+"\n", v)
		for path, body := range chart.Files {
			if strings.HasPrefix(path, "templates/redis-secret-init/") {
				assert.True(t, strings.HasPrefix(body, "{{- if and .Values.redisSecretInit.enabled "), "%s %s renders only with redisSecretInit.enabled", v, path)
			}
		}
		values := chart.Values(t, "")
		params := values["configs"].(map[string]any)["params"].(map[string]any)
		if workloads.CompareVersions(v, "9.0.0") >= 0 {
			assert.NotContains(t, params, "server.insecure", "%s: no chart default any more", v)
			assert.NotContains(t, params, ApplicationSetPolicyParam, v)
		} else {
			assert.Equal(t, ApplicationSetPolicy, params[ApplicationSetPolicyParam], "%s: the old chart default, kept", v)
		}
		rendered := chartValuesFor(row.Chart.WithVersion(v))
		setParams := rendered["configs"].(pulumi.Map)["params"].(pulumi.Map)
		assert.Equal(t, pulumi.String(ApplicationSetPolicy), setParams[ApplicationSetPolicyParam])
		assert.Contains(t, setParams, "server.insecure")
		assert.Equal(t, pulumi.Bool(true), rendered["global"].(pulumi.Map)["networkPolicy"].(pulumi.Map)["create"])
		assert.Equal(t, pulumi.Bool(false), rendered["redisSecretInit"].(pulumi.Map)["enabled"])
	}
}

// Every supported argo-cd chart keeps its CRDs on uninstall unless
// crds.keep is false (templates/crds/crd-*.yaml add helm.sh/resource-policy:
// keep, which the Helm v4 Chart turns into retainOnDelete): the values turn
// it off so that `pulumi destroy` leaves no argoproj.io CRDs behind (the
// real tier's charts scenario checks the cluster is empty after destroy).
func TestArgoCDCRDsAreDeletedWithTheStack(t *testing.T) {
	dir := wltest.ChartsDir(t)
	row, _ := workloads.LookupAddonChart(workloads.ArgoCDChart.Name)
	for _, v := range row.Supported() {
		chart := wltest.ReadChart(t, dir, row.Chart.Name, v)
		crds := 0
		for path, body := range chart.Files {
			if strings.HasPrefix(path, "templates/crds/crd-") {
				crds++
				assert.Contains(t, body, "{{- if .Values.crds.keep }}\n    \"helm.sh/resource-policy\": keep", "%s %s", v, path)
			}
		}
		assert.Equal(t, 3, crds, "%s: Application, ApplicationSet, AppProject", v)
		assert.Equal(t, true, chart.Values(t, "")["crds"].(map[string]any)["keep"], "%s: the chart keeps CRDs by default", v)
		rendered := chartValuesFor(row.Chart.WithVersion(v))
		assert.Equal(t, pulumi.Bool(false), rendered["crds"].(pulumi.Map)["keep"], v)
	}
}
