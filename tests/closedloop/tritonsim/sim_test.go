package tritonsim

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// batchedModel takes 8 ms + 2 ms per request: 10 ms for one request
// (100/s), 24 ms for eight (333/s).
func batchedModel(delay time.Duration) Model {
	return Model{Name: "m", Kind: KindGPU, Instances: 1, MaxBatchSize: 8,
		Compute:  Compute{Infer: Latency{Base: 8 * ms, PerItem: 2 * ms}},
		Batching: &DynamicBatching{MaxQueueDelay: delay}}
}

func TestBelowCapacityQueueStaysEmptyAndThroughputIsOffered(t *testing.T) {
	twoInstances := gpuModel("m", 10*ms)
	twoInstances.Instances = 2
	for _, tc := range []struct {
		name     string
		model    Model
		pods     []string
		rps      float64
		maxQueue time.Duration
	}{
		{"one instance at half capacity", gpuModel("m", 10*ms), []string{"p1"}, 50, 0},
		{"two instances at 75%", twoInstances, []string{"p1"}, 150, 0},
		{"two pods, round-robin, at 75%", gpuModel("m", 10*ms), []string{"p1", "p2"}, 150, 0},
		{"dynamic batching waits at most max_queue_delay", batchedModel(2 * ms), []string{"p1"}, 100, 2 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, Config{Models: []Model{tc.model}, Routing: RouteRoundRobin,
				Load: []Stream{{Model: "m", Trace: Constant(tc.rps), Arrivals: ArrivalsUniform}}}, tc.pods...)
			runTo(t, s, 61*time.Second)
			sum := s.Summary("m", 10*time.Second, 60*time.Second)
			if sum.Offered == 0 || sum.Outcomes[OutcomeSuccess] != sum.Offered {
				t.Errorf("%d of %d requests succeeded (%v)", sum.Outcomes[OutcomeSuccess], sum.Offered, sum.Outcomes)
			}
			if !within(sum.Throughput, tc.rps, 0.01) {
				t.Errorf("throughput %.1f/s, want the offered %.0f/s", sum.Throughput, tc.rps)
			}
			if sum.Queue.P99 > tc.maxQueue {
				t.Errorf("p99 queue time %v, want <= %v", sum.Queue.P99, tc.maxQueue)
			}
			// Triton's own view: mean queue time per success.
			var queueUS, success float64
			for _, p := range tc.pods {
				e := scrape(t, s, p)
				queueUS += e.sum("nv_inference_queue_duration_us", "m")
				success += e.sum("nv_inference_request_success", "m")
			}
			if success < 0.99*tc.rps*61 || queueUS/success > float64(tc.maxQueue.Microseconds()) {
				t.Errorf("Triton counts %v successes with %v µs queued in all, want ~%v with a mean <= %v", success, queueUS, tc.rps*61, tc.maxQueue)
			}
		})
	}
}

