package loop

import (
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aiplatform/infra/tests/closedloop/kedastandin"
	"github.com/aiplatform/infra/tests/closedloop/program"
	"github.com/aiplatform/infra/tests/closedloop/report"
	"github.com/aiplatform/infra/tests/closedloop/tritonsim"
	"github.com/aiplatform/infra/workloads/observability/signals"
)

func programScaledObject() map[string]any {
	trigger := func(name, query, threshold string) map[string]any {
		return map[string]any{"type": "prometheus", "name": name, "metricType": "AverageValue", "metadata": map[string]any{
			"serverAddress": "http://kube-prometheus-stack-prometheus.monitoring.svc:9090", "query": query,
			"threshold": threshold, "activationThreshold": "0"}}
	}
	return map[string]any{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
		"metadata": map[string]any{"name": "triton", "namespace": "triton"},
		"spec": map[string]any{
			"scaleTargetRef":  map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "triton"},
			"pollingInterval": 15.0, "cooldownPeriod": 1800.0, "idleReplicaCount": 0.0, "minReplicaCount": 1.0, "maxReplicaCount": 2.0,
			"triggers": []any{
				trigger("load", `sum(sum by (namespace,pod) (rate(nv_inference_request_duration_us{namespace="triton"}[1m])) / 1e6)`, "6"),
				trigger("callers-waiting", `sum(rate(lds_triton_errors_total{namespace="lds",reason=~"unreachable|model_not_ready"}[1m]))`, "1000000"),
				map[string]any{"type": "cpu", "metricType": "Utilization", "metadata": map[string]any{"value": "70"}},
			}}}
}

// The ScaledObject in the loop reads the scenario's own series, over
// windows divided by the factor like the adapter rules' and alerts'; the
// program's object keeps its own.
func TestScaledObjectForRenamespacesAndCompresses(t *testing.T) {
	orig, so, err := scaledObjectFor(programScaledObject(), "cl-concu-z4", Compression, "triton", "lds")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`sum(sum by (namespace,pod) (rate(nv_inference_request_duration_us{namespace="cl-concu-z4"}[4s])) / 1e6)`,
		`sum(rate(lds_triton_errors_total{namespace="cl-concu-z4",reason=~"unreachable|model_not_ready"}[4s]))`,
	}
	for i, w := range want {
		if so.Triggers[i].Query != w {
			t.Errorf("trigger %d query\n%s\nwant\n%s", i, so.Triggers[i].Query, w)
		}
	}
	if so.Namespace != "cl-concu-z4" || orig.Namespace != "triton" || !strings.Contains(orig.Triggers[1].Query, `namespace="lds"`) {
		t.Errorf("namespaces: loop %s, program %s, program query %s", so.Namespace, orig.Namespace, orig.Triggers[1].Query)
	}
	// Polling and cooldown stay: the stand-in's operator runs on the loop's clock.
	if so.PollingInterval != 15*time.Second || so.CooldownPeriod != 30*time.Minute {
		t.Errorf("polling %v, cooldown %v", so.PollingInterval, so.CooldownPeriod)
	}
	if _, _, err := scaledObjectFor(programScaledObject(), "cl-x", Compression, "triton"); err == nil || !strings.Contains(err.Error(), `"callers-waiting"`) {
		t.Errorf("a query in a namespace the harness does not know: err = %v, want the trigger named", err)
	}
}

// The HPA under KEDA is the one the stand-in builds from the program's
// ScaledObject, compressed like the program's HPA.
func TestKEDAHPAIsCompressedLikeTheProgramsHPA(t *testing.T) {
	obj := programScaledObject()
	obj["spec"].(map[string]any)["advanced"] = map[string]any{"horizontalPodAutoscalerConfig": map[string]any{
		"name": "triton", "behavior": hpaObject()["spec"].(map[string]any)["behavior"]}}
	_, so, err := scaledObjectFor(obj, "cl-1", Compression, "triton", "lds")
	if err != nil {
		t.Fatal(err)
	}
	h, err := hpaFor(kedastandin.HPA(so), "cl-1", Compression)
	if err != nil {
		t.Fatal(err)
	}
	down := h["spec"].(map[string]any)["behavior"].(map[string]any)["scaleDown"].(map[string]any)
	if down["stabilizationWindowSeconds"] != 20.0 || h["metadata"].(map[string]any)["namespace"] != "cl-1" {
		t.Errorf("HPA %v", h)
	}
}

