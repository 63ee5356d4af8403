package tritonsim

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// tritonFamilies are the per-model families with the names and types
// Triton registers (core src/metrics.cc: BuildCounter / BuildGauge, in that
// order) and documents (server docs/user_guide/metrics.md, "Inference
// Request Metrics").
var tritonFamilies = []struct{ name, typ string }{
	{"nv_inference_request_success", "counter"},
	{"nv_inference_request_failure", "counter"},
	{"nv_inference_count", "counter"},
	{"nv_inference_exec_count", "counter"},
	{"nv_inference_request_duration_us", "counter"},
	{"nv_inference_queue_duration_us", "counter"},
	{"nv_inference_compute_input_duration_us", "counter"},
	{"nv_inference_compute_infer_duration_us", "counter"},
	{"nv_inference_compute_output_duration_us", "counter"},
	{"nv_inference_pending_request_count", "gauge"},
}

func mixedConfig() Config {
	return Config{
		Models: []Model{
			{Name: "gpu_model", Kind: KindGPU, Instances: 1,
				Compute: Compute{Input: Latency{Base: ms}, Infer: Latency{Base: 3 * ms}, Output: Latency{Base: ms}}},
			{Name: "cpu_model", Kind: KindCPU, Version: 3, Instances: 1,
				Compute: Compute{Input: Latency{Base: ms / 2}, Infer: Latency{Base: ms}, Output: Latency{Base: ms / 2}}},
			{Name: "ens", Version: 2, Steps: []string{"gpu_model", "cpu_model"}},
		},
		Load: []Stream{
			{Model: "gpu_model", Trace: Constant(50)},
			{Model: "cpu_model", Trace: Constant(50)},
			{Model: "ens", Trace: Constant(50)},
		},
		Seed: 1,
	}
}

