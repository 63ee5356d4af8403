package loop

import (
	"net"
	"net/http"
	"sync"

	"github.com/aiplatform/infra/tests/closedloop/tritonsim"
)

// podServer answers every scenario's pods on one listener (0.0.0.0 and
// Triton's metrics port): each kwok pod's IP is a loopback address from its
// node's podCIDR (127.x.y.0/24), so the address Prometheus connected to names
// the pod (docs: "Closed loop", networking).
type podServer struct {
	mu   sync.RWMutex
	pods map[string]podRef // pod IP → scenario simulator and pod name
	srv  *http.Server
}

type podRef struct {
	sim  *tritonsim.Sim
	name string
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
	ref.sim.PodHandler(ref.name).ServeHTTP(w, r)
}

// set replaces the pods of one simulator.
func (ps *podServer) set(sim *tritonsim.Sim, byIP map[string]string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for ip, ref := range ps.pods {
		if ref.sim == sim {
			delete(ps.pods, ip)
		}
	}
	for ip, name := range byIP {
		ps.pods[ip] = podRef{sim: sim, name: name}
	}
}
