// Package proc runs the closed loop's binaries (the control plane's,
// Prometheus, prometheus-adapter): each in its own process group with its
// output in a log file, readiness polled, stopped with SIGTERM then
// SIGKILL.
package proc

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// readyInterval is how often WaitReady asks.
const readyInterval = 100 * time.Millisecond

// Spec is what Start runs.
type Spec struct {
	// Name names the process in messages and its log file, Dir/<Name>.log.
	Name string
	Bin  string
	Args []string
	// Env is added to the test process's environment.
	Env []string
	// Dir is the working directory and holds the log.
	Dir string
}

// Process is one started binary.
type Process struct {
	Name string
	Log  string // path of the file with its command line and output

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, set before done closes
	once sync.Once
}

// Start runs s.Bin with its output (stdout and stderr, after a first line
// with the command) in Dir/<Name>.log.
func Start(s Spec) (*Process, error) {
	if _, err := os.Stat(s.Bin); err != nil {
		return nil, fmt.Errorf("%s binary: %w (build it with `bash .ci/tools.sh`)", s.Name, err)
	}
	logPath := filepath.Join(s.Dir, s.Name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logFile, "$ %s %s\n", s.Bin, strings.Join(s.Args, " "))
	cmd := exec.Command(s.Bin, s.Args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, so Stop ends it and anything it forks; killed
	// with the test binary (Pdeathsig) if that dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", s.Name, err)
	}
	p := &Process{Name: s.Name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Stop sends SIGTERM to the process group, and SIGKILL after grace, and
// returns once the process has exited. Safe to call more than once.
func (p *Process) Stop(grace time.Duration) {
	p.once.Do(func() {
		if p.Exited() != nil {
			return
		}
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
	})
}

// Exited reports how the process exited, or nil while it runs.
func (p *Process) Exited() error {
	select {
	case <-p.done:
		if p.err == nil {
			return fmt.Errorf("%s exited", p.Name)
		}
		return fmt.Errorf("%s exited: %w", p.Name, p.err)
	default:
		return nil
	}
}

// Tail is the last n bytes of the log (all of it when n <= 0).
func (p *Process) Tail(n int) string {
	f, err := os.Open(p.Log)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && n > 0 && st.Size() > int64(n) {
		if _, err := f.Seek(st.Size()-int64(n), io.SeekStart); err != nil {
			return fmt.Sprintf("(log %s: %v)", p.Log, err)
		}
	}
	data, _ := io.ReadAll(f)
	return string(data)
}

// WaitReady polls ready until it succeeds, the process exits, ctx ends or
// timeout passes.
func (p *Process) WaitReady(ctx context.Context, timeout time.Duration, ready func(context.Context) error) error {
	err := Until(ctx, timeout, readyInterval, func(ctx context.Context) error {
		if p.Exited() != nil {
			return nil // reported below
		}
		return ready(ctx)
	})
	if exit := p.Exited(); exit != nil {
		return fmt.Errorf("%w (log %s)", exit, p.Log)
	}
	return err
}

// Until calls check every interval until it returns nil, ctx ends or
// timeout passes; the error carries the last check's.
func Until(ctx context.Context, timeout, interval time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w (last check: %v)", timeout, ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}

// HTTPOK GETs url and wants 200 and a body containing every one of want.
func HTTPOK(ctx context.Context, client *http.Client, url string, want ...string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	for _, w := range want {
		if !strings.Contains(string(body), w) {
			return fmt.Errorf("GET %s: no %q yet in %q", url, w, strings.TrimSpace(string(body)))
		}
	}
	return nil
}

// FreePorts returns n distinct loopback ports that were free a moment ago,
// taken below the kernel's ephemeral range and never twice in this process.
//
// Not from the ephemeral range (listening on port 0): every outgoing
// connection takes its local port from that range too, so with two control
// planes starting side by side a port handed out here could be some
// client's local port by the time the server binds it ("bind: address
// already in use", seen on kwok's server address, 2026-12-04). Below
// ip_local_port_range's minimum only listeners bind, and the process-wide
// cursor keeps this process's own servers apart; it starts at a place
// drawn from the process id, so test binaries run side by side start apart.
func FreePorts(n int) ([]int, error) {
	portCursor.Lock()
	defer portCursor.Unlock()
	low, high := portRange()
	if portCursor.next < low || portCursor.next >= high {
		portCursor.next = low + os.Getpid()*97%(high-low)
	}
	var ports []int
	for tried := 0; len(ports) < n; tried++ {
		if tried >= high-low {
			return nil, fmt.Errorf("no free loopback port in %d-%d", low, high-1)
		}
		p := portCursor.next
		portCursor.next++
		if portCursor.next >= high {
			portCursor.next = low
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue // taken
		}
		l.Close()
		ports = append(ports, p)
	}
	return ports, nil
}

var portCursor struct {
	sync.Mutex
	next int
}

// portRange is where FreePorts looks: from 20000 up to the kernel's first
// ephemeral port (net.ipv4.ip_local_port_range, 32768 by default).
func portRange() (low, high int) {
	low, high = 20000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var lo, hi int
		if _, err := fmt.Sscan(string(b), &lo, &hi); err == nil && lo > low+1000 {
			high = lo
		}
	}
	return low, high
}
