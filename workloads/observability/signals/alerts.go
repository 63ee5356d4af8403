package signals

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// Node labels the alerts need from kube_node_labels: EKS managed node groups
// set both on their nodes (EKS user guide, managed node groups, "Managed
// node group capacity types"; capacityType is ON_DEMAND or SPOT).
const (
	NodeLabelCapacityType = "eks.amazonaws.com/capacityType"
	NodeLabelNodeGroup    = "eks.amazonaws.com/nodegroup"
	CapacityTypeSpot      = "SPOT"
)

// KubeStateMetricsLabelsAllowlist is kube-state-metrics' metricLabelsAllowlist
// (chart value kube-state-metrics.metricLabelsAllowlist): kube_node_labels
// carries no labels unless they are allowed, and the spot alert selects on
// NodeLabelCapacityType and reports NodeLabelNodeGroup.
var KubeStateMetricsLabelsAllowlist = []string{
	"nodes=[" + NodeLabelCapacityType + "," + NodeLabelNodeGroup + "]",
}

// DCGMHonorLabels is what the dcgm-exporter ServiceMonitor must set so the
// GPU's pod, namespace and container labels survive (see the package comment).
const DCGMHonorLabels = true

// GPUResourceLabel is nvidia.com/gpu as kube-state-metrics writes it in the
// resource label of kube_pod_container_resource_requests (SanitizeLabelName,
// internal/store/pod.go).
const GPUResourceLabel = "nvidia_com_gpu"

// KubeStateMetricsLabelName is the Prometheus label kube-state-metrics gives
// a Kubernetes label: invalid characters become "_", camelCase becomes
// snake_case, prefix "label_" (internal/store/utils.go, labelName).
func KubeStateMetricsLabelName(key string) string {
	s := regexp.MustCompile(`[^a-zA-Z0-9_]`).ReplaceAllString(key, "_")
	s = regexp.MustCompile(`([a-z0-9])([A-Z])`).ReplaceAllString(s, "${1}_${2}")
	return "label_" + strings.ToLower(s)
}

// Alert names, for routing and silences. The chart's own rules already
// cover the rest (kube-prometheus-stack templates/prometheus/rules-1.14/
// kubernetes-apps.yaml): KubeHpaMaxedOut an HPA at its maximum (only when
// minReplicas != maxReplicas), KubeDeploymentReplicasMismatch and
// KubePodNotReady unavailable or unready pods; the platform adds only what
// they cannot say.
const (
	AlertTritonQueueAboveTarget = "TritonQueueAboveTarget"
	AlertTritonRequestsFailing  = "TritonRequestsFailing"
	AlertInferenceCallsFailing  = "InferenceCallsFailing"
	AlertTritonUnavailable      = "TritonUnavailable"
	AlertGPUPodPending          = "GPUPodPending"
	AlertSpotNodeInterrupted    = "SpotNodeInterrupted"
)

// AlertNames lists the platform's alerts in the order AlertRuleGroups has them.
func AlertNames() []string {
	return []string{AlertTritonQueueAboveTarget, AlertTritonRequestsFailing, AlertInferenceCallsFailing, AlertTritonUnavailable, AlertGPUPodPending, AlertSpotNodeInterrupted}
}

// The lds-service's own metrics (cmd/lds-service, metrics.go), served on
// LDSMetricsPath of its HTTP port and scraped every LDSScrapeInterval, like
// Triton. LDSTritonErrors counts failed calls to Triton by label reason,
// one per attempt (retries included).
const (
	LDSMetricsPath    = "/metrics"
	LDSScrapeInterval = TritonScrapeInterval
	LDSTritonErrors   = "lds_triton_errors_total"
	// LDSTritonCalls counts the requests that needed Triton as they
	// arrive, served or not (first attempts): the load offered to Triton.
	LDSTritonCalls = "lds_triton_calls_total"
)

// LDSTritonCapacityReasons are the reasons of LDSTritonErrors that mean a
// running Triton could not keep up (cmd/lds-service, triton.go):
// server_error is any 5xx, which is what a full queue (max_queue_size)
// answers (503); timeout an attempt slower than TRITON_TIMEOUT.
// AlertInferenceCallsFailing watches them.
var LDSTritonCapacityReasons = []string{"server_error", "timeout"}

