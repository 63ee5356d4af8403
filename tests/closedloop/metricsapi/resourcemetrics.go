package metricsapi

import (
	"context"
	"errors"
	"fmt"
	"github.com/aiplatform/infra/tests/closedloop/internal/apijson"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/aiplatform/infra/tests/closedloop/cluster"
)

// UsageFunc reports what a pod uses now; ok false means no metrics for it
// (metrics-server has none for a pod the kubelet does not report).
type UsageFunc func(namespace, pod string) (cpuMilli, memBytes int64, ok bool)

// metrics-server's time constants (sigs.k8s.io/metrics-server v0.7.1, the
// metrics-server chart 3.13.1 the platform pins): --metric-resolution=15s
// (chart values.yaml defaultArgs), and a container started less than a
// resolution ago is reported from its start time once it has run
// freshContainerMinMetricsResolution = 10s (pkg/storage/pod.go Store).
const (
	metricsServerResolution = 15 * time.Second
	metricsServerFreshMin   = 10 * time.Second
)

// ResourceMetrics is a stand-in for metrics-server: it serves
// metrics.k8s.io/v1beta1 PodMetrics and NodeMetrics in metrics-server's
// shape (k8s.io/metrics pkg/apis/metrics/v1beta1/types.go) with the usage
// a scenario dictates, so the HPA's CPU metric follows the load model
// rather than a kubelet's. What it keeps of metrics-server (pkg/api/pod.go,
// pkg/storage/pod.go): pods are listed from the API server with the
// request's labelSelector and only those with metrics appear; a pod has
// metrics once it is Running and has run the fresh-container minimum
// (compressed); the timestamp is the latest scrape (a tick of the
// compressed resolution) and the window the time since the previous one,
// or since the pod started when that is shorter; CPU is formatted like
// metrics-server's (nanocores, canonical: "250m") and memory in binary SI.
// What it does not: a pod's usage is reported on its first container (the
// others at zero) — the HPA sums the containers of a Resource metric, so
// utilization is the same; no protobuf, no Table output for kubectl top.
type ResourceMetrics struct {
	// URL is its HTTPS endpoint, https://127.0.0.1:<port>.
	URL string
	ext *Extension
}

// StartResourceMetrics serves the stand-in through the aggregator
// (ServeExtension) and registers metrics.k8s.io/v1beta1, waiting until it
// is Available.
// compression is the cluster's (cluster.Options.Compression, which
// *cluster.Cluster does not export).
func StartResourceMetrics(ctx context.Context, c *cluster.Cluster, usage UsageFunc, compression float64) (*ResourceMetrics, error) {
	if c == nil || usage == nil {
		return nil, errors.New("StartResourceMetrics: a cluster and a usage function are required")
	}
	if err := checkFactor("StartResourceMetrics compression", compression); err != nil {
		return nil, err
	}
	h := &resourceMetricsHandler{
		usage:      usage,
		resolution: cluster.Compress(metricsServerResolution, compression),
		freshMin:   cluster.Compress(metricsServerFreshMin, compression),
		now:        time.Now,
		listPods: func(ctx context.Context, namespace string) ([]podInfo, error) {
			path := "/api/v1/pods"
			if namespace != "" {
				path = "/api/v1/namespaces/" + url.PathEscape(namespace) + "/pods"
			}
			var list struct{ Items []podInfo }
			if err := c.Do(ctx, http.MethodGet, path, nil, &list); err != nil {
				return nil, err
			}
			return list.Items, nil
		},
	}
	ext, err := ServeExtension(ctx, c, "metrics-server", "metrics.k8s.io", "v1beta1", h)
	if err != nil {
		return nil, err
	}
	return &ResourceMetrics{URL: ext.URL, ext: ext}, nil
}

// Stop closes the server. The APIService stays; it turns unavailable.
func (r *ResourceMetrics) Stop() { r.ext.Stop() }

// podInfo is the part of a Pod the stand-in reads.
type podInfo struct {
	Metadata struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		NodeName   string `json:"nodeName"`
		Containers []struct {
			Name string `json:"name"`
		} `json:"containers"`
	} `json:"spec"`
	Status struct {
		Phase     string     `json:"phase"`
		StartTime *time.Time `json:"startTime"`
	} `json:"status"`
}

type resourceMetricsHandler struct {
	usage      UsageFunc
	resolution time.Duration // metrics-server's --metric-resolution, compressed
	freshMin   time.Duration
	now        func() time.Time
	// listPods lists a namespace's pods, every pod when namespace is "".
	listPods func(ctx context.Context, namespace string) ([]podInfo, error)
}

const metricsGroupVersion = "metrics.k8s.io/v1beta1"

