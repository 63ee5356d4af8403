package stacks

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/aiplatform/infra/workloads/inference"
	"github.com/aiplatform/infra/workloads/observability"
	"github.com/aiplatform/infra/workloads/observability/signals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTritonAutoscalingDefaults(t *testing.T) {
	cfg, err := parse(valid())
	require.NoError(t, err)
	def, ok := signals.LookupInferenceMetric(signals.DefaultInferenceMetricKey)
	require.True(t, ok)
	assert.Equal(t, inference.TritonAutoscaling{Metric: signals.DefaultInferenceMetricKey, Target: def.DefaultTarget}, cfg.Workloads.Triton.Autoscaling)
	// Requests in flight, 6 per pod: the closed loop's choice (tests/closedloop,
	// issue 20; docs/autoscaling-and-observability.md).
	assert.Equal(t, inference.TritonAutoscaling{Metric: "concurrency", Target: 6}, cfg.Workloads.Triton.Autoscaling)

	// Each metric's own default target, unless one is configured.
	for _, m := range signals.InferenceMetrics() {
		src := valid()
		src["triton"] = `{"autoscaling":{"metric":"` + m.Key + `"}}`
		cfg, err := parse(src)
		require.NoError(t, err)
		assert.Equal(t, m.DefaultTarget, cfg.Workloads.Triton.Autoscaling.Target, m.Key)
	}
	// A configured target is kept with its metric.
	src := valid()
	src["triton"] = `{"autoscaling":{"metric":"concurrency","target":0.2}}`
	cfg, err = parse(src)
	require.NoError(t, err)
	assert.Equal(t, inference.TritonAutoscaling{Metric: signals.MetricConcurrency, Target: 0.2}, cfg.Workloads.Triton.Autoscaling)
}

