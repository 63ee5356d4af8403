package main

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/aiplatform/infra/workloads/observability/signals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A full Triton queue (max_queue_size) answers 503 "Exceeds maximum queue
// size" (core src/scheduler_utils.cc PolicyQueue::Enqueue returns
// UNAVAILABLE, which server src/http_server.cc answers with 503) and Triton
// counts it in none of its metrics. The service counts it where the
// platform's PodMonitor scrapes (signals.LDSMetricsPath) under the name and
// reason the InferenceCallsFailing alert selects; the reasons of a call that
// finds no ready Triton (the TritonUnavailable alert's) are exported too.
func TestFullTritonQueueIsCountedWhereTheAlertLooks(t *testing.T) {
	require.Equal(t, routeMetrics, signals.LDSMetricsPath, "the PodMonitor scrapes the service's metrics route")
	triton := newFakeTriton(t, "id_card")
	triton.inferStatus.Store(http.StatusServiceUnavailable)
	svc := newTestService(t, triton.URL, map[string]string{"TRITON_MAX_RETRIES": "0"})
	ct, b := jsonBody(pngImage)
	a := post(t, svc.url, ct, b)
	assert.Equal(t, http.StatusBadGateway, a.code)
	assert.Equal(t, reasonServerError, a.errReason)

	m := scrape(t, svc.url)
	assert.Contains(t, m, fmt.Sprintf("# TYPE %s counter", signals.LDSTritonErrors))
	assert.Contains(t, m, fmt.Sprintf(`%s{reason=%q} 1`, signals.LDSTritonErrors, reasonServerError))
	assert.Contains(t, signals.LDSTritonCapacityReasons, reasonServerError, "the capacity alert selects the full queue's reason")
	assert.ElementsMatch(t, []string{reasonUnreachable, reasonModelNotReady}, signals.LDSTritonUnavailableReasons, "the reasons of a call that finds no ready Triton")
	for _, r := range signals.LDSTritonCallFailureReasons {
		assert.Contains(t, m, fmt.Sprintf(`%s{reason=%q} `, signals.LDSTritonErrors, r), "the alert selects a reason the service exports")
	}
	// The offered load Triton scales on (triton.autoscaling.callsPerPod)
	// counts this refused call too: Triton's own counters do not.
	assert.Contains(t, m, fmt.Sprintf("# TYPE %s counter\n%s 1\n", signals.LDSTritonCalls, signals.LDSTritonCalls))
}
