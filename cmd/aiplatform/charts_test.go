package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiplatform/infra/internal/charts"
	"github.com/aiplatform/infra/internal/charts/chartstest"
	"github.com/aiplatform/infra/workloads"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func contentDigest(t *testing.T, archive []byte) string {
	t.Helper()
	d, err := charts.ContentDigest(bytes.NewReader(archive))
	require.NoError(t, err)
	return d
}

// useChartRepo points the charts command at pins served by repo.
func useChartRepo(t *testing.T, repo *chartstest.Repo, pins []charts.Pin) {
	t.Helper()
	oldPins, oldClient := chartPins, chartsClient
	t.Cleanup(func() { chartPins, chartsClient = oldPins, oldClient })
	chartPins = func() []charts.Pin { return pins }
	chartsClient = func(timeout time.Duration) *http.Client {
		c := repo.Server.Client()
		c.Timeout = timeout
		return c
	}
}

// The command end to end against a Helm repository of tiny charts (this
// test runs everywhere; workloads' TestFetchOfThePinnedCharts serves the
// real ones).
func TestChartsFetchThenVerify(t *testing.T) {
	alpha := chartstest.Synthetic(t, "alpha", "1.0.0", "kind: ConfigMap\n")
	beta := chartstest.Synthetic(t, "beta", "2.0.0", "kind: Secret\n")
	repo := chartstest.NewRepo(t, "/charts", []chartstest.Archive{
		{Name: "alpha", Version: "1.0.0", URL: "alpha-1.0.0.tgz", Body: alpha},
		{Name: "beta", Version: "2.0.0", URL: "beta-2.0.0.tgz", Body: beta},
	})
	pins := []charts.Pin{
		{Repo: repo.URL, Name: "alpha", Version: "1.0.0", Digest: contentDigest(t, alpha)},
		{Repo: repo.URL, Name: "beta", Version: "2.0.0", Digest: contentDigest(t, beta)},
	}
	useChartRepo(t, repo, pins)
	dir := filepath.Join(t.TempDir(), "charts")

	code, stdout, stderr := run("charts", "fetch", "-dir", dir)
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, 2, strings.Count(stdout, "downloaded "), stdout)
	assert.Contains(t, stdout, "ok: 2 charts in "+dir)

	code, stdout, stderr = run("charts", "fetch", "-dir", dir)
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, 2, strings.Count(stdout, "kept "), stdout)
	assert.Equal(t, 3, repo.Total(), "the second fetch requests nothing")

	code, _, stderr = run("charts", "verify", "-dir", dir)
	require.Equal(t, exitOK, code, stderr)

	// A tampered file in the directory: verify names it and fails.
	tampered := chartstest.Synthetic(t, "beta", "2.0.0", "kind: ClusterRoleBinding\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "beta-2.0.0.tgz"), tampered, 0o644))
	code, _, stderr = run("charts", "verify", "-dir", dir)
	assert.Equal(t, exitFail, code)
	assert.Contains(t, stderr, "chart beta 2.0.0 ("+repo.URL+"): "+filepath.Join(dir, "beta-2.0.0.tgz")+" has another content digest: expected "+pins[1].Digest+", got "+contentDigest(t, tampered))
	assert.NotContains(t, stderr, "chart alpha")
}

func TestChartsFetchRefusesATamperedChart(t *testing.T) {
	alpha := chartstest.Synthetic(t, "alpha", "1.0.0", "kind: ConfigMap\n")
	served := chartstest.Synthetic(t, "alpha", "1.0.0", "kind: ClusterRoleBinding\n")
	repo := chartstest.NewRepo(t, "/charts", []chartstest.Archive{{Name: "alpha", Version: "1.0.0", URL: "alpha-1.0.0.tgz", Body: served}})
	useChartRepo(t, repo, []charts.Pin{
		{Repo: repo.URL, Name: "alpha", Version: "1.0.0", Digest: contentDigest(t, alpha)},
		{Repo: repo.URL, Name: "alpha", Version: "1.1.0", Digest: contentDigest(t, alpha)},
	})
	dir := t.TempDir()
	code, _, stderr := run("charts", "fetch", "-dir", dir)
	assert.Equal(t, exitFail, code)
	assert.Contains(t, stderr, "chart alpha 1.0.0 from "+repo.URL+": "+repo.URL+"/alpha-1.0.0.tgz has another content digest: expected "+contentDigest(t, alpha)+", got "+contentDigest(t, served)+"; not written")
	assert.Contains(t, stderr, "chart alpha 1.1.0 from "+repo.URL+": "+repo.URL+"/index.yaml has no version 1.1.0 of alpha")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing is written")
}

func TestChartsUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"charts"}, "Usage: aiplatform charts fetch|verify"},
		{[]string{"charts", "pull"}, `unknown action "pull"; use fetch or verify`},
		{[]string{"charts", "fetch"}, "-dir is required"},
		{[]string{"charts", "verify", "-dir", "x", "extra"}, `unexpected argument "extra"`},
		{[]string{"charts", "fetch", "-dir", "x", "-timeout", "0s"}, "-timeout 0s must be positive"},
		{[]string{"charts", "fetch", "-nope"}, "flag provided but not defined: -nope"},
	} {
		code, _, stderr := run(c.args...)
		assert.Equal(t, exitUsage, code, "%v", c.args)
		assert.Contains(t, stderr, c.want, "%v", c.args)
	}
	code, _, stderr := run("charts", "fetch", "-h")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, stderr, "Exit:")
}

// The command fetches the real table: every pin and previous pin, from
// its official repository, each with a digest.
func TestChartsCommandFetchesTheChartTable(t *testing.T) {
	got := map[string]charts.Pin{}
	for _, p := range chartPins() {
		got[p.File()] = p
		assert.NotEmpty(t, p.Digest, p.String())
	}
	want := 0
	for _, row := range workloads.AddonCharts {
		for _, v := range []string{row.Chart.Version, row.Previous} {
			if v == "" {
				continue
			}
			want++
			p, ok := got[row.Chart.Name+"-"+v+".tgz"]
			if assert.True(t, ok, "%s %s is not fetched", row.Chart.Name, v) {
				assert.Equal(t, row.Chart.Repo, p.Repo, "%s %s", row.Chart.Name, v)
			}
		}
	}
	assert.Len(t, got, want)
}
