package cluster

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// serviceIP is the first address of --service-cluster-ip-range, the
// "kubernetes" Service's ClusterIP; the apiserver serving certificate names it.
const (
	serviceCIDR = "10.96.0.0/24"
	serviceIP   = "10.96.0.1"
)

// ports are the loopback ports of one cluster's processes.
type ports struct {
	etcdClient, etcdPeer, apiserver, controllerManager, scheduler, kwok int
}

func etcdArgs(dir string, p ports) []string {
	client := fmt.Sprintf("http://127.0.0.1:%d", p.etcdClient)
	peer := fmt.Sprintf("http://127.0.0.1:%d", p.etcdPeer)
	return []string{
		"--name=closedloop",
		"--data-dir=" + filepath.Join(dir, "etcd"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=closedloop=" + peer,
		"--logger=zap",
		"--log-level=warn",
	}
}

func apiserverArgs(k *pki, dir string, p ports) []string {
	return []string{
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", p.etcdClient),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(p.apiserver),
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file=" + k.servingCertFile,
		"--tls-private-key-file=" + k.servingKeyFile,
		"--client-ca-file=" + k.caFile,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + k.saPubFile,
		"--service-account-signing-key-file=" + k.saKeyFile,
		"--service-cluster-ip-range=" + serviceCIDR,
		"--authorization-mode=RBAC",
		"--allow-privileged=true",
		// ServiceAccount: no serviceaccount-controller runs to create each
		// namespace's "default" ServiceAccount, so the plugin would reject
		// every pod. TaintNodesByCondition
		// (plugin/pkg/admission/nodetaint) taints every new Node
		// node.kubernetes.io/not-ready:NoSchedule and only the
		// node-lifecycle-controller, which does not run here, removes it; with
		// the plugin on, no pod would ever schedule.
		"--disable-admission-plugins=ServiceAccount,TaintNodesByCondition",
		// Loopback is not a valid endpoint address for the "kubernetes" Service.
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		// kwok v0.8.0 watches with resourceVersion=0 (pkg/utils/informer/
		// event.go Option.setup). With WatchList on (beta, default on in
		// 1.34) kube-apiserver turns such a watch into a watch-list
		// (k8s.io/apimachinery pkg/apis/meta/internalversion/defaults.go
		// SetListOptionsDefaults), which the watch cache refuses unless etcd
		// supports RequestWatchProgress (k8s.io/apiserver pkg/storage/cacher/
		// cacher.go Watch); the etcd .ci/tools.sh installs (Debian's 3.4.23)
		// does not. Every kwok watch then fails at once and kwok sees changes
		// only when its reflector re-lists, seconds later (measured: pods
		// Ready 0.7-5.9s after a 500ms annotation). Clients that ask for a
		// watch-list themselves fall back to list+watch either way.
		"--feature-gates=WatchList=false",
		// Aggregation (front proxy): kube-apiserver authenticates to
		// aggregated API servers with this client certificate and passes the
		// user in these headers; they trust it through the front-proxy CA.
		"--requestheader-client-ca-file=" + k.frontProxyCAFile,
		"--requestheader-allowed-names=" + frontProxyClientName,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + k.proxyClientCertFile,
		"--proxy-client-key-file=" + k.proxyClientKeyFile,
		// The default, spelled out because RegisterAPIService depends on it:
		// with aggregator routing off, kube-apiserver resolves an APIService's
		// Service through ResolveCluster (cmd/kube-apiserver/app/server.go,
		// aggregatorapiserver.NewClusterIPServiceResolver), which for a
		// Service of type ExternalName returns
		// https://<spec.externalName>:<APIService port> without looking for
		// endpoints (k8s.io/apiserver v0.34.4 pkg/util/proxy/proxy.go,
		// ResolveCluster, case v1.ServiceTypeExternalName). With routing on,
		// ResolveEndpoint needs EndpointSlices, which nothing publishes here.
		"--enable-aggregator-routing=false",
		"--v=0",
	}
}

// hpaTimeFlags are kube-controller-manager's time constants of the HPA
// loop. Each is passed as Compress(Default, F). Flag names:
// k8s.io/kubernetes v1.34.4 cmd/kube-controller-manager/app/options/hpacontroller.go;
// defaults: pkg/controller/podautoscaler/config/v1alpha1/defaults.go.
//
//	flag                                                   upstream default   F=20
//	--horizontal-pod-autoscaler-sync-period                15s                750ms
//	--horizontal-pod-autoscaler-initial-readiness-delay    30s                1.5s
//	--horizontal-pod-autoscaler-cpu-initialization-period  5m                 15s
//	--horizontal-pod-autoscaler-downscale-stabilization    5m                 15s
//
// The downscale stabilization flag is only the default for HPAs whose
// spec.behavior.scaleDown sets no stabilizationWindowSeconds; behaviour
// windows and policy periods in the HPA spec are the harness's to compress.
var hpaTimeFlags = []struct {
	Flag    string
	Default time.Duration
}{
	{"--horizontal-pod-autoscaler-sync-period", 15 * time.Second},
	{"--horizontal-pod-autoscaler-initial-readiness-delay", 30 * time.Second},
	{"--horizontal-pod-autoscaler-cpu-initialization-period", 5 * time.Minute},
	{"--horizontal-pod-autoscaler-downscale-stabilization", 5 * time.Minute},
}

// controllers are the kube-controller-manager controllers the loop needs, by
// their canonical names (k8s.io/kubernetes v1.34.4
// cmd/kube-controller-manager/names/controller_names.go). The rest stay off:
// none of them takes part in the loop, and each costs CPU. That includes
// serviceaccount-token-controller, which would need
// --service-account-private-key-file (app/controllermanager.go
// startServiceAccountTokenController disables itself without one) and
// node-lifecycle-controller (see TaintNodesByCondition in apiserverArgs).
var controllers = []string{
	"deployment-controller",                // Deployment -> ReplicaSets (the HPA scales the Deployment)
	"replicaset-controller",                // ReplicaSet -> Pods
	"horizontal-pod-autoscaler-controller", // the loop
	"garbage-collector-controller",         // ReplicaSets and Pods of deleted owners
	// Force-deletes pods bound to Nodes that no longer exist, after a fixed
	// 40s quarantine (pkg/controller/podgc/gc_controller.go quarantineTime,
	// not a flag, so not compressed): a node-group stand-in should drain a
	// node (delete its pods) before deleting it, as Cluster Autoscaler does.
	"pod-garbage-collector-controller",
}

func controllerManagerArgs(kubeconfig string, p ports, f float64) []string {
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--leader-elect=false",
		"--controllers=" + strings.Join(controllers, ","),
		// Served only for /healthz, which Start polls (controllers register
		// their health checks once started). --secure-port=0 would be accepted
		// (k8s.io/apiserver pkg/server/options/serving.go Validate: Required
		// is false for the controller manager) but leaves nothing to poll.
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(p.controllerManager),
		// Client-side throttling (default 20 QPS, burst 30) would stretch the
		// compressed loop.
		"--kube-api-qps=200",
		"--kube-api-burst=400",
		"--v=1",
	}
	for _, t := range hpaTimeFlags {
		args = append(args, t.Flag+"="+Compress(t.Default, f).String())
	}
	return args
}

