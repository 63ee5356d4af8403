package inference

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aiplatform/infra/workloads"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// tritonMetricsPortName names the metrics container port; the PodMonitor
// scrapes it by name.
const tritonMetricsPortName = "metrics"

// PodsMetric is a per-pod metric of the custom metrics API (custom.metrics.k8s.io)
// and the per-pod average an HPA aims for.
type PodsMetric struct {
	// Name is the metric's name in the custom metrics API: the name.as of
	// the prometheus-adapter rule that serves it.
	Name string
	// TargetQuantity is the per-pod average as a Kubernetes quantity ("50m").
	TargetQuantity string
}

// ExternalMetric is an External metric the HPA scales on beside the Pods
// metric: a value for the whole Deployment, from the external metrics API,
// aimed at TargetQuantity per pod (target type AverageValue: the HPA asks
// for ceil(value / target) replicas, however many it has now).
type ExternalMetric struct {
	// Name is the metric's name in the external metrics API (the adapter's
	// external rule's name.as).
	Name string
	// Selector is the metric's label selector (matchLabels), e.g. the
	// namespace of the callers whose series it sums.
	Selector map[string]string
	// TargetQuantity is the per-pod average as a Kubernetes quantity.
	TargetQuantity string
}

func (m *ExternalMetric) validate(path string) error {
	if m == nil {
		return nil
	}
	errs := metricNameAndTarget(path, m.Name, m.TargetQuantity, "90")
	if len(m.Selector) == 0 {
		// An empty selector would sum the series of every namespace.
		errs = append(errs, fmt.Errorf("%s.selector: empty; name the callers' series, e.g. namespace: lds", path))
	}
	return errors.Join(errs...)
}

// metricNamePattern: a Prometheus metric name, which is what the adapter's
// name.as produces.
var metricNamePattern = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func (m PodsMetric) validate(path string) error {
	if m == (PodsMetric{}) {
		return nil
	}
	return errors.Join(metricNameAndTarget(path, m.Name, m.TargetQuantity, "50m")...)
}

// metricNameAndTarget checks what every HPA metric of Triton's has: a
// metric name and a positive target quantity (example: one that fits it).
func metricNameAndTarget(path, name, target, example string) []error {
	var errs []error
	if !metricNamePattern.MatchString(name) {
		errs = append(errs, fmt.Errorf("%s.name: %q is not a metric name", path, name))
	}
	if q, ok := workloads.ParseQuantity(target); !ok || q <= 0 {
		errs = append(errs, fmt.Errorf("%s.targetQuantity: %q is not a positive quantity like %s", path, target, example))
	}
	return errs
}

// TritonMonitoring is how the platform's Prometheus (the prometheus-operator
// of kube-prometheus-stack) scrapes Triton's metrics port. The PodMonitor
// needs no selector label: the platform's Prometheus selects every
// PodMonitor of the cluster (observability's chart values set
// podMonitorSelectorNilUsesHelmValues false; the chart's default would
// select only release: <release name>).
type TritonMonitoring struct {
	// Interval between scrapes, in whole seconds.
	Interval time.Duration
	// ServerArgs are tritonserver arguments the metrics' consumers need
	// (signals.TritonMetricsConfigArgs: the latency summaries).
	ServerArgs []string
	// DependsOn installs the PodMonitor CRD (the kube-prometheus-stack
	// chart): the PodMonitor waits for it, the rest of Triton does not.
	DependsOn []pulumi.Resource
}

func (m TritonMonitoring) validate(path string) error {
	var errs []error
	if m.Interval < time.Second || m.Interval%time.Second != 0 {
		errs = append(errs, fmt.Errorf("%s.interval: must be whole seconds, at least 1s, got %s", path, m.Interval))
	}
	for i, arg := range m.ServerArgs {
		if !strings.HasPrefix(arg, "--") || strings.ContainsAny(arg, " \t\n") {
			errs = append(errs, fmt.Errorf("%s.serverArgs[%d]: %q is not a --flag=value argument", path, i, arg))
		}
	}
	return errors.Join(errs...)
}

// serverArgs are the tritonserver arguments monitoring needs; none without it.
func (m *TritonMonitoring) serverArgs() []string {
	if m == nil {
		return nil
	}
	return m.ServerArgs
}

// tritonPodMonitorSpec scrapes the metrics port of Triton's pods in the
// PodMonitor's own namespace (podMonitorSpec).
//
// A PodMonitor, not a ServiceMonitor: the metrics port is deliberately not
// on Triton's Service, which is the NLB's, and a ServiceMonitor can only
// scrape ports a Service exposes. honorLabels stays false, as Triton's own
// labels (model, version) do not collide with the target labels.
func tritonPodMonitorSpec(selector pulumi.StringMap, interval time.Duration) pulumi.Map {
	return podMonitorSpec(selector, tritonMetricsPortName, "/metrics", interval)
}

// podMonitorSpec scrapes path on the named container port of the selected
// pods in the PodMonitor's own namespace (no namespaceSelector: the
// monitor's namespace). The operator adds the target labels namespace, pod
// and container to every PodMonitor target (prometheus-operator
// pkg/prometheus/promcfg.go, generatePodMonitorConfig, v0.93.0), the labels
// the adapter rules and alerts group by.
func podMonitorSpec(selector pulumi.StringMap, port, path string, interval time.Duration) pulumi.Map {
	return pulumi.Map{
		"selector": pulumi.Map{"matchLabels": selector},
		"podMetricsEndpoints": pulumi.Array{pulumi.Map{
			"port":     pulumi.String(port),
			"path":     pulumi.String(path),
			"interval": pulumi.String(fmt.Sprintf("%ds", interval/time.Second)),
		}},
	}
}

// newTritonPodMonitor registers the PodMonitor in Triton's namespace.
func newTritonPodMonitor(ctx *pulumi.Context, name string, namespace pulumi.StringInput, selector pulumi.StringMap, m TritonMonitoring, opts ...pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	return newPodMonitor(ctx, name, tritonName, namespace, tritonPodMonitorSpec(selector, m.Interval), append(opts, pulumi.DependsOn(m.DependsOn))...)
}

// newPodMonitor registers a PodMonitor named objectName, labelled like the
// component's other objects.
func newPodMonitor(ctx *pulumi.Context, name, objectName string, namespace pulumi.StringInput, spec pulumi.Map, opts ...pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	return apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String("monitoring.coreos.com/v1"),
		Kind:        pulumi.String("PodMonitor"),
		Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(objectName), Namespace: namespace, Labels: workloads.CommonLabels(objectName, name)},
		OtherFields: kubernetes.UntypedArgs{"spec": spec},
	}, opts...)
}
