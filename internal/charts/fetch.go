package charts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Limits on what one repository may send: the largest index.yaml of the
// pinned repositories is tens of MiB, the largest chart about 1 MiB.
const (
	maxIndexBytes = 256 << 20
	maxChartBytes = 64 << 20
)

// Pin is one chart version, the Helm repository it comes from and the
// content digest (ContentDigest) it must have.
type Pin struct {
	Repo, Name, Version string
	// Digest is the expected content digest, lowercase hex; empty when the
	// table has none, which Fetch and Verify report as an error.
	Digest string
}

// File is the pin's file name in a chart directory, as `helm pull` and
// `helm package` name it.
func (p Pin) File() string { return p.Name + "-" + p.Version + ".tgz" }

func (p Pin) String() string { return p.Name + " " + p.Version }

// expected is the digest to print for a pin: its digest or why there is none.
func (p Pin) expected() string {
	if p.Digest == "" {
		return "none (the chart has no digest in the table; add it once the got digest is checked against the upstream source)"
	}
	return p.Digest
}

// FileDigest is the content digest of the packaged chart at path.
func FileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	d, err := ContentDigest(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// Verify reports every pin that dir lacks as <name>-<version>.tgz or holds
// with another content digest; other files in dir are ignored.
func Verify(dir string, pins []Pin) error {
	var errs []error
	for _, p := range pins {
		if err := verifyFile(dir, p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func verifyFile(dir string, p Pin) error {
	path := filepath.Join(dir, p.File())
	got, err := FileDigest(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("chart %s (%s): %s is missing", p, p.Repo, path)
	case err != nil:
		return fmt.Errorf("chart %s (%s): %w", p, p.Repo, err)
	case p.Digest == "" || got != p.Digest:
		return fmt.Errorf("chart %s (%s): %s has another content digest: expected %s, got %s", p, p.Repo, path, p.expected(), got)
	}
	return nil
}

// Fetcher downloads pinned charts from their Helm repositories.
type Fetcher struct {
	// Client makes every request; its Timeout bounds each one.
	Client *http.Client
	// Log gets one line per chart: kept or downloaded.
	Log io.Writer
	// Attempts is how often a request that failed without an answer, or
	// with 429 or a 5xx status, is made in all (at least once), Backoff
	// apart and then twice that: GitHub Pages has bad minutes.
	Attempts int
	Backoff  time.Duration
}

// Fetch makes dir hold every pin as <name>-<version>.tgz with its content
// digest. A file already there with the right digest is kept without a
// request; any other is downloaded from the pin's repository (index.yaml,
// the entry for the name and version, its first URL) and written, through a
// temporary file and a rename, only when its digest is the expected one.
// The error names every chart that could not be fetched or verified.
func (f *Fetcher) Fetch(ctx context.Context, dir string, pins []Pin) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	indexes := map[string]*repoIndex{}
	var errs []error
	for _, p := range pins {
		path := filepath.Join(dir, p.File())
		switch got, err := FileDigest(path); {
		case err == nil && p.Digest != "" && got == p.Digest:
			fmt.Fprintf(f.Log, "kept       %s\n", p.File())
			continue
		case err == nil:
			fmt.Fprintf(f.Log, "replacing  %s: content digest %s, expected %s\n", p.File(), got, p.expected())
		case !errors.Is(err, os.ErrNotExist):
			fmt.Fprintf(f.Log, "replacing  %s: %v\n", p.File(), err)
		}
		if err := f.fetchOne(ctx, dir, p, indexes); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(f.Log, "downloaded %s\n", p.File())
	}
	return errors.Join(errs...)
}

// repoIndex is one repository's index.yaml, or why it could not be read.
type repoIndex struct {
	url     string
	entries map[string][]indexEntry
	err     error
}

type indexEntry struct {
	Version string   `yaml:"version"`
	URLs    []string `yaml:"urls"`
}

func (f *Fetcher) fetchOne(ctx context.Context, dir string, p Pin, indexes map[string]*repoIndex) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("chart %s from %s: %s", p, p.Repo, fmt.Sprintf(format, args...))
	}
	base, err := repoBase(p.Repo)
	if err != nil {
		return fail("%v", err)
	}
	idx, ok := indexes[p.Repo]
	if !ok {
		idx = f.readIndex(ctx, base)
		indexes[p.Repo] = idx
	}
	if idx.err != nil {
		return fail("%v", idx.err)
	}
	versions, ok := idx.entries[p.Name]
	if !ok {
		return fail("%s has no chart named %s", idx.url, p.Name)
	}
	var entry *indexEntry
	var listed []string
	for i := range versions {
		listed = append(listed, versions[i].Version)
		if versions[i].Version == p.Version {
			entry = &versions[i]
			break
		}
	}
	if entry == nil {
		if len(listed) > 5 {
			listed = append(listed[:5], "…")
		}
		return fail("%s has no version %s of %s (it lists %s)", idx.url, p.Version, p.Name, strings.Join(listed, ", "))
	}
	if len(entry.URLs) == 0 {
		return fail("%s lists %s %s without a URL", idx.url, p.Name, p.Version)
	}
	ref, err := url.Parse(entry.URLs[0])
	if err != nil {
		return fail("%s lists the URL %q: %v", idx.url, entry.URLs[0], err)
	}
	archiveURL := base.ResolveReference(ref).String()
	body, err := f.get(ctx, archiveURL, maxChartBytes)
	if err != nil {
		return fail("%v", err)
	}
	got, err := ContentDigest(bytes.NewReader(body))
	if err != nil {
		return fail("%s: %v; not written", archiveURL, err)
	}
	if p.Digest == "" || got != p.Digest {
		return fail("%s has another content digest: expected %s, got %s; not written", archiveURL, p.expected(), got)
	}
	return writeAtomically(filepath.Join(dir, p.File()), body)
}

// repoBase is the repository URL as a folder, which relative chart URLs and
// index.yaml resolve against (as Helm's repo.ResolveReferenceURL does).
func repoBase(repo string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSuffix(repo, "/") + "/")
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("repository %q is not an https:// Helm repository URL (charts are fetched over TLS only)", repo)
	}
	return u, nil
}

