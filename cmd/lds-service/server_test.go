package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pngImage is a PNG signature plus padding: enough for content sniffing.
var pngImage = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 2048)...)

// testConfig is the defaults with the given environment on top.
func testConfig(t testing.TB, tritonURL string, env map[string]string) Config {
	t.Helper()
	all := map[string]string{"TRITON_URL": tritonURL, "SHUTDOWN_DELAY": "0s"}
	for k, v := range env {
		all[k] = v
	}
	cfg, err := loadConfig(func(k string) string { return all[k] })
	require.NoError(t, err)
	return cfg
}

type testService struct {
	*server
	url string
}

func newTestService(t testing.TB, tritonURL string, env map[string]string) *testService {
	t.Helper()
	s := newServer(testConfig(t, tritonURL, env), slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() } // no real backoff in tests
	hs := httptest.NewServer(s.handler())
	t.Cleanup(hs.Close)
	return &testService{server: s, url: hs.URL}
}

func multipartBody(t testing.TB, field string, data []byte) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile(field, "card.png")
	require.NoError(t, err)
	_, err = fw.Write(data)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	return mw.FormDataContentType(), &buf
}

func jsonBody(image []byte) (string, *bytes.Buffer) {
	b, _ := json.Marshal(map[string]string{"image": base64.StdEncoding.EncodeToString(image)})
	return "application/json", bytes.NewBuffer(b)
}

type answer struct {
	code       int
	retryAfter string
	body       map[string]any
	errField   string
	errReason  string
}

func post(t testing.TB, url, contentType string, body io.Reader) answer {
	t.Helper()
	resp, err := http.Post(url+routeRecognize, contentType, body)
	require.NoError(t, err)
	defer resp.Body.Close()
	a := answer{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a.body))
	if e, ok := a.body["error"].(map[string]any); ok {
		a.errField, _ = e["field"].(string)
		a.errReason, _ = e["reason"].(string)
	}
	return a
}

func TestRecognizeSucceedsWithMultipartAndJSON(t *testing.T) {
	triton := newFakeTriton(t, "id_card")
	svc := newTestService(t, triton.URL, nil)
	for name, body := range map[string]func() (string, *bytes.Buffer){
		"multipart": func() (string, *bytes.Buffer) { return multipartBody(t, "image", pngImage) },
		"json":      func() (string, *bytes.Buffer) { return jsonBody(pngImage) },
	} {
		t.Run(name, func(t *testing.T) {
			ct, b := body()
			a := post(t, svc.url, ct, b)
			require.Equal(t, http.StatusOK, a.code, a.body)
			assert.Equal(t, "id_card", a.body["model"])
			assert.Len(t, a.body["outputs"], 2)
			assert.Equal(t, pngImage, triton.lastImage(), "Triton receives the image bytes unchanged")
		})
	}
}

func TestModelNotReadyAnswers503WithRetryAfterAndStopsCalling(t *testing.T) {
	triton := newFakeTriton(t, "id_card")
	triton.ready.Store(false)
	svc := newTestService(t, triton.URL, map[string]string{"RETRY_AFTER": "7s", "READY_CACHE": "1m"})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	svc.triton.now = func() time.Time { return now }

	ct, b := multipartBody(t, "image", pngImage)
	a := post(t, svc.url, ct, b)
	assert.Equal(t, http.StatusServiceUnavailable, a.code)
	assert.Equal(t, "7", a.retryAfter)
	assert.Equal(t, reasonModelNotReady, a.errReason)
	assert.EqualValues(t, 1, triton.infers.Load(), "not ready is not retried")

	// Within READY_CACHE the answer comes without asking Triton.
	ct, b = multipartBody(t, "image", pngImage)
	a = post(t, svc.url, ct, b)
	assert.Equal(t, http.StatusServiceUnavailable, a.code)
	assert.EqualValues(t, 1, triton.infers.Load())
	// Still offered load: the request needed Triton (signals.LDSTritonCalls).
	assert.Contains(t, scrape(t, svc.url), "\nlds_triton_calls_total 2\n")

	// After it, Triton is asked again; it has loaded the model meanwhile.
	triton.ready.Store(true)
	now = now.Add(2 * time.Minute)
	ct, b = multipartBody(t, "image", pngImage)
	a = post(t, svc.url, ct, b)
	assert.Equal(t, http.StatusOK, a.code, a.body)
}

func TestTritonDownAnswers503WithRetryAfter(t *testing.T) {
	// A listener that is closed: connection refused, as for a Service with
	// no ready endpoint (kube-proxy rejects).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	svc := newTestService(t, "http://"+addr, map[string]string{"TRITON_MAX_RETRIES": "2"})
	ct, b := jsonBody(pngImage)
	a := post(t, svc.url, ct, b)
	assert.Equal(t, http.StatusServiceUnavailable, a.code)
	assert.Equal(t, "5", a.retryAfter)
	assert.Equal(t, "triton", a.errField)
	assert.Equal(t, reasonUnreachable, a.errReason)
	metrics := scrape(t, svc.url)
	assert.Contains(t, metrics, `lds_triton_errors_total{reason="unreachable"} 3`, "one try and two retries")
	assert.Contains(t, metrics, `lds_triton_retries_total 2`)
	// The offered load: one request, however many attempts it took.
	assert.Contains(t, metrics, "\nlds_triton_calls_total 1\n")
}

