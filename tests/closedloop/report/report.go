// Package report turns one closed-loop scenario run into the figures the tier
// reports (style rule 15: latency percentiles, share over the objective,
// failed requests, replica and node trajectories, direction changes, time to
// recover, node-hours against an oracle) and prints them as a table. Every
// time in a Scenario is on the same clock, the scenario's simulated time
// (uncompressed); the defaults assume it.
package report

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Outcome is how a request ended; the values are tritonsim's
// (tritonsim/stats.go), so a tritonsim.Outcome converts directly.
type Outcome string

const (
	Served     Outcome = "success"
	Rejected   Outcome = "rejected"
	TimedOut   Outcome = "timed-out"
	Dropped    Outcome = "dropped"
	NoEndpoint Outcome = "no-endpoint"
)

var outcomes = []Outcome{Served, Rejected, TimedOut, Dropped, NoEndpoint}

// Request is one finished client request.
type Request struct {
	// At is the arrival time.
	At time.Duration
	// Latency is what the objective is about (queue time or end to end,
	// the scenario decides); only read for served requests.
	Latency time.Duration
	Outcome Outcome
}

// Sample is the loop's state at one moment.
type Sample struct {
	At        time.Duration
	Replicas  int // the Deployment's spec.replicas (the HPA's choice)
	ReadyPods int
	// Nodes are the GPU nodes billed at that moment; ReadyNodes the Ready
	// ones among them.
	Nodes, ReadyNodes int
	Load              float64 // offered requests per second
}

// Defaults for the recovery window.
const (
	DefaultWindow       = time.Minute
	DefaultWindowStep   = 10 * time.Second
	DefaultMaxShareOver = 0.05
)

// Scenario is one run of one scenario with one scaling signal.
type Scenario struct {
	Name, Signal string
	// Objective is the per-request latency objective: a served request with
	// a Latency above it, and every request not served, is over it.
	Objective time.Duration
	Requests  []Request
	// Samples, in increasing time, span the run: the last one ends it.
	Samples []Sample
	// StepAt is when the load steps; recovery is measured from it.
	StepAt time.Duration
	// Settle: replica changes before it are not counted as direction
	// changes (the initial scale-up to the load).
	Settle time.Duration
	// The objective holds over a window when at most MaxShareOver of the
	// requests arriving in it are over the objective (a window without
	// requests holds). Windows of length Window start at StepAt and every
	// WindowStep after it. Defaults 1m, 10s and 0.05 (p95 within the
	// objective).
	Window, WindowStep time.Duration
	MaxShareOver       float64
	// OracleNodes is the fewest nodes meeting the objective at a moment
	// (see OracleNodes); nil for no comparison.
	OracleNodes func(at time.Duration) int
	// NodeHourPrice is the price of one node for one hour (USD).
	NodeHourPrice float64
	// WakeBound, when > 0, says the scenario's workload can scale to zero:
	// Figures then reports how it woke (Result.Wake), against this bound.
	WakeBound time.Duration
}

// Wake is how a workload that scaled to zero woke up: from the first
// request that found no ready replica (its caller answers it at once with
// a retryable refusal, lds-service's 503 and Retry-After) to the first
// request served after it.
type Wake struct {
	// Refused: some request found no ready replica; Served: a request was
	// served after the first of them.
	Refused, Served bool
	// From is the first refused request's arrival, To the arrival of the
	// first request served after it (served within its compute time).
	From, To time.Duration
	// Latency is To - From; Bound the scenario's WakeBound.
	Latency, Bound time.Duration
	// Answered counts the requests refused from From until To, each at once.
	Answered int
}

// Within: the first request after idle found a replica ready within the bound.
func (w Wake) Within() bool { return w.Served && w.Latency <= w.Bound }

// Point is a value of a trajectory from At until the next point.
type Point struct {
	At    time.Duration
	Value int
}

// Trajectories keep the first sample and then only changes of value.
type Trajectories struct {
	Replicas, ReadyPods, Nodes, ReadyNodes []Point
}

