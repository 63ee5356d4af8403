package tritonsim

import (
	"testing"
	"time"
)

// Draining as the loop goes yields every finished request once, in the
// order Samples would list them, and frees them.
func TestDrainSamplesReturnsEachFinishedRequestOnce(t *testing.T) {
	cfg := mixedConfig()
	cfg.Models[0].MaxBatchSize = 1
	cfg.Models[0].Batching = &DynamicBatching{QueueTimeout: 20 * ms}
	cfg.Load[0].Trace = Constant(250) // timeouts as well as successes
	whole := newSim(t, cfg, "p1")
	runTo(t, whole, 20*time.Second)
	want := whole.Samples()

	s := newSim(t, cfg, "p1")
	var got []Sample
	for now := 700 * ms; now < 20*time.Second+700*ms; now += 700 * ms {
		runTo(t, s, min(now, 20*time.Second))
		batch := s.DrainSamples()
		for _, x := range batch {
			if x.End > s.Now() || x.Arrival > x.End || x.Queue > x.Latency() {
				t.Fatalf("sample %+v at %v", x, s.Now())
			}
		}
		got = append(got, batch...)
		if left := s.Samples(); len(left) != 0 {
			t.Fatalf("Samples after DrainSamples holds %d, want 0", len(left))
		}
	}
	outcomes := map[Outcome]int{}
	for _, x := range want {
		outcomes[x.Outcome]++
	}
	if len(want) < 1000 || outcomes[OutcomeSuccess] == 0 || outcomes[OutcomeTimedOut] == 0 {
		t.Fatalf("reference run finished %d requests, outcomes %v; want successes and timeouts", len(want), outcomes)
	}
	if len(got) != len(want) {
		t.Fatalf("drained %d samples, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("drained sample %d is %+v, want %+v", i, got[i], want[i])
		}
	}
	if again := s.DrainSamples(); len(again) != 0 {
		t.Errorf("a second drain at the same time returned %d samples", len(again))
	}
}
