#!/usr/bin/env bash
# tier-failed.sh LOG LINES: what .ci/run prints when a tier's `go test -v`
# fails: the verdicts, the log's last LINES lines, and then, last, each
# failed test's own messages, one line each. The end of a long CI log is the
# part that is read (and kept) first: stop 29's closed-loop failure scrolled
# out of it, 300 lines above, under the next package's passing output.
set -uo pipefail
log=$1 lines=$2
grep -E '^\s*--- (PASS|FAIL|SKIP)' "$log"
tail -n "$lines" "$log"
echo "== why it failed (each failed test's messages; the whole log: $log)"
# Each failed top-level test's "--- FAIL" line, then its last 40
# "name_test.go:123: message" lines (t.Errorf and t.Fatalf print so, as does
# t.Log; a failing test's messages come last in its section), attributed by
# the "=== RUN/CONT" markers. The closed loop's per-run event dumps
# ("... events:") are logs, not failures. Failed subtests' own "--- FAIL"
# lines (indented, after their parent's) follow.
awk '
  /^=== (RUN|CONT|PAUSE|NAME) / { cur = $3; sub(/\/.*/, "", cur); next }
  /^[ \t]+[A-Za-z0-9_]+_test\.go:[0-9]+: / && !/ events:$/ {
    n[cur]++; buf[cur, n[cur]] = substr($0, 1, 1200); next
  }
  /^--- FAIL: / {
    t = $3; print
    for (i = (n[t] > 40 ? n[t] - 39 : 1); i <= n[t]; i++) print buf[t, i]
  }
  /^[ \t]+--- FAIL: / { print }
' "$log"
exit 0
