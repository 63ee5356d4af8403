package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The service's own Prometheus metrics, written in the text exposition
// format (https://prometheus.io/docs/instrumenting/exposition_formats/) by
// hand: three families do not justify client_golang in the root module.

// latencyBuckets are the upper bounds (seconds) of the request latency histogram.
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Triton error reasons: the label values of lds_triton_errors_total.
const (
	reasonUnreachable   = "unreachable"     // no connection (no ready replica behind the Service, DNS, refused)
	reasonModelNotReady = "model_not_ready" // Triton answers but the model is not loaded
	reasonTimeout       = "timeout"         // an attempt exceeded TRITON_TIMEOUT
	reasonServerError   = "server_error"    // Triton answered 5xx
	reasonRejected      = "rejected"        // Triton answered 4xx to a request this service validated
	reasonBadResponse   = "bad_response"    // Triton's answer could not be decoded
)

type histogram struct {
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	count  uint64
}

type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]*histogram // route, code
	errors   map[string]uint64        // reason
	calls    uint64
	retries  uint64
	inflight atomic.Int64
}

func newMetrics() *metrics {
	m := &metrics{requests: map[[2]string]*histogram{}, errors: map[string]uint64{}}
	// Every reason is exported from the start, so rate() sees the first error.
	for _, r := range []string{reasonUnreachable, reasonModelNotReady, reasonTimeout, reasonServerError, reasonRejected, reasonBadResponse} {
		m.errors[r] = 0
	}
	return m
}

func (m *metrics) observe(route string, code int, d time.Duration) {
	key := [2]string{route, strconv.Itoa(code)}
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.requests[key]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets)+1)}
		m.requests[key] = h
	}
	s := d.Seconds()
	h.counts[sort.SearchFloat64s(latencyBuckets, s)]++
	h.sum += s
	h.count++
}

func (m *metrics) tritonError(reason string) {
	m.mu.Lock()
	m.errors[reason]++
	m.mu.Unlock()
}

// call counts an inference request as it arrives, before admission: the
// load offered to Triton, whether it is then served, refused (429, 503) or
// failed. A malformed one (400) counts too: it cannot be told apart before
// its body is read, and it is rare.
func (m *metrics) call() {
	m.mu.Lock()
	m.calls++
	m.mu.Unlock()
}

func (m *metrics) retry() {
	m.mu.Lock()
	m.retries++
	m.mu.Unlock()
}

// write renders every family in the text exposition format, sorted so the
// output is stable.
func (m *metrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	b.WriteString("# HELP lds_http_request_duration_seconds Latency of HTTP requests by route and status code.\n")
	b.WriteString("# TYPE lds_http_request_duration_seconds histogram\n")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		h := m.requests[k]
		labels := fmt.Sprintf(`route=%q,code=%q`, k[0], k[1])
		var cum uint64
		for i, c := range h.counts {
			cum += c
			le := "+Inf"
			if i < len(latencyBuckets) {
				le = strconv.FormatFloat(latencyBuckets[i], 'g', -1, 64)
			}
			fmt.Fprintf(&b, "lds_http_request_duration_seconds_bucket{%s,le=%q} %d\n", labels, le, cum)
		}
		fmt.Fprintf(&b, "lds_http_request_duration_seconds_sum{%s} %s\n", labels, formatFloat(h.sum))
		fmt.Fprintf(&b, "lds_http_request_duration_seconds_count{%s} %d\n", labels, h.count)
	}
	b.WriteString("# HELP lds_triton_errors_total Failed calls to Triton by reason.\n")
	b.WriteString("# TYPE lds_triton_errors_total counter\n")
	reasons := make([]string, 0, len(m.errors))
	for r := range m.errors {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(&b, "lds_triton_errors_total{reason=%q} %d\n", r, m.errors[r])
	}
	// The load offered to Triton (signals.LDSTritonCalls): Triton's own
	// counters miss what its full queue refuses (max_queue_size), and
	// they count completions, not arrivals.
	b.WriteString("# HELP lds_triton_calls_total Inference requests, counted as they arrive, before admission (each asks for one Triton call; this service's retries are lds_triton_retries_total).\n")
	b.WriteString("# TYPE lds_triton_calls_total counter\n")
	fmt.Fprintf(&b, "lds_triton_calls_total %d\n", m.calls)
	b.WriteString("# HELP lds_triton_retries_total Calls to Triton that were retries.\n")
	b.WriteString("# TYPE lds_triton_retries_total counter\n")
	fmt.Fprintf(&b, "lds_triton_retries_total %d\n", m.retries)
	b.WriteString("# HELP lds_inflight_requests Requests being served.\n")
	b.WriteString("# TYPE lds_inflight_requests gauge\n")
	fmt.Fprintf(&b, "lds_inflight_requests %d\n", m.inflight.Load())
	io.WriteString(w, b.String())
}

func formatFloat(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