func TestSlowTritonTimesOutWithinTheBudget(t *testing.T) {
	triton := newFakeTriton(t, "id_card")
	triton.hold = make(chan struct{}) // never released: Triton never answers
	svc := newTestService(t, triton.URL, map[string]string{
		"TRITON_TIMEOUT": "50ms", "REQUEST_TIMEOUT": "1s", "TRITON_MAX_RETRIES": "1",
	})
	start := time.Now()
	ct, b := jsonBody(pngImage)
	a := post(t, svc.url, ct, b)
	assert.Equal(t, http.StatusGatewayTimeout, a.code)
	assert.Equal(t, reasonTimeout, a.errReason)
	assert.NotEmpty(t, a.retryAfter)
	assert.EqualValues(t, 2, triton.infers.Load(), "one try and one retry")
	assert.Less(t, time.Since(start), time.Second, "two 50ms attempts, never the client's patience")
}

func TestRetriesAreBoundedPerRequestAndByTheBudget(t *testing.T) {
	triton := newFakeTriton(t, "id_card")
	triton.inferStatus.Store(http.StatusInternalServerError)
	svc := newTestService(t, triton.URL, map[string]string{"TRITON_MAX_RETRIES": "3", "RETRY_BUDGET_RATIO": "0.1"})
	ct, b := jsonBody(pngImage)
	a := post(t, svc.url, ct, b)
	assert.Equal(t, http.StatusBadGateway, a.code)
	assert.Equal(t, reasonServerError, a.errReason)
	assert.EqualValues(t, 4, triton.infers.Load(), "one try and TRITON_MAX_RETRIES retries")

	// The budget (10 tokens, +0.1 per request) runs out: a failing Triton
	// then sees about one call per request, not four.
	for range 10 {
		ct, b := jsonBody(pngImage)
		post(t, svc.url, ct, b)
	}
	before := triton.infers.Load()
	for range 5 {
		ct, b := jsonBody(pngImage)
		post(t, svc.url, ct, b)
	}
	assert.LessOrEqual(t, triton.infers.Load()-before, int64(6), "five requests, at most one retry between them")
}

func TestBadInputGets4xxNamingTheField(t *testing.T) {
	triton := newFakeTriton(t, "id_card")
	svc := newTestService(t, triton.URL, map[string]string{"MAX_IMAGE_BYTES": "4096"})
	big := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1}, 5000)...)
	multi := func(field string, data []byte) (string, io.Reader) {
		ct, b := multipartBody(t, field, data)
		return ct, b
	}
	js := func(s string) (string, io.Reader) { return "application/json", strings.NewReader(s) }
	for _, tc := range []struct {
		name  string
		body  func() (string, io.Reader)
		code  int
		field string
	}{
		{"no content type", func() (string, io.Reader) { return "", strings.NewReader("x") }, 415, "Content-Type"},
		{"text body", func() (string, io.Reader) { return "text/plain", strings.NewReader("x") }, 415, "Content-Type"},
		{"multipart without boundary", func() (string, io.Reader) { return "multipart/form-data", strings.NewReader("x") }, 400, "Content-Type"},
		{"multipart garbage", func() (string, io.Reader) { return "multipart/form-data; boundary=zz", strings.NewReader("garbage") }, 400, "body"},
		{"multipart wrong field", func() (string, io.Reader) { return multi("picture", pngImage) }, 400, "picture"},
		{"multipart empty image", func() (string, io.Reader) { return multi("image", nil) }, 400, "image"},
		{"multipart not an image", func() (string, io.Reader) { return multi("image", []byte("%PDF-1.7 hello")) }, 415, "image"},
		{"multipart oversized", func() (string, io.Reader) { return multi("image", big) }, 413, "image"},
		{"json malformed", func() (string, io.Reader) { return js(`{"image":`) }, 400, "body"},
		{"json unknown field", func() (string, io.Reader) { return js(`{"img":"AAAA"}`) }, 400, "img"},
		{"json wrong type", func() (string, io.Reader) { return js(`{"image":42}`) }, 400, "image"},
		{"json missing image", func() (string, io.Reader) { return js(`{}`) }, 400, "image"},
		{"json bad base64", func() (string, io.Reader) { return js(`{"image":"@@@@"}`) }, 400, "image"},
		{"json oversized", func() (string, io.Reader) {
			ct, b := jsonBody(big)
			return ct, b
		}, 413, "image"},
		{"json oversized far beyond the limit", func() (string, io.Reader) {
			return js(`{"image":"` + strings.Repeat("A", 1<<20) + `"}`)
		}, 413, "image"},
		{"json two objects", func() (string, io.Reader) {
			return js(`{"image":"` + base64.StdEncoding.EncodeToString(pngImage) + `"} {}`)
		}, 400, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, b := tc.body()
			a := post(t, svc.url, ct, b)
			assert.Equal(t, tc.code, a.code, a.body)
			assert.Equal(t, tc.field, a.errField, a.body)
		})
	}
	assert.Zero(t, triton.infers.Load(), "bad input never reaches Triton")
	resp, err := http.Get(svc.url + routeRecognize)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestConcurrencyIsBoundedWith429(t *testing.T) {
	triton := newFakeTriton(t, "id_card")
	triton.hold = make(chan struct{})
	svc := newTestService(t, triton.URL, map[string]string{"MAX_CONCURRENT": "2", "ADMISSION_WAIT": "0s"})
	done := make(chan answer, 2)
	for range 2 {
		go func() {
			ct, b := jsonBody(pngImage)
			done <- post(t, svc.url, ct, b)
		}()
	}
	<-triton.entered
	<-triton.entered // both slots are taken, inside Triton
	ct, b := jsonBody(pngImage)
	a := post(t, svc.url, ct, b)
	assert.Equal(t, http.StatusTooManyRequests, a.code)
	assert.NotEmpty(t, a.retryAfter)
	close(triton.hold)
	for range 2 {
		assert.Equal(t, http.StatusOK, (<-done).code)
	}
	// The refused request is offered load too (signals.LDSTritonCalls):
	// counted before admission.
	assert.Contains(t, scrape(t, svc.url), "\nlds_triton_calls_total 3\n")
}

