package wltest

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMissingChartsFailsOnlyInCI(t *testing.T) {
	for ci, fatal := range map[string]bool{
		"":      false,
		"0":     false,
		"false": false,
		"FALSE": false,
		"true":  true, // GitHub Actions
		"1":     true,
		"yes":   true,
	} {
		gotFatal, msg := MissingCharts("/tmp/charts", ci)
		assert.Equal(t, fatal, gotFatal, "CI=%q", ci)
		assert.Contains(t, msg, "no packaged charts at /tmp/charts", "CI=%q: the message names the directory", ci)
		assert.Contains(t, msg, "go run ./cmd/aiplatform charts fetch -dir /tmp/charts", "CI=%q: and how to fetch", ci)
		assert.Contains(t, msg, ChartsDirEnv)
	}
}

// recordingTB records what ChartsDir asks of its test instead of stopping it.
type recordingTB struct {
	testing.TB
	fatal, skip string
}

func (r *recordingTB) Helper()           {}
func (r *recordingTB) Fatal(args ...any) { r.fatal = fmt.Sprint(args...) }
func (r *recordingTB) Skip(args ...any)  { r.skip = fmt.Sprint(args...) }

func TestChartsDirFailsInCIInsteadOfSkipping(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-charts")
	t.Setenv(ChartsDirEnv, missing)

	t.Setenv("CI", "true")
	inCI := &recordingTB{}
	ChartsDir(inCI)
	assert.Contains(t, inCI.fatal, "no packaged charts at "+missing)
	assert.Empty(t, inCI.skip)

	t.Setenv("CI", "")
	local := &recordingTB{}
	ChartsDir(local)
	assert.Contains(t, local.skip, "no packaged charts at "+missing)
	assert.Empty(t, local.fatal)

	present := t.TempDir()
	t.Setenv(ChartsDirEnv, present)
	t.Setenv("CI", "true")
	found := &recordingTB{}
	assert.Equal(t, present, ChartsDir(found))
	assert.Empty(t, found.fatal+found.skip)
}
