package realtier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

const stackName = "dev"

// awsSDKVersion is the pulumi-aws SDK the project pins (go.mod); the engine
// asks the provider for this version.
const awsSDKVersion = "6.83.4"

// required reports whether a missing prerequisite is an error (REALTIER=1, as
// in CI) rather than a reason to skip.
func required() bool { return os.Getenv("REALTIER") != "" }

// startTestCluster starts etcd and kube-apiserver under dir, with the
// stand-ins for the controllers that finalize deletions (RunFinalizers),
// stops them when the test ends and prints their logs if it failed.
func startTestCluster(ctx context.Context, t *testing.T, tools Tools, dir string) *Cluster {
	t.Helper()
	start := time.Now()
	cluster, err := StartCluster(ctx, tools, dir)
	t.Cleanup(cluster.Stop)
	if err != nil {
		t.Fatalf("start cluster: %v\n%s", err, cluster.Logs(4000))
	}
	t.Logf("etcd + kube-apiserver ready at %s in %s", cluster.URL, time.Since(start).Round(time.Millisecond))
	finalizerCtx, stopFinalizers := context.WithCancel(ctx)
	t.Cleanup(stopFinalizers)
	go cluster.API.RunFinalizers(finalizerCtx, namespaceEmpty(cluster.API))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("control plane logs:\n%s", cluster.Logs(4000))
		}
	})
	return cluster
}

// TestRealTier runs each scenario through the real CLI, provider, API server
// and S3 state: up, the scenario's phases, destroy.
func TestRealTier(t *testing.T) {
	tools, err := FindTools()
	if err != nil {
		if !required() {
			t.Skipf("real-component tier skipped (run .ci/tools.sh, or set REALTIER=1 to make this an error):\n%v", err)
		}
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()

	dir := t.TempDir()
	cluster := startTestCluster(ctx, t, tools, filepath.Join(dir, "cluster"))

	for _, sc := range scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			if sc.Unavailable != nil {
				if required() || ChartsRequired("", os.Getenv("CI")) {
					t.Fatalf("scenario %s cannot run: %v", sc.Name, sc.Unavailable)
				}
				t.Skipf("scenario %s skipped (REALTIER=1 makes this an error): %v", sc.Name, sc.Unavailable)
			}
			start := time.Now()
			runScenario(ctx, t, tools, cluster, sc, filepath.Join(dir, sc.Name))
			t.Logf("scenario %s took %s", sc.Name, time.Since(start).Round(time.Second))
		})
	}
}

// scenarios: the charts at their current pins are not among them.
// TestRehearsal deploys that same program (ChartsScenario) through the
// pipeline's scripts and checks what the scenario checked after up (the
// key objects, every object in the state read back, no dangling
// reference) and, in its drift check, that a refreshed preview is clean;
// TestPlatform destroys the dev stack's charts, and charts-previous this
// program's. Installing them a third time cost 7 minutes of the tier.
func scenarios() []Scenario {
	out := []Scenario{SmokeScenario(), WorkloadsScenario()}
	chartsDir, unavailable := ChartsDir()
	if unavailable == nil {
		unavailable = PreviousCharts.Missing(chartsDir)
	}
	return append(out, ChartsScenarioFor(PreviousCharts, chartsDir, unavailable))
}

// scenarioRun is one scenario's stack and everything its phases check against.
type scenarioRun struct {
	sc      Scenario
	cluster *Cluster
	backend Backend
	workDir string
	s3      *S3
	aws     *FakeAWS
	log     *testLog
	stack   auto.Stack

	// Filled by up: what must exist now and be gone after destroy.
	objects   []Expect // the scenario's, with their checks
	inState   []Expect // every Kubernetes object in the state
	resources []string // the state's URNs
}

