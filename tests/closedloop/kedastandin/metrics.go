package kedastandin

import (
	"context"
	"fmt"
	"github.com/aiplatform/infra/tests/closedloop/internal/apijson"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aiplatform/infra/tests/closedloop/cluster"
	"github.com/aiplatform/infra/tests/closedloop/metricsapi"
)

// External metrics API (k8s.io/metrics pkg/apis/external_metrics/v1beta1).
const (
	ExternalGroup        = "external.metrics.k8s.io"
	externalVersion      = "v1beta1"
	externalGroupVersion = ExternalGroup + "/" + externalVersion
)

// MetricsServer is KEDA's metrics server: external.metrics.k8s.io/v1beta1
// for the External metrics of the ScaledObjects registered with it, each
// answered by running its trigger's query at request time.
type MetricsServer struct {
	mu      sync.RWMutex
	objects map[string]ScaledObject // namespace/name
	query   QueryFunc
	now     func() time.Time
	ext     *metricsapi.Extension
}

// NewMetricsServer is the handler alone (tests; StartMetricsServer serves it).
func NewMetricsServer(query QueryFunc) *MetricsServer {
	return &MetricsServer{objects: map[string]ScaledObject{}, query: query, now: time.Now}
}

// StartMetricsServer serves external.metrics.k8s.io/v1beta1 through the
// API server's aggregator (metricsapi.ServeExtension), as KEDA's chart
// registers its metrics server (APIService v1beta1.external.metrics.k8s.io).
func StartMetricsServer(ctx context.Context, c *cluster.Cluster, query QueryFunc) (*MetricsServer, error) {
	s := NewMetricsServer(query)
	ext, err := metricsapi.ServeExtension(ctx, c, "keda-metrics-apiserver", ExternalGroup, externalVersion, s)
	if err != nil {
		return nil, err
	}
	s.ext = ext
	return s, nil
}

// Stop closes the server.
func (s *MetricsServer) Stop() {
	if s.ext != nil {
		s.ext.Stop()
	}
}

// Register serves so's External metrics (replacing an object of the same
// namespace and name).
func (s *MetricsServer) Register(so ScaledObject) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[so.Namespace+"/"+so.Name] = so
}

// Unregister stops serving a ScaledObject's metrics.
func (s *MetricsServer) Unregister(namespace, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects, namespace+"/"+name)
}

// ServeHTTP answers discovery and
// GET /apis/external.metrics.k8s.io/v1beta1/namespaces/<ns>/<metric>?labelSelector=scaledobject.keda.sh/name=<so>,
// which is what the HPA controller asks for an External metric.
func (s *MetricsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		apijson.WriteStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" is not supported; the external metrics API is read-only (get)")
		return
	}
	if apijson.ServeDiscovery(w, r.URL.Path, ExternalGroup, externalVersion, []apijson.APIResource{
		{Name: "externalmetrics", Kind: "ExternalMetricValueList", Namespaced: true, Verbs: []string{"get"}},
	}) {
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 6 && parts[0] == "apis" && parts[1]+"/"+parts[2] == externalGroupVersion && parts[3] == "namespaces":
		s.serveMetric(w, r, parts[4], parts[5])
	default:
		apijson.WriteStatus(w, http.StatusNotFound, "NotFound", "the KEDA stand-in serves /apis/"+externalGroupVersion+"/namespaces/<namespace>/<metric>")
	}
}

func (s *MetricsServer) serveMetric(w http.ResponseWriter, r *http.Request, namespace, metric string) {
	sel, err := matchLabels(r.URL.Query().Get("labelSelector"))
	if err != nil {
		apijson.WriteStatus(w, http.StatusBadRequest, "BadRequest", "labelSelector: "+err.Error())
		return
	}
	name := sel[OwnerLabel]
	if name == "" {
		// provider.go GetExternalMetric: "scaledObject name is not specified".
		apijson.WriteStatus(w, http.StatusInternalServerError, "InternalError", fmt.Sprintf("scaledObject name is not specified: set it as the value of label selector %q", OwnerLabel))
		return
	}
	s.mu.RLock()
	so, ok := s.objects[namespace+"/"+name]
	s.mu.RUnlock()
	if !ok {
		apijson.WriteStatus(w, http.StatusInternalServerError, "InternalError", fmt.Sprintf("error getting scalers: ScaledObject %s/%s not found", namespace, name))
		return
	}
	for _, t := range so.Triggers {
		if t.MetricName() != metric {
			continue
		}
		values, err := s.query(r.Context(), t.Query)
		var v float64
		if err == nil {
			v, err = PromValue(values, t.IgnoreNullValues)
		}
		if err != nil {
			apijson.WriteStatus(w, http.StatusInternalServerError, "InternalError", fmt.Sprintf("trigger %s (%s): %v", t.Name, metric, err))
			return
		}
		apijson.Write(w, map[string]any{
			"kind": "ExternalMetricValueList", "apiVersion": externalGroupVersion, "metadata": map[string]any{},
			"items": []any{map[string]any{
				"metricName": metric, "metricLabels": nil,
				"timestamp": s.now().UTC().Format(time.RFC3339), "value": Quantity(v),
			}},
		})
		return
	}
	apijson.WriteStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("ScaledObject %s/%s has no External metric %q", namespace, name, metric))
}

// matchLabels parses an equality-only label selector (k=v,k2==v2), which is
// what the HPA sends for an External metric's matchLabels.
func matchLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	for _, term := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(term, "=")
		v = strings.TrimPrefix(v, "=")
		if !ok || strings.HasSuffix(k, "!") || k == "" {
			return nil, fmt.Errorf("%q: only key=value terms are supported", term)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}