func TestTritonAutoscalingErrors(t *testing.T) {
	allowed := strings.Join(signals.InferenceMetricKeys(), ", ")
	cases := []struct{ triton, want string }{
		{`{"autoscaling":{"metric":"nv_gpu_utilization"}}`, `aiplatform:triton.autoscaling.metric: "nv_gpu_utilization" is not one of ` + allowed},
		{`{"autoscaling":{"metric":"QueueTimePerRequest"}}`, `aiplatform:triton.autoscaling.metric: "QueueTimePerRequest" is not one of`},
		{`{"autoscaling":{"metric":"concurrency","target":-1}}`, "aiplatform:triton.autoscaling.target: must be a number > 0 in the metric's unit, got -1"},
		// A target alone was written for the previous default, queue time in
		// seconds; read as requests in flight it would hold Triton at maxReplicas.
		{`{"autoscaling":{"target":0.05}}`, "aiplatform:triton.autoscaling.target: 0.05 is set without aiplatform:triton.autoscaling.metric; name the metric, " +
			"because the default changed from queueTimePerRequest (a target in seconds of queue time) to concurrency (requests in flight per pod)"},
		{`{"enabled":false,"autoscaling":{"target":0.05}}`, "aiplatform:triton.autoscaling.target: 0.05 is set without aiplatform:triton.autoscaling.metric"},
		{`{"autoscaling":{"metric":"queueTimePerRequest","target":1e-12}}`, "aiplatform:triton.autoscaling.target: 1e-12 s is below the resolution prometheus-adapter serves metrics in (0.001 s"},
		// prometheus-adapter v0.12.0 NewMilliQuantity(int64(v*1000)): 0.0005 s reads 0 (issue 20).
		{`{"autoscaling":{"metric":"queueTimePerRequest","target":0.0005}}`, "aiplatform:triton.autoscaling.target: 0.0005 s is below the resolution"},
		// A ratio or a count has no unit to print (not "1").
		{`{"autoscaling":{"metric":"queueToComputeRatio","target":0.0009}}`, "aiplatform:triton.autoscaling.target: 0.0009 is below the resolution " +
			"prometheus-adapter serves metrics in (0.001: it rounds values to thousandths), so the metric would read 0; use at least 0.001"},
		{`{"autoscaling":{"metric":"gpuUtilization","target":0.0009}}`, "aiplatform:triton.autoscaling.target: 0.0009 is below the resolution prometheus-adapter serves metrics in (0.001: "},
		// A utilisation reads at most 1 and the HPA needs it above 1.1 × target:
		// a percentage (the removed targetGpuUtilization took 70) never scales up.
		{`{"autoscaling":{"metric":"gpuUtilization","target":70}}`, "aiplatform:triton.autoscaling.target: 70 is too high for gpuUtilization, which reads at most 1: " +
			"the HPA scales up only above 1.1 × target, so it would never add pods; use a value below 0.909 (a fraction, not a percentage: 0.7 for 70 %)"},
		{`{"autoscaling":{"metric":"gpuUtilization","target":0.91}}`, "aiplatform:triton.autoscaling.target: 0.91 is too high for gpuUtilization"},
		// Requests in flight are unbounded, but the adapter's milli-units still apply.
		{`{"autoscaling":{"metric":"concurrency","target":0.0005}}`, "aiplatform:triton.autoscaling.target: 0.0005 is below the resolution prometheus-adapter serves metrics in (0.001: "},
		// maxReplicas × GPUs per replica must fit the GPU groups (default gpu group: maxSize 4, 1 GPU per node).
		{`{"maxReplicas":5}`, "aiplatform:triton.maxReplicas: 5 replicas of 1 GPU(s) each do not fit the GPU node groups, which hold at most 4 such replicas"},
		{`{"gpus":2,"maxReplicas":2}`, "aiplatform:triton.maxReplicas: 2 replicas of 2 GPU(s) each do not fit the GPU node groups, which hold at most 0 such replicas"},
		{`{"autoscaling":{"target":"fast"}}`, "aiplatform:triton: cannot parse"},
		{`{"autoscaling":{"metrc":"queueTimePerRequest"}}`, `unknown field "metrc"`},
		{`{"targetGpuUtilization":70}`, "aiplatform:triton.targetGpuUtilization: removed: nothing served the GPU metric"},
		{`{"gpuMetric":"nv_gpu_utilization"}`, "aiplatform:triton.gpuMetric: removed:"},
	}
	for _, c := range cases {
		t.Run(c.triton, func(t *testing.T) {
			requireConfigError(t, map[string]string{"triton": c.triton}, c.want)
		})
	}
	// The smallest target the adapter serves is accepted, and so are as many
	// replicas as the GPU groups hold.
	for _, triton := range []string{`{"autoscaling":{"metric":"concurrency","target":0.001}}`, `{"maxReplicas":4}`,
		`{"autoscaling":{"metric":"queueTimePerRequest","target":0.001}}`,
		`{"autoscaling":{"metric":"gpuUtilization","target":0.001}}`, `{"autoscaling":{"metric":"gpuUtilization","target":0.9}}`,
		// Unbounded metrics take any target above the resolution.
		`{"autoscaling":{"metric":"queueToComputeRatio","target":70}}`,
		// A non-batching single-instance model saturates at 1 in flight.
		`{"autoscaling":{"metric":"concurrency","target":0.7}}`, `{"autoscaling":{"metric":"concurrency","target":64}}`} {
		src := valid()
		src["triton"] = triton
		_, err := parse(src)
		require.NoError(t, err, triton)
	}
	// The migration hint names the replacement keys.
	requireConfigError(t, map[string]string{"triton": `{"targetGpuUtilization":70}`}, "triton.autoscaling.metric ("+signals.DefaultInferenceMetricKey+" by default)")
	requireConfigError(t, map[string]string{"triton": `{"targetGpuUtilization":70}`}, "set triton.autoscaling.metric gpuUtilization and triton.autoscaling.target as a fraction (70 % is 0.7)")
}

// The target-without-metric error says everything needed to fix it: the
// key, why the metric must be named, the allowed metrics and the two fixes;
// once, though both Triton's and the autoscaling validation see the key.
func TestTritonTargetWithoutMetricError(t *testing.T) {
	src := valid()
	src["triton"] = `{"autoscaling":{"target":0.05}}`
	_, err := parse(src)
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"aiplatform:triton.autoscaling.target: 0.05 is set without aiplatform:triton.autoscaling.metric",
		"the default changed from queueTimePerRequest (a target in seconds of queue time) to " + signals.DefaultInferenceMetricKey,
		"the metric is one of " + strings.Join(signals.InferenceMetricKeys(), ", "),
		"To keep the old behaviour set `autoscaling: {metric: queueTimePerRequest, target: 0.05}` " +
			"(`pulumi config set --path 'aiplatform:triton.autoscaling.metric' queueTimePerRequest`)",
		"to scale on requests in flight set `autoscaling: {metric: concurrency}` (default target 6)",
	} {
		assert.Contains(t, msg, want)
	}
	assert.Equal(t, 1, strings.Count(msg, "is set without"), msg)
	assert.NotContains(t, msg, "is not one of", "no second error for the empty metric")

	// Either fix is accepted: the old behaviour, or the new default.
	for _, triton := range []string{`{"autoscaling":{"metric":"queueTimePerRequest","target":0.05}}`, `{"autoscaling":{"metric":"concurrency"}}`} {
		src["triton"] = triton
		_, err := parse(src)
		require.NoError(t, err, triton)
	}
}

