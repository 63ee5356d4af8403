package realtier

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aiplatform/infra/workloads"
)

// ChartsEnv overrides where the packaged add-on charts are.
const ChartsEnv = "AIPLATFORM_CHARTS"

// ChartSet picks, for each add-on, the version a charts scenario installs.
type ChartSet struct {
	Name string
	// Pick returns the version of row to install.
	Pick func(row workloads.AddonChart) string
}

// The chart sets the tier installs: the pins, and the previous pins that
// chartVersions still accepts for one release (the values mapping branches
// on the version where the two differ). A chart without a previous pin is
// installed at its pin in both.
var (
	CurrentCharts  = ChartSet{Name: "charts", Pick: func(row workloads.AddonChart) string { return row.Chart.Version }}
	PreviousCharts = ChartSet{Name: "charts-previous", Pick: func(row workloads.AddonChart) string {
		if row.Previous != "" {
			return row.Previous
		}
		return row.Chart.Version
	}}
)

// Chart returns c (one of the workloads.*Chart pins) at the set's version,
// read from dir.
func (s ChartSet) Chart(c workloads.Chart, dir string) workloads.Chart {
	for _, row := range workloads.AddonCharts {
		if row.Chart.Name == c.Name {
			return c.WithVersion(s.Pick(row)).From(dir)
		}
	}
	return c.From(dir)
}

// Missing names every chart of the set that dir lacks as <name>-<version>.tgz,
// the layout workloads.Chart.From reads, and says how to fetch them.
func (s ChartSet) Missing(dir string) error {
	var errs []error
	for _, row := range workloads.AddonCharts {
		file := filepath.Join(dir, row.Chart.Name+"-"+s.Pick(row)+".tgz")
		if _, err := os.Stat(file); err != nil {
			errs = append(errs, fmt.Errorf("%s: not found", file))
		}
	}
	if len(errs) > 0 {
		errs = append(errs, fmt.Errorf("fetch the charts (from the repository root): %s, or set %s to a directory of packaged charts", FetchCommand(dir), ChartsEnv))
	}
	return errors.Join(errs...)
}

// FetchCommand is the command that fills dir with every supported chart,
// each checked against its content digest (workloads.ChartDigests).
func FetchCommand(dir string) string {
	return "go run ./cmd/aiplatform charts fetch -dir " + dir
}

// ChartsRequired reports whether a test that finds its charts missing
// fails rather than skips: with REALTIER set (any value, as required()
// reads it), and in CI (GitHub Actions sets CI=true; "", "0" and "false"
// mean unset), where the charts are fetched before the tests run.
func ChartsRequired(realtier, ci string) bool {
	return realtier != "" || (ci != "" && ci != "0" && !strings.EqualFold(ci, "false"))
}

// stopper is the part of testing.TB that RequireCharts uses.
type stopper interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// RequireCharts stops a test that cannot have its charts (err, from
// FindCharts, ChartsDir or ChartSet.Missing): it fails where ChartsRequired
// (from $REALTIER and $CI), and skips elsewhere, saying what.
func RequireCharts(t stopper, err error, what string) {
	t.Helper()
	if err == nil {
		return
	}
	if ChartsRequired(os.Getenv("REALTIER"), os.Getenv("CI")) {
		t.Fatalf("%s cannot run without the packaged charts (REALTIER or CI is set): %v", what, err)
		return
	}
	t.Skipf("%s skipped without the packaged charts (REALTIER=1 or CI makes this an error): %v", what, err)
}

// FindCharts returns ChartsDir, and an error naming every pinned chart
// (CurrentCharts) it lacks.
func FindCharts() (string, error) {
	dir, err := ChartsDir()
	if err != nil {
		return "", err
	}
	return dir, CurrentCharts.Missing(dir)
}

// ChartsDir is the absolute directory of packaged add-on charts:
// $AIPLATFORM_CHARTS, else shared/charts beside the repository checkout
// (../shared/charts from the repository root, as in CI and on the
// development machine).
func ChartsDir() (string, error) {
	dir := os.Getenv(ChartsEnv)
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "..", "shared", "charts")
	}
	return filepath.Abs(dir)
}

// repoRoot is the nearest directory above the working directory (the test's
// package directory) whose go.mod is the project's root module.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && modulePath(b) == "github.com/aiplatform/infra" {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (go.mod of github.com/aiplatform/infra) not found above the working directory")
		}
		dir = parent
	}
}

func modulePath(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
