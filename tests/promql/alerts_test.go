package promqltests

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aiplatform/infra/workloads/observability/signals"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
)

const evalEvery = 15 * time.Second

// alertState is a rule's state at one evaluation: "firing", "pending" or
// "inactive", with the alerts' identifying label values.
type alertState struct {
	state string
	who   string
}

// evalAlert evaluates one alert of the groups like Prometheus's rule
// manager: every 15 s from t=0 to end, returning the state at each step.
func evalAlert(t *testing.T, st storage.Storage, p signals.AlertParams, alert, whoLabel string, end time.Duration) map[time.Duration]alertState {
	t.Helper()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	var rule signals.Rule
	for _, g := range signals.AlertRuleGroups(p) {
		for _, r := range g.Rules {
			if r.Alert == alert {
				rule = r
			}
		}
	}
	return runRule(t, st, rule, whoLabel, end, nil)
}

// runRule evaluates rule like Prometheus's rule manager, every 15 s from
// t=0 to end; onFiring sees each firing alert with its expanded annotations.
func runRule(t *testing.T, st storage.Storage, rule signals.Rule, whoLabel string, end time.Duration, onFiring func(at time.Duration, a *rules.Alert)) map[time.Duration]alertState {
	t.Helper()
	alert := rule.Alert
	expr, err := promParser.ParseExpr(rule.Expr)
	if err != nil {
		t.Fatalf("%s: %v", alert, err)
	}
	hold, err := time.ParseDuration(rule.For)
	if err != nil {
		t.Fatal(err)
	}
	ar := rules.NewAlertingRule(alert, expr, hold, 0, labels.FromMap(rule.Labels), labels.FromMap(rule.Annotations), labels.EmptyLabels(), "", true, nil)
	query := rules.EngineQueryFunc(newEngine(t), st)
	states := map[time.Duration]alertState{}
	for at := time.Duration(0); at <= end; at += evalEvery {
		if _, err := ar.Eval(context.Background(), 0, epoch.Add(at), query, nil, 0); err != nil {
			t.Fatalf("%s at %v: %v", alert, at, err)
		}
		s := alertState{state: "inactive"}
		var who []string
		for _, a := range ar.ActiveAlerts() {
			switch a.State {
			case rules.StateFiring:
				s.state = "firing"
				if onFiring != nil {
					onFiring(at, a)
				}
			case rules.StatePending:
				if s.state != "firing" {
					s.state = "pending"
				}
			default:
				continue
			}
			who = append(who, a.Labels.Get(whoLabel))
		}
		sort.Strings(who)
		s.who = strings.Join(who, ",")
		states[at] = s
	}
	return states
}

func counterSteps(increments ...float64) string {
	var b strings.Builder
	// A long-running server: counters far above one window's increase, so
	// rate() never clamps its extrapolation at the counter's zero point
	// (promql/functions.go, extrapolatedRate), which would skew a ratio.
	v := 1e12
	b.WriteString(fmt.Sprint(v))
	for _, inc := range increments {
		v += inc
		fmt.Fprintf(&b, " %v", v)
	}
	return b.String()
}

