package signals

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Triton's per-model metric families, all labelled model and version.
// Counters unless noted; durations are cumulative microseconds.
// Source: triton-inference-server/server docs/user_guide/metrics.md and
// core src/metrics.cc (names), core src/infer_stats.cc (when they move).
const (
	// TritonRequestSuccess counts successful requests (a batch counts once).
	TritonRequestSuccess = "nv_inference_request_success"
	// TritonRequestFailure counts failed requests, labelled reason
	// (REJECTED, CANCELED, BACKEND, OTHER).
	TritonRequestFailure = "nv_inference_request_failure"
	// TritonRequestDuration is end-to-end request time.
	TritonRequestDuration = "nv_inference_request_duration_us"
	// TritonQueueDuration is time spent in the scheduler queue. It moves
	// only together with TritonRequestSuccess (InferenceStatsAggregator::
	// UpdateSuccess and UpdateSuccessCacheHit), so their ratio is the exact
	// mean queue time of a successful request.
	TritonQueueDuration = "nv_inference_queue_duration_us"
	// TritonComputeInferDuration is time spent executing the model (cache
	// hits add nothing).
	TritonComputeInferDuration = "nv_inference_compute_infer_duration_us"
	// TritonPendingRequests is a gauge: requests waiting for a model instance.
	TritonPendingRequests = "nv_inference_pending_request_count"
	// TritonRequestSummary is a summary (quantile label) of request time.
	// Triton exports summaries only with TritonMetricsConfigArgs; without
	// them the dashboard's percentile panel is empty and the mean panels
	// (from the counters) still work.
	TritonRequestSummary = "nv_inference_request_summary_us"
)

// TritonGPUUtilization is a gauge per GPU Triton uses (label gpu_uuid):
// the fraction of the last sample period in which a kernel ran, 0 to 1,
// read from DCGM (DCGM_FI_DEV_GPU_UTIL, percent × 0.01) every
// --metrics-interval-ms (default 2000). On unless --allow-gpu-metrics=false
// or Triton was built without TRITON_ENABLE_METRICS_GPU; the Triton pod sets
// it true explicitly. A failed DCGM read sets it to 0. Source: core
// src/metrics.cc (family "GPU utilization rate [0.0 - 1.0)",
// UpdateDcgmMetrics), src/constants.h kMetricsLabelGpuUuid; server
// src/command_line_parser.h (defaults), docs/user_guide/metrics.md "GPU Metrics".
const TritonGPUUtilization = "nv_gpu_utilization"

// TritonMetricsConfigArgs are the tritonserver arguments the dashboards need
// beyond Triton's defaults: latency summaries (off by default, quantiles
// 0.5, 0.9, 0.95, 0.99, 0.999 by default; core src/metric_model_reporter.h).
// Triton's only histogram, nv_inference_first_response_histogram_ms, times
// the first response of a request, not the request, so p50/p95/p99 come from
// the summaries.
var TritonMetricsConfigArgs = []string{"--metrics-config=summary_latencies=true"}

// LatencyQuantiles are the quantiles the dashboards plot; each must be one
// Triton exports (above).
var LatencyQuantiles = []string{"0.5", "0.95", "0.99"}

// TritonScrapeInterval is how often the Triton ServiceMonitor scrapes the
// metrics port. AdapterRateWindow spans four scrapes, so a rate survives one
// missed scrape and the HPA still reacts within about a minute.
const (
	TritonScrapeInterval = 15 * time.Second
	AdapterRateWindow    = time.Minute
)

// AgentsNamespace holds the node agents (dcgm-exporter, node-exporter);
// observability.AgentsNamespace is this one.
const AgentsNamespace = "monitoring-agents"

// Labels the queries group and match on (see the package comment).
const (
	LabelNamespace = "namespace"
	LabelPod       = "pod"
	LabelModel     = "model"
	LabelVersion   = "version"
)

