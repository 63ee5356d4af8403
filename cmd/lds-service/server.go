package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Routes: the metric's route label takes only these values (bounded cardinality).
const (
	routeRecognize = "/v1/recognize"
	routeHealth    = "/healthz"
	routeReady     = "/readyz"
	routeMetrics   = "/metrics"
	routeOther     = "other"
)

type server struct {
	cfg     Config
	log     *slog.Logger
	triton  *tritonClient
	metrics *metrics
	budget  *retryBudget
	slots   chan struct{}
	// draining is set on SIGTERM: /readyz fails so traffic moves away.
	draining atomic.Bool
	// sleep waits between retries; tests replace it.
	sleep func(context.Context, time.Duration) error
}

func newServer(cfg Config, log *slog.Logger) *server {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = cfg.MaxConcurrent
	transport.ResponseHeaderTimeout = cfg.AttemptTimeout
	return &server{
		cfg: cfg,
		log: log,
		triton: &tritonClient{
			base: cfg.TritonURL, model: cfg.Model, version: cfg.ModelVersion, input: cfg.Input,
			http:     &http.Client{Transport: transport},
			now:      time.Now,
			readyTTL: cfg.ReadyCache,
		},
		metrics: newMetrics(),
		budget:  newRetryBudget(cfg.RetryRatio),
		slots:   make(chan struct{}, cfg.MaxConcurrent),
		sleep:   sleepCtx,
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+routeRecognize, s.recognize)
	mux.HandleFunc("GET "+routeHealth, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	// Ready means this process takes requests, not that Triton is ready:
	// while Triton scales from zero the service stays in the load balancer
	// and answers 503 with Retry-After, a clear and retryable answer,
	// instead of the ALB's bare 502/503 for a target group with no targets.
	mux.HandleFunc("GET "+routeReady, func(w http.ResponseWriter, _ *http.Request) {
		if s.draining.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("GET "+routeMetrics, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.metrics.write(w)
	})
	return s.instrument(mux)
}

// statusWriter records the status code for metrics and logs.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func routeOf(path string) string {
	switch path {
	case routeRecognize, routeHealth, routeReady, routeMetrics:
		return path
	}
	return routeOther
}

func (s *server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		route := routeOf(r.URL.Path)
		elapsed := time.Since(start)
		s.metrics.observe(route, sw.code, elapsed)
		if route == routeRecognize || sw.code >= 500 {
			s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method), slog.String("route", route), slog.Int("code", sw.code),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
				slog.String("request_id", w.Header().Get("X-Request-Id")))
		}
	})
}

