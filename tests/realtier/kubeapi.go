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
	"strings"
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
	switch {
	case method == http.MethodPatch:
		req.Header.Set("Content-Type", "application/merge-patch+json")
	case body != nil:
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

// ArgoCDResourcesFinalizer is Argo CD's cascading-delete finalizer on
// Applications (with optional /foreground or /background suffix).
const ArgoCDResourcesFinalizer = "resources-finalizer.argocd.argoproj.io"

// RunFinalizers stands in for the controllers that would remove finalizers,
// none of which runs here, so Pulumi's own delete-awaits run unchanged. It
// returns when ctx ends. Every 500 ms:
//   - the namespace controller (kube-controller-manager): every namespace
//     marked for deletion whose content isEmpty reports empty is finalized;
//   - Argo CD's application controller: an Application marked for deletion
//     loses Argo CD's resources finalizer. The controller would first delete
//     what the Application synced; nothing syncs here, so there is nothing
//     to delete.
func (k *KubeAPI) RunFinalizers(ctx context.Context, isEmpty func(ctx context.Context, ns string) bool) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		k.finalizeNamespaces(ctx, isEmpty)
		k.finalizeApplications(ctx)
	}
}

func (k *KubeAPI) finalizeNamespaces(ctx context.Context, isEmpty func(ctx context.Context, ns string) bool) {
	namespaces, err := k.List(ctx, "/api/v1/namespaces")
	if err != nil {
		return
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

func (k *KubeAPI) finalizeApplications(ctx context.Context) {
	apps, err := k.List(ctx, "/apis/argoproj.io/v1alpha1/applications")
	if err != nil {
		return // no Application CRD (yet): nothing to do
	}
	for _, app := range apps {
		if app.Path("metadata", "deletionTimestamp") == nil {
			continue
		}
		var keep []string
		finalizers := stringList(app, "metadata", "finalizers")
		for _, f := range finalizers {
			if f != ArgoCDResourcesFinalizer && !strings.HasPrefix(f, ArgoCDResourcesFinalizer+"/") {
				keep = append(keep, f)
			}
		}
		if len(keep) == len(finalizers) {
			continue
		}
		if keep == nil {
			keep = []string{}
		}
		// A merge patch replaces the whole list; resourceVersion makes it fail
		// rather than drop a finalizer added meanwhile.
		patch := map[string]any{"metadata": map[string]any{
			"finalizers":      keep,
			"resourceVersion": app.String("metadata", "resourceVersion"),
		}}
		path := "/apis/argoproj.io/v1alpha1/namespaces/" + app.String("metadata", "namespace") + "/applications/" + app.String("metadata", "name")
		_ = k.do(ctx, http.MethodPatch, path, patch, nil)
	}
}
