package proc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// script writes an executable shell script into dir.
func script(t *testing.T, dir, body string) string {
	t.Helper()
	bin := filepath.Join(dir, "fake")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestStartMissingBinaryNamesTheToolsScript(t *testing.T) {
	dir := t.TempDir()
	_, err := Start(Spec{Name: "prometheus", Bin: filepath.Join(dir, "absent"), Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "prometheus binary") || !strings.Contains(err.Error(), "bash .ci/tools.sh") {
		t.Errorf("error = %v, want one naming the binary and bash .ci/tools.sh", err)
	}
}

// A process that exits before it is ready ends the wait at once with the
// exit; its log holds the command line, the environment it was given and
// its output.
func TestWaitReadyReportsTheExit(t *testing.T) {
	dir := t.TempDir()
	bin := script(t, dir, `echo "bad flag $1, FOO=$FOO" >&2; exit 3`)
	p, err := Start(Spec{Name: "fake", Bin: bin, Args: []string{"--x=1"}, Env: []string{"FOO=bar"}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	err = p.WaitReady(context.Background(), time.Minute, func(context.Context) error { return errors.New("not yet") })
	if err == nil || !strings.Contains(err.Error(), "fake exited: exit status 3") || !strings.Contains(err.Error(), p.Log) {
		t.Errorf("error = %v, want the exit status and the log's path", err)
	}
	if waited := time.Since(began); waited > 10*time.Second {
		t.Errorf("waited %s for a process that exited at once", waited)
	}
	if p.Log != filepath.Join(dir, "fake.log") {
		t.Errorf("log at %s, want dir/<name>.log", p.Log)
	}
	want := "$ " + bin + " --x=1\nbad flag --x=1, FOO=bar\n"
	if got := p.Tail(0); got != want {
		t.Errorf("Tail(0) = %q, want %q", got, want)
	}
	if got := p.Tail(4); got != "bar\n" {
		t.Errorf("Tail(4) = %q, want the last 4 bytes", got)
	}
	p.Stop(time.Second) // exited already: returns at once
}

func TestWaitReadyTimesOutWithTheLastCheck(t *testing.T) {
	dir := t.TempDir()
	p, err := Start(Spec{Name: "sleeper", Bin: script(t, dir, "exec sleep 60"), Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(time.Second)
	calls := 0
	err = p.WaitReady(context.Background(), 300*time.Millisecond, func(context.Context) error {
		calls++
		return fmt.Errorf("check %d: not yet", calls)
	})
	if err == nil || !strings.Contains(err.Error(), "after 300ms") || !strings.Contains(err.Error(), fmt.Sprintf("check %d: not yet", calls)) {
		t.Errorf("error = %v, want the timeout and the last check's error", err)
	}
	if calls < 2 {
		t.Errorf("ready called %d times in 300ms, want it polled", calls)
	}
	if err := p.Exited(); err != nil {
		t.Errorf("Exited() = %v while it runs, want nil", err)
	}
}

// Stop ends the whole process group, and kills what ignores SIGTERM once
// the grace period is over: here a shell and the sleep it forked, both
// ignoring SIGTERM (an ignored signal stays ignored across fork and exec).
func TestStopKillsTheProcessGroupAfterTheGrace(t *testing.T) {
	dir := t.TempDir()
	childPID := filepath.Join(dir, "child.pid")
	p, err := Start(Spec{Name: "stubborn", Bin: script(t, dir, "trap '' TERM\nsleep 60 &\necho $! > "+childPID+"\nwait"), Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var child int
	if err := Until(context.Background(), 10*time.Second, 20*time.Millisecond, func(context.Context) error {
		data, err := os.ReadFile(childPID)
		if err == nil {
			child, err = strconv.Atoi(strings.TrimSpace(string(data)))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	p.Stop(300 * time.Millisecond)
	if took := time.Since(began); took < 300*time.Millisecond {
		t.Errorf("Stop returned after %s, before the grace period: SIGTERM was not ignored, so this tests nothing", took)
	}
	if err := p.Exited(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Exited() = %v, want it killed", err)
	}
	// The forked sleep, reparented, is reaped by init shortly after.
	if err := Until(context.Background(), 10*time.Second, 20*time.Millisecond, func(context.Context) error {
		if err := syscall.Kill(child, 0); !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("forked child %d still there (kill -0: %v)", child, err)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	p.Stop(time.Second) // a second Stop is a no-op
}

func TestUntilStopsAtTheParentContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Until(ctx, time.Minute, 10*time.Millisecond, func(context.Context) error { return errors.New("never") })
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "last check: never") {
		t.Errorf("error = %v, want context.Canceled and the last check", err)
	}
	if err := Until(context.Background(), time.Minute, time.Millisecond, func(context.Context) error { return nil }); err != nil {
		t.Errorf("a passing check: %v", err)
	}
}

func TestHTTPOK(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			http.Error(w, "etcd not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "[+]ping ok\n[+]deployment-controller ok\n")
	}))
	defer srv.Close()
	ctx := context.Background()
	if err := HTTPOK(ctx, srv.Client(), srv.URL+"/healthz", "deployment-controller"); err != nil {
		t.Errorf("200 with the wanted check: %v", err)
	}
	if err := HTTPOK(ctx, srv.Client(), srv.URL+"/healthz", "deployment-controller", "hpa"); err == nil || !strings.Contains(err.Error(), `no "hpa" yet`) {
		t.Errorf("a check not in the body: error %v, want it named", err)
	}
	if err := HTTPOK(ctx, srv.Client(), srv.URL+"/down"); err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "etcd not ready") {
		t.Errorf("503: error %v, want the status and the body", err)
	}
}

// FreePorts gives as many ports as asked, from below the kernel's ephemeral
// range, where no outgoing connection takes its local port, and never hands
// one out twice in this process: distinct within a call and across calls.
func TestFreePortsAreBelowTheEphemeralRangeAndNotReused(t *testing.T) {
	low, high := portRange()
	first, err := FreePorts(6)
	if err != nil {
		t.Fatal(err)
	}
	second, err := FreePorts(6)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 6 || len(second) != 6 {
		t.Errorf("got %d and %d ports, want 6 each", len(first), len(second))
	}
	seen := map[int]bool{}
	for _, p := range append(first, second...) {
		if p < low || p >= high {
			t.Errorf("port %d: outside %d-%d, below the ephemeral range", p, low, high-1)
		}
		if seen[p] {
			t.Errorf("port %d handed out twice (%v, %v)", p, first, second)
		}
		seen[p] = true
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var lo int
		if _, err := fmt.Sscan(string(b), &lo); err == nil && high > lo {
			t.Errorf("range ends at %d, inside the ephemeral range from %d", high, lo)
		}
	}
}