// apiError is the JSON error body: the field at fault (a form or JSON field,
// a header, or "triton") and what to do.
type apiError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Reason  string `json:"reason,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *server) fail(w http.ResponseWriter, code int, e apiError) {
	if code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests || code == http.StatusGatewayTimeout {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(s.cfg.RetryAfter.Seconds()))))
	}
	writeJSON(w, code, map[string]apiError{"error": e})
}

func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 128 {
		return id
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recognizeResponse is the 200 answer.
type recognizeResponse struct {
	RequestID    string   `json:"requestId"`
	Model        string   `json:"model"`
	ModelVersion string   `json:"modelVersion"`
	Outputs      []tensor `json:"outputs"`
}

func (s *server) recognize(w http.ResponseWriter, r *http.Request) {
	id := requestID(r)
	w.Header().Set("X-Request-Id", id)
	// Offered load, counted before anything can turn the request away: a
	// request this service refuses (429 below) still asks for Triton, and
	// under a load step those are what a signal counted later would miss.
	s.metrics.call()
	// Admission first, so at most MaxConcurrent bodies are read and held.
	if !s.admit(r.Context()) {
		s.fail(w, http.StatusTooManyRequests, apiError{Field: "request", Reason: "overloaded",
			Message: fmt.Sprintf("the service is at its limit of %d concurrent requests; retry after the Retry-After delay", s.cfg.MaxConcurrent)})
		return
	}
	defer func() { <-s.slots }()
	s.metrics.inflight.Add(1)
	defer s.metrics.inflight.Add(-1)

	image, ierr := readImage(w, r, s.cfg.MaxImageBytes)
	if ierr != nil {
		s.fail(w, ierr.code, apiError{Field: ierr.field, Message: ierr.message})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	out, err := s.callTriton(ctx, image)
	if err != nil {
		var ce *callError
		if !errors.As(err, &ce) {
			// The client went away; nobody reads the answer.
			s.fail(w, http.StatusServiceUnavailable, apiError{Field: "request", Message: "request canceled"})
			return
		}
		code, msg := http.StatusBadGateway, "Triton failed: "+ce.detail
		switch ce.reason {
		case reasonUnreachable:
			code, msg = http.StatusServiceUnavailable, "Triton has no ready replica (it may be scaling up); retry after the Retry-After delay"
		case reasonModelNotReady:
			code, msg = http.StatusServiceUnavailable, fmt.Sprintf("model %q is not ready on Triton (loading, or scaling up); retry after the Retry-After delay", s.cfg.Model)
		case reasonTimeout:
			code, msg = http.StatusGatewayTimeout, fmt.Sprintf("Triton did not answer in time (TRITON_TIMEOUT %s, REQUEST_TIMEOUT %s); retry later", s.cfg.AttemptTimeout, s.cfg.RequestTimeout)
		}
		s.fail(w, code, apiError{Field: "triton", Reason: ce.reason, Message: msg})
		return
	}
	writeJSON(w, http.StatusOK, recognizeResponse{RequestID: id, Model: out.ModelName, ModelVersion: out.ModelVersion, Outputs: out.Outputs})
}

// admit takes a concurrency slot, waiting at most AdmissionWait.
func (s *server) admit(ctx context.Context) bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	if s.cfg.AdmissionWait <= 0 {
		return false
	}
	t := time.NewTimer(s.cfg.AdmissionWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// callTriton runs the model with per-attempt timeouts and retries drawn
// from the service's retry budget. A model that is known not ready fails
// fast, without a call.
func (s *server) callTriton(ctx context.Context, image []byte) (*inferResponse, error) {
	t := s.triton
	if t.cachedNotReady() {
		s.metrics.tritonError(reasonModelNotReady)
		return nil, &callError{reason: reasonModelNotReady, detail: "cached"}
	}
	s.budget.deposit()
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, s.cfg.AttemptTimeout)
		out, err := t.infer(actx, image)
		cancel()
		if err == nil {
			t.setReady(true)
			return out, nil
		}
		var ce *callError
		if !errors.As(err, &ce) {
			return nil, err
		}
		if ce.reason == reasonServerError || ce.reason == reasonRejected {
			// Triton answered: is the model loaded at all?
			pctx, cancel := context.WithTimeout(ctx, s.cfg.AttemptTimeout)
			ready, perr := t.modelReady(pctx)
			cancel()
			if perr == nil && !ready {
				ce = &callError{reason: reasonModelNotReady, detail: ce.detail}
			}
		}
		if ce.reason == reasonModelNotReady || ce.reason == reasonUnreachable {
			t.setReady(false)
		}
		s.metrics.tritonError(ce.reason)
		s.log.LogAttrs(ctx, slog.LevelWarn, "triton call failed",
			slog.String("reason", ce.reason), slog.Int("attempt", attempt+1), slog.String("detail", ce.detail))
		// Retry only what may succeed soon, within the per-request limit,
		// the service-wide budget and the time left.
		if !ce.retryable || attempt >= s.cfg.MaxRetries || ctx.Err() != nil || !s.budget.withdraw() {
			return nil, ce
		}
		if err := s.sleep(ctx, backoff(attempt)); err != nil {
			return nil, ce
		}
		s.metrics.retry()
	}
}

// backoff before retry n (0-based): 50ms, 100ms, 200ms, ...
func backoff(n int) time.Duration { return 50 * time.Millisecond << n }

// retryBudget caps retries at a ratio of requests across the service
// (a token bucket fed by requests), so a failing Triton sees at most
// 1+ratio times the offered load, not 1+MaxRetries times.
type retryBudget struct {
	mu            sync.Mutex
	tokens, ratio float64
}

const retryBudgetMax = 10

func newRetryBudget(ratio float64) *retryBudget {
	b := &retryBudget{ratio: ratio}
	if ratio > 0 {
		b.tokens = retryBudgetMax
	}
	return b
}

func (b *retryBudget) deposit() {
	b.mu.Lock()
	b.tokens = math.Min(retryBudgetMax, b.tokens+b.ratio)
	b.mu.Unlock()
}

func (b *retryBudget) withdraw() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// serve runs the HTTP server on ln until ctx is done (SIGTERM), then fails
// /readyz for ShutdownDelay and drains requests for at most ShutdownTimeout.
func serve(ctx context.Context, ln net.Listener, cfg Config, log *slog.Logger) error {
	return newServer(cfg, log).serve(ctx, ln)
}

func (s *server) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// A slow client cannot hold a slot forever: the body must arrive in time.
		ReadTimeout:  s.cfg.RequestTimeout,
		WriteTimeout: s.cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:  90 * time.Second,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("serving", "addr", ln.Addr().String(), "triton", s.cfg.TritonURL.String(), "model", s.cfg.Model)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "delay", s.cfg.ShutdownDelay.String(), "timeout", s.cfg.ShutdownTimeout.String())
	s.draining.Store(true)
	if s.cfg.ShutdownDelay > 0 {
		time.Sleep(s.cfg.ShutdownDelay)
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("draining requests: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	s.log.Info("stopped")
	return nil
}