func TestHealthReadyAndDraining(t *testing.T) {
	svc := newTestService(t, "http://127.0.0.1:1", nil)
	get := func(path string) int {
		resp, err := http.Get(svc.url + path)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	// Ready does not depend on Triton (unreachable here): see handler().
	assert.Equal(t, 200, get(routeHealth))
	assert.Equal(t, 200, get(routeReady))
	svc.draining.Store(true)
	assert.Equal(t, 503, get(routeReady))
	assert.Equal(t, 200, get(routeHealth))
}

func scrape(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url + routeMetrics)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func TestMetricsExposeLatencyByRouteAndCode(t *testing.T) {
	triton := newFakeTriton(t, "id_card")
	svc := newTestService(t, triton.URL, nil)
	ct, b := jsonBody(pngImage)
	require.Equal(t, 200, post(t, svc.url, ct, b).code)
	post(t, svc.url, "text/plain", strings.NewReader("x"))
	m := scrape(t, svc.url)
	assert.Contains(t, m, "# TYPE lds_http_request_duration_seconds histogram")
	assert.Contains(t, m, `lds_http_request_duration_seconds_count{route="/v1/recognize",code="200"} 1`)
	assert.Contains(t, m, `lds_http_request_duration_seconds_count{route="/v1/recognize",code="415"} 1`)
	assert.Contains(t, m, `lds_http_request_duration_seconds_bucket{route="/v1/recognize",code="200",le="+Inf"} 1`)
	assert.Contains(t, m, `lds_triton_errors_total{reason="timeout"} 0`, "every reason is exported from the start")
}

func TestGracefulShutdownDrainsRequestsInFlight(t *testing.T) {
	triton := newFakeTriton(t, "id_card")
	triton.hold = make(chan struct{})
	s := newServer(testConfig(t, triton.URL, nil), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.serve(ctx, ln) }()

	inFlight := make(chan answer, 1)
	go func() {
		ct, b := jsonBody(pngImage)
		inFlight <- post(t, "http://"+ln.Addr().String(), ct, b)
	}()
	<-triton.entered
	stop() // SIGTERM
	require.Eventually(t, s.draining.Load, 5*time.Second, time.Millisecond)
	select {
	case err := <-served:
		t.Fatalf("serve returned %v before the request in flight finished", err)
	default:
	}
	close(triton.hold)
	assert.Equal(t, http.StatusOK, (<-inFlight).code, "the request in flight completes")
	assert.NoError(t, <-served)
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	env := map[string]string{
		"TRITON_URL": "triton:8000", "TRITON_TIMEOUT": "soon", "MAX_CONCURRENT": "0",
		"RETRY_BUDGET_RATIO": "2", "LOG_LEVEL": "loud", "TRITON_MODEL": "a/b",
	}
	_, err := loadConfig(func(k string) string { return env[k] })
	require.Error(t, err)
	for key := range env {
		assert.Contains(t, err.Error(), key+": ")
	}
	_, err = loadConfig(func(string) string { return "" })
	assert.ErrorContains(t, err, "TRITON_URL: required")
}

// docs/inference.md's settings table lists every variable with its default.
func TestDocsListEverySetting(t *testing.T) {
	doc, err := os.ReadFile("../../docs/inference.md")
	require.NoError(t, err)
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = "required"
			if s.key == "TRITON_MODEL_VERSION" {
				def = "Triton's policy"
			}
			assert.Contains(t, string(doc), "| `"+s.key+"` | "+def+" |", s.key)
			continue
		}
		assert.Contains(t, string(doc), "| `"+s.key+"` | `"+def+"` |", s.key)
	}
}