func (f *Fetcher) readIndex(ctx context.Context, base *url.URL) *repoIndex {
	idx := &repoIndex{url: base.ResolveReference(&url.URL{Path: "index.yaml"}).String()}
	body, err := f.get(ctx, idx.url, maxIndexBytes)
	if err != nil {
		idx.err = err
		return idx
	}
	var doc struct {
		Entries map[string][]indexEntry `yaml:"entries"`
	}
	if err := yaml.Unmarshal(body, &doc); err != nil {
		idx.err = fmt.Errorf("%s is not a Helm repository index: %v", idx.url, err)
		return idx
	}
	idx.entries = doc.Entries
	return idx
}

// get reads url's body, refusing anything but 200 and more than limit
// bytes, and trying again (Attempts, Backoff) after a transient failure.
func (f *Fetcher) get(ctx context.Context, url string, limit int64) ([]byte, error) {
	wait := f.Backoff
	for attempt := 1; ; attempt++ {
		body, transient, err := f.getOnce(ctx, url, limit)
		if err == nil || !transient || attempt >= f.Attempts {
			return body, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (f *Fetcher) getOnce(ctx context.Context, url string, limit int64) (body []byte, transient bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, false, err
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		return nil, true, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, true, fmt.Errorf("GET %s: %w", url, err)
	}
	if int64(len(body)) > limit {
		return nil, false, fmt.Errorf("GET %s: more than %d MiB", url, limit>>20)
	}
	return body, false, nil
}

// writeAtomically writes path through a temporary file in the same folder,
// so a reader never sees half a chart and a failed write leaves nothing.
func writeAtomically(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