// repeat is n copies of v.
func repeat(n int, v float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestAlertsFireAfterForAndClear(t *testing.T) {
	m := func(d time.Duration) time.Duration { return d } // reads as minutes below
	const min = time.Minute
	base := signals.AlertParams{TritonNamespace: tritonNamespace}.WithDefaults()

	tritonLoad := tritonOverload()
	queueFor := base // the default metric, requests in flight
	queueFor.QueueFor = 5 * min
	queueTime, _ := signals.LookupInferenceMetric(signals.MetricQueueTimePerRequest)
	queueParams := queueFor
	queueParams.Metric, queueParams.Target = queueTime, queueTime.DefaultTarget
	ratio, _ := signals.LookupInferenceMetric(signals.MetricQueueToComputeRatio)
	// Queue/compute: 20 ms compute per request, so 150 ms queueing is 7.5 on
	// pod A and 0.05 on B: mean 3.775. A target of 3 fires like the queue time.
	ratioParams := queueFor
	ratioParams.Metric, ratioParams.Target = ratio, 3

	for _, c := range []struct {
		name, alert, who, load string
		params                 signals.AlertParams
		want                   map[time.Duration]alertState
	}{
		{
			name: "queue time", alert: signals.AlertTritonQueueAboveTarget, who: "namespace", load: tritonLoad, params: queueParams,
			want: map[time.Duration]alertState{
				m(10 * min): {"inactive", ""}, 10*min + 15*time.Second: {"pending", "triton"},
				15 * min: {"pending", "triton"}, 15*min + 15*time.Second: {"firing", "triton"},
				25 * min: {"firing", "triton"}, 25*min + 15*time.Second: {"inactive", ""}, 39 * min: {"inactive", ""},
			},
		},
		{
			// The default. Only a window of three overloaded increments
			// reads above 6 (see tritonOverload), so it starts 15 s after
			// queue time and ends 15 s before.
			name: "requests in flight", alert: signals.AlertTritonQueueAboveTarget, who: "namespace", load: tritonLoad, params: queueFor,
			want: map[time.Duration]alertState{
				10*min + 15*time.Second: {"inactive", ""}, 10*min + 30*time.Second: {"pending", "triton"},
				15*min + 15*time.Second: {"pending", "triton"}, 15*min + 30*time.Second: {"firing", "triton"},
				24*min + 45*time.Second: {"firing", "triton"}, 25 * min: {"inactive", ""}, 39 * min: {"inactive", ""},
			},
		},
		{
			name: "queue/compute ratio", alert: signals.AlertTritonQueueAboveTarget, who: "namespace", load: tritonLoad, params: ratioParams,
			want: map[time.Duration]alertState{
				// One overloaded increment of three is not enough here:
				// (2*1.5e7+1e5)/6e6 = 5.02 on pod A, mean 2.53 < 3.
				10*min + 15*time.Second: {"inactive", ""}, 10*min + 30*time.Second: {"pending", "triton"},
				15*min + 15*time.Second: {"pending", "triton"}, 15*min + 30*time.Second: {"firing", "triton"},
				24*min + 45*time.Second: {"firing", "triton"}, 25 * min: {"inactive", ""},
			},
		},
		{
			// Issue 20: requests that time out in the queue (queue policy
			// timeout_action REJECT) become REJECTED failures (no queue
			// time, Triton core infer_stats.cc UpdateFailure); a full queue
			// (max_queue_size) does not (TestFullQueueFiresOnlyTheCallersAlert).
			// Model a rejects 2/s from 10m to 20m, model b fails nothing,
			// and another namespace's failures are not Triton's.
			name: "requests rejected", alert: signals.AlertTritonRequestsFailing, who: "model", params: queueFor,
			load: `
load 15s
  nv_inference_request_failure{namespace="triton",pod="p1",model="a",version="1",reason="REJECTED"} ` + counterSteps(append(append(repeat(40, 0), repeat(40, 30)...), repeat(80, 0)...)...) + `
  nv_inference_request_failure{namespace="triton",pod="p1",model="b",version="1",reason="REJECTED"} ` + counterSteps(repeat(160, 0)...) + `
  nv_inference_request_failure{namespace="other",pod="p9",model="c",version="1",reason="REJECTED"} ` + counterSteps(repeat(160, 30)...) + `
`,
			want: map[time.Duration]alertState{
				m(10 * min): {"inactive", ""}, 10*min + 15*time.Second: {"pending", "a"},
				15 * min: {"pending", "a"}, 15*min + 15*time.Second: {"firing", "a"},
				// The last increase is between 19m45s and 20m: a 5m window
				// holds both samples until 24m30s.
				24*min + 30*time.Second: {"firing", "a"}, 24*min + 45*time.Second: {"inactive", ""}, 39 * min: {"inactive", ""},
			},
		},
		{
			// Issue 21 item 2. A cold scale-out: triton-x waits 12 minutes
			// for a GPU node (unschedulable until the autoscaler's node
			// joins), then pulls and starts; no alert. triton-y finds no
			// node for good (group at maxSize): it fires once the hold,
			// longer than Triton's startup budget, has passed. A CPU pod
			// unschedulable all along is not a GPU problem.
			name: "GPU pod unschedulable", alert: signals.AlertGPUPodPending, who: "pod", params: base,
			load: `
load 15s
  kube_pod_status_unschedulable{namespace="triton",pod="triton-x",uid="u1"} 1x47 stale
  kube_pod_container_resource_requests{namespace="triton",pod="triton-x",uid="u1",container="triton",node="",resource="nvidia_com_gpu",unit="integer"} 1x160
  kube_pod_status_unschedulable{namespace="triton",pod="triton-y",uid="u3"} 1x160
  kube_pod_container_resource_requests{namespace="triton",pod="triton-y",uid="u3",container="triton",node="",resource="nvidia_com_gpu",unit="integer"} 1x160
  kube_pod_status_unschedulable{namespace="lds",pod="lds-y",uid="u2"} 1x160
  kube_pod_container_resource_requests{namespace="lds",pod="lds-y",uid="u2",container="lds",node="",resource="cpu",unit="core"} 0.5x160
`,
			want: map[time.Duration]alertState{
				0: {"pending", "triton-x,triton-y"}, 12 * min: {"pending", "triton-y"}, 24*min + 45*time.Second: {"pending", "triton-y"},
				25 * min: {"firing", "triton-y"}, 39 * min: {"firing", "triton-y"},
			},
		},
		{
			// spot-1 is cordoned at 10m (EKS drains it for its replacement)
			// and deleted at 12m; spot-2 goes NotReady at 20m for good;
			// a cordoned on-demand node is not a spot event.
			name: "spot node interrupted", alert: signals.AlertSpotNodeInterrupted, who: "node", params: base,
			load: `
load 15s
  kube_node_labels{node="spot-1",label_eks_amazonaws_com_capacity_type="SPOT",label_eks_amazonaws_com_nodegroup="nodes-spot"} 1x47 stale
  kube_node_spec_unschedulable{node="spot-1"} 0x39 1x7 stale
  kube_node_status_condition{node="spot-1",condition="Ready",status="true"} 1x47 stale
  kube_node_labels{node="spot-2",label_eks_amazonaws_com_capacity_type="SPOT",label_eks_amazonaws_com_nodegroup="nodes-spot"} 1x160
  kube_node_spec_unschedulable{node="spot-2"} 0x160
  kube_node_status_condition{node="spot-2",condition="Ready",status="true"} 1x79 0x80
  kube_node_labels{node="od-1",label_eks_amazonaws_com_capacity_type="ON_DEMAND",label_eks_amazonaws_com_nodegroup="nodes-system"} 1x160
  kube_node_spec_unschedulable{node="od-1"} 1x160
  kube_node_status_condition{node="od-1",condition="Ready",status="true"} 1x160
`,
			// Issue 21 item 3: spot-1 is deleted two minutes after its
			// cordon (the notice), and fires well before.
			want: map[time.Duration]alertState{
				m(9 * min): {"inactive", ""}, 10 * min: {"pending", "spot-1"}, 10*min + 30*time.Second: {"firing", "spot-1"},
				11*min + 45*time.Second: {"firing", "spot-1"}, 12 * min: {"inactive", ""},
				20 * min: {"pending", "spot-2"}, 20*min + 30*time.Second: {"firing", "spot-2"},
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := evalAlert(t, loadSeries(t, c.load), c.params, c.alert, c.who, 39*min)
			for at, w := range c.want {
				if got[at] != w {
					t.Errorf("at %v: %+v, want %+v", at, got[at], w)
				}
			}
			if t.Failed() {
				for at := time.Duration(0); at <= 39*min; at += 15 * time.Second {
					t.Logf("%v %+v", at, got[at])
				}
			}
		})
	}
}

// A full Triton queue (max_queue_size) refuses requests with 503 before
// any statistics (core src/scheduler_utils.cc PolicyQueue::Enqueue, then
// server src/http_server.cc HandleInfer): nv_inference_request_failure stays
// flat while the lds-service counts server_error. From 10m to 20m the
// service fails 2 calls/s that way; its rejected calls (a 4xx: a bug, not
// capacity) rise all along and never fire. InferenceCallsFailing fires
// after its hold and clears once the 5m window has no failure;
// TritonRequestsFailing and TritonUnavailable (Triton was up all along)
// never leave inactive.
func TestFullQueueFiresOnlyTheCallersAlert(t *testing.T) {
	const min = time.Minute
	p := signals.AlertParams{TritonNamespace: tritonNamespace, QueueFor: 5 * min}.WithDefaults()
	st := loadSeries(t, `
load 15s
  lds_triton_errors_total{namespace="lds",pod="lds-1",container="lds-service",reason="server_error"} `+counterSteps(append(append(repeat(40, 0), repeat(40, 30)...), repeat(80, 0)...)...)+`
  lds_triton_errors_total{namespace="lds",pod="lds-1",container="lds-service",reason="rejected"} `+counterSteps(repeat(160, 30)...)+`
  lds_triton_errors_total{namespace="lds",pod="lds-1",container="lds-service",reason="timeout"} `+counterSteps(repeat(160, 0)...)+`
  nv_inference_request_failure{namespace="triton",pod="p1",model="id_card",version="1",reason="REJECTED"} `+counterSteps(repeat(160, 0)...)+`
  nv_inference_request_failure{namespace="triton",pod="p1",model="id_card",version="1",reason="OTHER"} `+counterSteps(repeat(160, 0)...)+`
`)
	caller := evalAlert(t, st, p, signals.AlertInferenceCallsFailing, "namespace", 39*min)
	for at, w := range map[time.Duration]alertState{
		9 * min: {"inactive", ""}, 10 * min: {"inactive", ""}, 10*min + 15*time.Second: {"pending", "lds"},
		15 * min: {"pending", "lds"}, 15*min + 15*time.Second: {"firing", "lds"},
		// The last increase is between 19m45s and 20m: a 5m window holds
		// both samples until 24m30s.
		24*min + 30*time.Second: {"firing", "lds"}, 24*min + 45*time.Second: {"inactive", ""}, 39 * min: {"inactive", ""},
	} {
		if caller[at] != w {
			t.Errorf("%s at %v: %+v, want %+v", signals.AlertInferenceCallsFailing, at, caller[at], w)
		}
	}
	triton := evalAlert(t, st, p, signals.AlertTritonRequestsFailing, "model", 39*min)
	unavailable := evalAlert(t, st, p, signals.AlertTritonUnavailable, "namespace", 39*min)
	for at := time.Duration(0); at <= 39*min; at += evalEvery {
		if triton[at].state != "inactive" {
			t.Errorf("%s at %v: %+v, but Triton counted no failure", signals.AlertTritonRequestsFailing, at, triton[at])
		}
		if unavailable[at].state != "inactive" {
			t.Errorf("%s at %v: %+v, but Triton answered every call", signals.AlertTritonUnavailable, at, unavailable[at])
		}
	}

	// The text Prometheus expands names the namespace, the rate and the full queue.
	var rule signals.Rule
	for _, r := range signals.AlertRuleGroups(p)[0].Rules {
		if r.Alert == signals.AlertInferenceCallsFailing {
			rule = r
		}
	}
	var description string
	runRule(t, st, rule, "namespace", 16*min, func(_ time.Duration, a *rules.Alert) { description = a.Annotations.Get("description") })
	for _, want := range []string{"The lds-service in lds fails 2 calls/s to Triton", "max_queue_size", "for at least 5m."} {
		if !strings.Contains(description, want) {
			t.Errorf("description %q lacks %q", description, want)
		}
	}
}

// Triton scales to zero (KEDA): while no replica is ready the lds-service
// answers 503 with Retry-After and counts each call it could not pass on as
// unreachable (no ready pod behind the Service) or model_not_ready. With the
// default holds:
//   - a wake from zero is a cold start (GPU node 1m50s, image pull 5m34s,
//     model load 20s: docs/closed-loop.md) of such calls, here 9 minutes
//     from 10m, the last 30 s model_not_ready, then every call succeeds:
//     neither caller-side alert fires (InferenceCallsFailing did, with these
//     reasons and its 10m hold: the window keeps the rate up until 23m30s);
//   - no replica for 30 minutes from 5m (a rollout whose pods all fail, no
//     GPU capacity, a model that never loads) fires TritonUnavailable after
//     its 25m hold and clears with the window; InferenceCallsFailing, whose
//     reasons mean a running Triton cannot keep up, stays quiet.
func TestNoReadyTritonWarnsOnlyPastAColdStart(t *testing.T) {
	const min = time.Minute
	p := signals.AlertParams{TritonNamespace: tritonNamespace}.WithDefaults()
	lds := func(reason string, increments []float64) string {
		return fmt.Sprintf(`  lds_triton_errors_total{namespace="lds",pod="lds-1",container="lds-service",reason=%q} %s
`, reason, counterSteps(increments...))
	}
	const steps = 180 // 45 minutes of 15 s scrapes
	// run is 2 failed calls/s from sample before+1, for during samples.
	run := func(before, during int) []float64 {
		return append(append(repeat(before, 0), repeat(during, 30)...), repeat(steps-before-during, 0)...)
	}
	for _, c := range []struct {
		name, load  string
		fires       bool
		unavailable map[time.Duration]alertState
	}{
		{
			name: "wake from zero",
			// unreachable 10m15s..18m30s, model_not_ready 18m45s..19m.
			load: lds("unreachable", run(40, 34)) + lds("model_not_ready", append(repeat(74, 0), run(0, 2)[:steps-74]...)) +
				lds("server_error", repeat(steps, 0)) + lds("timeout", repeat(steps, 0)),
			unavailable: map[time.Duration]alertState{
				10 * min: {"inactive", ""}, 10*min + 15*time.Second: {"pending", "lds"},
				// The last failure is between 18m45s and 19m.
				23*min + 30*time.Second: {"pending", "lds"}, 23*min + 45*time.Second: {"inactive", ""}, 45 * min: {"inactive", ""},
			},
		},
		{
			name: "no replica for 30 minutes", fires: true,
			load: lds("unreachable", run(20, 120)) + lds("model_not_ready", repeat(steps, 0)) +
				lds("server_error", repeat(steps, 0)) + lds("timeout", repeat(steps, 0)),
			unavailable: map[time.Duration]alertState{
				5 * min: {"inactive", ""}, 5*min + 15*time.Second: {"pending", "lds"},
				30 * min: {"pending", "lds"}, 30*min + 15*time.Second: {"firing", "lds"},
				// The last failure is between 34m45s and 35m.
				39*min + 30*time.Second: {"firing", "lds"}, 39*min + 45*time.Second: {"inactive", ""}, 45 * min: {"inactive", ""},
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := loadSeries(t, "\nload 15s\n"+c.load)
			unavailable := evalAlert(t, st, p, signals.AlertTritonUnavailable, "namespace", 45*min)
			for at, w := range c.unavailable {
				if unavailable[at] != w {
					t.Errorf("%s at %v: %+v, want %+v", signals.AlertTritonUnavailable, at, unavailable[at], w)
				}
			}
			fired := false
			for at := time.Duration(0); at <= 45*min; at += evalEvery {
				fired = fired || unavailable[at].state == "firing"
			}
			if fired != c.fires {
				t.Errorf("%s fired: %v, want %v", signals.AlertTritonUnavailable, fired, c.fires)
			}
			capacity := evalAlert(t, st, p, signals.AlertInferenceCallsFailing, "namespace", 45*min)
			for at := time.Duration(0); at <= 45*min; at += evalEvery {
				if capacity[at].state != "inactive" {
					t.Errorf("%s at %v: %+v, but no call failed for capacity", signals.AlertInferenceCallsFailing, at, capacity[at])
				}
			}
			if t.Failed() {
				for at := time.Duration(0); at <= 45*min; at += time.Minute {
					t.Logf("%v %s %+v %s %+v", at, signals.AlertTritonUnavailable, unavailable[at], signals.AlertInferenceCallsFailing, capacity[at])
				}
			}
		})
	}

	// The text Prometheus expands names the namespace, the rate, what to
	// look at, and that a wake from zero is not this.
	var rule signals.Rule
	for _, g := range signals.AlertRuleGroups(p) {
		for _, r := range g.Rules {
			if r.Alert == signals.AlertTritonUnavailable {
				rule = r
			}
		}
	}
	st := loadSeries(t, "\nload 15s\n"+lds("unreachable", run(20, 120)))
	var description string
	runRule(t, st, rule, "namespace", 31*min, func(_ time.Duration, a *rules.Alert) { description = a.Annotations.Get("description") })
	for _, want := range []string{"The lds-service in lds finds no ready Triton replica for 2 calls/s", signals.AlertGPUPodPending,
		"While Triton scales from zero the lds-service answers 503 with Retry-After and this alert does not fire", "for at least 25m."} {
		if !strings.Contains(description, want) {
			t.Errorf("description %q lacks %q", description, want)
		}
	}
}

// tritonOverload is 40 minutes of two Triton pods' counters with an
// overload from 10m to 25m.
func tritonOverload() string {
	// Triton: 1000 requests per 15 s on each pod, 20 ms of compute each.
	// Pod A queues 1 ms per request, except from 10m to 25m (increments at
	// 10m00s..24m45s) when it queues 150 ms; pod B always 1 ms. Request
	// time is queue plus compute. The HPA's view, the mean over pods, where
	// at the edges the 1m window holds 1 or 2 overloaded increments of 3:
	//   queue time 75.5 ms > 50 ms during the overload, 1 ms outside;
	//   with 2 of 3 (100.3 ms + 1 ms)/2 ~ 50.7 ms (above), with 1 of 3
	//   (50.7 ms + 1 ms)/2 ~ 25.8 ms (below);
	//   requests in flight, request time per second: pod A 1.7e8 us per
	//   15 s = 11.33, pod B 2.1e7 us = 1.4, mean 6.367 > 6 during the
	//   overload, 1.4 outside; with 2 of 3 (8.022 + 1.4)/2 = 4.711 (below);
	//   GPU utilisation 0.95 on pod A during the overload, 0.5 otherwise and
	//   on B: 0.725 > 0.6 during the overload.
	const steps = 160 // 40 minutes of 15 s scrapes
	overload := func(normal, over float64) []float64 {
		return append(append(repeat(39, normal), repeat(60, over)...), repeat(steps-99, normal)...)
	}
	return fmt.Sprintf(`
load 15s
  nv_inference_request_success{namespace="triton",pod="a",model="m",version="1"} %s
  nv_inference_request_success{namespace="triton",pod="b",model="m",version="1"} %s
  nv_inference_queue_duration_us{namespace="triton",pod="a",model="m",version="1"} %s
  nv_inference_queue_duration_us{namespace="triton",pod="b",model="m",version="1"} %s
  nv_inference_compute_infer_duration_us{namespace="triton",pod="a",model="m",version="1"} %s
  nv_inference_compute_infer_duration_us{namespace="triton",pod="b",model="m",version="1"} %s
  nv_inference_request_duration_us{namespace="triton",pod="a",model="m",version="1"} %s
  nv_inference_request_duration_us{namespace="triton",pod="b",model="m",version="1"} %s
  nv_gpu_utilization{namespace="triton",pod="a",gpu_uuid="GPU-a"} 0.5x39 0.95x59 0.5x60
  nv_gpu_utilization{namespace="triton",pod="b",gpu_uuid="GPU-b"} 0.5x160
`, counterSteps(repeat(steps, 1000)...), counterSteps(repeat(steps, 1000)...),
		counterSteps(overload(1e6, 1.5e8)...), counterSteps(repeat(steps, 1e6)...),
		counterSteps(repeat(steps, 2e7)...), counterSteps(repeat(steps, 2e7)...),
		counterSteps(overload(2.1e7, 1.7e8)...), counterSteps(repeat(steps, 2.1e7)...))

}

// The alert compares the same number the HPA gets: its expression holds the
// adapter's query, evaluated here to the value the HPA would average.
func TestQueueAlertValueIsHPAAverage(t *testing.T) {
	st := loadScrapes(t, "testdata/triton-metrics.txt")
	queue, _ := signals.LookupInferenceMetric(signals.MetricQueueTimePerRequest)
	p := signals.AlertParams{TritonNamespace: tritonNamespace, Metric: queue, Target: 1e-9}.WithDefaults()
	expr := signals.AlertRuleGroups(p)[0].Rules[0].Expr
	got := instant(t, newEngine(t), st, expr, epoch.Add(time.Minute), "namespace")
	// (0.0005 + 0.035) / 2 pods: signals_test.go derives both.
	assertValues(t, "queue alert value", got, map[string]float64{tritonNamespace: 0.01775})
}

// Issue 21 item 4: the expanded alert text (Prometheus's own template
// expander, rules.AlertingRule.Eval) has no unit "1" after a ratio, shows
// queue time as a duration, and a value below 1 as a plain number (humanize
// would write 0.725 as "725m").
func TestAlertTextUnits(t *testing.T) {
	ratio, _ := signals.LookupInferenceMetric(signals.MetricQueueToComputeRatio)
	queue, _ := signals.LookupInferenceMetric(signals.MetricQueueTimePerRequest)
	gpu, _ := signals.LookupInferenceMetric(signals.MetricGPUUtilization)
	st := loadSeries(t, tritonOverload())
	for _, c := range []struct {
		params               signals.AlertParams
		summary, description string
	}{
		{signals.AlertParams{TritonNamespace: tritonNamespace, Metric: ratio, Target: 3},
			"Triton triton_queue_compute_ratio above the autoscaling target 3",
			"Triton in triton averages 3.775 triton_queue_compute_ratio per pod, above the HPA target"},
		{signals.AlertParams{TritonNamespace: tritonNamespace, Metric: queue},
			"Triton triton_queue_seconds_per_request above the autoscaling target 50ms",
			"Triton in triton averages 75.5ms triton_queue_seconds_per_request per pod, above the HPA target"},
		// The default: requests in flight, 6 per pod.
		{signals.AlertParams{TritonNamespace: tritonNamespace},
			"Triton triton_requests_in_flight above the autoscaling target 6",
			"Triton in triton averages 6.367 triton_requests_in_flight per pod, above the HPA target"},
		{signals.AlertParams{TritonNamespace: tritonNamespace, Metric: gpu},
			"Triton triton_gpu_utilization above the autoscaling target 0.6",
			"Triton in triton averages 0.725 triton_gpu_utilization per pod, above the HPA target"},
	} {
		p := c.params.WithDefaults()
		rule := signals.AlertRuleGroups(p)[0].Rules[0]
		var summary, description string
		runRule(t, st, rule, "namespace", 24*time.Minute, func(_ time.Duration, a *rules.Alert) {
			summary, description = a.Annotations.Get("summary"), a.Annotations.Get("description")
		})
		if summary != c.summary || !strings.HasPrefix(description, c.description) {
			t.Errorf("%s:\n summary     %q\n description %q", p.Metric.Key, summary, description)
		}
	}
}
