package tritonsim

import (
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Sim is a set of simulated Triton pods behind a Service, on a simulated
// clock that only Step moves. It is safe for concurrent use: every exported
// method and every handler it returns takes one lock for its whole call, so
// scrapes (Metrics, the handlers, ServeByLocalAddr), reads (Samples,
// DrainSamples, Summary, Pods, Now) and SetPods can run in other goroutines
// while one steps. Run takes the lock once per step, so calls interleave
// between its steps.
type Sim struct {
	mu      sync.Mutex
	cfg     Config
	models  map[string]*Model
	order   []string // model names in config order (exposition order)
	now     time.Duration
	events  eventQueue
	seq     uint64
	streams []*stream
	route   *rand.Rand
	rr      int

	live      map[string]*pod // running pods: serving or draining
	endpoints []*pod          // serving pods by name: the Service's ready endpoints
	history   []*pod          // every pod ever started, in start order

	samples  []Sample
	finished map[Outcome]uint64 // every request finished since time 0, by outcome (DrainSamples keeps these)
	nextID   uint64
	inSystem int
	area     float64 // ∫ requests in system dt, request-seconds
	areaAt   time.Duration
}

type podState int

const (
	podServing podState = iota
	podDraining
	podExited
)

type pod struct {
	name            string
	state           podState
	started, exited time.Duration
	gpuUUID         string
	models          map[string]*modelState
	inflight        map[uint64]*client
	gpu             gpuMeter
}

// gpuMeter is a pod's nv_gpu_utilization. Triton sets that gauge from DCGM
// once per metrics interval (core src/metrics.cc: the poller sleeps
// metrics_interval_ms/2 and PollDcgmMetrics sets DCGM_FI_DEV_GPU_UTIL, a
// whole percent, times 0.01; DCGM watches the field every
// metrics_interval_ms). DCGM's GPU utilisation is NVML's: the percent of
// time one or more kernels was executing on the GPU (nvmlUtilization_t.gpu).
// Here the GPU is busy while at least one KIND_GPU instance of the pod runs
// a batch, and the gauge reads the busy fraction of the last whole interval
// since the pod started. Approximations: NVML's own sample period is 1/6 s
// to 1 s depending on the GPU, so the real gauge averages a shorter window
// and is noisier; it also lags by up to half an interval more (the
// poller's phase); and a batch keeps the GPU busy for all of its compute,
// including input and output, where real kernels leave gaps.
type gpuMeter struct {
	interval   time.Duration
	origin     time.Duration // the pod's start: the poller starts with the process
	running    int           // KIND_GPU batches executing
	busy       time.Duration // time with running > 0, up to at
	at         time.Duration
	mark       int64         // intervals completed (and accounted) since origin
	busyAtMark time.Duration // busy at the end of interval mark
	util       float64       // busy fraction of interval mark
}

// busyAt is the cumulative busy time at t >= g.at, with running unchanged
// since g.at.
func (g *gpuMeter) busyAt(t time.Duration) time.Duration {
	if g.running > 0 {
		return g.busy + t - g.at
	}
	return g.busy
}

// advance accounts time up to t, closing the intervals that end by then.
func (g *gpuMeter) advance(t time.Duration) {
	if k := int64((t - g.origin) / g.interval); k > g.mark {
		prev := g.busyAtMark
		if k-1 > g.mark {
			prev = g.busyAt(g.origin + time.Duration(k-1)*g.interval)
		}
		end := g.busyAt(g.origin + time.Duration(k)*g.interval)
		g.util = float64(end-prev) / float64(g.interval)
		g.mark, g.busyAtMark = k, end
	}
	g.busy = g.busyAt(t)
	g.at = t
}

func (g *gpuMeter) add(now time.Duration, delta int) {
	g.advance(now)
	g.running += delta
}

// reading is the gauge's value at now: the last whole interval's busy
// fraction as DCGM reports it, a whole percent (0 before the first
// interval ends).
func (g *gpuMeter) reading(now time.Duration) float64 {
	g.advance(now)
	return math.Round(g.util*100) * 0.01
}

// modelState is one model in one pod: its scheduler queue, instances and
// metrics.
type modelState struct {
	m        *Model
	pod      *pod
	queue    []*request // FIFO; entries that left (timed out) are skipped
	head     int
	queued   int
	free     int
	busy     int
	busyArea float64 // instance-seconds busy
	busyAt   time.Duration
	wakeAt   time.Duration
	wakeSet  bool
	util     *series // model-level reporter
	inst     *series // instance reporter (== util unless on a GPU)
}

type reqState int

const (
	reqQueued reqState = iota
	reqExecuting
	reqDone
)

// request is one Triton request on one model: a client's request, or an
// ensemble's request to a composing model.
type request struct {
	client       *client
	ms           *modelState
	start        time.Duration // request_start_ns == queue_start_ns (no frontend time)
	computeStart time.Duration
	state        reqState
}

// client is a request as the client sees it, from arrival to answer.
type client struct {
	id      uint64
	model   *Model
	pod     *pod
	arrival time.Duration
	step    int
	queue   time.Duration // time spent in Triton queues, over all steps
	// The ensemble's compute is its steps' per-request compute, summed in
	// nanoseconds (EnsembleContext's context_stats_aggregator_, reported by
	// RequestTracker::DecrementCounter).
	input, infer, output time.Duration
}

type batch struct {
	ms                   *modelState
	reqs                 []*request
	input, infer, output time.Duration
}

// New validates cfg and returns a simulation at time 0 with no pods.
func New(cfg Config) (*Sim, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tritonsim config: %w", err)
	}
	cfg = cfg.withDefaults()
	s := &Sim{
		cfg:      cfg,
		models:   map[string]*Model{},
		route:    rand.New(rand.NewPCG(cfg.Seed, 0)),
		live:     map[string]*pod{},
		finished: map[Outcome]uint64{},
	}
	for i := range s.cfg.Models {
		m := &s.cfg.Models[i]
		s.models[m.Name] = m
		s.order = append(s.order, m.Name)
	}
	for i, ld := range s.cfg.Load {
		st := &stream{cfg: ld, index: i, model: s.models[ld.Model], rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1))}
		st.need = st.draw()
		s.streams = append(s.streams, st)
	}
	return s, nil
}

