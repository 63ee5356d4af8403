package tritonsim

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func listen(t *testing.T, ip string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listen on %s (all of 127.0.0.0/8 is loopback on Linux): %v", ip, err)
	}
	return ln
}

func get(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Each local address serves its own pod's metrics while another goroutine
// steps the simulation.
func TestServeByLocalAddrServesThePodOfEachAddress(t *testing.T) {
	s := newSim(t, mixedConfig(), "p1", "p2")
	runTo(t, s, time.Second)
	pods := map[string]string{"127.0.0.1": "p1", "127.1.1.2": "p2", "127.1.1.4": "p9"} // p9 never runs
	lns := map[string]net.Listener{}
	var all []net.Listener
	for _, ip := range []string{"127.0.0.1", "127.1.1.2", "127.1.1.3", "127.1.1.4"} {
		lns[ip] = listen(t, ip)
		all = append(all, lns[ip])
	}
	srv, err := s.ServeByLocalAddr(func(ip string) (string, bool) { p, ok := pods[ip]; return p, ok }, all...)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := func(ip, path string) string { return "http://" + lns[ip].Addr().String() + path }

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.Step(10 * ms); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	last := map[string]float64{}
	for range 20 {
		for _, ip := range []string{"127.0.0.1", "127.1.1.2"} {
			status, body := get(t, http.MethodGet, url(ip, "/metrics"))
			if status != http.StatusOK {
				t.Fatalf("%s: %d %s", ip, status, body)
			}
			e, err := parseExposition(body)
			if err != nil {
				t.Fatalf("%s: %v", ip, err)
			}
			want := gpuUUID(pods[ip])
			n := 0
			for _, ls := range e.labels {
				for _, l := range ls {
					if id, ok := l[LabelGPUUUID]; ok {
						n++
						if id != want {
							t.Fatalf("%s served gpu_uuid %s, want %s's %s", ip, id, pods[ip], want)
						}
					}
				}
			}
			if n == 0 {
				t.Fatalf("%s: no series with gpu_uuid", ip)
			}
			success := e.sum("nv_inference_request_success", "gpu_model")
			if success < last[ip] {
				t.Errorf("%s: successes went from %v to %v", ip, last[ip], success)
			}
			last[ip] = success
		}
	}
	close(stop)
	wg.Wait()
	if s.Now() <= time.Second || last["127.0.0.1"] == 0 || last["127.1.1.2"] == 0 {
		t.Errorf("clock at %v, successes %v: the scrapes did not overlap a moving simulation", s.Now(), last)
	}

	for _, tc := range []struct {
		name, method, ip, path string
		status                 int
		body                   string
	}{
		{"trailing slash", http.MethodGet, "127.1.1.2", "/metrics/", http.StatusOK, "# TYPE nv_gpu_utilization gauge"},
		{"unknown IP", http.MethodGet, "127.1.1.3", "/metrics", http.StatusNotFound, "no pod has IP 127.1.1.3"},
		{"pod not running", http.MethodGet, "127.1.1.4", "/metrics", http.StatusNotFound, `pod "p9" is not running`},
		{"other path", http.MethodGet, "127.0.0.1", "/v2/health/ready", http.StatusNotFound, "serves /metrics"},
		{"POST", http.MethodPost, "127.0.0.1", "/metrics", http.StatusMethodNotAllowed, "use GET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, body := get(t, tc.method, url(tc.ip, tc.path)); status != tc.status || !strings.Contains(body, tc.body) {
				t.Errorf("%d %q, want %d containing %q", status, body, tc.status, tc.body)
			}
		})
	}

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url("127.0.0.1", "/metrics")); err == nil {
		t.Error("listener still serving after Close")
	}
}

func TestServeByLocalAddrRejectsBadArguments(t *testing.T) {
	s := newSim(t, mixedConfig())
	if _, err := s.ServeByLocalAddr(nil); err == nil ||
		!strings.Contains(err.Error(), "podByIP is required") || !strings.Contains(err.Error(), "at least one listener is required") {
		t.Errorf("got %v, want both problems named", err)
	}
	if _, err := s.ServeByLocalAddr(func(string) (string, bool) { return "", false }, nil); err == nil || !strings.Contains(err.Error(), "listeners[0] is nil") {
		t.Errorf("got %v, want the nil listener named", err)
	}
	// Without net/http's Server there is no local address to go by.
	w := httptest.NewRecorder()
	s.LocalAddrHandler(func(string) (string, bool) { return "p1", true }).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "local address is unknown") {
		t.Errorf("%d %q, want 500 naming the missing local address", w.Code, w.Body)
	}
}
