package loop

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/aiplatform/infra/tests/closedloop/cluster"
	"github.com/aiplatform/infra/tests/closedloop/kedastandin"
	"github.com/aiplatform/infra/tests/closedloop/metricsapi"
	"github.com/aiplatform/infra/tests/closedloop/program"
)

// Env is what the scenarios share: one control plane with the real
// controllers, Prometheus scraping every scenario's pods with the
// program's PodMonitors (Triton's and the lds-service's), prometheus-adapter
// with the program's rules, the metrics.k8s.io stand-in, KEDA's metrics
// server stand-in, and the pod server answering for every pod.
type Env struct {
	C       *cluster.Cluster
	F       float64
	Delays  Delays
	Prom    *metricsapi.Prometheus
	Adapter *metricsapi.Adapter
	Res     *metricsapi.ResourceMetrics
	// KEDA serves the External metrics of the scale-to-zero scenarios'
	// ScaledObjects (kedastandin).
	KEDA *kedastandin.MetricsServer

	pods    *podServer
	slots   *nodeSlots
	callers callersNodeOnce

	mu  sync.Mutex
	cpu map[string]int64 // "ns/pod" → CPU use in millicores

	snap shared[*snapshot]
}

// snapshot is one read of every pod and node, shared by the scenarios:
// one list per sync period instead of one per scenario (21 scenarios each
// listing every 100 ms kept kube-apiserver at a whole core).
type snapshot struct {
	pods  map[string][]podView  // by namespace
	nodes map[string][]nodeView // by ScenarioLabel value
}

// state returns a snapshot of every pod and node, read after the caller
// asked or at most half a sync period before (shared.get).
func (e *Env) state(ctx context.Context) (*snapshot, error) {
	return e.snap.get(ctx, syncPeriod/2, e.readState)
}

func (e *Env) readState(ctx context.Context) (*snapshot, error) {
	var pods list[podView]
	// resourceVersion=0: served from the API server's watch cache, not etcd.
	if err := e.C.Do(ctx, "GET", "/api/v1/pods?resourceVersion=0", nil, &pods); err != nil {
		return nil, err
	}
	var nodes list[nodeView]
	if err := e.C.Do(ctx, "GET", "/api/v1/nodes?resourceVersion=0", nil, &nodes); err != nil {
		return nil, err
	}
	s := &snapshot{pods: map[string][]podView{}, nodes: map[string][]nodeView{}}
	for _, p := range pods.Items {
		s.pods[p.Metadata.Namespace] = append(s.pods[p.Metadata.Namespace], p)
	}
	for _, n := range nodes.Items {
		if v := n.Metadata.Labels[ScenarioLabel]; v != "" {
			s.nodes[v] = append(s.nodes[v], n)
		}
	}
	return s, nil
}

// shared is one read shared by every scenario's harness: whoever asks
// while a read is under way waits for it, and a read that began after a
// caller asked is as fresh as one of its own, so a burst of callers costs
// at most two reads. It used to accept only reads begun less than fresh
// before: a list slower than that (1.3–4.7 s on a loaded 2-core machine,
// with some 30 scenarios) was stale on arrival, so every waiting scenario
// read again in turn, each sync took seconds of wall time (up to a minute
// of loop time at the factor 15) and the pods' readiness reached the
// simulator that late: the wake of stop 29's failing CI run was 40 s of it.
type shared[T any] struct {
	mu sync.Mutex
	v  T
	at time.Time // when the read of v began; zero before the first
}

