// Package chartstest builds chart archives and serves them from a Helm
// repository over HTTPS, for the tests of packages charts, workloads and
// the CLI's charts command.
package chartstest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// Packaging is how an archive is written: what differs between the
// upstream release asset of a chart and `helm package` of its git tag.
type Packaging struct {
	Reverse   bool // entries in reverse path order
	ModTime   time.Time
	Level     int  // gzip level (0: no compression)
	Dirs      bool // a folder entry before the files
	PAXHeader bool // a pax global header first, as git archive writes
}

// Pack writes files (paths inside the chart) under the folder top.
func Pack(t testing.TB, top string, files map[string]string, p Packaging) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, p.Level)
	require.NoError(t, err)
	tw := tar.NewWriter(gz)
	if p.PAXHeader {
		require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "0123"}}))
	}
	if p.Dirs {
		require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: top + "/", Mode: 0o755, ModTime: p.ModTime}))
	}
	paths := slices.Sorted(maps.Keys(files))
	if p.Reverse {
		slices.Reverse(paths)
	}
	for _, name := range paths {
		body := files[name]
		require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: top + "/" + name, Mode: 0o644, Size: int64(len(body)), ModTime: p.ModTime}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	return buf.Bytes()
}

// Synthetic is a tiny chart: a Chart.yaml and one template.
func Synthetic(t testing.TB, name, version, template string) []byte {
	t.Helper()
	return Pack(t, name, map[string]string{
		"Chart.yaml":               "apiVersion: v2\nname: " + name + "\nversion: " + version + "\n",
		"templates/configmap.yaml": template,
	}, Packaging{Level: gzip.BestSpeed})
}

// Archive is one chart file a Repo serves.
type Archive struct {
	Name, Version string
	// URL is the index entry's first URL: relative to the repository, or,
	// starting with "/", a path made absolute on the test server (as GitHub
	// release assets are to a gh-pages index).
	URL  string
	Body []byte
}

// Repo is a Helm repository (index.yaml and archives) over HTTPS at URL,
// counting the requests for each path. Server.Client() trusts it.
type Repo struct {
	Server *httptest.Server
	URL    string

	mu       sync.Mutex
	requests map[string]int
}

// NewRepo serves archives from a repository at the path prefix ("/stable",
// "/charts/"); the server stops when the test ends.
func NewRepo(t testing.TB, prefix string, archives []Archive) *Repo {
	t.Helper()
	r := &Repo{requests: map[string]int{}}
	mux := http.NewServeMux()
	r.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests[req.URL.Path]++
		r.mu.Unlock()
		mux.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Server.Close)
	r.URL = r.Server.URL + prefix
	base := strings.TrimSuffix(prefix, "/") + "/"
	entries := map[string][]map[string]any{}
	for _, a := range archives {
		u, path, body := a.URL, base+a.URL, a.Body
		if strings.HasPrefix(u, "/") {
			path, u = u, r.Server.URL+u
		}
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) })
		entries[a.Name] = append(entries[a.Name], map[string]any{"version": a.Version, "urls": []string{u}, "digest": "the archive's sha256, not read"})
	}
	index, err := yaml.Marshal(map[string]any{"apiVersion": "v1", "entries": entries})
	require.NoError(t, err)
	mux.HandleFunc(base+"index.yaml", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(index) })
	return r
}

// Requests is the number of requests so far, by path.
func (r *Repo) Requests() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.requests)
}

// Total is the number of requests so far.
func (r *Repo) Total() int {
	n := 0
	for _, v := range r.Requests() {
		n += v
	}
	return n
}
