package loop

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiplatform/infra/tests/closedloop/cluster"
	"github.com/aiplatform/infra/tests/closedloop/report"
	"github.com/aiplatform/infra/tests/closedloop/tritonsim"
	"github.com/aiplatform/infra/workloads/observability/signals"
)

func requireBinaries(t *testing.T) {
	t.Helper()
	if missing := cluster.MissingBinaries(cluster.DefaultBinDir()); len(missing) > 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("closed-loop tier: missing %s; run `bash .ci/tools.sh`", strings.Join(missing, ", "))
		}
		t.Skipf("closed-loop tier: missing %s (run `bash .ci/tools.sh`)", strings.Join(missing, ", "))
	}
}

type run struct {
	sc  Scenario
	ns  string
	res *Result
	err error
}

// TestClosedLoop runs every scenario with every signal side by side in one
// cluster at the compression factor, the scale-to-zero variant of
// scenarios 3 and 4 with the default signal (KEDA's ScaledObject instead of
// the HPA), and beside them one short uncompressed run that proves the
// wiring in real time. It prints the figures (the tables in
// docs/closed-loop.md) and fails when the loop is not closed: no load
// served, no scale-up on a ×4 step, no scale-down after the load is gone;
// under scale to zero, no way down to 0 replicas and 0 GPU nodes, or a
// first call after idle not served within the cold-start bound. The other
// figures are reported, not asserted: they choose the default signal.
func TestClosedLoop(t *testing.T) {
	requireBinaries(t)
	var runs []*run
	for _, sig := range Signals {
		for i, sc := range Scenarios(sig) {
			runs = append(runs, &run{sc: sc, ns: fmt.Sprintf("cl-%s-%d", strings.ToLower(sig[:5]), i+1)})
		}
	}
	so, unneeded, err := ProgramScaleToZero()
	if err != nil {
		t.Fatalf("the program with triton.scaleToZero: %v", err)
	}
	zero, err := ScaleToZeroScenarios(signals.DefaultInferenceMetricKey, so, unneeded)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range zero {
		runs = append(runs, &run{sc: sc, ns: fmt.Sprintf("cl-%s-z%s", strings.ToLower(sc.Signal[:5]), sc.Name[:1])})
	}
	for _, sc := range OfferedLoadScenarios(signals.DefaultInferenceMetricKey, zero) {
		kind := "o" // offered load
		switch {
		case sc.StartIdle:
			kind = "oz"
		case sc.CallsPerPod == 0:
			kind = "k" // its baseline through KEDA
		}
		ns := fmt.Sprintf("cl-%s-%s%s", strings.ToLower(sc.Signal[:5]), kind, sc.Name[:1])
		runs = append(runs, &run{sc: sc, ns: ns})
	}
	if only := os.Getenv("CLOSEDLOOP_ONLY"); only != "" {
		var r []*run
		for _, x := range runs {
			if strings.Contains(x.sc.Name+"/"+x.sc.SignalLabel(), only) {
				r = append(r, x)
			}
		}
		runs = r
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	var wiring *run
	var wiringEnv *Env
	go func() {
		defer wg.Done()
		wiring = &run{sc: WiringScenario(), ns: "cl-wiring"}
		wiringEnv, wiring.err = StartEnv(ctx, t.TempDir(), 1, []string{wiring.ns}, t.Logf)
		if wiring.err == nil {
			wiring.res, wiring.err = wiringEnv.Run(ctx, wiring.sc, wiring.ns)
		}
	}()
	var namespaces []string
	for _, x := range runs {
		namespaces = append(namespaces, x.ns)
	}
	env, err := StartEnv(ctx, t.TempDir(), Compression, namespaces, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	for _, x := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x.res, x.err = env.Run(ctx, x.sc, x.ns)
		}()
	}
	wg.Wait()
	if wiringEnv != nil {
		defer wiringEnv.Stop()
	}

	var figures []report.Result
	var traj strings.Builder
	for _, x := range runs {
		if x.err != nil {
			t.Errorf("%s / %s: %v", x.sc.Name, x.sc.SignalLabel(), x.err)
			continue
		}
		f, err := Figures(x.res)
		if err != nil {
			t.Errorf("%s / %s: figures: %v", x.sc.Name, x.sc.SignalLabel(), err)
			continue
		}
		figures = append(figures, f)
		fmt.Fprintf(&traj, "%s / %s\n  replicas %s\n  nodes    %s\n  alerts   %s\n  sim lag  %v at most (loop time)\n  sync gap %v at most; ready lags %v\n", x.sc.Name, x.sc.SignalLabel(),
			Trajectory(f.Replicas), Trajectory(f.Nodes), alertsLine(x.res.Alerts), x.res.SimLag.Round(time.Millisecond),
			x.res.SyncGap.Round(100*time.Millisecond), roundAll(x.res.ReadyLags, time.Second))
		if testing.Verbose() {
			t.Logf("%s / %s events:\n%s", x.sc.Name, x.sc.SignalLabel(), strings.Join(x.res.Events, "\n"))
		}
		checkClosed(t, x.sc, x.res, f)
	}
	if wiring.err != nil {
		t.Errorf("uncompressed wiring run: %v", wiring.err)
	} else if f, err := Figures(wiring.res); err != nil {
		t.Errorf("uncompressed wiring run: %v", err)
	} else if peakOf(f.Replicas) <= wiring.sc.WarmReplicas {
		t.Errorf("uncompressed wiring run: the HPA never scaled up in %v of real time (replicas %s)\n%s",
			wiring.sc.Duration, Trajectory(f.Replicas), strings.Join(wiring.res.Events, "\n"))
	} else {
		fmt.Printf("uncompressed wiring run (factor 1, %v): replicas %s\n", wiring.sc.Duration, Trajectory(f.Replicas))
	}
	if t.Failed() {
		t.Log(env.Logs(4000))
	}
	fmt.Printf("closed loop at time compression %v (every time constant divided by it); delays modelled: cold start %v\n",
		env.F, env.Delays.ColdStart())
	for _, d := range env.Delays.All() {
		fmt.Printf("  %-40s %6v  %s\n", d.Name, d.D, d.Source)
	}
	fmt.Println(report.Table(figures))
	if w := report.WakeTable(figures); w != "" {
		fmt.Printf("scale to zero (KEDA): the first call after idle waits for the cold start %v + KEDA's polling interval + the wake query's rate window\n%s\n",
			env.Delays.ColdStart(), w)
	}
	fmt.Print(traj.String())
	if out := os.Getenv("CLOSEDLOOP_MARKDOWN"); out != "" {
		md := report.Markdown(figures)
		if w := report.WakeMarkdown(figures); w != "" {
			md += "\n" + w
		}
		if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// checkClosed fails a run whose loop was not closed.
func checkClosed(t *testing.T, sc Scenario, res *Result, f report.Result) {
	t.Helper()
	if f.Served == 0 {
		t.Errorf("%s / %s: no request was served: the load never reached a ready pod", sc.Name, sc.SignalLabel())
	}
	if sc.scaleToZeroRun() {
		checkScaleToZero(t, sc, f)
		return
	}
	warm := max(sc.WarmReplicas, sc.MinReplicas)
	switch {
	case strings.HasPrefix(sc.Name, "2 "):
		if peakOf(f.Replicas) <= warm {
			t.Errorf("%s / %s: the HPA never scaled up on a ×4 step (replicas %s)", sc.Name, sc.SignalLabel(), Trajectory(f.Replicas))
		}
	case strings.HasPrefix(sc.Name, "7 "):
		// Queue timeouts are Triton's REJECTED failures: the alert must fire.
		if _, ok := res.Alerts[signalsRequestsFailing]; !ok {
			t.Errorf("%s / %s: %s never fired (alerts: %s)", sc.Name, sc.SignalLabel(), signalsRequestsFailing, alertsLine(res.Alerts))
		}
	case strings.HasPrefix(sc.Name, "3 "):
		if f.NodesAtEnd > warm-1 && peakOf(f.Nodes) > sc.MinReplicas {
			t.Errorf("%s / %s: nodes never came down after the load went to zero (nodes %s)", sc.Name, sc.SignalLabel(), Trajectory(f.Nodes))
		}
	}
}

// checkScaleToZero fails a scale-to-zero run that did not reach zero (3) or
// did not wake from it in time (4).
func checkScaleToZero(t *testing.T, sc Scenario, f report.Result) {
	t.Helper()
	for _, p := range scaleToZeroFailures(sc, f) {
		t.Errorf("%s / %s: %s", sc.Name, sc.SignalLabel(), p)
	}
}

// scaleToZeroFailures: scenario 3 must end at 0 replicas and 0 GPU nodes;
// scenario 4 must start there, its first call after idle must be followed
// by a served one within the wake bound, and the HPA must then size Triton
// for the burst from the External metrics KEDA's metrics server serves.
func scaleToZeroFailures(sc Scenario, f report.Result) []string {
	var out []string
	switch {
	case strings.HasPrefix(sc.Name, "3 "):
		if f.ReplicasAtEnd != 0 || f.NodesAtEnd != 0 {
			out = append(out, fmt.Sprintf("%d replicas and %d GPU nodes at the end, want 0 and 0 (replicas %s, nodes %s)",
				f.ReplicasAtEnd, f.NodesAtEnd, Trajectory(f.Replicas), Trajectory(f.Nodes)))
		}
	case strings.HasPrefix(sc.Name, "4 "):
		if len(f.Replicas) == 0 || f.Replicas[0].Value != 0 || len(f.Nodes) == 0 || f.Nodes[0].Value != 0 {
			out = append(out, fmt.Sprintf("did not start at 0 replicas and 0 GPU nodes (replicas %s, nodes %s)", Trajectory(f.Replicas), Trajectory(f.Nodes)))
		}
		if peakOf(f.Replicas) <= 1 {
			out = append(out, fmt.Sprintf("the HPA KEDA creates never scaled past the wake's one replica under a burst of two pods' worth: its External metrics did not reach it (replicas %s)", Trajectory(f.Replicas)))
		}
		switch w := f.Wake; {
		case w == nil || !w.Refused:
			out = append(out, "no call found Triton at zero: nothing woke it")
		case !w.Served:
			out = append(out, fmt.Sprintf("the first call after idle (%s) was never followed by a served one (replicas %s)", fmtMinutes(w.From), Trajectory(f.Replicas)))
		case !w.Within():
			out = append(out, fmt.Sprintf("the first call after idle waited %v for a ready replica, over the bound %v (cold start + KEDA polling + rate window)",
				w.Latency.Round(time.Second), w.Bound))
		}
	default:
		out = append(out, "no scale-to-zero check for this scenario")
	}
	return out
}

func peakOf(points []report.Point) int {
	m := 0
	for _, p := range points {
		m = max(m, p.Value)
	}
	return m
}

// Trajectory is "value@minute" for each change.
func Trajectory(points []report.Point) string {
	var parts []string
	for _, p := range points {
		parts = append(parts, fmt.Sprintf("%d@%s", p.Value, fmtMinutes(p.At)))
	}
	return strings.Join(parts, " ")
}

func fmtMinutes(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%dm", int(d/time.Minute))
	}
	return fmt.Sprintf("%.1fm", d.Minutes())
}

var _ = tritonsim.Constant

// signalsRequestsFailing is the program's alert on Triton's failure counter.
const signalsRequestsFailing = signals.AlertTritonRequestsFailing

func alertsLine(a map[string]time.Duration) string {
	if len(a) == 0 {
		return "none"
	}
	var names []string
	for n := range a {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, n+"@"+fmtMinutes(a[n].Round(6*time.Second)))
	}
	return strings.Join(parts, " ")
}

func roundAll(ds []time.Duration, m time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(m)
	}
	return out
}
