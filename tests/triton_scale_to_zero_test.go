package tests

import (
	"strings"
	"testing"

	"github.com/aiplatform/infra/stacks"
	"github.com/aiplatform/infra/tests/mocks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const scaledObjectType = "kubernetes:keda.sh/v1alpha1:ScaledObject"

// devStack is the dev stack's own configuration (Pulumi.dev.yaml), as the
// CLI passes it to the program.
func devStack(t *testing.T) map[string]string {
	t.Helper()
	cfg, _, err := mocks.StackConfig("..", "dev")
	require.NoError(t, err)
	return cfg
}

// The dev stack's GPU idles at $0: Triton scales to zero through a KEDA
// ScaledObject that owns its HPA, and the program renders no HPA of its own
// for Triton (two HPAs on one Deployment fight).
func TestDevTritonScalesToZeroThroughKEDA(t *testing.T) {
	rec := runProgram(t, devStack(t))
	so := plain(find(t, rec, scaledObjectType, "triton").Inputs)
	for _, r := range rec.ByType(hpaType) {
		in := plain(r.Inputs)
		assert.NotEqual(t, "triton", path(in, "spec", "scaleTargetRef", "name"), "an HPA of the program's targets Triton beside KEDA's: %s", r.Name)
	}
	assert.Equal(t, "true", path(so, "metadata", "annotations", "scaledobject.keda.sh/transfer-hpa-ownership"),
		"adopts the HPA an earlier update made, or KEDA's webhook refuses the ScaledObject")
	spec := path(so, "spec").(map[string]any)
	assert.Equal(t, 0.0, spec["idleReplicaCount"], "idle: no replica, so no GPU node")
	assert.Equal(t, 1.0, spec["minReplicaCount"], "active: triton.minReplicas")
	assert.Equal(t, 2.0, spec["maxReplicaCount"])
	assert.Equal(t, 1800.0, spec["cooldownPeriod"], "triton.scaleToZero.idleSeconds")
	assert.Equal(t, "triton", path(spec, "advanced", "horizontalPodAutoscalerConfig", "name"))

	triggers := spec["triggers"].([]any)
	require.Len(t, triggers, 3)
	load, wake, cpu := triggers[0].(map[string]any), triggers[1].(map[string]any), triggers[2].(map[string]any)
	assert.Equal(t, "prometheus", load["type"])
	assert.Equal(t, "AverageValue", load["metricType"])
	assert.Equal(t, "http://kube-prometheus-stack-prometheus.monitoring.svc:9090", path(load, "metadata", "serverAddress"))
	assert.Equal(t, "6", path(load, "metadata", "threshold"), "the concurrency default: 6 requests in flight per pod")
	assert.Equal(t, "0", path(load, "metadata", "activationThreshold"), "any request in flight keeps Triton up")
	assert.True(t, strings.HasPrefix(path(load, "metadata", "query").(string), "sum(sum by (namespace,pod) (rate(nv_inference_request_duration_us{namespace=\"triton\"}"),
		"the per-pod in-flight query summed over Triton's pods: %s", path(load, "metadata", "query"))
	assert.Equal(t, `sum(rate(lds_triton_errors_total{namespace="lds",reason=~"unreachable|model_not_ready"}[1m]))`, path(wake, "metadata", "query"),
		"lds-service's calls that found no ready Triton wake it")
	assert.Equal(t, "0", path(wake, "metadata", "activationThreshold"))
	assert.Equal(t, map[string]any{"value": "70"}, cpu["metadata"])

	// The KEDA chart installs the CRD the ScaledObject needs.
	so0 := find(t, rec, scaledObjectType, "triton")
	assert.Contains(t, so0.DependsOn, find(t, rec, chartType, "keda").URN, "the ScaledObject waits for KEDA's chart (its CRD)")
}

// The ScaledObject's HPA behaves as the program's own HPA does with scale to
// zero off: only the 1 <-> 0 step is new.
func TestScaledObjectHPABehaviourIsTheHPAs(t *testing.T) {
	dev := devStack(t)
	withHPA := runProgram(t, with(dev, "aiplatform:triton", strings.Replace(dev["aiplatform:triton"], `"scaleToZero":{"enabled":true,"idleSeconds":1800}`, `"scaleToZero":{}`, 1)))
	hpa := plain(find(t, withHPA, hpaType, "triton").Inputs)
	so := plain(find(t, runProgram(t, dev), scaledObjectType, "triton").Inputs)
	assert.Equal(t, path(hpa, "spec", "behavior"), path(so, "spec", "advanced", "horizontalPodAutoscalerConfig", "behavior"))
	assert.Equal(t, path(hpa, "spec", "minReplicas"), path(so, "spec", "minReplicaCount"))
	assert.Equal(t, path(hpa, "spec", "maxReplicas"), path(so, "spec", "maxReplicaCount"))
}

// Scale to zero needs the metrics stack (KEDA reads its Prometheus),
// lds-service (the only wake signal) and GPU groups that may reach 0 nodes.
func TestScaleToZeroNeedsWhatWakesIt(t *testing.T) {
	dev := devStack(t)
	cases := []struct {
		name string
		cfg  map[string]string
		want []string
	}{
		{"without observability", with(dev, "aiplatform:observability", `{"enabled":false}`),
			[]string{"aiplatform:triton.scaleToZero.enabled: needs the metrics stack", "observability.enabled is false"}},
		{"without lds-service", without(dev, "aiplatform:ldsService"),
			[]string{"aiplatform:triton.scaleToZero.enabled: needs ldsService", "only lds-service's failed calls"}},
		{"a GPU group that keeps a node", with(dev, "aiplatform:nodeGroups", strings.Replace(dev["aiplatform:nodeGroups"], `"minSize":0,"name":"gpu"`, `"minSize":1,"name":"gpu"`, 1)),
			[]string{"aiplatform:nodeGroups[2].minSize: is 1", "scaling to zero saves nothing", "set minSize (and desiredSize) to 0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { requireStackRefuses(t, c.cfg, c.want) })
	}
}

func without(cfg map[string]string, key string) map[string]string {
	out := with(cfg)
	delete(out, key)
	return out
}

// requireStackRefuses: the program refuses cfg with an error holding every
// want, before anything is registered.
func requireStackRefuses(t *testing.T, cfg map[string]string, want []string) {
	t.Helper()
	rec, err := mocks.Run(cfg, stacks.Run)
	require.Error(t, err)
	for _, w := range want {
		assert.Contains(t, err.Error(), w)
	}
	assert.Empty(t, rec.All(), "refused before anything is registered")
}
