package promqltests

import (
	"math"
	"testing"
	"time"

	"github.com/aiplatform/infra/workloads/observability/signals"
)

// What prometheus-adapter passes for a pods metric of the Triton HPA
// (pkg/naming/metrics_query.go, Build: the namespace matcher, then the pod
// names joined with "|", grouped by the pod label).
const (
	podA             = "triton-6d4f9b7c8-k2x7p"
	podB             = "triton-6d4f9b7c8-r9m4w"
	adapterMatchers  = `namespace="triton",pod=~"` + podA + "|" + podB + `"`
	adapterGroupBy   = "pod"
	adapterOnePodSel = `namespace="triton",pod="` + podA + `"`
)

// Every expression the platform ships parses with Prometheus's parser.
func TestEveryExpressionParses(t *testing.T) {
	check := func(what, expr string) {
		t.Helper()
		if _, err := promParser.ParseExpr(expr); err != nil {
			t.Errorf("%s: %v\n%s", what, err, expr)
		}
	}
	for _, r := range signals.AdapterRules() {
		check(r.Name.As+" seriesQuery", r.SeriesQuery)
		if _, err := promParser.ParseMetricSelector(r.SeriesQuery); err != nil {
			t.Errorf("%s: seriesQuery is not a series selector: %v", r.Name.As, err)
		}
		for _, m := range []string{adapterMatchers, adapterOnePodSel} {
			check(r.Name.As, r.Render(r.Series(), m, adapterGroupBy))
		}
	}
	for _, m := range signals.InferenceMetrics() {
		p := signals.AlertParams{TritonNamespace: tritonNamespace, Metric: m}.WithDefaults()
		for _, g := range signals.AlertRuleGroups(p) {
			for _, r := range g.Rules {
				check(g.Name+"/"+r.Alert, r.Expr)
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
				}
			}
		}
	}
	n := 0
	for _, d := range signals.Dashboards() {
		exprs, err := d.Expressions()
		if err != nil {
			t.Fatal(err)
		}
		// Every variable at "All", as Grafana interpolates it.
		selected := map[string][]string{"namespace": all, "model": all, "node": all}
		for _, e := range exprs {
			check(d.UID, grafanaInterpolate(t, d, e, selected))
			n++
		}
	}
	if n < 15 {
		t.Errorf("only %d dashboard expressions", n)
	}
}

// The adapter's queries over the recorded scrapes compute the hand-computed
// values. At t=60s the 1m window holds the scrapes at 15, 30, 45 and 60s,
// so each rate is (value at 60s - value at 15s) / 45s, the same factor for
// numerator and denominator. Increments over that span (testdata):
//
//	pod A resnet50:  450 requests, 200 us queue and 2000 us compute each
//	pod A bert_base:  90 requests, 2000 us queue and 20000 us compute each
//	pod B resnet50:  300 requests, 30000 us queue and 2500 us compute each
//	pod B bert_base:  60 requests, 60000 us queue and 25000 us compute each
//
// queue time per request, pod A: (450*200 + 90*2000) / (450+90) = 270000/540 = 500 us
// queue time per request, pod B: (300*30000 + 60*60000) / 360 = 12600000/360 = 35000 us
// queue/compute, pod A: 270000 / (450*2000 + 90*20000) = 270000/2700000 = 0.1
// queue/compute, pod B: 12600000 / (300*2500 + 60*25000) = 12600000/2250000 = 5.6
//
// A divisor of executions or inferences (batching: fewer, more), of
// success+failure (pod B rejects requests), or a mean of per-model means
// (pod A: (200+2000)/2 = 1100 us) gives other numbers.
func TestAdapterQueriesOnRecordedScrapes(t *testing.T) {
	st := loadScrapes(t, "testdata/triton-metrics.txt")
	engine := newEngine(t)
	at := epoch.Add(60 * time.Second)
	want := map[string]map[string]float64{
		signals.MetricQueueTimePerRequest: {podA: 0.0005, podB: 0.035},
		signals.MetricQueueToComputeRatio: {podA: 0.1, podB: 5.6},
	}
	for _, m := range signals.InferenceMetrics() {
		w, ok := want[m.Key]
		if !ok {
			t.Errorf("%s: no hand-computed expectation", m.Key)
			continue
		}
		got := instant(t, engine, st, m.Rule.Render(m.Rule.Series(), adapterMatchers, adapterGroupBy), at, "pod")
		assertValues(t, m.Key, got, w)
		// The adapter asks for one pod at a time too.
		one := instant(t, engine, st, m.Rule.Render(m.Rule.Series(), adapterOnePodSel, adapterGroupBy), at, "pod")
		assertValues(t, m.Key+" one pod", one, map[string]float64{podA: w[podA]})
		// The alert's and dashboards' per-pod form is the same number.
		all := instant(t, engine, st, m.PerPodQuery(`="triton"`), at, "pod")
		assertValues(t, m.Key+" per pod", all, w)
	}
}

// A pod that served nothing reports 0, not NaN or nothing: NaN would reach
// the HPA as a garbage quantity and a missing pod blocks scale-down.
func TestAdapterQueriesIdlePodIsZero(t *testing.T) {
	st := loadSeries(t, `
load 15s
  nv_inference_queue_duration_us{namespace="triton",pod="idle",model="m",version="1"} 5000x8
  nv_inference_request_success{namespace="triton",pod="idle",model="m",version="1"} 100x8
  nv_inference_compute_infer_duration_us{namespace="triton",pod="idle",model="m",version="1"} 9000x8
`)
	engine := newEngine(t)
	for _, m := range signals.InferenceMetrics() {
		got := instant(t, engine, st, m.Rule.Render(m.Rule.Series(), `namespace="triton",pod="idle"`, "pod"), epoch.Add(2*time.Minute), "pod")
		assertValues(t, m.Key+" idle", got, map[string]float64{"idle": 0})
	}
}

func assertValues(t *testing.T, what string, got, want map[string]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
		return
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || math.IsNaN(g) || math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)) {
			t.Errorf("%s[%s] = %v, want %v", what, k, g, w)
		}
	}
}
