package loop

import (
	"context"
	"testing"
	"time"

	"github.com/aiplatform/infra/tests/closedloop/tritonsim"
)

// The simulator's clock keeps up with the loop's while the harness is busy
// elsewhere: the harness's API calls take up to seconds of wall time on a
// loaded machine, and a simulator stepped between them served counters from
// the past, then the whole catch-up in one scrape (a full .ci/run measured
// lags of 15-34 s of loop time, a rate spike of up to 1.5x in the 1-minute
// windows: enough for the HPA to add a replica at steady load). Here the
// harness does nothing for a second of wall time; the simulator must have
// followed the clock meanwhile.
func TestSimulatorStepsWhileTheHarnessBlocks(t *testing.T) {
	const f = 15
	sim := newSim(t)
	r := &runner{env: &Env{F: f}, sc: Scenario{Duration: time.Hour}, sim: sim, start: time.Now()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan simDone, 1)
	go func() { done <- r.stepSim(ctx) }()

	const block = time.Second // the harness, busy with one API call
	time.Sleep(block)
	got := sim.Now()
	cancel()
	d := <-done
	// Without a stepper of its own the simulator stays at 0 while the
	// harness blocks; with one it follows within its 20 ms ticks, so half
	// the block leaves ample room for a loaded machine.
	if want := block * f / 2; got < want {
		t.Errorf("after %v of wall time the simulator is at %v of loop time, want at least %v", block, got, want)
	}
	if d.err != context.Canceled {
		t.Errorf("stepSim ended with %v, want context.Canceled", d.err)
	}

	// At the scenario's end it stops by itself, at exactly the end.
	r2 := &runner{env: &Env{F: f}, sc: Scenario{Duration: 3 * time.Second}, sim: newSim(t), start: time.Now()}
	if d := r2.stepSim(context.Background()); d.err != nil || r2.sim.Now() != 3*time.Second {
		t.Errorf("stepSim to the end: err %v, simulator at %v, want nil at 3s", d.err, r2.sim.Now())
	}
}

// newSim is one model under 10 requests/s.
func newSim(t *testing.T) *tritonsim.Sim {
	t.Helper()
	sim, err := tritonsim.New(tritonsim.Config{Models: []tritonsim.Model{detect(nil)},
		Load: []tritonsim.Stream{{Model: "detect", Trace: tritonsim.Constant(10), Arrivals: tritonsim.ArrivalsUniform}}})
	if err != nil {
		t.Fatal(err)
	}
	return sim
}
