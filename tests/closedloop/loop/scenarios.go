package loop

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/aiplatform/infra/tests/closedloop/kedastandin"
	"github.com/aiplatform/infra/tests/closedloop/metricsapi"
	"github.com/aiplatform/infra/tests/closedloop/nodegroups"
	"github.com/aiplatform/infra/tests/closedloop/program"

	"github.com/aiplatform/infra/tests/closedloop/report"
	"github.com/aiplatform/infra/tests/closedloop/tritonsim"
	"github.com/aiplatform/infra/workloads/inference"
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

// ScaleToZeroScenarios are scenarios 3 and 4 with triton.scaleToZero on
// (issue 20, "a dev GPU idles at $0"), for one signal: KEDA's ScaledObject
// so (the program's, as rendered) instead of the HPA.
//
//   - 3: the ramp to zero, moved to 1–6 min so that the run ends soon
//     after the GPU node is gone: KEDA scales to zero cooldownPeriod after
//     the last active poll (the load trigger's rate window after the last
//     request), and the autoscaler removes the empty node unneeded later;
//     the run lasts that long plus a poll, a scan and 2.5 minutes, in
//     whole minutes.
//   - 4: idle at 0 replicas and no GPU node for 5 min, then the burst of 4:
//     the first call wakes Triton through the lds-service's failed calls.
func ScaleToZeroScenarios(signal string, so kedastandin.ScaledObject, unneeded time.Duration) ([]Scenario, error) {
	load, ok := so.TriggerNamed(inference.KEDALoadTrigger)
	if !ok {
		return nil, fmt.Errorf("the program's ScaledObject has no %q trigger (workloads/inference KEDALoadTrigger)", inference.KEDALoadTrigger)
	}
	window, err := queryWindow(load.Query)
	if err != nil {
		return nil, fmt.Errorf("trigger %s: %w", load.Name, err)
	}
	var out []Scenario
	for _, sc := range Scenarios(signal) {
		sc.ScaleToZero, sc.ZeroRun = true, true
		switch {
		case strings.HasPrefix(sc.Name, "3 "):
			sc.Name = "3 ramp down to zero (KEDA)"
			rampEnd := 6 * time.Minute
			sc.Load = []tritonsim.Stream{{Model: "detect", Trace: tritonsim.Ramp(1.2*sc.Capacity, 0, time.Minute, rampEnd)}}
			sc.StepAt, sc.Settle = time.Minute, 5*time.Minute
			end := rampEnd + window + so.CooldownPeriod + so.PollingInterval + unneeded + nodegroups.DefaultScanInterval + 150*time.Second
			sc.Duration = (end + time.Minute - 1).Truncate(time.Minute)
		case strings.HasPrefix(sc.Name, "4 "):
			sc.Name = "4 idle at zero → burst (KEDA)"
			sc.StartIdle = true
		default:
			continue
		}
		out = append(out, sc)
	}
	return out, nil
}

// OfferedLoadScenarios are scenarios 1, 2 and 7 with the offered load
// on beside signal (triton.autoscaling.callsPerPod at 70 % of a pod's
// throughput, the share the concurrency target 6 stands for). The loop runs
// them through the program's KEDA ScaledObject (triton.scaleToZero on; the
// load never stops, so Triton never goes to zero and its HPA is the
// program's, with the offered-load trigger): the loop's external metrics
// API is the KEDA stand-in's. Without scale to zero the program reads the
// same query through prometheus-adapter's external rule
// (signals.OfferedLoadRule), which tests/ checks as rendered.
//
// zero are the scale-to-zero scenarios (ScaleToZeroScenarios): their burst
// from zero (4) runs with the offered load too, where it sizes Triton for
// the burst as the first calls fail instead of after the first replica
// reports load.
//
// Their baselines are 2 and 7 through the same ScaledObject without the
// offered load ("signal (KEDA)"): KEDA's HPA reads the load as an External
// metric (the sum over pods against a per-pod AverageValue), which the
// HPA's replica calculator does not damp for pods without metrics as it
// does a Pods metric, so the HPA rows above are not the like-for-like
// comparison.
func OfferedLoadScenarios(signal string, zero []Scenario) []Scenario {
	var out []Scenario
	for _, sc := range Scenarios(signal) {
		switch sc.Name[:2] {
		case "2 ", "7 ":
			base := sc
			base.ScaleToZero = true
			out = append(out, base)
			fallthrough
		case "1 ":
			sc.ScaleToZero = true
			sc.CallsPerPod = OfferedCallsPerPod(sc)
			out = append(out, sc)
		}
	}
	for _, sc := range zero {
		if sc.StartIdle {
			sc.CallsPerPod = OfferedCallsPerPod(sc)
			out = append(out, sc)
		}
	}
	return out
}

// OfferedCallsPerPod is the offered-load target the runs use: 70 % of a
// pod's throughput, the share the concurrency target 6 stands for.
func OfferedCallsPerPod(sc Scenario) float64 { return math.Round(0.7 * sc.Capacity) }

// ProgramScaleToZero is the dev stack's ScaledObject for Triton (with
// triton.scaleToZero on) and the Cluster Autoscaler's
// scale-down-unneeded-time, which the scale-to-zero scenarios' lengths
// derive from.
func ProgramScaleToZero() (kedastandin.ScaledObject, time.Duration, error) {
	on := true
	objs, err := program.Render(program.Options{ScaleToZero: &on})
	if err != nil {
		return kedastandin.ScaledObject{}, 0, err
	}
	if objs.ScaledObject == nil {
		return kedastandin.ScaledObject{}, 0, fmt.Errorf("triton.scaleToZero on renders no ScaledObject")
	}
	so, err := kedastandin.Parse(objs.ScaledObject)
	if err != nil {
		return kedastandin.ScaledObject{}, 0, fmt.Errorf("the program's ScaledObject: %w", err)
	}
	unneeded := nodegroups.PlatformParams().UnneededTime
	if v, ok := objs.AutoscalerArgs["scale-down-unneeded-time"].(string); ok {
		if unneeded, err = time.ParseDuration(v); err != nil {
			return kedastandin.ScaledObject{}, 0, fmt.Errorf("cluster-autoscaler scale-down-unneeded-time %q: %w", v, err)
		}
	}
	return so, unneeded, nil
}

// rangeWindow is a PromQL range selector's window, [1m].
var rangeWindow = regexp.MustCompile(`\[([0-9a-z]+)\]`)

// queryWindow is the longest range window of a PromQL query: how long a
// rate() keeps reading a change after it stops.
func queryWindow(q string) (time.Duration, error) {
	var longest time.Duration
	for _, m := range rangeWindow.FindAllStringSubmatch(q, -1) {
		d, err := metricsapi.ParsePromDuration(m[1])
		if err != nil {
			return 0, err
		}
		longest = max(longest, d)
	}
	if longest == 0 {
		return 0, fmt.Errorf("no range window in %q", q)
	}
	return longest, nil
}

// Figures turns a run into the report's figures.
func Figures(res *Result) (report.Result, error) {
	sc := res.Scenario
	rs := report.Scenario{Name: sc.Name, Signal: sc.SignalLabel(), Objective: sc.Objective, StepAt: sc.StepAt, Settle: sc.Settle,
		NodeHourPrice: gpuNodeHourPrice}
	if sc.scaleToZeroRun() {
		// The wake table is for the runs about zero; the offered-load runs
		// go through KEDA too but never reach it.
		rs.WakeBound = res.WakeBound
	}
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