func TestAboveCapacity(t *testing.T) {
	// One pod with one 10 ms instance serves 100 requests/s; 150/s arrive.
	const capacity, offered = 100.0, 150.0
	withBatching := func(b DynamicBatching) Model {
		m := gpuModel("m", 10*ms)
		m.MaxBatchSize = 1
		m.Batching = &b
		return m
	}
	for _, tc := range []struct {
		name          string
		model         Model
		growing       bool          // the backlog grows by (offered - capacity)/s
		maxPending    float64       // else it stays at most this
		maxQueue      time.Duration // longest queue time of a success, 0: unbounded
		rejected      bool          // queue full: the client is refused, Triton counts nothing
		timedOut      bool          // Triton counts reason="REJECTED"
		failureReason string
	}{
		{name: "unbounded queue grows without bound", model: gpuModel("m", 10*ms), growing: true},
		{name: "max_queue_size refuses the excess at once", model: withBatching(DynamicBatching{MaxQueueSize: 50}),
			maxPending: 50, maxQueue: 500 * ms, rejected: true},
		{name: "queue timeout fails the excess as REJECTED", model: withBatching(DynamicBatching{QueueTimeout: 200 * ms}),
			maxPending: offered * 0.2 * 1.5, maxQueue: 200 * ms, timedOut: true, failureReason: ReasonRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, Config{Models: []Model{tc.model}, Seed: 7,
				Load: []Stream{{Model: "m", Trace: Constant(offered)}}}, "p1")
			runTo(t, s, 30*time.Second)
			e30 := scrape(t, s, "p1")
			runTo(t, s, 60*time.Second)
			e60 := scrape(t, s, "p1")

			served := (e60.sum("nv_inference_request_success", "m") - e30.sum("nv_inference_request_success", "m")) / 30
			if !within(served, capacity, 0.02) {
				t.Errorf("served %.1f/s, want the capacity %.0f/s", served, capacity)
			}
			p30, p60 := e30.sum("nv_inference_pending_request_count", "m"), e60.sum("nv_inference_pending_request_count", "m")
			if pods := s.Pods(); float64(pods[0].Pending) != p60 {
				t.Errorf("pending gauge %v, but %d requests are queued", p60, pods[0].Pending)
			}
			if tc.growing {
				if want := (offered - capacity) * 30; !within(p60-p30, want, 0.15) {
					t.Errorf("backlog grew by %v in 30 s, want ~%v", p60-p30, want)
				}
			} else if p30 > tc.maxPending || p60 > tc.maxPending {
				t.Errorf("pending %v then %v, want <= %v", p30, p60, tc.maxPending)
			}

			sum := s.Summary("m", 0, 60*time.Second)
			excess := (offered - capacity) * 60
			for _, o := range []struct {
				outcome Outcome
				want    bool
			}{{OutcomeRejected, tc.rejected}, {OutcomeTimedOut, tc.timedOut}} {
				got := float64(sum.Outcomes[o.outcome])
				if o.want && !within(got, excess, 0.15) || !o.want && got != 0 {
					t.Errorf("%d requests %s, want %v", int(got), o.outcome, map[bool]string{true: fmt.Sprintf("~%v", excess), false: "none"}[o.want])
				}
			}
			for _, reason := range failureReasons {
				want := 0.0
				if reason == tc.failureReason {
					want = float64(sum.Outcomes[OutcomeTimedOut])
				}
				if got := e60.sum("nv_inference_request_failure", "m", reason); got != want {
					t.Errorf("failure{reason=%q} = %v, want %v", reason, got, want)
				}
			}
			if tc.maxQueue > 0 && sum.Queue.P99 > tc.maxQueue {
				t.Errorf("p99 queue time %v, want <= %v", sum.Queue.P99, tc.maxQueue)
			}

			// Only successes add queue and request time: the counters are
			// exactly the successful samples' (microseconds truncated per
			// request, as Triton does).
			var queueUS, requestUS, successes float64
			for _, x := range s.Samples() {
				if x.Outcome == OutcomeSuccess {
					queueUS += float64(x.Queue / time.Microsecond)
					requestUS += float64(x.Latency() / time.Microsecond)
					successes++
				}
			}
			if got := e60.sum("nv_inference_queue_duration_us", "m"); got != queueUS {
				t.Errorf("queue duration counter %v µs, successes queued %v µs", got, queueUS)
			}
			if got := e60.sum("nv_inference_request_duration_us", "m"); got != requestUS {
				t.Errorf("request duration counter %v µs, successes took %v µs", got, requestUS)
			}
			if got := e60.sum("nv_inference_request_success", "m"); got != successes {
				t.Errorf("success counter %v, %v successful samples", got, successes)
			}
		})
	}
}

func TestLittlesLawHoldsInSteadyState(t *testing.T) {
	twoInstances := gpuModel("m", 10*ms)
	twoInstances.Instances = 2
	for _, tc := range []struct {
		name    string
		model   Model
		pods    []string
		rps     float64
		routing Routing
	}{
		{"M/D/2 at 80%", twoInstances, []string{"p1"}, 160, RouteRandom},
		{"dynamic batching, three pods at 60%, random routing", batchedModel(time.Millisecond), []string{"p1", "p2", "p3"}, 600, RouteRandom},
		{"three pods, least pending", gpuModel("m", 10*ms), []string{"p1", "p2", "p3"}, 270, RouteLeastPending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, Config{Models: []Model{tc.model}, Routing: tc.routing, Seed: 3,
				Load: []Stream{{Model: "m", Trace: Constant(tc.rps)}}}, tc.pods...)
			from, to := 50*time.Second, 350*time.Second
			runTo(t, s, from)
			a0 := s.RequestSeconds()
			runTo(t, s, to)
			a1 := s.RequestSeconds()
			runTo(t, s, to+10*time.Second)

			window := (to - from).Seconds()
			meanInSystem := (a1 - a0) / window
			var n int
			var total time.Duration
			for _, x := range s.Samples() {
				if x.Arrival >= from && x.Arrival < to {
					n++
					total += x.Latency()
				}
			}
			lambda := float64(n) / window
			meanTime := total.Seconds() / float64(n)
			if sum := s.Summary("m", from, to); sum.InFlight != 0 || sum.Outcomes[OutcomeSuccess] != n {
				t.Fatalf("window not finished: %+v", sum)
			}
			if !within(lambda*meanTime, meanInSystem, 0.02) {
				t.Errorf("L = %.3f requests in system, λW = %.1f/s × %v = %.3f", meanInSystem, lambda, time.Duration(meanTime*float64(time.Second)), lambda*meanTime)
			}
			if meanInSystem < 1 {
				t.Errorf("L = %.3f: the scenario should keep requests in the system", meanInSystem)
			}
		})
	}
}