// Now is the simulated time.
func (s *Sim) Now() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// Step advances the clock by dt, running every arrival, batch and timeout
// due up to and including the new time.
func (s *Sim) Step(dt time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if dt <= 0 {
		return fmt.Errorf("step: dt must be > 0 (got %v)", dt)
	}
	until := s.now + dt
	for _, st := range s.streams {
		if err := st.generate(s, until); err != nil {
			return err
		}
	}
	for len(s.events) > 0 && s.events[0].at <= until {
		ev := heap.Pop(&s.events).(*event)
		s.advance(ev.at)
		s.handle(ev)
	}
	s.advance(until)
	return nil
}

// Run steps by dt until the clock reaches end.
func (s *Sim) Run(end, dt time.Duration) error {
	for s.Now() < end {
		step := min(dt, end-s.Now())
		if err := s.Step(step); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sim) advance(t time.Duration) {
	s.area += float64(s.inSystem) * (t - s.areaAt).Seconds()
	s.areaAt = t
	s.now = t
}

// SetPods sets the ready pods: the Service's endpoints. A new name starts a
// pod with fresh counters (a new Triton process); a running pod missing from
// names is terminating (see Removal). A terminating pod never becomes ready
// again (Kubernetes), so naming one is an error; a name whose pod has exited
// starts a new pod.
func (s *Sim) SetPods(names []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[string]bool{}
	var errs []error
	for i, n := range names {
		switch {
		case n == "":
			errs = append(errs, fmt.Errorf("pods[%d]: name is required", i))
		case want[n]:
			errs = append(errs, fmt.Errorf("pods[%d]: %q is listed twice", i, n))
		case s.live[n] != nil && s.live[n].state == podDraining:
			errs = append(errs, fmt.Errorf("pods[%d]: %q is terminating and cannot become ready again; give the replacement a new name", i, n))
		}
		want[n] = true
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("set pods: %w", err)
	}
	for _, n := range names {
		if s.live[n] == nil {
			s.startPod(n)
		}
	}
	for _, p := range s.endpoints {
		if !want[p.name] {
			s.terminate(p)
		}
	}
	s.endpoints = s.endpoints[:0]
	for _, p := range s.live {
		if p.state == podServing {
			s.endpoints = append(s.endpoints, p)
		}
	}
	slices.SortFunc(s.endpoints, func(a, b *pod) int { return cmp.Compare(a.name, b.name) })
	return nil
}

func (s *Sim) startPod(name string) {
	p := &pod{name: name, started: s.now, gpuUUID: gpuUUID(name), models: map[string]*modelState{}, inflight: map[uint64]*client{},
		gpu: gpuMeter{interval: s.cfg.MetricsInterval, origin: s.now, at: s.now}}
	for _, n := range s.order {
		m := s.models[n]
		ms := &modelState{m: m, pod: p, free: m.Instances, busyAt: s.now, util: &series{}}
		ms.inst = ms.util
		if !m.IsEnsemble() && m.Kind == KindGPU {
			ms.inst = &series{}
		}
		p.models[n] = ms
	}
	s.live[name] = p
	s.history = append(s.history, p)
}

func (s *Sim) terminate(p *pod) {
	p.state = podDraining
	if s.cfg.Removal == RemovalKill || len(p.inflight) == 0 {
		s.exit(p)
		return
	}
	s.push(&event{at: s.now + s.cfg.ExitTimeout, kind: evExitDeadline, pod: p})
}

// exit ends a pod's process: what it still holds is lost, with no metric.
func (s *Sim) exit(p *pod) {
	ids := make([]uint64, 0, len(p.inflight))
	for id := range p.inflight {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		s.finish(p.inflight[id], OutcomeDropped)
	}
	for _, ms := range p.models {
		ms.setBusy(s.now, -ms.busy)
	}
	p.state = podExited
	p.exited = s.now
	delete(s.live, p.name)
}

func (s *Sim) maybeExit(p *pod) {
	if p.state == podDraining && len(p.inflight) == 0 {
		s.exit(p)
	}
}

func (ms *modelState) setBusy(now time.Duration, delta int) {
	ms.busyArea += float64(ms.busy) * (now - ms.busyAt).Seconds()
	ms.busyAt = now
	ms.busy += delta
	ms.free -= delta
	if ms.m.Kind == KindGPU {
		ms.pod.gpu.add(now, delta)
	}
}

// pick chooses a ready pod as the Service would.
func (s *Sim) pick() *pod {
	eps := s.endpoints
	if len(eps) == 0 {
		return nil
	}
	switch s.cfg.Routing {
	case RouteRoundRobin:
		p := eps[s.rr%len(eps)]
		s.rr++
		return p
	case RouteLeastPending:
		best := eps[0]
		for _, p := range eps[1:] {
			if len(p.inflight) < len(best.inflight) {
				best = p
			}
		}
		return best
	}
	return eps[s.route.IntN(len(eps))]
}

func (s *Sim) arrive(m *Model) {
	s.nextID++
	c := &client{id: s.nextID, model: m, arrival: s.now}
	p := s.pick()
	if p == nil {
		s.samples = append(s.samples, Sample{ID: c.id, Model: m.Name, Arrival: s.now, End: s.now, Outcome: OutcomeNoEndpoint})
		s.finished[OutcomeNoEndpoint]++
		return
	}
	c.pod = p
	p.inflight[c.id] = c
	s.inSystem++
	if m.IsEnsemble() {
		// The ensemble request goes from PENDING to EXECUTING as it is
		// enqueued (EnsembleScheduler::Enqueue): it never counts as
		// pending and its queue time is ~0.
		s.enqueue(p.models[m.Steps[0]], c)
		return
	}
	s.enqueue(p.models[m.Name], c)
}

// enqueue is InferenceRequest::Run on one model: pending goes up, and back
// down if the scheduler refuses the request.
func (s *Sim) enqueue(ms *modelState, c *client) {
	ms.util.pending++
	if b := ms.m.Batching; b != nil && b.MaxQueueSize > 0 && ms.queued >= b.MaxQueueSize {
		ms.util.pending-- // PENDING -> FAILED_ENQUEUE; no failure counted
		s.fail(c, OutcomeRejected)
		return
	}
	r := &request{client: c, ms: ms, start: s.now}
	ms.queue = append(ms.queue, r)
	ms.queued++
	if b := ms.m.Batching; b != nil && b.QueueTimeout > 0 {
		s.push(&event{at: s.now + b.QueueTimeout, kind: evTimeout, req: r})
	}
	s.dispatch(ms)
}

func (ms *modelState) peek() *request {
	for ms.head < len(ms.queue) && ms.queue[ms.head].state != reqQueued {
		ms.queue[ms.head] = nil
		ms.head++
	}
	if ms.head >= len(ms.queue) {
		return nil
	}
	return ms.queue[ms.head]
}

func (ms *modelState) take(n int) []*request {
	out := make([]*request, 0, n)
	for len(out) < n {
		r := ms.peek()
		ms.queue[ms.head] = nil
		ms.head++
		out = append(out, r)
	}
	ms.queued -= n
	if ms.head > 1024 && ms.head*2 > len(ms.queue) {
		ms.queue = append([]*request(nil), ms.queue[ms.head:]...)
		ms.head = 0
	}
	return out
}

// dispatch gives batches to free instances, as the dynamic batcher (or the
// default scheduler, one request at a time) does.
func (s *Sim) dispatch(ms *modelState) {
	for ms.free > 0 && ms.queued > 0 {
		limit := 1
		b := ms.m.Batching
		if b != nil {
			limit = ms.m.MaxBatchSize
		}
		n := min(ms.queued, limit)
		if b != nil && n < limit && b.MaxQueueDelay > 0 {
			if deadline := ms.peek().start + b.MaxQueueDelay; s.now < deadline {
				s.wake(ms, deadline)
				return
			}
		}
		bt := &batch{ms: ms, reqs: ms.take(n),
			input: ms.m.Compute.Input.For(n), infer: ms.m.Compute.Infer.For(n), output: ms.m.Compute.Output.For(n)}
		for _, r := range bt.reqs {
			r.state = reqExecuting // PENDING -> EXECUTING
			r.computeStart = s.now
			ms.util.pending--
		}
		ms.setBusy(s.now, 1)
		s.push(&event{at: s.now + bt.input + bt.infer + bt.output, kind: evBatchDone, batch: bt})
	}
}

func (s *Sim) wake(ms *modelState, at time.Duration) {
	if ms.wakeSet && ms.wakeAt <= at {
		return
	}
	ms.wakeAt, ms.wakeSet = at, true
	s.push(&event{at: at, kind: evWake, ms: ms})
}

// batchDone reports each request as the backend does
// (TRITONBACKEND_ModelInstanceReportStatistics -> UpdateSuccess): every
// request in a batch gets the batch's compute times, and the batch counts
// one execution (UpdateInferBatchStats).
func (s *Sim) batchDone(bt *batch) {
	ms := bt.ms
	ms.setBusy(s.now, -1)
	ms.inst.executions++
	for _, r := range bt.reqs {
		r.state = reqDone
		q := r.computeStart - r.start
		st := ms.inst
		st.success++
		st.inferences++ // batch size of a request is 1
		st.requestUS += us(s.now - r.start)
		st.queueUS += us(q)
		st.inputUS += us(bt.input)
		st.inferUS += us(bt.infer)
		st.outputUS += us(bt.output)
		c := r.client
		c.queue += q
		if !c.model.IsEnsemble() {
			s.finish(c, OutcomeSuccess)
			continue
		}
		c.input += bt.input
		c.infer += bt.infer
		c.output += bt.output
		c.step++
		if c.step < len(c.model.Steps) {
			s.enqueue(c.pod.models[c.model.Steps[c.step]], c)
			continue
		}
		// The ensemble's own statistics: queue ~0 (compute_start is taken
		// right after queue_start), compute the sum of its steps', one
		// execution per request.
		es := c.pod.models[c.model.Name].inst
		es.success++
		es.inferences++
		es.executions++
		es.requestUS += us(s.now - c.arrival)
		es.inputUS += us(c.input)
		es.inferUS += us(c.infer)
		es.outputUS += us(c.output)
		s.finish(c, OutcomeSuccess)
	}
	s.dispatch(ms)
	s.maybeExit(ms.pod)
}

func us(d time.Duration) uint64 { return uint64(d / time.Microsecond) }

// timeout rejects a request still queued at its deadline
// (FinishRejectedCancelledRequests: FailureReason::REJECTED on the
// model-level reporter, no duration added).
func (s *Sim) timeout(r *request) {
	if r.state != reqQueued {
		return
	}
	ms := r.ms
	r.state = reqDone
	ms.queued--
	ms.util.pending--
	ms.util.failure[reasonRejected]++
	s.fail(r.client, OutcomeTimedOut)
}

// fail answers a client with an error; an ensemble counts two OTHER
// failures for it.
func (s *Sim) fail(c *client, outcome Outcome) {
	if c.model.IsEnsemble() {
		c.pod.models[c.model.Name].util.failure[reasonOther] += 2
	}
	s.finish(c, outcome)
	s.maybeExit(c.pod)
}

func (s *Sim) finish(c *client, outcome Outcome) {
	s.samples = append(s.samples, Sample{
		ID: c.id, Model: c.model.Name, Pod: c.pod.name,
		Arrival: c.arrival, End: s.now, Queue: c.queue, Outcome: outcome,
	})
	s.finished[outcome]++
	delete(c.pod.inflight, c.id)
	s.inSystem--
}

// eventKind is also the order of events due at the same time: a batch
// that ends frees its instance before a request arriving then is placed,
// and a draining pod finishes that batch before it exits.
type eventKind int

const (
	evBatchDone eventKind = iota
	evTimeout
	evWake
	evExitDeadline
	evArrival
)

type event struct {
	at     time.Duration
	seq    uint64
	kind   eventKind
	stream *stream
	batch  *batch
	ms     *modelState
	req    *request
	pod    *pod
}

func (s *Sim) push(ev *event) {
	s.seq++
	ev.seq = s.seq
	heap.Push(&s.events, ev)
}

func (s *Sim) handle(ev *event) {
	switch ev.kind {
	case evArrival:
		s.arrive(ev.stream.model)
	case evBatchDone:
		if ev.batch.ms.pod.state != podExited {
			s.batchDone(ev.batch)
		}
	case evWake:
		if ev.ms.pod.state == podExited {
			return
		}
		if ev.ms.wakeSet && ev.ms.wakeAt == ev.at {
			ev.ms.wakeSet = false
		}
		s.dispatch(ev.ms)
	case evTimeout:
		if ev.req.ms.pod.state != podExited {
			s.timeout(ev.req)
		}
	case evExitDeadline:
		if ev.pod.state == podDraining {
			s.exit(ev.pod)
		}
	}
}

// eventQueue orders events by time, kind, then by when they were
// scheduled. Arrivals are scheduled at the start of a step, before the
// events that step causes, so without the kind an arrival and a batch end
// at the same time would run in an order that depends on the step size.
// Among arrivals, every stream is generated up to the same segment in each
// step, in stream order, so their schedule order is the same whatever the
// step size.
type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	a, b := q[i], q[j]
	if a.at != b.at {
		return a.at < b.at
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	return a.seq < b.seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	ev := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return ev
}

// stream turns a trace into arrival events, one TraceResolution segment at
// a time: the rate is sampled (and its noise drawn) at the segment's start,
// and an arrival falls where the integrated rate reaches the next threshold
// (an Exp(1) draw for Poisson, 1 for uniform). Segments are aligned to time
// 0, so arrivals do not depend on how the clock is stepped.
type stream struct {
	cfg   Stream
	index int
	model *Model
	rng   *rand.Rand
	pos   time.Duration // arrivals are generated up to here
	need  float64       // integrated rate still needed for the next arrival
}

func (st *stream) draw() float64 {
	if st.cfg.Arrivals == ArrivalsUniform {
		return 1
	}
	return st.rng.ExpFloat64()
}

func (st *stream) generate(s *Sim, until time.Duration) error {
	res := s.cfg.TraceResolution
	for st.pos < until {
		start := st.pos
		rate := st.cfg.Trace(start)
		if rate < 0 || math.IsNaN(rate) || math.IsInf(rate, 0) {
			return fmt.Errorf("load[%d] (model %q): trace gives %v requests/s at %v; a rate must be a finite number >= 0", st.index, st.cfg.Model, rate, start)
		}
		if st.cfg.Noise > 0 {
			rate *= 1 + st.cfg.Noise*(2*st.rng.Float64()-1)
		}
		seg := res.Seconds()
		off := 0.0
		for rate > 0 {
			if off+st.need/rate > seg {
				st.need -= (seg - off) * rate
				break
			}
			off += st.need / rate
			s.push(&event{at: start + time.Duration(math.Round(off*1e9)), kind: evArrival, stream: st})
			st.need = st.draw()
		}
		st.pos = start + res
	}
	return nil
}
