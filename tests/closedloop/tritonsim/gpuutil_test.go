package tritonsim

import (
	"math"
	"testing"
	"time"
)

// gpuUtil scrapes a pod and returns its nv_gpu_utilization, checking the
// family is Triton's: a gauge with one series labelled with the pod's
// gpu_uuid only.
func gpuUtil(t *testing.T, s *Sim, pod string) float64 {
	t.Helper()
	e := scrape(t, s, pod)
	const name = "nv_gpu_utilization"
	if e.types[name] != TypeGauge || e.help[name] != "GPU utilization rate [0.0 - 1.0)" {
		t.Fatalf("%s: type %q help %q, want Triton's gauge (core src/metrics.cc)", name, e.types[name], e.help[name])
	}
	if l := e.labels[name]; len(l) != 1 || len(l[0]) != 1 || l[0][LabelGPUUUID] != gpuUUID(pod) {
		t.Fatalf("%s series %v, want one labelled gpu_uuid=%s", name, l, gpuUUID(pod))
	}
	return e.samples[seriesKey(name, map[string]string{LabelGPUUUID: gpuUUID(pod)})]
}

// readEvery steps s to each multiple of every up to end and reads the gauge.
func readEvery(t *testing.T, s *Sim, pod string, every, end time.Duration) []float64 {
	t.Helper()
	var out []float64
	for now := every; now <= end; now += every {
		runTo(t, s, now)
		out = append(out, gpuUtil(t, s, pod))
	}
	return out
}

func TestGPUUtilizationIsTheBusyFractionOfTheLastInterval(t *testing.T) {
	m := gpuModel("m", 10*ms) // 100 requests/s on its one instance
	for _, tc := range []struct {
		name      string
		load      []Stream
		want, tol float64
	}{
		{"idle", nil, 0, 0},
		{"half load, evenly spaced", []Stream{{Model: "m", Trace: Constant(50), Arrivals: ArrivalsUniform}}, 0.5, 0.01},
		{"saturated", []Stream{{Model: "m", Trace: Constant(300), Arrivals: ArrivalsUniform}}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bounded := m
			bounded.MaxBatchSize = 1
			bounded.Batching = &DynamicBatching{MaxQueueSize: 10}
			s := newSim(t, Config{Models: []Model{bounded}, Load: tc.load, Seed: 1}, "p1")
			if got := gpuUtil(t, s, "p1"); got != 0 {
				t.Errorf("at 0 (no interval ended yet) %v, want 0", got)
			}
			reads := readEvery(t, s, "p1", 700*ms, 30*time.Second)
			for i, got := range reads[2:] { // the first whole interval ends at 2 s
				if math.Abs(got-tc.want) > tc.tol {
					t.Errorf("read %d: %v, want %v ± %v", i+2, got, tc.want, tc.tol)
				}
			}
		})
	}

	t.Run("half load, Poisson", func(t *testing.T) {
		s := newSim(t, Config{Models: []Model{m}, Load: []Stream{{Model: "m", Trace: Constant(50)}}, Seed: 7}, "p1")
		reads := readEvery(t, s, "p1", 2*time.Second, 400*time.Second)
		// A 2 s window holds ~100 Poisson arrivals (sd 10), so a read
		// strays by ~0.05 and, over 200 reads, by up to ~0.2.
		mean, near := 0.0, 0
		for i, got := range reads {
			mean += got / float64(len(reads))
			if math.Abs(got-0.5) <= 0.1 {
				near++
			}
			if math.Abs(got-0.5) > 0.25 {
				t.Errorf("interval %d: %v, want 0.5 ± 0.25", i, got)
			}
		}
		if math.Abs(mean-0.5) > 0.03 {
			t.Errorf("mean over %d intervals %v, want 0.5 ± 0.03", len(reads), mean)
		}
		if near < len(reads)*9/10 {
			t.Errorf("%d of %d reads within 0.5 ± 0.1, want 90%%", near, len(reads))
		}
	})

	t.Run("CPU instances do not use the GPU", func(t *testing.T) {
		cpu := gpuModel("c", 10*ms)
		cpu.Kind = KindCPU
		s := newSim(t, Config{Models: []Model{cpu}, Load: []Stream{{Model: "c", Trace: Constant(300)}}}, "p1")
		runTo(t, s, 10*time.Second)
		if got := gpuUtil(t, s, "p1"); got != 0 {
			t.Errorf("%v with a busy KIND_CPU model, want 0", got)
		}
	})
}

// Triton updates the gauge once per --metrics-interval-ms, on a poller that
// starts with the process: a read serves the last whole interval since the
// pod started, not the time up to the read.
func TestGPUUtilizationUpdatesOncePerIntervalFromPodStart(t *testing.T) {
	m := gpuModel("m", 10*ms)
	m.MaxBatchSize = 1
	m.Batching = &DynamicBatching{MaxQueueSize: 10}
	cfg := Config{Models: []Model{m}, MetricsInterval: 2 * time.Second,
		Load: []Stream{{Model: "m", Arrivals: ArrivalsUniform,
			Trace: Piecewise(Point{0, 0}, Point{10 * time.Second, 300}, Point{20 * time.Second, 0})}}}
	s := newSim(t, cfg)
	runTo(t, s, 500*ms)
	if err := s.SetPods([]string{"p1"}); err != nil { // intervals end at 2.5 s, 4.5 s, ...
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Duration
		want float64
	}{
		{2400 * ms, 0},
		{10400 * ms, 0},    // [6.5 s, 8.5 s]: busy from 10 s, not counted yet
		{10500 * ms, 0.25}, // [8.5 s, 10.5 s]: busy from 10.003 s
		{12400 * ms, 0.25}, // same interval until 12.5 s
		{12500 * ms, 1},
		{20400 * ms, 1},
		{20500 * ms, 0.8}, // [18.5 s, 20.5 s]: load stops at 20 s, the queue (10) drains by 20.11 s
		{22500 * ms, 0},
	} {
		runTo(t, s, tc.at)
		if got := gpuUtil(t, s, "p1"); math.Abs(got-tc.want) > 0.011 {
			t.Errorf("at %v: %v, want %v", tc.at, got, tc.want)
		}
	}

	// The interval is --metrics-interval-ms: at 1 s, saturated reads 1
	// one second after the load starts.
	cfg.MetricsInterval = time.Second
	s = newSim(t, cfg, "p1")
	runTo(t, s, 11*time.Second)
	if got := gpuUtil(t, s, "p1"); got != 1 {
		t.Errorf("1 s interval at 11 s: %v, want 1", got)
	}
}
