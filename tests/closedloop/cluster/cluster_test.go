package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiplatform/infra/tests/closedloop/internal/proc"
)

// startCluster starts a cluster for t, or skips t when the binaries are not
// installed, unless CI is set: there a missing binary is a failure.
func startCluster(t *testing.T, ctx context.Context, compression float64) *Cluster {
	t.Helper()
	if missing := MissingBinaries(DefaultBinDir()); len(missing) > 0 {
		msg := fmt.Sprintf("closed-loop cluster binaries missing (install them with `bash .ci/tools.sh`): %s", strings.Join(missing, ", "))
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; CI is unset, so this skips")
	}
	c, err := Start(ctx, Options{Dir: t.TempDir(), Compression: compression, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

// eventually polls check every 100ms until it returns nil, failing t with
// the last error (and the logs) after timeout.
func eventually(t *testing.T, c *Cluster, timeout time.Duration, what string, check func() error) {
	t.Helper()
	if err := proc.Until(context.Background(), timeout, 100*time.Millisecond, func(context.Context) error { return check() }); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, c.Logs(3000))
	}
}

type podList struct {
	Items []pod `json:"items"`
}

type pod struct {
	Metadata struct {
		Name              string            `json:"name"`
		Annotations       map[string]string `json:"annotations"`
		DeletionTimestamp *string           `json:"deletionTimestamp"`
	} `json:"metadata"`
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
	Status struct {
		Phase      string `json:"phase"`
		PodIP      string `json:"podIP"`
		Conditions []struct {
			Type, Status string
		} `json:"conditions"`
	} `json:"status"`
}

func (p pod) condition(t string) string {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func TestCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := startCluster(t, ctx, 20)

	t.Run("a watch from resourceVersion 0, as kwok's, streams events", func(t *testing.T) {
		testWatchFromZero(t, ctx, c)
	})
	t.Run("kwok plays a GPU pod, ready only once annotated", func(t *testing.T) {
		testPodLifecycle(t, ctx, c)
	})
	t.Run("aggregated API through an ExternalName service", func(t *testing.T) {
		testAggregatedAPI(t, ctx, c)
	})
}

func testPodLifecycle(t *testing.T, ctx context.Context, c *Cluster) {
	const gpu = "nvidia.com/gpu"
	resources := map[string]any{"cpu": "4", "memory": "16Gi", gpu: "1", "pods": "110"}
	node := map[string]any{
		"apiVersion": "v1",
		"kind":       "Node",
		"metadata": map[string]any{
			"name":   "gpu-1",
			"labels": map[string]any{"closedloop.aiplatform.io/group": "gpu"},
		},
		"spec":   map[string]any{"podCIDR": "127.1.1.0/24", "podCIDRs": []any{"127.1.1.0/24"}},
		"status": map[string]any{"capacity": resources, "allocatable": resources},
	}
	// POST, not Apply: a create keeps the status it is given (nodes allow
	// status on create, pkg/registry/core/node/strategy.go).
	if err := c.Do(ctx, http.MethodPost, "/api/v1/nodes", node, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, c, 30*time.Second, "node gpu-1 Ready with its GPU", func() error {
		var n struct {
			Status struct {
				Allocatable map[string]string
				Conditions  []struct{ Type, Status string }
			}
		}
		if err := c.Do(ctx, http.MethodGet, "/api/v1/nodes/gpu-1", nil, &n); err != nil {
			return err
		}
		ready := slices.ContainsFunc(n.Status.Conditions, func(c struct{ Type, Status string }) bool {
			return c.Type == "Ready" && c.Status == "True"
		})
		if !ready || n.Status.Allocatable[gpu] != "1" || n.Status.Allocatable["cpu"] != "4" {
			return fmt.Errorf("ready=%v allocatable=%v", ready, n.Status.Allocatable)
		}
		return nil
	})

	labels := map[string]any{"app": "gpu-test"}
	deployment := map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   map[string]any{"name": "gpu-test", "namespace": "default"},
		"spec": map[string]any{
			"replicas": 1,
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{
					"nodeSelector": map[string]any{"closedloop.aiplatform.io/group": "gpu"},
					"containers": []any{map[string]any{
						"name":  "triton",
						"image": "nvcr.io/nvidia/tritonserver:fake",
						"resources": map[string]any{
							"requests": map[string]any{gpu: "1"},
							"limits":   map[string]any{gpu: "1"},
						},
					}},
				},
			},
		},
	}
	if err := c.Apply(ctx, deployment); err != nil {
		t.Fatal(err)
	}
	const pods = "/api/v1/namespaces/default/pods?labelSelector=app%3Dgpu-test"
	var p pod
	eventually(t, c, 60*time.Second, "the Deployment's pod scheduled on gpu-1", func() error {
		var list podList
		if err := c.Do(ctx, http.MethodGet, pods, nil, &list); err != nil {
			return err
		}
		if len(list.Items) != 1 || list.Items[0].Spec.NodeName != "gpu-1" {
			return fmt.Errorf("pods: %+v", list.Items)
		}
		p = list.Items[0]
		return nil
	})
	podPath := "/api/v1/namespaces/default/pods/" + p.Metadata.Name

	// Without the annotation kwok leaves the pod alone. It reacts within
	// milliseconds when a stage matches, so two seconds would show it.
	time.Sleep(2 * time.Second)
	if err := c.Do(ctx, http.MethodGet, podPath, nil, &p); err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != "Pending" || p.condition("Ready") == "True" || p.Status.PodIP != "" || p.condition("PodScheduled") != "True" {
		t.Fatalf("unannotated pod: phase %q, Ready %q, PodScheduled %q, podIP %q; want Pending, not Ready, scheduled, no IP",
			p.Status.Phase, p.condition("Ready"), p.condition("PodScheduled"), p.Status.PodIP)
	}

	annotated := time.Now()
	patch := map[string]any{"metadata": map[string]any{"annotations": map[string]any{ReadyAfterAnnotation: "500"}}}
	if err := c.Do(ctx, http.MethodPatch, podPath, patch, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, c, 30*time.Second, "the annotated pod Running and Ready", func() error {
		if err := c.Do(ctx, http.MethodGet, podPath, nil, &p); err != nil {
			return err
		}
		if p.Status.Phase != "Running" || p.condition("Ready") != "True" {
			return fmt.Errorf("phase %q, Ready %q", p.Status.Phase, p.condition("Ready"))
		}
		return nil
	})
	// Promptly after the delay: kwok reacts to watch events, not to re-lists.
	if waited := time.Since(annotated); waited < 500*time.Millisecond || waited > 3*time.Second {
		t.Errorf("pod Ready %s after the annotation, want 500ms (%s=500) plus a little", waited, ReadyAfterAnnotation)
	}
	_, podCIDR, _ := net.ParseCIDR("127.1.1.0/24")
	if ip := net.ParseIP(p.Status.PodIP); ip == nil || !podCIDR.Contains(ip) {
		t.Errorf("podIP %q, want one in the node's podCIDR %s", p.Status.PodIP, podCIDR)
	}

	// A default (30s grace) delete completes at once: kwok plays the
	// kubelet's final delete; the ReplicaSet replaces the pod.
	if err := c.Do(ctx, http.MethodDelete, podPath, nil, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, c, 10*time.Second, "the deleted pod gone and replaced", func() error {
		var list podList
		if err := c.Do(ctx, http.MethodGet, pods, nil, &list); err != nil {
			return err
		}
		if len(list.Items) != 1 || list.Items[0].Metadata.Name == p.Metadata.Name {
			names := []string{}
			for _, it := range list.Items {
				names = append(names, it.Metadata.Name)
			}
			return fmt.Errorf("pods %v (deleted: %s)", names, p.Metadata.Name)
		}
		return nil
	})
}