// The metrics.k8s.io/v1beta1 types, as JSON (k8s.io/metrics
// pkg/apis/metrics/v1beta1/types.go).
type (
	objectMeta struct {
		Name              string            `json:"name"`
		Namespace         string            `json:"namespace,omitempty"`
		CreationTimestamp string            `json:"creationTimestamp"`
		Labels            map[string]string `json:"labels,omitempty"`
	}
	containerMetrics struct {
		Name  string            `json:"name"`
		Usage map[string]string `json:"usage"`
	}
	podMetrics struct {
		Kind       string             `json:"kind,omitempty"`
		APIVersion string             `json:"apiVersion,omitempty"`
		Metadata   objectMeta         `json:"metadata"`
		Timestamp  string             `json:"timestamp"`
		Window     string             `json:"window"`
		Containers []containerMetrics `json:"containers"`
	}
	nodeMetrics struct {
		Kind       string            `json:"kind,omitempty"`
		APIVersion string            `json:"apiVersion,omitempty"`
		Metadata   objectMeta        `json:"metadata"`
		Timestamp  string            `json:"timestamp"`
		Window     string            `json:"window"`
		Usage      map[string]string `json:"usage"`
	}
	metricsList[T any] struct {
		Kind       string         `json:"kind"`
		APIVersion string         `json:"apiVersion"`
		Metadata   map[string]any `json:"metadata"`
		Items      []T            `json:"items"`
	}
)

func (h *resourceMetricsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		apijson.WriteStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" is not supported; the metrics API is read-only (get, list)")
		return
	}
	if apijson.ServeDiscovery(w, r.URL.Path, "metrics.k8s.io", "v1beta1", []apijson.APIResource{
		{Name: "nodes", Kind: "NodeMetrics", Verbs: []string{"get", "list"}},
		{Name: "pods", Kind: "PodMetrics", Namespaced: true, Verbs: []string{"get", "list"}},
	}) {
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) < 4 || parts[0] != "apis" || parts[1]+"/"+parts[2] != metricsGroupVersion:
		apijson.WriteStatus(w, http.StatusNotFound, "NotFound", "the stand-in serves only /apis/"+metricsGroupVersion)
	default:
		h.serveResource(w, r, parts[3:])
	}
}

// serveResource handles pods, pods/<name>, namespaces/<ns>/pods[/<name>],
// nodes and nodes/<name>.
func (h *resourceMetricsHandler) serveResource(w http.ResponseWriter, r *http.Request, rest []string) {
	q := r.URL.Query()
	if q.Get("fieldSelector") != "" {
		apijson.WriteStatus(w, http.StatusBadRequest, "BadRequest", "fieldSelector: not supported by the metrics-server stand-in; use labelSelector")
		return
	}
	selector, err := parseLabelSelector(q.Get("labelSelector"))
	if err != nil {
		apijson.WriteStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	namespace := ""
	if len(rest) >= 3 && rest[0] == "namespaces" {
		namespace, rest = rest[1], rest[2:]
	}
	name := ""
	switch {
	case len(rest) == 1:
	case len(rest) == 2:
		name = rest[1]
	default:
		apijson.WriteStatus(w, http.StatusNotFound, "NotFound", "no such path in "+metricsGroupVersion)
		return
	}
	if rest[0] == "nodes" && namespace != "" || rest[0] != "nodes" && rest[0] != "pods" {
		apijson.WriteStatus(w, http.StatusNotFound, "NotFound", "no such path in "+metricsGroupVersion+" (resources: pods, nodes)")
		return
	}
	pods, err := h.listPods(r.Context(), namespace)
	if err != nil {
		apijson.WriteStatus(w, http.StatusInternalServerError, "InternalError", "listing pods: "+err.Error())
		return
	}
	ts, window := h.scrapeTime()
	if rest[0] == "nodes" {
		h.serveNodes(w, pods, name, selector, ts, window)
		return
	}
	var items []podMetrics
	for _, p := range pods {
		if name != "" && p.Metadata.Name != name || !matchLabels(selector, p.Metadata.Labels) {
			continue
		}
		if m, ok := h.podMetrics(p, ts, window); ok {
			items = append(items, m)
		}
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].Metadata.Namespace != items[j].Metadata.Namespace {
			return items[i].Metadata.Namespace < items[j].Metadata.Namespace
		}
		return items[i].Metadata.Name < items[j].Metadata.Name
	})
	if name != "" {
		if len(items) == 0 {
			apijson.WriteStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("podmetrics.metrics.k8s.io %q not found", namespace+"/"+name))
			return
		}
		items[0].Kind, items[0].APIVersion = "PodMetrics", metricsGroupVersion
		apijson.Write(w, items[0])
		return
	}
	apijson.Write(w, metricsList[podMetrics]{Kind: "PodMetricsList", APIVersion: metricsGroupVersion, Metadata: map[string]any{}, Items: nonNil(items)})
}

