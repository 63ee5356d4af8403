// Package signals holds the platform's observability signals as plain Go values:
// the PromQL behind the Triton HPA's custom metrics (prometheus-adapter
// rules), the PrometheusRule alert groups, and the Grafana dashboards. The
// components that install kube-prometheus-stack, prometheus-adapter and
// dcgm-exporter consume these values, so the HPA, the adapter, the alerts
// and the dashboards cannot drift apart.
//
// It imports only the standard library (no Pulumi, no
// Prometheus), so every package that needs a metric name stays cheap to
// build. The queries are parsed and evaluated against recorded Triton
// series by the separate module tests/promql, which links Prometheus's
// parser, TSDB and rule engine.
//
// Labels the queries rely on:
//   - Triton series: namespace and pod of the Triton pod (the target labels a
//     ServiceMonitor or PodMonitor attaches), model and version (Triton's own,
//     core src/constants.h kMetricsLabelModelName/Version).
//   - dcgm-exporter series: gpu, UUID, Hostname, and the GPU's pod, namespace
//     and container from its Kubernetes pod mapping. These three collide with
//     the target labels, so the dcgm-exporter ServiceMonitor needs
//     honorLabels: true (DCGMHonorLabels); the chart's default, false, renames
//     them to exported_pod and exported_namespace. Only GPUs assigned to a
//     pod carry dcgm-exporter's own pod labels; an idle GPU's series keeps
//     the target's (the exporter pod in AgentsNamespace), which the per-pod
//     panels leave out.
//   - kube-state-metrics series: namespace, pod, deployment,
//     horizontalpodautoscaler, node, and the node labels listed in
//     KubeStateMetricsLabelsAllowlist.
package signals
