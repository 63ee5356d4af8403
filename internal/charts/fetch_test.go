package charts

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiplatform/infra/internal/charts/chartstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fetcher(repo *chartstest.Repo, log *bytes.Buffer) *Fetcher {
	return &Fetcher{Client: repo.Server.Client(), Log: log}
}

func TestFetchDownloadsVerifiesAndKeeps(t *testing.T) {
	alpha := chartstest.Synthetic(t, "alpha", "1.0.0", "kind: ConfigMap\n")
	alphaOld := chartstest.Synthetic(t, "alpha", "0.9.0", "kind: ConfigMap # old\n")
	beta := chartstest.Synthetic(t, "beta", "2.0.0", "kind: Secret\n")
	// The repository URL has a path without a trailing slash; alpha's URLs
	// are relative to it, beta's is absolute on the same host (as GitHub
	// release assets are to a gh-pages index).
	repo := chartstest.NewRepo(t, "/stable", []chartstest.Archive{
		{Name: "alpha", Version: "1.0.0", URL: "alpha-1.0.0.tgz", Body: alpha},
		{Name: "alpha", Version: "0.9.0", URL: "old/alpha-0.9.0.tgz", Body: alphaOld},
		{Name: "beta", Version: "2.0.0", URL: "/releases/download/beta-2.0.0.tgz", Body: beta},
	})
	pins := []Pin{
		{Repo: repo.URL, Name: "alpha", Version: "0.9.0", Digest: digestOf(t, alphaOld)},
		{Repo: repo.URL, Name: "alpha", Version: "1.0.0", Digest: digestOf(t, alpha)},
		{Repo: repo.URL, Name: "beta", Version: "2.0.0", Digest: digestOf(t, beta)},
	}
	dir := filepath.Join(t.TempDir(), "charts")
	var log bytes.Buffer
	require.NoError(t, fetcher(repo, &log).Fetch(context.Background(), dir, pins))
	assert.Equal(t, map[string]int{
		"/stable/index.yaml":                1, // read once for the three charts
		"/stable/alpha-1.0.0.tgz":           1,
		"/stable/old/alpha-0.9.0.tgz":       1,
		"/releases/download/beta-2.0.0.tgz": 1,
	}, repo.Requests())
	for _, p := range pins {
		b, err := os.ReadFile(filepath.Join(dir, p.File()))
		require.NoError(t, err)
		assert.Equal(t, p.Digest, digestOf(t, b), p.File())
	}
	assert.Equal(t, 3, strings.Count(log.String(), "downloaded "), log.String())
	require.NoError(t, Verify(dir, pins))

	// Second run: everything is there, nothing is requested.
	log.Reset()
	require.NoError(t, fetcher(repo, &log).Fetch(context.Background(), dir, pins))
	assert.Equal(t, 4, repo.Total(), "a second fetch must download nothing")
	assert.Equal(t, 3, strings.Count(log.String(), "kept "), log.String())

	// A file with another digest (a local edit) is replaced by a verified download.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "beta-2.0.0.tgz"), chartstest.Synthetic(t, "beta", "2.0.0", "kind: Pod\n"), 0o644))
	require.ErrorContains(t, Verify(dir, pins), "beta-2.0.0.tgz has another content digest: expected "+pins[2].Digest)
	log.Reset()
	require.NoError(t, fetcher(repo, &log).Fetch(context.Background(), dir, pins))
	assert.Contains(t, log.String(), "replacing  beta-2.0.0.tgz")
	require.NoError(t, Verify(dir, pins))
	assertNoTemporaryFiles(t, dir)
}

func assertNoTemporaryFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasSuffix(e.Name(), ".tmp"), "temporary file %s left behind", e.Name())
	}
}

func TestFetchRefusesAndReports(t *testing.T) {
	good := chartstest.Synthetic(t, "good", "1.0.0", "kind: ConfigMap\n")
	tampered := chartstest.Synthetic(t, "tampered", "1.0.0", "kind: ConfigMap\n")
	expected := digestOf(t, tampered)
	// The repository serves another template under the same name and version.
	served := chartstest.Synthetic(t, "tampered", "1.0.0", "kind: ClusterRoleBinding\n")
	unlisted := chartstest.Synthetic(t, "unlisted", "3.0.0", "kind: ConfigMap\n")
	repo := chartstest.NewRepo(t, "/charts/", []chartstest.Archive{
		{Name: "good", Version: "1.0.0", URL: "good-1.0.0.tgz", Body: good},
		{Name: "tampered", Version: "1.0.0", URL: "tampered-1.0.0.tgz", Body: served},
		{Name: "unlisted", Version: "3.0.0", URL: "unlisted-3.0.0.tgz", Body: unlisted},
		{Name: "broken", Version: "1.0.0", URL: "broken-1.0.0.tgz", Body: []byte("<html>rate limited</html>")},
	})
	pins := []Pin{
		{Repo: repo.URL, Name: "good", Version: "1.0.0", Digest: digestOf(t, good)},
		{Repo: repo.URL, Name: "tampered", Version: "1.0.0", Digest: expected},
		{Repo: repo.URL, Name: "good", Version: "9.9.9", Digest: digestOf(t, good)},
		{Repo: repo.URL, Name: "absent", Version: "1.0.0", Digest: digestOf(t, good)},
		{Repo: repo.URL, Name: "unlisted", Version: "3.0.0"},
		{Repo: repo.URL, Name: "broken", Version: "1.0.0", Digest: digestOf(t, good)},
	}
	dir := t.TempDir()
	var log bytes.Buffer
	err := fetcher(repo, &log).Fetch(context.Background(), dir, pins)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "chart tampered 1.0.0 from "+repo.URL+": "+repo.URL+"tampered-1.0.0.tgz has another content digest: expected "+expected+", got "+digestOf(t, served)+"; not written")
	assert.Contains(t, msg, "chart good 9.9.9 from "+repo.URL+": "+repo.URL+"index.yaml has no version 9.9.9 of good (it lists 1.0.0)")
	assert.Contains(t, msg, "chart absent 1.0.0 from "+repo.URL+": "+repo.URL+"index.yaml has no chart named absent")
	assert.Contains(t, msg, "chart unlisted 3.0.0 from "+repo.URL+": "+repo.URL+"unlisted-3.0.0.tgz has another content digest: expected none (the chart has no digest in the table", "a chart without a digest is never trusted")
	assert.Contains(t, msg, "got "+digestOf(t, unlisted), "the digest to check and add is printed")
	assert.Contains(t, msg, "chart broken 1.0.0 from "+repo.URL+": "+repo.URL+"broken-1.0.0.tgz: not a gzip-compressed chart archive")
	assert.NotContains(t, msg, "chart good 1.0.0", "the good chart is fetched despite the others")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"good-1.0.0.tgz"}, names, "only the verified chart is written")
}