func TestDynamicBatchingRaisesCapacity(t *testing.T) {
	const offered = 200.0
	unbatched := batchedModel(0)
	unbatched.MaxBatchSize, unbatched.Batching = 0, nil
	for _, tc := range []struct {
		name          string
		model         Model
		wantCapacity  float64
		wantServed    float64
		backlogGrows  bool
		minBatchAvg   float64
		maxBatchAvg   float64
		maxQueueAtP99 time.Duration
	}{
		{name: "one request per execution", model: unbatched, wantCapacity: 100, wantServed: 100, backlogGrows: true, minBatchAvg: 1, maxBatchAvg: 1},
		{name: "batches of up to 8", model: batchedModel(0), wantCapacity: 1000.0 / 3, wantServed: offered, minBatchAvg: 1.5, maxBatchAvg: 8, maxQueueAtP99: 100 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.model.Capacity(); !within(got, tc.wantCapacity, 1e-9) {
				t.Errorf("Capacity() = %v, want %v", got, tc.wantCapacity)
			}
			s := newSim(t, Config{Models: []Model{tc.model}, Seed: 11,
				Load: []Stream{{Model: "m", Trace: Constant(offered)}}}, "p1")
			runTo(t, s, 30*time.Second)
			e30 := scrape(t, s, "p1")
			runTo(t, s, 60*time.Second)
			e60 := scrape(t, s, "p1")
			served := (e60.sum("nv_inference_request_success", "m") - e30.sum("nv_inference_request_success", "m")) / 30
			if !within(served, tc.wantServed, 0.03) {
				t.Errorf("served %.1f/s, want %.0f/s", served, tc.wantServed)
			}
			pending := e60.sum("nv_inference_pending_request_count", "m")
			if tc.backlogGrows != (pending > 1000) {
				t.Errorf("pending %v after 60 s; backlog growing: want %v", pending, tc.backlogGrows)
			}
			avg := e60.sum("nv_inference_count", "m") / e60.sum("nv_inference_exec_count", "m")
			if avg < tc.minBatchAvg || avg > tc.maxBatchAvg {
				t.Errorf("mean batch (inference count / exec count) %.2f, want in [%v, %v]", avg, tc.minBatchAvg, tc.maxBatchAvg)
			}
			if sum := s.Summary("m", 10*time.Second, 50*time.Second); tc.maxQueueAtP99 > 0 && sum.Queue.P99 > tc.maxQueueAtP99 {
				t.Errorf("p99 queue %v, want <= %v", sum.Queue.P99, tc.maxQueueAtP99)
			}
		})
	}
}

// pipeline is an ensemble of three GPU models; step b is the slowest
// (4 ms: 250/s per pod).
func pipeline(b Model) []Model {
	step := func(name string, in, infer, out time.Duration) Model {
		return Model{Name: name, Kind: KindGPU, Instances: 1,
			Compute: Compute{Input: Latency{Base: in}, Infer: Latency{Base: infer}, Output: Latency{Base: out}}}
	}
	if b.Name == "" {
		b = step("b", ms, 2*ms, ms)
	}
	return []Model{
		step("a", ms, ms, ms),
		b,
		step("c", 0, 2*ms, 0),
		{Name: "pipeline", Steps: []string{"a", "b", "c"}},
	}
}