// LDSTritonCallFailureReasons are all the reasons of LDSTritonErrors that
// mean Triton could not serve the call: capacity (AlertInferenceCallsFailing)
// or no ready replica (LDSTritonUnavailableReasons, AlertTritonUnavailable,
// which a wake from zero must not trip). The other reasons, rejected (a 4xx
// to a request the service validated) and bad_response, are bugs, not
// capacity.
var LDSTritonCallFailureReasons = append(append([]string{}, LDSTritonCapacityReasons...), LDSTritonUnavailableReasons...)

// ChartAlertsCovering are the chart's alerts that say what the platform's
// earlier TritonHPAAtMaxReplicas, TritonPodsNotReady and (for pods waiting
// on anything but a GPU node) GPUPodPending said.
var ChartAlertsCovering = []string{"KubeHpaMaxedOut", "KubeDeploymentReplicasMismatch", "KubePodNotReady"}

// TritonStartupBudget is the longest a Triton pod may take to become ready
// once it runs: its startup probe allows 120 failures 10 s apart
// (workloads/inference, triton.go; a test in tests/ checks the rendered
// Deployment). Pod alerts hold longer than this plus StartupMargin, so a
// normal scale-out onto a cold GPU node never warns.
const (
	TritonStartupBudget = 20 * time.Minute
	StartupMargin       = 5 * time.Minute
)

// MaxSpotFor is the longest SpotNodeInterrupted may hold: EC2 gives two
// minutes' notice and EKS deletes the node soon after, so a longer hold
// would leave the alert pending until the node is gone.
const MaxSpotFor = 30 * time.Second

// RuleGroup is one entry of a PrometheusRule's spec.groups.
type RuleGroup struct {
	Name  string `json:"name"`
	Rules []Rule `json:"rules"`
}

// Rule is one alerting rule.
type Rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// AlertParams are what the alerts need to know about the deployment.
type AlertParams struct {
	TritonNamespace string
	// Metric and Target are the HPA's: the queue alert fires when the
	// HPA's own signal stays above its target, i.e. scaling is not keeping up.
	Metric InferenceMetric
	Target float64
	// How long each condition must hold before its alert fires.
	QueueFor, GPUPendingFor, SpotFor time.Duration
}

// WithDefaults fills what is unset: the default metric and its target and
// the hold times. A GPU pod that still has no node after Triton's whole
// startup budget is not a scale-out in progress; a spot interruption gives
// two minutes' notice, so its hold is short.
func (p AlertParams) WithDefaults() AlertParams {
	if p.Metric.Key == "" {
		p.Metric, _ = LookupInferenceMetric(DefaultInferenceMetricKey)
	}
	if p.Target == 0 {
		p.Target = p.Metric.DefaultTarget
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&p.QueueFor, 10 * time.Minute},
		{&p.GPUPendingFor, TritonStartupBudget + StartupMargin},
		{&p.SpotFor, MaxSpotFor},
	} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	return p
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// Validate reports every problem at once, each with its field path.
func (p AlertParams) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{path}, args...)...))
	}
	if !dnsLabel.MatchString(p.TritonNamespace) {
		bad("tritonNamespace", "%q is not a Kubernetes name (lowercase DNS label)", p.TritonNamespace)
	}
	if m, ok := LookupInferenceMetric(p.Metric.Key); !ok {
		bad("metric", "%q is not one of %s", p.Metric.Key, strings.Join(InferenceMetricKeys(), ", "))
	} else if m.Name != p.Metric.Name || m.Rule.MetricsQuery != p.Metric.Rule.MetricsQuery {
		bad("metric", "%q differs from the InferenceMetrics() entry; use LookupInferenceMetric", p.Metric.Key)
	}
	if !(p.Target > 0) || math.IsInf(p.Target, 0) {
		bad("target", "%v must be a positive number", p.Target)
	}
	for _, d := range []struct {
		path string
		v    time.Duration
	}{
		{"queueFor", p.QueueFor}, {"gpuPendingFor", p.GPUPendingFor}, {"spotFor", p.SpotFor},
	} {
		if d.v <= 0 || d.v%time.Second != 0 {
			bad(d.path, "%v must be a positive whole number of seconds", d.v)
		}
	}
	if p.GPUPendingFor > 0 && p.GPUPendingFor <= TritonStartupBudget {
		bad("gpuPendingFor", "%v must be longer than Triton's startup budget %v, or a normal scale-out warns", p.GPUPendingFor, TritonStartupBudget)
	}
	if p.SpotFor > MaxSpotFor {
		bad("spotFor", "%v must be at most %v: the node is gone about two minutes after the spot notice", p.SpotFor, MaxSpotFor)
	}
	return errors.Join(errs...)
}

