package signals

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestInferenceMetricsTable(t *testing.T) {
	// The Triton family each rule reads (its seriesQuery finds the pods).
	series := map[string]string{
		MetricQueueTimePerRequest: TritonQueueDuration,
		MetricQueueToComputeRatio: TritonQueueDuration,
		MetricGPUUtilization:      TritonGPUUtilization,
		MetricConcurrency:         TritonRequestDuration,
	}
	if len(series) != len(InferenceMetrics()) {
		t.Errorf("%d expected series for %d metrics: add the new key here", len(series), len(InferenceMetrics()))
	}
	keys, names := map[string]bool{}, map[string]bool{}
	rules := AdapterRules()
	if len(rules) != len(InferenceMetrics()) {
		t.Fatalf("AdapterRules() has %d rules for %d metrics", len(rules), len(InferenceMetrics()))
	}
	for i, m := range InferenceMetrics() {
		if keys[m.Key] || names[m.Name] {
			t.Errorf("%s: key or name %q repeated", m.Key, m.Name)
		}
		keys[m.Key], names[m.Name] = true, true
		if m.Name != m.Rule.Name.As {
			t.Errorf("%s: HPA metric %q but the adapter serves %q", m.Key, m.Name, m.Rule.Name.As)
		}
		if rules[i].Name.As != m.Name {
			t.Errorf("%s: AdapterRules()[%d] is %q", m.Key, i, rules[i].Name.As)
		}
		if got, ok := LookupInferenceMetric(m.Key); !ok || got.Name != m.Name {
			t.Errorf("LookupInferenceMetric(%q) = %q, %v", m.Key, got.Name, ok)
		}
		if !(m.DefaultTarget > 0) || m.Description == "" || m.Unit == "" {
			t.Errorf("%s: needs a positive default target, a description and a unit", m.Key)
		}
		if m.Max < 0 || (m.Max > 0 && m.DefaultTarget >= m.Max) {
			t.Errorf("%s: default target %v is not below the metric's maximum %v", m.Key, m.DefaultTarget, m.Max)
		}
		// The adapter only maps series to pods through these overrides.
		for _, l := range []string{LabelNamespace, LabelPod} {
			if m.Rule.Resources.Overrides[l].Resource != l {
				t.Errorf("%s: resources.overrides[%s] = %+v", m.Key, l, m.Rule.Resources.Overrides[l])
			}
		}
		q := m.Rule.Render("SERIES", "MATCHERS", "GROUPBY")
		// Aggregated to one value per pod (sum or avg "by (GROUPBY)").
		if strings.Contains(q, "<<") || !strings.Contains(q, "SERIES{MATCHERS}") || !strings.Contains(q, " by (GROUPBY) (") {
			t.Errorf("%s: rendered %q", m.Key, q)
		}
		if want, ok := series[m.Key]; !ok || m.Rule.Series() != want || m.Rule.Name.Matches != "^"+want+"$" {
			t.Errorf("%s: series %q, matches %q, want %q", m.Key, m.Rule.Series(), m.Rule.Name.Matches, want)
		}
	}
	if _, ok := LookupInferenceMetric(DefaultInferenceMetricKey); !ok {
		t.Errorf("default metric %q is not in the table", DefaultInferenceMetricKey)
	}
	if _, ok := LookupInferenceMetric("cpu"); ok {
		t.Error("LookupInferenceMetric(cpu) found something")
	}
}

// GPU utilisation per pod is the mean over the window of each GPU's gauge,
// averaged over the pod's GPUs; tests/promql evaluates it on scrapes.
func TestGPUUtilizationRule(t *testing.T) {
	m, ok := LookupInferenceMetric(MetricGPUUtilization)
	if !ok {
		t.Fatalf("%s is not in the table", MetricGPUUtilization)
	}
	if m.Name != "triton_gpu_utilization" || m.Unit != UnitDimensionless || m.DefaultTarget != 0.6 || m.Max != 1 {
		t.Errorf("entry %+v", m)
	}
	if got, want := m.Rule.SeriesQuery, `nv_gpu_utilization{namespace!="",pod!=""}`; got != want {
		t.Errorf("seriesQuery %q, want %q", got, want)
	}
	got := m.Rule.Render(m.Rule.Series(), `namespace="triton",pod=~"a|b"`, "pod")
	if want := `avg by (pod) (avg_over_time(nv_gpu_utilization{namespace="triton",pod=~"a|b"}[1m]))`; got != want {
		t.Errorf("rendered %q, want %q", got, want)
	}
	if got, want := m.TargetQuantity(m.DefaultTarget), "600m"; got != want {
		t.Errorf("target quantity %q, want %q", got, want)
	}
}

// Requests in flight per pod is the rate of the pod's cumulative request
// time summed over its models, in seconds per second (Little's law);
// tests/promql evaluates it on scrapes.
func TestConcurrencyRule(t *testing.T) {
	m, ok := LookupInferenceMetric(MetricConcurrency)
	if !ok {
		t.Fatalf("%s is not in the table", MetricConcurrency)
	}
	if m.Name != "triton_requests_in_flight" || m.Unit != UnitDimensionless || m.DefaultTarget != 6 || m.Max != 0 {
		t.Errorf("entry %+v", m)
	}
	if got, want := m.Rule.SeriesQuery, `nv_inference_request_duration_us{namespace!="",pod!=""}`; got != want {
		t.Errorf("seriesQuery %q, want %q", got, want)
	}
	got := m.Rule.Render(m.Rule.Series(), `namespace="triton",pod=~"a|b"`, "pod")
	if want := `sum by (pod) (rate(nv_inference_request_duration_us{namespace="triton",pod=~"a|b"}[1m])) / 1e6`; got != want {
		t.Errorf("rendered %q, want %q", got, want)
	}
	if got, want := m.TargetQuantity(m.DefaultTarget), "6"; got != want {
		t.Errorf("target quantity %q, want %q", got, want)
	}
}

// The chart reads rules.custom[] with these exact keys (prometheus-adapter
// docs/config.md).
func TestAdapterRuleJSON(t *testing.T) {
	b, err := json.Marshal(AdapterRules()[0])
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	name := got["name"].(map[string]any)
	pod := got["resources"].(map[string]any)["overrides"].(map[string]any)["pod"].(map[string]any)
	if got["seriesQuery"] == "" || got["metricsQuery"] == "" || name["as"] == "" || name["matches"] == "" || pod["resource"] != "pod" {
		t.Errorf("rule JSON %s", b)
	}
}

func TestAdapterRateWindowSpansScrapes(t *testing.T) {
	if AdapterRateWindow < 4*TritonScrapeInterval {
		t.Errorf("rate window %v is under four scrapes of %v", AdapterRateWindow, TritonScrapeInterval)
	}
}

func TestTargetQuantity(t *testing.T) {
	m := InferenceMetrics()[0]
	for _, c := range []struct {
		in   float64
		want string
	}{
		{0.05, "50m"}, {0.5, "500m"}, {1, "1"}, {1.5, "1500m"}, {50000, "50k"}, {1500, "1500"},
		{1000, "1k"}, {2.5e6, "2500k"}, {0.0005, "500u"}, {0.123456, "123456u"}, {1e-9, "1n"},
		{0.1 + 0.2, "300m"}, {0, "0"}, {120, "120"},
	} {
		if got := m.TargetQuantity(c.in); got != c.want {
			t.Errorf("TargetQuantity(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPromDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute: "1m", 90 * time.Second: "1m30s", 2 * time.Hour: "2h", 1500 * time.Millisecond: "1s500ms",
	} {
		if got := PromDuration(d); got != want {
			t.Errorf("PromDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
