package tritonsim

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Kind is where a model's instances run (instance_group.kind). It decides
// the metric labels: Triton labels a GPU instance's statistics with gpu_uuid
// (core src/backend_model_instance.cc picks the device id only for
// KIND_GPU; src/metric_model_reporter.cc GetMetricLabels adds gpu_uuid for a
// device >= 0).
type Kind string

const (
	KindGPU Kind = "KIND_GPU"
	KindCPU Kind = "KIND_CPU"
)

// Routing is how the Service spreads requests over ready pods.
type Routing string

const (
	// RouteRandom is kube-proxy's iptables mode (the EKS default): every new
	// connection picks a ready endpoint uniformly at random (kubernetes
	// pkg/proxy/iptables/proxier.go, "-m statistic --mode random").
	RouteRandom Routing = "random"
	// RouteRoundRobin is kube-proxy's IPVS mode with its default scheduler
	// "rr".
	RouteRoundRobin Routing = "round-robin"
	// RouteLeastPending is IPVS mode with scheduler "lc" (least
	// connections): with one connection per request, the pod with the
	// fewest requests in flight.
	RouteLeastPending Routing = "least-pending"
)

// Removal is what happens to requests on a pod that leaves the ready set.
type Removal string

const (
	// RemovalDrain: the pod takes no new requests and finishes the ones it
	// holds for up to ExitTimeout (Triton's graceful stop on SIGTERM).
	RemovalDrain Removal = "drain"
	// RemovalKill: the pod is gone at once and its requests in flight fail.
	RemovalKill Removal = "kill"
)

// Arrivals is how requests are spaced at a given rate.
type Arrivals string

const (
	// ArrivalsPoisson: exponential gaps (independent clients).
	ArrivalsPoisson Arrivals = "poisson"
	// ArrivalsUniform: evenly spaced (a closed-loop load generator at a
	// fixed rate).
	ArrivalsUniform Arrivals = "uniform"
)

// Defaults filled where unset.
const (
	// DefaultVersion is the version label of a model with one version.
	DefaultVersion = 1
	// DefaultInstances is instance_group.count's default: one instance per
	// GPU (server docs/user_guide/model_configuration.md, "Instance
	// Groups").
	DefaultInstances = 1
	// DefaultExitTimeout is tritonserver --exit-timeout-secs' default (server
	// src/command_line_parser.h, exit_timeout_secs_{30}). The project's
	// Triton pods allow 60 s to terminate (workloads/inference/triton.go),
	// so Triton's timeout is the one that ends the drain.
	DefaultExitTimeout = 30 * time.Second
	// DefaultTraceResolution is how often a load trace is sampled.
	DefaultTraceResolution = time.Second
	// DefaultMetricsInterval is tritonserver --metrics-interval-ms' default
	// (server src/command_line_parser.h, metrics_interval_ms_{2000}): how
	// often Triton updates its "per interval" metrics, nv_gpu_utilization
	// among them (server docs/user_guide/metrics.md).
	DefaultMetricsInterval = 2 * time.Second
)

// Latency is a duration that grows with the batch size n: Base + n*PerItem.
type Latency struct {
	Base, PerItem time.Duration
}

// For is the duration for a batch of n requests.
func (l Latency) For(n int) time.Duration { return l.Base + time.Duration(n)*l.PerItem }

// Compute is the time an instance spends on one batch, in Triton's three
// phases (nv_inference_compute_{input,infer,output}_duration_us).
type Compute struct {
	Input, Infer, Output Latency
}

// For is a batch's total compute time.
func (c Compute) For(n int) time.Duration {
	return c.Input.For(n) + c.Infer.For(n) + c.Output.For(n)
}

// DynamicBatching is a model's dynamic_batching block.
type DynamicBatching struct {
	// MaxQueueDelay is max_queue_delay_microseconds: how long the oldest
	// queued request may wait for a batch to fill. 0 sends whatever is
	// queued as soon as an instance is free.
	MaxQueueDelay time.Duration
	// MaxQueueSize is default_queue_policy.max_queue_size; 0 is unbounded.
	MaxQueueSize int
	// QueueTimeout is default_queue_policy.default_timeout_microseconds with
	// timeout_action REJECT (the proto's default action); 0 is none.
	QueueTimeout time.Duration
}

// Model is one model in every pod's repository.
type Model struct {
	Name string
	// Version is the version label (default 1). Ensembles always report
	// version "1" (core ensemble_scheduler.cc creates their reporter with
	// model_version 1).
	Version int64
	Kind    Kind
	// Instances is instance_group.count per pod (a pod has one GPU).
	Instances int
	// MaxBatchSize is max_batch_size; 0 means the model does not batch.
	MaxBatchSize int
	Compute      Compute
	// Batching is dynamic_batching; nil is Triton's default scheduler (one
	// request per execution, no queue policy).
	Batching *DynamicBatching
	// Steps makes the model an ensemble: the composing models, run in order
	// (ensemble_scheduling.step[].model_name, a chain). An ensemble has no
	// instances, compute or batching of its own.
	Steps []string
}

