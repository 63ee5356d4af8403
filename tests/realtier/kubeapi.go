package realtier

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// KubeAPI is a minimal REST client for the loopback API server: plain
// net/http and JSON keeps client-go out of the test build.
type KubeAPI struct {
	base   string
	client *http.Client
}

// ErrNotFound is returned by Get for a 404.
var ErrNotFound = errors.New("not found")

func NewKubeAPI(base string, pki *PKI) (*KubeAPI, error) {
	cert, err := tls.X509KeyPair(pki.ClientCertPEM, pki.ClientKeyPEM)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pki.CAPEM) {
		return nil, errors.New("bad CA PEM")
	}
	return &KubeAPI{base: base, client: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs:      pool,
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
		}},
	}}, nil
}

// Object is a decoded Kubernetes object.
type Object map[string]any

// Path walks nested maps and lists: o.Path("spec", "containers", "0", "image").
func (o Object) Path(keys ...string) any {
	var cur any = map[string]any(o)
	for _, k := range keys {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// String is Path for string leaves ("" when absent).
func (o Object) String(keys ...string) string {
	s, _ := o.Path(keys...).(string)
	return s
}

// Get fetches one object by its API path, e.g. /api/v1/namespaces/default.
func (k *KubeAPI) Get(ctx context.Context, path string) (Object, error) {
	var obj Object
	err := k.do(ctx, http.MethodGet, path, nil, &obj)
	return obj, err
}

// List returns the items of a collection path.
func (k *KubeAPI) List(ctx context.Context, path string) ([]Object, error) {
	var list struct {
		Items []Object `json:"items"`
	}
	err := k.do(ctx, http.MethodGet, path, nil, &list)
	return list.Items, err
}

func (k *KubeAPI) do(ctx context.Context, method, path string, body any, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, k.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s %s: %w", method, path, ErrNotFound)
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// FinalizeNamespaces stands in for the namespace controller, which lives in
// kube-controller-manager and is not run here: every namespace marked for
// deletion whose content the caller reports empty is finalized, so Pulumi's
// own delete-await for namespaces runs unchanged. It returns when ctx ends.
func (k *KubeAPI) FinalizeNamespaces(ctx context.Context, isEmpty func(ctx context.Context, ns string) bool) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		namespaces, err := k.List(ctx, "/api/v1/namespaces")
		if err != nil {
			continue
		}
		for _, ns := range namespaces {
			name := ns.String("metadata", "name")
			if ns.Path("metadata", "deletionTimestamp") == nil || !isEmpty(ctx, name) {
				continue
			}
			finalized := map[string]any{
				"apiVersion": "v1",
				"kind":       "Namespace",
				"metadata":   map[string]any{"name": name},
				"spec":       map[string]any{"finalizers": []string{}},
			}
			_ = k.do(ctx, http.MethodPut, "/api/v1/namespaces/"+name+"/finalize", finalized, nil)
		}
	}
}