// Result is the figures of one Scenario.
type Result struct {
	Name, Signal string
	Objective    time.Duration
	// Requests counts every finished request; the rest by outcome.
	Requests, Served, Rejected, TimedOut, Dropped, NoEndpoint int
	// P50, P95 and P99 are nearest-rank percentiles of the served
	// requests' Latency (zero without served requests).
	P50, P95, P99 time.Duration
	// ShareOver is the share of all requests over the objective (failed
	// requests count as over).
	ShareOver float64
	PeakLoad  float64
	Trajectories
	// DirectionChanges counts the sign changes between successive non-zero
	// changes of the replica count among the samples at or after Settle:
	// 2, 3, 4, 3, 5 changes by +1, +1, -1, +2: two direction changes.
	DirectionChanges int
	// Held: the objective held in every window from StepAt on. Otherwise
	// Recovered tells whether it held again in every window from some time
	// on until the end of the run, and Recovery is the time from StepAt to
	// the start of the first of those windows. (Held: Recovered, Recovery
	// 0.)
	Held, Recovered bool
	Recovery        time.Duration
	// NodeHours integrates Nodes over the run (each sample's value until
	// the next sample); OracleNodeHours integrates OracleNodes over the same
	// steps; NodeHoursRatio is their ratio (NaN without an oracle or when
	// the oracle needs no node).
	NodeHours, OracleNodeHours, NodeHoursRatio float64
	// Cost is NodeHours at NodeHourPrice.
	Cost float64
	// NodesAtEnd and ReplicasAtEnd are the last sample's.
	NodesAtEnd, ReplicasAtEnd int
	// Wake is set for a scenario with a WakeBound.
	Wake *Wake
}

func (s Scenario) withDefaults() Scenario {
	if s.Window == 0 {
		s.Window = DefaultWindow
	}
	if s.WindowStep == 0 {
		s.WindowStep = DefaultWindowStep
	}
	if s.MaxShareOver == 0 {
		s.MaxShareOver = DefaultMaxShareOver
	}
	return s
}

// validate reports every problem at once; call it on a defaulted Scenario.
func (s Scenario) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Name == "" || s.Signal == "" {
		add("name, signal: %q, %q: both must be set (a table row is one scenario with one signal)", s.Name, s.Signal)
	}
	if s.Objective <= 0 {
		add("objective: %v must be > 0 (the per-request latency objective, e.g. 100ms of queue time)", s.Objective)
	}
	if len(s.Samples) == 0 {
		add("samples: none given; sample the loop from the start to the end of the run")
	}
	for i := 1; i < len(s.Samples); i++ {
		if s.Samples[i].At <= s.Samples[i-1].At {
			add("samples[%d].at: %v is not after samples[%d].at (%v); samples must be in increasing time", i, s.Samples[i].At, i-1, s.Samples[i-1].At)
			break
		}
	}
	for i, r := range s.Requests {
		if !slices.Contains(outcomes, r.Outcome) || r.Latency < 0 {
			add("requests[%d]: outcome %q, latency %v: outcome must be one of %v and latency >= 0", i, r.Outcome, r.Latency, outcomes)
			break
		}
	}
	if s.StepAt < 0 || s.Settle < 0 {
		add("stepAt, settle: %v, %v must not be negative", s.StepAt, s.Settle)
	}
	if s.Window < 0 || s.WindowStep < 0 {
		add("window, windowStep: %v, %v must not be negative (0 takes the defaults %v, %v)", s.Window, s.WindowStep, DefaultWindow, DefaultWindowStep)
	}
	if s.MaxShareOver < 0 || s.MaxShareOver >= 1 {
		add("maxShareOver: %v must be in (0, 1) (0 takes the default %v)", s.MaxShareOver, DefaultMaxShareOver)
	}
	if s.WakeBound < 0 {
		add("wakeBound: %v must not be negative (0: the workload does not scale to zero)", s.WakeBound)
	}
	if s.NodeHourPrice < 0 {
		add("nodeHourPrice: %v must not be negative", s.NodeHourPrice)
	}
	if len(s.Samples) > 0 && s.Window > 0 {
		if end := s.Samples[len(s.Samples)-1].At; end < s.StepAt+s.Window {
			add("window: the run ends at %v, before the first window after the step ends (stepAt %v + window %v); run longer or shorten the window",
				end, s.StepAt, s.Window)
		}
	}
	return errors.Join(errs...)
}