// IsEnsemble tells whether the model is an ensemble.
func (m Model) IsEnsemble() bool { return len(m.Steps) > 0 }

// Capacity is the most requests per second one pod can complete for a
// model: every instance running full batches back to back. It is 0 for an
// ensemble, whose capacity is its slowest step's.
func (m Model) Capacity() float64 {
	if m.IsEnsemble() {
		return 0
	}
	n := 1
	if m.Batching != nil {
		n = m.MaxBatchSize
	}
	return float64(m.Instances*n) / m.Compute.For(n).Seconds()
}

// Trace is the offered load in requests per second at a simulated time.
type Trace func(t time.Duration) float64

// Constant offers the same rate all the time.
func Constant(rps float64) Trace { return func(time.Duration) float64 { return rps } }

// Point is a rate from a time on.
type Point struct {
	At  time.Duration
	RPS float64
}

// Piecewise holds each point's rate from its time until the next point's
// (0 before the first). Points must be in time order.
func Piecewise(points ...Point) Trace {
	return func(t time.Duration) float64 {
		rate := 0.0
		for _, p := range points {
			if p.At > t {
				break
			}
			rate = p.RPS
		}
		return rate
	}
}

// Ramp goes linearly from one rate at start to another at end and holds
// the end rate after.
func Ramp(from, to float64, start, end time.Duration) Trace {
	return func(t time.Duration) float64 {
		switch {
		case t <= start:
			return from
		case t >= end:
			return to
		}
		return from + (to-from)*float64(t-start)/float64(end-start)
	}
}

// Stream is the load offered to one model.
type Stream struct {
	Model string
	Trace Trace
	// Noise scales the trace's rate by a factor drawn uniformly from
	// [1-Noise, 1+Noise] once per TraceResolution, from the seeded RNG.
	Noise    float64
	Arrivals Arrivals
}

// Config is a simulation.
type Config struct {
	Models  []Model
	Load    []Stream
	Routing Routing
	Removal Removal
	// ExitTimeout bounds a draining pod's life (RemovalDrain).
	ExitTimeout time.Duration
	// TraceResolution is how often each trace is sampled (and its noise
	// drawn).
	TraceResolution time.Duration
	// Seed makes runs repeatable: the same Seed and calls give the same
	// results, whatever the step sizes.
	Seed uint64
	// MetricsInterval is tritonserver --metrics-interval-ms: the window
	// nv_gpu_utilization averages over (default 2 s).
	MetricsInterval time.Duration
	// CounterScale compresses time for a scrape on the wall clock (0 means
	// 1): every counter's served value is divided by it, gauges are not.
	// A closed loop runs simulated time CounterScale times faster than wall
	// time, and Prometheus' rate() divides by wall seconds; dividing the
	// counters by the same factor makes rate() read the rate per simulated
	// second, and leaves every ratio of counters (mean queue time, failure
	// ratio) unchanged. Served counters are then not whole numbers.
	CounterScale float64
}

func (c Config) withDefaults() Config {
	models := make([]Model, len(c.Models))
	for i, m := range c.Models {
		if m.Version == 0 {
			m.Version = DefaultVersion
		}
		if !m.IsEnsemble() {
			if m.Kind == "" {
				// KIND_AUTO on a GPU node places instances on the GPU.
				m.Kind = KindGPU
			}
			if m.Instances == 0 {
				m.Instances = DefaultInstances
			}
		}
		models[i] = m
	}
	c.Models = models
	load := make([]Stream, len(c.Load))
	for i, s := range c.Load {
		if s.Arrivals == "" {
			s.Arrivals = ArrivalsPoisson
		}
		load[i] = s
	}
	c.Load = load
	if c.Routing == "" {
		c.Routing = RouteRandom
	}
	if c.Removal == "" {
		c.Removal = RemovalDrain
	}
	if c.ExitTimeout == 0 {
		c.ExitTimeout = DefaultExitTimeout
	}
	if c.TraceResolution == 0 {
		c.TraceResolution = DefaultTraceResolution
	}
	if c.MetricsInterval == 0 {
		c.MetricsInterval = DefaultMetricsInterval
	}
	if c.CounterScale == 0 {
		c.CounterScale = 1
	}
	return c
}