func TestEnsembleQueuesInItsStepsNotItself(t *testing.T) {
	s := newSim(t, Config{Models: pipeline(Model{}), Seed: 5,
		Load: []Stream{{Model: "pipeline", Trace: Piecewise(Point{0, 200}, Point{60 * time.Second, 0})}}}, "p1")
	runTo(t, s, 30*time.Second)
	mid := scrape(t, s, "p1")
	if got := mid.sum("nv_inference_pending_request_count", "pipeline"); got != 0 {
		t.Errorf("ensemble pending %v, want 0: Triton moves an ensemble request to EXECUTING as it is enqueued", got)
	}
	runTo(t, s, 70*time.Second)
	e := scrape(t, s, "p1")

	sum := s.Summary("pipeline", 0, 70*time.Second)
	success := e.sum("nv_inference_request_success", "pipeline")
	if success < 11000 || success != float64(sum.Outcomes[OutcomeSuccess]) || sum.Offered != sum.Outcomes[OutcomeSuccess] {
		t.Fatalf("ensemble successes %v, summary %+v", success, sum)
	}
	for _, f := range []string{"nv_inference_exec_count", "nv_inference_count"} {
		if got := e.sum(f, "pipeline"); got != success {
			t.Errorf("ensemble %s = %v, want one per request (%v)", f, got, success)
		}
	}
	if got := e.sum("nv_inference_queue_duration_us", "pipeline"); got != 0 {
		t.Errorf("ensemble queue duration %v µs, want 0", got)
	}
	var stepsQueueUS, stepsRequestUS float64
	for _, step := range []string{"a", "b", "c"} {
		if got := e.sum("nv_inference_request_success", step); got != success {
			t.Errorf("step %s: %v successes, want %v", step, got, success)
		}
		stepsQueueUS += e.sum("nv_inference_queue_duration_us", step)
		stepsRequestUS += e.sum("nv_inference_request_duration_us", step)
	}
	// a (60% busy) and b (80%) queue under Poisson arrivals; c never does:
	// b hands it requests at least 4 ms apart and c takes 2 ms.
	for step, minMeanUS := range map[string]float64{"a": 500, "b": 4000} {
		if got := e.sum("nv_inference_queue_duration_us", step) / success; got < minMeanUS {
			t.Errorf("step %s's mean queue %.0f µs, want > %v µs", step, got, minMeanUS)
		}
	}
	if got := e.sum("nv_inference_queue_duration_us", "c"); got != 0 {
		t.Errorf("step c queued %v µs behind the slower step b", got)
	}
	// The ensemble's compute is the sum of its steps' (whole milliseconds
	// here, so no rounding).
	for _, f := range []string{"nv_inference_compute_input_duration_us", "nv_inference_compute_infer_duration_us", "nv_inference_compute_output_duration_us"} {
		want := e.sum(f, "a") + e.sum(f, "b") + e.sum(f, "c")
		if got := e.sum(f, "pipeline"); got != want || got == 0 {
			t.Errorf("ensemble %s = %v, want the steps' sum %v", f, got, want)
		}
	}
	// Its request time spans the steps' (each truncated to µs on its own).
	if got := e.sum("nv_inference_request_duration_us", "pipeline"); got < stepsRequestUS || got > stepsRequestUS+3*success {
		t.Errorf("ensemble request duration %v µs, steps' %v µs", got, stepsRequestUS)
	}
	var samplesQueue time.Duration
	for _, x := range s.Samples() {
		samplesQueue += x.Queue
	}
	if got := float64(samplesQueue / time.Microsecond); got < stepsQueueUS || got > stepsQueueUS+3*success {
		t.Errorf("samples queued %v µs, steps count %v µs", got, stepsQueueUS)
	}
	// The backend reports a GPU step's successes on its instance series
	// (gpu_uuid); the ensemble has only the {model, version} series.
	for _, l := range e.labels["nv_inference_request_success"] {
		_, gpu := l[LabelGPUUUID]
		v := e.samples[seriesKey("nv_inference_request_success", l)]
		switch {
		case l[LabelModel] == "pipeline" && (gpu || v != success),
			l[LabelModel] != "pipeline" && gpu != (v == success):
			t.Errorf("series %v = %v: want the ensemble's and GPU steps' successes on their instance series", l, v)
		}
	}
}

func TestEnsembleFailureCountsOtherTwice(t *testing.T) {
	slow := func(b DynamicBatching) Model {
		return Model{Name: "b", Kind: KindGPU, Instances: 1, MaxBatchSize: 1, Batching: &b,
			Compute: Compute{Input: Latency{Base: ms}, Infer: Latency{Base: 2 * ms}, Output: Latency{Base: ms}}}
	}
	for _, tc := range []struct {
		name       string
		b          Model
		outcome    Outcome
		stepReason string // what step b counts per failure, "" for nothing
	}{
		{"step queue full", slow(DynamicBatching{MaxQueueSize: 5}), OutcomeRejected, ""},
		{"step queue timeout", slow(DynamicBatching{QueueTimeout: 20 * ms}), OutcomeTimedOut, ReasonRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, Config{Models: pipeline(tc.b), Seed: 9,
				Load: []Stream{{Model: "pipeline", Trace: Constant(400)}}}, "p1")
			runTo(t, s, 20*time.Second)
			e := scrape(t, s, "p1")
			failed := float64(s.Summary("pipeline", 0, 20*time.Second).Outcomes[tc.outcome])
			if failed < 1000 {
				t.Fatalf("%v ensemble requests %s, want many at 400/s on a 250/s step", failed, tc.outcome)
			}
			for _, reason := range failureReasons {
				want := 0.0
				if reason == ReasonOther {
					want = 2 * failed
				}
				if got := e.sum("nv_inference_request_failure", "pipeline", reason); got != want {
					t.Errorf("ensemble failure{reason=%q} = %v, want %v", reason, got, want)
				}
				stepWant := 0.0
				if reason == tc.stepReason {
					stepWant = failed
				}
				if got := e.sum("nv_inference_request_failure", "b", reason); got != stepWant {
					t.Errorf("step b failure{reason=%q} = %v, want %v", reason, got, stepWant)
				}
			}
		})
	}
}

