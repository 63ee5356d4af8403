package tritonsim

import (
	"maps"
	"math"
	"slices"
	"time"
)

// Outcome is how a request ended, as its client saw it.
type Outcome string

const (
	OutcomeSuccess Outcome = "success"
	// OutcomeRejected: the model's queue was full (max_queue_size). Triton
	// answers UNAVAILABLE at once and moves no metric.
	OutcomeRejected Outcome = "rejected"
	// OutcomeTimedOut: the request waited longer than the queue timeout.
	// Triton counts nv_inference_request_failure{reason="REJECTED"}.
	OutcomeTimedOut Outcome = "timed-out"
	// OutcomeDropped: the pod exited with the request in flight.
	OutcomeDropped Outcome = "dropped"
	// OutcomeNoEndpoint: no pod was ready (the Service had no endpoints).
	OutcomeNoEndpoint Outcome = "no-endpoint"
)

// Sample is one finished client request. For an ensemble, Queue is the time
// spent in its steps' queues (Triton reports ~0 for the ensemble itself).
type Sample struct {
	ID      uint64
	Model   string
	Pod     string
	Arrival time.Duration
	End     time.Duration
	Queue   time.Duration
	Outcome Outcome
}

// Latency is the end-to-end time the client waited.
func (x Sample) Latency() time.Duration { return x.End - x.Arrival }

// Samples returns every finished request so far, in the order they finished.
func (s *Sim) Samples() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.samples)
}

// DrainSamples returns the requests finished since the last DrainSamples
// (or since time 0), in the order they finished, and forgets them, so a long
// closed loop can consume results as it goes with bounded memory. Samples
// and Summary see only requests not drained yet (Summary still counts
// arrivals in flight).
func (s *Sim) DrainSamples() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.samples
	s.samples = nil
	return out
}

// Finished counts every request finished since time 0 by outcome,
// including those DrainSamples handed out: what a caller's own error
// counters (lds-service's lds_triton_errors_total) read, without copying
// the samples.
func (s *Sim) Finished() map[Outcome]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.finished)
}

// Arrived counts every request that arrived since time 0, whatever became
// of it: what lds-service's lds_triton_calls_total reads (each simulated
// request is one call it made).
func (s *Sim) Arrived() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextID
}

// Percentiles of a set of durations (nearest rank).
type Percentiles struct {
	P50, P95, P99 time.Duration
}

// PercentilesOf returns the 50th, 95th and 99th percentiles (nearest rank);
// zero for no values.
func PercentilesOf(values []time.Duration) Percentiles {
	if len(values) == 0 {
		return Percentiles{}
	}
	v := slices.Clone(values)
	slices.Sort(v)
	rank := func(q float64) time.Duration {
		i := int(math.Ceil(q*float64(len(v)))) - 1
		return v[max(i, 0)]
	}
	return Percentiles{P50: rank(0.50), P95: rank(0.95), P99: rank(0.99)}
}

// Summary describes the requests that arrived in [From, To).
type Summary struct {
	From, To time.Duration
	// Offered counts every arrival, finished or not.
	Offered  int
	Outcomes map[Outcome]int
	// InFlight are arrivals not finished yet.
	InFlight int
	// Throughput is successes per second among these arrivals.
	Throughput float64
	// Queue and Latency are over the successful requests.
	Queue, Latency Percentiles
}

// Summary summarises the requests that arrived in [from, to), optionally of
// one model ("" for all).
func (s *Sim) Summary(model string, from, to time.Duration) Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := Summary{From: from, To: to, Outcomes: map[Outcome]int{}}
	in := func(m string, at time.Duration) bool {
		return (model == "" || m == model) && at >= from && at < to
	}
	var queue, latency []time.Duration
	for _, x := range s.samples {
		if !in(x.Model, x.Arrival) {
			continue
		}
		sum.Offered++
		sum.Outcomes[x.Outcome]++
		if x.Outcome == OutcomeSuccess {
			queue = append(queue, x.Queue)
			latency = append(latency, x.Latency())
		}
	}
	for _, p := range s.live {
		for _, c := range p.inflight {
			if in(c.model.Name, c.arrival) {
				sum.Offered++
				sum.InFlight++
			}
		}
	}
	if to > from {
		sum.Throughput = float64(sum.Outcomes[OutcomeSuccess]) / (to - from).Seconds()
	}
	sum.Queue = PercentilesOf(queue)
	sum.Latency = PercentilesOf(latency)
	return sum
}

// PodStats is one pod's life and how busy its instances were.
type PodStats struct {
	Name             string
	Started, Exited  time.Duration
	Running          bool
	Draining         bool
	InFlight         int
	Pending          int // requests queued in the pod, all models
	BusySeconds      float64
	InstanceSeconds  float64
	Utilisation      float64            // BusySeconds / InstanceSeconds
	ModelUtilisation map[string]float64 // per non-ensemble model
}

// Pods returns every pod started so far, in start order. Busy and instance
// seconds are cumulative, so a caller can diff two reads for a window.
func (s *Sim) Pods() []PodStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PodStats, 0, len(s.history))
	for _, p := range s.history {
		end := s.now
		if p.state == podExited {
			end = p.exited
		}
		ps := PodStats{Name: p.name, Started: p.started, Exited: p.exited, Running: p.state != podExited,
			Draining: p.state == podDraining, InFlight: len(p.inflight), ModelUtilisation: map[string]float64{}}
		if p.state != podExited {
			ps.Exited = 0
		}
		for _, n := range s.order {
			ms := p.models[n]
			if ms.m.IsEnsemble() {
				continue
			}
			ps.Pending += ms.queued
			busy := ms.busyArea + float64(ms.busy)*(end-ms.busyAt).Seconds()
			capacity := float64(ms.m.Instances) * (end - p.started).Seconds()
			ps.BusySeconds += busy
			ps.InstanceSeconds += capacity
			if capacity > 0 {
				ps.ModelUtilisation[n] = busy / capacity
			}
		}
		if ps.InstanceSeconds > 0 {
			ps.Utilisation = ps.BusySeconds / ps.InstanceSeconds
		}
		out = append(out, ps)
	}
	return out
}

// InSystem is the number of client requests in the pods now.
func (s *Sim) InSystem() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inSystem
}

// RequestSeconds is ∫ InSystem dt since time 0 (request-seconds): its
// change over a window divided by the window is the mean number of requests
// in the system (Little's L).
func (s *Sim) RequestSeconds() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.area
}
