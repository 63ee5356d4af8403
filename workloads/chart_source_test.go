package workloads

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aiplatform/infra/infra"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// These tests read the packaged charts themselves (the .tgz files a chart
// mirror directory holds, see Chart.From): what a chart accepts and renders
// is a fact of its source, which the mocks cannot show. They skip, saying
// why, where the charts are not on disk.

// chartsDirEnv names the directory of packaged charts, <name>-<version>.tgz;
// the real-component tier reads the same variable (tests/realtier/charts.go).
const chartsDirEnv = "AIPLATFORM_CHARTS"

// chartsDir is $AIPLATFORM_CHARTS, else shared/charts beside the checkout.
func chartsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(chartsDirEnv)
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "charts")
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Skipf("no packaged charts at %s (set %s to a directory of <name>-<version>.tgz to run this test)", dir, chartsDirEnv)
	}
	return dir
}

// packagedChart is a chart archive read into memory: file contents by path
// inside the chart (the archive's top folder stripped: "Chart.yaml",
// "templates/_helpers.tpl", "charts/nfd/values.yaml").
type packagedChart struct {
	Name, Version string
	Files         map[string]string
}

// readChart reads <dir>/<name>-<version>.tgz; a missing file fails the test,
// since every supported version must be in the mirror.
func readChart(t *testing.T, dir, name, version string) packagedChart {
	t.Helper()
	path := filepath.Join(dir, name+"-"+version+".tgz")
	f, err := os.Open(path)
	require.NoError(t, err, "every supported chart version must be packaged in %s", dir)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	require.NoError(t, err, path)
	tr := tar.NewReader(gz)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, path)
		if h.Typeflag != tar.TypeReg {
			continue
		}
		_, inChart, ok := strings.Cut(h.Name, "/")
		if !ok {
			continue
		}
		b, err := io.ReadAll(tr)
		require.NoError(t, err, path)
		files[inChart] = string(b)
	}
	require.Contains(t, files, "Chart.yaml", path)
	return packagedChart{Name: name, Version: version, Files: files}
}

// chartMeta is the part of Chart.yaml these tests read.
type chartMeta struct {
	Name         string `yaml:"name"`
	Version      string `yaml:"version"`
	KubeVersion  string `yaml:"kubeVersion"`
	Dependencies []struct {
		Name      string `yaml:"name"`
		Alias     string `yaml:"alias"`
		Condition string `yaml:"condition"`
	} `yaml:"dependencies"`
}

func (c packagedChart) meta(t *testing.T, dir string) chartMeta {
	t.Helper()
	var m chartMeta
	require.NoError(t, yaml.Unmarshal([]byte(c.Files[dir+"Chart.yaml"]), &m), "%s %s: %sChart.yaml", c.Name, c.Version, dir)
	return m
}

// subcharts are the folders (with trailing slash) of the chart and of every
// subchart inside it, the chart's own first.
func (c packagedChart) subcharts() []string {
	dirs := []string{""}
	for path := range c.Files {
		if strings.HasPrefix(path, "charts/") && strings.HasSuffix(path, "/Chart.yaml") && strings.Count(path, "/") == 2 {
			dirs = append(dirs, strings.TrimSuffix(path, "Chart.yaml"))
		}
	}
	slices.Sort(dirs[1:])
	return dirs
}

func (c packagedChart) values(t *testing.T, dir string) map[string]any {
	t.Helper()
	values := map[string]any{}
	require.NoError(t, yaml.Unmarshal([]byte(c.Files[dir+"values.yaml"]), &values), "%s %s: %svalues.yaml", c.Name, c.Version, dir)
	return values
}

// knownKeys are the values keys a chart reads: its values.yaml, each
// subchart's values.yaml under the subchart's alias (or name), and the
// paths of the subcharts' conditions (nfd.enabled), which values.yaml need
// not list. A key is a path of map keys joined by "\x00" (keys contain dots).
func (c packagedChart) knownKeys(t *testing.T) map[string]any {
	t.Helper()
	known := map[string]any{}
	var walk func(prefix []string, v any)
	walk = func(prefix []string, v any) {
		known[strings.Join(prefix, "\x00")] = v
		if m, ok := v.(map[string]any); ok {
			for k, child := range m {
				walk(append(slices.Clip(prefix), k), child)
			}
		}
	}
	walk(nil, c.values(t, ""))
	for _, dep := range c.meta(t, "").Dependencies {
		alias := dep.Alias
		if alias == "" {
			alias = dep.Name
		}
		if _, ok := c.Files["charts/"+dep.Name+"/values.yaml"]; ok {
			walk([]string{alias}, c.values(t, "charts/"+dep.Name+"/"))
		}
		for _, cond := range strings.Split(dep.Condition, ",") {
			if cond = strings.TrimSpace(cond); cond != "" {
				known[strings.ReplaceAll(cond, ".", "\x00")] = false
			}
		}
	}
	return known
}