func TestPodRemoval(t *testing.T) {
	// Two pods of 100/s each get 150/s each: at 10 s each holds ~500.
	for _, tc := range []struct {
		name             string
		removal          Removal
		exitTimeout      time.Duration
		exitMin, exitMax time.Duration
		dropsAll         bool // every request in flight at removal is lost
		dropsSome        bool
	}{
		{name: "drain finishes what the pod holds", removal: RemovalDrain, exitMin: 14 * time.Second, exitMax: 16 * time.Second},
		{name: "drain ends at the exit timeout", removal: RemovalDrain, exitTimeout: 2 * time.Second, exitMin: 12 * time.Second, exitMax: 12 * time.Second, dropsSome: true},
		{name: "kill loses what the pod holds", removal: RemovalKill, exitMin: 10 * time.Second, exitMax: 10 * time.Second, dropsAll: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, Config{Models: []Model{gpuModel("m", 10*ms)}, Routing: RouteRoundRobin,
				Removal: tc.removal, ExitTimeout: tc.exitTimeout,
				Load: []Stream{{Model: "m", Trace: Constant(300), Arrivals: ArrivalsUniform}}}, "p1", "p2")
			runTo(t, s, 10*time.Second)
			held := s.Pods()[1].InFlight
			before := scrape(t, s, "p2").sum("nv_inference_request_success", "m")
			if held < 400 {
				t.Fatalf("p2 holds %d requests, want ~500", held)
			}
			if err := s.SetPods([]string{"p1"}); err != nil {
				t.Fatal(err)
			}
			if tc.removal == RemovalDrain {
				runTo(t, s, 11*time.Second)
				if during := scrape(t, s, "p2").sum("nv_inference_request_success", "m"); during <= before {
					t.Errorf("draining p2 served nothing in a second (%v then %v)", before, during)
				}
			}
			runTo(t, s, 40*time.Second)

			p2 := s.Pods()[1]
			if p2.Running || p2.Exited < tc.exitMin || p2.Exited > tc.exitMax {
				t.Errorf("p2 running=%v exited at %v, want exited in [%v, %v]", p2.Running, p2.Exited, tc.exitMin, tc.exitMax)
			}
			var dropped, servedAfter int
			for _, x := range s.Samples() {
				if x.Pod != "p2" {
					continue
				}
				if x.Arrival > 10*time.Second {
					t.Fatalf("request arriving at %v went to removed pod p2", x.Arrival)
				}
				switch {
				case x.Outcome == OutcomeDropped:
					dropped++
					if x.End != p2.Exited {
						t.Errorf("dropped at %v, pod exited at %v", x.End, p2.Exited)
					}
				case x.Outcome == OutcomeSuccess && x.End > 10*time.Second:
					servedAfter++
				}
			}
			if dropped+servedAfter != held {
				t.Errorf("p2 held %d at removal: %d dropped + %d served after", held, dropped, servedAfter)
			}
			switch {
			case tc.dropsAll && dropped != held, tc.dropsSome && (dropped == 0 || servedAfter == 0), !tc.dropsAll && !tc.dropsSome && dropped != 0:
				t.Errorf("%d dropped and %d served of the %d p2 held", dropped, servedAfter, held)
			}
			if _, err := s.Metrics("p2"); err == nil || !strings.Contains(err.Error(), "not running") {
				t.Errorf("metrics of an exited pod: %v, want a not-running error", err)
			}
		})
	}
}

