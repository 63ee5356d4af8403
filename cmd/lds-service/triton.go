package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// tritonClient calls Triton's KServe v2 HTTP API
// (https://github.com/kserve/open-inference-protocol, "HTTP/REST").
type tritonClient struct {
	base    *url.URL
	model   string
	version string
	input   string
	http    *http.Client
	now     func() time.Time

	// readiness: a "not ready" answer is trusted for readyTTL, so a
	// scaled-to-zero Triton is not asked again by every request.
	mu        sync.Mutex
	notReady  bool
	checkedAt time.Time
	readyTTL  time.Duration
}

// tensor is a KServe v2 output tensor in JSON.
type tensor struct {
	Name     string          `json:"name"`
	Datatype string          `json:"datatype"`
	Shape    []int64         `json:"shape"`
	Data     json.RawMessage `json:"data"`
}

type inferResponse struct {
	ModelName    string   `json:"model_name"`
	ModelVersion string   `json:"model_version"`
	Outputs      []tensor `json:"outputs"`
}

// callError is a failed call to Triton, classified for metrics, retries
// and the client's answer.
type callError struct {
	reason    string
	retryable bool
	detail    string
}

func (e *callError) Error() string { return e.reason + ": " + e.detail }

func (c *tritonClient) modelPath(suffix string) string {
	p := "/v2/models/" + url.PathEscape(c.model)
	if c.version != "" {
		p += "/versions/" + url.PathEscape(c.version)
	}
	return c.base.JoinPath(p + suffix).String()
}

// cachedNotReady reports whether Triton said "not ready" less than readyTTL ago.
func (c *tritonClient) cachedNotReady() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.notReady && c.now().Sub(c.checkedAt) < c.readyTTL
}

func (c *tritonClient) setReady(ready bool) {
	c.mu.Lock()
	c.notReady, c.checkedAt = !ready, c.now()
	c.mu.Unlock()
}

// modelReady asks /v2/models/{m}[/versions/{v}]/ready: 200 ready, anything else not.
func (c *tritonClient) modelReady(ctx context.Context) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.modelPath("/ready"), nil)
	if err != nil {
		return false, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// infer runs the model once on image, sent as a UINT8 tensor through the
// binary tensor data extension (Triton docs/protocol/extension_binary_data.md):
// the JSON header, then the raw bytes, with Inference-Header-Content-Length
// giving the header's length. No outputs are named, so Triton returns every
// output as JSON.
func (c *tritonClient) infer(ctx context.Context, image []byte) (*inferResponse, error) {
	header, _ := json.Marshal(map[string]any{
		"inputs": []map[string]any{{
			"name":       c.input,
			"datatype":   "UINT8",
			"shape":      []int{len(image)},
			"parameters": map[string]any{"binary_data_size": len(image)},
		}},
	})
	body := io.MultiReader(bytes.NewReader(header), bytes.NewReader(image))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.modelPath("/infer"), body)
	if err != nil {
		return nil, &callError{reason: reasonBadResponse, detail: err.Error()}
	}
	req.ContentLength = int64(len(header) + len(image))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(len(header)))
	resp, err := c.http.Do(req)
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return nil, &callError{reason: reasonTimeout, retryable: true, detail: err.Error()}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err() // the client went away
		}
		return nil, &callError{reason: reasonUnreachable, retryable: true, detail: err.Error()}
	}
	defer resp.Body.Close()
	// Bounded: Triton's answer is JSON outputs, not an echo of the image.
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, &callError{reason: reasonTimeout, retryable: true, detail: err.Error()}
		}
		return nil, &callError{reason: reasonUnreachable, retryable: true, detail: err.Error()}
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		detail := fmt.Sprintf("HTTP %d: %s", resp.StatusCode, e.Error)
		switch {
		case resp.StatusCode >= 500:
			return nil, &callError{reason: reasonServerError, retryable: true, detail: detail}
		default:
			return nil, &callError{reason: reasonRejected, detail: detail}
		}
	}
	if n := resp.Header.Get("Inference-Header-Content-Length"); n != "" {
		if l, err := strconv.Atoi(n); err == nil && l >= 0 && l <= len(raw) {
			raw = raw[:l] // binary outputs follow the header; none were asked for
		}
	}
	var out inferResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, &callError{reason: reasonBadResponse, detail: "decoding Triton's answer: " + err.Error()}
	}
	return &out, nil
}
