package tests

import (
	"encoding/json"
	"testing"

	"github.com/aiplatform/infra/tests/mocks"
	"github.com/aiplatform/infra/workloads/inference"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withTriton returns the dev stack with its triton key changed by edit.
func withTriton(t *testing.T, cfg map[string]string, edit func(triton map[string]any)) map[string]string {
	t.Helper()
	var triton map[string]any
	require.NoError(t, json.Unmarshal([]byte(cfg["aiplatform:triton"]), &triton))
	edit(triton)
	b, err := json.Marshal(triton)
	require.NoError(t, err)
	return with(cfg, "aiplatform:triton", string(b))
}

func callsPerPod(v any) func(map[string]any) {
	return func(triton map[string]any) {
		a, _ := triton["autoscaling"].(map[string]any)
		if a == nil {
			a = map[string]any{}
		}
		a["callsPerPod"] = v
		triton["autoscaling"] = a
	}
}

func noScaleToZero(triton map[string]any) { delete(triton, "scaleToZero") }

// adapterExternalRules is prometheus-adapter's rules.external as the
// program gives the chart, or nil.
func adapterExternalRules(t *testing.T, rec *mocks.Recorder) any {
	t.Helper()
	return path(plain(find(t, rec, chartType, "prometheus-adapter").Inputs), "values", "rules", "external")
}

// triton.autoscaling.callsPerPod without scale to zero: the program's HPA
// reads the callers' offered load as an External metric beside the Pods
// metric, and prometheus-adapter serves it from an external rule that is not
// namespaced (the HPA is in Triton's namespace, the callers in lds-service's).
func TestOfferedLoadIsAnExternalMetricOfTheHPA(t *testing.T) {
	rec := runProgram(t, withTriton(t, devStack(t), func(tr map[string]any) { noScaleToZero(tr); callsPerPod(90)(tr) }))
	hpa := plain(find(t, rec, hpaType, "triton").Inputs)
	metrics := path(hpa, "spec", "metrics").([]any)
	require.Len(t, metrics, 3, "the Pods metric, the offered load and CPU")
	assert.Equal(t, "Pods", path(metrics[0], "type"))
	offered := metrics[1].(map[string]any)
	assert.Equal(t, "External", offered["type"])
	assert.Equal(t, "lds_triton_calls_per_second", path(offered, "external", "metric", "name"))
	assert.Equal(t, map[string]any{"namespace": "lds"}, path(offered, "external", "metric", "selector", "matchLabels"))
	assert.Equal(t, map[string]any{"type": "AverageValue", "averageValue": "90"}, path(offered, "external", "target"))

	rules, ok := adapterExternalRules(t, rec).([]any)
	require.True(t, ok, "prometheus-adapter has rules.external")
	require.Len(t, rules, 1)
	assert.Equal(t, map[string]any{
		"seriesQuery":  `lds_triton_calls_total{namespace!=""}`,
		"resources":    map[string]any{"namespaced": false},
		"name":         map[string]any{"matches": "^lds_triton_calls_total$", "as": "lds_triton_calls_per_second"},
		"metricsQuery": "sum(irate(<<.Series>>{<<.LabelMatchers>>}[1m])) or vector(0)",
	}, rules[0])

	// Without callsPerPod: neither, so the adapter's chart registers no
	// external.metrics.k8s.io APIService.
	rec = runProgram(t, withTriton(t, devStack(t), noScaleToZero))
	metrics = path(plain(find(t, rec, hpaType, "triton").Inputs), "spec", "metrics").([]any)
	assert.Len(t, metrics, 2, "the Pods metric and CPU")
	assert.Nil(t, adapterExternalRules(t, rec))
}

// With scale to zero, KEDA's ScaledObject owns the HPA and KEDA serves
// external.metrics.k8s.io: the offered load is a third prometheus trigger,
// and the adapter registers no external APIService of its own.
func TestOfferedLoadIsAKEDATriggerWithScaleToZero(t *testing.T) {
	rec := runProgram(t, withTriton(t, devStack(t), callsPerPod(90)))
	triggers := path(plain(find(t, rec, scaledObjectType, "triton").Inputs), "spec", "triggers").([]any)
	require.Len(t, triggers, 4)
	offered := triggers[2].(map[string]any)
	assert.Equal(t, "offered-load", offered["name"])
	assert.Equal(t, "AverageValue", offered["metricType"])
	assert.Equal(t, `sum(irate(lds_triton_calls_total{namespace="lds"}[1m])) or vector(0)`, path(offered, "metadata", "query"))
	assert.Equal(t, "90", path(offered, "metadata", "threshold"))
	assert.Equal(t, "cpu", path(triggers[3], "type"))
	assert.Nil(t, adapterExternalRules(t, rec), "KEDA's APIService is v1beta1.external.metrics.k8s.io too")
}

func TestCallsPerPodRefusals(t *testing.T) {
	dev := devStack(t)
	cases := []struct {
		name string
		cfg  map[string]string
		want []string
	}{
		{"negative", withTriton(t, dev, callsPerPod(-1)),
			[]string{"aiplatform:triton.autoscaling.callsPerPod: must be a number of requests per second > 0 (or 0 for off), got -1"}},
		{"below the adapter's milli-units", withTriton(t, dev, callsPerPod(0.0004)),
			[]string{"aiplatform:triton.autoscaling.callsPerPod: 0.0004 is below the resolution prometheus-adapter serves"}},
		{"without lds-service", without(withTriton(t, dev, func(tr map[string]any) { noScaleToZero(tr); callsPerPod(90)(tr) }), "aiplatform:ldsService"),
			[]string{"aiplatform:triton.autoscaling.callsPerPod: needs ldsService", "remove triton.autoscaling.callsPerPod"}},
		{"without the metrics stack", with(withTriton(t, dev, func(tr map[string]any) { noScaleToZero(tr); callsPerPod(90)(tr) }), "aiplatform:observability", `{"enabled":false}`),
			[]string{"aiplatform:triton.autoscaling.callsPerPod: needs the metrics stack", "observability.enabled is false"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { requireStackRefuses(t, c.cfg, c.want) })
	}
}

// NewTriton's own checks of the offered load, for callers other than the
// stack: an External metric needs the Pods metric beside it (both come
// from the metrics stack) and a positive target, and is not for KEDA, whose
// ScaledObject owns the HPA; KEDA's offered trigger needs its query and
// threshold together.
func TestTritonOfferedLoadArgsRefusals(t *testing.T) {
	offered := func() *inference.ExternalMetric {
		return &inference.ExternalMetric{Name: "lds_triton_calls_per_second", Selector: map[string]string{"namespace": "lds"}, TargetQuantity: "93"}
	}
	keda := func() *inference.TritonKEDA {
		return &inference.TritonKEDA{PrometheusAddress: "http://prometheus:9090", LoadQuery: "sum(x)", LoadThreshold: 6, WakeQuery: "sum(y)",
			DependsOn: []pulumi.Resource{}}
	}
	cases := []struct {
		name string
		edit func(a *inference.TritonArgs)
		want string
	}{
		{"without the Pods metric", func(a *inference.TritonArgs) { a.HPAMetric = inference.PodsMetric{}; a.HPAOffered = offered() },
			"hpaOffered: only beside hpaMetric"},
		{"a zero target", func(a *inference.TritonArgs) { a.HPAOffered = offered(); a.HPAOffered.TargetQuantity = "0" },
			`hpaOffered.targetQuantity: "0" is not a positive quantity`},
		{"not a metric name", func(a *inference.TritonArgs) { a.HPAOffered = offered(); a.HPAOffered.Name = "calls per second" },
			`hpaOffered.name: "calls per second" is not a metric name`},
		{"no selector", func(a *inference.TritonArgs) { a.HPAOffered = offered(); a.HPAOffered.Selector = nil },
			"hpaOffered.selector: empty; name the callers' series"},
		{"with KEDA", func(a *inference.TritonArgs) {
			a.Spec.ScaleToZero = inference.TritonScaleToZero{Enabled: true, IdleSeconds: 1800}
			a.KEDA, a.HPAOffered = keda(), offered()
		}, "hpaOffered: not with keda"},
		{"KEDA's offered query without a threshold", func(a *inference.TritonArgs) {
			a.Spec.ScaleToZero = inference.TritonScaleToZero{Enabled: true, IdleSeconds: 1800}
			a.KEDA = keda()
			a.KEDA.OfferedQuery = "sum(rate(lds_triton_calls_total[1m]))"
		}, "keda: offeredQuery and offeredThreshold (> 0) come together"},
		{"KEDA's offered threshold below its resolution", func(a *inference.TritonArgs) {
			a.Spec.ScaleToZero = inference.TritonScaleToZero{Enabled: true, IdleSeconds: 1800}
			a.KEDA = keda()
			a.KEDA.OfferedQuery, a.KEDA.OfferedThreshold = "sum(rate(lds_triton_calls_total[1m]))", 0.0004
		}, "keda.offeredThreshold: 0.0004 is below the thousandths KEDA gives the HPA its target in"},
		{"KEDA's load threshold below its resolution", func(a *inference.TritonArgs) {
			a.Spec.ScaleToZero = inference.TritonScaleToZero{Enabled: true, IdleSeconds: 1800}
			a.KEDA = keda()
			a.KEDA.LoadThreshold = 0.0002
		}, "keda.loadThreshold: 0.0002 is below the thousandths"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := monitoredTriton()
			c.edit(args)
			rec, err := runTriton(t, args)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.Empty(t, rec.All(), "refused before anything is registered")
		})
	}
	// And the valid one: the External metric between the Pods metric and CPU.
	args := monitoredTriton()
	args.HPAOffered = offered()
	rec, err := runTriton(t, args)
	require.NoError(t, err)
	metrics := path(plain(find(t, rec, hpaType, "triton").Inputs), "spec", "metrics").([]any)
	require.Len(t, metrics, 3)
	assert.Equal(t, "External", path(metrics[1], "type"))
}
