package metricsapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

var standInNow = time.Date(2026, 1, 2, 3, 4, 5, 600e6, time.UTC)

func standInPod(ns, name, node, phase string, started time.Duration, labels map[string]string, containers ...string) podInfo {
	var p podInfo
	p.Metadata.Name, p.Metadata.Namespace, p.Metadata.Labels = name, ns, labels
	p.Spec.NodeName = node
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, struct {
			Name string `json:"name"`
		}{c})
	}
	p.Status.Phase = phase
	if phase == "Running" {
		start := standInNow.Add(-started)
		p.Status.StartTime = &start
	}
	return p
}

// newStandIn is the handler at F=20 (resolution 750ms, fresh minimum
// 500ms) over a fixed pod list; usage is 100m per pod index and 1 MiB.
func newStandIn() *resourceMetricsHandler {
	pods := []podInfo{
		standInPod("ns", "triton-a", "gpu-1", "Running", time.Minute, map[string]string{"app": "triton", "tier": "gpu"}, "triton", "sidecar"),
		standInPod("ns", "triton-b", "gpu-1", "Running", time.Minute, map[string]string{"app": "triton"}, "triton"),
		standInPod("ns", "triton-new", "gpu-2", "Running", 200*time.Millisecond, map[string]string{"app": "triton"}, "triton"),
		standInPod("ns", "triton-pending", "", "Pending", 0, map[string]string{"app": "triton"}, "triton"),
		standInPod("ns", "other", "gpu-2", "Running", 2*time.Second, map[string]string{"app": "other"}, "main"),
		standInPod("ns", "triton-young", "gpu-1", "Running", 900*time.Millisecond, map[string]string{"app": "triton"}, "triton"),
		standInPod("ns2", "triton-c", "gpu-2", "Running", time.Minute, map[string]string{"app": "triton"}, "triton"),
	}
	usage := map[string]int64{"triton-a": 1, "triton-b": 2, "triton-new": 3, "triton-pending": 4, "other": 5, "triton-c": 6, "triton-young": 7}
	return &resourceMetricsHandler{
		resolution: 750 * time.Millisecond, freshMin: 500 * time.Millisecond,
		now: func() time.Time { return standInNow },
		usage: func(ns, pod string) (int64, int64, bool) {
			u, ok := usage[pod]
			return u * 100, 1 << 20, ok
		},
		listPods: func(_ context.Context, ns string) ([]podInfo, error) {
			var out []podInfo
			for _, p := range pods {
				if ns == "" || p.Metadata.Namespace == ns {
					out = append(out, p)
				}
			}
			return out, nil
		},
	}
}

func getStandIn(t *testing.T, h http.Handler, path string, out any) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, rec.Body)
		}
	}
	return rec.Code
}

// The HPA lists PodMetrics with the scale target's selector
// (pkg/controller/podautoscaler/metrics/client.go): only matching pods
// that have metrics, in metrics-server's shape.
func TestResourceMetricsPodList(t *testing.T) {
	h := newStandIn()
	var list struct {
		Kind, APIVersion string
		Items            []struct {
			Metadata struct {
				Name, Namespace string
				Labels          map[string]string
			}
			Timestamp, Window string
			Containers        []struct {
				Name  string
				Usage map[string]string
			}
		}
	}
	if code := getStandIn(t, h, "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods?labelSelector=app%3Dtriton", &list); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if list.Kind != "PodMetricsList" || list.APIVersion != "metrics.k8s.io/v1beta1" {
		t.Errorf("kind/apiVersion %q %q", list.Kind, list.APIVersion)
	}
	var names []string
	for _, it := range list.Items {
		names = append(names, it.Metadata.Name)
	}
	// The latest 750ms tick before 03:04:05.6 is 03:04:05.25. triton-new
	// started after it, pending has no metrics, other does not match,
	// triton-c is in another namespace; triton-young ran 550ms by the tick,
	// more than the 500ms fresh minimum and less than a resolution, so its
	// window is since its start.
	if want := []string{"triton-a", "triton-b", "triton-young"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("pods %v, want %v", names, want)
	}
	a := list.Items[0]
	// The API writes whole seconds.
	if a.Timestamp != "2026-01-02T03:04:05Z" || a.Window != "750ms" {
		t.Errorf("timestamp %q window %q, want 2026-01-02T03:04:05Z and 750ms", a.Timestamp, a.Window)
	}
	if w := list.Items[2].Window; w != "550ms" {
		t.Errorf("triton-young window %q, want 550ms (since its start)", w)
	}
	wantContainers := `[{"Name":"triton","Usage":{"cpu":"100m","memory":"1Mi"}},{"Name":"sidecar","Usage":{"cpu":"0","memory":"0"}}]`
	if got := js(a.Containers); got != wantContainers {
		t.Errorf("containers %s, want %s", got, wantContainers)
	}
	if a.Metadata.Labels["tier"] != "gpu" || a.Metadata.Namespace != "ns" {
		t.Errorf("metadata %+v: name, namespace and labels as metrics-server copies them", a.Metadata)
	}
}