// Inference metric keys: the values of config triton.autoscaling.metric.
const (
	MetricQueueTimePerRequest = "queueTimePerRequest"
	MetricQueueToComputeRatio = "queueToComputeRatio"
	MetricGPUUtilization      = "gpuUtilization"
	MetricConcurrency         = "concurrency"
	// DefaultInferenceMetricKey is what the Triton HPA scales on unless
	// configured otherwise. In the closed loop (tests/closedloop, issue 20)
	// requests in flight held steady load at the oracle's replicas, held an
	// ensemble without oscillating and scaled up behind a bounded queue;
	// queue time (what NVIDIA's own Triton chart scales on: server
	// deploy/k8s-onprem/values.yaml, avg_time_queue_us) oscillated on the
	// ensemble, whose own queue time reads about 0, and never scaled behind
	// the bounded queue; gpuUtilization over-provisioned a batching model
	// (figures in docs/autoscaling-and-observability.md).
	DefaultInferenceMetricKey = MetricConcurrency
)

// InferenceMetric is one per-pod metric prometheus-adapter serves to the
// Triton HPA through the custom metrics API.
type InferenceMetric struct {
	// Key is the value of config triton.autoscaling.metric.
	Key string
	// Name is the custom metrics API name the HPA asks for (== Rule.Name.As).
	Name        string
	Description string
	// Unit of the value and so of the target: UnitSeconds or
	// UnitDimensionless (a ratio).
	Unit string
	// DefaultTarget is the per-pod average the HPA aims for.
	DefaultTarget float64
	// Max is the largest value the metric can read (0: unbounded). A
	// target the HPA could never see exceeded is refused by the config
	// validation.
	Max  float64
	Rule AdapterRule
}

// AdapterRule is one prometheus-adapter discovery rule; the json tags are
// the chart's rules.custom[] entry (prometheus-adapter docs/config.md).
type AdapterRule struct {
	// SeriesQuery finds the series (and so the pods) the metric exists for.
	SeriesQuery string           `json:"seriesQuery"`
	Resources   AdapterResources `json:"resources"`
	Name        AdapterName      `json:"name"`
	// MetricsQuery is a Go template with << >> delimiters over .Series,
	// .LabelMatchers and .GroupBy (prometheus-adapter pkg/naming/metrics_query.go).
	MetricsQuery string `json:"metricsQuery"`
}

// AdapterResources maps series labels to Kubernetes resources. Namespaced
// false (external rules only) keeps the adapter from adding the asking
// HPA's namespace to the query (prometheus-adapter v0.12.0,
// pkg/naming/metric_namer.go NamersFromConfig: "queries are namespaced by
// default unless the rule specifically disables it").
type AdapterResources struct {
	Overrides  map[string]AdapterResource `json:"overrides,omitempty"`
	Namespaced *bool                      `json:"namespaced,omitempty"`
}

// AdapterResource names the Kubernetes resource a label holds.
type AdapterResource struct {
	Resource string `json:"resource"`
}

// AdapterName renames the discovered series to the API's metric name.
type AdapterName struct {
	Matches string `json:"matches"`
	As      string `json:"as"`
}

