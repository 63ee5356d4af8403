package observability

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/observability/signals"
)

// Where the metrics stack runs. The Triton NetworkPolicy admits scrapes
// only from MonitoringNamespace (inference.DefaultMetricsNamespace must equal
// it; a stacks test checks).
const (
	// MonitoringNamespace holds Prometheus, Alertmanager, Grafana, the
	// operator, kube-state-metrics and prometheus-adapter: Pod Security
	// baseline.
	MonitoringNamespace = "monitoring"
	// AgentsNamespace holds the node agents that need the host:
	// node-exporter (hostNetwork, hostPID, hostPath /, /proc, /sys) and
	// dcgm-exporter (root with SYS_ADMIN, hostPath of the kubelet's
	// pod-resources socket). Pod Security privileged, but only here.
	AgentsNamespace = signals.AgentsNamespace
)

// Prometheus defaults: two weeks of history on a 50 GiB encrypted gp3 volume.
const (
	DefaultRetention = "15d"
	DefaultStorage   = "50Gi"
	// EmptyDirStorage keeps the TSDB on the node's disk: lost when the pod
	// moves, no EBS volume to pay for (dev).
	EmptyDirStorage = "emptyDir"
	// emptyDirSizeLimit caps that scratch space; the kubelet evicts the pod
	// beyond it, so retentionSize stays below it.
	emptyDirSizeLimit = "10Gi"
	// minStorage and maxStorage: below 1 GiB Prometheus's WAL alone fills
	// the volume; 16 TiB is the largest gp3 volume.
	minStorage = 1 << 30
	maxStorage = 16 << 40
	// retentionShare of the volume Prometheus may fill before it deletes
	// the oldest blocks, whatever the retention time: the WAL and compaction
	// need the rest, and a full volume stops ingestion.
	retentionShare = 0.85
)

// prometheusDuration is Prometheus's duration syntax (model.ParseDuration;
// the operator's CRD pattern for retention): units from largest to
// smallest, each at most once, e.g. 15d, 1w2d, 36h.
var prometheusDuration = regexp.MustCompile(`^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$`)

// Endpoint says how a UI is reached, as for Argo CD: cluster-internal unless
// an internal or public ALB is opted into, then always over HTTPS with a
// host; public needs named CIDRs.
type Endpoint struct {
	Exposure       workloads.Exposure `json:"exposure,omitempty"`
	Host           string             `json:"host,omitempty"`
	AllowedCIDRs   []string           `json:"allowedCidrs,omitempty"`
	CertificateARN string             `json:"certificateArn,omitempty"`
}

// PrometheusSpec is the configurable part of Prometheus.
type PrometheusSpec struct {
	// Retention is how long samples are kept (Prometheus duration, "15d").
	Retention string `json:"retention,omitempty"`
	// Storage is the volume size ("50Gi", on the default gp3 StorageClass)
	// or EmptyDirStorage.
	Storage string `json:"storage,omitempty"`
	Endpoint
}

// MetricsStackSpec is the configurable part of the metrics stack (config
// key observability, without enabled).
type MetricsStackSpec struct {
	Prometheus PrometheusSpec `json:"prometheus,omitempty"`
	Grafana    Endpoint       `json:"grafana,omitempty"`
	// Alerting is where Alertmanager sends alerts; unset: nowhere.
	Alerting signals.AlertingSpec `json:"alerting,omitempty"`
}

func (e Endpoint) withDefaults(app string, d workloads.Defaults) Endpoint {
	if e.Exposure == "" {
		e.Exposure = workloads.ClusterOnly
	}
	if e.Host == "" {
		e.Host = d.HostFor(app, e.Exposure)
	}
	if e.CertificateARN == "" && e.Exposure.LoadBalanced() {
		e.CertificateARN = d.CertificateARN
	}
	return e
}

func (e Endpoint) exposure() workloads.ExposureSpec {
	return workloads.ExposureSpec{Exposure: e.Exposure, Host: e.Host, AllowedCIDRs: e.AllowedCIDRs, CertificateARN: e.CertificateARN}
}

// validate: neither UI has its own login in front of the data (Prometheus
// none at all), so an exposed one always needs TLS and a host.
func (e Endpoint) validate(path string) []error {
	errs := e.exposure().Validate(path, true)
	if e.Exposure.LoadBalanced() && e.Host == "" {
		errs = append(errs, fmt.Errorf("%s.host: exposure %s needs a host name for the UI and its certificate; set host or aiplatform:domain", path, e.Exposure))
	}
	return errs
}

// URL is where the UI is reached: the ALB's host, else the Service inside the cluster.
func (e Endpoint) url(service string, port int) string {
	if e.Exposure.LoadBalanced() {
		return "https://" + e.Host
	}
	return fmt.Sprintf("http://%s.%s.svc.cluster.local:%d", service, MonitoringNamespace, port)
}

// WithDefaults fills only what is unset.
func (s MetricsStackSpec) WithDefaults(d workloads.Defaults) MetricsStackSpec {
	if s.Prometheus.Retention == "" {
		s.Prometheus.Retention = DefaultRetention
	}
	if s.Prometheus.Storage == "" {
		s.Prometheus.Storage = DefaultStorage
	}
	s.Prometheus.Endpoint = s.Prometheus.Endpoint.withDefaults("prometheus", d)
	s.Grafana = s.Grafana.withDefaults("grafana", d)
	s.Alerting = s.Alerting.WithDefaults()
	return s
}

// Validate returns every problem, each prefixed by path (e.g. "aiplatform:observability").
func (s MetricsStackSpec) Validate(path string) error {
	var errs []error
	p := s.Prometheus
	if p.Retention == "" || !prometheusDuration.MatchString(p.Retention) || !strings.ContainsAny(p.Retention, "123456789") {
		errs = append(errs, fmt.Errorf("%s.prometheus.retention: %q is not a Prometheus duration like 15d, 2w or 36h (units y, w, d, h, m, s, ms, largest first, not zero)", path, p.Retention))
	}
	if p.Storage != EmptyDirStorage {
		if n, ok := workloads.ParseQuantity(p.Storage); !ok || n < minStorage || n > maxStorage || !strings.HasSuffix(p.Storage, "i") {
			errs = append(errs, fmt.Errorf("%s.prometheus.storage: %q is not a volume size from 1Gi to 16Ti like 50Gi (binary units Gi, Ti), or %q for the node's disk", path, p.Storage, EmptyDirStorage))
		}
	}
	errs = append(errs, p.Endpoint.validate(path+".prometheus")...)
	errs = append(errs, s.Grafana.validate(path+".grafana")...)
	errs = append(errs, s.Alerting.Validate(path+".alerting")...)
	return errors.Join(errs...)
}

// Persistent reports whether Prometheus keeps its data on an EBS volume.
func (s MetricsStackSpec) Persistent() bool { return s.Prometheus.Storage != EmptyDirStorage }

// retentionSize is Prometheus's size-based retention for the storage: a
// share of the volume in MiB, which Prometheus spells MB (units.Base2Bytes).
func retentionSize(storage string) string {
	if storage == EmptyDirStorage {
		storage = emptyDirSizeLimit
	}
	n, _ := workloads.ParseQuantity(storage)
	return fmt.Sprintf("%dMB", int64(math.Floor(n*retentionShare/(1<<20))))
}
