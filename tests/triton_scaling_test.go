package tests

import (
	"fmt"
	"testing"
	"time"

	"github.com/aiplatform/infra/stacks"
	"github.com/aiplatform/infra/tests/mocks"
	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/inference"
	"github.com/aiplatform/infra/workloads/observability"
	"github.com/aiplatform/infra/workloads/observability/signals"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const podMonitorType = "kubernetes:monitoring.coreos.com/v1:PodMonitor"

// tritonArgs are valid TritonArgs around spec, for running the component alone.
func tritonArgs(spec inference.TritonSpec) *inference.TritonArgs {
	return &inference.TritonArgs{
		Spec: spec,
		Cluster: workloads.ClusterInfo{
			Name: pulumi.String("c"), OIDCProviderArn: pulumi.String("arn:aws:iam::123456789012:oidc-provider/x"),
			OIDCIssuer: pulumi.String(mocks.OIDCIssuer), Region: mocks.Region,
		},
		ModelBucket: inference.BucketRef{Name: pulumi.String("b"), Arn: pulumi.String("arn:aws:s3:::b"), KMSKeyArn: pulumi.String("arn:aws:kms:us-west-2:123456789012:key/k")},
		VPCCIDR:     "10.0.0.0/16",
	}
}

// runTriton runs NewTriton alone under the mocks.
func runTriton(t *testing.T, args *inference.TritonArgs) (*mocks.Recorder, error) {
	t.Helper()
	return mocks.Run(baseConfig(), func(ctx *pulumi.Context) error {
		_, err := inference.NewTriton(ctx, "triton", args)
		return err
	})
}

func monitoredTriton() *inference.TritonArgs {
	args := tritonArgs(inference.TritonSpec{})
	args.HPAMetric = inference.PodsMetric{Name: "triton_requests_in_flight", TargetQuantity: "6"}
	args.Monitoring = &inference.TritonMonitoring{
		Interval:   15 * time.Second,
		ServerArgs: []string{"--metrics-config=summary_latencies=true"},
	}
	return args
}

// The HPA scales on the inference metric first and CPU second; it takes
// the larger of the two replica counts (Kubernetes docs, "Scaling on
// multiple metrics").
func TestTritonHPAScalesOnInferenceLoadAndCPU(t *testing.T) {
	rec, err := runTriton(t, monitoredTriton())
	require.NoError(t, err)
	hpa := plain(find(t, rec, hpaType, "triton").Inputs)
	assert.Equal(t, []any{
		map[string]any{"type": "Pods", "pods": map[string]any{
			"metric": map[string]any{"name": "triton_requests_in_flight"},
			"target": map[string]any{"type": "AverageValue", "averageValue": "6"},
		}},
		map[string]any{"type": "Resource", "resource": map[string]any{
			"name":   "cpu",
			"target": map[string]any{"type": "Utilization", "averageUtilization": 70.0},
		}},
	}, path(hpa, "spec", "metrics"))

	up := path(hpa, "spec", "behavior", "scaleUp").(map[string]any)
	assert.Equal(t, 0.0, up["stabilizationWindowSeconds"], "scale-up reacts at once")
	assert.Equal(t, "Max", up["selectPolicy"])
	assert.ElementsMatch(t, []any{
		map[string]any{"type": "Percent", "value": 100.0, "periodSeconds": 15.0},
		map[string]any{"type": "Pods", "value": 4.0, "periodSeconds": 15.0},
	}, up["policies"])
	down := path(hpa, "spec", "behavior", "scaleDown").(map[string]any)
	assert.Equal(t, 300.0, down["stabilizationWindowSeconds"], "scale-down is stabilised (scaleDownStabilizationSeconds)")
	assert.Equal(t, []any{map[string]any{"type": "Pods", "value": 1.0, "periodSeconds": 120.0}}, down["policies"])

	// Without a served custom metric the HPA scales on CPU alone: an
	// unserved metric would block every scale-down.
	rec, err = runTriton(t, tritonArgs(inference.TritonSpec{}))
	require.NoError(t, err)
	metrics := path(plain(find(t, rec, hpaType, "triton").Inputs), "spec", "metrics").([]any)
	require.Len(t, metrics, 1)
	assert.Equal(t, "cpu", path(metrics, 0, "resource", "name"))
}

// The PodMonitor scrapes the named metrics port of exactly the Service's
// pods, in Triton's namespace, at the configured interval.
func TestTritonPodMonitor(t *testing.T) {
	rec, err := runTriton(t, monitoredTriton())
	require.NoError(t, err)
	pm := plain(find(t, rec, podMonitorType, "triton").Inputs)
	assert.Equal(t, "monitoring.coreos.com/v1", pm["apiVersion"])
	assert.Equal(t, "PodMonitor", pm["kind"])
	assert.Equal(t, "triton", path(pm, "metadata", "namespace"), "in Triton's namespace; no namespaceSelector: its own")
	assert.Nil(t, path(pm, "spec", "namespaceSelector"))

	svc := plain(find(t, rec, k8sServiceType, "triton").Inputs)
	assert.Equal(t, path(svc, "spec", "selector"), path(pm, "spec", "selector", "matchLabels"), "the Service's pods")
	d := plain(find(t, rec, deploymentType, "triton").Inputs)
	podLabels := path(d, "spec", "template", "metadata", "labels").(map[string]any)
	for k, v := range path(pm, "spec", "selector", "matchLabels").(map[string]any) {
		assert.Equal(t, v, podLabels[k], "pod label %s", k)
	}

	assert.Equal(t, []any{map[string]any{"port": "metrics", "path": "/metrics", "interval": "15s"}}, path(pm, "spec", "podMetricsEndpoints"))
	_, c := tritonPod(t, rec)
	assert.Contains(t, c["ports"], map[string]any{"name": "metrics", "containerPort": 8002.0, "protocol": "TCP"}, "the endpoint names this port")
	assert.Contains(t, c["args"], "--metrics-config=summary_latencies=true", "p50/p95/p99 need Triton's latency summaries")
	assert.Nil(t, path(d, "spec", "template", "metadata", "annotations"), "no prometheus.io annotations: nothing reads them")

	rec, err = runTriton(t, tritonArgs(inference.TritonSpec{}))
	require.NoError(t, err)
	assert.Empty(t, rec.ByType(podMonitorType), "no monitoring, no PodMonitor (its CRD may not exist)")
	_, c = tritonPod(t, rec)
	assert.NotContains(t, c["args"], "--metrics-config=summary_latencies=true")
}

func TestTritonArgsValidateMetricAndMonitoring(t *testing.T) {
	args := monitoredTriton()
	args.HPAMetric = inference.PodsMetric{Name: "queue time", TargetQuantity: "-1"}
	args.Monitoring.Interval = 1500 * time.Millisecond
	args.Monitoring.ServerArgs = []string{"summary_latencies=true"}
	_, err := runTriton(t, args)
	require.Error(t, err)
	for _, want := range []string{
		`hpaMetric.name: "queue time" is not a metric name`,
		`hpaMetric.targetQuantity: "-1" is not a positive quantity`,
		"monitoring.interval: must be whole seconds, at least 1s, got 1.5s",
		`monitoring.serverArgs[0]: "summary_latencies=true" is not a --flag=value argument`,
	} {
		assert.Contains(t, err.Error(), want)
	}
}

// hpaMetric is the HPA's one metric of type typ (Pods, Resource).
func hpaMetric(t *testing.T, hpa map[string]any, typ string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, m := range path(hpa, "spec", "metrics").([]any) {
		if m := m.(map[string]any); m["type"] == typ {
			found = append(found, m)
		}
	}
	require.Len(t, found, 1, "metrics of type %s", typ)
	return found[0]
}

// The HPA asks the custom metrics API for exactly a name the registered
// prometheus-adapter rules serve (name.as), for every metric key, with the
// key's target; both sides come from observability's one table.
func TestTritonHPAMetricIsServedByTheAdapter(t *testing.T) {
	for _, m := range signals.InferenceMetrics() {
		t.Run(m.Key, func(t *testing.T) {
			rec := runProgram(t, with(baseConfig(), "aiplatform:triton", `{"autoscaling":{"metric":"`+m.Key+`"}}`))
			hpa := plain(find(t, rec, hpaType, "triton").Inputs)
			pods := hpaMetric(t, hpa, "Pods")
			served := map[any]bool{}
			for _, rule := range path(chartInputs(t, rec, "prometheus-adapter"), "values", "rules", "custom").([]any) {
				served[path(rule, "name", "as")] = true
			}
			name := path(pods, "pods", "metric", "name")
			assert.True(t, served[name], "the adapter serves %v; served: %v", name, served)
			assert.Equal(t, m.Name, name)
			assert.Equal(t, m.TargetQuantity(m.DefaultTarget), path(pods, "pods", "target", "averageValue"))
			assert.Equal(t, 70.0, path(hpaMetric(t, hpa, "Resource"), "resource", "target", "averageUtilization"), "CPU stays the second metric")
		})
	}
	// A target with its metric reaches the HPA as a quantity.
	rec := runProgram(t, with(baseConfig(), "aiplatform:triton", `{"autoscaling":{"metric":"concurrency","target":0.2}}`))
	pods := hpaMetric(t, plain(find(t, rec, hpaType, "triton").Inputs), "Pods")
	assert.Equal(t, "triton_requests_in_flight", path(pods, "pods", "metric", "name"))
	assert.Equal(t, "200m", path(pods, "pods", "target", "averageValue"))
}

// A target without its metric was written for the previous default (queue
// time in seconds); read as requests in flight, 0.05 would hold Triton at
// maxReplicas. The program refuses it before registering anything.
func TestTritonTargetWithoutMetricFailsBeforeAnyResource(t *testing.T) {
	rec, err := mocks.Run(with(baseConfig(), "aiplatform:triton", `{"autoscaling":{"target":0.05}}`), stacks.Run)
	require.Error(t, err)
	require.Contains(t, err.Error(), "aiplatform:triton.autoscaling.target: 0.05 is set without aiplatform:triton.autoscaling.metric")
	require.Empty(t, rec.All(), "nothing may be registered when the config is invalid")
	require.Empty(t, rec.Invokes(), "nothing may be looked up when the config is invalid")
}

// With the metrics stack, Triton is scraped through a PodMonitor created
// after the stack (its chart installs the CRD); without it, no PodMonitor,
// no summaries, and the HPA scales on CPU alone.
func TestTritonScrapingFollowsTheMetricsStack(t *testing.T) {
	rec := runProgram(t, baseConfig())
	pm := find(t, rec, podMonitorType, "triton")
	// Depending on a component is depending on its children: the chart
	// that installs the monitoring.coreos.com CRDs.
	crds := find(t, rec, chartType, "metrics").URN
	assert.True(t, dependsOn(pm, crds), "the PodMonitor waits for the metrics stack's chart")
	assert.Equal(t, fmt.Sprintf("%ds", int(signals.TritonScrapeInterval.Seconds())), path(plain(pm.Inputs), "spec", "podMetricsEndpoints", 0, "interval"))
	_, c := tritonPod(t, rec)
	for _, arg := range signals.TritonMetricsConfigArgs {
		assert.Contains(t, c["args"], arg)
	}
	assert.False(t, dependsOn(find(t, rec, "aiplatform:workloads:Triton", "triton"), crds), "Triton itself does not wait for the metrics stack")

	off := runProgram(t, with(baseConfig(), "aiplatform:observability", `{"enabled":false}`))
	assert.Empty(t, off.ByType(podMonitorType))
	_, c = tritonPod(t, off)
	for _, arg := range signals.TritonMetricsConfigArgs {
		assert.NotContains(t, c["args"], arg)
	}
	metrics := path(plain(find(t, off, hpaType, "triton").Inputs), "spec", "metrics").([]any)
	require.Len(t, metrics, 1, "nothing serves the custom metric: CPU only")
	assert.Equal(t, "Resource", path(metrics, 0, "type"))
}

func TestTritonMetricsNamespaceMustAdmitThePrometheus(t *testing.T) {
	_, err := mocks.Run(with(baseConfig(), "aiplatform:triton", `{"metricsNamespace":"prometheus"}`), stacks.Run)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `aiplatform:triton.metricsNamespace: "prometheus" would block the metrics stack's Prometheus, which scrapes from "monitoring"`)
	assert.Equal(t, observability.MonitoringNamespace, inference.DefaultMetricsNamespace)
}