// inferenceMetrics is the one table the adapter rules, the HPA, the alerts,
// the dashboards and the tests derive from.
var inferenceMetrics = []InferenceMetric{
	{
		Key:  MetricQueueTimePerRequest,
		Name: "triton_queue_seconds_per_request",
		Description: "Mean time a successful request waited in Triton's scheduler queue, " +
			"over all models of the pod (request-weighted).",
		Unit: UnitSeconds,
		// 50 ms of queueing: well above a dynamic batcher's usual
		// max_queue_delay (microseconds to a few ms), so it means backlog.
		DefaultTarget: 0.05,
		Rule:          perPodRatioRule("triton_queue_seconds_per_request", TritonQueueDuration, TritonRequestSuccess, "1e6"),
	},
	{
		Key:  MetricQueueToComputeRatio,
		Name: "triton_queue_compute_ratio",
		Description: "Time requests waited in the queue per unit of model compute time, " +
			"over all models of the pod; independent of how heavy the model is.",
		Unit: UnitDimensionless,
		// 1: requests wait as long as they compute.
		DefaultTarget: 1,
		Rule:          perPodRatioRule("triton_queue_compute_ratio", TritonQueueDuration, TritonComputeInferDuration, ""),
	},
	{
		// Proportional to load below saturation, where the queue signals
		// stay near 0 until the GPU is full. It reads the device, so
		// ensembles (whose composing models count the request again) do
		// not skew it, and a saturated GPU reads about 1 even when
		// max_queue_size rejects the overflow, which adds no queue time.
		// Above saturation it says only "full", not by how much.
		Key:  MetricGPUUtilization,
		Name: "triton_gpu_utilization",
		Description: "Mean utilisation (0 to 1) of the pod's GPUs as Triton reports them from DCGM " +
			"(fraction of time a kernel ran), averaged over the last minute.",
		Unit: UnitDimensionless,
		// 0.6 leaves headroom for a step of about 1/0.6 = 1.67 times the
		// load while a new GPU node boots (5-10 min, docs/autoscaling-and-
		// observability.md); the closed loop (tests/closedloop) measures it.
		DefaultTarget: 0.6,
		Max:           1,
		Rule:          perPodGaugeRule("triton_gpu_utilization", TritonGPUUtilization),
	},
	{
		// Little's law: the mean number of requests in a system is the
		// rate at which their time in it accumulates, so the rate of
		// Triton's cumulative request time (queue + compute, added as each
		// successful request completes: core src/infer_stats.cc
		// UpdateSuccessWithDuration) is the pod's mean number of requests
		// queued or computing. Closed-loop figures (tests/closedloop/
		// tritonsim: one instance, dynamic batching up to 8, a batch of n
		// takes 20 ms + 5 ms × n, capacity 133 req/s) by load:
		//
		//	load            10%   20%   40%   60%   70%   80%   90%   95%
		//	in flight       0.42  0.96  2.43  4.56  6.03  8.05  11.9  17.5
		//	GPU busy        0.32  0.57  0.86  0.97  0.99  1.0   1.0   1.0
		//	mean queue time 5.5 ms at 10 %, 44 ms at 90 %, 81 ms at 95 %
		//
		// So it rises with load from the first request and without bound
		// past saturation. Queue time reacts only near saturation (its
		// 50 ms default is crossed only past 90 %), and a batching model's
		// GPU reads 0.86 busy at 40 % load (small batches keep it busy),
		// so gpuUtilization over-provisions it and stops at 1 when full.
		// Ensembles read higher: a request counts in the ensemble and
		// again in each composing model while it is there, about (1 + the
		// steps' share of its time) times; a target measured on the
		// ensemble (below) counts the same way. A request max_queue_size
		// rejects adds nothing (failures do not move the counter), but a
		// full queue holds max_queue_size + a batch in flight, above any
		// sensible target, so overload still scales up.
		Key:  MetricConcurrency,
		Name: "triton_requests_in_flight",
		Description: "Mean number of requests in the pod, queued or computing, over all models " +
			"(Little's law: request time completed per second), last minute.",
		Unit: UnitDimensionless,
		// 6: the in-flight count at about 70 % of the simulated pod's
		// throughput (6.03 above), room for a step of about 1.4 times the
		// load while a new GPU node boots. It depends on the model: take
		// the in-flight count at ~70 % of its pod's throughput, or from
		// perf_analyzer --concurrency-range (latency per concurrency) the
		// highest concurrency whose p95 still meets the latency
		// objective, times ~0.75. A single-instance
		// model without batching saturates at 1 in flight, so its target
		// is below 1 (0.7). In flight grows faster than load near
		// saturation, so there the HPA's proportional step overshoots
		// (90 %: 11.9/6, twice the pods) rather than falls short.
		DefaultTarget: 6,
		Rule:          perPodRateRule("triton_requests_in_flight", TritonRequestDuration, "1e6"),
	},
}

// perPodRateRule is a counter's rate per pod, summed over the pod's models
// and divided by scale ("1e6": microseconds per second into seconds per
// second, for TritonRequestDuration the requests in flight). An idle pod's
// counter stays flat and reads 0, so unlike a ratio the rule needs no 0 for
// idle pods.
func perPodRateRule(name, series, scale string) AdapterRule {
	return AdapterRule{
		SeriesQuery:  fmt.Sprintf(`%s{%s!="",%s!=""}`, series, LabelNamespace, LabelPod),
		Resources:    podResources(),
		Name:         AdapterName{Matches: "^" + series + "$", As: name},
		MetricsQuery: fmt.Sprintf("sum by (<<.GroupBy>>) (rate(<<.Series>>{<<.LabelMatchers>>}[%s])) / %s", PromDuration(AdapterRateWindow), scale),
	}
}

