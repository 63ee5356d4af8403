package tritonsim

import (
	"math"
	"strings"
	"testing"
	"time"
)

// With the clock F times faster than wall time, counters divided by F make
// a rate per wall second equal the rate per simulated second, leave ratios
// of counters unchanged, and leave gauges alone.
func TestCounterScaleCompressesTimeForWallClockScrapes(t *testing.T) {
	const factor = 7.5
	cfg := mixedConfig()
	cfg.Models[0].MaxBatchSize = 1
	cfg.Models[0].Batching = &DynamicBatching{QueueTimeout: 50 * ms}
	cfg.Load[0].Trace = Constant(250) // past gpu_model's 200/s: queue time, timeouts
	plain := newSim(t, cfg, "p1")
	cfg.CounterScale = factor
	scaled := newSim(t, cfg, "p1")

	read := func(s *Sim, at time.Duration) *exposition {
		runTo(t, s, at)
		b, err := s.Metrics("p1")
		if err != nil {
			t.Fatal(err)
		}
		e, err := parseExpositionWith(string(b), false)
		if err != nil {
			t.Fatalf("at %v: %v", at, err)
		}
		return e
	}
	t1, t2 := 10*time.Second, 40*time.Second
	p1, s1 := read(plain, t1), read(scaled, t1)
	p2, s2 := read(plain, t2), read(scaled, t2)

	simSeconds := (t2 - t1).Seconds()
	wallSeconds := simSeconds / factor
	counters, fractional := 0, 0
	for key, v2 := range p2.samples {
		name := key[:strings.IndexByte(key, '{')]
		want1, want2 := p1.samples[key], v2
		got1, got2 := s1.samples[key], s2.samples[key]
		if p2.types[name] == TypeGauge {
			if got2 != want2 {
				t.Errorf("gauge %s: %v scaled, %v unscaled; gauges are not scaled", key, got2, want2)
			}
			continue
		}
		if want2-want1 == 0 {
			continue
		}
		counters++
		if got2 != math.Trunc(got2) {
			fractional++
		}
		simRate := (want2 - want1) / simSeconds
		if r := (got2 - got1) / simSeconds; !within(r, simRate/factor, 1e-9) {
			t.Errorf("%s: rate over two reads per simulated second %v, want %v / %v", key, r, simRate, factor)
		}
		if r := (got2 - got1) / wallSeconds; !within(r, simRate, 1e-9) {
			t.Errorf("%s: rate per wall second %v, want the simulated rate %v", key, r, simRate)
		}
	}
	if counters < 20 || fractional == 0 {
		t.Fatalf("%d counters moved, %d served fractional; the test needs moving, scaled counters", counters, fractional)
	}
	if _, ok := p2.samples[seriesKey("nv_gpu_utilization", map[string]string{LabelGPUUUID: gpuUUID("p1")})]; !ok {
		t.Error("no nv_gpu_utilization gauge compared")
	}

	// Ratios a dashboard divides: mean queue time per success and the
	// timeout ratio.
	ratio := func(e1, e2 *exposition, num, den, model string, reason ...string) float64 {
		return (e2.sum(num, model, reason...) - e1.sum(num, model, reason...)) / (e2.sum(den, model) - e1.sum(den, model))
	}
	for _, r := range []struct {
		num, den, model string
		reason          []string
	}{
		{"nv_inference_queue_duration_us", "nv_inference_request_success", "gpu_model", nil},
		{"nv_inference_compute_infer_duration_us", "nv_inference_exec_count", "cpu_model", nil},
		{"nv_inference_request_failure", "nv_inference_request_success", "gpu_model", []string{ReasonRejected}},
	} {
		want := ratio(p1, p2, r.num, r.den, r.model, r.reason...)
		if got := ratio(s1, s2, r.num, r.den, r.model, r.reason...); want == 0 || !within(got, want, 1e-9) {
			t.Errorf("%s / %s of %s: %v scaled, %v unscaled (want equal, non-zero)", r.num, r.den, r.model, got, want)
		}
	}
}
