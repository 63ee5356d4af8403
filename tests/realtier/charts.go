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
// the layout workloads.Chart.From reads.
func (s ChartSet) Missing(dir string) error {
	var errs []error
	for _, row := range workloads.AddonCharts {
		file := filepath.Join(dir, row.Chart.Name+"-"+s.Pick(row)+".tgz")
		if _, err := os.Stat(file); err != nil {
			errs = append(errs, fmt.Errorf("%s: not found (set %s to the directory of packaged charts)", file, ChartsEnv))
		}
	}
	return errors.Join(errs...)
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