// Figures computes the figures of a scenario run.
func Figures(s Scenario) (Result, error) {
	s = s.withDefaults()
	if err := s.validate(); err != nil {
		return Result{}, fmt.Errorf("report: scenario %q, signal %q: %w", s.Name, s.Signal, err)
	}
	r := Result{Name: s.Name, Signal: s.Signal, Objective: s.Objective, Requests: len(s.Requests)}
	var served []time.Duration
	over := 0
	for _, q := range s.Requests {
		switch q.Outcome {
		case Served:
			r.Served++
			served = append(served, q.Latency)
		case Rejected:
			r.Rejected++
		case TimedOut:
			r.TimedOut++
		case Dropped:
			r.Dropped++
		case NoEndpoint:
			r.NoEndpoint++
		}
		if s.isOver(q) {
			over++
		}
	}
	if r.Requests > 0 {
		r.ShareOver = float64(over) / float64(r.Requests)
	}
	r.P50, r.P95, r.P99 = percentile(served, 0.50), percentile(served, 0.95), percentile(served, 0.99)
	for _, x := range s.Samples {
		r.PeakLoad = max(r.PeakLoad, x.Load)
	}
	r.Trajectories = trajectories(s.Samples)
	r.DirectionChanges = directionChanges(s.Samples, s.Settle)
	r.Held, r.Recovered, r.Recovery = s.recovery()
	r.NodeHours, r.OracleNodeHours = s.nodeHours()
	r.NodeHoursRatio = math.NaN()
	if r.OracleNodeHours > 0 {
		r.NodeHoursRatio = r.NodeHours / r.OracleNodeHours
	}
	r.Cost = r.NodeHours * s.NodeHourPrice
	r.NodesAtEnd = s.Samples[len(s.Samples)-1].Nodes
	r.ReplicasAtEnd = s.Samples[len(s.Samples)-1].Replicas
	if s.WakeBound > 0 {
		w := s.wake()
		r.Wake = &w
	}
	return r, nil
}

// wake finds the first request refused for want of a ready replica and
// the first one served after it.
func (s Scenario) wake() Wake {
	w := Wake{Bound: s.WakeBound}
	reqs := slices.SortedFunc(slices.Values(s.Requests), func(x, y Request) int { return cmp.Compare(x.At, y.At) })
	for _, q := range reqs {
		switch {
		case !w.Refused && q.Outcome == NoEndpoint:
			w.Refused, w.From = true, q.At
			w.Answered++
		case w.Refused && q.Outcome == NoEndpoint:
			w.Answered++
		case w.Refused && q.Outcome == Served:
			w.Served, w.To, w.Latency = true, q.At, q.At-w.From
			return w
		}
	}
	return w
}

func (s Scenario) isOver(q Request) bool {
	return q.Outcome != Served || q.Latency > s.Objective
}

// percentile is the nearest-rank q-quantile (tritonsim's PercentilesOf).
func percentile(values []time.Duration, q float64) time.Duration {
	if len(values) == 0 {
		return 0
	}
	v := slices.Sorted(slices.Values(values))
	return v[max(int(math.Ceil(q*float64(len(v))))-1, 0)]
}

// series is the one list of sample fields that have a trajectory.
var series = []struct {
	field func(*Trajectories) *[]Point
	value func(Sample) int
}{
	{func(t *Trajectories) *[]Point { return &t.Replicas }, func(x Sample) int { return x.Replicas }},
	{func(t *Trajectories) *[]Point { return &t.ReadyPods }, func(x Sample) int { return x.ReadyPods }},
	{func(t *Trajectories) *[]Point { return &t.Nodes }, func(x Sample) int { return x.Nodes }},
	{func(t *Trajectories) *[]Point { return &t.ReadyNodes }, func(x Sample) int { return x.ReadyNodes }},
}

func trajectories(samples []Sample) Trajectories {
	var t Trajectories
	for _, f := range series {
		points := f.field(&t)
		for _, x := range samples {
			v := f.value(x)
			if n := len(*points); n == 0 || (*points)[n-1].Value != v {
				*points = append(*points, Point{At: x.At, Value: v})
			}
		}
	}
	return t
}

