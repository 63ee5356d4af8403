// Package golden compares test output with reviewed files under testdata and
// rewrites them when a test binary runs with -update.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files instead of comparing with them")

// Assert compares got with the file at path, or rewrites the file with -update.
// The file always ends in a newline.
func Assert(t testing.TB, path, got string) {
	t.Helper()
	if !strings.HasSuffix(got, "\n") {
		got += "\n"
	}
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file %s; rerun the test with -update", path)
	require.Equal(t, string(want), got, "%s changed; if intended, rerun with -update and review the diff", path)
}
