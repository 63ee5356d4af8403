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
	// The offered load's external rule (triton.autoscaling.callsPerPod) and
	// the same query as KEDA's offered-load trigger gets it.
	external := signals.OfferedLoadRule()
	check(external.Name.As+" seriesQuery", external.SeriesQuery)
	check(external.Name.As, external.Render(external.Series(), `namespace="lds"`, ""))
	check("KEDA offered-load trigger", signals.OfferedLoadQuery("lds"))
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
// nv_gpu_utilization is a gauge, so its mean is over the four
// scrapes themselves: pod A (0.44+0.47+0.43+0.45)/4 = 0.4475, pod B
// (0.99+0.98+1+0.99)/4 = 0.99 (the t=0s values 0.41 and 0.97 are outside).
//
// Requests in flight are request time per second (rate, extrapolated over
// the window: increase / 45 s). Request time (queue + compute + overhead):
// pod A resnet50 450*2350 us, bert_base 90*22150 us: 3051000 us / 45 s = 0.0678;
// pod B resnet50 300*32650 us, bert_base 60*85150 us: 14904000 us / 45 s = 0.3312.
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
		signals.MetricGPUUtilization:      {podA: 0.4475, podB: 0.99},
		signals.MetricConcurrency:         {podA: 0.0678, podB: 0.3312},
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
  nv_gpu_utilization{namespace="triton",pod="idle",gpu_uuid="GPU-0"} 0x8
  nv_inference_request_duration_us{namespace="triton",pod="idle",model="m",version="1"} 16000x8
`)
	engine := newEngine(t)
	for _, m := range signals.InferenceMetrics() {
		got := instant(t, engine, st, m.Rule.Render(m.Rule.Series(), `namespace="triton",pod="idle"`, "pod"), epoch.Add(2*time.Minute), "pod")
		assertValues(t, m.Key+" idle", got, map[string]float64{"idle": 0})
	}
}

// GPU utilisation per pod on synthetic scrapes: a pod's value is its GPUs'
// mean over the window, in the gauge's 0..1 range whatever the GPU count,
// and only the pods and namespace the adapter asks for count. At t=2m the
// 1m window holds the scrapes at 75, 90, 105 and 120 s (left-open range).
//
//	one: 0.3 0.5 0.7 0.9 over the window          -> 0.6
//	two: GPU-a 0.2 flat, GPU-b 0.8 flat           -> (0.2+0.8)/2 = 0.5
//	full: saturated; a short queue timeout rejects the overflow (counted
//	      as REJECTED; a full max_queue_size would count nowhere), so the
//	      requests that get in wait 10 us each (rejected ones add no queue time)
//	                                              -> 1, queue signals far below their targets
func TestGPUUtilizationRuleOnSyntheticScrapes(t *testing.T) {
	m, ok := signals.LookupInferenceMetric(signals.MetricGPUUtilization)
	if !ok {
		t.Fatalf("%s is not in the table", signals.MetricGPUUtilization)
	}
	st := loadSeries(t, `
load 15s
  nv_gpu_utilization{namespace="triton",pod="one",gpu_uuid="GPU-1"} 0x4 0.3 0.5 0.7 0.9
  nv_gpu_utilization{namespace="triton",pod="two",gpu_uuid="GPU-a"} 0.2x8
  nv_gpu_utilization{namespace="triton",pod="two",gpu_uuid="GPU-b"} 0.8x8
  nv_gpu_utilization{namespace="triton",pod="full",gpu_uuid="GPU-f"} 1x8
  nv_gpu_utilization{namespace="other",pod="one",gpu_uuid="GPU-9"} 0.1x8
  nv_inference_queue_duration_us{namespace="triton",pod="full",model="m",version="1"} 0+1000x8
  nv_inference_request_success{namespace="triton",pod="full",model="m",version="1"} 0+100x8
  nv_inference_compute_infer_duration_us{namespace="triton",pod="full",model="m",version="1"} 0+900000x8
  nv_inference_request_failure{namespace="triton",pod="full",model="m",version="1",reason="REJECTED"} 0+400x8