// perPodGaugeRule is a gauge's mean over the window, averaged over the
// pod's series (one per GPU for TritonGPUUtilization), so a pod's value is
// its mean GPU and stays in the gauge's own range. An idle GPU reads 0
// itself, so unlike a ratio the rule needs no 0 for idle pods.
func perPodGaugeRule(name, series string) AdapterRule {
	return AdapterRule{
		SeriesQuery:  fmt.Sprintf(`%s{%s!="",%s!=""}`, series, LabelNamespace, LabelPod),
		Resources:    podResources(),
		Name:         AdapterName{Matches: "^" + series + "$", As: name},
		MetricsQuery: fmt.Sprintf("avg by (<<.GroupBy>>) (avg_over_time(<<.Series>>{<<.LabelMatchers>>}[%s]))", PromDuration(AdapterRateWindow)),
	}
}

// podResources maps the target labels a Pod- or ServiceMonitor adds to the
// Kubernetes resources the custom metrics API serves metrics for.
func podResources() AdapterResources {
	return AdapterResources{Overrides: map[string]AdapterResource{
		LabelNamespace: {Resource: "namespace"},
		LabelPod:       {Resource: "pod"},
	}}
}

// perPodRatioRule is rate(numerator)/rate(denominator) per pod, summed over
// models first (a request-weighted mean, not a mean of per-model means), and
// divided by scale unless it is empty ("1e6" turns microseconds into
// seconds). A pod that served nothing in the window reports 0 instead of
// NaN: the adapter turns NaN into a garbage quantity, and a pod without a
// value would stop the HPA from scaling down (it must assume the target for
// missing pods).
func perPodRatioRule(name, numerator, denominator, scale string) AdapterRule {
	window := PromDuration(AdapterRateWindow)
	sumRate := func(series string) string {
		return fmt.Sprintf("sum by (<<.GroupBy>>) (rate(%s{<<.LabelMatchers>>}[%s]))", series, window)
	}
	num := sumRate("<<.Series>>")
	scaled := num
	if scale != "" {
		scaled += " / " + scale
	}
	return AdapterRule{
		SeriesQuery:  fmt.Sprintf(`%s{%s!="",%s!=""}`, numerator, LabelNamespace, LabelPod),
		Resources:    podResources(),
		Name:         AdapterName{Matches: "^" + numerator + "$", As: name},
		MetricsQuery: fmt.Sprintf("%s / (%s > 0) or %s * 0", scaled, sumRate(denominator), num),
	}
}

// InferenceMetrics returns the table of metrics the Triton HPA can scale on.
func InferenceMetrics() []InferenceMetric {
	return append([]InferenceMetric(nil), inferenceMetrics...)
}

// InferenceMetricKeys lists the valid values of triton.autoscaling.metric.
func InferenceMetricKeys() []string {
	keys := make([]string, len(inferenceMetrics))
	for i, m := range inferenceMetrics {
		keys[i] = m.Key
	}
	return keys
}

// LookupInferenceMetric finds a metric by its config key.
func LookupInferenceMetric(key string) (InferenceMetric, bool) {
	for _, m := range inferenceMetrics {
		if m.Key == key {
			return m, true
		}
	}
	return InferenceMetric{}, false
}

// AdapterRules returns prometheus-adapter's rules.custom.
func AdapterRules() []AdapterRule {
	rules := make([]AdapterRule, len(inferenceMetrics))
	for i, m := range inferenceMetrics {
		rules[i] = m.Rule
	}
	return rules
}

// Series is the metric name SeriesQuery selects: what the adapter passes
// as <<.Series>>.
func (r AdapterRule) Series() string {
	name, _, _ := strings.Cut(r.SeriesQuery, "{")
	return name
}