func runScenario(ctx context.Context, t *testing.T, tools Tools, cluster *Cluster, sc Scenario, dir string) {
	s3, err := StartS3("pulumi-state")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s3.Close)
	workDir := filepath.Join(dir, "project")
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		t.Fatal(err)
	}
	aws, err := StartFakeAWS(awsSDKVersion)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(aws.Stop)
	r := &scenarioRun{
		sc:      sc,
		cluster: cluster,
		backend: Backend{
			Tools:          tools,
			URL:            s3.BackendURL(),
			PulumiHome:     filepath.Join(dir, "pulumi-home"),
			DebugProviders: aws.DebugProviders(),
		},
		workDir: workDir,
		s3:      s3,
		aws:     aws,
		log:     &testLog{t: t},
	}
	r.stack, err = r.backend.Stack(ctx, stackName, workDir, sc.Program(cluster.Kubeconfig, false, nil))
	if err != nil {
		t.Fatalf("select stack: %v", err)
	}
	// What the API server held before: destroy must bring it back to exactly this.
	baseline, err := cluster.API.Inventory(ctx)
	if err != nil {
		t.Fatalf("inventory before up: %v", err)
	}

	upOK := timed(t, "up", func(t *testing.T) { r.up(ctx, t) })
	if upOK {
		timed(t, "no dangling references", func(t *testing.T) { r.noDanglingReferences(ctx, t) })
		for _, phase := range sc.Phases {
			var ok bool
			switch phase {
			case PhaseLock:
				ok = timed(t, string(phase), func(t *testing.T) { r.concurrentUp(ctx, t) })
			case PhasePreview:
				ok = timed(t, string(phase), func(t *testing.T) { r.previewClean(ctx, t) })
			default:
				t.Fatalf("unknown phase %q", phase)
			}
			if !ok && phase == PhaseLock {
				break // the stack may be mid-change; go straight to destroy
			}
		}
	}
	// Always: a failed up or phase must not leave objects for the next scenario.
	timed(t, "destroy", func(t *testing.T) { r.destroy(ctx, t, baseline) })
}

// timed runs a subtest and logs how long it took.
func timed(t *testing.T, name string, f func(t *testing.T)) bool {
	start := time.Now()
	ok := t.Run(name, f)
	t.Logf("%s: %s", name, time.Since(start).Round(100*time.Millisecond))
	return ok
}

func (r *scenarioRun) up(ctx context.Context, t *testing.T) {
	start := time.Now()
	res, err := r.stack.Up(ctx, optup.ProgressStreams(r.log), optup.ErrorProgressStreams(r.log))
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	t.Logf("up in %s: %v", time.Since(start).Round(100*time.Millisecond), *res.Summary.ResourceChanges)
	if got := (*res.Summary.ResourceChanges)["create"]; got == 0 {
		t.Errorf("up created nothing: %v", *res.Summary.ResourceChanges)
	}
	r.resources = stackResources(ctx, t, r.stack)
	r.inState, err = stateObjects(ctx, t, exportState(ctx, t, r.stack), r.cluster.API)
	if err != nil {
		t.Errorf("map the state's Kubernetes objects to API paths: %v", err)
	}
	r.objects, err = r.sc.Objects(ctx, r.cluster.API)
	if err != nil {
		t.Fatalf("resolve expected objects: %v", err)
	}
	// Every Kubernetes object the state holds is in the API server, and the
	// test transforms reached it, children of Helm v4 Charts included.
	t.Logf("%d Kubernetes objects in the state, each read back from the API server", len(r.inState))
	assertObjects(ctx, t, r.cluster.API, r.inState)
	assertObjects(ctx, t, r.cluster.API, r.objects)
	if got, want := len(r.aws.Live()), countPackage(r.resources, "aws"); got != want {
		t.Errorf("the AWS provider holds %d resources, the state %d", got, want)
	}
	keys, err := r.s3.Keys(".pulumi/stacks/" + ProjectName + "/" + stackName)
	if err != nil || len(keys) == 0 {
		t.Errorf("no stack checkpoint in the S3 bucket (keys %v, err %v)", keys, err)
	}
}

// noDanglingReferences: every Secret, ConfigMap, ServiceAccount,
// PriorityClass and PVC a workload's pods need exists (see PodReferences).
func (r *scenarioRun) noDanglingReferences(ctx context.Context, t *testing.T) {
	checkNoDanglingReferences(ctx, t, r.cluster.API)
}