`)
	engine := newEngine(t)
	at := epoch.Add(2 * time.Minute)
	want := map[string]float64{"one": 0.6, "two": 0.5, "full": 1}
	got := instant(t, engine, st, m.Rule.Render(m.Rule.Series(), `namespace="triton",pod=~"one|two|full"`, adapterGroupBy), at, "pod")
	assertValues(t, m.Key, got, want)
	// The alert's and dashboards' per-pod form leaves the other namespace out too.
	assertValues(t, m.Key+" per pod", instant(t, engine, st, m.PerPodQuery(`="triton"`), at, "pod"), want)
	// Why the signal exists: the saturated pod that rejects its overflow
	// is above the GPU target but far below the queue signals' targets:
	// 1000 us / 100 requests = 10 us per request, 1000 / 900000 of compute.
	if got["full"] <= m.DefaultTarget {
		t.Errorf("%s full = %v, not above its target %v", m.Key, got["full"], m.DefaultTarget)
	}
	for key, want := range map[string]float64{signals.MetricQueueTimePerRequest: 1e-5, signals.MetricQueueToComputeRatio: 1000.0 / 900000} {
		q, _ := signals.LookupInferenceMetric(key)
		full := instant(t, engine, st, q.Rule.Render(q.Rule.Series(), `namespace="triton",pod="full"`, adapterGroupBy), at, "pod")
		assertValues(t, key+" full", full, map[string]float64{"full": want})
		if full["full"] >= q.DefaultTarget/100 {
			t.Errorf("%s full = %v, not far below its target %v", key, full["full"], q.DefaultTarget)
		}
	}
}

// Requests in flight per pod on synthetic scrapes: the rate of the pod's
// request time, summed over its models, in seconds per second. At t=2m the
// 1m window holds the scrapes at 75, 90, 105 and 120 s; each series rises
// by the same amount per 15 s scrape, so the rate is that amount / 15 s.
//
//	busy: 67.5 s of request time per scrape                -> 4.5
//	two:  model a 30 s, model b 15 s per scrape (summed)    -> 3
//	idle: counter flat                                      -> 0
//	full: max_queue_size 16 is full and a batch of 8 computes, so 24
//	      requests are always in; rejected ones add no request time -> 24
//	other namespace: excluded
func TestConcurrencyRuleOnSyntheticScrapes(t *testing.T) {
	m, ok := signals.LookupInferenceMetric(signals.MetricConcurrency)
	if !ok {
		t.Fatalf("%s is not in the table", signals.MetricConcurrency)
	}
	st := loadSeries(t, `
load 15s
  nv_inference_request_duration_us{namespace="triton",pod="busy",model="m",version="1"} 0+67500000x8
  nv_inference_request_duration_us{namespace="triton",pod="two",model="a",version="1"} 0+30000000x8
  nv_inference_request_duration_us{namespace="triton",pod="two",model="b",version="1"} 0+15000000x8
  nv_inference_request_duration_us{namespace="triton",pod="idle",model="m",version="1"} 900000x8
  nv_inference_request_duration_us{namespace="triton",pod="full",model="m",version="1"} 0+360000000x8
  nv_inference_request_failure{namespace="triton",pod="full",model="m",version="1",reason="REJECTED"} 0+400x8
  nv_inference_request_duration_us{namespace="other",pod="busy",model="m",version="1"} 0+1000000x8
`)
	engine := newEngine(t)
	at := epoch.Add(2 * time.Minute)
	want := map[string]float64{"busy": 4.5, "two": 3, "idle": 0, "full": 24}
	got := instant(t, engine, st, m.Rule.Render(m.Rule.Series(), `namespace="triton",pod=~"busy|two|idle|full"`, adapterGroupBy), at, "pod")
	assertValues(t, m.Key, got, want)
	// The alert's and dashboards' per-pod form leaves the other namespace out too.
	assertValues(t, m.Key+" per pod", instant(t, engine, st, m.PerPodQuery(`="triton"`), at, "pod"), want)
	// A full queue that rejects the overflow still reads far above the target.
	if got["full"] <= 2*m.DefaultTarget {
		t.Errorf("%s full = %v, not far above its target %v", m.Key, got["full"], m.DefaultTarget)
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
