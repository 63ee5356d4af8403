package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// When a tier fails, .ci/run prints .ci/tier-failed.sh: the failed test's
// messages come last, where a long CI log is read first. Stop 29's
// closed-loop failure message was printed 300 lines above the end of the
// output, under another package's passing tests, and never seen. The log
// here has that shape: a failing test with its per-run event dumps, its
// error and a long log, then a package with many passing tests.
func TestTierFailureMessagesComeLast(t *testing.T) {
	var log strings.Builder
	log.WriteString("=== RUN   TestClosedLoop\n")
	log.WriteString("    loop_test.go:136: 4 idle at zero → burst (KEDA) / concurrency events:\n")
	log.WriteString("            0.0s start: 0 pod(s) ready\n")
	log.WriteString("    loop_test.go:138: 4 idle at zero → burst (KEDA) / concurrency: the first call after idle waited 9m1s for a ready replica, over the bound 8m59s\n")
	log.WriteString("    loop_test.go:151: ----- etcd -----\n")
	for i := range 400 {
		fmt.Fprintf(&log, "        etcd log line %d\n", i)
	}
	log.WriteString("--- FAIL: TestClosedLoop (235.88s)\n")
	log.WriteString("=== RUN   TestPasses\n    other_test.go:9: a passing test's log line\n--- PASS: TestPasses (0.00s)\n")
	log.WriteString("FAIL\nFAIL\tgithub.com/aiplatform/infra/tests/closedloop/loop\t236s\n")
	for i := range 300 {
		fmt.Fprintf(&log, "=== RUN   TestOther%d\n--- PASS: TestOther%d (0.00s)\n", i, i)
	}
	log.WriteString("ok  \tgithub.com/aiplatform/infra/tests/closedloop/tritonsim\t1.705s\nFAIL\n")
	path := filepath.Join(t.TempDir(), "tier.log")
	require.NoError(t, os.WriteFile(path, []byte(log.String()), 0o644))

	out, err := exec.Command("bash", "../.ci/tier-failed.sh", path, "300").CombinedOutput()
	require.NoError(t, err, string(out))
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	last := strings.Join(lines[max(0, len(lines)-6):], "\n")
	assert.Contains(t, last, "--- FAIL: TestClosedLoop (235.88s)")
	assert.Contains(t, last, "loop_test.go:138: 4 idle at zero → burst (KEDA) / concurrency: the first call after idle waited 9m1s")
	assert.NotContains(t, last, "events:", "a run's event dump is a log, not a failure")
	assert.NotContains(t, last, "a passing test's log line")
	// The verdicts and the tail come first, as before.
	assert.Contains(t, string(out), "--- PASS: TestOther299")
}
