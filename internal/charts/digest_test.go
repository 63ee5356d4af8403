package charts

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/aiplatform/infra/internal/charts/chartstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func digestOf(t *testing.T, archive []byte) string {
	t.Helper()
	d, err := ContentDigest(bytes.NewReader(archive))
	require.NoError(t, err)
	return d
}

// demoChart is a chart with a subchart, as `helm package` writes it:
// Chart.yaml marshalled with sorted keys, a Chart.lock.
func demoChart() map[string]string {
	return map[string]string{
		"Chart.yaml":                     "apiVersion: v2\nappVersion: \"1.10\"\ndependencies:\n- condition: sub.enabled\n  name: sub\n  repository: https://charts.example.com\n  version: 0.3.0\ndescription: A demo chart\nkeywords:\n- demo\nname: demo\nversion: 1.2.3\n",
		"Chart.lock":                     "dependencies:\n- name: sub\n  repository: https://charts.example.com\n  version: 0.3.0\ndigest: sha256:0000\ngenerated: \"2025-05-25T11:18:29.356017-05:00\"\n",
		"values.yaml":                    "replicas: 1\n",
		"templates/deployment.yaml":      "kind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n",
		"templates/_helpers.tpl":         "{{- define \"demo.name\" -}}demo{{- end }}\n",
		"charts/sub/Chart.yaml":          "apiVersion: v2\nname: sub\nversion: 0.3.0\n",
		"charts/sub/values.yaml":         "enabled: false\n",
		"charts/sub/templates/cm.yaml":   "kind: ConfigMap\n",
		"files/dashboards/Chart.yaml.md": "not a Chart.yaml: digested as it is\n",
	}
}

// The same chart, packaged the other way: the upstream asset against
// `helm package` of the tag (README of shared/charts: "tag" files).
func TestContentDigestIsTheSameForEveryPackaging(t *testing.T) {
	helmPackage := chartstest.Pack(t, "demo", demoChart(), chartstest.Packaging{ModTime: time.Date(2026, 11, 25, 22, 42, 0, 0, time.UTC), Level: gzip.DefaultCompression})

	repacked := demoChart()
	// Chart.yaml as the chart's author wrote it: other key order, quoting,
	// comments, flow style; the subchart's likewise.
	repacked["Chart.yaml"] = "# The demo chart.\nname: 'demo'\nversion: \"1.2.3\"\napiVersion: v2\nappVersion: '1.10'\ndescription: >-\n  A demo chart\nkeywords: [demo]\ndependencies:\n  - name: sub\n    version: \"0.3.0\"\n    repository: \"https://charts.example.com\"\n    condition: sub.enabled\n"
	repacked["charts/sub/Chart.yaml"] = "{name: sub, apiVersion: v2, version: 0.3.0}\n"
	// No Chart.lock: `helm package` of a folder without one writes none,
	// chart-releaser's dependency update writes a fresh one.
	delete(repacked, "Chart.lock")
	upstream := chartstest.Pack(t, "demo", repacked, chartstest.Packaging{Reverse: true, ModTime: time.Date(2025, 5, 25, 16, 18, 29, 0, time.UTC), Level: gzip.BestCompression, Dirs: true, PAXHeader: true})

	require.NotEqual(t, sha256.Sum256(helmPackage), sha256.Sum256(upstream), "the two archives must differ byte for byte for this test to mean anything")
	assert.Equal(t, digestOf(t, helmPackage), digestOf(t, upstream))
	assert.Regexp(t, `^[0-9a-f]{64}$`, digestOf(t, helmPackage))
}

