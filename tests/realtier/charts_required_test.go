package realtier

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// Needs no REALTIER: the decision alone, and the message a missing chart gives.
func TestChartsRequiredInCIAndUnderREALTIER(t *testing.T) {
	for _, c := range []struct {
		realtier, ci string
		want         bool
	}{
		{"", "", false},
		{"", "false", false},
		{"", "0", false},
		{"0", "", true},    // REALTIER is read as required() reads it: set or not
		{"", "true", true}, // GitHub Actions
		{"1", "", true},
		{"1", "true", true},
	} {
		if got := ChartsRequired(c.realtier, c.ci); got != c.want {
			t.Errorf("ChartsRequired(REALTIER=%q, CI=%q) = %v, want %v", c.realtier, c.ci, got, c.want)
		}
	}
}

// stopRecorder records how RequireCharts stops a test.
type stopRecorder struct{ fatal, skip string }

func (r *stopRecorder) Helper()                        {}
func (r *stopRecorder) Fatalf(format string, a ...any) { r.fatal = fmt.Sprintf(format, a...) }
func (r *stopRecorder) Skipf(format string, a ...any)  { r.skip = fmt.Sprintf(format, a...) }

func TestMissingChartsFailInCI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "no-charts")
	err := CurrentCharts.Missing(dir)
	if err == nil {
		t.Fatalf("Missing(%s) found every chart in an empty directory", dir)
	}
	for _, want := range []string{filepath.Join(dir, "argo-cd-"), "go run ./cmd/aiplatform charts fetch -dir " + dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Missing: %q does not say %q", err, want)
		}
	}

	t.Setenv("REALTIER", "")
	t.Setenv("CI", "true")
	inCI := &stopRecorder{}
	RequireCharts(inCI, err, "the charts scenario")
	if !strings.HasPrefix(inCI.fatal, "the charts scenario cannot run without the packaged charts") || !strings.Contains(inCI.fatal, "charts fetch -dir "+dir) || inCI.skip != "" {
		t.Errorf("CI=true: want a failure naming the fetch command, got fatal %q, skip %q", inCI.fatal, inCI.skip)
	}

	t.Setenv("CI", "")
	local := &stopRecorder{}
	RequireCharts(local, err, "the charts scenario")
	if !strings.Contains(local.skip, "skipped without the packaged charts") || local.fatal != "" {
		t.Errorf("no CI, no REALTIER: want a skip, got fatal %q, skip %q", local.fatal, local.skip)
	}

	none := &stopRecorder{}
	RequireCharts(none, nil, "the charts scenario")
	if none.fatal+none.skip != "" {
		t.Errorf("charts present: want nothing, got fatal %q, skip %q", none.fatal, none.skip)
	}
}
