// Package metricsapi runs the metrics path of the closed loop: the
// program's PodMonitor turned into the scrape config prometheus-operator
// would generate (PrometheusConfig), a real Prometheus that scrapes the load
// simulator's pods (StartPrometheus), a real prometheus-adapter serving the
// program's rules as custom.metrics.k8s.io (AdapterConfig, StartAdapter),
// and a metrics.k8s.io stand-in for metrics-server that serves the CPU and
// memory a scenario says each pod uses (StartResourceMetrics).
//
// Every time constant of the path is divided by the loop's time-compression
// factor (cluster.Compress): scrape intervals and timeouts, PromQL range
// windows, the adapter's relist interval, Prometheus' lookback delta and
// discovery reload interval, and the stand-in's window. One cannot be:
// Prometheus' service-discovery sender backs off up to 5s between target
// updates (discovery/manager.go, updatert, set by no flag), which only
// delays when a new pod's first sample appears.
//
// Standard library only; the processes are the binaries .ci/tools.sh builds.
package metricsapi
