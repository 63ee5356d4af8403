package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeTriton implements the KServe v2 endpoints the service calls:
// /v2/health/ready, /v2/models/{m}/ready and /v2/models/{m}/infer (with the
// binary tensor data extension, Triton docs/protocol/extension_binary_data.md).
type fakeTriton struct {
	*httptest.Server
	model string
	// ready: the model is loaded.
	ready atomic.Bool
	// inferStatus, when not 0 or 200, is what infer answers.
	inferStatus atomic.Int32
	// latency is added to every infer (the benchmark's fixed model time).
	latency time.Duration
	// hold, when set, blocks infer until it is closed or the caller gives up;
	// entered receives one value per infer that started.
	hold    chan struct{}
	entered chan struct{}

	infers atomic.Int64
	mu     sync.Mutex
	last   []byte // the image bytes of the last infer
	t      testing.TB
}

func newFakeTriton(t testing.TB, model string) *fakeTriton {
	f := &fakeTriton{model: model, t: t, entered: make(chan struct{}, 1024)}
	f.ready.Store(true)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health/ready", func(w http.ResponseWriter, r *http.Request) {
		if !f.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
	})
	mux.HandleFunc("GET /v2/models/{m}/ready", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("m") != f.model || !f.ready.Load() {
			// Triton answers 400 for a model that is not ready (src/http_server.cc, HandleModelReady).
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	mux.HandleFunc("POST /v2/models/{m}/infer", f.infer)
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeTriton) infer(w http.ResponseWriter, r *http.Request) {
	f.infers.Add(1)
	// Read the body first: the server notices a client that went away (and
	// cancels r.Context()) only once the body is consumed.
	body, _ := io.ReadAll(r.Body)
	select {
	case f.entered <- struct{}{}:
	default:
	}
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-r.Context().Done():
			return
		}
	}
	if f.latency > 0 {
		time.Sleep(f.latency)
	}
	tritonError := func(code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
	}
	if r.PathValue("m") != f.model || !f.ready.Load() {
		tritonError(http.StatusBadRequest, "Request for unknown model: '"+r.PathValue("m")+"' has no available versions")
		return
	}
	if s := f.inferStatus.Load(); s != 0 && s != 200 {
		tritonError(int(s), "injected failure")
		return
	}
	n, err := strconv.Atoi(r.Header.Get("Inference-Header-Content-Length"))
	if err != nil || n > len(body) {
		tritonError(http.StatusBadRequest, "missing Inference-Header-Content-Length")
		return
	}
	var req struct {
		Inputs []struct {
			Name       string         `json:"name"`
			Datatype   string         `json:"datatype"`
			Shape      []int          `json:"shape"`
			Parameters map[string]int `json:"parameters"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal(body[:n], &req); err != nil || len(req.Inputs) != 1 {
		tritonError(http.StatusBadRequest, "bad inference header")
		return
	}
	in := req.Inputs[0]
	data := body[n:]
	if in.Name != "IMAGE" || in.Datatype != "UINT8" || len(in.Shape) != 1 || in.Shape[0] != len(data) || in.Parameters["binary_data_size"] != len(data) {
		tritonError(http.StatusBadRequest, "input does not match the model's IMAGE UINT8 [-1]")
		return
	}
	f.mu.Lock()
	f.last = bytes.Clone(data)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"model_name":    f.model,
		"model_version": "1",
		"outputs": []map[string]any{
			{"name": "BOXES", "datatype": "FP32", "shape": []int{1, 4}, "data": []float64{0, 0, 1, 1}},
			{"name": "TEXT", "datatype": "BYTES", "shape": []int{1}, "data": []string{"bytes=" + strconv.Itoa(len(data))}},
		},
	})
}

func (f *fakeTriton) lastImage() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}
