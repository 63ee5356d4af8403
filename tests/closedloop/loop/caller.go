package loop

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aiplatform/infra/tests/closedloop/cluster"
	"github.com/aiplatform/infra/tests/closedloop/tritonsim"
	"github.com/aiplatform/infra/workloads/observability/signals"
)

// The lds-service stand-in: the real service (cmd/lds-service) cannot run
// in kwok, and in the loop the simulator's load generator is Triton's
// client. The stand-in is one pod per run through KEDA (the scale-to-zero
// and offered-load runs), labelled like the program's lds-service pods so
// that the program's lds-service PodMonitor scrapes it, exporting what
// lds-service exports about its calls to Triton: lds_triton_errors_total
// by reason, every reason from 0 (cmd/lds-service/metrics.go newMetrics,
// "so rate() sees the first error"), and lds_triton_calls_total, every
// request as it arrives (the offered load).
//
// Each finished request of the simulator is one call lds-service made,
// counted once under the reason lds-service gives its outcome (callerReasons).
// A request that finds no ready Triton pod is what lds-service answers at
// once with 503 and Retry-After, reason unreachable
// (cmd/lds-service/server.go recognize: "Triton has no ready replica (it
// may be scaling up); retry after the Retry-After delay"; triton.go infer:
// a refused connection is reasonUnreachable). Not modelled: lds-service's
// retries (up to TRITON_MAX_RETRIES more attempts within its retry budget,
// each counted again: a higher rate, the same activation) and the callers'
// own retries after Retry-After (the load is open).

// ldsReasons are lds-service's reasons (cmd/lds-service/metrics.go, the
// reason constants), which TestCallerReasonsAreLDSServices compares.
var ldsReasons = []string{"unreachable", "model_not_ready", "timeout", "server_error", "rejected", "bad_response"}

// callerReasons: the reason lds-service counts for a simulated request's
// outcome. No ready pod: unreachable (the Service has no endpoints, the
// connection is refused); a pod gone with the request in flight:
// unreachable (the connection breaks, triton.go infer); Triton's queue
// full: server_error (HTTP 503; cmd/lds-service/signals_test.go). Queue
// timeouts are left out: the scale-to-zero scenarios have no queue policy.
var callerReasons = []struct {
	outcome tritonsim.Outcome
	reason  string
}{
	{tritonsim.OutcomeNoEndpoint, "unreachable"},
	{tritonsim.OutcomeDropped, "unreachable"},
	{tritonsim.OutcomeRejected, "server_error"},
}

// callerErrors is lds_triton_errors_total by reason for the outcomes so far.
func callerErrors(finished map[tritonsim.Outcome]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for _, r := range ldsReasons {
		out[r] = 0
	}
	for _, c := range callerReasons {
		out[c.reason] += finished[c.outcome]
	}
	return out
}

// callerMetrics is the stand-in's metrics route: lds_triton_errors_total
// in the text exposition format, counters divided by counterScale like the
// simulator's (tritonsim Config.CounterScale), so rate() per wall second
// reads the real per-second rate.
func callerMetrics(sim *tritonsim.Sim, counterScale float64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != signals.LDSMetricsPath {
			http.NotFound(w, r)
			return
		}
		errs := callerErrors(sim.Finished())
		var b strings.Builder
		b.WriteString("# HELP " + signals.LDSTritonCalls + " Requests that needed Triton, counted as they arrive.\n")
		b.WriteString("# TYPE " + signals.LDSTritonCalls + " counter\n")
		fmt.Fprintf(&b, "%s %s\n", signals.LDSTritonCalls, strconv.FormatFloat(float64(sim.Arrived())/counterScale, 'g', -1, 64))
		b.WriteString("# HELP " + signals.LDSTritonErrors + " Failed calls to Triton by reason.\n")
		b.WriteString("# TYPE " + signals.LDSTritonErrors + " counter\n")
		for _, reason := range slices.Sorted(maps.Keys(errs)) {
			fmt.Fprintf(&b, "%s{reason=%q} %s\n", signals.LDSTritonErrors, reason,
				strconv.FormatFloat(float64(errs[reason])/counterScale, 'g', -1, 64))
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write([]byte(b.String()))
	})
}

// callerPodName names the stand-in's pod in a scenario's namespace.
const callerPodName = "lds-service"

// callerPod is the stand-in's pod: the program's lds-service pod labels
// (its PodMonitor's selector matches them) and its named HTTP port, bound
// to the callers' node, Running and Ready at once. The port number is the
// pod server's (the PodMonitor selects the port by name; the pod server
// answers one port).
func callerPod(ldsDeployment map[string]any, ns, node string) (map[string]any, error) {
	tmpl := child(clone(ldsDeployment), "spec", "template")
	labels := child(tmpl, "metadata", "labels")
	if len(labels) == 0 {
		return nil, fmt.Errorf("the program's lds-service Deployment has no pod labels (spec.template.metadata.labels)")
	}
	containers, _ := child(tmpl, "spec")["containers"].([]any)
	if len(containers) == 0 {
		return nil, fmt.Errorf("the program's lds-service Deployment has no container")
	}
	c, _ := containers[0].(map[string]any)
	port := ""
	ports, _ := c["ports"].([]any)
	for _, p := range ports {
		if pm, _ := p.(map[string]any); pm["name"] != nil {
			port, _ = pm["name"].(string)
		}
	}
	if port == "" {
		return nil, fmt.Errorf("the program's lds-service container has no named port for its PodMonitor")
	}
	return map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": callerPodName, "namespace": ns, "labels": labels,
			"annotations": map[string]any{cluster.ReadyAfterAnnotation: "0"}},
		"spec": map[string]any{"nodeName": node, "containers": []any{map[string]any{
			"name": c["name"], "image": c["image"],
			"ports": []any{map[string]any{"name": port, "containerPort": MetricsPort, "protocol": "TCP"}},
		}}},
	}, nil
}

// callersNode is the node every scenario's caller pod runs on: a plain
// kwok node outside the scenarios' GPU groups (no ScenarioLabel, so the
// autoscaler stand-ins never see it).
const callersNode = "cl-callers"

// callersNodeOnce registers the callers' node once per Env.
type callersNodeOnce struct {
	once sync.Once
	err  error
}

func (e *Env) ensureCallersNode(ctx context.Context) error {
	e.callers.once.Do(func() {
		res := map[string]any{"cpu": "64", "memory": "256Gi", "pods": "250"}
		node := map[string]any{"apiVersion": "v1", "kind": "Node",
			"metadata": map[string]any{"name": callersNode, "labels": map[string]any{"kubernetes.io/hostname": callersNode, "type": "kwok"},
				"annotations": map[string]any{"kwok.x-k8s.io/node": "fake"}},
			"spec":   map[string]any{"podCIDR": e.slots.cidr()},
			"status": map[string]any{"capacity": res, "allocatable": res},
		}
		if err := e.C.Do(ctx, "POST", "/api/v1/nodes", node, nil); err != nil {
			e.callers.err = fmt.Errorf("registering the callers' node: %w", err)
		}
	})
	return e.callers.err
}