// scrapeTime is the latest scrape tick (ticks every resolution since the
// Unix epoch) and its window.
func (h *resourceMetricsHandler) scrapeTime() (time.Time, time.Duration) {
	ms, res := h.now().UnixMilli(), h.resolution.Milliseconds()
	return time.UnixMilli(ms - ms%res), h.resolution
}

// podMetrics: a Running pod that has run freshMin by the scrape gets
// metrics, over the resolution or, when it started within it, since start.
func (h *resourceMetricsHandler) podMetrics(p podInfo, ts time.Time, window time.Duration) (podMetrics, bool) {
	if p.Status.Phase != "Running" || p.Status.StartTime == nil || len(p.Spec.Containers) == 0 {
		return podMetrics{}, false
	}
	ran := ts.Sub(*p.Status.StartTime)
	if ran < h.freshMin {
		return podMetrics{}, false
	}
	window = min(window, ran)
	cpu, mem, ok := h.usage(p.Metadata.Namespace, p.Metadata.Name)
	if !ok {
		return podMetrics{}, false
	}
	m := podMetrics{
		Metadata: objectMeta{
			Name: p.Metadata.Name, Namespace: p.Metadata.Namespace, Labels: p.Metadata.Labels,
			CreationTimestamp: h.now().UTC().Format(time.RFC3339),
		},
		Timestamp: ts.UTC().Format(time.RFC3339),
		Window:    window.String(),
	}
	for i, c := range p.Spec.Containers {
		usage := map[string]string{"cpu": "0", "memory": "0"}
		if i == 0 {
			usage = map[string]string{"cpu": cpuQuantity(cpu), "memory": memoryQuantity(mem)}
		}
		m.Containers = append(m.Containers, containerMetrics{Name: c.Name, Usage: usage})
	}
	return m, true
}

// serveNodes sums the pods' usage per node; a node without pods with
// metrics is left out.
func (h *resourceMetricsHandler) serveNodes(w http.ResponseWriter, pods []podInfo, name string, selector []labelRequirement, ts time.Time, window time.Duration) {
	if len(selector) > 0 {
		apijson.WriteStatus(w, http.StatusBadRequest, "BadRequest", "labelSelector on nodes: not supported by the metrics-server stand-in")
		return
	}
	type total struct{ cpu, mem int64 }
	totals := map[string]*total{}
	for _, p := range pods {
		if p.Spec.NodeName == "" || name != "" && p.Spec.NodeName != name {
			continue
		}
		if _, ok := h.podMetrics(p, ts, window); !ok {
			continue
		}
		cpu, mem, _ := h.usage(p.Metadata.Namespace, p.Metadata.Name)
		t := totals[p.Spec.NodeName]
		if t == nil {
			t = &total{}
			totals[p.Spec.NodeName] = t
		}
		t.cpu, t.mem = t.cpu+cpu, t.mem+mem
	}
	var items []nodeMetrics
	for node, t := range totals {
		items = append(items, nodeMetrics{
			Metadata:  objectMeta{Name: node, CreationTimestamp: h.now().UTC().Format(time.RFC3339)},
			Timestamp: ts.UTC().Format(time.RFC3339), Window: window.String(),
			Usage: map[string]string{"cpu": cpuQuantity(t.cpu), "memory": memoryQuantity(t.mem)},
		})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Metadata.Name < items[j].Metadata.Name })
	if name != "" {
		if len(items) == 0 {
			apijson.WriteStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("nodemetrics.metrics.k8s.io %q not found", name))
			return
		}
		items[0].Kind, items[0].APIVersion = "NodeMetrics", metricsGroupVersion
		apijson.Write(w, items[0])
		return
	}
	apijson.Write(w, metricsList[nodeMetrics]{Kind: "NodeMetricsList", APIVersion: metricsGroupVersion, Metadata: map[string]any{}, Items: nonNil(items)})
}

// cpuQuantity is metrics-server's CPU (a DecimalSI quantity of nanocores)
// in canonical form: 250 millicores is "250m", 2 cores "2".
func cpuQuantity(milli int64) string {
	if milli%1000 == 0 {
		return fmt.Sprint(milli / 1000)
	}
	return fmt.Sprintf("%dm", milli)
}

// memoryQuantity is a BinarySI quantity in canonical form: the largest
// power-of-1024 suffix that keeps the number whole ("512Mi", "1000").
func memoryQuantity(bytes int64) string {
	suffixes := []string{"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}
	i := 0
	for bytes != 0 && bytes%1024 == 0 && i < len(suffixes)-1 {
		bytes /= 1024
		i++
	}
	return fmt.Sprintf("%d%s", bytes, suffixes[i])
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// writeStatus writes a metav1.Status, which clients turn into API errors.