// Validate returns every problem at once, each with the field's path.
func (c Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if len(c.Models) == 0 {
		bad("models", "at least one model is required")
	}
	byName := map[string]Model{}
	for i, m := range c.Models {
		p := fmt.Sprintf("models[%d]", i)
		if m.Name == "" {
			bad(p+".name", "is required")
		} else if _, dup := byName[m.Name]; dup {
			bad(p+".name", "%q is used by an earlier model; names must be unique", m.Name)
		} else {
			byName[m.Name] = m
		}
		if m.Version < 0 {
			bad(p+".version", "must be >= 0 (got %d; 0 means %d)", m.Version, DefaultVersion)
		}
	}
	for i, m := range c.Models {
		p := fmt.Sprintf("models[%d]", i)
		if m.IsEnsemble() {
			validateEnsemble(p, m, byName, bad)
			continue
		}
		validateModel(p, m, bad)
	}
	for i, s := range c.Load {
		p := fmt.Sprintf("load[%d]", i)
		if _, ok := byName[s.Model]; !ok {
			bad(p+".model", "%q is not a model in models; name one of them", s.Model)
		}
		if s.Trace == nil {
			bad(p+".trace", "is required (e.g. tritonsim.Constant(100))")
		}
		if s.Noise < 0 || s.Noise > 1 || math.IsNaN(s.Noise) {
			bad(p+".noise", "must be a fraction in [0, 1] (got %v)", s.Noise)
		}
		switch s.Arrivals {
		case "", ArrivalsPoisson, ArrivalsUniform:
		default:
			bad(p+".arrivals", "%q is not one of %q, %q", s.Arrivals, ArrivalsPoisson, ArrivalsUniform)
		}
	}
	switch c.Routing {
	case "", RouteRandom, RouteRoundRobin, RouteLeastPending:
	default:
		bad("routing", "%q is not one of %q, %q, %q", c.Routing, RouteRandom, RouteRoundRobin, RouteLeastPending)
	}
	switch c.Removal {
	case "", RemovalDrain, RemovalKill:
	default:
		bad("removal", "%q is not one of %q, %q", c.Removal, RemovalDrain, RemovalKill)
	}
	if c.ExitTimeout < 0 {
		bad("exitTimeout", "must be >= 0 (got %v; 0 means %v)", c.ExitTimeout, DefaultExitTimeout)
	}
	if c.TraceResolution < 0 {
		bad("traceResolution", "must be >= 0 (got %v; 0 means %v)", c.TraceResolution, DefaultTraceResolution)
	}
	if c.MetricsInterval < 0 {
		bad("metricsInterval", "must be >= 0 (got %v; 0 means %v, tritonserver's --metrics-interval-ms default)", c.MetricsInterval, DefaultMetricsInterval)
	}
	if c.CounterScale < 0 || math.IsNaN(c.CounterScale) || math.IsInf(c.CounterScale, 0) {
		bad("counterScale", "must be a finite number >= 0 (got %v; 0 means 1, counters as Triton counts them; set how many times faster than wall time the simulated clock runs)", c.CounterScale)
	}
	return errors.Join(errs...)
}

func validateEnsemble(p string, m Model, byName map[string]Model, bad func(string, string, ...any)) {
	for j, step := range m.Steps {
		sp := fmt.Sprintf("%s.steps[%d]", p, j)
		sm, ok := byName[step]
		switch {
		case !ok:
			bad(sp, "%q is not a model in models; name a composing model", step)
		case sm.IsEnsemble():
			bad(sp, "%q is an ensemble; nested ensembles are not simulated, list its steps instead", step)
		}
	}
	if m.Kind != "" || m.Instances != 0 || m.MaxBatchSize != 0 || m.Compute != (Compute{}) || m.Batching != nil {
		bad(p, "an ensemble (steps set) has no kind, instances, maxBatchSize, compute or batching: Triton runs its steps on the composing models' instances; set those on the steps")
	}
}

func validateModel(p string, m Model, bad func(string, string, ...any)) {
	switch m.Kind {
	case "", KindGPU, KindCPU:
	default:
		bad(p+".kind", "%q is not one of %q, %q", m.Kind, KindGPU, KindCPU)
	}
	if m.Instances < 0 {
		bad(p+".instances", "must be >= 1 (instance_group.count; got %d, 0 means %d)", m.Instances, DefaultInstances)
	}
	if m.MaxBatchSize < 0 {
		bad(p+".maxBatchSize", "must be >= 0 (got %d; 0 means the model does not batch)", m.MaxBatchSize)
	}
	for _, phase := range []struct {
		name string
		l    Latency
	}{{"input", m.Compute.Input}, {"infer", m.Compute.Infer}, {"output", m.Compute.Output}} {
		if phase.l.Base < 0 || phase.l.PerItem < 0 {
			bad(p+".compute."+phase.name, "base and perItem must be >= 0 (got %v, %v)", phase.l.Base, phase.l.PerItem)
		}
	}
	if m.Compute.For(1) <= 0 {
		bad(p+".compute", "a batch of 1 must take time; set compute.infer.base or compute.infer.perItem")
	}
	if b := m.Batching; b != nil {
		if m.MaxBatchSize < 1 {
			bad(p+".maxBatchSize", "must be >= 1 with dynamic batching (batches hold up to maxBatchSize requests; 1 keeps the queue policy without batching)")
		}
		if b.MaxQueueDelay < 0 {
			bad(p+".batching.maxQueueDelay", "must be >= 0 (got %v)", b.MaxQueueDelay)
		}
		if b.MaxQueueSize < 0 {
			bad(p+".batching.maxQueueSize", "must be >= 0 (got %d; 0 is unbounded)", b.MaxQueueSize)
		}
		if b.QueueTimeout < 0 {
			bad(p+".batching.queueTimeout", "must be >= 0 (got %v; 0 is none)", b.QueueTimeout)
		}
	}
}
