package loop

import (
	"net"
	"net/http"
	"sync"
)

// podServer answers every scenario's pods on one listener (0.0.0.0 and
// Triton's metrics port): each kwok pod's IP is a loopback address from its
// node's podCIDR (127.x.y.0/24), so the address Prometheus connected to names
// the pod (docs: "Closed loop", networking). A pod is the simulator's
// Triton pod or a scenario's lds-service stand-in.
type podServer struct {
	mu   sync.RWMutex
	pods map[string]podRef // pod IP → its owner's handler
	srv  *http.Server
}

type podRef struct {
	owner any // the scenario's simulator: set replaces its pods
	h     http.Handler
}

func newPodServer(ln net.Listener) *podServer {
	ps := &podServer{pods: map[string]podRef{}}
	ps.srv = &http.Server{Handler: http.HandlerFunc(ps.serve)}
	go ps.srv.Serve(ln)
	return ps
}

func (ps *podServer) serve(w http.ResponseWriter, r *http.Request) {
	addr, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	host := ""
	if addr != nil {
		host, _, _ = net.SplitHostPort(addr.String())
	}
	ps.mu.RLock()
	ref, ok := ps.pods[host]
	ps.mu.RUnlock()
	if !ok {
		http.Error(w, "no pod has IP "+host, http.StatusNotFound)
		return
	}
	ref.h.ServeHTTP(w, r)
}

// set replaces the pods of one owner.
func (ps *podServer) set(owner any, byIP map[string]http.Handler) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for ip, ref := range ps.pods {
		if ref.owner == owner {
			delete(ps.pods, ip)
		}
	}
	for ip, h := range byIP {
		ps.pods[ip] = podRef{owner: owner, h: h}
	}
}
