package wltest

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// These tests read the packaged charts themselves (the .tgz files a chart
// mirror directory holds, see Chart.From): what a chart accepts and renders
// is a fact of its source, which the mocks cannot show. Where the charts are
// not on disk they skip, saying why, except in CI, where they fail: the
// workflows fetch the charts first (`aiplatform charts fetch`), so a
// missing directory there means the chart tests would pass without
// running.

// ChartsDirEnv names the directory of packaged charts, <name>-<version>.tgz;
// the real-component tier reads the same variable (tests/realtier/charts.go).
const ChartsDirEnv = "AIPLATFORM_CHARTS"

// ChartsDir is $AIPLATFORM_CHARTS, else shared/charts beside the checkout.
// When it is not a directory the test skips, or fails where $CI is set.
func ChartsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(ChartsDirEnv)
	if dir == "" {
		dir = filepath.Join(moduleRoot(), "..", "shared", "charts")
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		if fatal, msg := MissingCharts(dir, os.Getenv("CI")); fatal {
			t.Fatal(msg)
		} else {
			t.Skip(msg)
		}
	}
	return dir
}

// MissingCharts decides what a test does without its charts directory dir:
// skip, or fail (fatal) when ci, the value of $CI, says the run is in CI
// (GitHub Actions sets CI=true; any value but "", "0" and "false" counts).
func MissingCharts(dir, ci string) (fatal bool, msg string) {
	fetch := "go run ./cmd/aiplatform charts fetch -dir " + dir
	if ci != "" && ci != "0" && !strings.EqualFold(ci, "false") {
		return true, fmt.Sprintf("no packaged charts at %s, and CI=%s makes that a failure (the chart tests would pass without running): fetch them with `%s`, or set %s to a directory of <name>-<version>.tgz", dir, ci, fetch, ChartsDirEnv)
	}
	return false, fmt.Sprintf("no packaged charts at %s (fetch them with `%s`, or set %s to a directory of <name>-<version>.tgz, to run this test; with CI set this fails)", dir, fetch, ChartsDirEnv)
}

// PackagedChart is a chart archive read into memory: file contents by path
// inside the chart (the archive's top folder stripped: "Chart.yaml",
// "templates/_helpers.tpl", "charts/nfd/values.yaml").
type PackagedChart struct {
	Name, Version string
	Files         map[string]string
}

// ReadChart reads <dir>/<name>-<version>.tgz; a missing file fails the test,
// since every supported version must be in the mirror.
func ReadChart(t *testing.T, dir, name, version string) PackagedChart {
	t.Helper()
	path := filepath.Join(dir, name+"-"+version+".tgz")
	f, err := os.Open(path)
	require.NoError(t, err, "every supported chart version must be packaged in %s; fetch them with `go run ./cmd/aiplatform charts fetch -dir %s`", dir, dir)
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
	return PackagedChart{Name: name, Version: version, Files: files}
}

// ChartMeta is the part of Chart.yaml these tests read.
type ChartMeta struct {
	Name         string `yaml:"name"`
	Version      string `yaml:"version"`
	KubeVersion  string `yaml:"kubeVersion"`
	Dependencies []struct {
		Name      string `yaml:"name"`
		Alias     string `yaml:"alias"`
		Condition string `yaml:"condition"`
	} `yaml:"dependencies"`
}

func (c PackagedChart) Meta(t *testing.T, dir string) ChartMeta {
	t.Helper()
	var m ChartMeta
	require.NoError(t, yaml.Unmarshal([]byte(c.Files[dir+"Chart.yaml"]), &m), "%s %s: %sChart.yaml", c.Name, c.Version, dir)
	return m
}

// subcharts are the folders (with trailing slash) of the chart and of every
// subchart inside it, the chart's own first.
func (c PackagedChart) Subcharts() []string {
	dirs := []string{""}
	for path := range c.Files {
		if strings.HasPrefix(path, "charts/") && strings.HasSuffix(path, "/Chart.yaml") && strings.Count(path, "/") == 2 {
			dirs = append(dirs, strings.TrimSuffix(path, "Chart.yaml"))
		}
	}
	slices.Sort(dirs[1:])
	return dirs
}

func (c PackagedChart) Values(t *testing.T, dir string) map[string]any {
	t.Helper()
	values := map[string]any{}
	require.NoError(t, yaml.Unmarshal([]byte(c.Files[dir+"values.yaml"]), &values), "%s %s: %svalues.yaml", c.Name, c.Version, dir)
	return values
}

// knownKeys are the values keys a chart reads: its values.yaml, each
// subchart's values.yaml under the subchart's alias (or name), and the
// paths of the subcharts' conditions (nfd.enabled), which values.yaml need
// not list. A key is a path of map keys joined by "\x00" (keys contain dots).
func (c PackagedChart) KnownKeys(t *testing.T) map[string]any {
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
	walk(nil, c.Values(t, ""))
	for _, dep := range c.Meta(t, "").Dependencies {
		alias := dep.Alias
		if alias == "" {
			alias = dep.Name
		}
		if _, ok := c.Files["charts/"+dep.Name+"/values.yaml"]; ok {
			walk([]string{alias}, c.Values(t, "charts/"+dep.Name+"/"))
		}
		for _, cond := range strings.Split(dep.Condition, ",") {
			if cond = strings.TrimSpace(cond); cond != "" {
				known[strings.ReplaceAll(cond, ".", "\x00")] = false
			}
		}
	}
	return known
}

// ValueKeys lists the key paths of rendered values down to their leaves:
// maps are walked, anything else (strings, lists, outputs) is a leaf.
func ValueKeys(values pulumi.Map) [][]string {
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
	"cluster-autoscaler":    {"extraArgs"},
	"argo-cd":               {"configs.cm", "configs.params"},
	"kube-prometheus-stack": {"grafana.grafana.ini.server"},
}

// TemplateOnlyValues are keys a chart's templates read although its
// values.yaml lists them only in a comment; a test of the chart's package
// checks each against the template that reads it.
var TemplateOnlyValues = map[string][]string{
	"kube-prometheus-stack": {"grafana.ingress.ingressClassName", "prometheus.ingress.pathType"},
}

// KeyIsKnown reports whether path is a key of the chart: listed, or below a
// free-form map (declared free-form, or empty/unset in values.yaml, like
// nodeSelector: {} or webhookTLS.caCert: ~).
func KeyIsKnown(known map[string]any, chart string, path []string) bool {
	if _, ok := known[strings.Join(path, "\x00")]; ok {
		return true
	}
	if slices.Contains(TemplateOnlyValues[chart], strings.Join(path, ".")) {
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

func MapKeys(m pulumi.Map) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// moduleRoot is the checkout's root (this file is workloads/internal/wltest/charts.go),
// so ChartsDir finds shared/charts beside it from any package's tests.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// CheckValuesUseOnlyKnownKeys fails for every key of valuesFor(version) that
// chart name at that version does not know (see KnownKeys, KeyIsKnown).
func CheckValuesUseOnlyKnownKeys(t *testing.T, name string, versions []string, valuesFor func(version string) pulumi.Map) {
	dir := ChartsDir(t)
	for _, version := range versions {
		t.Run(name+"-"+version, func(t *testing.T) {
			known := ReadChart(t, dir, name, version).KnownKeys(t)
			for _, key := range ValueKeys(valuesFor(version)) {
				assert.True(t, KeyIsKnown(known, name, key), "%s %s has no values key %s", name, version, strings.Join(key, "."))
			}
		})
	}
}