func checkNoDanglingReferences(ctx context.Context, t *testing.T, api *KubeAPI) {
	t.Helper()
	all, err := api.ListWorkloads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dangling, err := CheckReferences(ctx, api, all)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("checked the pod templates of %d workloads", len(all))
	for _, d := range dangling {
		t.Errorf("dangling reference: %s", d)
	}
}

// concurrentUp: a first up (with one change) is held inside its program while
// it owns the lock; a second up must be refused, and nothing may be lost.
func (r *scenarioRun) concurrentUp(ctx context.Context, t *testing.T) {
	sc := r.sc
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	gate := func() {
		once.Do(func() { close(entered) })
		<-release
	}
	holder, err := r.backend.Stack(ctx, stackName, r.workDir, sc.Program(r.cluster.Kubeconfig, true, gate))
	if err != nil {
		t.Fatal(err)
	}
	type upResult struct {
		res auto.UpResult
		err error
	}
	first := make(chan upResult, 1)
	go func() {
		res, err := holder.Up(ctx, optup.ProgressStreams(r.log), optup.ErrorProgressStreams(r.log))
		first <- upResult{res, err}
	}()
	select {
	case <-entered:
	case res := <-first:
		t.Fatalf("first up ended before its program ran: %v", res.err)
	case <-time.After(5 * time.Minute):
		close(release)
		t.Fatal("first up's program never ran")
	}
	locks, err := r.s3.Keys(".pulumi/locks/")
	if err != nil || len(locks) != 1 {
		close(release)
		t.Fatalf("want exactly one lock object while the first up runs, got %v (%v)", locks, err)
	}

	_, secondErr := r.stack.Up(ctx, optup.ProgressStreams(r.log), optup.ErrorProgressStreams(r.log))
	close(release)
	res := <-first
	// From here on the holder's program is the stack's program.
	r.stack = holder

	if secondErr == nil {
		t.Error("second concurrent up succeeded; the lock did not refuse it")
	} else if !strings.Contains(secondErr.Error(), "the stack is currently locked") {
		t.Errorf("second up failed, but not on the lock: %v", secondErr)
	}
	if res.err != nil {
		t.Fatalf("lock holder's up failed: %v", res.err)
	}
	if changed := changedCount(*res.res.Summary.ResourceChanges); changed != 1 {
		t.Errorf("lock holder's up: want exactly 1 resource changed, got %v", *res.res.Summary.ResourceChanges)
	}
	if locks, _ := r.s3.Keys(".pulumi/locks/"); len(locks) != 0 {
		t.Errorf("locks left behind: %v", locks)
	}

	// Nothing lost: same resources, the holder's change applied, and the
	// changed program has nothing left to do.
	after := stackResources(ctx, t, holder)
	if strings.Join(after, "\n") != strings.Join(r.resources, "\n") {
		t.Errorf("resources changed across the concurrent ups:\nbefore %v\nafter  %v", r.resources, after)
	}
	current := []Expect{sc.ChangedObject}
	for _, o := range r.objects {
		if o.Path != sc.ChangedObject.Path {
			current = append(current, o)
		}
	}
	assertObjects(ctx, t, r.cluster.API, current)
	r.previewClean(ctx, t)
}

