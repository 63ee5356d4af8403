package stacks

import (
	"fmt"
	"strings"

	"github.com/aiplatform/infra/infra"
	"github.com/aiplatform/infra/workloads/inference"
	"github.com/aiplatform/infra/workloads/observability"
	"github.com/aiplatform/infra/workloads/observability/signals"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The inference package cannot import observability (concern packages are
// independent; tests/deps_test.go), so the stack joins them: it fills
// triton.autoscaling from observability's metric table, checks the key
// against it, and hands Triton the resolved metric (name and target
// quantity) and the scrape settings. The HPA's metric name is the adapter
// rule's name.as itself.

// withTritonAutoscalingDefaults fills the metric key and, for a known
// metric, its default target; only what is unset. A target without a metric
// keeps the metric empty, for tritonMetricUnnamed to refuse: it was written
// for the previous default, in another unit.
func withTritonAutoscalingDefaults(a inference.TritonAutoscaling) inference.TritonAutoscaling {
	if a.Metric == "" && a.Target == 0 {
		a.Metric = signals.DefaultInferenceMetricKey
	}
	if m, ok := signals.LookupInferenceMetric(a.Metric); ok && a.Target == 0 {
		a.Target = m.DefaultTarget
	}
	return a
}

// validateTritonAutoscaling checks what needs the metric table (the target's
// sign is TritonSpec.Validate's): the key exists, the target survives the
// adapter's milli-units, and the metric can exceed it.
func validateTritonAutoscaling(path string, a inference.TritonAutoscaling) []error {
	var errs []error
	// The offered load is not in the metric table, but its value reaches
	// the HPA through the same adapter, or through KEDA's metrics server,
	// whose scalers report with GenerateMetricInMili (pkg/scalers/scaler.go);
	// one bound for both paths: the adapter's thousandths.
	if c := a.CallsPerPod; c > 0 && c < AdapterResolution {
		errs = append(errs, fmt.Errorf("%s.callsPerPod: %v is below the resolution prometheus-adapter serves metrics in (%v: it rounds values to thousandths), "+
			"so the offered load would read 0; use at least %v: the requests per second one pod serves within the latency objective, times about 0.7", path, c, AdapterResolution, AdapterResolution))
	}
	return append(errs, validateTritonMetric(path, a)...)
}

// validateTritonMetric checks triton.autoscaling.metric and target against
// the metric table.
func validateTritonMetric(path string, a inference.TritonAutoscaling) []error {
	if err := tritonMetricUnnamed(path, a); err != nil {
		return []error{err}
	}
	m, ok := signals.LookupInferenceMetric(a.Metric)
	if !ok {
		return []error{fmt.Errorf("%s.metric: %q is not one of %s", path, a.Metric, strings.Join(signals.InferenceMetricKeys(), ", "))}
	}
	// prometheus-adapter v0.12.0 serves every value in milli-units,
	// resource.NewMilliQuantity(int64(value*1000.0)) (pkg/custom-provider/
	// provider.go), so the HPA never sees a value below 0.001: a smaller
	// target would compare against a metric that reads 0.
	if a.Target > 0 && a.Target < AdapterResolution {
		return []error{fmt.Errorf("%s.target: %s is below the resolution prometheus-adapter serves metrics in (%s: it rounds values to thousandths), "+
			"so the metric would read 0; use at least %v", path, withUnit(a.Target, m.Unit), withUnit(AdapterResolution, m.Unit), AdapterResolution)}
	}
	// The HPA scales up only when the pods' average exceeds the target by
	// more than its tolerance, so a bounded metric (a utilisation, at most
	// 1) needs a target below max/(1+tolerance), or it never adds pods.
	if limit := m.Max / (1 + HPATolerance); m.Max > 0 && a.Target >= limit {
		return []error{fmt.Errorf("%s.target: %v is too high for %s, which reads at most %v: the HPA scales up only above %v × target, "+
			"so it would never add pods; use a value below %.3g (a fraction, not a percentage: 0.7 for 70 %%)",
			path, a.Target, m.Key, m.Max, 1+HPATolerance, limit)}
	}
	return nil
}

// previousDefaultInferenceMetricKey is what the Triton HPA scaled on by
// default before signals.DefaultInferenceMetricKey: a target in seconds.
const previousDefaultInferenceMetricKey = signals.MetricQueueTimePerRequest

// tritonMetricUnnamed refuses a target set without its metric. Such a
// target was written for the previous default, queue time in seconds; read
// as requests in flight, the current default (0.05 in flight per pod), it
// would hold Triton at maxReplicas. Nil when the metric is named or the
// target unset.
func tritonMetricUnnamed(path string, a inference.TritonAutoscaling) error {
	if a.Metric != "" || a.Target == 0 {
		return nil
	}
	def, _ := signals.LookupInferenceMetric(signals.DefaultInferenceMetricKey)
	return fmt.Errorf("%s.target: %v is set without %s.metric; name the metric, because the default changed from %s (a target in seconds of queue time) "+
		"to %s (requests in flight per pod), so %v would be read as requests in flight, not seconds; the metric is one of %s. "+
		"To keep the old behaviour set `autoscaling: {metric: %s, target: %v}` (`pulumi config set --path '%s.metric' %s`); "+
		"to scale on requests in flight set `autoscaling: {metric: %s}` (default target %v) or `autoscaling: {metric: %s, target: <requests in flight per pod>}`",
		path, a.Target, path, previousDefaultInferenceMetricKey, def.Key, a.Target, strings.Join(signals.InferenceMetricKeys(), ", "),
		previousDefaultInferenceMetricKey, a.Target, path, previousDefaultInferenceMetricKey, def.Key, def.DefaultTarget, def.Key)
}

// withUnit writes a value in a metric's unit for people: seconds as
// "0.05 s", a ratio or a count bare ("0.05"), never with the unit "1".
func withUnit(v float64, unit string) string {
	if unit == signals.UnitDimensionless || unit == "" {
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("%v %s", v, unit)
}

// AdapterResolution is the smallest non-zero value prometheus-adapter
// v0.12.0 serves (milli-units).
const AdapterResolution = 0.001

// HPATolerance is the HPA's default tolerance: it changes the replica count
// only when the metric's ratio to the target is off 1 by more than this
// (kube-controller-manager --horizontal-pod-autoscaler-tolerance, default
// 0.1; Kubernetes docs, Horizontal Pod Autoscaling, "Algorithm details").
// The Triton HPA sets no behavior tolerance of its own.
const HPATolerance = 0.1

// tritonGPUCapacity is how many Triton replicas of gpus GPUs each the GPU
// node groups hold at their maxSize: a replica's GPUs are on one node, so a
// node holds gpusPerNode / gpus whole replicas.
func tritonGPUCapacity(groups []infra.NodeGroupSpec, gpus int) int {
	if gpus < 1 {
		gpus = 1
	}
	n := 0
	for _, g := range groups {
		if g.Kind == infra.GPUNodes {
			n += g.MaxSize * (max(g.GPUsPerNode, 1) / gpus)
		}
	}
	return n
}

// tritonHPAMetric is the custom metric the Triton HPA asks for: the name
// the adapter rule serves it under and the target as a quantity.
// Validated config only (an unknown key yields no metric).
func tritonHPAMetric(a inference.TritonAutoscaling) inference.PodsMetric {
	m, ok := signals.LookupInferenceMetric(a.Metric)
	if !ok {
		return inference.PodsMetric{}
	}
	// The rule's own name.as: what the adapter serves, by construction.
	return inference.PodsMetric{Name: m.Rule.Name.As, TargetQuantity: m.TargetQuantity(a.Target)}
}

// withTritonMetrics has Triton scale on its inference metric and be
// scraped when the metrics stack is installed: the HPA's metric, the scrape
// interval and the server flags the dashboards need are observability's,
// and the PodMonitor waits for the stack (its chart installs the CRD).
// Without the stack (nil), CPU only and no PodMonitor.
func withTritonMetrics(args *inference.TritonArgs, a inference.TritonAutoscaling, metrics *observability.MetricsStack) {
	if metrics == nil {
		return
	}
	args.HPAMetric = tritonHPAMetric(a)
	args.Monitoring = &inference.TritonMonitoring{
		Interval:   signals.TritonScrapeInterval,
		ServerArgs: append([]string(nil), signals.TritonMetricsConfigArgs...),
		DependsOn:  []pulumi.Resource{metrics.Chart}, // the chart, not the component: see deployWorkloads
	}
}

// offeredLoadOnHPA: the Triton HPA reads the callers' offered load
// (triton.autoscaling.callsPerPod) from prometheus-adapter's external rule.
// Not with scale to zero: KEDA's ScaledObject then owns the HPA and reads
// it as a trigger, and KEDA serves external.metrics.k8s.io itself (one
// APIService, one server).
func offeredLoadOnHPA(w WorkloadsConfig) bool {
	return w.Triton.On() && w.Triton.Autoscaling.CallsPerPod > 0 && w.LDSService != nil && w.Observability.On() && !w.Triton.ScaleToZero.Enabled
}

// adapterExternalRules are prometheus-adapter's external rules: the
// offered load when the Triton HPA reads it, else none (and so no
// external.metrics.k8s.io APIService from the adapter's chart).
func adapterExternalRules(w WorkloadsConfig) []signals.AdapterRule {
	if !offeredLoadOnHPA(w) {
		return nil
	}
	return []signals.AdapterRule{signals.OfferedLoadRule()}
}

// tritonOffered is the HPA's External metric for the offered load, or nil.
func tritonOffered(w WorkloadsConfig) *inference.ExternalMetric {
	if !offeredLoadOnHPA(w) {
		return nil
	}
	return &inference.ExternalMetric{
		Name:           signals.OfferedLoadMetric,
		Selector:       map[string]string{signals.LabelNamespace: w.LDSService.Namespace},
		TargetQuantity: signals.Quantity(w.Triton.Autoscaling.CallsPerPod),
	}
}

// tritonKEDA is what Triton's ScaledObject reads when it scales to zero
// (triton.scaleToZero): the inference metric summed over Triton's pods
// against the same per-pod target as the HPA, and lds-service's calls that
// found no ready Triton as the wake signal. Nil when Triton does not scale
// to zero. validateWorkloads refuses scaleToZero without the metrics stack
// or lds-service, which this needs; should a caller skip validation, this
// says so instead of installing a ScaledObject that can never wake Triton.
func tritonKEDA(w WorkloadsConfig, metrics *observability.MetricsStack, keda pulumi.Resource) (*inference.TritonKEDA, error) {
	if metrics == nil || w.LDSService == nil {
		return nil, fmt.Errorf("triton.scaleToZero needs the metrics stack (observability) and ldsService: the ScaledObject reads Triton's load and lds-service's waiting calls from Prometheus (validateScaleToZero refuses this config)")
	}
	m, _ := signals.LookupInferenceMetric(w.Triton.Autoscaling.Metric)
	k := &inference.TritonKEDA{
		PrometheusAddress: fmt.Sprintf("%s:%d", metrics.PrometheusURL, observability.PrometheusPort),
		LoadQuery:         m.SumQuery(fmt.Sprintf("=%q", w.Triton.Namespace)),
		LoadThreshold:     w.Triton.Autoscaling.Target,
		WakeQuery:         signals.CallersWaitingQuery(w.LDSService.Namespace),
		DependsOn:         []pulumi.Resource{keda},
	}
	if c := w.Triton.Autoscaling.CallsPerPod; c > 0 {
		k.OfferedQuery, k.OfferedThreshold = signals.OfferedLoadQuery(w.LDSService.Namespace), c
	}
	return k, nil
}

// removedKeys are settings earlier releases read, with what replaced them:
// the parser rejects them as unknown, and this says what to do instead.
var removedKeys = map[string]string{
	"triton.targetGpuUtilization": tritonGPUMetricRemoved,
	"triton.gpuMetric":            tritonGPUMetricRemoved,
}

const tritonGPUMetricRemoved = "removed: nothing served the GPU metric it named; Triton now scales on an " +
	"inference-load metric, triton.autoscaling.metric (" + signals.DefaultInferenceMetricKey + " by default) with triton.autoscaling.target, " +
	"and on CPU (docs/autoscaling-and-observability.md, Triton autoscaling); delete the key, or to scale on GPU utilisation set " +
	"triton.autoscaling.metric " + signals.MetricGPUUtilization + " and triton.autoscaling.target as a fraction (70 % is 0.7)"

// removedKeyError is the migration hint for an object field the parser
// rejected as unknown (encoding/json: `json: unknown field "name"`), or nil.
func removedKeyError(key string, err error) error {
	field, ok := strings.CutPrefix(err.Error(), `json: unknown field "`)
	if !ok {
		return nil
	}
	path := key + "." + strings.TrimSuffix(field, `"`)
	if hint, ok := removedKeys[path]; ok {
		return fmt.Errorf("%s:%s: %s", Project, path, hint)
	}
	return nil
}
