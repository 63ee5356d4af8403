package signals

import (
	"math"
	"strings"
	"testing"
	"time"
)

func validParams() AlertParams {
	return AlertParams{TritonNamespace: "triton"}.WithDefaults()
}

func TestAlertParamsDefaults(t *testing.T) {
	p := validParams()
	if p.Metric.Key != DefaultInferenceMetricKey || p.Target != p.Metric.DefaultTarget || p.QueueFor == 0 || p.SpotFor == 0 || p.GPUPendingFor == 0 {
		t.Errorf("defaults not filled: %+v", p)
	}
	ratio, _ := LookupInferenceMetric(MetricQueueToComputeRatio)
	q := AlertParams{TritonNamespace: "triton", Metric: ratio, Target: 3, QueueFor: time.Minute}.WithDefaults()
	if q.Metric.Key != MetricQueueToComputeRatio || q.Target != 3 || q.QueueFor != time.Minute {
		t.Errorf("set values overwritten: %+v", q)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestAlertParamsValidate(t *testing.T) {
	for _, c := range []struct {
		name  string
		edit  func(*AlertParams)
		wants []string
	}{
		{"no namespace", func(p *AlertParams) { p.TritonNamespace = "" }, []string{"tritonNamespace: "}},
		{"bad namespace", func(p *AlertParams) { p.TritonNamespace = "Triton_NS" }, []string{"tritonNamespace: "}},
		{"zero target", func(p *AlertParams) { p.Target = 0 }, []string{"target: 0 must be a positive number"}},
		{"negative target", func(p *AlertParams) { p.Target = -1 }, []string{"target: "}},
		{"NaN target", func(p *AlertParams) { p.Target = math.NaN() }, []string{"target: "}},
		{"infinite target", func(p *AlertParams) { p.Target = math.Inf(1) }, []string{"target: "}},
		{"unknown metric", func(p *AlertParams) { p.Metric = InferenceMetric{Key: "cpu"} }, []string{`metric: "cpu" is not one of queueTimePerRequest`}},
		{"edited metric", func(p *AlertParams) { p.Metric.Name = "other" }, []string{"metric: "}},
		{"negative for", func(p *AlertParams) { p.QueueFor = -time.Minute }, []string{"queueFor: "}},
		{"sub-second for", func(p *AlertParams) { p.SpotFor = 1500 * time.Millisecond }, []string{"spotFor: "}},
		{"every error at once", func(p *AlertParams) { p.QueueFor, p.SpotFor, p.GPUPendingFor = -1, -1, -1 },
			[]string{"queueFor: ", "spotFor: ", "gpuPendingFor: "}},
		// Issue 21: a hold inside Triton's startup budget warns on every
		// cold scale-out; a spot hold past 30 s outlives the node.
		{"gpu pending inside the startup budget", func(p *AlertParams) { p.GPUPendingFor = 15 * time.Minute },
			[]string{"gpuPendingFor: 15m0s must be longer than Triton's startup budget 20m0s"}},
		{"spot hold outlives the node", func(p *AlertParams) { p.SpotFor = 2 * time.Minute },
			[]string{"spotFor: 2m0s must be at most 30s"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := validParams()
			c.edit(&p)
			err := p.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestAlertRuleGroups(t *testing.T) {
	p := validParams()
	seen := map[string]bool{}
	for _, g := range AlertRuleGroups(p) {
		for _, r := range g.Rules {
			if seen[r.Alert] || r.Expr == "" || r.For == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s/%s: incomplete or repeated: %+v", g.Name, r.Alert, r)
			}
			seen[r.Alert] = true
		}
	}
	for _, a := range AlertNames() {
		if !seen[a] {
			t.Errorf("alert %s missing", a)
		}
	}
	if len(seen) != len(AlertNames()) {
		t.Errorf("alerts %v, AlertNames() %v", seen, AlertNames())
	}
	// The queue alert watches the HPA's own query and target (by default
	// requests in flight, 6 per pod).
	q := AlertRuleGroups(p)[0].Rules[0]
	if !strings.Contains(q.Expr, p.Metric.PerPodQuery(`="triton"`)) || !strings.HasSuffix(q.Expr, "> 6") || q.For != "10m" {
		t.Errorf("queue alert %+v", q)
	}
}

// kube-state-metrics internal/store/utils.go: SanitizeLabelName, then toSnakeCase.
func TestKubeStateMetricsLabelName(t *testing.T) {
	for in, want := range map[string]string{
		NodeLabelCapacityType:    "label_eks_amazonaws_com_capacity_type",
		NodeLabelNodeGroup:       "label_eks_amazonaws_com_nodegroup",
		"app.kubernetes.io/name": "label_app_kubernetes_io_name",
	} {
		if got := KubeStateMetricsLabelName(in); got != want {
			t.Errorf("KubeStateMetricsLabelName(%q) = %q, want %q", in, got, want)
		}
	}
	if KubeStateMetricsLabelsAllowlist[0] != "nodes=[eks.amazonaws.com/capacityType,eks.amazonaws.com/nodegroup]" {
		t.Errorf("allowlist %q", KubeStateMetricsLabelsAllowlist)
	}
}

// Issue 21 item 2: the chart's KubeHpaMaxedOut (with its minReplicas !=
// maxReplicas guard), KubeDeploymentReplicasMismatch and KubePodNotReady say
// what these said; the platform keeps only what adds information, each
// holding past Triton's startup budget where a scale-out could trip it.
func TestAlertsAddToTheChartsAndHoldPastStartup(t *testing.T) {
	for _, dropped := range []string{"TritonHPAAtMaxReplicas", "TritonPodsNotReady"} {
		for _, a := range AlertNames() {
			if a == dropped {
				t.Errorf("%s duplicates the chart's alerts %v", a, ChartAlertsCovering)
			}
		}
	}
	p := validParams()
	for _, g := range AlertRuleGroups(p) {
		for _, r := range g.Rules {
			hold, err := time.ParseDuration(r.For)
			if err != nil {
				t.Fatal(err)
			}
			switch r.Alert {
			case AlertGPUPodPending:
				if hold <= TritonStartupBudget || !strings.Contains(r.Expr, "kube_pod_status_unschedulable") {
					t.Errorf("%s: for %v, expr %s", r.Alert, hold, r.Expr)
				}
			case AlertTritonUnavailable:
				// A wake from zero is a cold start of unreachable calls.
				if hold != TritonStartupBudget+StartupMargin || !strings.Contains(r.Expr, `reason=~"unreachable|model_not_ready"`) {
					t.Errorf("%s: for %v, expr %s", r.Alert, hold, r.Expr)
				}
			case AlertSpotNodeInterrupted:
				if hold > 30*time.Second {
					t.Errorf("%s: for %v outlives the two-minute notice", r.Alert, hold)
				}
			}
		}
	}
}

// Issue 21 item 4: a ratio has no unit "1" after it; seconds read as a duration.
func TestAlertTextUnits(t *testing.T) {
	ratio, _ := LookupInferenceMetric(MetricQueueToComputeRatio)
	r := AlertRuleGroups(AlertParams{TritonNamespace: "triton", Metric: ratio}.WithDefaults())[0].Rules[0]
	if !strings.HasSuffix(r.Annotations["summary"], "target 1") || strings.Contains(r.Annotations["description"], "humanize }}1") {
		t.Errorf("ratio alert text %q / %q", r.Annotations["summary"], r.Annotations["description"])
	}
	queue, _ := LookupInferenceMetric(MetricQueueTimePerRequest)
	q := AlertRuleGroups(AlertParams{TritonNamespace: "triton", Metric: queue}.WithDefaults())[0].Rules[0]
	if !strings.HasSuffix(q.Annotations["summary"], "target 50ms") || !strings.Contains(q.Annotations["description"], "humanizeDuration") {
		t.Errorf("queue time alert text %q / %q", q.Annotations["summary"], q.Annotations["description"])
	}
}

// The default signal is requests in flight (tests/closedloop, issue 20): the
// alert keeps its name TritonQueueAboveTarget (routes and silences match it),
// but its text names the metric and a bare count, and says nothing of a queue.
func TestDefaultAlertTextIsRequestsInFlight(t *testing.T) {
	r := AlertRuleGroups(validParams())[0].Rules[0]
	summary, description := r.Annotations["summary"], r.Annotations["description"]
	if r.Alert != "TritonQueueAboveTarget" || summary != "Triton triton_requests_in_flight above the autoscaling target 6" ||
		!strings.Contains(description, " triton_requests_in_flight per pod, above the HPA target") {
		t.Errorf("%s: %q / %q", r.Alert, summary, description)
	}
	for _, text := range []string{summary, description} {
		if strings.Contains(strings.ToLower(text), "queue") {
			t.Errorf("%q speaks of a queue; the metric is requests in flight", text)
		}
	}
}

// A request refused because Triton's queue is full (max_queue_size) is in
// none of Triton's metrics (core src/scheduler_utils.cc PolicyQueue::Enqueue
// returns UNAVAILABLE before any statistics; only queue timeouts count as
// REJECTED). The Triton alert must not claim it, and the caller's alert,
// in the Triton group with the same hold, watches the lds-service's count.
func TestFullQueueIsAlertedFromTheCaller(t *testing.T) {
	p := validParams()
	rules := map[string]Rule{}
	for _, r := range AlertRuleGroups(p)[0].Rules {
		rules[r.Alert] = r
	}
	triton, caller := rules[AlertTritonRequestsFailing], rules[AlertInferenceCallsFailing]
	if d := triton.Annotations["description"]; strings.Contains(d, "REJECTED means the queue is full") ||
		!strings.Contains(d, "max_queue_size) are not counted here, see "+AlertInferenceCallsFailing) ||
		// A timed-out request adds no queue or request time (core
		// src/infer_stats.cc UpdateFailure): not "the queue signal", which
		// is no longer the default.
		!strings.Contains(d, "whose time counts in neither the queue-time nor the in-flight signal") {
		t.Errorf("%s description %q", AlertTritonRequestsFailing, d)
	}
	want := `sum by (namespace) (rate(lds_triton_errors_total{reason=~"server_error|timeout"}[5m])) > 0`
	if caller.Expr != want || caller.For != triton.For || caller.Labels["severity"] != "warning" {
		t.Errorf("%s: %+v, want expr %s held %s", AlertInferenceCallsFailing, caller, want, triton.For)
	}
	if d := caller.Annotations["description"]; !strings.Contains(d, "max_queue_size") || !strings.Contains(d, TritonRequestFailure+" does not count") {
		t.Errorf("%s description %q", AlertInferenceCallsFailing, d)
	}
}

// Triton may scale to zero (KEDA): while no replica is ready the lds-service
// answers 503 and counts unreachable / model_not_ready, for a whole cold
// start on every wake. Those reasons leave the capacity alert and get their
// own, held like GPUPodPending past Triton's startup budget, so a wake
// never warns and a Triton that never becomes ready does.
func TestNoReadyTritonIsItsOwnAlert(t *testing.T) {
	p := validParams()
	rules := map[string]Rule{}
	for _, g := range AlertRuleGroups(p) {
		for _, r := range g.Rules {
			rules[r.Alert] = r
		}
	}
	capacity, unavailable := rules[AlertInferenceCallsFailing], rules[AlertTritonUnavailable]
	for _, r := range LDSTritonUnavailableReasons {
		if strings.Contains(capacity.Expr, r) || strings.Contains(capacity.Annotations["description"], "reasons "+r) {
			t.Errorf("%s selects %s: every wake from zero would warn: %s", AlertInferenceCallsFailing, r, capacity.Expr)
		}
	}
	want := `sum by (namespace) (rate(lds_triton_errors_total{reason=~"unreachable|model_not_ready"}[5m])) > 0`
	if unavailable.Expr != want || unavailable.For != "25m" || unavailable.For != rules[AlertGPUPodPending].For ||
		unavailable.Labels["severity"] != "warning" {
		t.Errorf("%s: %+v, want expr %s held 25m, severity warning", AlertTritonUnavailable, unavailable, want)
	}
	d := unavailable.Annotations["description"]
	for _, w := range []string{"no ready Triton replica", "longer than a cold start", AlertGPUPodPending, "KubePodNotReady",
		"the model does not load", "503 with Retry-After and this alert does not fire", "for at least 25m."} {
		if !strings.Contains(d, w) {
			t.Errorf("%s description %q lacks %q", AlertTritonUnavailable, d, w)
		}
	}
	if !strings.Contains(capacity.Annotations["description"], "no ready Triton replica are "+AlertTritonUnavailable) {
		t.Errorf("%s description %q does not point at %s", AlertInferenceCallsFailing, capacity.Annotations["description"], AlertTritonUnavailable)
	}
	// The union stays every reason either caller alert selects, once.
	if got := strings.Join(LDSTritonCallFailureReasons, ","); got != "server_error,timeout,unreachable,model_not_ready" {
		t.Errorf("LDSTritonCallFailureReasons %s", got)
	}
}