// previewClean: preview --expect-no-changes; on failure it names each
// resource the preview would change and the properties that differ.
func (r *scenarioRun) previewClean(ctx context.Context, t *testing.T) {
	stream := make(chan events.EngineEvent)
	var changes []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range stream {
			if e.ResourcePreEvent == nil {
				continue
			}
			m := e.ResourcePreEvent.Metadata
			switch m.Op {
			case apitype.OpSame, apitype.OpRead, apitype.OpRefresh:
				continue
			}
			paths := m.Diffs
			if len(m.DetailedDiff) > 0 {
				paths = nil
				for p := range m.DetailedDiff {
					paths = append(paths, p)
				}
				sort.Strings(paths)
			}
			changes = append(changes, fmt.Sprintf("%s %s %s: %s", m.Op, m.Type, urnName(m.URN), strings.Join(paths, ", ")))
		}
	}()
	start := time.Now()
	_, err := r.stack.Preview(ctx, optpreview.ExpectNoChanges(), optpreview.EventStreams(stream),
		optpreview.ProgressStreams(r.log), optpreview.ErrorProgressStreams(r.log))
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Error("the preview's event stream was not closed")
	}
	t.Logf("preview in %s", time.Since(start).Round(100*time.Millisecond))
	if err != nil || len(changes) > 0 {
		sort.Strings(changes)
		t.Errorf("preview --expect-no-changes is not clean (%d changes):\n  %s\n(err: %v)", len(changes), strings.Join(changes, "\n  "), firstLine(err))
	}
}

func (r *scenarioRun) destroy(ctx context.Context, t *testing.T, baseline []string) {
	start := time.Now()
	res, err := r.stack.Destroy(ctx, optdestroy.ProgressStreams(r.log), optdestroy.ErrorProgressStreams(r.log))
	if err != nil {
		t.Errorf("destroy: %v", err)
	} else {
		t.Logf("destroy in %s: %v", time.Since(start).Round(100*time.Millisecond), *res.Summary.ResourceChanges)
		// Every resource, the stack and the explicit provider.
		if r.resources != nil {
			if got, want := (*res.Summary.ResourceChanges)["delete"], len(r.resources)+2; got != want {
				t.Errorf("destroy deleted %d resources, want %d (%v)", got, want, *res.Summary.ResourceChanges)
			}
		}
	}
	seen := map[string]bool{}
	for _, o := range append(append([]Expect{}, r.inState...), r.objects...) {
		if seen[o.Path] {
			continue
		}
		seen[o.Path] = true
		if _, err := r.cluster.API.Get(ctx, o.Path); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s still there after destroy (err %v)", o.Path, err)
		}
	}
	if live := r.aws.Live(); len(live) != 0 {
		t.Errorf("AWS resources not deleted: %v", live)
	}
	if left := stackResources(ctx, t, r.stack); len(left) != 0 {
		t.Errorf("state still holds %v", left)
	}
	// The whole API server, cluster-scoped objects (CRDs, cluster roles,
	// webhooks, API services) and kube-system included, is as before up.
	left, removed, err := settledDiff(ctx, r.cluster.API, baseline)
	if err != nil {
		t.Errorf("inventory after destroy: %v", err)
	}
	for _, o := range left {
		t.Errorf("left behind by destroy: %s", o)
	}
	for _, o := range removed {
		t.Errorf("deleted by the scenario although it existed before up: %s", o)
	}
	if len(left) > 0 {
		// Reported; now clear them, so that the next scenario tests its own
		// program (a retained CRD makes the next install of its chart fail
		// with a server-side apply conflict).
		if err := r.cluster.API.DeleteInventory(ctx, left); err != nil {
			t.Errorf("clean up what destroy left behind: %v", err)
		}
		if left, _, _ := settledDiff(ctx, r.cluster.API, baseline); len(left) > 0 {
			t.Errorf("still there after cleaning up: %v", left)
		}
	}
}

// settledDiff compares the API server's inventory with baseline. The API
// server removes what CRDs imply (their local APIServices) a moment after
// the CRDs, so it waits up to 30 s for the difference to vanish.
func settledDiff(ctx context.Context, api *KubeAPI, baseline []string) (left, removed []string, err error) {
	for deadline := time.Now().Add(30 * time.Second); ; {
		var now []string
		now, err = api.Inventory(ctx)
		left, removed = diffSorted(now, baseline)
		if (err == nil && len(left)+len(removed) == 0) || time.Now().After(deadline) {
			return left, removed, err
		}
		time.Sleep(time.Second)
	}
}

