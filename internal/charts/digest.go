// Package charts digests, fetches and verifies packaged Helm charts
// (<name>-<version>.tgz): the files the chart tests read and a chart
// mirror directory serves (workloads.Chart.From).
//
// # Content digest
//
// A chart's content digest is the same for every packaging of the same
// chart, unlike the sha256 of the archive: the upstream release asset and
// `helm package` of the chart's git tag hold the same files but differ in
// tar order, modes, mtimes, gzip level and the layout of Chart.yaml (Helm's
// chartutil.Save writes Chart.yaml by marshalling the parsed metadata). It
// is the lowercase hex sha256 of, for every regular file of the archive,
// sorted by path:
//
//	path NUL length NUL bytes
//
// where path is the file's path with the archive's top folder stripped
// ("Chart.yaml", "templates/deployment.yaml", "charts/grafana/Chart.yaml"),
// length is the decimal byte count of bytes, and bytes is the file's
// content, except:
//   - every Chart.yaml of the chart or of a subchart at any depth
//     (charts/<sub>/Chart.yaml, charts/<sub>/charts/<sub2>/Chart.yaml, ...)
//     is digested as canonical JSON of its parsed YAML: objects with keys
//     sorted, no insignificant whitespace, no HTML escaping (Go's
//     encoding/json);
//   - Chart.lock and requirements.lock at those places are left out: they
//     record how the dependencies were resolved, not what renders (the
//     subcharts themselves are digested), and chart-releaser's packaging
//     writes a fresh one (with the time of packaging) where the chart's
//     folder has none, while `helm package` of the folder does not.
//
// Folder entries and tar format headers are skipped, as Helm's loader skips
// them; any other entry type (links, devices), a path outside the top
// folder, or the same path twice is an error, so nothing Helm would read
// escapes the digest.
package charts

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxChartContent bounds what one archive may unpack to (the largest pinned
// chart, kube-prometheus-stack, holds about 10 MiB).
const maxChartContent = 256 << 20

// ContentDigest returns the content digest (see the package doc) of a
// packaged chart read from r, a gzip-compressed tar archive.
func ContentDigest(r io.Reader) (string, error) {
	files, err := readArchive(r)
	if err != nil {
		return "", err
	}
	return digestFiles(files)
}

// readArchive returns the regular files of a chart archive by path inside
// the chart (top folder stripped).
func readArchive(r io.Reader) (map[string][]byte, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("not a gzip-compressed chart archive: %w", err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	files := map[string][]byte{}
	var top string
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the chart archive: %w", err)
		}
		switch h.Typeflag {
		case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeDir:
			// Format headers (git archive's pax_global_header) and folders
			// hold no chart content; Helm's loader skips them too.
			continue
		case tar.TypeReg: // archive/tar reads the old TypeRegA as TypeReg
		default:
			return nil, fmt.Errorf("chart archive entry %q: type %q is not a regular file or directory", h.Name, h.Typeflag)
		}
		name := strings.ReplaceAll(h.Name, "\\", "/")
		if path.IsAbs(name) || slices.Contains(strings.Split(name, "/"), "..") {
			return nil, fmt.Errorf("chart archive entry %q: not a path inside the chart", h.Name)
		}
		first, rest, _ := strings.Cut(path.Clean(name), "/")
		switch {
		case rest == "":
			return nil, fmt.Errorf("chart archive entry %q: a file outside any chart folder", h.Name)
		case top != "" && first != top:
			return nil, fmt.Errorf("chart archive entry %q: outside the chart's folder %s/", h.Name, top)
		}
		top = first
		if _, dup := files[rest]; dup {
			return nil, fmt.Errorf("chart archive entry %q: the path is in the archive twice", h.Name)
		}
		total += h.Size
		if h.Size < 0 || total > maxChartContent {
			return nil, fmt.Errorf("chart archive unpacks to more than %d MiB", maxChartContent>>20)
		}
		b, err := io.ReadAll(io.LimitReader(tr, h.Size))
		if err != nil {
			return nil, fmt.Errorf("reading %s from the chart archive: %w", h.Name, err)
		}
		files[rest] = b
	}
	if _, ok := files["Chart.yaml"]; !ok {
		return nil, errors.New("not a chart archive: no <chart>/Chart.yaml")
	}
	return files, nil
}

// atChartRoot reports whether p names file in the chart's own folder or in
// a subchart's at any depth: file, charts/<a>/file, charts/<a>/charts/<b>/file.
func atChartRoot(p, file string) bool {
	parts := strings.Split(p, "/")
	if parts[len(parts)-1] != file || len(parts)%2 != 1 {
		return false
	}
	for i := 0; i < len(parts)-1; i += 2 {
		if parts[i] != "charts" {
			return false
		}
	}
	return true
}

func digestFiles(files map[string][]byte) (string, error) {
	paths := make([]string, 0, len(files))
	for p := range files {
		if atChartRoot(p, "Chart.lock") || atChartRoot(p, "requirements.lock") {
			continue
		}
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		data := files[p]
		if atChartRoot(p, "Chart.yaml") {
			canonical, err := canonicalYAML(data)
			if err != nil {
				return "", fmt.Errorf("%s: %w", p, err)
			}
			data = canonical
		}
		h.Write([]byte(p))
		h.Write([]byte{0})
		h.Write([]byte(strconv.Itoa(len(data))))
		h.Write([]byte{0})
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// canonicalYAML is the canonical JSON of one YAML document.
func canonicalYAML(data []byte) ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not YAML: %w", err)
	}
	if doc == nil {
		return nil, errors.New("empty")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(jsonable(doc)); err != nil {
		return nil, fmt.Errorf("no JSON form: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// jsonable turns the maps yaml.v3 makes for non-string keys into string-keyed
// ones, which encoding/json writes with sorted keys.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = jsonable(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = jsonable(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonable(e)
		}
		return out
	}
	return v
}
