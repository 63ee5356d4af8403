package loop

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aiplatform/infra/tests/closedloop/cluster"
	"github.com/aiplatform/infra/tests/closedloop/kedastandin"
	"github.com/aiplatform/infra/tests/closedloop/nodegroups"
	"github.com/aiplatform/infra/tests/closedloop/program"
	"github.com/aiplatform/infra/tests/closedloop/tritonsim"
	"github.com/aiplatform/infra/workloads/inference"
)

// Sample is the loop's state at one simulated time.
type Sample struct {
	At                    time.Duration
	Replicas, ReadyPods   int
	Nodes, ReadyNodes     int
	Load                  float64
	Unschedulable, Launch int
}

// Result is what one scenario run recorded.
type Result struct {
	Scenario Scenario
	Samples  []Sample
	Requests []tritonsim.Sample
	// Events are the autoscaler's and the harness's actions, for the log.
	Events []string
	// Alerts are the program's alerts that fired for the scenario's
	// namespace, with the first time each was seen firing.
	Alerts map[string]time.Duration
	// WakeBound, for a scale-to-zero scenario, is how long the first call
	// after idle may wait for a ready replica: the cold start (node boot,
	// image pull, model load) plus KEDA's polling interval plus the wake
	// query's rate window.
	WakeBound time.Duration
	// SimLag is the most the simulator's clock fell behind the loop's
	// (wall time × the factor) before a step caught it up: while it lags,
	// the pods' metrics endpoints serve counters from the past, and the
	// catch-up lands in one scrape.
	SimLag time.Duration
	// ReadyLags are, for each Triton pod in the order the harness saw them
	// Ready, how long after its modelled ready moment (its ready delay
	// after the harness annotated it) that was: kwok's stage and the
	// harness's sync at the compression factor, not the platform. The
	// simulator serves a pod only from then on.
	ReadyLags []time.Duration
	// SyncGap is the longest time between two of the harness's syncs of
	// pods and nodes (loop time; syncPeriod × F when the machine keeps up).
	SyncGap time.Duration
}

// nodeSlots hands out unique loopback pod CIDRs 127.<a>.<b>.0/24 to nodes
// across every scenario of a run.
type nodeSlots struct {
	mu   sync.Mutex
	next int
}

func (s *nodeSlots) cidr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	return fmt.Sprintf("127.%d.%d.0/24", 1+s.next/256, s.next%256)
}

// runner is one scenario in flight.
type runner struct {
	env   *Env
	sc    Scenario
	ns    string
	sim   *tritonsim.Sim
	ca    *nodegroups.Autoscaler
	group nodegroups.Group
	zone  int

	start     time.Time
	res       Result
	pending   map[string]time.Duration // node name → sim time it registers
	pulled    map[string]bool          // nodes that have pulled Triton's image
	known     map[string]bool          // registered nodes not deleted since
	annotate  map[string]bool          // pods annotated with their ready delay
	readyAt   map[string]time.Duration // pod not yet seen Ready → its modelled ready moment (loop time)
	gpuPerPod int64
	cpuReq    int64
	prevBusy  map[string][2]float64 // pod → busy and instance seconds at the last sample
	// keda is KEDA's scale loop for the scale-to-zero scenarios (nil for
	// the HPA's).
	keda *kedastandin.Operator
}

func (r *runner) now() time.Duration {
	return time.Duration(float64(time.Since(r.start)) * r.env.F)
}

func (r *runner) logf(format string, args ...any) {
	r.res.Events = append(r.res.Events, fmt.Sprintf("%7.1fs %s", r.now().Seconds(), fmt.Sprintf(format, args...)))
}