// valueKeys lists the key paths of rendered values down to their leaves:
// maps are walked, anything else (strings, lists, outputs) is a leaf.
func valueKeys(values pulumi.Map) [][]string {
	var out [][]string
	var walk func(prefix []string, v any)
	walk = func(prefix []string, v any) {
		switch m := v.(type) {
		case pulumi.Map:
			for k, child := range m {
				walk(append(slices.Clip(prefix), k), child)
			}
		case pulumi.StringMap:
			for k, child := range m {
				walk(append(slices.Clip(prefix), k), child)
			}
		default:
			out = append(out, prefix)
		}
	}
	walk(nil, values)
	slices.SortFunc(out, func(a, b []string) int { return strings.Compare(strings.Join(a, "."), strings.Join(b, ".")) })
	return out
}

// freeFormValues are maps of a chart whose keys are not listed in its
// values.yaml because the chart passes them on as they are: extra flags,
// argocd-cm and argocd-cmd-params-cm entries.
var freeFormValues = map[string][]string{
	"cluster-autoscaler": {"extraArgs"},
	"argo-cd":            {"configs.cm", "configs.params"},
}

// keyIsKnown reports whether path is a key of the chart: listed, or below a
// free-form map (declared free-form, or empty/unset in values.yaml, like
// nodeSelector: {} or webhookTLS.caCert: ~).
func keyIsKnown(known map[string]any, chart string, path []string) bool {
	if _, ok := known[strings.Join(path, "\x00")]; ok {
		return true
	}
	for i := len(path) - 1; i > 0; i-- {
		parent := path[:i]
		if slices.Contains(freeFormValues[chart], strings.Join(parent, ".")) {
			return true
		}
		if v, ok := known[strings.Join(parent, "\x00")]; ok {
			m, isMap := v.(map[string]any)
			return v == nil || (isMap && len(m) == 0)
		}
	}
	return false
}

// chartValuesFor renders each add-on's values for a chart version with
// placeholder inputs: every optional block on (exposure, notifications,
// admin password), so every key the program can set is there.
func chartValuesFor(chart Chart) pulumi.Map {
	arn := pulumi.String("arn:aws:iam::123456789012:role/addon").ToStringOutput()
	cluster := ClusterInfo{Name: pulumi.String("aiplatform-dev"), VpcID: pulumi.String("vpc-0123"), Region: "us-west-2"}
	switch chart.Name {
	case DevicePluginChart.Name:
		return devicePluginValues(chart)
	case MetricsServerChart.Name:
		return metricsServerValues(chart)
	case ClusterAutoscalerChart.Name:
		return clusterAutoscalerValues(ClusterAutoscalerArgs{Cluster: cluster, KubernetesVersion: "1.36", Chart: chart}.withDefaults(), arn)
	case LoadBalancerControllerChart.Name:
		return loadBalancerControllerValues(cluster, arn, pulumi.StringMap{}.ToStringMapOutput())
	case ExternalDNSChart.Name:
		return externalDNSValues(ExternalDNSArgs{Cluster: cluster, Domain: "ai.example.com", HostedZoneIDs: []string{"Z0123456789ABCDEFGHIJ"},
			OwnerID: "aiplatform-dev", Chart: chart}.withDefaults(), arn)
	case ArgoCDChart.Name:
		spec := ArgoCDSpec{Exposure: Internal, Host: "argocd.ai.example.com", CertificateARN: "arn:aws:acm:us-west-2:123456789012:certificate/x",
			Notifications: &ArgoCDNotifications{Kind: GitHubCommitStatus}}.WithDefaults(Defaults{})
		return argoCDValues(spec, pulumi.String("$2a$10$hash"), pulumi.String("token"))
	}
	panic("no values for chart " + chart.Name)
}

// Every key the program sets exists in that chart version: a key a release
// removed or renamed would be ignored by Helm without a word (the brief
// cases: nfd.* keys dropped by node-feature-discovery 0.19, argo-cd's
// configs.params defaults dropped in 9.0.0). Both supported versions of
// every chart are checked.
func TestChartValuesUseOnlyKnownKeys(t *testing.T) {
	dir := chartsDir(t)
	for _, row := range AddonCharts {
		for _, version := range row.Supported() {
			chart := row.Chart.WithVersion(version)
			t.Run(chart.Name+"-"+version, func(t *testing.T) {
				known := readChart(t, dir, chart.Name, version).knownKeys(t)
				for _, key := range valueKeys(chartValuesFor(chart)) {
					assert.True(t, keyIsKnown(known, chart.Name, key), "%s %s has no values key %s", chart.Name, version, strings.Join(key, "."))
				}
			})
		}
	}
}

