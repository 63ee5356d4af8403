package report

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

const ms = time.Millisecond

// run is a scenario of 10 minutes sampled each minute with no requests;
// tests set what they look at.
func run() Scenario {
	var samples []Sample
	for m := range 11 {
		samples = append(samples, Sample{At: time.Duration(m) * time.Minute, Replicas: 1, ReadyPods: 1, Nodes: 1, ReadyNodes: 1})
	}
	return Scenario{Name: "step", Signal: "queue-time", Objective: 25 * ms, Samples: samples}
}

func figures(t *testing.T, s Scenario) Result {
	t.Helper()
	r, err := Figures(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func served(at, latency time.Duration) Request {
	return Request{At: at, Latency: latency, Outcome: Served}
}

func TestPercentilesAndShareOver(t *testing.T) {
	s := run()
	// Served 10, 20, 25, 30, 40 ms and one rejection, one time-out. Nearest
	// rank over the 5 served: p50 is the 3rd (25), p95 and p99 the 5th.
	// Over 25 ms: 30, 40 and both failures: 4 of 7 (25 is within).
	for i, l := range []time.Duration{40, 10, 30, 20, 25} {
		s.Requests = append(s.Requests, served(time.Duration(i)*time.Second, l*ms))
	}
	s.Requests = append(s.Requests, Request{At: 5 * time.Second, Outcome: Rejected, Latency: time.Hour},
		Request{At: 6 * time.Second, Outcome: TimedOut})
	r := figures(t, s)
	if r.P50 != 25*ms || r.P95 != 40*ms || r.P99 != 40*ms {
		t.Errorf("p50 %v p95 %v p99 %v, want 25ms 40ms 40ms", r.P50, r.P95, r.P99)
	}
	if r.ShareOver != 4.0/7 {
		t.Errorf("share over %v, want 4/7", r.ShareOver)
	}
	if r.Requests != 7 || r.Served != 5 || r.Rejected != 1 || r.TimedOut != 1 || r.Dropped != 0 || r.NoEndpoint != 0 {
		t.Errorf("counts %+v", r)
	}

	// 1..100 ms: p50 50, p95 95, p99 99.
	s.Requests = nil
	for l := 1; l <= 100; l++ {
		s.Requests = append(s.Requests, served(0, time.Duration(l)*ms))
	}
	r = figures(t, s)
	if r.P50 != 50*ms || r.P95 != 95*ms || r.P99 != 99*ms {
		t.Errorf("1..100 ms: p50 %v p95 %v p99 %v", r.P50, r.P95, r.P99)
	}
}

func TestDirectionChangesAndTrajectories(t *testing.T) {
	s := run()
	replicas := []int{2, 2, 3, 4, 4, 3, 3, 5, 4, 4, 4}
	for i := range s.Samples {
		s.Samples[i].Replicas = replicas[i]
	}
	for _, tc := range []struct {
		name   string
		settle time.Duration
		want   int
	}{
		// Deltas +1 +1 -1 +2 -1: up, down, up, down.
		{"from the start", 0, 3},
		// From 3m: 4 4 3 3 5 4: -1 +2 -1.
		{"after settling at 3m", 3 * time.Minute, 2},
		// From 8m: 4 4 4.
		{"flat after 8m", 8 * time.Minute, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.Settle = tc.settle
			if got := figures(t, s).DirectionChanges; got != tc.want {
				t.Errorf("direction changes %d, want %d", got, tc.want)
			}
		})
	}
	want := []Point{{0, 2}, {2 * time.Minute, 3}, {3 * time.Minute, 4}, {5 * time.Minute, 3}, {7 * time.Minute, 5}, {8 * time.Minute, 4}}
	if got := figures(t, s).Replicas; !reflect.DeepEqual(got, want) {
		t.Errorf("replica trajectory %v, want %v", got, want)
	}
	if got := figures(t, s).Nodes; !reflect.DeepEqual(got, []Point{{0, 1}}) {
		t.Errorf("node trajectory %v, want one point", got)
	}
}

func TestRecovery(t *testing.T) {
	// One request a second for 10 minutes; the load steps at 2m.
	// over(at) says which arrivals miss the objective.
	requests := func(over func(at time.Duration) bool) []Request {
		var out []Request
		for at := time.Duration(0); at < 10*time.Minute; at += time.Second {
			q := served(at, 10*ms)
			if over(at) {
				q.Latency = 50 * ms
			}
			out = append(out, q)
		}
		return out
	}
	between := func(from, to time.Duration) func(time.Duration) bool {
		return func(at time.Duration) bool { return at >= from && at < to }
	}
	for _, tc := range []struct {
		name                 string
		over                 func(time.Duration) bool
		held, recovered      bool
		recovery, windowStep time.Duration
	}{
		// The window starting at 4m50s holds 10 late arrivals of 60
		// (17% > 5%); the one at 5m0s none.
		{"late from 2m to 5m", between(2*time.Minute, 5*time.Minute), false, true, 3 * time.Minute, 0},
		// With 1m steps the last broken window starts at 4m.
		{"same, windows every minute", between(2*time.Minute, 5*time.Minute), false, true, 3 * time.Minute, time.Minute},
		// 3 of 60 is 5%: at most MaxShareOver holds.
		{"3 late arrivals in a minute still hold", between(2*time.Minute, 2*time.Minute+3*time.Second), true, true, 0, 0},
		{"4 late arrivals break", between(2*time.Minute, 2*time.Minute+4*time.Second), false, true, 10 * time.Second, 0},
		{"late before the step does not count", between(0, 2*time.Minute), true, true, 0, 0},
		// The last window, [9m, 10m), is broken.
		{"late at the end never recovers", between(9*time.Minute+30*time.Second, 10*time.Minute), false, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := run()
			s.StepAt = 2 * time.Minute
			s.WindowStep = tc.windowStep
			s.Requests = requests(tc.over)
			r := figures(t, s)
			if r.Held != tc.held || r.Recovered != tc.recovered || r.Recovery != tc.recovery {
				t.Errorf("held %v recovered %v recovery %v, want %v %v %v", r.Held, r.Recovered, r.Recovery, tc.held, tc.recovered, tc.recovery)
			}
		})
	}

	// Failed requests count as over.
	s := run()
	s.StepAt = 2 * time.Minute
	s.Requests = requests(func(time.Duration) bool { return false })
	for i := range s.Requests {
		if at := s.Requests[i].At; at >= 3*time.Minute && at < 4*time.Minute {
			s.Requests[i].Outcome = NoEndpoint
		}
	}
	if r := figures(t, s); r.Held || !r.Recovered || r.Recovery != 2*time.Minute {
		t.Errorf("no endpoint from 3m to 4m: held %v recovered %v recovery %v, want recovery 2m", r.Held, r.Recovered, r.Recovery)
	}
}

