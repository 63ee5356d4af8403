package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aiplatform/infra/tests/closedloop/internal/proc"
)

// Options configure Start.
type Options struct {
	// Dir holds the PKI, kubeconfig, etcd data, kwok stages and one log file
	// per process. Required; the caller owns it (e.g. t.TempDir()).
	Dir string
	// BinDir holds etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler and kwok. Default: DefaultBinDir().
	BinDir string
	// Compression divides every time constant the cluster owns (see
	// hpaTimeFlags). Default 1 (real time); must be >= 1.
	Compression float64
	// Logf reports progress (e.g. t.Logf). Default: discard.
	Logf func(string, ...any)
	// KwokStages is extra kwok Stage YAML (documents separated by "---"),
	// played along with the built-in stages (see kwokStages).
	KwokStages []byte
}

// Binaries are the executables Start runs, in start order.
var Binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// DefaultBinDir is where .ci/tools.sh installs the binaries:
// $AIPLATFORM_TOOLS/bin, else $HOME/.cache/aiplatform-tools/bin.
func DefaultBinDir() string {
	if dir := os.Getenv("AIPLATFORM_TOOLS"); dir != "" {
		return filepath.Join(dir, "bin")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "aiplatform-tools", "bin")
}

func (o Options) withDefaults() Options {
	if o.BinDir == "" {
		o.BinDir = DefaultBinDir()
	}
	if o.Compression == 0 {
		o.Compression = 1
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return o
}

// Validate reports every problem at once. MissingBinaries is separate so a
// test can tell "not installed" from "misconfigured".
func (o Options) Validate() error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("cluster.Options.Dir: required (a directory for PKI, data and logs, e.g. t.TempDir())"))
	}
	if math.IsNaN(o.Compression) || math.IsInf(o.Compression, 0) || o.Compression < 1 {
		errs = append(errs, fmt.Errorf("cluster.Options.Compression: must be a finite number >= 1 (1 = real time), got %v", o.Compression))
	}
	if o.BinDir == "" {
		errs = append(errs, errors.New("cluster.Options.BinDir: no default (neither $AIPLATFORM_TOOLS nor a home directory); set it to the directory .ci/tools.sh installs into"))
	}
	return errors.Join(errs...)
}

// MissingBinaries lists the Binaries that are not executable files in
// binDir, each with its expected path.
func MissingBinaries(binDir string) []string {
	var missing []string
	for _, name := range Binaries {
		p := filepath.Join(binDir, name)
		if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			missing = append(missing, p)
		}
	}
	return missing
}

// Cluster is a control plane on 127.0.0.1 with the controllers of the loop:
// etcd, kube-apiserver (with aggregation), kube-controller-manager (see
// controllers), kube-scheduler and kwok. Nodes and pods are kwok's: the
// caller creates Nodes (with spec.podCIDR and capacity) and annotates pods
// with ReadyAfterAnnotation.
type Cluster struct {
	URL              string // https://127.0.0.1:PORT
	CAFile           string // cluster CA (serving certificates, admin client)
	CertFile         string // admin client certificate (system:masters)
	KeyFile          string
	Kubeconfig       string // path of a kubeconfig file for the admin user
	FrontProxyCAFile string // CA of kube-apiserver's proxy client certificate

	dir    string
	opts   Options
	pki    *pki
	client *http.Client

	mu      sync.Mutex
	procs   []*proc.Process
	stopped bool
}