// Run runs one scenario in namespace ns and returns what it recorded.
func (e *Env) Run(ctx context.Context, sc Scenario, ns string) (*Result, error) {
	autoscaling := map[string]any{"metric": sc.Signal, "target": sc.Target}
	if sc.CallsPerPod > 0 {
		autoscaling["callsPerPod"] = sc.CallsPerPod
	}
	tr := map[string]any{"autoscaling": autoscaling}
	if sc.MinReplicas > 0 {
		tr["minReplicas"] = sc.MinReplicas
	}
	if sc.MaxReplicas > 0 {
		tr["maxReplicas"] = sc.MaxReplicas
	}
	raw, _ := json.Marshal(tr)
	scaleToZero := sc.ScaleToZero
	objs, err := program.Render(program.Options{Overrides: map[string]string{"aiplatform:triton": string(raw)}, GPUMaxSize: sc.GPUMax, ScaleToZero: &scaleToZero})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sc.Name, err)
	}
	r := &runner{env: e, sc: sc, ns: ns, pending: map[string]time.Duration{}, pulled: map[string]bool{}, annotate: map[string]bool{}, known: map[string]bool{},
		readyAt: map[string]time.Duration{}}
	r.res.Scenario = sc
	if err := r.setup(ctx, objs); err != nil {
		return nil, fmt.Errorf("%s: %w", sc.Name, err)
	}
	defer e.pods.set(r.sim, nil)
	if r.keda != nil {
		defer e.KEDA.Unregister(r.ns, r.keda.ScaledObject().Name)
	}
	if err := r.loop(ctx); err != nil {
		return &r.res, fmt.Errorf("%s: %w", sc.Name, err)
	}
	r.res.Requests = r.sim.Samples()
	return &r.res, nil
}

