package realtier

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
)

const stackName = "dev"

// awsSDKVersion is the pulumi-aws SDK the project pins (go.mod); the engine
// asks the provider for this version.
const awsSDKVersion = "6.83.4"

// TestRealTier runs each scenario through the real CLI, provider, API server
// and S3 state: up, a second up racing a held lock, destroy.
func TestRealTier(t *testing.T) {
	tools, err := FindTools()
	if err != nil {
		if os.Getenv("REALTIER") == "" {
			t.Skipf("real-component tier skipped (run .ci/tools.sh, or set REALTIER=1 to make this an error):\n%v", err)
		}
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()

	dir := t.TempDir()
	start := time.Now()
	cluster, err := StartCluster(ctx, tools, filepath.Join(dir, "cluster"))
	t.Cleanup(cluster.Stop)
	if err != nil {
		t.Fatalf("start cluster: %v\n%s", err, cluster.Logs(4000))
	}
	t.Logf("etcd + kube-apiserver ready at %s in %s", cluster.URL, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("control plane logs:\n%s", cluster.Logs(4000))
		}
	})
	finalizerCtx, stopFinalizer := context.WithCancel(ctx)
	defer stopFinalizer()
	go cluster.API.FinalizeNamespaces(finalizerCtx, namespaceEmpty(cluster.API))

	for _, sc := range scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			runScenario(ctx, t, tools, cluster, sc, filepath.Join(dir, sc.Name))
		})
	}
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
	backend := Backend{
		Tools:          tools,
		URL:            s3.BackendURL(),
		PulumiHome:     filepath.Join(dir, "pulumi-home"),
		DebugProviders: aws.DebugProviders(),
	}
	log := &testLog{t: t}

	stack, err := backend.Stack(ctx, stackName, workDir, sc.Program(cluster.Kubeconfig, false, nil))
	if err != nil {
		t.Fatalf("select stack: %v", err)
	}

	var objects []Expect
	if !t.Run("up", func(t *testing.T) {
		start := time.Now()
		res, err := stack.Up(ctx, optup.ProgressStreams(log), optup.ErrorProgressStreams(log))
		if err != nil {
			t.Fatalf("up: %v", err)
		}
		t.Logf("up in %s: %v", time.Since(start).Round(time.Millisecond), *res.Summary.ResourceChanges)
		if got := (*res.Summary.ResourceChanges)["create"]; got == 0 {
			t.Errorf("up created nothing: %v", *res.Summary.ResourceChanges)
		}
		objects, err = sc.Objects(ctx, cluster.API)
		if err != nil {
			t.Fatalf("resolve expected objects: %v", err)
		}
		assertObjects(ctx, t, cluster.API, objects)
		if got, want := len(aws.Live()), countPackage(stackResources(ctx, t, stack), "aws"); got != want {
			t.Errorf("the AWS provider holds %d resources, the state %d", got, want)
		}
		keys, err := s3.Keys(".pulumi/stacks/" + ProjectName + "/" + stackName)
		if err != nil || len(keys) == 0 {
			t.Errorf("no stack checkpoint in the S3 bucket (keys %v, err %v)", keys, err)
		}
	}) {
		return
	}

	before := stackResources(ctx, t, stack)

	if !t.Run("concurrent up is refused by the lock", func(t *testing.T) {
		// The first up's program blocks inside the update, so the lock is
		// certainly held while the second up runs.
		entered, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		gate := func() {
			once.Do(func() { close(entered) })
			<-release
		}
		holder, err := backend.Stack(ctx, stackName, workDir, sc.Program(cluster.Kubeconfig, true, gate))
		if err != nil {
			t.Fatal(err)
		}
		type upResult struct {
			res auto.UpResult
			err error
		}
		first := make(chan upResult, 1)
		go func() {
			res, err := holder.Up(ctx, optup.ProgressStreams(log), optup.ErrorProgressStreams(log))
			first <- upResult{res, err}
		}()
		select {
		case <-entered:
		case r := <-first:
			t.Fatalf("first up ended before its program ran: %v", r.err)
		case <-time.After(5 * time.Minute):
			close(release)
			t.Fatal("first up's program never ran")
		}
		locks, err := s3.Keys(".pulumi/locks/")
		if err != nil || len(locks) != 1 {
			close(release)
			t.Fatalf("want exactly one lock object while the first up runs, got %v (%v)", locks, err)
		}

		_, secondErr := stack.Up(ctx, optup.ProgressStreams(log), optup.ErrorProgressStreams(log))
		close(release)
		r := <-first

		if secondErr == nil {
			t.Error("second concurrent up succeeded; the lock did not refuse it")
		} else if !strings.Contains(secondErr.Error(), "the stack is currently locked") {
			t.Errorf("second up failed, but not on the lock: %v", secondErr)
		}
		if r.err != nil {
			t.Fatalf("lock holder's up failed: %v", r.err)
		}
		if changed := changedCount(*r.res.Summary.ResourceChanges); changed != 1 {
			t.Errorf("lock holder's up: want exactly 1 resource changed, got %v", *r.res.Summary.ResourceChanges)
		}
		if locks, _ := s3.Keys(".pulumi/locks/"); len(locks) != 0 {
			t.Errorf("locks left behind: %v", locks)
		}

		// Nothing lost: same resources, the holder's change applied, and the
		// changed program has nothing left to do.
		after := stackResources(ctx, t, holder)
		if strings.Join(after, "\n") != strings.Join(before, "\n") {
			t.Errorf("resources changed across the concurrent ups:\nbefore %v\nafter  %v", before, after)
		}
		current := []Expect{sc.ChangedObject}
		for _, o := range objects {
			if o.Path != sc.ChangedObject.Path {
				current = append(current, o)
			}
		}
		assertObjects(ctx, t, cluster.API, current)
		if _, err := holder.Preview(ctx, optpreview.ExpectNoChanges()); err != nil {
			t.Errorf("preview --expect-no-changes after the concurrent ups: %v", err)
		}
		stack = holder
	}) {
		return
	}

	t.Run("destroy", func(t *testing.T) {
		start := time.Now()
		res, err := stack.Destroy(ctx, optdestroy.ProgressStreams(log), optdestroy.ErrorProgressStreams(log))
		if err != nil {
			t.Fatalf("destroy: %v", err)
		}
		t.Logf("destroy in %s: %v", time.Since(start).Round(time.Millisecond), *res.Summary.ResourceChanges)
		// Every resource, the stack and the explicit provider.
		if got, want := (*res.Summary.ResourceChanges)["delete"], len(before)+2; got != want {
			t.Errorf("destroy deleted %d resources, want %d (%v)", got, want, *res.Summary.ResourceChanges)
		}
		for _, o := range objects {
			if _, err := cluster.API.Get(ctx, o.Path); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s still there after destroy (err %v)", o.Path, err)
			}
		}
		if live := aws.Live(); len(live) != 0 {
			t.Errorf("AWS resources not deleted: %v", live)
		}
		if left := stackResources(ctx, t, stack); len(left) != 0 {
			t.Errorf("state still holds %v", left)
		}
	})
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

// stackResources lists the sorted URNs of the stack's resources, excluding
// the stack itself and providers.
func stackResources(ctx context.Context, t *testing.T, stack auto.Stack) []string {
	t.Helper()
	dep, err := stack.Export(ctx)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	var state struct {
		Resources []struct {
			URN  string `json:"urn"`
			Type string `json:"type"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(dep.Deployment, &state); err != nil {
		t.Fatalf("decode deployment: %v", err)
	}
	var urns []string
	for _, r := range state.Resources {
		if r.Type == "pulumi:pulumi:Stack" || strings.HasPrefix(r.Type, "pulumi:providers:") {
			continue
		}
		urns = append(urns, r.URN)
	}
	sort.Strings(urns) // the checkpoint's order follows the last operation
	return urns
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

func scenarios() []Scenario {
	return []Scenario{SmokeScenario(), WorkloadsScenario()}
}