// Render is the query the adapter runs: MetricsQuery executed as the adapter
// does (text/template, << >> delimiters). For a pods metric in a namespace
// the adapter passes labelMatchers like `namespace="ns",pod=~"a|b"` and
// groupBy "pod".
func (r AdapterRule) Render(series, labelMatchers, groupBy string) string {
	t, err := template.New(r.Name.As).Delims("<<", ">>").Option("missingkey=error").Parse(r.MetricsQuery)
	if err != nil {
		panic(fmt.Sprintf("adapter rule %s: %v", r.Name.As, err)) // a bug in the table, caught by the tests
	}
	var b bytes.Buffer
	args := map[string]any{
		"Series": series, "LabelMatchers": labelMatchers, "GroupBy": groupBy,
		"GroupBySlice": strings.Split(groupBy, ","),
	}
	if err := t.Execute(&b, args); err != nil {
		panic(fmt.Sprintf("adapter rule %s: %v", r.Name.As, err))
	}
	return b.String()
}

// PerPodQuery is the metric's query for every pod of a namespace, grouped by
// namespace and pod: what the adapter computes, for alerts and dashboards.
func (m InferenceMetric) PerPodQuery(namespaceMatcher string) string {
	return m.Rule.Render(m.Rule.Series(), LabelNamespace+namespaceMatcher, LabelNamespace+","+LabelPod)
}

// TargetQuantity formats a per-pod target as the canonical Kubernetes
// quantity for an HPA AverageValue (0.05 -> "50m", 50000 -> "50k", 1500 ->
// "1500"): an integer mantissa and the largest decimal SI suffix that keeps
// it one (apimachinery resource.Quantity.String), so the API server echoes
// it back unchanged. Precision stops at nano units.
func (m InferenceMetric) TargetQuantity(target float64) string {
	return quantity(target)
}

// Quantity formats v as TargetQuantity does, for targets outside the
// inference metric table (the offered load's).
func Quantity(v float64) string { return quantity(v) }

var siSuffixes = map[int]string{-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}

func quantity(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	whole, frac, _ := strings.Cut(strconv.FormatFloat(v, 'f', 9, 64), ".")
	digits, exp := strings.TrimLeft(whole+frac, "0"), -len(frac)
	for strings.HasSuffix(digits, "0") {
		digits, exp = digits[:len(digits)-1], exp+1
	}
	if digits == "" {
		return "0"
	}
	e := exp - ((exp%3)+3)%3 // largest multiple of 3 <= exp
	if e > 18 {
		e = 18
	}
	return sign + digits + strings.Repeat("0", exp-e) + siSuffixes[e]
}

// Units of InferenceMetric.Unit.
const (
	UnitSeconds       = "s"
	UnitDimensionless = "1"
)

// formatTarget writes a target for people: seconds as a duration ("50ms"),
// a ratio as the bare number (no unit "1").
func (m InferenceMetric) formatTarget(v float64) string {
	if m.Unit == UnitSeconds {
		return time.Duration(math.Round(v * float64(time.Second))).String()
	}
	return promNumber(v)
}

// valueTemplate is the alert's value in a Prometheus annotation template:
// seconds through humanizeDuration ("50.7ms"); a ratio or a count as a
// plain number, through humanize from 1 up ("6.367", "12.35k") but below 1
// with printf, since humanize writes 0.85 as "850m" (Prometheus
// template/template.go), which reads as 850 requests or a unit.
func (m InferenceMetric) valueTemplate() string {
	if m.Unit == UnitSeconds {
		return "{{ $value | humanizeDuration }}"
	}
	return `{{ if lt $value 1.0 }}{{ printf "%.4g" $value }}{{ else }}{{ $value | humanize }}{{ end }}`
}

// promNumber formats a float as a PromQL number literal.
func promNumber(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// PromDuration formats a duration the way Prometheus writes one ("1m30s").
func PromDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		unit   time.Duration
		suffix string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if n := d / u.unit; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.suffix)
			d -= n * u.unit
		}
	}
	return b.String()
}

