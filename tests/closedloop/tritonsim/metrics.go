package tritonsim

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Failure reasons, the values of nv_inference_request_failure's reason label
// (core src/metric_model_reporter.cc, failure_reasons_map). Triton creates
// one series per reason for every reporter, so all four are always served.
const (
	ReasonRejected = "REJECTED"
	ReasonCanceled = "CANCELED"
	ReasonBackend  = "BACKEND"
	ReasonOther    = "OTHER"
)

var failureReasons = [...]string{ReasonRejected, ReasonCanceled, ReasonBackend, ReasonOther}

const (
	reasonRejected = iota
	reasonCanceled
	reasonBackend
	reasonOther
)

// Metric types as written on the # TYPE line.
const (
	TypeCounter = "counter"
	TypeGauge   = "gauge"
)

// series is one Triton MetricModelReporter: the values behind one label set.
// Durations are cumulative microseconds, each request's nanoseconds divided
// by 1000 before adding, as InferenceStatsAggregator::UpdateSuccess does.
type series struct {
	success    uint64
	failure    [len(failureReasons)]uint64
	inferences uint64
	executions uint64
	requestUS  uint64
	queueUS    uint64
	inputUS    uint64
	inferUS    uint64
	outputUS   uint64
	pending    int64
}

// Family is one metric family Triton serves per model.
type Family struct {
	Name, Type, Help string
	// PerReason families have one series per failure reason.
	PerReason bool
	value     func(*series, int) float64
}

// Families are the per-model families served, in the order Triton registers
// them (core src/metrics.cc, the Metrics constructor), with Triton's help
// texts. Triton also serves nv_model_load_duration_secs, the cache families
// (response cache only), and the latency summaries and first-response
// histogram (off by default); those are not served here. Of the per-GPU
// families only GPUUtilization is served, after these.
var Families = []Family{
	{Name: "nv_inference_request_success", Type: TypeCounter,
		Help:  "Number of successful inference requests, all batch sizes",
		value: func(s *series, _ int) float64 { return float64(s.success) }},
	{Name: "nv_inference_request_failure", Type: TypeCounter, PerReason: true,
		Help:  "Number of failed inference requests, all batch sizes",
		value: func(s *series, r int) float64 { return float64(s.failure[r]) }},
	{Name: "nv_inference_count", Type: TypeCounter,
		Help:  "Number of inferences performed (does not include cached requests)",
		value: func(s *series, _ int) float64 { return float64(s.inferences) }},
	{Name: "nv_inference_exec_count", Type: TypeCounter,
		Help:  "Number of model executions performed (does not include cached requests)",
		value: func(s *series, _ int) float64 { return float64(s.executions) }},
	{Name: "nv_inference_request_duration_us", Type: TypeCounter,
		Help:  "Cumulative inference request duration in microseconds (includes cached requests)",
		value: func(s *series, _ int) float64 { return float64(s.requestUS) }},
	{Name: "nv_inference_queue_duration_us", Type: TypeCounter,
		Help:  "Cumulative inference queuing duration in microseconds (includes cached requests)",
		value: func(s *series, _ int) float64 { return float64(s.queueUS) }},
	{Name: "nv_inference_compute_input_duration_us", Type: TypeCounter,
		Help:  "Cumulative compute input duration in microseconds (does not include cached requests)",
		value: func(s *series, _ int) float64 { return float64(s.inputUS) }},
	{Name: "nv_inference_compute_infer_duration_us", Type: TypeCounter,
		Help:  "Cumulative compute inference duration in microseconds (does not include cached requests)",
		value: func(s *series, _ int) float64 { return float64(s.inferUS) }},
	{Name: "nv_inference_compute_output_duration_us", Type: TypeCounter,
		Help:  "Cumulative inference compute output duration in microseconds (does not include cached requests)",
		value: func(s *series, _ int) float64 { return float64(s.outputUS) }},
	{Name: "nv_inference_pending_request_count", Type: TypeGauge,
		Help:  "Instantaneous number of pending requests awaiting execution per-model.",
		value: func(s *series, _ int) float64 { return float64(s.pending) }},
}

// GPUUtilization is Triton's per-GPU utilisation gauge (core src/metrics.cc:
// BuildGauge "nv_gpu_utilization", registered after the per-model families;
// one series per GPU labelled gpu_uuid alone; "Per interval" in server
// docs/user_guide/metrics.md). Each pod serves its one GPU's series; see
// gpuMeter for what it reads.
var GPUUtilization = Family{Name: "nv_gpu_utilization", Type: TypeGauge, Help: "GPU utilization rate [0.0 - 1.0)"}

// Label names (core src/constants.h, kMetricsLabel*).
const (
	LabelModel   = "model"
	LabelVersion = "version"
	LabelGPUUUID = "gpu_uuid"
	LabelReason  = "reason"
)

// labelledSeries is a reporter's label set and values.
type labelledSeries struct {
	labels [][2]string // sorted by name, as prometheus-cpp's std::map keeps them
	s      *series
}