// schedulerConfig is kube-scheduler's KubeSchedulerConfiguration
// (k8s.io/kube-scheduler config/v1 types.go). Its one change from the
// defaults is the backoff of a pod that failed to schedule:
// podInitialBackoffSeconds 1 and podMaxBackoffSeconds 10 by default, in
// wall seconds and whole seconds only, so they cannot be compressed. A
// pending GPU pod would wait up to 10 s of wall time (150 s of loop time at
// factor 15) after its node is Ready; 1 s caps the distortion at one
// factor's worth (15 s of loop time), and the figures name it.
func schedulerConfig(kubeconfig string) string {
	return `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: "` + kubeconfig + `"
leaderElection:
  leaderElect: false
podInitialBackoffSeconds: 1
podMaxBackoffSeconds: 1
`
}

func schedulerArgs(kubeconfig, configFile string, p ports) []string {
	return []string{
		// The client connection and leader election are in the config file
		// (the deprecated --kubeconfig/--leader-elect flags are ignored with
		// --config, cmd/kube-scheduler/app/options/deprecated.go).
		"--config=" + configFile,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		// Served only for /readyz, which Start polls.
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(p.scheduler),
		"--v=1",
	}
}

// kwokArgs: flags from sigs.k8s.io/kwok v0.8.0 pkg/kwok/cmd/root.go, and
// --config from pkg/config/flags.go.
func kwokArgs(kubeconfig, stagesFile string, p ports) []string {
	return []string{
		"--kubeconfig=" + kubeconfig,
		// The kwok binary has no built-in stages: it plays exactly the Stage
		// documents of its config and fails with "no stages found" without
		// any (pkg/kwok/cmd/root.go runE); the stage sets under kustomize/
		// are added by kwokctl, not by kwok.
		"--config=" + stagesFile,
		"--manage-all-nodes=true",
		// No Lease per node: with leases kwok only plays pods on nodes whose
		// lease it holds (pkg/kwok/controllers/controller.go
		// initNodeLeaseController); one kwok needs none.
		"--node-lease-duration-seconds=0",
		// Every node's InternalIP (and so every pod's hostIP): all of 127/8
		// is this machine.
		"--node-ip=127.0.0.1",
		// Serves /healthz once the controllers run; Start polls it.
		"--server-address=" + fmt.Sprintf("127.0.0.1:%d", p.kwok),
	}
}
