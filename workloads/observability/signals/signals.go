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
	// DefaultInferenceMetricKey is what the Triton HPA scales on unless
	// configured otherwise: NVIDIA's own Triton chart scales on queue time
	// (server deploy/k8s-onprem/values.yaml, avg_time_queue_us).
	DefaultInferenceMetricKey = MetricQueueTimePerRequest
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
	Rule          AdapterRule
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

// AdapterResources maps series labels to Kubernetes resources.
type AdapterResources struct {
	Overrides map[string]AdapterResource `json:"overrides"`
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
		SeriesQuery: fmt.Sprintf(`%s{%s!="",%s!=""}`, numerator, LabelNamespace, LabelPod),
		Resources: AdapterResources{Overrides: map[string]AdapterResource{
			LabelNamespace: {Resource: "namespace"},
			LabelPod:       {Resource: "pod"},
		}},
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
// seconds through humanizeDuration ("50.7ms"), a ratio through humanize
// with no suffix (Prometheus template/template.go).
func (m InferenceMetric) valueTemplate() string {
	if m.Unit == UnitSeconds {
		return "{{ $value | humanizeDuration }}"
	}
	return "{{ $value | humanize }}"
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
