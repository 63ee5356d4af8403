package metricsapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// queueTimeRule is the program's first adapter rule as the chart gets it
// (signals.AdapterRules()[0] through JSON: workloads/observability/signals
// perPodRatioRule).
func queueTimeRule() map[string]any {
	return map[string]any{
		"seriesQuery": `nv_inference_queue_duration_us{namespace!="",pod!=""}`,
		"resources": map[string]any{"overrides": map[string]any{
			"namespace": map[string]any{"resource": "namespace"},
			"pod":       map[string]any{"resource": "pod"},
		}},
		"name": map[string]any{"matches": "^nv_inference_queue_duration_us$", "as": "triton_queue_seconds_per_request"},
		"metricsQuery": `sum by (<<.GroupBy>>) (rate(<<.Series>>{<<.LabelMatchers>>}[1m])) / 1e6 / ` +
			`(sum by (<<.GroupBy>>) (rate(nv_inference_request_success{<<.LabelMatchers>>}[1m])) > 0) ` +
			`or sum by (<<.GroupBy>>) (rate(<<.Series>>{<<.LabelMatchers>>}[1m])) * 0`,
	}
}

// The file is the chart's config.yaml (`rules:` + rules.custom) with only
// the metricsQuery windows compressed: [1m] at F=20 is [3s], four scrapes
// of 750ms as [1m] is four of 15s.
func TestAdapterConfig(t *testing.T) {
	template := map[string]any{
		"seriesQuery":   `{__name__=~"^foo_.*",namespace!=""}`,
		"seriesFilters": []any{map[string]any{"isNot": "_total$"}},
		"resources":     map[string]any{"template": "<<.Resource>>", "namespaced": true},
		"name":          map[string]any{"matches": "^foo_(.*)$", "as": ""},
		"metricsQuery":  `max_over_time(<<.Series>>{<<.LabelMatchers>>}[5m:30s])`,
	}
	raw, err := AdapterConfig([]map[string]any{queueTimeRule(), template}, 20)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), `\u003c`) {
		t.Errorf("<< >> delimiters HTML-escaped:\n%s", raw)
	}
	var got struct{ Rules []map[string]any }
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, raw)
	}
	want := []map[string]any{queueTimeRule(), template}
	want[0]["metricsQuery"] = strings.ReplaceAll(want[0]["metricsQuery"].(string), "[1m]", "[3s]")
	want[1]["metricsQuery"] = `max_over_time(<<.Series>>{<<.LabelMatchers>>}[15s:1s500ms])`
	var wantJSON []map[string]any
	b, _ := json.Marshal(want)
	_ = json.Unmarshal(b, &wantJSON)
	if !reflect.DeepEqual(got.Rules, wantJSON) {
		t.Errorf("rules =\n%s\nwant\n%s", js(got.Rules), js(wantJSON))
	}
}

// rules.external is written as externalRules, compressed like the custom
// rules; an external rule that is not namespaced needs no resource mapping
// (the offered load's, signals.OfferedLoadRule), a custom rule still does.
func TestAdapterConfigExternalRules(t *testing.T) {
	no := false
	b, err := json.Marshal(map[string]any{
		"seriesQuery":  `lds_triton_calls_total{namespace!=""}`,
		"resources":    map[string]any{"namespaced": no},
		"name":         map[string]any{"matches": "^lds_triton_calls_total$", "as": "lds_triton_calls_per_second"},
		"metricsQuery": "sum(rate(<<.Series>>{<<.LabelMatchers>>}[1m])) or vector(0)",
	})
	if err != nil {
		t.Fatal(err)
	}
	var external map[string]any
	if err := json.Unmarshal(b, &external); err != nil {
		t.Fatal(err)
	}
	raw, err := AdapterConfigWithExternal([]map[string]any{queueTimeRule()}, []map[string]any{external}, 20)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Rules         []map[string]any
		ExternalRules []map[string]any
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, raw)
	}
	if len(got.Rules) != 1 || len(got.ExternalRules) != 1 {
		t.Fatalf("rules %d, externalRules %d, want 1 and 1:\n%s", len(got.Rules), len(got.ExternalRules), raw)
	}
	if q := got.ExternalRules[0]["metricsQuery"]; q != "sum(rate(<<.Series>>{<<.LabelMatchers>>}[3s])) or vector(0)" {
		t.Errorf("external metricsQuery %q, want the [1m] window compressed to [3s]", q)
	}
	if ns := got.ExternalRules[0]["resources"]; !reflect.DeepEqual(ns, map[string]any{"namespaced": false}) {
		t.Errorf("external resources %v, want namespaced false kept", ns)
	}
	delete(external, "resources")
	if _, err := AdapterConfigWithExternal([]map[string]any{queueTimeRule()}, []map[string]any{external}, 20); err == nil ||
		!strings.Contains(err.Error(), "externalRules[0].resources: needs a template or overrides") {
		t.Errorf("a namespaced external rule without a mapping: error %v", err)
	}
}

// Keys the adapter's strict YAML loader would refuse fail here, naming the
// rule, the key and the allowed ones.
func TestAdapterConfigErrors(t *testing.T) {
	rule := func(edit func(r map[string]any)) []map[string]any {
		r := queueTimeRule()
		edit(r)
		return []map[string]any{r}
	}
	for _, tc := range []struct {
		name  string
		rules []map[string]any
		f     float64
		want  string
	}{
		{"unknown key", rule(func(r map[string]any) { r["metricQuery"] = "x" }), 20, `rules[0]: json: unknown field "metricQuery" (allowed keys: seriesQuery`},
		{"no seriesQuery", rule(func(r map[string]any) { delete(r, "seriesQuery") }), 20, "rules[0].seriesQuery: required"},
		{"no resources", rule(func(r map[string]any) { r["resources"] = map[string]any{} }), 20, "rules[0].resources: needs a template or overrides"},
		{"bad window", rule(func(r map[string]any) { r["metricsQuery"] = "rate(x[1 minute])" }), 20, `rules[0].metricsQuery: time window in "rate(x[1 minute])"`},
		{"empty", nil, 20, "adapter rules: empty"},
		{"factor", rule(func(map[string]any) {}), 0, "compression: must be a finite number > 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := AdapterConfig(tc.rules, tc.f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
