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

// APIResource is one entry of an APIResourceList: a resource an aggregated
// API serves.
type APIResource struct {
	Name, Kind string
	Namespaced bool
	Verbs      []string
}

// ServeDiscovery answers the discovery documents of an aggregated API that
// serves one group at one version, as kube-apiserver's aggregator asks for
// them: /apis (APIGroupList), /apis/<group> (APIGroup) and
// /apis/<group>/<version> (APIResourceList). It reports whether path was
// one of them (and so answered).
func ServeDiscovery(w http.ResponseWriter, path, group, version string, resources []APIResource) bool {
	groupVersion := group + "/" + version
	v := map[string]any{"groupVersion": groupVersion, "version": version}
	apiGroup := map[string]any{"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": []any{v}, "preferredVersion": v}
	switch path {
	case "/apis":
		Write(w, map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": []any{apiGroup}})
	case "/apis/" + group:
		Write(w, apiGroup)
	case "/apis/" + groupVersion:
		list := make([]map[string]any, 0, len(resources))
		for _, r := range resources {
			list = append(list, map[string]any{"name": r.Name, "singularName": "", "namespaced": r.Namespaced, "kind": r.Kind, "verbs": r.Verbs})
		}
		Write(w, map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": groupVersion, "resources": list})
	default:
		return false
	}
	return true
}
