package promqltests

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aiplatform/infra/workloads/observability/signals"
	"github.com/prometheus/prometheus/rules"
)

// docs/alerting.md quotes the platform's alert texts; every quote must be
// what Prometheus expands (rules.AlertingRule.Eval) from the real rules, and
// the queue alert's example is the default metric's, so a change of the
// default or of the texts shows here.
func TestAlertingDocsQuoteTheRenderedTexts(t *testing.T) {
	b, err := os.ReadFile("../../docs/alerting.md")
	if err != nil {
		t.Fatal(err)
	}
	row := func(alert string) string {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "| `"+alert+"` |") {
				return line
			}
		}
		t.Fatalf("docs/alerting.md: no table row for %s", alert)
		return ""
	}
	// rendered is the alert's summary and description as Prometheus
	// expands them when it first fires on load (mid-overload; at the edges
	// the window reads less).
	rendered := func(p signals.AlertParams, alert, who, load string) string {
		t.Helper()
		p = p.WithDefaults()
		var rule signals.Rule
		for _, g := range signals.AlertRuleGroups(p) {
			for _, r := range g.Rules {
				if r.Alert == alert {
					rule = r
				}
			}
		}
		var text string
		runRule(t, loadSeries(t, load), rule, who, 39*time.Minute, func(_ time.Duration, a *rules.Alert) {
			if text == "" {
				text = a.Annotations.Get("summary") + "\n" + a.Annotations.Get("description")
			}
		})
		if text == "" {
			t.Fatalf("%s never fired", alert)
		}
		return text
	}
	requireQuoted := func(alert, text string, quotes ...string) {
		t.Helper()
		r := row(alert)
		for _, q := range quotes {
			if !strings.Contains(text, q) {
				t.Errorf("%s: Prometheus renders %q, which lacks %q", alert, text, q)
			}
			if !strings.Contains(r, `"`+q+`"`) {
				t.Errorf("docs/alerting.md %s row does not quote %q:\n%s", alert, q, r)
			}
		}
	}

	// TritonQueueAboveTarget: the default metric (TestAlertTextUnits has the
	// figures: 6.367 in flight against 6) and queue time as a duration.
	def, _ := signals.LookupInferenceMetric(signals.DefaultInferenceMetricKey)
	queue, _ := signals.LookupInferenceMetric(signals.MetricQueueTimePerRequest)
	overload := tritonOverload()
	requireQuoted(signals.AlertTritonQueueAboveTarget,
		rendered(signals.AlertParams{TritonNamespace: tritonNamespace}, signals.AlertTritonQueueAboveTarget, "namespace", overload),
		"Triton "+def.Name+" above the autoscaling target 6", "averages 6.367 "+def.Name+" per pod")
	requireQuoted(signals.AlertTritonQueueAboveTarget,
		rendered(signals.AlertParams{TritonNamespace: tritonNamespace, Metric: queue}, signals.AlertTritonQueueAboveTarget, "namespace", overload),
		"averages 75.5ms "+queue.Name+" per pod")

	// TritonRequestsFailing: queue timeouts (REJECTED), 2/s from 10m to 20m.
	rejected := `
load 15s
  nv_inference_request_failure{namespace="triton",pod="p1",model="a",version="1",reason="REJECTED"} ` + counterSteps(append(append(repeat(40, 0), repeat(40, 30)...), repeat(80, 0)...)...) + `
`
	requireQuoted(signals.AlertTritonRequestsFailing,
		rendered(signals.AlertParams{TritonNamespace: tritonNamespace}, signals.AlertTritonRequestsFailing, "model", rejected),
		"whose time counts in neither the queue-time nor the in-flight signal")
	// The caller's alerts: 2 failed calls/s from 10m to 30m for capacity
	// (a full queue's 503), and from 5m to 35m for want of a ready replica.
	callers := func(reason string, before, during int) string {
		return `
load 15s
  lds_triton_errors_total{namespace="lds",pod="lds-1",container="lds-service",reason="` + reason + `"} ` +
			counterSteps(append(append(repeat(before, 0), repeat(during, 30)...), repeat(160-before-during, 0)...)...) + `
`
	}
	requireQuoted(signals.AlertInferenceCallsFailing,
		rendered(signals.AlertParams{TritonNamespace: tritonNamespace}, signals.AlertInferenceCallsFailing, "namespace", callers("server_error", 40, 80)),
		"The lds-service in lds fails 2 calls/s to Triton (reasons server_error, timeout")
	requireQuoted(signals.AlertTritonUnavailable,
		rendered(signals.AlertParams{TritonNamespace: tritonNamespace}, signals.AlertTritonUnavailable, "namespace", callers("unreachable", 20, 120)),
		"No ready Triton replica for lds-service", "The lds-service in lds finds no ready Triton replica for 2 calls/s",
		"While Triton scales from zero the lds-service answers 503 with Retry-After and this alert does not fire")

	// The overload behind the timeouts raises requests in flight, so the row
	// points at the queue alert under the default metric.
	if r := row(signals.AlertTritonRequestsFailing); !strings.Contains(r, "`"+signals.DefaultInferenceMetricKey+"`") ||
		!strings.Contains(r, "fires `"+signals.AlertTritonQueueAboveTarget+"`") {
		t.Errorf("docs/alerting.md %s row does not say the overload fires %s under %s:\n%s",
			signals.AlertTritonRequestsFailing, signals.AlertTritonQueueAboveTarget, signals.DefaultInferenceMetricKey, r)
	}
}
