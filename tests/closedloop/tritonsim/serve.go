package tritonsim

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"
)

// LocalAddrHandler serves the metrics of the pod whose IP the connection
// was accepted on, so one process can stand for every pod when each pod IP
// is an address of this machine (a scrape config or service discovery that
// names pod IPs then reaches the right pod). Like Triton's metrics server it
// answers /metrics and /metrics/ only (server src/http_server.cc,
// HTTPMetricsServer's api_regex_), and 404 for other paths, for an IP that
// podByIP does not know, and for a pod that is not running.
func (s *Sim) LocalAddrHandler(podByIP func(ip string) (pod string, ok bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" && r.URL.Path != "/metrics/" {
			http.Error(w, fmt.Sprintf("no such path %q: Triton's metrics server serves /metrics", r.URL.Path), http.StatusNotFound)
			return
		}
		ip, ok := localIP(r)
		if !ok {
			http.Error(w, "cannot tell which pod to serve: the connection's local address is unknown; serve this handler with net/http's Server", http.StatusInternalServerError)
			return
		}
		pod, ok := podByIP(ip)
		if !ok {
			http.Error(w, fmt.Sprintf("no pod has IP %s", ip), http.StatusNotFound)
			return
		}
		s.serveMetrics(w, r, pod)
	})
}

// localIP is the IP the request's connection was accepted on
// (http.LocalAddrContextKey, set by http.Server).
func localIP(r *http.Request) (string, bool) {
	addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return "", false
	}
	if tcp, ok := addr.(*net.TCPAddr); ok {
		return tcp.IP.String(), true
	}
	host, _, err := net.SplitHostPort(addr.String())
	return host, err == nil
}

// ServeByLocalAddr serves LocalAddrHandler(podByIP) on every listener, each
// in its own goroutine, until the returned server is closed (Close or
// Shutdown). It is safe while another goroutine steps the Sim. An error
// that ends serving on a listener other than the server's closing is
// logged.
func (s *Sim) ServeByLocalAddr(podByIP func(ip string) (pod string, ok bool), listeners ...net.Listener) (*http.Server, error) {
	var errs []error
	if podByIP == nil {
		errs = append(errs, errors.New("podByIP is required: map a local IP to the pod it stands for"))
	}
	if len(listeners) == 0 {
		errs = append(errs, errors.New("at least one listener is required (e.g. net.Listen(\"tcp\", podIP+\":8002\") per pod IP)"))
	}
	for i, ln := range listeners {
		if ln == nil {
			errs = append(errs, fmt.Errorf("listeners[%d] is nil", i))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("serve by local address: %w", err)
	}
	srv := &http.Server{Handler: s.LocalAddrHandler(podByIP), ReadHeaderTimeout: 10 * time.Second}
	for _, ln := range listeners {
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Printf("tritonsim: serving metrics on %s: %v", ln.Addr(), err)
			}
		}()
	}
	return srv, nil
}