func TestQueryWindow(t *testing.T) {
	for q, want := range map[string]time.Duration{
		`sum(rate(x[1m]))`:                     time.Minute,
		`sum(rate(x[30s])) / sum(rate(y[5m]))`: 5 * time.Minute,
	} {
		if got, err := queryWindow(q); err != nil || got != want {
			t.Errorf("queryWindow(%s) = %v, %v; want %v", q, got, err, want)
		}
	}
	if _, err := queryWindow(`sum(x)`); err == nil {
		t.Error("a query without a window has none")
	}
}

// The stand-in exports every lds-service reason from 0 and counts each
// request that found no ready pod as unreachable, divided by the factor
// like Triton's counters.
func TestCallerMetrics(t *testing.T) {
	sim, err := tritonsim.New(tritonsim.Config{Models: []tritonsim.Model{detect(nil)},
		Load: []tritonsim.Stream{{Model: "detect", Trace: tritonsim.Constant(10), Arrivals: tritonsim.ArrivalsUniform}}})
	if err != nil {
		t.Fatal(err)
	}
	scrape := func() string {
		rec := httptest.NewRecorder()
		callerMetrics(sim, 5).ServeHTTP(rec, httptest.NewRequest("GET", signals.LDSMetricsPath, nil))
		body, _ := io.ReadAll(rec.Body)
		return string(body)
	}
	before := scrape()
	for _, r := range ldsReasons {
		if !strings.Contains(before, signals.LDSTritonErrors+`{reason="`+r+`"} 0`+"\n") {
			t.Errorf("reason %s not exported at 0:\n%s", r, before)
		}
	}
	if err := sim.Step(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(before, "\n"+signals.LDSTritonCalls+" 0\n") {
		t.Errorf("%s not exported at 0:\n%s", signals.LDSTritonCalls, before)
	}
	// 100 requests, no pod: 100 unreachable, /5; and 100 calls, /5, the
	// offered load (served or not).
	if after := scrape(); !strings.Contains(after, `lds_triton_errors_total{reason="unreachable"} 20`+"\n") || !strings.Contains(after, `{reason="timeout"} 0`) ||
		!strings.Contains(after, "\n"+signals.LDSTritonCalls+" 20\n") {
		t.Errorf("after 100 requests without a pod:\n%s", after)
	}
	rec := httptest.NewRecorder()
	callerMetrics(sim, 5).ServeHTTP(rec, httptest.NewRequest("GET", "/v2/models/detect/infer", nil))
	if rec.Code != 404 {
		t.Errorf("a route other than the metrics path: %d", rec.Code)
	}
}

// ldsReasons are lds-service's own: read from cmd/lds-service/metrics.go
// (package main, which the loop cannot import).
func TestCallerReasonsAreLDSServices(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(program.RepoRoot(), "cmd", "lds-service", "metrics.go"))
	if err != nil {
		t.Fatal(err)
	}
	var theirs []string
	for _, m := range regexp.MustCompile(`(?m)^\s*reason[A-Za-z]+\s*=\s*"([a-z_]+)"`).FindAllStringSubmatch(string(src), -1) {
		theirs = append(theirs, m[1])
	}
	if len(theirs) == 0 {
		t.Fatal("no reason constants found in cmd/lds-service/metrics.go; update this test's pattern")
	}
	if !slices.Equal(slices.Sorted(slices.Values(theirs)), slices.Sorted(slices.Values(ldsReasons))) {
		t.Errorf("lds-service's reasons %v, the stand-in's %v", theirs, ldsReasons)
	}
	for _, c := range callerReasons {
		if !slices.Contains(ldsReasons, c.reason) {
			t.Errorf("outcome %s counted under %q, not an lds-service reason", c.outcome, c.reason)
		}
	}
}