// The values branch on the version where the charts differ (and only there).
func TestChartValuesBranchOnTheVersion(t *testing.T) {
	for _, row := range AddonCharts {
		require.Len(t, row.Supported(), 2, "%s: the table keeps the previous pin for one release", row.Chart.Name)
	}
	keys := func(c Chart) []string {
		var out []string
		for _, k := range valueKeys(chartValuesFor(c)) {
			out = append(out, strings.Join(k, "."))
		}
		return out
	}
	// nvidia-device-plugin: node-feature-discovery 0.19 (chart 0.20.0) has
	// postDeleteCleanup; 0.15.3 (chart 0.17.1) knows no such key.
	assert.Contains(t, keys(DevicePluginChart), "nfd.postDeleteCleanup")
	assert.NotContains(t, keys(DevicePluginChart.WithVersion("0.17.1")), "nfd.postDeleteCleanup")
	// metrics-server: tls.type exists from 3.13.0.
	assert.Contains(t, keys(MetricsServerChart), "tls.type")
	assert.NotContains(t, keys(MetricsServerChart.WithVersion("3.12.2")), "tls.type")
	// The rest set the same keys for both versions.
	for _, c := range []Chart{ClusterAutoscalerChart, LoadBalancerControllerChart, ExternalDNSChart, ArgoCDChart} {
		row, _ := addonChart(c.Name)
		assert.Equal(t, keys(c), keys(c.WithVersion(row.Previous)), c.Name)
	}
	assert.True(t, Chart{Version: "0.20.0"}.atLeast("0.20.0"))
	assert.True(t, Chart{Version: "10.1.1"}.atLeast("9.0.0"), "numbers, not strings")
	assert.False(t, Chart{Version: "0.17.1"}.atLeast("0.20.0"))
}

// kubeVersionConstraint is a Chart.yaml kubeVersion: comparisons joined by
// spaces or commas (all must hold), alternatives joined by "||".
var comparisonPattern = regexp.MustCompile(`(>=|<=|!=|>|<|=)?\s*v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?`)

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
}

