package metricsapi

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Query reads Prometheus' /api/v1/query answers (docs/querying/api.md):
// vectors, scalars and errors.
func TestPrometheusQuery(t *testing.T) {
	var gotQuery, gotTime string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		gotQuery, gotTime = r.URL.Query().Get("query"), r.URL.Query().Get("time")
		switch gotQuery {
		case "up":
			w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[
				{"metric":{"__name__":"up","pod":"triton-0"},"value":[1767323045.25,"1"]},
				{"metric":{"pod":"triton-1"},"value":[1767323045.25,"NaN"]}]}}`))
		case "time()":
			w.Write([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1767323045.25,"+Inf"]}}`))
		case "up[1m]":
			w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
		default:
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"parse error: unexpected end of input"}`))
		}
	}))
	defer srv.Close()
	p := &Prometheus{URL: srv.URL, client: srv.Client()}
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 5, 250e6, time.UTC)

	samples, err := p.Query(ctx, "up", at)
	if err != nil {
		t.Fatal(err)
	}
	if gotTime != "1767323045.250" {
		t.Errorf("time parameter %q, want Unix seconds with milliseconds", gotTime)
	}
	if len(samples) != 2 || samples[0].Labels["pod"] != "triton-0" || samples[0].Value != 1 || !samples[0].Time.Equal(at) || !math.IsNaN(samples[1].Value) {
		t.Errorf("vector samples %+v", samples)
	}
	if _, err := p.Query(ctx, "up", time.Time{}); err != nil || gotTime != "" {
		t.Errorf("zero time: err %v, time parameter %q (want none: the server's now)", err, gotTime)
	}
	if s, err := p.Query(ctx, "time()", at); err != nil || len(s) != 1 || !math.IsInf(s[0].Value, 1) {
		t.Errorf("scalar: %+v, %v", s, err)
	}
	if _, err := p.Query(ctx, "up[1m]", at); err == nil || !strings.Contains(err.Error(), `result type "matrix"`) {
		t.Errorf("matrix: error %v, want one naming the result type", err)
	}
	if _, err := p.Query(ctx, "sum(", at); err == nil || !strings.Contains(err.Error(), "bad_data: parse error") {
		t.Errorf("bad query: error %v, want Prometheus' error type and message", err)
	}
}

// A binary that exits before it is ready fails the start with its output;
// a missing one names the tools script.
func TestStartPrometheusFailures(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fake-prometheus")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho \"error loading config: $1\" >&2\nexit 2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := StartPrometheus(context.Background(), bin, dir, []byte("{}"), t.Logf)
	if err == nil || !strings.Contains(err.Error(), "prometheus exited") || !strings.Contains(err.Error(), "error loading config: --config.file=") {
		t.Errorf("error = %v, want the exit and the process' output", err)
	}
	_, err = StartPrometheus(context.Background(), filepath.Join(dir, "absent"), dir, []byte("{}"), t.Logf)
	if err == nil || !strings.Contains(err.Error(), "bash .ci/tools.sh") {
		t.Errorf("missing binary: error = %v, want one naming bash .ci/tools.sh", err)
	}
}

func TestPrometheusArgs(t *testing.T) {
	args, err := PrometheusArgs(20)
	if err != nil {
		t.Fatal(err)
	}
	want := "--query.lookback-delta=15s --scrape.discovery-reload-interval=250ms"
	if got := strings.Join(args, " "); got != want {
		t.Errorf("args %q, want %q (5m and 5s over 20)", got, want)
	}
	if _, err := PrometheusArgs(math.NaN()); err == nil {
		t.Error("NaN factor: no error")
	}
}
