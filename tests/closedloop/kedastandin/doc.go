// Package kedastandin is a stand-in for KEDA's operator and metrics server
// (KEDA v2.20.2, the keda-2.20.2 chart the platform installs when
// triton.scaleToZero is on), for the closed loop: KEDA's operator cannot
// be built within CI's time budget, as the Cluster Autoscaler stand-in
// (package nodegroups) replaces CA's.
//
// From the program's ScaledObject (Parse) it provides what KEDA does, read
// from these sources (tag v2.20.2 of github.com/kedacore/keda):
//
//   - HPA: the HorizontalPodAutoscaler KEDA creates and owns
//     (controllers/keda/hpa.go, newHPAForScaledObject and
//     getScaledObjectMetricSpecs; getHPAName), which the real
//     kube-controller-manager then runs: minReplicas max(minReplicaCount, 1)
//     (apis/keda/v1alpha1/scaledobject_types.go, GetHPAMinReplicas), one
//     External metric "s<trigger index>-prometheus" per prometheus trigger
//     (pkg/scalers/prometheus_scaler.go GetMetricSpecForScaling;
//     pkg/scalers/scaler.go GenerateMetricNameWithIndex) selected by the
//     label scaledobject.keda.sh/name, one Resource metric per cpu or
//     memory trigger (pkg/scalers/cpu_memory_scaler.go
//     GetMetricSpecForScaling), and advanced.horizontalPodAutoscalerConfig's
//     behavior.
//   - MetricsServer: external.metrics.k8s.io/v1beta1 for those External
//     metrics, behind the API server's aggregator like KEDA's metrics
//     server (pkg/provider/provider.go GetExternalMetric): every request runs
//     the trigger's PromQL query at that moment (prometheus_scaler.go
//     ExecutePromQuery: an empty result is 0 with ignoreNullValues, the
//     default; more than one series is an error).
//   - Operator: KEDA's scale loop for one ScaledObject, every
//     pollingInterval (pkg/scaling/scale_handler.go startScaleLoop and
//     getScaledObjectState: a trigger is active when its value exceeds its
//     activationThreshold, cpu and memory triggers never count), deciding
//     with RequestScale (pkg/scaling/executor/scale_scaledobjects.go: from 0
//     to max(minReplicaCount, 1) when a trigger is active, to
//     idleReplicaCount once none has been active for cooldownPeriod). The
//     HPA does the rest; at 0 replicas it does nothing (the HPA controller
//     disables scaling when the target's replicas are 0).
//
// What it leaves out, because the program's ScaledObject uses none of it:
// fallback, paused annotations, scalingModifiers, ScaledJobs, metric
// caching (useCachedMetrics), authentication to Prometheus, and KEDA's
// admission webhook beyond the replica-count checks Parse makes. Parse
// refuses a field it does not model rather than ignoring it.
//
// Time: the Operator runs on the caller's clock (the loop's simulated
// time, as the autoscaler stand-in does), so pollingInterval and
// cooldownPeriod are compressed with everything else; the PromQL windows
// of the queries, which the real Prometheus evaluates on the wall clock,
// are the caller's to compress (the loop does it as for the adapter rules
// and alerts).
package kedastandin