func assertObjects(ctx context.Context, t *testing.T, api *KubeAPI, objects []Expect) {
	t.Helper()
	for _, o := range objects {
		obj, err := api.Get(ctx, o.Path)
		if err != nil {
			t.Errorf("%s: %v", o.Path, err)
			continue
		}
		if o.Check != nil {
			if err := o.Check(obj); err != nil {
				t.Errorf("%s: %v", o.Path, err)
			}
		}
	}
}

// stateResource is a resource in an exported checkpoint.
type stateResource struct {
	URN     string         `json:"urn"`
	Type    string         `json:"type"`
	Custom  bool           `json:"custom"`
	Outputs map[string]any `json:"outputs"`
}

func exportState(ctx context.Context, t *testing.T, stack auto.Stack) []stateResource {
	t.Helper()
	dep, err := stack.Export(ctx)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	var state struct {
		Resources []stateResource `json:"resources"`
	}
	if err := json.Unmarshal(dep.Deployment, &state); err != nil {
		t.Fatalf("decode deployment: %v", err)
	}
	return state.Resources
}

// stackResources lists the sorted URNs of the stack's resources, excluding
// the stack itself and providers.
func stackResources(ctx context.Context, t *testing.T, stack auto.Stack) []string {
	t.Helper()
	var urns []string
	for _, r := range exportState(ctx, t, stack) {
		if r.Type == "pulumi:pulumi:Stack" || strings.HasPrefix(r.Type, "pulumi:providers:") {
			continue
		}
		urns = append(urns, r.URN)
	}
	sort.Strings(urns) // the checkpoint's order follows the last operation
	return urns
}

// stateObjects maps every Kubernetes object in the state to its API path,
// through the API server's discovery (CRDs the stack installed included).
// Each must carry the SkipAwait annotation unless it is a Namespace: that
// proves the stack transforms reached it, also when a remote component (a
// Helm v4 Chart) registered it.
func stateObjects(ctx context.Context, t *testing.T, resources []stateResource, api *KubeAPI) ([]Expect, error) {
	t.Helper()
	d, err := api.Discover(ctx)
	if err != nil {
		return nil, err
	}
	for gv, err := range d.Failed {
		// e.g. metrics.k8s.io: its APIService has no pod behind it here.
		t.Logf("discovery of %s failed (tolerated, as client-go and Helm do): %v", gv, firstLine(err))
	}
	var out []Expect
	var errs []error
	for _, r := range resources {
		if !r.Custom || !strings.HasPrefix(r.Type, "kubernetes:") {
			continue
		}
		o := Object(r.Outputs)
		apiVersion, kind := o.String("apiVersion"), o.String("kind")
		res, ok := d.Resource(apiVersion, kind)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: the API server serves no %s %s", r.URN, apiVersion, kind))
			continue
		}
		e := Expect{Path: res.Path(o.String("metadata", "namespace"), o.String("metadata", "name"))}
		if kind != "Namespace" {
			e.Check = func(obj Object) error {
				if obj.String("metadata", "annotations", AnnotationSkipAwait) != "true" {
					return fmt.Errorf("no %s annotation: the SkipAwait transform did not reach %s", AnnotationSkipAwait, r.URN)
				}
				return nil
			}
		}
		out = append(out, e)
	}
	return out, errors.Join(errs...)
}

func firstLine(err error) string {
	if err == nil {
		return "none"
	}
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// changedCount sums every kind of change in an update summary.
func changedCount(summary map[string]int) int {
	n := 0
	for op, count := range summary {
		if op != "same" {
			n += count
		}
	}
	return n
}

// countPackage counts the URNs whose resource type is in package pkg.
func countPackage(urns []string, pkg string) int {
	n := 0
	for _, u := range urns {
		parts := strings.Split(u, "::")
		typ := parts[len(parts)-2]
		typ = typ[strings.LastIndex(typ, "$")+1:]
		if strings.HasPrefix(typ, pkg+":") {
			n++
		}
	}
	return n
}

// testLog forwards CLI output to t.Log line by line.
type testLog struct {
	t   *testing.T
	mu  sync.Mutex
	buf []byte
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimRight(string(l.buf[:i]), "\r"); line != "" {
			l.t.Log(line)
		}
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}
