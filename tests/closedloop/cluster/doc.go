// Package cluster runs a small Kubernetes control plane with the controllers
// of the closed autoscaling loop, all on 127.0.0.1 and all real: etcd,
// kube-apiserver (with API aggregation), kube-controller-manager (Deployment,
// ReplicaSet, HPA, garbage collectors), kube-scheduler and kwok, which plays
// the kubelet of every Node the caller creates.
//
// Pods never run. kwok makes a pod Running and Ready, with a podIP from its
// node's spec.podCIDR, a delay after the harness annotates it with
// ReadyAfterAnnotation; nodes get podCIDRs in 127/8, so one local server
// answers every pod's IP (see the closed-loop contract).
//
// Time is compressed by Options.Compression: every time constant the
// cluster owns is divided by it (Compress); FormatPromDuration writes a
// compressed duration for Prometheus and PromQL.
//
// Start needs the binaries .ci/tools.sh installs (Binaries, DefaultBinDir).
package cluster