// The stand-in's pod carries the program's lds-service pod labels and
// named port, so the program's lds-service PodMonitor selects and scrapes it.
func TestCallerPodIsSelectedByTheProgramsPodMonitor(t *testing.T) {
	on := true
	objs, err := program.Render(program.Options{ScaleToZero: &on})
	if err != nil {
		t.Fatal(err)
	}
	pod, err := callerPod(objs.LDSDeployment, "cl-z", callersNode)
	if err != nil {
		t.Fatal(err)
	}
	labels := child(pod, "metadata", "labels")
	sel := child(objs.LDSPodMonitor, "spec", "selector", "matchLabels")
	for k, v := range sel {
		if labels[k] != v {
			t.Errorf("PodMonitor selects %s=%v, the pod has %v", k, v, labels[k])
		}
	}
	eps, _ := child(objs.LDSPodMonitor, "spec")["podMetricsEndpoints"].([]any)
	port := eps[0].(map[string]any)["port"]
	cport := child(pod, "spec")["containers"].([]any)[0].(map[string]any)["ports"].([]any)[0].(map[string]any)
	if cport["name"] != port || cport["containerPort"] != MetricsPort {
		t.Errorf("container port %v, PodMonitor port %v", cport, port)
	}
	if path := eps[0].(map[string]any)["path"]; path != signals.LDSMetricsPath {
		t.Errorf("PodMonitor path %v, the stand-in serves %s", path, signals.LDSMetricsPath)
	}
}

// The scale-to-zero scenarios come from the program's ScaledObject: 3 runs
// until the cooldown and the autoscaler's unneeded time have passed after
// the ramp; 4 starts idle.
func TestScaleToZeroScenarios(t *testing.T) {
	so, unneeded, err := ProgramScaleToZero()
	if err != nil {
		t.Fatal(err)
	}
	scs, err := ScaleToZeroScenarios(signals.DefaultInferenceMetricKey, so, unneeded)
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) != 2 || !strings.HasPrefix(scs[0].Name, "3 ") || !strings.HasPrefix(scs[1].Name, "4 ") {
		t.Fatalf("scenarios %v", scs)
	}
	down, burst := scs[0], scs[1]
	if min := 6*time.Minute + so.CooldownPeriod + unneeded; down.Duration < min+time.Minute {
		t.Errorf("scenario 3 lasts %v, under the ramp's end + cooldown + unneeded time (%v) + the rate window", down.Duration, min)
	}
	if !down.ScaleToZero || down.StartIdle || !burst.ScaleToZero || !burst.StartIdle || burst.Load[0].Trace(burst.StepAt-time.Second) != 0 {
		t.Errorf("flags: %+v / %+v", down, burst)
	}
}

