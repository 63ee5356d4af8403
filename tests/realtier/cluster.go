package realtier

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Cluster is a control plane with no nodes and no controllers: etcd and
// kube-apiserver, both on 127.0.0.1.
type Cluster struct {
	URL        string // https://127.0.0.1:PORT
	PKI        *PKI
	Kubeconfig string // YAML with the admin client certificate embedded
	API        *KubeAPI
	// Token is a static bearer token of an admin (system:masters) user, for
	// clients that authenticate as EKS clients do: the kubeconfig pulumi-eks
	// builds runs `aws eks get-token`, which the stub aws (awsstub) answers
	// with this token.
	Token string

	dir   string
	procs []*process
}

type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan error
}

// StartCluster starts etcd and kube-apiserver under dir and waits until the
// API server reports ready. Stop must be called even when it fails.
func StartCluster(ctx context.Context, tools Tools, dir string) (*Cluster, error) {
	c := &Cluster{dir: dir}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return c, err
	}
	pki, err := NewPKI(dir)
	if err != nil {
		return c, fmt.Errorf("pki: %w", err)
	}
	c.PKI = pki

	ports, err := freePorts(3)
	if err != nil {
		return c, err
	}
	etcdClient := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	etcdPeer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	if err := c.start("etcd", tools.Etcd,
		"--name=realtier",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdClient,
		"--advertise-client-urls="+etcdClient,
		"--listen-peer-urls="+etcdPeer,
		"--initial-advertise-peer-urls="+etcdPeer,
		"--initial-cluster=realtier="+etcdPeer,
		"--logger=zap",
		"--log-level=warn",
	); err != nil {
		return c, err
	}
	if err := waitFor(ctx, 30*time.Second, c.procs[0], func() error {
		return httpOK(http.DefaultClient, etcdClient+"/health")
	}); err != nil {
		return c, fmt.Errorf("etcd not healthy: %w", err)
	}

	c.URL = "https://127.0.0.1:" + strconv.Itoa(ports[2])
	c.Token = "realtier-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	tokenFile := filepath.Join(dir, "tokens.csv")
	// token,user,uid,"group,..." (kube-apiserver --token-auth-file)
	if err := os.WriteFile(tokenFile, []byte(c.Token+`,eks-admin,eks-admin,"system:masters"`+"\n"), 0o600); err != nil {
		return c, err
	}
	if err := c.start("kube-apiserver", tools.KubeAPIServer,
		"--etcd-servers="+etcdClient,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports[2]),
		"--cert-dir="+filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file="+pki.ServingCertFile,
		"--tls-private-key-file="+pki.ServingKeyFile,
		"--client-ca-file="+pki.CAFile,
		"--token-auth-file="+tokenFile,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+pki.ServiceAccountPubFile,
		"--service-account-signing-key-file="+pki.ServiceAccountKeyFile,
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=RBAC",
		"--allow-privileged=true",
		// No controller-manager runs: nothing would mint service-account tokens
		// for the ServiceAccount admission plugin, and nothing would strip the
		// garbage collector's foregroundDeletion finalizer.
		"--disable-admission-plugins=ServiceAccount",
		"--enable-garbage-collector=false",
		// Loopback is not a valid endpoint address for the "kubernetes" Service.
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--v=0",
	); err != nil {
		return c, err
	}
	api, err := NewKubeAPI(c.URL, pki)
	if err != nil {
		return c, err
	}
	c.API = api
	if err := waitFor(ctx, 120*time.Second, c.procs[1], func() error {
		return httpOK(api.client, c.URL+"/readyz")
	}); err != nil {
		return c, fmt.Errorf("kube-apiserver not ready: %w", err)
	}

	c.Kubeconfig = kubeconfig(c.URL, pki)
	return c, nil
}

func (c *Cluster) start(name, bin string, args ...string) error {
	logPath := filepath.Join(c.dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, so Stop ends exactly what it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logFile.Close() }()
	c.procs = append(c.procs, p)
	return nil
}

// Stop terminates the processes it started, newest first.
func (c *Cluster) Stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	c.procs = nil
}

// Logs returns the tail of each component's log, for failure messages.
func (c *Cluster) Logs(maxBytes int) string {
	var out string
	for _, p := range c.procs {
		b, _ := os.ReadFile(p.log)
		if len(b) > maxBytes {
			b = b[len(b)-maxBytes:]
		}
		out += fmt.Sprintf("----- %s (%s) -----\n%s\n", p.name, p.log, b)
	}
	return out
}

func waitFor(ctx context.Context, timeout time.Duration, p *process, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case exit := <-p.done:
			p.done <- exit
			return fmt.Errorf("%s exited: %v (see %s)", p.name, exit, p.log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", timeout, err)
		}
	}
}

func httpOK(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, errors.Join(errors.New("no free loopback port"), err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func kubeconfig(server string, pki *PKI) string {
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: realtier
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: realtier
  context: {cluster: realtier, user: admin}
current-context: realtier
`, server, b64(pki.CAPEM), b64(pki.ClientCertPEM), b64(pki.ClientKeyPEM))
}
