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

// Alert names, for routing and silences.
const (
	AlertTritonQueueAboveTarget = "TritonQueueAboveTarget"
	AlertTritonPodsNotReady     = "TritonPodsNotReady"
	AlertTritonHPAAtMax         = "TritonHPAAtMaxReplicas"
	AlertGPUPodPending          = "GPUPodPending"
	AlertSpotNodeInterrupted    = "SpotNodeInterrupted"
)

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
	TritonNamespace  string
	TritonDeployment string
	TritonHPA        string
	// Metric and Target are the HPA's: the queue alert fires when the
	// HPA's own signal stays above its target, i.e. scaling is not keeping up.
	Metric InferenceMetric
	Target float64
	// How long each condition must hold before its alert fires.
	QueueFor, NotReadyFor, HPAMaxFor, GPUPendingFor, SpotFor time.Duration
}

// defaultTritonName is the Triton Deployment's and HPA's name (workloads/inference).
const defaultTritonName = "triton"

// WithDefaults fills what is unset: the default metric and its target, the
// Deployment and HPA name "triton", and the hold times. A GPU node takes
// minutes to join and Triton minutes more to load its models, so
// the not-ready and pending holds are long; a spot interruption gives two
// minutes' notice, so its hold is short.
func (p AlertParams) WithDefaults() AlertParams {
	if p.Metric.Key == "" {
		p.Metric, _ = LookupInferenceMetric(DefaultInferenceMetricKey)
	}
	if p.Target == 0 {
		p.Target = p.Metric.DefaultTarget
	}
	for _, s := range []*string{&p.TritonDeployment, &p.TritonHPA} {
		if *s == "" {
			*s = defaultTritonName
		}
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&p.QueueFor, 10 * time.Minute},
		{&p.NotReadyFor, 15 * time.Minute},
		{&p.HPAMaxFor, 15 * time.Minute},
		{&p.GPUPendingFor, 15 * time.Minute},
		{&p.SpotFor, 2 * time.Minute},
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
	for _, f := range []struct{ path, v string }{
		{"tritonNamespace", p.TritonNamespace},
		{"tritonDeployment", p.TritonDeployment},
		{"tritonHpa", p.TritonHPA},
	} {
		if !dnsLabel.MatchString(f.v) {
			bad(f.path, "%q is not a Kubernetes name (lowercase DNS label)", f.v)
		}
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
		{"queueFor", p.QueueFor}, {"notReadyFor", p.NotReadyFor}, {"hpaMaxFor", p.HPAMaxFor},
		{"gpuPendingFor", p.GPUPendingFor}, {"spotFor", p.SpotFor},
	} {
		if d.v <= 0 || d.v%time.Second != 0 {
			bad(d.path, "%v must be a positive whole number of seconds", d.v)
		}
	}
	return errors.Join(errs...)
}

// AlertRuleGroups are the PrometheusRule groups for the platform. p must
// already have defaults (WithDefaults) and be valid (Validate).
func AlertRuleGroups(p AlertParams) []RuleGroup {
	ns := fmt.Sprintf("%s=%q", LabelNamespace, p.TritonNamespace)
	hpa := fmt.Sprintf("{%s,horizontalpodautoscaler=%q}", ns, p.TritonHPA)
	hpaBy := "max by (namespace, horizontalpodautoscaler) "
	spot := fmt.Sprintf("%s=%q", KubeStateMetricsLabelName(NodeLabelCapacityType), CapacityTypeSpot)
	nodeGroup := KubeStateMetricsLabelName(NodeLabelNodeGroup)
	m := p.Metric
	return []RuleGroup{
		{Name: "aiplatform-triton", Rules: []Rule{
			// The mean over pods is the HPA's own view (it compares the
			// pods' average with the target).
			alertRule(AlertTritonQueueAboveTarget, "warning", p.QueueFor,
				fmt.Sprintf("avg by (namespace) (%s) > %s", m.PerPodQuery("="+quote(p.TritonNamespace)), promNumber(p.Target)),
				fmt.Sprintf("Triton %s above the autoscaling target %s %s", m.Name, promNumber(p.Target), m.Unit),
				"Triton in {{ $labels.namespace }} averages {{ $value | humanize }}"+m.Unit+" "+m.Name+
					" per pod, above the HPA target: the HPA is not adding capacity fast enough or is at its maximum"),
			alertRule(AlertTritonPodsNotReady, "warning", p.NotReadyFor,
				fmt.Sprintf("max by (namespace, deployment) (kube_deployment_status_replicas_unavailable{%s,deployment=%q}) > 0",
					ns, p.TritonDeployment),
				"Triton pods not ready",
				"{{ $value }} pod(s) of Deployment {{ $labels.namespace }}/{{ $labels.deployment }} unavailable"),
			alertRule(AlertTritonHPAAtMax, "warning", p.HPAMaxFor,
				fmt.Sprintf("%s(kube_horizontalpodautoscaler_status_current_replicas%s) >= %s(kube_horizontalpodautoscaler_spec_max_replicas%s)",
					hpaBy, hpa, hpaBy, hpa),
				"Triton HPA pinned at its maximum",
				"HPA {{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} at maxReplicas; "+
					"raise triton.maxReplicas or the GPU node group's maxSize"),
		}},
		{Name: "aiplatform-capacity", Rules: []Rule{
			// Any namespace: a GPU pod that cannot be placed means the GPU
			// node group is at maxSize or the instance type is out of capacity.
			alertRule(AlertGPUPodPending, "warning", p.GPUPendingFor,
				fmt.Sprintf(`max by (namespace, pod) (kube_pod_status_phase{phase="Pending"}) == 1 `+
					`and on (namespace, pod) max by (namespace, pod) (kube_pod_container_resource_requests{resource=%q}) > 0`, GPUResourceLabel),
				"GPU pod pending",
				"Pod {{ $labels.namespace }}/{{ $labels.pod }} requests a GPU and is Pending"),
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