func (s *shared[T]) get(ctx context.Context, fresh time.Duration, read func(context.Context) (T, error)) (T, error) {
	asked := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.at.IsZero() && (!s.at.Before(asked) || time.Since(s.at) < fresh) {
		return s.v, nil
	}
	at := time.Now()
	v, err := read(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	s.v, s.at = v, at
	return v, nil
}

// MetricsPort is Triton's metrics port, which the program's PodMonitor
// scrapes by its name.
const MetricsPort = 8002

// StartEnv starts everything the scenarios share. namespaces are the
// scenarios' namespaces (Prometheus discovers pods in them).
// f is the time compression factor (Compression, or 1 for the wiring run).
func StartEnv(ctx context.Context, dir string, f float64, namespaces []string, logf func(string, ...any)) (*Env, error) {
	e := &Env{F: f, Delays: DefaultDelays, cpu: map[string]int64{}, slots: &slots}
	objs, err := program.Render(program.Options{})
	if err != nil {
		return nil, err
	}
	if e.pods, err = sharedPodServer(); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			e.Stop()
		}
	}()
	if e.C, err = cluster.Start(ctx, cluster.Options{Dir: filepath.Join(dir, "cluster"), Compression: e.F, Logf: logf}); err != nil {
		return nil, err
	}
	bin := cluster.DefaultBinDir()
	rules, err := alertRules(objs.AlertGroups, e.F)
	if err != nil {
		return nil, fmt.Errorf("the program's alert rules: %w", err)
	}
	rulesFile := filepath.Join(dir, "alerts.rules.json")
	if err := os.WriteFile(rulesFile, rules, 0o600); err != nil {
		return nil, err
	}
	var more []map[string]any
	if objs.LDSPodMonitor != nil {
		more = append(more, objs.LDSPodMonitor) // scrapes the lds-service stand-ins
	}
	promCfg, err := metricsapi.PrometheusConfig(objs.PodMonitor, metricsapi.PromOptions{
		APIServer: e.C.URL, CAFile: e.C.CAFile, CertFile: e.C.CertFile, KeyFile: e.C.KeyFile,
		Compression: e.F, NamespaceOverride: namespaces, RuleFiles: []string{rulesFile},
	}, more...)
	if err != nil {
		return nil, fmt.Errorf("Prometheus config from the program's PodMonitor: %w", err)
	}
	promArgs, err := metricsapi.PrometheusArgs(e.F)
	if err != nil {
		return nil, err
	}
	if e.Prom, err = metricsapi.StartPrometheus(ctx, filepath.Join(bin, "prometheus"), filepath.Join(dir, "prometheus"), promCfg, logf, promArgs...); err != nil {
		return nil, err
	}
	adapterCfg, err := metricsapi.AdapterConfig(objs.AdapterRules, e.F)
	if err != nil {
		return nil, fmt.Errorf("adapter config from the program's rules: %w", err)
	}
	if e.Adapter, err = metricsapi.StartAdapter(ctx, filepath.Join(bin, "prometheus-adapter"), filepath.Join(dir, "adapter"), adapterCfg,
		metricsapi.AdapterOptions{Cluster: e.C, PrometheusURL: e.Prom.URL, Compression: e.F, Logf: logf}); err != nil {
		return nil, err
	}
	if e.Res, err = metricsapi.StartResourceMetrics(ctx, e.C, e.usage, e.F); err != nil {
		return nil, err
	}
	if e.KEDA, err = kedastandin.StartMetricsServer(ctx, e.C, e.promValues); err != nil {
		return nil, fmt.Errorf("KEDA's metrics server stand-in: %w", err)
	}
	ok = true
	return e, nil
}

// One pod server and one set of pod CIDRs for every Env of the process:
// the pod server holds Triton's metrics port on all addresses, and two
// clusters' nodes must not hand out the same pod IPs.
var (
	podsOnce   sync.Once
	podsShared *podServer
	podsErr    error
	slots      nodeSlots
)

func sharedPodServer() (*podServer, error) {
	podsOnce.Do(func() {
		ln, err := net.Listen("tcp", "0.0.0.0:"+strconv.Itoa(MetricsPort))
		if err != nil {
			podsErr = fmt.Errorf("the pod server needs Triton's metrics port %d on every loopback address: %w", MetricsPort, err)
			return
		}
		podsShared = newPodServer(ln)
	})
	return podsShared, podsErr
}

// usage is the metrics.k8s.io stand-in's answer: CPU from the simulator's
// busy fraction (see cpuModel), memory a constant.
func (e *Env) usage(namespace, pod string) (int64, int64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cpu, ok := e.cpu[namespace+"/"+pod]
	return cpu, 6 << 30, ok
}

func (e *Env) setCPU(namespace, pod string, milli int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if milli < 0 {
		delete(e.cpu, namespace+"/"+pod)
		return
	}
	e.cpu[namespace+"/"+pod] = milli
}

// promValues runs a PromQL query against the loop's Prometheus for the KEDA
// stand-in: the value of each series.
func (e *Env) promValues(ctx context.Context, q string) ([]float64, error) {
	samples, err := e.Prom.Query(ctx, q, time.Time{})
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(samples))
	for i, s := range samples {
		out[i] = s.Value
	}
	return out, nil
}

// Stop stops everything (safe on a partly started Env).
func (e *Env) Stop() {
	if e.KEDA != nil {
		e.KEDA.Stop()
	}
	if e.Res != nil {
		e.Res.Stop()
	}
	if e.Adapter != nil {
		e.Adapter.Stop()
	}
	if e.Prom != nil {
		e.Prom.Stop()
	}
	if e.C != nil {
		e.C.Stop()
	}
}

// Logs are the tails of every process's log, for a failure.
func (e *Env) Logs(n int) string {
	out := ""
	if e.C != nil {
		out += e.C.Logs(n)
	}
	if e.Prom != nil {
		out += "----- prometheus -----\n" + e.Prom.Logs(n) + "\n"
	}
	if e.Adapter != nil {
		out += "----- prometheus-adapter -----\n" + e.Adapter.Logs(n) + "\n"
	}
	return out
}