func TestSetPods(t *testing.T) {
	s := newSim(t, Config{Models: []Model{gpuModel("m", 10*ms)}, Routing: RouteRoundRobin,
		Load: []Stream{{Model: "m", Trace: Constant(300), Arrivals: ArrivalsUniform}}}, "p1", "p2")
	runTo(t, s, 2*time.Second)
	if err := s.SetPods([]string{"p1"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pods []string
		want string
	}{
		{[]string{""}, "pods[0]: name is required"},
		{[]string{"p1", "p1"}, `pods[1]: "p1" is listed twice`},
		{[]string{"p1", "p2"}, `pods[1]: "p2" is terminating`},
	} {
		if err := s.SetPods(tc.pods); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SetPods(%q) = %v, want %q", tc.pods, err, tc.want)
		}
	}
	runTo(t, s, 10*time.Second) // p2 drains and exits
	if err := s.SetPods([]string{"p1", "p2"}); err != nil {
		t.Fatalf("a new pod may reuse an exited pod's name: %v", err)
	}
	if got := scrape(t, s, "p2").sum("nv_inference_request_success", "m"); got != 0 {
		t.Errorf("new p2 starts with %v successes, want fresh counters (a new process)", got)
	}
	runTo(t, s, 11*time.Second)
	if got := scrape(t, s, "p2").sum("nv_inference_request_success", "m"); got == 0 {
		t.Error("new p2 gets no requests")
	}
	if pods := s.Pods(); len(pods) != 3 || pods[1].Running || !pods[2].Running {
		t.Errorf("pods %+v, want p1, the exited p2 and the new p2", pods)
	}
}

func TestNoReadyPodRefusesRequests(t *testing.T) {
	s := newSim(t, Config{Models: []Model{gpuModel("m", 10*ms)}, Load: []Stream{{Model: "m", Trace: Constant(10), Arrivals: ArrivalsUniform}}})
	runTo(t, s, 10*time.Second)
	if sum := s.Summary("", 0, 11*time.Second); sum.Offered != 100 || sum.Outcomes[OutcomeNoEndpoint] != 100 {
		t.Errorf("without pods: %+v, want 100 no-endpoint", sum)
	}
}

// Finished keeps counting what DrainSamples hands out: a caller's error
// counter (the loop's lds-service stand-in) reads it for the whole run.
func TestFinishedCountsEveryOutcomeAcrossDrains(t *testing.T) {
	s := newSim(t, Config{Models: []Model{gpuModel("m", 10*ms)}, Load: []Stream{{Model: "m", Trace: Constant(10), Arrivals: ArrivalsUniform}}})
	runTo(t, s, 5*time.Second)
	if n := len(s.DrainSamples()); n != 50 {
		t.Fatalf("drained %d samples, want 50", n)
	}
	if err := s.SetPods([]string{"p1"}); err != nil {
		t.Fatal(err)
	}
	runTo(t, s, 10*time.Second)
	got := s.Finished()
	if got[OutcomeNoEndpoint] != 50 || got[OutcomeSuccess] < 49 {
		t.Errorf("finished %v, want 50 no-endpoint (drained) and ~50 successes", got)
	}
	got[OutcomeNoEndpoint] = 0
	if s.Finished()[OutcomeNoEndpoint] != 50 {
		t.Error("Finished returned the simulator's own map")
	}
}

func TestRouting(t *testing.T) {
	fast := gpuModel("m", ms)
	fast.Instances = 4
	slow := gpuModel("m", 10*ms)
	for _, tc := range []struct {
		name      string
		routing   Routing
		model     Model
		rps       float64
		shareTol  float64 // each pod's share of arrivals within this of 1/3
		imbalance func(max, min int) bool
	}{
		{name: "round-robin", routing: RouteRoundRobin, model: fast, rps: 300, shareTol: 0.001},
		{name: "random", routing: RouteRandom, model: fast, rps: 1000, shareTol: 0.04},
		{name: "least pending keeps backlogs level", routing: RouteLeastPending, model: slow, rps: 450,
			imbalance: func(max, min int) bool { return max-min > 2 }},
		{name: "random lets backlogs drift apart", routing: RouteRandom, model: slow, rps: 450,
			imbalance: func(max, min int) bool { return max-min < 10 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arrivals := ArrivalsPoisson
			if tc.routing == RouteRoundRobin {
				arrivals = ArrivalsUniform
			}
			s := newSim(t, Config{Models: []Model{tc.model}, Routing: tc.routing, Seed: 13,
				Load: []Stream{{Model: "m", Trace: Constant(tc.rps), Arrivals: arrivals}}}, "p1", "p2", "p3")
			for end := 5 * time.Second; end <= 30*time.Second; end += 5 * time.Second {
				runTo(t, s, end)
				if tc.imbalance == nil {
					continue
				}
				lo, hi := math.MaxInt, 0
				for _, p := range s.Pods() {
					lo, hi = min(lo, p.InFlight), max(hi, p.InFlight)
				}
				if tc.imbalance(hi, lo) {
					t.Errorf("at %v pods hold between %d and %d requests", end, lo, hi)
				}
			}
			if tc.shareTol == 0 {
				return
			}
			perPod := map[string]int{}
			total := 0
			for _, x := range s.Samples() {
				perPod[x.Pod]++
				total++
			}
			for _, p := range []string{"p1", "p2", "p3"} {
				if share := float64(perPod[p]) / float64(total); !within(share, 1.0/3, tc.shareTol) {
					t.Errorf("%s got %.4f of %d requests, want 1/3 ± %v", p, share, total, tc.shareTol)
				}
			}
		})
	}
}