// reporters are a model's series in one pod. Triton keeps a model-level
// reporter (device METRIC_REPORTER_ID_UTILITY: pending count, and failures
// found by the core such as queue timeouts; core src/model.cc,
// src/infer_request.cc RespondIfError) and one per instance device (success,
// counts and durations reported by the backend;
// TRITONBACKEND_ModelInstanceReportStatistics). Reporters with equal labels
// are one reporter (MetricModelReporter::Create's reporter_map): on the CPU,
// and for ensembles (METRIC_REPORTER_ID_CPU), both are the {model, version}
// series; on the GPU the instance series also has gpu_uuid, and both label
// sets are served with every counter.
func (ms *modelState) reporters() []labelledSeries {
	base := [][2]string{{LabelModel, ms.m.Name}, {LabelVersion, ms.version()}}
	out := []labelledSeries{{labels: base, s: ms.util}}
	if ms.inst != ms.util {
		out = append(out, labelledSeries{
			labels: [][2]string{{LabelGPUUUID, ms.pod.gpuUUID}, {LabelModel, ms.m.Name}, {LabelVersion, ms.version()}},
			s:      ms.inst,
		})
	}
	return out
}

func (ms *modelState) version() string {
	if ms.m.IsEnsemble() {
		return "1"
	}
	return strconv.FormatInt(ms.m.Version, 10)
}

// gpuUUID is a stable stand-in for the pod's GPU's UUID, in nvidia-smi's
// form.
func gpuUUID(pod string) string {
	h := fnv.New128a()
	h.Write([]byte(pod))
	b := h.Sum(nil)
	return fmt.Sprintf("GPU-%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// writeMetrics renders one pod's metrics at now in the Prometheus text
// exposition format 0.0.4 (what Triton's /metrics serves through
// prometheus-cpp), counters divided by counterScale (Config.CounterScale).
func (p *pod) writeMetrics(buf *bytes.Buffer, order []string, now time.Duration, counterScale float64) {
	for _, f := range Families {
		writeHeader(buf, f)
		scale := 1.0
		if f.Type == TypeCounter {
			scale = counterScale
		}
		for _, name := range order {
			for _, r := range p.models[name].reporters() {
				if !f.PerReason {
					writeSample(buf, f.Name, r.labels, f.value(r.s, 0)/scale)
					continue
				}
				for i, reason := range failureReasons {
					writeSample(buf, f.Name, withLabel(r.labels, LabelReason, reason), f.value(r.s, i)/scale)
				}
			}
		}
	}
	writeHeader(buf, GPUUtilization)
	writeSample(buf, GPUUtilization.Name, [][2]string{{LabelGPUUUID, p.gpuUUID}}, p.gpu.reading(now))
}

func writeHeader(buf *bytes.Buffer, f Family) {
	fmt.Fprintf(buf, "# HELP %s %s\n# TYPE %s %s\n", f.Name, escapeHelp(f.Help), f.Name, f.Type)
}

func withLabel(labels [][2]string, name, value string) [][2]string {
	out := make([][2]string, 0, len(labels)+1)
	added := false
	for _, l := range labels {
		if !added && name < l[0] {
			out = append(out, [2]string{name, value})
			added = true
		}
		out = append(out, l)
	}
	if !added {
		out = append(out, [2]string{name, value})
	}
	return out
}

func writeSample(buf *bytes.Buffer, name string, labels [][2]string, v float64) {
	buf.WriteString(name)
	buf.WriteByte('{')
	for i, l := range labels {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(l[0])
		buf.WriteString(`="`)
		buf.WriteString(escapeLabel(l[1]))
		buf.WriteByte('"')
	}
	buf.WriteString("} ")
	buf.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	buf.WriteByte('\n')
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// ContentType is the exposition format's media type.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Metrics renders a running pod's metrics as Triton's /metrics would at the
// simulated time now, counters divided by Config.CounterScale.
func (s *Sim) Metrics(podName string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.live[podName]
	if !ok {
		return nil, fmt.Errorf("pod %q is not running: add it with SetPods (a pod that left the ready set serves metrics until it exits)", podName)
	}
	var buf bytes.Buffer
	p.writeMetrics(&buf, s.order, s.now, s.cfg.CounterScale)
	return buf.Bytes(), nil
}

// PodHandler serves one pod's metrics at any path, for a per-pod scrape
// target (mount it at /metrics). It answers 404 once the pod has exited.
func (s *Sim) PodHandler(podName string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveMetrics(w, r, podName)
	})
}

// Handler serves every running pod's metrics at /metrics?pod=NAME.
func (s *Sim) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("pod")
		if name == "" {
			http.Error(w, "query parameter pod is required: /metrics?pod=NAME", http.StatusBadRequest)
			return
		}
		s.serveMetrics(w, r, name)
	})
}

func (s *Sim) serveMetrics(w http.ResponseWriter, r *http.Request, podName string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: use GET", http.StatusMethodNotAllowed)
		return
	}
	b, err := s.Metrics(podName)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", ContentType)
	if r.Method == http.MethodGet {
		_, _ = w.Write(b)
	}
}