func TestFetchNamesAnUnreachableRepository(t *testing.T) {
	repo := chartstest.NewRepo(t, "/empty", nil)
	pins := []Pin{{Repo: repo.URL + "/missing", Name: "x", Version: "1.0.0", Digest: "00"}}
	err := fetcher(repo, &bytes.Buffer{}).Fetch(context.Background(), t.TempDir(), pins)
	require.ErrorContains(t, err, "chart x 1.0.0 from "+repo.URL+"/missing: GET "+repo.URL+"/missing/index.yaml: 404 Not Found")

	err = fetcher(repo, &bytes.Buffer{}).Fetch(context.Background(), t.TempDir(), []Pin{{Repo: "http://charts.example.com", Name: "x", Version: "1.0.0", Digest: "00"}})
	require.ErrorContains(t, err, `repository "http://charts.example.com" is not an https:// Helm repository URL`)
}

func TestVerifyNamesEveryProblem(t *testing.T) {
	alpha := chartstest.Synthetic(t, "alpha", "1.0.0", "kind: ConfigMap\n")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alpha-1.0.0.tgz"), alpha, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "other-1.0.0.tgz"), []byte("ignored"), 0o644))
	require.NoError(t, Verify(dir, []Pin{{Repo: "https://r", Name: "alpha", Version: "1.0.0", Digest: digestOf(t, alpha)}}))

	err := Verify(dir, []Pin{
		{Repo: "https://r", Name: "alpha", Version: "1.0.0", Digest: strings.Repeat("0", 64)},
		{Repo: "https://r", Name: "beta", Version: "2.0.0", Digest: strings.Repeat("0", 64)},
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "chart alpha 1.0.0 (https://r): "+filepath.Join(dir, "alpha-1.0.0.tgz")+" has another content digest: expected "+strings.Repeat("0", 64)+", got "+digestOf(t, alpha))
	assert.Contains(t, err.Error(), "chart beta 2.0.0 (https://r): "+filepath.Join(dir, "beta-2.0.0.tgz")+" is missing")
}

// flakyTransport answers the first failures requests with 503, as GitHub
// Pages does in a bad minute.
type flakyTransport struct {
	next     http.RoundTripper
	failures int
	seen     int
}

func (f *flakyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.seen++
	if f.seen <= f.failures {
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable", Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
	}
	return f.next.RoundTrip(req)
}

func TestFetchTriesTransientFailuresAgain(t *testing.T) {
	alpha := chartstest.Synthetic(t, "alpha", "1.0.0", "kind: ConfigMap\n")
	repo := chartstest.NewRepo(t, "/stable", []chartstest.Archive{{Name: "alpha", Version: "1.0.0", URL: "alpha-1.0.0.tgz", Body: alpha}})
	pins := []Pin{{Repo: repo.URL, Name: "alpha", Version: "1.0.0", Digest: digestOf(t, alpha)}}
	client := func(failures int) *http.Client {
		return &http.Client{Transport: &flakyTransport{next: repo.Server.Client().Transport, failures: failures}}
	}

	f := &Fetcher{Client: client(2), Log: &bytes.Buffer{}, Attempts: 3, Backoff: time.Millisecond}
	require.NoError(t, f.Fetch(context.Background(), t.TempDir(), pins), "two 503s, then the index")

	f = &Fetcher{Client: client(3), Log: &bytes.Buffer{}, Attempts: 3, Backoff: time.Millisecond}
	require.ErrorContains(t, f.Fetch(context.Background(), t.TempDir(), pins), "index.yaml: 503 Service Unavailable", "three attempts in all")

	// A 404 is an answer: asked once.
	before := repo.Requests()["/missing/index.yaml"]
	f = &Fetcher{Client: repo.Server.Client(), Log: &bytes.Buffer{}, Attempts: 3, Backoff: time.Millisecond}
	require.ErrorContains(t, f.Fetch(context.Background(), t.TempDir(), []Pin{{Repo: repo.Server.URL + "/missing", Name: "alpha", Version: "1.0.0", Digest: "00"}}), "404 Not Found")
	assert.Equal(t, before+1, repo.Requests()["/missing/index.yaml"])
}