// Every metric key is documented with its custom metric name and default
// target where users choose one: the autoscaling table and the configuration
// reference.
func TestEveryInferenceMetricIsDocumented(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("../docs/" + name)
		require.NoError(t, err)
		return string(b)
	}
	autoscaling, configure := read("autoscaling-and-observability.md"), read("configure.md")
	var metricRow string
	for _, line := range strings.Split(configure, "\n") {
		if strings.HasPrefix(line, "| `triton.autoscaling.metric` |") {
			metricRow = line
		}
	}
	require.NotEmpty(t, metricRow, "configure.md has no triton.autoscaling.metric row")
	for _, m := range signals.InferenceMetrics() {
		row := "| `" + m.Key + "`"
		i := strings.Index(autoscaling, row)
		require.GreaterOrEqual(t, i, 0, "autoscaling-and-observability.md: no table row for %s", m.Key)
		line, _, _ := strings.Cut(autoscaling[i:], "\n")
		assert.Contains(t, line, "`"+m.Name+"`", m.Key)
		assert.Contains(t, line, "`"+strconv.FormatFloat(m.DefaultTarget, 'f', -1, 64)+"`", m.Key)
		assert.Contains(t, metricRow, "`"+m.Key+"`", "configure.md triton.autoscaling.metric row")
		// Only the default's row is marked, right after its key.
		assert.Equal(t, m.Key == signals.DefaultInferenceMetricKey, strings.HasPrefix(line, row+" (default) |"), "autoscaling-and-observability.md row %q", line)
		assert.Equal(t, m.Key == signals.DefaultInferenceMetricKey, strings.Contains(line, "(default)"), "autoscaling-and-observability.md row %q", line)
	}
	// The configuration reference names the default in its table and its
	// example (default value, then the choices with the default marked).
	assert.True(t, strings.HasPrefix(metricRow, "| `triton.autoscaling.metric` | `"+signals.DefaultInferenceMetricKey+"` |"), "configure.md row %q", metricRow)
	def, _ := signals.LookupInferenceMetric(signals.DefaultInferenceMetricKey)
	var example []string
	for _, line := range strings.Split(configure, "\n") {
		if k := strings.TrimSpace(line); strings.HasPrefix(k, "metric: ") || strings.HasPrefix(k, "target: ") {
			example = append(example, strings.Join(strings.Fields(k), " "))
		}
	}
	require.Len(t, example, 2, "configure.md: one triton.autoscaling example with metric and target")
	assert.True(t, strings.HasPrefix(example[0], "metric: "+def.Key+" # ") && strings.Contains(example[0], " "+def.Key+" (default)"), "configure.md example %q", example[0])
	assert.True(t, strings.HasPrefix(example[1], "target: "+strconv.FormatFloat(def.DefaultTarget, 'f', -1, 64)+" # "), "configure.md example %q", example[1])
}

// The HPA asks the custom metrics API for exactly the name the adapter rule
// serves (name.as), for every metric key.
func TestTritonHPAMetricIsTheAdapterRuleName(t *testing.T) {
	for _, m := range signals.InferenceMetrics() {
		got := tritonHPAMetric(withTritonAutoscalingDefaults(inference.TritonAutoscaling{Metric: m.Key}))
		assert.Equal(t, m.Rule.Name.As, got.Name, m.Key)
		assert.Equal(t, m.TargetQuantity(m.DefaultTarget), got.TargetQuantity, m.Key)
	}
	assert.Equal(t, "50m", tritonHPAMetric(inference.TritonAutoscaling{Metric: signals.MetricQueueTimePerRequest, Target: 0.05}).TargetQuantity)
	assert.Zero(t, tritonHPAMetric(inference.TritonAutoscaling{Metric: "unknown"}))
}

// Validation refuses scaleToZero without the metrics stack or lds-service
// (validateScaleToZero); tritonKEDA, which reads both, says so itself
// rather than handing Triton no ScaledObject, should it ever be reached
// without validation.
func TestTritonKEDANeedsTheMetricsStackAndLDSService(t *testing.T) {
	cfg, err := parse(valid())
	require.NoError(t, err)
	w := cfg.Workloads
	w.Triton.ScaleToZero.Enabled = true
	w.LDSService = &inference.ServiceSpec{Namespace: "lds"}
	metrics := &observability.MetricsStack{PrometheusURL: "http://prometheus.monitoring"}

	k, err := tritonKEDA(w, metrics, nil)
	require.NoError(t, err)
	assert.Equal(t, signals.CallersWaitingQuery(w.LDSService.Namespace), k.WakeQuery)

	_, err = tritonKEDA(w, nil, nil)
	require.ErrorContains(t, err, "triton.scaleToZero needs the metrics stack (observability) and ldsService")
	w.LDSService = nil
	_, err = tritonKEDA(w, metrics, nil)
	require.ErrorContains(t, err, "triton.scaleToZero needs the metrics stack (observability) and ldsService")
}