// Chart pins are the same for every Kubernetes minor, so each pinned chart
// (and the previous pin still accepted), with every subchart, must declare a
// kubeVersion that admits every minor of infra.KubernetesVersions, as EKS
// reports it (v1.<minor>.<patch>-eks-<commit>). A chart without kubeVersion
// admits every version.
func TestChartKubeVersionAdmitsEveryAcceptedMinor(t *testing.T) {
	dir := chartsDir(t)
	for _, row := range AddonCharts {
		for _, v := range row.Supported() {
			chart := readChart(t, dir, row.Chart.Name, v)
			for _, sub := range chart.subcharts() {
				meta := chart.meta(t, sub)
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

// The Load Balancer Controller chart takes the webhook CA and certificate
// from webhookTLS.caCert/cert/key before anything else, serves the webhooks
// from Service <chart name without -controller>-webhook-service, and signs
// for <svc>.<ns>, <svc>.<ns>.svc and <svc>.<ns>.svc.<cluster.dnsDomain>
// (templates/_helpers.tpl webhookCerts). The kept certificate must match
// that in every supported version; from 3.x keepTLSSecret defaults to false,
// so without webhookTLS every render would draw a new CA.
func TestLoadBalancerControllerWebhookTLSMatchesTheChart(t *testing.T) {
	dir := chartsDir(t)
	row, _ := addonChart(LoadBalancerControllerChart.Name)
	for _, v := range row.Supported() {
		chart := readChart(t, dir, row.Chart.Name, v)
		helpers := chart.Files["templates/_helpers.tpl"]
		certs := helpers[strings.Index(helpers, `define "aws-load-balancer-controller.webhookCerts"`):]
		first := strings.Index(certs, "{{- if")
		require.GreaterOrEqual(t, first, 0, v)
		assert.Contains(t, certs[first:strings.Index(certs, "{{- else")], "(and .Values.webhookTLS.caCert .Values.webhookTLS.cert .Values.webhookTLS.key)",
			"%s: webhookTLS is the first source of the webhook certificate", v)
		assert.Contains(t, helpers, `printf "%s-webhook-service" (include "aws-load-balancer-controller.namePrefix" .)`, v)
		assert.Contains(t, helpers, `$defaultNamePrefix := .Chart.Name | trimSuffix "-controller"`, v)
		assert.Contains(t, certs, `$altNames := list (printf "%s.%s" $serviceName .Release.Namespace) (printf "%s.%s.svc" $serviceName .Release.Namespace) (printf "%s.%s.svc.%s" $serviceName .Release.Namespace .Values.cluster.dnsDomain)`, v)
		values := chart.values(t, "")
		assert.Equal(t, "cluster.local", values["cluster"].(map[string]any)["dnsDomain"], v)
		assert.Equal(t, loadBalancerWebhookService, strings.TrimSuffix(row.Chart.Name, "-controller")+"-webhook-service")
		assert.Equal(t, serviceDNSNames(loadBalancerWebhookService, addonNamespace)[2],
			loadBalancerWebhookService+"."+addonNamespace+".svc."+values["cluster"].(map[string]any)["dnsDomain"].(string))
		if compareVersions(v, "3.0.0") >= 0 {
			assert.Equal(t, false, values["keepTLSSecret"], "%s: keepTLSSecret defaults to false from 3.x", v)
		}
		rendered := chartValuesFor(row.Chart.WithVersion(v))
		assert.Equal(t, pulumi.Bool(true), rendered["keepTLSSecret"])
		assert.ElementsMatch(t, []string{"caCert", "cert", "key"}, mapKeys(rendered["webhookTLS"].(pulumi.Map)))
	}
}

// Argo CD's redis Deployment reads Secret argocd-redis, key auth, without
// optional in every supported version (templates/redis/deployment.yaml),
// and only the redis-secret-init hook Job would create it; that Job renders
// only with redisSecretInit.enabled. The program creates the Secret itself.
// From chart 9.0.0 configs.params has no defaults, and from 10.0.0 the
// chart's NetworkPolicies are on by default: the values set both explicitly.
func TestArgoCDRedisSecretMatchesTheChart(t *testing.T) {
	dir := chartsDir(t)
	row, _ := addonChart(ArgoCDChart.Name)
	for _, v := range row.Supported() {
		chart := readChart(t, dir, row.Chart.Name, v)
		redis := chart.Files["templates/redis/deployment.yaml"]
		assert.Contains(t, redis, "secretKeyRef:\n              name: "+ArgoCDRedisSecret+"\n              key: "+ArgoCDRedisSecretKey+"\n", v)
		for path, body := range chart.Files {
			if strings.HasPrefix(path, "templates/redis-secret-init/") {
				assert.True(t, strings.HasPrefix(body, "{{- if and .Values.redisSecretInit.enabled "), "%s %s renders only with redisSecretInit.enabled", v, path)
			}
		}
		values := chart.values(t, "")
		params := values["configs"].(map[string]any)["params"].(map[string]any)
		if compareVersions(v, "9.0.0") >= 0 {
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
	dir := chartsDir(t)
	row, _ := addonChart(ArgoCDChart.Name)
	for _, v := range row.Supported() {
		chart := readChart(t, dir, row.Chart.Name, v)
		crds := 0
		for path, body := range chart.Files {
			if strings.HasPrefix(path, "templates/crds/crd-") {
				crds++
				assert.Contains(t, body, "{{- if .Values.crds.keep }}\n    \"helm.sh/resource-policy\": keep", "%s %s", v, path)
			}
		}
		assert.Equal(t, 3, crds, "%s: Application, ApplicationSet, AppProject", v)
		assert.Equal(t, true, chart.values(t, "")["crds"].(map[string]any)["keep"], "%s: the chart keeps CRDs by default", v)
		rendered := chartValuesFor(row.Chart.WithVersion(v))
		assert.Equal(t, pulumi.Bool(false), rendered["crds"].(pulumi.Map)["keep"], v)
	}
}

// The device plugin chart's node-feature-discovery subchart is off (its
// condition's first path, nfd.enabled, is false), so none of its templates,
// hooks included, render; from 0.20.0 (NFD 0.19) the post-delete prune Job
// is also switched off by postDeleteCleanup, which gates it.
func TestDevicePluginValuesKeepNFDHooksOut(t *testing.T) {
	dir := chartsDir(t)
	row, _ := addonChart(DevicePluginChart.Name)
	for _, v := range row.Supported() {
		chart := readChart(t, dir, row.Chart.Name, v)
		meta := chart.meta(t, "")
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
		if compareVersions(v, "0.20.0") >= 0 {
			assert.Positive(t, hooks, "%s: NFD 0.19 ships the post-delete prune hooks", v)
		}
	}
}

func mapKeys(m pulumi.Map) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