func TestContentDigestSeesEveryChangeOfContent(t *testing.T) {
	base := digestOf(t, chartstest.Pack(t, "demo", demoChart(), chartstest.Packaging{Level: gzip.DefaultCompression}))
	for name, change := range map[string]func(files map[string]string){
		"a template changes": func(f map[string]string) {
			f["templates/deployment.yaml"] = "kind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-x\n"
		},
		"a subchart template changes": func(f map[string]string) { f["charts/sub/templates/cm.yaml"] = "kind: Secret\n" },
		"a default value changes":     func(f map[string]string) { f["values.yaml"] = "replicas: 2\n" },
		"a file is added":             func(f map[string]string) { f["templates/extra.yaml"] = "" },
		"a file is removed":           func(f map[string]string) { delete(f, "templates/_helpers.tpl") },
		"a file is renamed": func(f map[string]string) {
			f["templates/helpers.tpl"] = f["templates/_helpers.tpl"]
			delete(f, "templates/_helpers.tpl")
		},
		"bytes move between files": func(f map[string]string) {
			f["values.yaml"] = "replicas: 1\nkind: Deployment\n"
			f["templates/deployment.yaml"] = "metadata:\n  name: {{ .Release.Name }}\n"
		},
		"the version changes": func(f map[string]string) {
			f["Chart.yaml"] = strings.Replace(f["Chart.yaml"], "version: 1.2.3", "version: 1.2.4", 1)
		},
		"the appVersion changes":           func(f map[string]string) { f["Chart.yaml"] = strings.Replace(f["Chart.yaml"], `"1.10"`, `"1.11"`, 1) },
		"the subchart's Chart.yaml":        func(f map[string]string) { f["charts/sub/Chart.yaml"] = "apiVersion: v2\nname: sub\nversion: 0.3.1\n" },
		"a Chart.lock outside chart roots": func(f map[string]string) { f["files/Chart.lock"] = "x\n" },
	} {
		t.Run(name, func(t *testing.T) {
			files := demoChart()
			change(files)
			assert.NotEqual(t, base, digestOf(t, chartstest.Pack(t, "demo", files, chartstest.Packaging{Level: gzip.DefaultCompression})))
		})
	}
}

func TestContentDigestRefusesWhatItCannotDigest(t *testing.T) {
	entry := func(h tar.Header, body string) []byte {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		tw := tar.NewWriter(gz)
		require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "demo/Chart.yaml", Size: 11}))
		_, _ = tw.Write([]byte("name: demo\n"))
		h.Size = int64(len(body))
		require.NoError(t, tw.WriteHeader(&h))
		_, _ = tw.Write([]byte(body))
		require.NoError(t, tw.Close())
		require.NoError(t, gz.Close())
		return buf.Bytes()
	}
	for name, c := range map[string]struct {
		archive []byte
		want    string
	}{
		"symlink":            {entry(tar.Header{Typeflag: tar.TypeSymlink, Name: "demo/templates/x.yaml", Linkname: "/etc/passwd"}, ""), "not a regular file"},
		"parent path":        {entry(tar.Header{Typeflag: tar.TypeReg, Name: "demo/../x.yaml"}, "x"), "not a path inside the chart"},
		"second top folder":  {entry(tar.Header{Typeflag: tar.TypeReg, Name: "other/x.yaml"}, "x"), "outside the chart's folder demo/"},
		"file at the top":    {entry(tar.Header{Typeflag: tar.TypeReg, Name: "x.yaml"}, "x"), "outside any chart folder"},
		"path twice":         {entry(tar.Header{Typeflag: tar.TypeReg, Name: "demo/Chart.yaml"}, "name: x\n"), "twice"},
		"Chart.yaml no YAML": {entry(tar.Header{Typeflag: tar.TypeReg, Name: "demo/charts/sub/Chart.yaml"}, "a: [\n"), "charts/sub/Chart.yaml: not YAML"},
		"no Chart.yaml":      {chartstest.Pack(t, "demo", map[string]string{"values.yaml": ""}, chartstest.Packaging{}), "no <chart>/Chart.yaml"},
		"not gzip":           {[]byte("<html>rate limited</html>"), "not a gzip-compressed chart archive"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ContentDigest(bytes.NewReader(c.archive))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestAtChartRoot(t *testing.T) {
	for p, want := range map[string]bool{
		"Chart.yaml":                           true,
		"charts/grafana/Chart.yaml":            true,
		"charts/a/charts/b/Chart.yaml":         true,
		"files/Chart.yaml":                     false,
		"charts/Chart.yaml":                    false,
		"charts/a/files/Chart.yaml":            false,
		"templates/charts/Chart.yaml":          false,
		"charts/a/charts/b/templates/x.yaml":   false,
		"charts/grafana/Chart.yaml/Chart.yaml": false,
	} {
		assert.Equal(t, want, atChartRoot(p, "Chart.yaml"), p)
	}
}