// AlertRuleGroups are the PrometheusRule groups for the platform. p must
// already have defaults (WithDefaults) and be valid (Validate).
func AlertRuleGroups(p AlertParams) []RuleGroup {
	spot := fmt.Sprintf("%s=%q", KubeStateMetricsLabelName(NodeLabelCapacityType), CapacityTypeSpot)
	nodeGroup := KubeStateMetricsLabelName(NodeLabelNodeGroup)
	m := p.Metric
	return []RuleGroup{
		{Name: "aiplatform-triton", Rules: []Rule{
			// The mean over pods is the HPA's own view (it compares the
			// pods' average with the target).
			alertRule(AlertTritonQueueAboveTarget, "warning", p.QueueFor,
				fmt.Sprintf("avg by (namespace) (%s) > %s", m.PerPodQuery("="+quote(p.TritonNamespace)), promNumber(p.Target)),
				fmt.Sprintf("Triton %s above the autoscaling target %s", m.Name, m.formatTarget(p.Target)),
				"Triton in {{ $labels.namespace }} averages "+m.valueTemplate()+" "+m.Name+
					" per pod, above the HPA target: the HPA is not adding capacity fast enough or is at its maximum"),
			// Triton counts a failure only for a request its scheduler took.
			// REJECTED is a queue timeout (default_timeout_microseconds with
			// timeout_action REJECT: core src/dynamic_batch_scheduler.cc
			// FinishRejectedCancelledRequests, ReportErrorStatistics, then
			// src/infer_stats.cc UpdateFailure; server
			// docs/user_guide/metrics.md "Failure Count Categories"), and
			// adds no queue or request time (UpdateFailure records only the
			// failure and its duration): the timed-out requests themselves
			// show only here. The overload behind them still raises the
			// requests in flight (a full queue stays in flight), so under
			// the default concurrency signal it also fires
			// TritonQueueAboveTarget, while queue time can stay under its
			// target (docs/closed-loop.md, scenario 7). A
			// request refused because the queue is full (max_queue_size)
			// is counted nowhere: core
			// src/scheduler_utils.cc PolicyQueue::Enqueue returns
			// UNAVAILABLE, src/infer_request.cc InferenceRequest::Run
			// returns it (FAILED_ENQUEUE undoes the pending count),
			// src/tritonserver.cc TRITONSERVER_ServerInferAsync passes it
			// on, and server src/http_server.cc HandleInfer and
			// src/grpc/infer_handler.cc answer 503 / UNAVAILABLE without
			// statistics (core main 73aad7c3 and r26.06). An ensemble whose
			// composing model's queue is full counts OTHER. Only the caller
			// sees a full queue: AlertInferenceCallsFailing.
			alertRule(AlertTritonRequestsFailing, "warning", p.QueueFor,
				fmt.Sprintf("sum by (namespace, model, reason) (rate(%s{namespace=%s}[5m])) > 0", TritonRequestFailure, quote(p.TritonNamespace)),
				"Triton requests failing",
				"Model {{ $labels.model }} in {{ $labels.namespace }} fails {{ $value | humanize }} requests/s with reason {{ $labels.reason }}: "+
					"REJECTED means requests timed out in the queue (the model's queue policy), whose time counts in neither the queue-time nor the in-flight signal; "+
					"requests refused because the queue is full (max_queue_size) are not counted here, see "+AlertInferenceCallsFailing),
			// The caller's view: the lds-service counts every failed call to
			// Triton, including the 503 of a full queue that Triton's own
			// failure counter never sees (above). Any namespace: only
			// lds-service exports the metric. The same threshold and hold as
			// TritonRequestsFailing, so an overload that fails calls warns
			// as soon as either side sees it. Capacity reasons only: calls
			// that find no ready replica are TritonUnavailable's.
			alertRule(AlertInferenceCallsFailing, "warning", p.QueueFor,
				fmt.Sprintf("sum by (namespace) (rate(%s{reason=~%q}[5m])) > 0", LDSTritonErrors, strings.Join(LDSTritonCapacityReasons, "|")),
				"lds-service calls to Triton failing",
				"The lds-service in {{ $labels.namespace }} fails {{ $value | humanize }} calls/s to Triton "+
					"(reasons "+strings.Join(LDSTritonCapacityReasons, ", ")+"; see "+LDSTritonErrors+" by reason): "+
					"server_error is Triton's 503 for a full queue (max_queue_size), which Triton's own "+TritonRequestFailure+" does not count; "+
					"timeout means Triton answers slower than TRITON_TIMEOUT (overloaded); "+
					"calls that find no ready Triton replica are "+AlertTritonUnavailable+"'s"),
			// No ready Triton replica at all: every call fails unreachable
			// or model_not_ready. A wake from zero does that for a whole
			// cold start (GPU node, image pull, model load: about 8 minutes,
			// docs/closed-loop.md) plus the 5m window, and a scale-out onto
			// a cold node never does (the other replicas serve); so the
			// hold is GPUPodPending's and KubePodNotReady's, past Triton's
			// startup budget, and only pods that never become ready, no GPU
			// capacity or a model that does not load warn.
			alertRule(AlertTritonUnavailable, "warning", TritonStartupBudget+StartupMargin,
				fmt.Sprintf("sum by (namespace) (rate(%s{reason=~%q}[5m])) > 0", LDSTritonErrors, strings.Join(LDSTritonUnavailableReasons, "|")),
				"No ready Triton replica for lds-service",
				"The lds-service in {{ $labels.namespace }} finds no ready Triton replica for {{ $value | humanize }} calls/s "+
					"(reasons "+strings.Join(LDSTritonUnavailableReasons, ", ")+"; see "+LDSTritonErrors+" by reason), longer than a cold start takes: "+
					"Triton's pods are failing (see KubePodNotReady), no GPU node can take them (see "+AlertGPUPodPending+") or the model does not load (Triton's log). "+
					"While Triton scales from zero the lds-service answers 503 with Retry-After and this alert does not fire; it has lasted"),
		}},
		{Name: "aiplatform-capacity", Rules: []Rule{
			// Any namespace. Unschedulable, not merely Pending: the chart's
			// KubePodNotReady already reports pods that wait for an image or
			// a probe; a GPU pod no node can take means the GPU node group is
			// at maxSize or the instance type is out of capacity
			// (kube-state-metrics kube_pod_status_unschedulable: condition
			// PodScheduled false with reason Unschedulable).
			alertRule(AlertGPUPodPending, "warning", p.GPUPendingFor,
				fmt.Sprintf(`max by (namespace, pod) (kube_pod_status_unschedulable) == 1 `+
					`and on (namespace, pod) max by (namespace, pod) (kube_pod_container_resource_requests{resource=%q}) > 0`, GPUResourceLabel),
				"GPU pod cannot be scheduled",
				"Pod {{ $labels.namespace }}/{{ $labels.pod }} requests a GPU and no node can take it: "+
					"the GPU node group is at its maxSize or EC2 has no capacity for its instance types"),
			// EKS cordons a spot node after a rebalance recommendation once
			// its replacement is Ready, and an interrupted instance goes
			// NotReady before its node object is deleted (EKS user guide,
			// managed node groups, "Spot Instances"). The alert resolves when
			// the node is gone.
			alertRule(AlertSpotNodeInterrupted, "info", p.SpotFor,
				fmt.Sprintf(`max by (node, %s) (kube_node_labels{%s}) and on (node) (`+
					`max by (node) (kube_node_spec_unschedulable) == 1 or max by (node) (kube_node_status_condition{condition="Ready",status="true"}) == 0)`,
					nodeGroup, spot),
				"Spot node interrupted or being replaced",
				"Spot node {{ $labels.node }} of node group {{ $labels."+nodeGroup+" }} is cordoned or NotReady; its pods are being rescheduled"),
		}},
	}
}

// alertRule is one rule; the description gains how long the condition has held.
func alertRule(name, severity string, hold time.Duration, expr, summary, description string) Rule {
	return Rule{
		Alert: name, Expr: expr, For: PromDuration(hold),
		Labels:      map[string]string{"severity": severity},
		Annotations: map[string]string{"summary": summary, "description": description + " for at least " + PromDuration(hold) + "."},
	}
}

func quote(s string) string { return fmt.Sprintf("%q", s) }
