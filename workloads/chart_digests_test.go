package workloads

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/aiplatform/infra/internal/charts"
	"github.com/aiplatform/infra/internal/charts/chartstest"
	"github.com/aiplatform/infra/workloads/internal/wltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The digest table holds every pin and every previous pin of AddonCharts,
// and nothing else: a Renovate bump or a new Previous fails here until its
// digest is added.
func TestChartDigestsCoverEverySupportedVersion(t *testing.T) {
	want := map[string]bool{}
	for _, row := range AddonCharts {
		want[row.Chart.Name+"-"+row.Chart.Version] = true
		if row.Previous != "" {
			want[row.Chart.Name+"-"+row.Previous] = true
		}
	}
	require.GreaterOrEqual(t, len(want), len(AddonCharts))
	for key, digest := range ChartDigests {
		assert.True(t, want[key], "ChartDigests[%q]: not a pin or previous pin of AddonCharts; remove it", key)
		assert.Regexp(t, `^[0-9a-f]{64}$`, digest, "ChartDigests[%q]", key)
	}
	for key := range want {
		assert.Contains(t, ChartDigests, key, "ChartDigests has no digest for %s; `go run ./cmd/aiplatform charts fetch -dir DIR` prints it as got", key)
	}

	pins := ChartPins()
	assert.Len(t, pins, len(want))
	for _, p := range pins {
		row, ok := LookupAddonChart(p.Name)
		require.True(t, ok, p.Name)
		assert.Equal(t, row.Chart.Repo, p.Repo, "%s: fetched from its official repository", p)
		assert.Equal(t, ChartDigests[p.Name+"-"+p.Version], p.Digest, p.String())
	}
}

// The table's digests are those of the packaged charts the tests read.
func TestChartDigestsMatchThePackagedCharts(t *testing.T) {
	dir := wltest.ChartsDir(t)
	for _, p := range ChartPins() {
		got, err := charts.FileDigest(filepath.Join(dir, p.File()))
		if assert.NoError(t, err, "%s; fetch the charts: go run ./cmd/aiplatform charts fetch -dir %s", p, dir) {
			assert.Equal(t, p.Digest, got, "%s: content digest of %s", p, filepath.Join(dir, p.File()))
		}
	}
	require.NoError(t, charts.Verify(dir, ChartPins()))
}

// Fetch of the real pins from Helm repositories serving the real packaged
// charts, one test repository per official one: every chart verifies, and
// a second run downloads nothing.
func TestFetchOfThePinnedCharts(t *testing.T) {
	src := wltest.ChartsDir(t)
	byRepo := map[string][]chartstest.Archive{}
	for _, p := range ChartPins() {
		body, err := os.ReadFile(filepath.Join(src, p.File()))
		require.NoError(t, err, "fetch the charts: go run ./cmd/aiplatform charts fetch -dir %s", src)
		byRepo[p.Repo] = append(byRepo[p.Repo], chartstest.Archive{Name: p.Name, Version: p.Version, URL: p.File(), Body: body})
	}
	repos := map[string]*chartstest.Repo{}
	for official, archives := range byRepo {
		repos[official] = chartstest.NewRepo(t, "/charts", archives)
	}
	pins := ChartPins()
	var client *chartstest.Repo
	for i, p := range pins {
		pins[i].Repo = repos[p.Repo].URL
		client = repos[p.Repo]
	}
	require.Greater(t, len(repos), 1)
	// Every test server has the same self-signed certificate authority.
	fetcher := &charts.Fetcher{Client: client.Server.Client(), Log: &bytes.Buffer{}}
	dir := t.TempDir()
	require.NoError(t, fetcher.Fetch(context.Background(), dir, pins))
	require.NoError(t, charts.Verify(dir, ChartPins()))

	before := 0
	for _, r := range repos {
		before += r.Total()
	}
	assert.Equal(t, len(repos)+len(pins), before, "one index.yaml per repository and one archive per chart")
	require.NoError(t, fetcher.Fetch(context.Background(), dir, pins))
	after := 0
	for _, r := range repos {
		after += r.Total()
	}
	assert.Equal(t, before, after, "a second fetch downloads nothing")
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	assert.Len(t, names, len(pins), "one file per pin, no temporary files")
}
