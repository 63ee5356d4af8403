package signals

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestInferenceMetricsTable(t *testing.T) {
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
		// The adapter only maps series to pods through these overrides.
		for _, l := range []string{LabelNamespace, LabelPod} {
			if m.Rule.Resources.Overrides[l].Resource != l {
				t.Errorf("%s: resources.overrides[%s] = %+v", m.Key, l, m.Rule.Resources.Overrides[l])
			}
		}
		q := m.Rule.Render("SERIES", "MATCHERS", "GROUPBY")
		if strings.Contains(q, "<<") || !strings.Contains(q, "SERIES{MATCHERS}") || !strings.Contains(q, "sum by (GROUPBY)") {
			t.Errorf("%s: rendered %q", m.Key, q)
		}
		if m.Rule.Series() != TritonQueueDuration {
			t.Errorf("%s: series %q", m.Key, m.Rule.Series())
		}
	}
	if _, ok := LookupInferenceMetric(DefaultInferenceMetricKey); !ok {
		t.Errorf("default metric %q is not in the table", DefaultInferenceMetricKey)
	}
	if _, ok := LookupInferenceMetric("cpu"); ok {
		t.Error("LookupInferenceMetric(cpu) found something")
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
