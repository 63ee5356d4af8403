package metricsapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiplatform/infra/tests/closedloop/cluster"
	"github.com/aiplatform/infra/tests/closedloop/internal/proc"
	"github.com/aiplatform/infra/workloads/observability/signals"
)

// integrationCompression is the factor the loop runs at.
const integrationCompression = 20

// requireBinaries skips t when the closed-loop binaries are not installed,
// unless CI is set: there a missing binary is a failure (as the cluster
// package's tests do).
func requireBinaries(t *testing.T) string {
	t.Helper()
	bin := cluster.DefaultBinDir()
	missing := cluster.MissingBinaries(bin)
	for _, name := range []string{"prometheus", "prometheus-adapter"} {
		p := filepath.Join(bin, name)
		if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("closed-loop binaries missing (install them with `bash .ci/tools.sh`): %s", strings.Join(missing, ", "))
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; CI is unset, so this skips")
	}
	return bin
}

// podMetricsServer is the one server on 0.0.0.0 that plays every pod's
// metrics port, telling pods apart by the address the connection came to
// (its podIP in 127/8). A pod serves 10 successful requests per second,
// each queued 20ms; the queue counter is exactly 20000µs per success, so
// the adapter's ratio is 0.02s whatever the rate windows see.
//
// It listens on a free port rather than Triton's 8002, which the pod then
// declares as its port named metrics (the PodMonitor scrapes by name): the
// loop's own tests hold 8002, and go test runs packages in parallel.
type podMetricsServer struct {
	port  int
	mu    sync.Mutex
	start map[string]time.Time // podIP -> when it started serving
	srv   *http.Server
}

func startPodMetricsServer(t *testing.T) *podMetricsServer {
	t.Helper()
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatalf("listen on every loopback address: %v", err)
	}
	s := &podMetricsServer{port: ln.Addr().(*net.TCPAddr).Port, start: map[string]time.Time{}}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

func (s *podMetricsServer) addPod(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.start[ip] = time.Now()
}

func (s *podMetricsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	host, _, _ := net.SplitHostPort(fmt.Sprint(local))
	s.mu.Lock()
	started, ok := s.start[host]
	s.mu.Unlock()
	if !ok || r.URL.Path != "/metrics" {
		http.NotFound(w, r)
		return
	}
	success := int64(time.Since(started).Seconds() * 10)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	fmt.Fprintf(w, "# HELP nv_inference_request_success Number of successful inference requests, all batch sizes\n"+
		"# TYPE nv_inference_request_success counter\n"+
		"nv_inference_request_success{model=\"simple\",version=\"1\"} %d\n"+
		"# HELP nv_inference_queue_duration_us Cumulative inference queuing duration in microseconds (includes cached requests)\n"+
		"# TYPE nv_inference_queue_duration_us counter\n"+
		"nv_inference_queue_duration_us{model=\"simple\",version=\"1\"} %d\n"+
		// lds-service's offered-load counter (cmd/lds-service metrics.go),
		// from the same port: the adapter's external rule reads it by name
		// and namespace only. Not rounded to whole calls: the rule's irate
		// reads two scrapes 15 s apart, where a whole-call counter is off
		// by up to 1/15 of the rate.
		"# HELP lds_triton_calls_total Requests that needed Triton, counted as they arrive.\n"+
		"# TYPE lds_triton_calls_total counter\n"+
		"lds_triton_calls_total %.3f\n", success, success*20000, time.Since(started).Seconds()*10)
}