func (r *runner) setup(ctx context.Context, objs *program.Objects) error {
	e := r.env
	var gpu *program.NodeGroup
	for i, g := range objs.NodeGroups {
		if g.Labels["aiplatform.io/node-kind"] == "gpu" {
			gpu = &objs.NodeGroups[i]
		}
	}
	if gpu == nil {
		return fmt.Errorf("the program has no gpu node group")
	}
	alloc, ok := instanceAllocatable[gpu.InstanceTypes[0]]
	if !ok {
		return fmt.Errorf("no allocatable figures for instance type %s (instanceAllocatable)", gpu.InstanceTypes[0])
	}
	labels := map[string]string{ScenarioLabel: r.ns, "node.kubernetes.io/instance-type": gpu.InstanceTypes[0], "eks.amazonaws.com/nodegroup": gpu.Name}
	for k, v := range gpu.Labels {
		labels[k] = v
	}
	r.group = nodegroups.Group{Name: r.ns + "-" + gpu.Name, Labels: labels, Allocatable: alloc, Min: gpu.Min, Max: gpu.Max}
	for _, t := range gpu.Taints {
		r.group.Taints = append(r.group.Taints, nodegroups.Taint{Key: t.Key, Value: t.Value, Effect: nodegroups.TaintEffect(t.Effect)})
	}
	params := nodegroups.PlatformParams()
	params.NodeBoot = e.Delays.NodeBoot.D
	if v, ok := objs.AutoscalerArgs["scale-down-unneeded-time"].(string); ok {
		if d, err := time.ParseDuration(v); err == nil {
			params.UnneededTime = d
		}
	}
	if v, ok := objs.AutoscalerArgs["scale-down-delay-after-add"].(string); ok {
		if d, err := time.ParseDuration(v); err == nil {
			params.DelayAfterAdd = d
		}
	}
	scaled, err := params.Scale(1) // the runner keeps sim time; the factor applies to wall time only
	if err != nil {
		return err
	}
	if r.ca, err = nodegroups.New([]nodegroups.Group{r.group}, scaled); err != nil {
		return err
	}
	cfg := tritonsim.Config{Models: r.sc.Models, Load: r.sc.Load, Seed: r.sc.Seed, CounterScale: e.F}
	if r.sim, err = tritonsim.New(cfg); err != nil {
		return err
	}
	if err := e.C.Apply(ctx, map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": r.ns}}); err != nil {
		return err
	}
	dep := deploymentFor(objs.Deployment, r.ns)
	r.gpuPerPod = gpuRequest(dep)
	r.cpuReq = milli(containerRequest(dep, "cpu"))
	r.prevBusy = map[string][2]float64{}
	hpa, so, err := r.autoscaler(ctx, objs)
	if err != nil {
		return err
	}
	// Warm start: the scenario begins where a deployed platform is, with
	// minReplicas pods ready on GPU nodes that have Triton's image (the
	// first deploy's cold start is not what the scenarios measure). The
	// clock starts once they are ready; the simulator sees no load before.
	r.start = time.Now()
	warm := r.sc.WarmReplicas
	if warm == 0 && !r.sc.StartIdle {
		warm = r.sc.MinReplicas
	}
	child(dep, "spec")["replicas"] = warm
	for i := 0; i < warm; i++ {
		name := fmt.Sprintf("%s-warm-%d", r.group.Name, i+1)
		if err := r.createNode(ctx, name); err != nil {
			return err
		}
		r.pulled[name] = true
	}
	if err := e.C.Apply(ctx, dep); err != nil {
		return fmt.Errorf("the program's Deployment: %w", err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pods, err := listPods(ctx, e.C, r.ns)
		if err != nil {
			return err
		}
		pods = r.tritonPods(pods)
		if err := r.syncPods(ctx, pods); err != nil {
			return err
		}
		ready := 0
		for _, p := range pods {
			if p.Ready() {
				ready++
			}
		}
		if ready >= warm {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("warm start: %d of %d pods ready after 2 minutes", ready, warm)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	// The HPA takes the replica count over from here (it writes the scale
	// subresource; the Deployment's spec.replicas above was only the start).
	// Under KEDA, the HPA is the one its operator creates from the
	// ScaledObject.
	if err := e.C.Apply(ctx, hpa); err != nil {
		return fmt.Errorf("the HPA: %w", err)
	}
	r.res.Events = nil
	r.start = time.Now()
	if so == nil {
		r.logf("warm start: %d pod(s) ready; applied the program's HPA (signal %s)", warm, r.sc.Signal)
		return nil
	}
	r.keda = kedastandin.NewOperator(*so, e.promValues, 0)
	if warm > 0 {
		// A platform serving this load has been active until now.
		r.keda.MarkActive(0)
	}
	r.logf("start: %d pod(s) ready; the program's ScaledObject (signal %s) run by the KEDA stand-in, with the HPA it creates", warm, r.sc.Signal)
	return nil
}

// autoscaler is the HPA that sizes Triton in the scenario, in its
// namespace and compressed: the program's, or under triton.scaleToZero the
// one KEDA's operator creates from the program's ScaledObject. so is then
// that ScaledObject as the loop runs it, registered with the KEDA
// stand-in's metrics server, and the lds-service stand-in's pod, whose
// failed calls wake Triton, is created.
func (r *runner) autoscaler(ctx context.Context, objs *program.Objects) (hpa map[string]any, so *kedastandin.ScaledObject, err error) {
	e := r.env
	if !r.sc.ScaleToZero {
		if objs.HPA == nil {
			return nil, nil, fmt.Errorf("the program renders no HPA for Triton with triton.scaleToZero off")
		}
		hpa, err = hpaFor(objs.HPA, r.ns, e.F)
		return hpa, nil, err
	}
	if objs.ScaledObject == nil || objs.LDSDeployment == nil || objs.LDSPodMonitor == nil {
		return nil, nil, fmt.Errorf("scale to zero: the program renders ScaledObject %v, lds-service Deployment %v, lds-service PodMonitor %v; all three are needed (triton.scaleToZero, ldsService, observability)",
			objs.ScaledObject != nil, objs.LDSDeployment != nil, objs.LDSPodMonitor != nil)
	}
	tritonNS, _ := child(objs.Deployment, "metadata")["namespace"].(string)
	ldsNS, _ := child(objs.LDSPodMonitor, "metadata")["namespace"].(string)
	orig, inLoop, err := scaledObjectFor(objs.ScaledObject, r.ns, e.F, tritonNS, ldsNS)
	if err != nil {
		return nil, nil, err
	}
	wake, ok := orig.TriggerNamed(inference.KEDAWakeTrigger)
	if !ok {
		return nil, nil, fmt.Errorf("the program's ScaledObject has no %q trigger (workloads/inference KEDAWakeTrigger)", inference.KEDAWakeTrigger)
	}
	window, err := queryWindow(wake.Query)
	if err != nil {
		return nil, nil, fmt.Errorf("trigger %s: %w", wake.Name, err)
	}
	r.res.WakeBound = e.Delays.ColdStart() + orig.PollingInterval + window
	if hpa, err = hpaFor(kedastandin.HPA(inLoop), r.ns, e.F); err != nil {
		return nil, nil, fmt.Errorf("the HPA KEDA creates: %w", err)
	}
	if err := e.ensureCallersNode(ctx); err != nil {
		return nil, nil, err
	}
	pod, err := callerPod(objs.LDSDeployment, r.ns, callersNode)
	if err != nil {
		return nil, nil, err
	}
	if err := e.C.Apply(ctx, pod); err != nil {
		return nil, nil, fmt.Errorf("the lds-service stand-in's pod: %w", err)
	}
	e.KEDA.Register(inLoop)
	return hpa, &inLoop, nil
}

// tritonPods leaves out the lds-service stand-in's pod.
func (r *runner) tritonPods(pods []podView) []podView {
	out := pods[:0:0]
	for _, p := range pods {
		if p.Metadata.Name != callerPodName {
			out = append(out, p)
		}
	}
	return out
}

// pollKEDA runs one poll of the KEDA stand-in's operator and sets the
// replicas it decides through the scale subresource, as KEDA does
// (scale_scaledobjects.go updateScaleOnScaleTarget).
func (r *runner) pollKEDA(ctx context.Context, t time.Duration) error {
	path := fmt.Sprintf("/apis/apps/v1/namespaces/%s/deployments/%s/scale", r.ns, r.keda.ScaledObject().Target.Name)
	var scale map[string]any
	if err := r.env.C.Do(ctx, "GET", path, nil, &scale); err != nil {
		return fmt.Errorf("KEDA stand-in: reading the scale: %w", err)
	}
	current, _ := child(scale, "spec")["replicas"].(float64)
	p := r.keda.Poll(ctx, t, int(current))
	if p.ScaleTo == kedastandin.NoChange {
		if p.IsErr {
			r.logf("%s", p)
		}
		return nil
	}
	child(scale, "spec")["replicas"] = p.ScaleTo
	if err := r.env.C.Do(ctx, "PUT", path, scale, nil); err != nil {
		return fmt.Errorf("KEDA stand-in: setting %d replicas: %w", p.ScaleTo, err)
	}
	r.logf("%s", p)
	return nil
}

// loop drives the harness's parts until the scenario's end: pods, nodes
// and the autoscaler are read and acted on every syncPeriod of wall time
// (3 s of loop time at factor 15: about how long a new ready pod takes to
// reach a Service's endpoints and kube-proxy in a real cluster), while
// stepSim drives the simulated clock on its own goroutine.
func (r *runner) loop(ctx context.Context) error {
	e := r.env
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stepped := make(chan simDone, 1)
	go func() { stepped <- r.stepSim(ctx) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var lastSync, lastSample, lastScan, lastAlerts time.Duration = -time.Hour, -time.Hour, -time.Hour, -time.Hour
	interrupted := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case d := <-stepped:
			// The simulator reached the scenario's end (or failed).
			r.res.SimLag = d.lag
			return d.err
		case <-tick.C:
		}
		t := r.now()
		if t >= r.sc.Duration {
			continue // the simulator's last step is due
		}
		if t-lastSync < compressInverse(syncPeriod, e.F) {
			continue
		}
		if lastSync >= 0 {
			r.res.SyncGap = max(r.res.SyncGap, t-lastSync)
		}
		lastSync = t
		// Nodes whose boot is over are registered first, so the node count
		// sampled below never misses one between its launch and its listing.
		if err := r.registerNodes(ctx, t); err != nil {
			return err
		}
		snap, err := e.state(ctx)
		if err != nil {
			return err
		}
		all, nodes := snap.pods[r.ns], snap.nodes[r.ns]
		pods := r.tritonPods(all)
		if err := r.syncPods(ctx, all); err != nil {
			return err
		}
		if r.keda != nil && r.keda.Due(t) {
			if err := r.pollKEDA(ctx, t); err != nil {
				return err
			}
		}
		if t-lastScan >= nodegroups.DefaultScanInterval {
			lastScan = t
			if err := r.scan(ctx, t, nodes, pods); err != nil {
				return err
			}
		}
		if r.sc.InterruptAt > 0 && !interrupted && t >= r.sc.InterruptAt {
			interrupted = true
			if err := r.interrupt(ctx, pods); err != nil {
				return err
			}
		}
		if t-lastSample >= 5*time.Second {
			lastSample = t
			n, _ := replicas(ctx, e.C, r.ns, "triton")
			// The harness creates and deletes every node of the scenario, so
			// it counts them itself (a snapshot may predate a registration).
			s := Sample{At: t, Replicas: n, Nodes: len(r.known) + len(r.pending), Load: r.offered(t)}
			for _, p := range pods {
				if p.Ready() {
					s.ReadyPods++
				}
				if p.Unschedulable() {
					s.Unschedulable++
				}
			}
			for _, nd := range nodes {
				if nd.Ready() {
					s.ReadyNodes++
				}
			}
			s.Launch = len(r.pending)
			r.res.Samples = append(r.res.Samples, s)
			r.updateCPU()
		}
		if t-lastAlerts >= 30*time.Second {
			lastAlerts = t
			r.recordAlerts(ctx, t)
		}
	}
}

type simDone struct {
	lag time.Duration
	err error
}

// stepSim advances the simulator to the loop's clock every 20 ms of wall
// time until the scenario's end, on a goroutine of its own. It used to
// step between the harness's API calls, which take up to seconds of wall
// time on a loaded 2-core machine: the simulator's clock then fell behind,
// its pods' metrics endpoints served counters from the past and the
// catch-up landed in one scrape, a rate spike a real Triton never makes.
// lag is the most its clock was behind before a step.
func (r *runner) stepSim(ctx context.Context) simDone {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var lag time.Duration
	for {
		select {
		case <-ctx.Done():
			return simDone{lag, ctx.Err()}
		case <-tick.C:
		}
		t := min(r.now(), r.sc.Duration)
		if dt := t - r.sim.Now(); dt > 0 {
			lag = max(lag, dt)
			if err := r.sim.Step(dt); err != nil {
				return simDone{lag, err}
			}
		}
		if t >= r.sc.Duration {
			return simDone{lag, nil}
		}
	}
}

// cpuModel is the metrics.k8s.io stand-in's CPU for a Triton pod: 10% of
// its request idle plus 40% at a fully busy GPU (request handling, pre- and
// post-processing). An assumption, documented with the figures: it keeps
// the HPA's CPU metric (70% of the request) from ever driving the loop, so
// the inference signal is what is measured.
func cpuModel(request int64, busy float64) int64 {
	return int64(float64(request) * (0.1 + 0.4*busy))
}

// updateCPU sets each running pod's CPU from its busy fraction since the
// last sample.
func (r *runner) updateCPU() {
	for _, p := range r.sim.Pods() {
		prev := r.prevBusy[p.Name]
		r.prevBusy[p.Name] = [2]float64{p.BusySeconds, p.InstanceSeconds}
		if !p.Running {
			r.env.setCPU(r.ns, p.Name, -1)
			continue
		}
		busy := 0.0
		if d := p.InstanceSeconds - prev[1]; d > 0 {
			busy = (p.BusySeconds - prev[0]) / d
		}
		r.env.setCPU(r.ns, p.Name, cpuModel(r.cpuReq, busy))
	}
}

// recordAlerts notes the program's alerts firing for the scenario.
func (r *runner) recordAlerts(ctx context.Context, t time.Duration) {
	samples, err := r.env.Prom.Query(ctx, fmt.Sprintf(`ALERTS{alertstate="firing",namespace=%q}`, r.ns), time.Now())
	if err != nil {
		r.logf("alerts query: %v", err)
		return
	}
	if r.res.Alerts == nil {
		r.res.Alerts = map[string]time.Duration{}
	}
	for _, s := range samples {
		name := s.Labels["alertname"]
		if _, seen := r.res.Alerts[name]; !seen {
			r.res.Alerts[name] = t
			r.logf("alert %s firing", name)
		}
	}
}

// syncPeriod is how often, in wall time, the harness reads pods and nodes.
// 21 scenarios read every 100 ms kept kube-apiserver at a whole core on the
// 2-core machine, which slowed the controllers the loop measures.
const syncPeriod = 200 * time.Millisecond

func (r *runner) offered(t time.Duration) float64 {
	sum := 0.0
	for _, s := range r.sc.Load {
		sum += s.Trace(t)
	}
	return sum
}

// compressInverse: a wall duration as simulated time.
func compressInverse(d time.Duration, f float64) time.Duration { return time.Duration(float64(d) * f) }

// syncPods gives the simulator the ready pods (what the Service's
// endpoints would hold), the pod server their IPs, and every newly bound
// pod its time to ready: the image pull on a node that has not pulled it
// yet, then the model load (kwok's stage waits that long, compressed).
func (r *runner) syncPods(ctx context.Context, pods []podView) error {
	var ready []string
	byIP := map[string]http.Handler{}
	for _, p := range pods {
		if p.Metadata.Name == callerPodName {
			if p.Status.PodIP != "" {
				byIP[p.Status.PodIP] = callerMetrics(r.sim, r.env.F)
			}
			continue
		}
		if p.Status.PodIP != "" {
			byIP[p.Status.PodIP] = r.sim.PodHandler(p.Metadata.Name)
		}
		if p.Ready() {
			ready = append(ready, p.Metadata.Name)
			if at, ok := r.readyAt[p.Metadata.Name]; ok {
				delete(r.readyAt, p.Metadata.Name)
				lag := max(r.now()-at, 0)
				r.res.ReadyLags = append(r.res.ReadyLags, lag)
				r.logf("pod %s ready, %v after its modelled ready moment (kwok and the harness's sync)", p.Metadata.Name, lag.Round(100*time.Millisecond))
			}
		}
		if p.Spec.NodeName == "" || r.annotate[p.Metadata.Name] || p.Metadata.DeletionTimestamp != nil {
			continue
		}
		if _, ok := p.Metadata.Annotations[cluster.ReadyAfterAnnotation]; ok {
			r.annotate[p.Metadata.Name] = true
			continue
		}
		delay := r.env.Delays.ModelLoad.D
		if !r.pulled[p.Spec.NodeName] {
			delay += r.env.Delays.ImagePull.D
			r.pulled[p.Spec.NodeName] = true
		}
		ms := compress(delay, r.env.F).Milliseconds()
		patch := map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{
			"name": p.Metadata.Name, "namespace": r.ns,
			"annotations": map[string]any{cluster.ReadyAfterAnnotation: strconv.FormatInt(ms, 10)},
		}}
		if err := r.env.C.Apply(ctx, patch); err != nil && !cluster.IsNotFound(err) {
			return fmt.Errorf("annotating pod %s: %w", p.Metadata.Name, err)
		}
		r.annotate[p.Metadata.Name] = true
		r.readyAt[p.Metadata.Name] = r.now() + delay
		r.logf("pod %s bound to %s, ready in %v", p.Metadata.Name, p.Spec.NodeName, delay)
	}
	sort.Strings(ready)
	r.env.pods.set(r.sim, byIP)
	return r.sim.SetPods(ready)
}

// scan runs the autoscaler stand-in and carries out its actions.
func (r *runner) scan(ctx context.Context, t time.Duration, nodes []nodeView, pods []podView) error {
	var ns []nodegroups.Node
	for _, n := range nodes {
		ns = append(ns, nodegroups.Node{Name: n.Metadata.Name, Group: r.group.Name, Ready: n.Ready()})
	}
	var ps []nodegroups.Pod
	for _, p := range pods {
		gp := nodegroups.Pod{Namespace: r.ns, Name: p.Metadata.Name, Node: p.Spec.NodeName,
			Unschedulable: p.Unschedulable(), NodeSelector: p.Spec.NodeSelector, Terminating: p.Metadata.DeletionTimestamp != nil}
		for _, c := range p.Spec.Containers {
			rq := requests(c.Resources.Requests)
			gp.Requests.MilliCPU += rq.MilliCPU
			gp.Requests.Memory += rq.Memory
			gp.Requests.GPU += rq.GPU
		}
		for _, tol := range p.Spec.Tolerations {
			v := tol.Value
			if tol.Operator == "Exists" {
				v = ""
			}
			gp.Tolerations = append(gp.Tolerations, nodegroups.Toleration{Key: tol.Key, Value: v, Effect: nodegroups.TaintEffect(tol.Effect)})
		}
		ps = append(ps, gp)
	}
	for _, a := range r.ca.Scan(t, ns, ps) {
		switch a.Kind {
		case nodegroups.Launch:
			r.pending[a.Node] = t + r.ca.Params().NodeBoot
			r.logf("autoscaler: launch %s", a.Node)
		case nodegroups.Drain:
			r.logf("autoscaler: drain %s", a.Node)
			if err := r.drain(ctx, a.Node, pods); err != nil {
				return err
			}
		case nodegroups.Delete:
			r.logf("autoscaler: delete %s", a.Node)
			delete(r.pending, a.Node)
			delete(r.known, a.Node)
			if err := r.env.C.Delete(ctx, "/api/v1/nodes/"+a.Node); err != nil && !cluster.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}

// registerNodes creates the nodes whose boot time has passed, labelled and
// tainted like the program's GPU group, with the instance type's
// allocatable resources and a loopback pod CIDR.
func (r *runner) registerNodes(ctx context.Context, t time.Duration) error {
	for name, at := range r.pending {
		if t < at {
			continue
		}
		delete(r.pending, name)
		if err := r.createNode(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// createNode registers a node of the scenario's group.
func (r *runner) createNode(ctx context.Context, name string) error {
	labels := map[string]any{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
		"topology.kubernetes.io/zone": fmt.Sprintf("us-west-2%c", 'a'+r.zone%3), "type": "kwok"}
	r.zone++
	for k, v := range r.group.Labels {
		labels[k] = v
	}
	var taints []any
	for _, tn := range r.group.Taints {
		taints = append(taints, map[string]any{"key": tn.Key, "value": tn.Value, "effect": string(tn.Effect)})
	}
	a := r.group.Allocatable
	res := map[string]any{"cpu": fmt.Sprintf("%dm", a.MilliCPU), "memory": strconv.FormatInt(a.Memory, 10),
		"nvidia.com/gpu": strconv.FormatInt(a.GPU, 10), "pods": strconv.FormatInt(a.Pods, 10), "ephemeral-storage": "200Gi"}
	node := map[string]any{"apiVersion": "v1", "kind": "Node",
		"metadata": map[string]any{"name": name, "labels": labels, "annotations": map[string]any{"kwok.x-k8s.io/node": "fake"}},
		"spec":     map[string]any{"podCIDR": r.env.slots.cidr(), "taints": taints},
		"status":   map[string]any{"capacity": res, "allocatable": res},
	}
	if err := r.env.C.Do(ctx, "POST", "/api/v1/nodes", node, nil); err != nil {
		return fmt.Errorf("registering node %s: %w", name, err)
	}
	r.known[name] = true
	r.logf("node %s registered", name)
	return nil
}

// drain deletes a node's pods (their ReplicaSet recreates them; the
// simulator drains them once they leave the ready set).
func (r *runner) drain(ctx context.Context, node string, pods []podView) error {
	for _, p := range pods {
		if p.Spec.NodeName != node {
			continue
		}
		if err := r.env.C.Delete(ctx, "/api/v1/namespaces/"+r.ns+"/pods/"+p.Metadata.Name); err != nil && !cluster.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// interrupt: a spot interruption of one node that runs a ready pod.
func (r *runner) interrupt(ctx context.Context, pods []podView) error {
	for _, p := range pods {
		if p.Ready() {
			r.logf("spot interruption of %s (pod %s)", p.Spec.NodeName, p.Metadata.Name)
			if err := r.drain(ctx, p.Spec.NodeName, pods); err != nil {
				return err
			}
			delete(r.known, p.Spec.NodeName)
			return r.env.C.Delete(ctx, "/api/v1/nodes/"+p.Spec.NodeName)
		}
	}
	r.logf("spot interruption: no ready pod to interrupt")
	return nil
}

func gpuRequest(dep map[string]any) int64 {
	v := containerRequest(dep, "nvidia.com/gpu")
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// requests parses a container's requests (cpu, memory, nvidia.com/gpu).
func requests(m map[string]string) nodegroups.Resources {
	var r nodegroups.Resources
	r.MilliCPU = milli(m["cpu"])
	r.Memory = int64(bytesOf(m["memory"]))
	r.GPU, _ = strconv.ParseInt(m["nvidia.com/gpu"], 10, 64)
	return r
}

func milli(q string) int64 {
	if strings.HasSuffix(q, "m") {
		n, _ := strconv.ParseInt(strings.TrimSuffix(q, "m"), 10, 64)
		return n
	}
	f, _ := strconv.ParseFloat(q, 64)
	return int64(math.Round(f * 1000))
}

func bytesOf(q string) float64 {
	units := []struct {
		s string
		m float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}}
	for _, u := range units {
		if strings.HasSuffix(q, u.s) {
			f, _ := strconv.ParseFloat(strings.TrimSuffix(q, u.s), 64)
			return f * u.m
		}
	}
	f, _ := strconv.ParseFloat(q, 64)
	return f
}

// instanceAllocatable: what a node of the type offers pods. g5.xlarge: 4
// vCPU, 16 GiB, one A10G (EC2 instance types); allocatable after EKS's
// AL2023 kube-reserved (for 4 vCPU: 80m CPU; memory 255Mi + 11Mi × 58 max
// pods = 893Mi, plus 100Mi eviction threshold) and max pods 58 (eni-max-pods
// for g5.xlarge).
var instanceAllocatable = map[string]nodegroups.Resources{
	"g5.xlarge": {MilliCPU: 3920, Memory: 16*(1<<30) - 993*(1<<20), GPU: 1, Pods: 58},
	"g6.xlarge": {MilliCPU: 3920, Memory: 16*(1<<30) - 993*(1<<20), GPU: 1, Pods: 58},
}