func TestLoadTraces(t *testing.T) {
	bySecond := func(samples []Sample) map[int]int {
		out := map[int]int{}
		for _, x := range samples {
			out[int(x.Arrival/time.Second)]++
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		stream   Stream
		want     float64 // arrivals in 200 s
		tol      float64
		check    func(t *testing.T, perSecond map[int]int)
		firstArr time.Duration
	}{
		{name: "uniform", stream: Stream{Trace: Constant(50), Arrivals: ArrivalsUniform}, want: 10000, tol: 0.0001},
		{name: "poisson", stream: Stream{Trace: Constant(50)}, want: 10000, tol: 0.04},
		{name: "piecewise", stream: Stream{Trace: Piecewise(Point{10 * time.Second, 100}, Point{20 * time.Second, 0}), Arrivals: ArrivalsUniform}, want: 1000, tol: 0.001,
			check: func(t *testing.T, perSecond map[int]int) {
				for sec, n := range perSecond {
					if (sec < 10 || sec > 20) && n > 0 {
						t.Errorf("%d arrivals in second %d, outside the trace's 10-20 s", n, sec)
					}
				}
			}},
		{name: "ramp", stream: Stream{Trace: Ramp(0, 100, 0, 200*time.Second), Arrivals: ArrivalsUniform}, want: 9950, tol: 0.001,
			check: func(t *testing.T, perSecond map[int]int) {
				if perSecond[10] > perSecond[190]/10 {
					t.Errorf("ramp: %d arrivals at 10 s, %d at 190 s", perSecond[10], perSecond[190])
				}
			}},
		{name: "noise varies each second around the rate", stream: Stream{Trace: Constant(100), Noise: 0.5, Arrivals: ArrivalsUniform}, want: 20000, tol: 0.05,
			check: func(t *testing.T, perSecond map[int]int) {
				lo, hi := math.MaxInt, 0
				for sec := 1; sec < 199; sec++ {
					lo, hi = min(lo, perSecond[sec]), max(hi, perSecond[sec])
				}
				if lo > 70 || hi < 130 {
					t.Errorf("per-second arrivals in [%d, %d], want ±50%% noise to reach below 70 and above 130", lo, hi)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.stream.Model = "m"
			// No pods: every arrival is refused at once, so samples count arrivals.
			s := newSim(t, Config{Models: []Model{gpuModel("m", ms)}, Load: []Stream{tc.stream}, Seed: 17})
			runTo(t, s, 200*time.Second)
			samples := s.Samples()
			if got := float64(len(samples)); !within(got, tc.want, tc.tol) {
				t.Errorf("%v arrivals, want %v ± %v", got, tc.want, tc.tol)
			}
			if tc.check != nil {
				tc.check(t, bySecond(samples))
			}
		})
	}
}

func TestBadTraceRateIsAnError(t *testing.T) {
	s := newSim(t, Config{Models: []Model{gpuModel("m", ms)}, Load: []Stream{{Model: "m", Trace: Ramp(10, -10, 0, 10*time.Second)}}})
	err := s.Run(20*time.Second, time.Second)
	if err == nil || !strings.Contains(err.Error(), `load[0] (model "m"): trace gives -`) {
		t.Errorf("negative rate: %v, want an error naming load[0]", err)
	}
	if err := s.Step(0); err == nil || !strings.Contains(err.Error(), "dt must be > 0") {
		t.Errorf("Step(0) = %v", err)
	}
}

// TestResultsDoNotDependOnStepSize: the clock is event-driven, so a later
// tier may step it at any rate.
func TestResultsDoNotDependOnStepSize(t *testing.T) {
	for _, tc := range []struct {
		name       string
		arrivals   Arrivals
		noise      float64
		resolution time.Duration
	}{
		{"poisson with noise", ArrivalsPoisson, 0.3, 0},
		// Evenly spaced arrivals and whole-millisecond batches: arrivals,
		// batch ends and batching deadlines fall at the same instants, and
		// with a 10 ms trace resolution a long step schedules many
		// segments' arrivals before the batches that end among them.
		{"uniform, simultaneous events", ArrivalsUniform, 0, 10 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testStepSizes(t, tc.arrivals, tc.noise, tc.resolution)
		})
	}
}

func testStepSizes(t *testing.T, arrivals Arrivals, noise float64, resolution time.Duration) {
	cfg := func() Config {
		plain := batchedModel(3 * ms)
		plain.Batching.MaxQueueSize = 40
		plain.Batching.QueueTimeout = 150 * ms
		return Config{Models: append([]Model{plain}, pipeline(Model{})...), Seed: 21, TraceResolution: resolution,
			Load: []Stream{
				{Model: "m", Trace: Piecewise(Point{0, 50}, Point{5 * time.Second, 500}, Point{12 * time.Second, 200}), Noise: noise, Arrivals: arrivals},
				{Model: "pipeline", Trace: Constant(125), Noise: noise, Arrivals: arrivals},
			}}
	}
	type result struct {
		Samples []Sample
		Pods    []PodStats
		Metrics string
	}
	run := func(steps ...time.Duration) result {
		s := newSim(t, cfg(), "p1", "p2")
		i := 0
		for _, phase := range []struct {
			until time.Duration
			pods  []string
		}{{5 * time.Second, []string{"p1", "p3"}}, {20 * time.Second, nil}} {
			for s.Now() < phase.until {
				if err := s.Step(min(steps[i%len(steps)], phase.until-s.Now())); err != nil {
					t.Fatal(err)
				}
				i++
			}
			if phase.pods != nil {
				if err := s.SetPods(phase.pods); err != nil {
					t.Fatal(err)
				}
			}
		}
		m1, err := s.Metrics("p1")
		if err != nil {
			t.Fatal(err)
		}
		m3, err := s.Metrics("p3")
		if err != nil {
			t.Fatal(err)
		}
		return result{s.Samples(), s.Pods(), string(m1) + string(m3)}
	}
	want := run(time.Millisecond)
	if len(want.Samples) < 5000 {
		t.Fatalf("only %d samples", len(want.Samples))
	}
	for _, steps := range [][]time.Duration{{time.Second}, {7 * ms, 333 * ms, time.Microsecond, 2500 * ms}} {
		got := run(steps...)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("steps %v give different results than 1 ms steps (%d vs %d samples)", steps, len(got.Samples), len(want.Samples))
		}
	}
}