// Start starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler
// and kwok, in that order, each once the previous one is ready, and returns
// when all are. On error it stops what it started; the error carries the
// tail of the logs.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if missing := MissingBinaries(o.BinDir); len(missing) > 0 {
		return nil, fmt.Errorf("cluster: missing binaries (install them with `bash .ci/tools.sh`): %s", strings.Join(missing, ", "))
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, opts: o}
	if err := c.start(ctx); err != nil {
		logs := c.Logs(4000)
		c.Stop()
		return nil, fmt.Errorf("%w\n%s", err, logs)
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	began := time.Now()
	k, err := newPKI(filepath.Join(c.dir, "pki"))
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	c.pki = k
	c.CAFile, c.CertFile, c.KeyFile, c.FrontProxyCAFile = k.caFile, k.adminCertFile, k.adminKeyFile, k.frontProxyCAFile
	if c.client, err = adminClient(k); err != nil {
		return err
	}

	free, err := proc.FreePorts(6)
	if err != nil {
		return err
	}
	p := ports{free[0], free[1], free[2], free[3], free[4], free[5]}
	c.URL = fmt.Sprintf("https://127.0.0.1:%d", p.apiserver)
	c.Kubeconfig = filepath.Join(c.dir, "admin.kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, kubeconfig(c.URL, k), 0o600); err != nil {
		return err
	}
	stagesFile := filepath.Join(c.dir, "kwok-stages.yaml")
	stages := kwokStages
	if extra := strings.TrimSpace(string(c.opts.KwokStages)); extra != "" {
		stages += "---\n" + extra + "\n"
	}
	schedulerFile := filepath.Join(c.dir, "kube-scheduler.yaml")
	if err := os.WriteFile(schedulerFile, []byte(schedulerConfig(c.Kubeconfig)), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(stagesFile, []byte(stages), 0o600); err != nil {
		return err
	}
	kwokWork := filepath.Join(c.dir, "kwok")
	if err := os.MkdirAll(kwokWork, 0o700); err != nil {
		return err
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	insecure := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		// kube-controller-manager and kube-scheduler serve /healthz and
		// /readyz with self-signed certificates; only readiness is read.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
	}}
	steps := []struct {
		name    string
		args    []string
		env     []string
		timeout time.Duration
		ready   func(ctx context.Context) error
	}{
		{"etcd", etcdArgs(c.dir, p), nil, 30 * time.Second, func(ctx context.Context) error {
			return proc.HTTPOK(ctx, plain, fmt.Sprintf("http://127.0.0.1:%d/health", p.etcdClient))
		}},
		{"kube-apiserver", apiserverArgs(k, c.dir, p), nil, 120 * time.Second, func(ctx context.Context) error {
			if err := proc.HTTPOK(ctx, c.client, c.URL+"/readyz"); err != nil {
				return err
			}
			// Namespaces created by a post-start hook; RegisterAPIService
			// and the controllers' authentication need kube-system.
			for _, ns := range []string{"default", "kube-system"} {
				if err := c.Do(ctx, http.MethodGet, "/api/v1/namespaces/"+ns, nil, nil); err != nil {
					return err
				}
			}
			return nil
		}},
		{"kube-controller-manager", controllerManagerArgs(c.Kubeconfig, p, c.opts.Compression), nil, 120 * time.Second, func(ctx context.Context) error {
			// Each started controller adds a named check to /healthz
			// (app/controllermanager.go StartControllers ->
			// healthzHandler.AddHealthChecker), listed by ?verbose.
			return proc.HTTPOK(ctx, insecure, fmt.Sprintf("https://127.0.0.1:%d/healthz?verbose", p.controllerManager), controllers...)
		}},
		{"kube-scheduler", schedulerArgs(c.Kubeconfig, schedulerFile, p), nil, 60 * time.Second, func(ctx context.Context) error {
			return proc.HTTPOK(ctx, insecure, fmt.Sprintf("https://127.0.0.1:%d/readyz", p.scheduler))
		}},
		// KWOK_WORKDIR keeps ~/.kwok/kwok.yaml (loaded first when it exists,
		// pkg/config/flags.go loadConfig) out of the run.
		{"kwok", kwokArgs(c.Kubeconfig, stagesFile, p), []string{"KWOK_WORKDIR=" + kwokWork}, 60 * time.Second, func(ctx context.Context) error {
			return proc.HTTPOK(ctx, plain, fmt.Sprintf("http://127.0.0.1:%d/healthz", p.kwok))
		}},
	}
	for _, s := range steps {
		t0 := time.Now()
		started, err := c.run(s.name, s.env, s.args)
		if err != nil {
			return err
		}
		if err := started.WaitReady(ctx, s.timeout, s.ready); err != nil {
			return fmt.Errorf("cluster: %s not ready: %w", s.name, err)
		}
		c.opts.Logf("cluster: %s ready in %s (log %s)", s.name, time.Since(t0).Round(time.Millisecond), started.Log)
	}
	c.opts.Logf("cluster: up at %s in %s (compression %g)", c.URL, time.Since(began).Round(time.Millisecond), c.opts.Compression)
	return nil
}

// run starts BinDir/name in Dir unless Stop has begun.
func (c *Cluster) run(name string, env, args []string) (*proc.Process, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil, errors.New("cluster: stopped")
	}
	p, err := proc.Start(proc.Spec{Name: name, Bin: filepath.Join(c.opts.BinDir, name), Args: args, Env: env, Dir: c.dir})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	c.procs = append(c.procs, p)
	return p, nil
}

// Stop ends every process it started, newest first: SIGTERM to the process
// group, SIGKILL after 10s. Logs stay in Dir. Safe to call more than once.
func (c *Cluster) Stop() {
	c.mu.Lock()
	c.stopped = true
	procs := c.procs
	c.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop(10 * time.Second)
	}
}

// Logs returns the last maxBytes of each process's log, oldest process
// first, for failure messages.
func (c *Cluster) Logs(maxBytes int) string {
	c.mu.Lock()
	procs := append([]*proc.Process(nil), c.procs...)
	c.mu.Unlock()
	var b strings.Builder
	for _, p := range procs {
		state := "running"
		if err := p.Exited(); err != nil {
			state = err.Error()
		}
		fmt.Fprintf(&b, "----- %s (%s; %s) -----\n%s\n", p.Name, state, p.Log, p.Tail(maxBytes))
	}
	return b.String()
}

func adminClient(k *pki) (*http.Client, error) {
	cert, err := tls.X509KeyPair(k.adminCertPEM, k.adminKeyPEM)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(k.caPEM) {
		return nil, errors.New("cluster: bad CA PEM")
	}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{
				RootCAs:      pool,
				Certificates: []tls.Certificate{cert},
				MinVersion:   tls.VersionTLS12,
			},
			MaxIdleConnsPerHost: 16,
		},
	}, nil
}

func kubeconfig(server string, k *pki) []byte {
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: closedloop
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: closedloop
  context: {cluster: closedloop, user: admin}
current-context: closedloop
`, server, b64(k.caPEM), b64(k.adminCertPEM), b64(k.adminKeyPEM))
}
