// Package closedloop is the closed-loop autoscaling test tier (issue 20).
// When complete it runs the loop the platform relies on with the real
// controllers: a real kube-apiserver, kube-controller-manager (the HPA and
// Deployment controllers) and kube-scheduler, kwok for the GPU nodes and
// pods, a real Prometheus scraping the pods, and the metrics adapter serving
// the HPA's custom metric; a Triton load simulator plays the inference pods
// under a load trace, and each scenario reports figures (latency
// percentiles, rejected requests, replica changes, pod utilisation, time to
// recover) rather than one pass/fail step. So far this module holds only the
// simulator, package tritonsim: a per-pod Triton queue model on a simulated
// clock that serves Triton's metric names and types; the set of ready pods is
// given by the caller (reading it from the API server, and the cluster,
// Prometheus and adapter around it, come later). It is its own Go module so
// that `go test ./...` at the repository root never builds it; run it with
// `cd tests/closedloop && go test ./...`.
package closedloop