func TestNodeHoursAgainstTheOracle(t *testing.T) {
	s := run()
	s.Samples = []Sample{{At: 0, Nodes: 2}, {At: 30 * time.Minute, Nodes: 4}, {At: time.Hour, Nodes: 1}, {At: 90 * time.Minute, Nodes: 1}}
	s.NodeHourPrice = 10
	s.OracleNodes = func(at time.Duration) int {
		if at < 30*time.Minute {
			return 1
		}
		return 2
	}
	r := figures(t, s)
	// Each sample's count until the next one, half an hour each:
	// 2+4+1 = 7 half-hours = 3.5; the oracle 1+2+2 = 2.5.
	if r.NodeHours != 3.5 || r.OracleNodeHours != 2.5 || r.NodeHoursRatio != 1.4 || r.Cost != 35 || r.NodesAtEnd != 1 {
		t.Errorf("node-hours %v oracle %v ratio %v cost %v at end %d, want 3.5 2.5 1.4 35 1",
			r.NodeHours, r.OracleNodeHours, r.NodeHoursRatio, r.Cost, r.NodesAtEnd)
	}
	s.OracleNodes = nil
	if r := figures(t, s); !math.IsNaN(r.NodeHoursRatio) || r.OracleNodeHours != 0 {
		t.Errorf("without an oracle: ratio %v oracle %v, want NaN 0", r.NodeHoursRatio, r.OracleNodeHours)
	}
}