func testAggregatedAPI(t *testing.T, ctx context.Context, c *Cluster) {
	const group, version = "test.closedloop.io", "v1"
	certFile, keyFile, caPEM, err := c.IssueServingCert("test-ext", nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	frontProxyCA, err := os.ReadFile(c.FrontProxyCAFile)
	if err != nil {
		t.Fatal(err)
	}
	clientCAs := x509.NewCertPool()
	if !clientCAs.AppendCertsFromPEM(frontProxyCA) {
		t.Fatal("bad front-proxy CA")
	}

	var mu sync.Mutex
	var users []string // X-Remote-User of every discovery request
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// kube-apiserver must come with its proxy client certificate.
		if len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "front-proxy-client" {
			http.Error(w, "not the front proxy", http.StatusForbidden)
			return
		}
		if r.URL.Path != "/apis/"+group+"/"+version {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		users = append(users, r.Header.Get("X-Remote-User"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group + "/" + version, "resources": []any{},
		})
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	if err := c.RegisterAPIService(ctx, group, version, port, caPEM); err != nil {
		t.Fatalf("%v\n%s", err, c.Logs(3000))
	}
	var list struct{ GroupVersion string }
	if err := c.Do(ctx, http.MethodGet, "/apis/"+group+"/"+version, nil, &list); err != nil {
		t.Fatal(err)
	}
	if list.GroupVersion != group+"/"+version {
		t.Errorf("groupVersion %q through kube-apiserver, want %s/%s", list.GroupVersion, group, version)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(users, AdminUser) {
		t.Errorf("X-Remote-User of the requests that reached the server: %q; want one from %q (the admin user of Do)", users, AdminUser)
	}
}

// kwok v0.8.0 watches with resourceVersion=0; kube-apiserver must serve that
// as a plain watch, not as a watch-list the etcd in use cannot back (see
// --feature-gates=WatchList=false in apiserverArgs), or kwok only sees
// changes when it re-lists.
func testWatchFromZero(t *testing.T, ctx context.Context, c *Cluster) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		c.URL+"/api/v1/namespaces?watch=true&resourceVersion=0&allowWatchBookmarks=true&timeoutSeconds=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	var types []string
	for {
		var ev struct {
			Type   string
			Object json.RawMessage
		}
		if err := dec.Decode(&ev); err != nil {
			break // the server ends the watch after timeoutSeconds
		}
		if ev.Type == "ERROR" {
			t.Fatalf("watch from resourceVersion 0 failed: %s", ev.Object)
		}
		types = append(types, ev.Type)
	}
	if resp.StatusCode != http.StatusOK || !slices.Contains(types, "ADDED") {
		t.Errorf("watch from resourceVersion 0: %s, events %v; want 200 and ADDED events for the existing namespaces", resp.Status, types)
	}
}
