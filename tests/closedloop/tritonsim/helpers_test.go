package tritonsim

import (
	"math"
	"testing"
	"time"
)

const ms = time.Millisecond

// gpuModel is a model on one GPU instance whose batch of 1 takes infer.
func gpuModel(name string, infer time.Duration) Model {
	return Model{Name: name, Kind: KindGPU, Instances: 1, Compute: Compute{Infer: Latency{Base: infer}}}
}

func newSim(t *testing.T, cfg Config, pods ...string) *Sim {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) > 0 {
		if err := s.SetPods(pods); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// runTo steps the clock to end in 100 ms steps.
func runTo(t *testing.T, s *Sim, end time.Duration) {
	t.Helper()
	if err := s.Run(end, 100*ms); err != nil {
		t.Fatal(err)
	}
}

func scrape(t *testing.T, s *Sim, pod string) *exposition {
	t.Helper()
	b, err := s.Metrics(pod)
	if err != nil {
		t.Fatal(err)
	}
	e, err := parseExposition(string(b))
	if err != nil {
		t.Fatalf("pod %s exposition: %v\n%s", pod, err, b)
	}
	return e
}

// sum adds a family's series for one model over all its label sets (the
// model-level and, on a GPU, the instance series), optionally for one reason.
func (e *exposition) sum(family, model string, reason ...string) float64 {
	total := 0.0
	for _, l := range e.labels[family] {
		if l[LabelModel] != model || (len(reason) > 0 && l[LabelReason] != reason[0]) {
			continue
		}
		total += e.samples[seriesKey(family, l)]
	}
	return total
}

func within(got, want, tolerance float64) bool {
	return math.Abs(got-want) <= tolerance*math.Abs(want)
}