func TestOracleNodes(t *testing.T) {
	// 10 req/s until 90s, then 100 req/s; a pod serves 50 req/s, the
	// oracle uses 80% of it (40 req/s), two pods a node.
	step := func(at time.Duration) float64 {
		if at < 90*time.Second {
			return 10
		}
		return 100
	}
	oracle, err := OracleNodes(step, 50, 0.8, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Duration
		want int
	}{
		{30 * time.Second, 1}, // 10 req/s: 1 pod, 1 node
		{60 * time.Second, 2}, // the minute [1m, 2m) peaks at 100: 3 pods, 2 nodes
		{5 * time.Minute, 2},
	} {
		if got := oracle(tc.at); got != tc.want {
			t.Errorf("oracle at %v: %d nodes, want %d", tc.at, got, tc.want)
		}
	}
	zero, _ := OracleNodes(func(time.Duration) float64 { return 0 }, 50, 0.8, 2)
	exact, _ := OracleNodes(func(time.Duration) float64 { return 80 }, 100, 0.8, 1)
	if zero(0) != 0 || exact(0) != 1 {
		t.Errorf("zero load: %d nodes, want 0; 80 req/s at 80 per pod: %d nodes, want 1", zero(0), exact(0))
	}
	_, err = OracleNodes(nil, 0, 1.5, 0)
	for _, w := range []string{"load: nil", "perPodCapacity: 0 must be > 0", "utilisationCap: 1.5 must be in (0, 1]", "podsPerNode: 0 must be >= 1"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
}

func TestFiguresRejectsBadScenarios(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Scenario)
		want   []string
	}{
		{"no name, objective or samples", func(s *Scenario) { s.Name, s.Objective, s.Samples = "", 0, nil }, []string{
			`name, signal: "", "queue-time": both must be set`, "objective: 0s must be > 0", "samples: none given"}},
		{"samples out of order", func(s *Scenario) { s.Samples[3].At = s.Samples[2].At }, []string{
			"samples[3].at: 2m0s is not after samples[2].at (2m0s)"}},
		{"unknown outcome", func(s *Scenario) { s.Requests = []Request{served(0, ms), {At: time.Second}} }, []string{
			`requests[1]: outcome "", latency 0s: outcome must be one of`}},
		{"run shorter than a window after the step", func(s *Scenario) { s.StepAt = 9*time.Minute + 30*time.Second }, []string{
			"window: the run ends at 10m0s, before the first window after the step ends"}},
		{"negative settings", func(s *Scenario) { s.MaxShareOver, s.NodeHourPrice, s.Settle, s.WakeBound = -1, -1, -1, -1 }, []string{
			"maxShareOver: -1 must be in (0, 1)", "nodeHourPrice: -1 must not be negative", "stepAt, settle: 0s, -1ns must not be negative",
			"wakeBound: -1ns must not be negative"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := run()
			tc.change(&s)
			_, err := Figures(s)
			if err == nil {
				t.Fatal("Figures accepted a bad scenario")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

// A workload at zero wakes from the first refused request to the first
// one served; the refusals in between are counted, the ones after are not,
// and requests served before the first refusal do not count as the wake.
func TestWake(t *testing.T) {
	s := run()
	s.WakeBound = 9 * time.Minute
	refused := func(at time.Duration) Request { return Request{At: at, Outcome: NoEndpoint} }
	s.Requests = []Request{served(10*time.Second, ms), refused(5 * time.Minute), refused(6 * time.Minute), refused(7 * time.Minute),
		served(13*time.Minute+30*time.Second, ms), refused(14 * time.Minute), served(15*time.Minute, ms)}
	s.Samples[10].Replicas = 0
	r := figures(t, s)
	want := Wake{Refused: true, Served: true, From: 5 * time.Minute, To: 13*time.Minute + 30*time.Second,
		Latency: 8*time.Minute + 30*time.Second, Bound: 9 * time.Minute, Answered: 3}
	if r.Wake == nil || *r.Wake != want {
		t.Fatalf("wake %+v, want %+v", r.Wake, want)
	}
	if !r.Wake.Within() || r.ReplicasAtEnd != 0 || r.NodesAtEnd != 1 {
		t.Errorf("within %v, replicas at end %d, nodes at end %d", r.Wake.Within(), r.ReplicasAtEnd, r.NodesAtEnd)
	}
	s.WakeBound = 8 * time.Minute
	if r := figures(t, s); r.Wake.Within() {
		t.Error("8m30s is within an 8m bound")
	}
	s.Requests = s.Requests[:4]
	if r := figures(t, s); r.Wake.Served || r.Wake.Within() {
		t.Errorf("never served: %+v", r.Wake)
	}
	s.WakeBound = 0
	if r := figures(t, s); r.Wake != nil {
		t.Errorf("a scenario without a wake bound has a wake: %+v", r.Wake)
	}
}

func TestWakeTable(t *testing.T) {
	results := []Result{
		{Name: "3 ramp", Signal: "concurrency", Wake: &Wake{Bound: 9 * time.Minute}},
		{Name: "4 burst", Signal: "concurrency", ReplicasAtEnd: 2, NodesAtEnd: 2, Wake: &Wake{Refused: true, Served: true,
			From: 5 * time.Minute, To: 13*time.Minute + 30*time.Second, Latency: 8*time.Minute + 30*time.Second, Bound: 9 * time.Minute, Answered: 1234}},
		{Name: "1 steady", Signal: "concurrency"},
	}
	want := `| scenario | signal | replicas at end | nodes at end | first call after idle | first served | wake | bound | within | answered 503 meanwhile |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| 3 ramp | concurrency | 0 | 0 | - | - | - | - | - | - |
| 4 burst | concurrency | 2 | 2 | 5.0m | 13.5m | 8m30s | 9m0s | yes | 1234 |
`
	if got := WakeMarkdown(results); got != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", got, want)
	}
	if got := WakeTable(results[2:]); got != "" {
		t.Errorf("no result with a wake: %q, want none", got)
	}
}

func TestTables(t *testing.T) {
	results := []Result{
		{Name: "step", Signal: "queue-time", Objective: 100 * ms, P50: 1234 * time.Microsecond, P95: 20 * ms, P99: 1234 * ms,
			ShareOver: 0.0123, Requests: 1000, Served: 990, Trajectories: Trajectories{Replicas: []Point{{0, 1}, {time.Minute, 4}, {2 * time.Minute, 3}},
				Nodes: []Point{{0, 1}, {time.Minute, 2}}}, DirectionChanges: 1, Recovered: true, Recovery: 90*time.Second + 400*ms,
			NodeHours: 1.5, OracleNodeHours: 1.25, NodeHoursRatio: 1.2, Cost: 15.3, NodesAtEnd: 1},
		{Name: "step", Signal: "gpu-util", Objective: 100 * ms, Held: true, Recovered: true, NodeHoursRatio: math.NaN()},
	}
	wantMarkdown := `| scenario | signal | objective | p50 | p95 | p99 | over | requests | failed | max replicas | dir changes | recovery | max nodes | node-h | oracle node-h | ratio | cost | nodes at end |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| step | queue-time | 100ms | 1.2ms | 20ms | 1.23s | 1.2% | 1000 | 10 | 4 | 1 | 1m30s | 2 | 1.50 | 1.25 | 1.20 | $15.30 | 1 |
| step | gpu-util | 100ms | 0s | 0s | 0s | 0.0% | 0 | 0 | 0 | 0 | held | 0 | 0.00 | 0.00 | n/a | $0.00 | 0 |
`
	if got := Markdown(results); got != wantMarkdown {
		t.Errorf("markdown:\n%s\nwant:\n%s", got, wantMarkdown)
	}
	text := Table(append(results, Result{Name: "spike", Signal: "queue-time", Recovered: false, NodeHoursRatio: math.NaN()}))
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("text table has %d lines, want a header and 3 rows:\n%s", len(lines), text)
	}
	// Fixed width: every column starts at the same offset on every line.
	col := strings.Index(lines[0], "recovery")
	for i, want := range []string{"1m30s", "held", "never"} {
		if got := lines[i+1][col:]; !strings.HasPrefix(got, want) {
			t.Errorf("row %d at the recovery column: %q, want %q first", i+1, got, want)
		}
	}
	if strings.HasSuffix(lines[0], " ") {
		t.Errorf("trailing blanks in %q", lines[0])
	}
}