func directionChanges(samples []Sample, settle time.Duration) int {
	changes, last, prevSign := 0, 0, 0
	first := true
	for _, x := range samples {
		if x.At < settle {
			continue
		}
		if first {
			last, first = x.Replicas, false
			continue
		}
		d := cmp.Compare(x.Replicas, last)
		last = x.Replicas
		if d == 0 {
			continue
		}
		if prevSign != 0 && d != prevSign {
			changes++
		}
		prevSign = d
	}
	return changes
}

// recovery slides the window from StepAt over the requests.
func (s Scenario) recovery() (held, recovered bool, after time.Duration) {
	reqs := slices.SortedFunc(slices.Values(s.Requests), func(x, y Request) int { return cmp.Compare(x.At, y.At) })
	// overBefore[i]: requests over the objective among reqs[:i].
	overBefore := make([]int, len(reqs)+1)
	for i, q := range reqs {
		overBefore[i+1] = overBefore[i]
		if s.isOver(q) {
			overBefore[i+1]++
		}
	}
	index := func(at time.Duration) int {
		i, _ := slices.BinarySearchFunc(reqs, at, func(q Request, t time.Duration) int { return cmp.Compare(q.At, t) })
		return i
	}
	end := s.Samples[len(s.Samples)-1].At
	lastBroken, windows := -1, 0
	for k := 0; ; k++ {
		start := s.StepAt + time.Duration(k)*s.WindowStep
		if start+s.Window > end {
			break
		}
		windows++
		lo, hi := index(start), index(start+s.Window)
		if n := hi - lo; n > 0 && float64(overBefore[hi]-overBefore[lo]) > s.MaxShareOver*float64(n) {
			lastBroken = k
		}
	}
	switch {
	case lastBroken < 0:
		return true, true, 0
	case lastBroken == windows-1:
		return false, false, 0
	default:
		return false, true, time.Duration(lastBroken+1) * s.WindowStep
	}
}

func (s Scenario) nodeHours() (actual, oracle float64) {
	for i := 0; i+1 < len(s.Samples); i++ {
		x := s.Samples[i]
		hours := (s.Samples[i+1].At - x.At).Hours()
		actual += float64(x.Nodes) * hours
		if s.OracleNodes != nil {
			oracle += float64(s.OracleNodes(x.At)) * hours
		}
	}
	return actual, oracle
}

// OracleNodes is the fewest GPU nodes meeting the objective minute by
// minute, knowing the load in advance: for the minute holding at, the peak
// load (the load function read every second of that minute) needs
// ceil(peak / (perPodCapacity * utilisationCap)) pods, packed podsPerNode to
// a node; no node at zero load. perPodCapacity is what one pod serves within
// the objective (requests per second), utilisationCap the share of it the
// oracle may use.
func OracleNodes(load func(at time.Duration) float64, perPodCapacity, utilisationCap float64, podsPerNode int) (func(time.Duration) int, error) {
	var errs []error
	if load == nil {
		errs = append(errs, errors.New("load: nil; pass the scenario's load trace (requests per second at a time)"))
	}
	if !(perPodCapacity > 0) {
		errs = append(errs, fmt.Errorf("perPodCapacity: %v must be > 0 (requests per second one pod serves within the objective)", perPodCapacity))
	}
	if !(utilisationCap > 0 && utilisationCap <= 1) {
		errs = append(errs, fmt.Errorf("utilisationCap: %v must be in (0, 1]", utilisationCap))
	}
	if podsPerNode < 1 {
		errs = append(errs, fmt.Errorf("podsPerNode: %d must be >= 1 (GPUs per node for one-GPU pods)", podsPerNode))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("report: oracle: %w", err)
	}
	perPod := perPodCapacity * utilisationCap
	return func(at time.Duration) int {
		minute := at.Truncate(time.Minute)
		peak := 0.0
		for t := minute; t < minute+time.Minute; t += time.Second {
			peak = max(peak, load(t))
		}
		if peak <= 0 {
			return 0
		}
		// The tolerance keeps 80/(100*0.8) at one pod despite rounding.
		pods := int(math.Ceil(peak/perPod - 1e-9))
		return (pods + podsPerNode - 1) / podsPerNode
	}, nil
}
