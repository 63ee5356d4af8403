package loop

import (
	"time"

	"github.com/aiplatform/infra/tests/closedloop/report"
	"github.com/aiplatform/infra/tests/closedloop/tritonsim"
	"github.com/aiplatform/infra/workloads/observability/signals"
)

// detect is the scenarios' model: one GPU instance with dynamic batching
// (max batch 8, 2 ms queue delay); a batch of n takes 20 ms + 5 ms × n, so
// a pod completes at most 8 / 60 ms ≈ 133 requests/s.
func detect(b *tritonsim.DynamicBatching) tritonsim.Model {
	if b == nil {
		b = &tritonsim.DynamicBatching{MaxQueueDelay: 2 * time.Millisecond}
	}
	return tritonsim.Model{Name: "detect", Instances: 1, MaxBatchSize: 8, Batching: b,
		Compute: tritonsim.Compute{Infer: tritonsim.Latency{Base: 20 * time.Millisecond, PerItem: 5 * time.Millisecond}}}
}

// Signals are the scaling signals the tier compares: queue time (the
// default until these figures), concurrency and GPU utilisation.
var Signals = []string{"queueTimePerRequest", "concurrency", "gpuUtilization"}

// g5.xlarge on demand in us-west-2, USD per hour (the cost estimate's price table).
const gpuNodeHourPrice = 1.006

// Scenarios are the scenarios (issue 20, "Measure, report, decide")
// for one signal.
func Scenarios(signal string) []Scenario {
	capacity := detect(nil).Capacity()
	objective := 100 * time.Millisecond
	base := func(name string, d time.Duration, load ...tritonsim.Stream) Scenario {
		return Scenario{Name: name, Signal: signal, Duration: d, Settle: 15 * time.Minute, MinReplicas: 1, MaxReplicas: 8, GPUMax: 8,
			Models: []tritonsim.Model{detect(nil)}, Load: load, Objective: objective, Capacity: capacity, Seed: 1}
	}
	stream := func(tr tritonsim.Trace, noise float64) tritonsim.Stream {
		return tritonsim.Stream{Model: "detect", Trace: tr, Noise: noise}
	}
	steady := base("1 steady 60% of two pods", 35*time.Minute, stream(tritonsim.Constant(1.2*capacity), 0.1))
	steady.WarmReplicas, steady.Settle = 2, 5*time.Minute
	step := base("2 ×4 step", 35*time.Minute, stream(tritonsim.Piecewise(
		tritonsim.Point{At: 0, RPS: 0.6 * capacity}, tritonsim.Point{At: 10 * time.Minute, RPS: 2.4 * capacity}), 0.1))
	step.StepAt, step.Settle = 10*time.Minute, 25*time.Minute
	down := base("3 ramp down to zero", 45*time.Minute, stream(tritonsim.Ramp(1.2*capacity, 0, 12*time.Minute, 17*time.Minute), 0))
	down.StepAt, down.WarmReplicas = 12*time.Minute, 2
	burst := base("4 idle → burst", 30*time.Minute, stream(tritonsim.Piecewise(
		tritonsim.Point{At: 0, RPS: 0}, tritonsim.Point{At: 5 * time.Minute, RPS: 2 * capacity}), 0.1))
	burst.StepAt = 5 * time.Minute
	spot := base("5 GPU node lost under load", 35*time.Minute, stream(tritonsim.Constant(1.2*capacity), 0.1))
	spot.InterruptAt, spot.StepAt, spot.WarmReplicas, spot.Settle = 12*time.Minute, 12*time.Minute, 2, 5*time.Minute
	// 6: an ensemble (CPU pre-processing, then detect) under the steady load:
	// Triton reports the ensemble's own queue time as ~0 and its compute as
	// the sum of its steps'.
	ensemble := base("6 ensemble under load", 35*time.Minute, tritonsim.Stream{Model: "pipeline", Trace: tritonsim.Constant(1.2 * capacity), Noise: 0.1})
	ensemble.Models = []tritonsim.Model{
		{Name: "pre", Kind: tritonsim.KindCPU, Instances: 4, Compute: tritonsim.Compute{Infer: tritonsim.Latency{Base: 3 * time.Millisecond}}},
		detect(nil),
		{Name: "pipeline", Steps: []string{"pre", "detect"}},
	}
	ensemble.WarmReplicas, ensemble.Settle = 2, 5*time.Minute
	// 7: the ×4 step with a bounded queue (max_queue_size 16 and a 50 ms
	// queue timeout, as docs/autoscaling-and-observability.md advises):
	// Triton refuses what does not fit at once (HTTP 503, counted nowhere in
	// its metrics), times out what waits too long (counted as REJECTED),
	// and the requests it serves waited ~35 ms on average, under the
	// queue-time target.
	overload := base("7 overload, queue 16 / 50 ms", 35*time.Minute, stream(tritonsim.Piecewise(
		tritonsim.Point{At: 0, RPS: 0.6 * capacity}, tritonsim.Point{At: 10 * time.Minute, RPS: 2.4 * capacity}), 0.1))
	overload.Models = []tritonsim.Model{detect(&tritonsim.DynamicBatching{MaxQueueDelay: 2 * time.Millisecond, MaxQueueSize: 16, QueueTimeout: 50 * time.Millisecond})}
	overload.StepAt, overload.Settle = 10*time.Minute, 25*time.Minute
	return []Scenario{steady, step, down, burst, spot, ensemble, overload}
}

// Figures turns a run into the report's figures.
func Figures(res *Result) (report.Result, error) {
	sc := res.Scenario
	rs := report.Scenario{Name: sc.Name, Signal: sc.Signal, Objective: sc.Objective, StepAt: sc.StepAt, Settle: sc.Settle,
		NodeHourPrice: gpuNodeHourPrice}
	for _, q := range res.Requests {
		rs.Requests = append(rs.Requests, report.Request{At: q.Arrival, Latency: q.Queue, Outcome: report.Outcome(q.Outcome)})
	}
	for _, s := range res.Samples {
		rs.Samples = append(rs.Samples, report.Sample{At: s.At, Replicas: s.Replicas, ReadyPods: s.ReadyPods,
			Nodes: s.Nodes, ReadyNodes: s.ReadyNodes, Load: s.Load})
	}
	load := func(t time.Duration) float64 {
		sum := 0.0
		for _, st := range sc.Load {
			sum += st.Trace(t)
		}
		return sum
	}
	oracle, err := report.OracleNodes(load, sc.Capacity, 0.8, 1)
	if err != nil {
		return report.Result{}, err
	}
	rs.OracleNodes = oracle
	return report.Figures(rs)
}

// WiringScenario is the uncompressed run: real time, one warm pod, three
// times its capacity from the start. Within three minutes of real time the
// HPA must ask for more pods: Triton's counters, the PodMonitor's scrape
// (15 s), the adapter's rule (1 m rate window, 1 m relist), the HPA's sync
// (15 s), with the program's default signal. Nodes do not boot within it;
// the run proves the wiring, not the timing.
func WiringScenario() Scenario {
	capacity := detect(nil).Capacity()
	return Scenario{Name: "0 wiring, uncompressed", Signal: signals.DefaultInferenceMetricKey, Duration: 3 * time.Minute, Settle: 3 * time.Minute,
		MinReplicas: 1, MaxReplicas: 4, GPUMax: 4, WarmReplicas: 1, Models: []tritonsim.Model{detect(nil)},
		Load:      []tritonsim.Stream{{Model: "detect", Trace: tritonsim.Constant(3 * capacity)}},
		Objective: 100 * time.Millisecond, Capacity: capacity, Seed: 1}
}