// The metrics path end to end: a kwok pod's metrics port scraped by a real
// Prometheus from the PodMonitor's scrape config, the adapter serving the
// program's queue-time rule through the API server, and the metrics.k8s.io
// stand-in, both as the HPA controller reads them.
func TestMetricsPathEndToEnd(t *testing.T) {
	bin := requireBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	dir := t.TempDir()

	metricsServer := startPodMetricsServer(t)
	c, err := cluster.Start(ctx, cluster.Options{Dir: filepath.Join(dir, "cluster"), BinDir: bin, Compression: integrationCompression, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)

	const ns, podName = "loop", "triton-0"
	resources := map[string]any{"cpu": "8", "memory": "32Gi", "pods": "110"}
	node := map[string]any{
		"apiVersion": "v1", "kind": "Node",
		"metadata": map[string]any{"name": "gpu-1"},
		"spec":     map[string]any{"podCIDR": "127.1.1.0/24", "podCIDRs": []any{"127.1.1.0/24"}},
		"status":   map[string]any{"capacity": resources, "allocatable": resources},
	}
	// POST keeps the status (capacity) it is given.
	if err := c.Do(ctx, http.MethodPost, "/api/v1/nodes", node, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(ctx, map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}); err != nil {
		t.Fatal(err)
	}
	pod := map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{
			"name": podName, "namespace": ns,
			"labels":      map[string]any{"app": "triton"},
			"annotations": map[string]any{cluster.ReadyAfterAnnotation: "0"},
		},
		"spec": map[string]any{"containers": []any{map[string]any{
			"name": "triton", "image": "nvcr.io/nvidia/tritonserver:fake",
			"ports":     []any{map[string]any{"name": "metrics", "containerPort": metricsServer.port}},
			"resources": map[string]any{"requests": map[string]any{"cpu": "1", "memory": "1Gi"}},
		}}},
	}
	if err := c.Apply(ctx, pod); err != nil {
		t.Fatal(err)
	}
	var podIP string
	eventually(t, ctx, time.Minute, "pod Running with an IP", func() error {
		var p struct {
			Status struct{ Phase, PodIP string }
		}
		if err := c.Do(ctx, http.MethodGet, "/api/v1/namespaces/"+ns+"/pods/"+podName, nil, &p); err != nil {
			return err
		}
		if p.Status.Phase != "Running" || p.Status.PodIP == "" {
			return fmt.Errorf("phase %q, podIP %q", p.Status.Phase, p.Status.PodIP)
		}
		podIP = p.Status.PodIP
		return nil
	}, c.Logs)
	metricsServer.addPod(podIP)
	t.Logf("pod %s/%s at %s", ns, podName, podIP)

	// Prometheus from the PodMonitor.
	podMonitor := map[string]any{
		"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
		"metadata": map[string]any{"name": "triton", "namespace": ns},
		"spec": map[string]any{
			"selector":            map[string]any{"matchLabels": map[string]any{"app": "triton"}},
			"podMetricsEndpoints": []any{map[string]any{"port": "metrics", "path": "/metrics", "interval": "15s"}},
		},
	}
	promCfg, err := PrometheusConfig(podMonitor, PromOptions{APIServer: c.URL, CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile, Compression: integrationCompression})
	if err != nil {
		t.Fatal(err)
	}
	promArgs, err := PrometheusArgs(integrationCompression)
	if err != nil {
		t.Fatal(err)
	}
	prom, err := StartPrometheus(ctx, filepath.Join(bin, "prometheus"), filepath.Join(dir, "prometheus"), promCfg, t.Logf, promArgs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prom.Stop)
	promLogs := func(n int) string {
		targets, err := prom.Targets(ctx)
		return fmt.Sprintf("targets: %+v (%v)\n----- prometheus -----\n%s", targets, err, prom.Logs(n))
	}
	// The target labels the operator's relabel rules give (namespace, pod,
	// container, endpoint, job), which the adapter rule groups by.
	eventually(t, ctx, time.Minute, "Prometheus has the pod's series with the operator's target labels", func() error {
		samples, err := prom.Query(ctx, `nv_inference_request_success`, time.Time{})
		if err != nil {
			return err
		}
		if len(samples) != 1 {
			return fmt.Errorf("%d series: %+v", len(samples), samples)
		}
		want := map[string]string{
			"namespace": ns, "pod": podName, "container": "triton", "endpoint": "metrics", "job": ns + "/triton",
			"instance": net.JoinHostPort(podIP, strconv.Itoa(metricsServer.port)), "model": "simple", "version": "1",
			"__name__": "nv_inference_request_success",
		}
		if !reflect.DeepEqual(samples[0].Labels, want) {
			return fmt.Errorf("labels %v, want %v", samples[0].Labels, want)
		}
		return nil
	}, promLogs)

	// The adapter with the program's queue-time rule, and its external
	// rule for the offered load (signals.OfferedLoadRule, as the chart gets
	// it in rules.external).
	offeredJSON, err := json.Marshal(signals.OfferedLoadRule())
	if err != nil {
		t.Fatal(err)
	}
	var offeredRule map[string]any
	if err := json.Unmarshal(offeredJSON, &offeredRule); err != nil {
		t.Fatal(err)
	}
	adapterCfg, err := AdapterConfigWithExternal([]map[string]any{queueTimeRule()}, []map[string]any{offeredRule}, integrationCompression)
	if err != nil {
		t.Fatal(err)
	}
	adapter, err := StartAdapter(ctx, filepath.Join(bin, "prometheus-adapter"), filepath.Join(dir, "adapter"), adapterCfg,
		AdapterOptions{Cluster: c, PrometheusURL: prom.URL, Compression: integrationCompression, External: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(adapter.Stop)
	eventually(t, ctx, time.Minute, "custom.metrics.k8s.io serves the pod's queue time through the API server", func() error {
		var list struct {
			Items []struct {
				DescribedObject struct{ Kind, Namespace, Name string }
				MetricName      string
				Value           string
			}
		}
		if err := c.Do(ctx, http.MethodGet, "/apis/custom.metrics.k8s.io/v1beta1/namespaces/"+ns+"/pods/*/triton_queue_seconds_per_request", nil, &list); err != nil {
			return err
		}
		if len(list.Items) != 1 || list.Items[0].DescribedObject.Name != podName || list.Items[0].DescribedObject.Kind != "Pod" {
			return fmt.Errorf("items %+v", list.Items)
		}
		v, err := parseQuantity(list.Items[0].Value)
		if err != nil {
			return err
		}
		// 20ms of queueing per request; the adapter truncates to milli-units.
		if v < 0.019 || v > 0.021 {
			return fmt.Errorf("value %s (%v), want 20m (0.02s)", list.Items[0].Value, v)
		}
		t.Logf("custom metric %s = %s", list.Items[0].MetricName, list.Items[0].Value)
		return nil
	}, func(n int) string {
		return promLogs(n) + "\n----- adapter -----\n" + adapter.Logs(n) + "\n" + c.Logs(n)
	})

	// external.metrics.k8s.io: the offered load as the Triton HPA asks for
	// it, from Triton's namespace with the callers' namespace in the
	// selector. The rule is not namespaced, so the adapter does not add the
	// asking namespace (which has no such series) to the query.
	eventually(t, ctx, time.Minute, "external.metrics.k8s.io serves the callers' offered load to an HPA in another namespace", func() error {
		var list struct {
			Items []struct {
				MetricName   string
				MetricLabels map[string]string
				Value        string
			}
		}
		path := "/apis/external.metrics.k8s.io/v1beta1/namespaces/triton/" + signals.OfferedLoadMetric + "?labelSelector=" + signals.LabelNamespace + "%3D" + ns
		if err := c.Do(ctx, http.MethodGet, path, nil, &list); err != nil {
			return err
		}
		if len(list.Items) != 1 {
			return fmt.Errorf("items %+v", list.Items)
		}
		v, err := parseQuantity(list.Items[0].Value)
		if err != nil {
			return err
		}
		// 10 calls per second (the counter's rate; milli-units).
		if v < 9.5 || v > 10.5 {
			return fmt.Errorf("value %s (%v), want 10 calls per second", list.Items[0].Value, v)
		}
		t.Logf("external metric %s = %s", list.Items[0].MetricName, list.Items[0].Value)
		return nil
	}, func(n int) string {
		return promLogs(n) + "\n----- adapter -----\n" + adapter.Logs(n) + "\n" + c.Logs(n)
	})
	// The selector is what picks the callers: another namespace, which has
	// no calls, reads one value of 0 (the rule's `or vector(0)`: an empty
	// answer would be an invalid metric to the HPA, which then never scales
	// down), never the loop namespace's 10 per second.
	var other struct {
		Items []struct{ Value string }
	}
	otherPath := "/apis/external.metrics.k8s.io/v1beta1/namespaces/triton/" + signals.OfferedLoadMetric + "?labelSelector=" + signals.LabelNamespace + "%3Dother"
	if err := c.Do(ctx, http.MethodGet, otherPath, nil, &other); err != nil {
		t.Errorf("the offered load for namespace=other: %v", err)
	} else if len(other.Items) != 1 {
		t.Errorf("the offered load for namespace=other: %d values, want one 0 (or vector(0))", len(other.Items))
	} else if v, err := parseQuantity(other.Items[0].Value); err != nil || v != 0 {
		t.Errorf("the offered load for namespace=other reads %s: the selector does not reach the query", other.Items[0].Value)
	}

	// metrics.k8s.io from the stand-in.
	rm, err := StartResourceMetrics(ctx, c, func(namespace, pod string) (int64, int64, bool) {
		return 250, 512 << 20, namespace == ns && pod == podName
	}, integrationCompression)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rm.Stop)
	for selector, want := range map[string]int{"": 1, "?labelSelector=app%3Dtriton": 1, "?labelSelector=app%3Dother": 0} {
		eventually(t, ctx, 30*time.Second, "metrics.k8s.io lists the pod's usage"+selector, func() error {
			var list struct {
				Kind  string
				Items []struct {
					Metadata   struct{ Name string }
					Containers []struct {
						Name  string
						Usage map[string]string
					}
				}
			}
			if err := c.Do(ctx, http.MethodGet, "/apis/metrics.k8s.io/v1beta1/namespaces/"+ns+"/pods"+selector, nil, &list); err != nil {
				return err
			}
			if list.Kind != "PodMetricsList" || len(list.Items) != want {
				return fmt.Errorf("kind %q, %d items (want %d): %+v", list.Kind, len(list.Items), want, list.Items)
			}
			if want == 1 {
				got := list.Items[0]
				if got.Metadata.Name != podName || len(got.Containers) != 1 || got.Containers[0].Name != "triton" ||
					got.Containers[0].Usage["cpu"] != "250m" || got.Containers[0].Usage["memory"] != "512Mi" {
					return fmt.Errorf("pod metrics %+v, want triton-0's container triton at 250m and 512Mi", got)
				}
			}
			return nil
		}, c.Logs)
	}
}

// eventually polls check every 200ms until it returns nil, failing t with
// the last error and logs(8000) after timeout.
func eventually(t *testing.T, ctx context.Context, timeout time.Duration, what string, check func() error, logs func(int) string) {
	t.Helper()
	if err := proc.Until(ctx, timeout, 200*time.Millisecond, func(context.Context) error { return check() }); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, logs(8000))
	}
}

// parseQuantity reads the decimal quantities the custom metrics API
// returns ("20m", "1500", "2k").
func parseQuantity(s string) (float64, error) {
	scale := 1.0
	for suffix, f := range map[string]float64{"n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9} {
		if strings.HasSuffix(s, suffix) {
			s, scale = strings.TrimSuffix(s, suffix), f
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("quantity %q: %w", s, err)
	}
	return v * scale, nil
}