// SumQuery is the metric summed over the pods of a namespace: what a KEDA
// prometheus trigger with metricType AverageValue reads, so that its HPA
// asks for ceil(sum / target) replicas, as the Pods metric's HPA asks for
// ceil(pods × mean / target).
func (m InferenceMetric) SumQuery(namespaceMatcher string) string {
	return "sum(" + m.PerPodQuery(namespaceMatcher) + ")"
}

// LDSTritonUnavailableReasons are the reasons of LDSTritonErrors that mean
// no Triton replica could take the call at all: none ready behind the
// Service (unreachable), or one still loading its model.
var LDSTritonUnavailableReasons = []string{"unreachable", "model_not_ready"}

// CallersWaitingQuery is the rate of lds-service's calls that found no
// ready Triton, in the lds-service namespace: non-zero exactly while
// callers are waiting for Triton, and the only signal there is while Triton
// has no pod (it wakes Triton from zero). lds-service exports every reason
// from its start at 0 (cmd/lds-service, metrics.go), so the first failed
// call already makes the rate non-zero.
func CallersWaitingQuery(ldsNamespace string) string {
	return fmt.Sprintf("sum(rate(%s{%s=%s,reason=~%q}[%s]))", LDSTritonErrors, LabelNamespace, quote(ldsNamespace),
		strings.Join(LDSTritonUnavailableReasons, "|"), PromDuration(AdapterRateWindow))
}

// OfferedLoadMetric is the external metric the Triton HPA reads the
// callers' offered load from (triton.autoscaling.callsPerPod): requests per
// second that needed Triton, summed over lds-service's pods.
const OfferedLoadMetric = "lds_triton_calls_per_second"

// OfferedLoadRule is prometheus-adapter's external rule for
// OfferedLoadMetric. Not namespaced: the HPA is in Triton's namespace and
// the callers in lds-service's, which the HPA names in the metric's
// selector (namespace=<lds namespace>), and the adapter turns the
// selector into label matchers (pkg/naming/metrics_query.go BuildExternal).
// It serves milli-units like the custom rules.
func OfferedLoadRule() AdapterRule {
	no := false
	return AdapterRule{
		SeriesQuery: fmt.Sprintf(`%s{%s!=""}`, LDSTritonCalls, LabelNamespace),
		Resources:   AdapterResources{Namespaced: &no},
		Name:        AdapterName{Matches: "^" + LDSTritonCalls + "$", As: OfferedLoadMetric},
		// or vector(0): callers that sent nothing read 0, not an empty
		// answer. prometheus-adapter v0.12.0 returns an empty list for an
		// empty result (pkg/external-provider/metric_converter.go,
		// convertVector), the HPA controller takes that as an invalid
		// metric ("no metrics returned from external metrics API") and
		// then never scales down (pkg/controller/podautoscaler/horizontal.go,
		// computeReplicasForMetrics): no lds-service series would keep
		// every GPU Triton has. The sum has no labels, so vector(0) only
		// fills in when it is empty.
		//
		// irate, not rate: the last two scrapes in the window (15 s apart),
		// so a step in the offered load reads in full one scrape after it
		// arrives, where rate over the minute reads a quarter of it, then
		// half: the HPA asked for 3 replicas, then 4 a cold start's launch
		// later (closed loop, bounded-queue step). A missed scrape still
		// leaves two samples in the minute. What irate gives up, smoothing,
		// a counter of arrivals does not need: at 80 calls/s fifteen seconds
		// hold 1,200 calls, about 3 % of Poisson noise, against the HPA's
		// 10 % tolerance (and its 5-minute scale-down stabilisation).
		MetricsQuery: fmt.Sprintf("sum(irate(<<.Series>>{<<.LabelMatchers>>}[%s])) or vector(0)", PromDuration(AdapterRateWindow)),
	}
}

// OfferedLoadQuery is OfferedLoadRule's query for the callers in
// ldsNamespace, as the adapter runs it for the HPA's selector: what KEDA's
// offered-load trigger queries.
func OfferedLoadQuery(ldsNamespace string) string {
	r := OfferedLoadRule()
	return r.Render(r.Series(), LabelNamespace+"="+quote(ldsNamespace), "")
}
