// Package apijson holds the JSON helpers the harness's API stand-ins share
// (metricsapi's metrics.k8s.io, kedastandin's external.metrics.k8s.io):
// answers, API errors and strict decoding of program objects.
package apijson

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// Write answers v as JSON.
func Write(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// WriteStatus writes a metav1.Status, which clients turn into API errors.
func WriteStatus(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": msg, "reason": reason, "code": code,
	})
}

// DecodeStrict re-decodes a JSON-shaped value into a typed one, rejecting
// unknown keys.
func DecodeStrict(in, out any) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(out)
}