func TestResourceMetricsSelectorsAndPaths(t *testing.T) {
	h := newStandIn()
	count := func(path string) int {
		var list struct{ Items []any }
		if code := getStandIn(t, h, path, &list); code != http.StatusOK {
			t.Fatalf("GET %s: status %d", path, code)
		}
		return len(list.Items)
	}
	for path, want := range map[string]int{
		"/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods":                                           4, // a, b, other, young
		"/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods?labelSelector=tier":                        1,
		"/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods?labelSelector=app+in+(triton,other),!tier": 3,
		"/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods?labelSelector=app!%3Dtriton":               1,
		"/apis/metrics.k8s.io/v1beta1/pods":                                                         5, // all namespaces
	} {
		if got := count(path); got != want {
			t.Errorf("GET %s: %d items, want %d", path, got, want)
		}
	}

	var one struct {
		Kind     string
		Metadata struct{ Name string }
	}
	if code := getStandIn(t, h, "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods/triton-b", &one); code != http.StatusOK || one.Kind != "PodMetrics" || one.Metadata.Name != "triton-b" {
		t.Errorf("get triton-b: %d %+v", code, one)
	}
	var status struct{ Kind, Message string }
	if code := getStandIn(t, h, "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods/triton-new", &status); code != http.StatusNotFound || status.Kind != "Status" {
		t.Errorf("a pod without metrics: %d %+v, want a 404 Status as metrics-server answers", code, status)
	}
	if code := getStandIn(t, h, "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods?labelSelector=app%3E1", &status); code != http.StatusBadRequest || !strings.Contains(status.Message, "is not key, !key, key=value") {
		t.Errorf("bad selector: %d %+v", code, status)
	}
	if code := getStandIn(t, h, "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods?fieldSelector=metadata.name%3Dx", &status); code != http.StatusBadRequest {
		t.Errorf("fieldSelector: %d, want 400 naming it", code)
	}

	var nodes struct {
		Kind  string
		Items []struct {
			Metadata struct{ Name string }
			Usage    map[string]string
		}
	}
	if code := getStandIn(t, h, "/apis/metrics.k8s.io/v1beta1/nodes", &nodes); code != http.StatusOK || nodes.Kind != "NodeMetricsList" {
		t.Fatalf("nodes: %d %+v", code, nodes)
	}
	// gpu-1: triton-a, -b, -young; gpu-2: other + triton-c (triton-new is too fresh).
	want := `[{"Metadata":{"Name":"gpu-1"},"Usage":{"cpu":"1","memory":"3Mi"}},{"Metadata":{"Name":"gpu-2"},"Usage":{"cpu":"1100m","memory":"2Mi"}}]`
	if got := js(nodes.Items); got != want {
		t.Errorf("node metrics %s, want %s", got, want)
	}
}

// The APIService's availability check and the HPA client read discovery.
func TestResourceMetricsDiscovery(t *testing.T) {
	h := newStandIn()
	var rl struct {
		Kind, GroupVersion string
		Resources          []struct {
			Name, Kind string
			Namespaced bool
			Verbs      []string
		}
	}
	if code := getStandIn(t, h, "/apis/metrics.k8s.io/v1beta1", &rl); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if rl.Kind != "APIResourceList" || rl.GroupVersion != "metrics.k8s.io/v1beta1" || len(rl.Resources) != 2 ||
		rl.Resources[0].Name != "nodes" || rl.Resources[0].Namespaced || rl.Resources[1].Name != "pods" || !rl.Resources[1].Namespaced {
		t.Errorf("discovery: %+v", rl)
	}
	if code := getStandIn(t, h, "/apis/custom.metrics.k8s.io/v1beta1", nil); code != http.StatusNotFound {
		t.Errorf("another group: %d, want 404", code)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/apis/metrics.k8s.io/v1beta1/pods", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", rec.Code)
	}
}

func TestQuantities(t *testing.T) {
	for milli, want := range map[int64]string{0: "0", 250: "250m", 1000: "1", 1500: "1500m", 12000: "12"} {
		if got := cpuQuantity(milli); got != want {
			t.Errorf("cpuQuantity(%d) = %q, want %q", milli, got, want)
		}
	}
	for b, want := range map[int64]string{0: "0", 1000: "1000", 1024: "1Ki", 1536: "1536", 512 << 20: "512Mi", 3 << 30: "3Gi"} {
		if got := memoryQuantity(b); got != want {
			t.Errorf("memoryQuantity(%d) = %q, want %q", b, got, want)
		}
	}
}

func TestLabelSelector(t *testing.T) {
	labels := map[string]string{"app": "triton", "tier": "gpu"}
	for sel, want := range map[string]bool{
		"": true, "app=triton": true, "app==triton": true, "app!=triton": false, "app=other": false,
		"app in (triton, x)": true, "app notin (triton)": false, "missing notin (a)": true, "missing!=a": true,
		"tier": true, "!tier": false, "!missing": true, "app=triton,tier=gpu": true, "app=triton,tier=cpu": false,
		"app in (a,triton),!missing": true,
	} {
		reqs, err := parseLabelSelector(sel)
		if err != nil {
			t.Errorf("parse %q: %v", sel, err)
			continue
		}
		if got := matchLabels(reqs, labels); got != want {
			t.Errorf("%q matches %v = %v, want %v", sel, labels, got, want)
		}
	}
	for _, bad := range []string{"app>1", "app in triton", "a=b,,c=d", "=x"} {
		if _, err := parseLabelSelector(bad); err == nil {
			t.Errorf("parse %q: no error", bad)
		}
	}
}