func TestMaxQueueDelayHoldsRequestsToFillBatches(t *testing.T) {
	// One request every 20 ms. Without a delay each runs alone at once;
	// with 30 ms the oldest waits for the next and both run together.
	for _, tc := range []struct {
		name          string
		delay         time.Duration
		wantBatch     float64
		wantMeanQueue time.Duration
	}{
		{"no delay", 0, 1, 0},
		{"30 ms delay", 30 * ms, 2, 20 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, Config{Models: []Model{batchedModel(tc.delay)},
				Load: []Stream{{Model: "m", Trace: Constant(50), Arrivals: ArrivalsUniform}}}, "p1")
			runTo(t, s, 10*time.Second)
			e := scrape(t, s, "p1")
			success := e.sum("nv_inference_request_success", "m")
			if got := e.sum("nv_inference_count", "m") / e.sum("nv_inference_exec_count", "m"); !within(got, tc.wantBatch, 0.01) {
				t.Errorf("mean batch %.2f, want %v", got, tc.wantBatch)
			}
			if got := time.Duration(e.sum("nv_inference_queue_duration_us", "m")/success) * time.Microsecond; got != tc.wantMeanQueue {
				t.Errorf("mean queue %v, want %v", got, tc.wantMeanQueue)
			}
		})
	}
}

func TestUtilisation(t *testing.T) {
	// 60 requests/s of 10 ms on two instances: each instance is busy 30%.
	m := gpuModel("m", 10*ms)
	m.Instances = 2
	s := newSim(t, Config{Models: []Model{m}, Load: []Stream{{Model: "m", Trace: Constant(60), Arrivals: ArrivalsUniform}}}, "p1")
	runTo(t, s, 100*time.Second)
	p := s.Pods()[0]
	if !within(p.Utilisation, 0.3, 0.01) || !within(p.ModelUtilisation["m"], 0.3, 0.01) || !within(p.InstanceSeconds, 200, 1e-9) {
		t.Errorf("utilisation %+v, want 0.3 of 200 instance-seconds", p)
	}
}
