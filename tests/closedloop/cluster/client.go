package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// StatusError is a non-2xx answer of the API server.
type StatusError struct {
	Method, Path string
	Code         int
	Status       string // e.g. "404 Not Found"
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %s: %s", e.Method, e.Path, e.Status, strings.TrimSpace(e.Body))
}

// IsNotFound reports whether err is (or wraps) a 404 StatusError.
func IsNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusNotFound
}

// Do sends one JSON request to the API server as the admin user. path is
// the API path with any query ("/api/v1/pods?labelSelector=app%3Dx"). body
// is nil, raw JSON ([]byte or json.RawMessage) or a value to marshal; a
// PATCH body is sent as a JSON merge patch. out, when not nil, receives the
// decoded response. A non-2xx answer is a *StatusError with status and body.
func (c *Cluster) Do(ctx context.Context, method, path string, body, out any) error {
	return c.do(ctx, method, path, "", body, out)
}

func (c *Cluster) do(ctx context.Context, method, path, contentType string, body, out any) error {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case json.RawMessage:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if r != nil {
		if contentType == "" {
			contentType = "application/json"
			if method == http.MethodPatch {
				contentType = "application/merge-patch+json"
			}
		}
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read response: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return &StatusError{Method: method, Path: path, Code: resp.StatusCode, Status: resp.Status, Body: string(data)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}

// Apply server-side applies obj (field manager "closedloop", conflicts
// forced) at the path its apiVersion, kind, metadata.namespace and
// metadata.name give. A namespaced kind without a namespace goes to
// "default", as kubectl does. Kinds: see resources.
func (c *Cluster) Apply(ctx context.Context, obj map[string]any) error {
	path, err := objectPath(obj)
	if err != nil {
		return err
	}
	// JSON is YAML, so the apply patch is the object marshalled as JSON.
	return c.do(ctx, http.MethodPatch, path+"?fieldManager=closedloop&force=true", "application/apply-patch+yaml", obj, nil)
}

// Delete deletes the object at path; a 404 is success.
func (c *Cluster) Delete(ctx context.Context, path string) error {
	if err := c.Do(ctx, http.MethodDelete, path, nil, nil); err != nil && !IsNotFound(err) {
		return err
	}
	return nil
}

type resource struct {
	name       string // plural, as in the URL
	namespaced bool
}

// resources maps API group and kind to their REST resource: the kinds the
// closed loop applies. Add a row for another kind.
var resources = map[string]map[string]resource{
	"": {
		"ConfigMap":      {"configmaps", true},
		"Endpoints":      {"endpoints", true},
		"Namespace":      {"namespaces", false},
		"Node":           {"nodes", false},
		"Pod":            {"pods", true},
		"Secret":         {"secrets", true},
		"Service":        {"services", true},
		"ServiceAccount": {"serviceaccounts", true},
	},
	"apps": {
		"DaemonSet":   {"daemonsets", true},
		"Deployment":  {"deployments", true},
		"ReplicaSet":  {"replicasets", true},
		"StatefulSet": {"statefulsets", true},
	},
	"autoscaling":            {"HorizontalPodAutoscaler": {"horizontalpodautoscalers", true}},
	"apiregistration.k8s.io": {"APIService": {"apiservices", false}},
	"apiextensions.k8s.io":   {"CustomResourceDefinition": {"customresourcedefinitions", false}},
	"coordination.k8s.io":    {"Lease": {"leases", true}},
	"discovery.k8s.io":       {"EndpointSlice": {"endpointslices", true}},
	"policy":                 {"PodDisruptionBudget": {"poddisruptionbudgets", true}},
	"rbac.authorization.k8s.io": {
		"ClusterRole":        {"clusterroles", false},
		"ClusterRoleBinding": {"clusterrolebindings", false},
		"Role":               {"roles", true},
		"RoleBinding":        {"rolebindings", true},
	},
}

// objectPath is the REST path of obj: /api/v1/namespaces/ns/pods/name,
// /apis/apps/v1/namespaces/ns/deployments/name, /api/v1/nodes/name.
func objectPath(obj map[string]any) (string, error) {
	str := func(v any) string { s, _ := v.(string); return s }
	apiVersion, kind := str(obj["apiVersion"]), str(obj["kind"])
	meta, _ := obj["metadata"].(map[string]any)
	name, namespace := str(meta["name"]), str(meta["namespace"])
	var errs []error
	if apiVersion == "" {
		errs = append(errs, errors.New("apiVersion: required (e.g. \"apps/v1\")"))
	}
	if kind == "" {
		errs = append(errs, errors.New("kind: required (e.g. \"Deployment\")"))
	}
	if name == "" {
		errs = append(errs, errors.New("metadata.name: required"))
	}
	if len(errs) > 0 {
		return "", fmt.Errorf("cluster.Apply: %w", errors.Join(errs...))
	}
	group, version, ok := strings.Cut(apiVersion, "/")
	if !ok {
		group, version = "", apiVersion
	}
	res, ok := resources[group][kind]
	if !ok {
		var known []string
		for g, kinds := range resources {
			for k := range kinds {
				known = append(known, strings.TrimPrefix(g+"/"+k, "/"))
			}
		}
		slices.Sort(known)
		return "", fmt.Errorf("cluster.Apply: kind %q of group %q is not in the resources table (client.go); known: %s; add a row for it", kind, group, strings.Join(known, ", "))
	}
	p := "/apis/" + group + "/" + version
	if group == "" {
		p = "/api/" + version
	}
	switch {
	case res.namespaced && namespace == "":
		namespace = "default"
	case !res.namespaced && namespace != "":
		return "", fmt.Errorf("cluster.Apply: %s %q is cluster-scoped; remove metadata.namespace (%q)", kind, name, namespace)
	}
	if res.namespaced {
		p += "/namespaces/" + url.PathEscape(namespace)
	}
	return p + "/" + res.name + "/" + url.PathEscape(name), nil
}