// The scale-to-zero failure conditions of TestClosedLoop.
func TestScaleToZeroFailures(t *testing.T) {
	down := Scenario{Name: "3 ramp down to zero (KEDA)", ScaleToZero: true}
	burst := Scenario{Name: "4 idle at zero → burst (KEDA)", ScaleToZero: true, StartIdle: true}
	zero := []report.Point{{At: 0, Value: 0}}
	scaled := []report.Point{{At: 0, Value: 0}, {At: 5 * time.Minute, Value: 1}, {At: 14 * time.Minute, Value: 5}}
	woke := &report.Wake{Refused: true, Served: true, From: 5 * time.Minute, To: 13 * time.Minute, Latency: 8 * time.Minute, Bound: 9 * time.Minute}
	late := *woke
	late.Latency = 10 * time.Minute
	never := *woke
	never.Served = false
	for _, c := range []struct {
		name string
		sc   Scenario
		f    report.Result
		want string // "" for none
	}{
		{"3 at zero", down, report.Result{}, ""},
		{"3 with a node left", down, report.Result{NodesAtEnd: 1}, "0 replicas and 1 GPU nodes at the end"},
		{"3 with a replica left", down, report.Result{ReplicasAtEnd: 1, NodesAtEnd: 1}, "1 replicas and 1 GPU nodes at the end"},
		{"4 woke in time", burst, report.Result{Trajectories: report.Trajectories{Replicas: scaled, Nodes: zero}, Wake: woke}, ""},
		{"4 woke late", burst, report.Result{Trajectories: report.Trajectories{Replicas: scaled, Nodes: zero}, Wake: &late}, "waited 10m0s for a ready replica, over the bound 9m0s"},
		{"4 never served", burst, report.Result{Trajectories: report.Trajectories{Replicas: scaled, Nodes: zero}, Wake: &never}, "never followed by a served one"},
		{"4 never refused", burst, report.Result{Trajectories: report.Trajectories{Replicas: scaled, Nodes: zero}, Wake: &report.Wake{}}, "nothing woke it"},
		{"4 started warm", burst, report.Result{Trajectories: report.Trajectories{Replicas: []report.Point{{Value: 1}, {Value: 3}}, Nodes: zero}, Wake: woke}, "did not start at 0 replicas"},
		{"4 stuck at the wake's replica", burst, report.Result{Trajectories: report.Trajectories{Replicas: scaled[:2], Nodes: zero}, Wake: woke}, "never scaled past the wake's one replica"},
		{"an unknown scenario", Scenario{Name: "9 x", ScaleToZero: true}, report.Result{}, "no scale-to-zero check"},
	} {
		got := strings.Join(scaleToZeroFailures(c.sc, c.f), "; ")
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// The offered-load runs: scenarios 1, 2 and 7 through the program's
// ScaledObject (so its offered-load trigger runs; the load never stops, so
// they never go to zero) and the burst from zero, each at 70 % of a pod's
// throughput per pod, beside baselines of 2 and 7 through the same
// ScaledObject without it; only the burst from zero is checked as a
// scale-to-zero run.
func TestOfferedLoadScenarios(t *testing.T) {
	so, unneeded, err := ProgramScaleToZero()
	if err != nil {
		t.Fatal(err)
	}
	zero, err := ScaleToZeroScenarios(signals.DefaultInferenceMetricKey, so, unneeded)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sc := range OfferedLoadScenarios(signals.DefaultInferenceMetricKey, zero) {
		names = append(names, sc.Name+" / "+sc.SignalLabel())
		if !sc.ScaleToZero || (sc.CallsPerPod != 93 && sc.CallsPerPod != 0) {
			t.Errorf("%s: scaleToZero %t, callsPerPod %v; want the ScaledObject and 93 (70 %% of 133 requests/s) or 0 (the baseline)", sc.Name, sc.ScaleToZero, sc.CallsPerPod)
		}
		if want := sc.StartIdle; sc.scaleToZeroRun() != want {
			t.Errorf("%s: checked as a scale-to-zero run: %t, want %t", sc.Name, sc.scaleToZeroRun(), want)
		}
	}
	want := []string{
		"1 steady 60% of two pods / concurrency+offered",
		"2 ×4 step / concurrency (KEDA)", "2 ×4 step / concurrency+offered",
		"7 overload, queue 16 / 50 ms / concurrency (KEDA)", "7 overload, queue 16 / 50 ms / concurrency+offered",
		"4 idle at zero → burst (KEDA) / concurrency+offered",
	}
	if !slices.Equal(names, want) {
		t.Errorf("offered-load scenarios %q, want %q", names, want)
	}
	for _, sc := range zero {
		if !sc.scaleToZeroRun() {
			t.Errorf("%s is not checked as a scale-to-zero run", sc.Name)
		}
	}
}
