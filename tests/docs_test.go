package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README is a five-minute entry: the two commands, the prerequisites,
// the shortest path to a deploy and a map of docs/ (issue 23).
func TestReadmeStaysShort(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimRight(string(readme), "\n"), "\n")
	assert.LessOrEqual(t, len(lines), 200, "README.md has %d lines; move detail into docs/", len(lines))
	head := strings.Join(lines[:min(5, len(lines))], "\n")
	assert.Contains(t, head, "go run ./cmd/aiplatform preview -stack dev", "the README's first lines give the offline plan")
	assert.Contains(t, head, "go test ./...", "the README's first lines give the test command")
	for _, doc := range docFiles(t) {
		if filepath.Base(doc) == "README.md" {
			continue
		}
		assert.True(t, strings.Contains(string(readme), "("+filepath.ToSlash(strings.TrimPrefix(doc, "../"))+")"), "the README's map does not link %s", doc)
	}
}

// No user-facing command lives under tests/: every `go run ./…` in the
// README, docs, workflows, scripts and .ci/ names a package under cmd/.
func TestUserCommandsLiveInCmd(t *testing.T) {
	goRun := regexp.MustCompile(`go run (\./[^\s"'` + "`" + `]+)`)
	files := docFiles(t)
	for _, glob := range []string{"../.github/workflows/*.yml", "../.github/scripts/*.sh", "../.ci/*"} {
		m, err := filepath.Glob(glob)
		require.NoError(t, err)
		files = append(files, m...)
	}
	seen := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range goRun.FindAllStringSubmatch(string(b), -1) {
			seen++
			assert.True(t, strings.HasPrefix(m[1], "./cmd/"), "%s runs %q: user commands live in cmd/", f, m[0])
		}
	}
	require.Greater(t, seen, 3, "no `go run` found at all: the pattern is broken")
}

// Every relative link and anchor in the README and docs/ resolves (issue 23).
func TestDocLinksResolve(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	checked := 0
	for _, doc := range docFiles(t) {
		b, err := os.ReadFile(doc)
		require.NoError(t, err)
		for _, m := range link.FindAllStringSubmatch(stripCode(string(b)), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			checked++
			file, anchor, _ := strings.Cut(target, "#")
			path := doc
			if file != "" {
				path = filepath.Join(filepath.Dir(doc), file)
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s: link %q: %s does not exist", doc, target, path)
					continue
				}
			}
			if anchor == "" {
				continue
			}
			if !strings.HasSuffix(path, ".md") {
				t.Errorf("%s: link %q: an anchor into a file that is not Markdown", doc, target)
				continue
			}
			anchors := markdownAnchors(t, path)
			if !anchors[anchor] {
				t.Errorf("%s: link %q: %s has no heading with anchor #%s", doc, target, path, anchor)
			}
		}
	}
	require.Greater(t, checked, 10, "too few relative links found: the link pattern is broken")
}

// The anchor rules are GitHub's: lower case, punctuation other than '-' and
// '_' dropped, spaces to '-', repeats suffixed -1, -2 (github/cmark-gfm's
// and github-markup's heading ids).
func TestMarkdownAnchors(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "a.md")
	require.NoError(t, os.WriteFile(f, []byte("# Setup, from an empty AWS account\n## What `pulumi destroy` leaves behind\n```sh\n# not a heading\n```\n## Drift\n## Drift\n### lds-service (`ldsService`)\n"), 0o644))
	got := markdownAnchors(t, f)
	for _, want := range []string{"setup-from-an-empty-aws-account", "what-pulumi-destroy-leaves-behind", "drift", "drift-1", "lds-service-ldsservice"} {
		assert.True(t, got[want], "missing #%s in %v", want, got)
	}
	assert.False(t, got["not-a-heading"], "a comment in a code block is not a heading")
}

func docFiles(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob("../docs/*.md")
	require.NoError(t, err)
	require.NotEmpty(t, docs, "docs/ has no Markdown files")
	return append([]string{"../README.md"}, docs...)
}

// stripCode blanks fenced code blocks and inline code spans, where a "](…)"
// is not a link.
func stripCode(s string) string {
	var out []string
	fenced := false
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			out = append(out, "")
			continue
		}
		if fenced {
			out = append(out, "")
			continue
		}
		out = append(out, regexp.MustCompile("`[^`]*`").ReplaceAllString(line, "``"))
	}
	return strings.Join(out, "\n")
}

func markdownAnchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	anchors := map[string]bool{}
	count := map[string]int{}
	fenced := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var slug strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
				slug.WriteRune(r)
			case r == ' ':
				slug.WriteRune('-')
			}
		}
		id := slug.String()
		if n := count[id]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", id, n)] = true
		} else {
			anchors[id] = true
		}
		count[id]++
	}
	return anchors
}