func TestExpositionHasTritonsFamiliesAndLabels(t *testing.T) {
	s := newSim(t, mixedConfig(), "p1")
	runTo(t, s, 10*time.Second)
	e := scrape(t, s, "p1")

	var names []string
	for _, f := range tritonFamilies {
		names = append(names, f.name)
		if e.types[f.name] != f.typ {
			t.Errorf("%s has type %q, Triton's is %q", f.name, e.types[f.name], f.typ)
		}
	}
	// nv_gpu_utilization is registered after the per-model families (core
	// src/metrics.cc, under TRITON_ENABLE_METRICS_GPU).
	names = append(names, "nv_gpu_utilization")
	if !slices.Equal(e.order, names) {
		t.Errorf("families %v, want Triton's %v", e.order, names)
	}
	uuid := regexp.MustCompile(`^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	for _, f := range tritonFamilies {
		// Label sets per model: the ensemble and the CPU model have one
		// reporter, the GPU model a model-level and an instance reporter.
		want := map[string]int{"ens\x00\x001": 1, "cpu_model\x00\x003": 1, "gpu_model\x00\x001": 1, "gpu_model\x00gpu\x001": 1}
		got := map[string]int{}
		for _, l := range e.labels[f.name] {
			gpu := ""
			if id, ok := l[LabelGPUUUID]; ok {
				gpu = "gpu"
				if !uuid.MatchString(id) {
					t.Errorf("%s: gpu_uuid %q is not nvidia-smi's form", f.name, id)
				}
			}
			allowed := 3
			if f.name == "nv_inference_request_failure" {
				allowed = 4
				if !slices.Contains(failureReasons[:], l[LabelReason]) {
					t.Errorf("%s: reason %q", f.name, l[LabelReason])
				}
			}
			if len(l) != allowed-map[string]int{"": 1, "gpu": 0}[gpu] {
				t.Errorf("%s: labels %v", f.name, l)
			}
			got[l[LabelModel]+"\x00"+gpu+"\x00"+l[LabelVersion]]++
		}
		for k := range want {
			if f.name == "nv_inference_request_failure" {
				want[k] = len(failureReasons)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: label sets %v, want %v", f.name, got, want)
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s: %d series for %q, want %d", f.name, got[k], k, n)
			}
		}
	}
	if got := e.sum("nv_inference_request_success", "cpu_model"); got < 900 {
		t.Errorf("cpu_model successes %v, want its own 50/s and the ensemble's", got)
	}
	if v := e.samples[seriesKey("nv_inference_request_success", map[string]string{LabelModel: "gpu_model", LabelVersion: "1"})]; v != 0 {
		t.Errorf("GPU model's model-level series counts %v successes; the backend reports them on the instance series", v)
	}
}

func TestCountersAreMonotonicAcrossScrapes(t *testing.T) {
	cfg := mixedConfig()
	// Load rises past capacity, then falls: gpu_model (200/s) times
	// requests out, and so fails ensemble requests; cpu_model (4 per 3 ms)
	// refuses them at a full queue.
	cfg.Models[0].MaxBatchSize = 1
	cfg.Models[0].Batching = &DynamicBatching{QueueTimeout: 50 * ms}
	cfg.Models[1].MaxBatchSize = 4
	cfg.Models[1].Batching = &DynamicBatching{MaxQueueDelay: ms, MaxQueueSize: 20}
	cfg.Load[0].Trace = Piecewise(Point{0, 50}, Point{30 * time.Second, 300}, Point{60 * time.Second, 50})
	cfg.Load[1].Trace = Piecewise(Point{0, 100}, Point{30 * time.Second, 3000}, Point{60 * time.Second, 50})
	cfg.Load[1].Noise = 0.3
	s := newSim(t, cfg, "p1")
	last := map[string]map[string]float64{}
	types := map[string]string{}
	scrapes := 0
	for now := 5 * time.Second; now <= 120*time.Second; now += 5 * time.Second {
		runTo(t, s, now)
		switch now {
		case 20 * time.Second:
			if err := s.SetPods([]string{"p1", "p2"}); err != nil {
				t.Fatal(err)
			}
		case 90 * time.Second:
			if err := s.SetPods([]string{"p2"}); err != nil {
				t.Fatal(err)
			}
		}
		for _, pod := range []string{"p1", "p2"} {
			b, err := s.Metrics(pod)
			if err != nil {
				continue // not started, or exited
			}
			e, err := parseExposition(string(b))
			if err != nil {
				t.Fatalf("%s at %v: %v", pod, now, err)
			}
			scrapes++
			prev := last[pod]
			for key, v := range e.samples {
				name := key[:strings.IndexByte(key, '{')]
				types[name] = e.types[name]
				if old, ok := prev[key]; ok && e.types[name] == TypeCounter && v < old {
					t.Errorf("%s at %v: %s went from %v to %v", pod, now, key, old, v)
				}
			}
			last[pod] = e.samples
		}
	}
	if scrapes < 30 {
		t.Errorf("only %d scrapes", scrapes)
	}
	grew := func(pod, family, model string, reason ...string) {
		total := 0.0
		for key, v := range last[pod] {
			if strings.HasPrefix(key, family+"{") && strings.Contains(key, `model="`+model+`"`) &&
				(len(reason) == 0 || strings.Contains(key, `reason="`+reason[0]+`"`)) {
				total += v
			}
		}
		if total == 0 {
			t.Errorf("%s: %s for %s %v never moved", pod, family, model, reason)
		}
	}
	for _, f := range tritonFamilies[:len(tritonFamilies)-1] {
		for _, model := range []string{"gpu_model", "cpu_model", "ens"} {
			if f.name != "nv_inference_request_failure" && (model != "ens" || f.name != "nv_inference_queue_duration_us") {
				grew("p2", f.name, model)
			}
		}
	}
	grew("p2", "nv_inference_request_failure", "gpu_model", ReasonRejected)
	grew("p2", "nv_inference_request_failure", "ens", ReasonOther)
	if n := s.Summary("cpu_model", 0, 120*time.Second).Outcomes[OutcomeRejected]; n == 0 {
		t.Error("no request met a full queue")
	}
}

func TestHandlers(t *testing.T) {
	s := newSim(t, mixedConfig(), "p1")
	runTo(t, s, time.Second)
	all := httptest.NewServer(s.Handler())
	defer all.Close()
	one := httptest.NewServer(s.PodHandler("p1"))
	defer one.Close()
	gone := httptest.NewServer(s.PodHandler("p9"))
	defer gone.Close()
	for _, tc := range []struct {
		name, method, url string
		status            int
		body              string
	}{
		{"query names the pod", http.MethodGet, all.URL + "/metrics?pod=p1", http.StatusOK, "# HELP nv_inference_request_success "},
		{"per-pod handler", http.MethodGet, one.URL + "/metrics", http.StatusOK, "# TYPE nv_inference_pending_request_count gauge"},
		{"HEAD has no body", http.MethodHead, one.URL + "/metrics", http.StatusOK, ""},
		{"no pod parameter", http.MethodGet, all.URL + "/metrics", http.StatusBadRequest, "query parameter pod is required"},
		{"unknown pod", http.MethodGet, all.URL + "/metrics?pod=p9", http.StatusNotFound, `pod "p9" is not running`},
		{"handler of a pod not running", http.MethodGet, gone.URL + "/metrics", http.StatusNotFound, `pod "p9" is not running`},
		{"POST", http.MethodPost, one.URL + "/metrics", http.StatusMethodNotAllowed, "use GET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) || (tc.body == "" && len(b) != 0) {
				t.Fatalf("%d %q, want %d containing %q", resp.StatusCode, b, tc.status, tc.body)
			}
			if tc.status == http.StatusOK {
				if ct := resp.Header.Get("Content-Type"); ct != ContentType {
					t.Errorf("Content-Type %q", ct)
				}
				if tc.method == http.MethodGet {
					if _, err := parseExposition(string(b)); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
}
