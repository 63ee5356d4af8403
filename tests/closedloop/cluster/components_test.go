package cluster

import (
	"slices"
	"strings"
	"testing"
)

// The HPA's time constants reach kube-controller-manager compressed (the
// defaults of hpaTimeFlags divided by 20, written out here).
func TestControllerManagerArgsCompressHPATimes(t *testing.T) {
	args := controllerManagerArgs("/k/kubeconfig", ports{}, 20)
	for _, want := range []string{
		"--horizontal-pod-autoscaler-sync-period=750ms",
		"--horizontal-pod-autoscaler-initial-readiness-delay=1.5s",
		"--horizontal-pod-autoscaler-cpu-initialization-period=15s",
		"--horizontal-pod-autoscaler-downscale-stabilization=15s",
		"--leader-elect=false",
		"--kubeconfig=/k/kubeconfig",
		"--controllers=deployment-controller,replicaset-controller,horizontal-pod-autoscaler-controller,garbage-collector-controller,pod-garbage-collector-controller",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("kube-controller-manager args lack %s:\n%s", want, strings.Join(args, "\n"))
		}
	}
}

func TestAPIServerArgsAggregation(t *testing.T) {
	k := &pki{frontProxyCAFile: "/p/fp-ca.crt", proxyClientCertFile: "/p/fp.crt", proxyClientKeyFile: "/p/fp.key"}
	args := apiserverArgs(k, "/d", ports{})
	for _, want := range []string{
		"--requestheader-client-ca-file=/p/fp-ca.crt",
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=/p/fp.crt",
		"--proxy-client-key-file=/p/fp.key",
		"--enable-aggregator-routing=false",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("kube-apiserver args lack %s", want)
		}
	}
}

func TestKwokStagesGateReadinessOnTheAnnotation(t *testing.T) {
	for _, want := range []string{
		`key: '.metadata.annotations["closedloop.aiplatform.io/ready-after-ms"]'`,
		`expression: '.metadata.annotations["closedloop.aiplatform.io/ready-after-ms"] + "ms"'`,
		"PodIPWith .spec.nodeName",
	} {
		if !strings.Contains(kwokStages, want) {
			t.Errorf("kwok stages lack %s", want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want []string // substrings of the error; none: valid
	}{
		{"defaults", Options{Dir: "/d"}.withDefaults(), nil},
		{"compressed", Options{Dir: "/d", Compression: 20}.withDefaults(), nil},
		{"no dir", Options{}.withDefaults(), []string{"Options.Dir: required"}},
		{"slowed down", Options{Dir: "/d", Compression: 0.5}.withDefaults(), []string{"Options.Compression: must be a finite number >= 1", "got 0.5"}},
		{"both", Options{Compression: -3}.withDefaults(), []string{"Options.Dir", "Options.Compression"}},
	} {
		err := tc.o.Validate()
		if len(tc.want) == 0 {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: no error, want %q", tc.name, tc.want)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
	}
}

func TestObjectPath(t *testing.T) {
	obj := func(apiVersion, kind, ns, name string) map[string]any {
		meta := map[string]any{}
		if name != "" {
			meta["name"] = name
		}
		if ns != "" {
			meta["namespace"] = ns
		}
		return map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta}
	}
	for _, tc := range []struct {
		obj  map[string]any
		want string // path, or "error: substring"
	}{
		{obj("apps/v1", "Deployment", "triton", "server"), "/apis/apps/v1/namespaces/triton/deployments/server"},
		{obj("v1", "Pod", "", "p"), "/api/v1/namespaces/default/pods/p"},
		{obj("v1", "Node", "", "gpu-1"), "/api/v1/nodes/gpu-1"},
		{obj("autoscaling/v2", "HorizontalPodAutoscaler", "triton", "h"), "/apis/autoscaling/v2/namespaces/triton/horizontalpodautoscalers/h"},
		{obj("apiregistration.k8s.io/v1", "APIService", "", "v1beta1.custom.metrics.k8s.io"), "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.custom.metrics.k8s.io"},
		{obj("v1", "Node", "default", "n"), "error: is cluster-scoped; remove metadata.namespace"},
		{obj("example.com/v1", "Widget", "", "w"), `error: kind "Widget" of group "example.com" is not in the resources table`},
		{obj("apps/v1", "Pod", "", "p"), `error: kind "Pod" of group "apps"`},
		{obj("", "", "", ""), "error: apiVersion: required"},
		{obj("v1", "Pod", "", ""), "error: metadata.name: required"},
	} {
		got, err := objectPath(tc.obj)
		if want, ok := strings.CutPrefix(tc.want, "error: "); ok {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("objectPath(%v) = %q, %v; want error with %q", tc.obj, got, err, want)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("objectPath(%v) = %q, %v; want %q", tc.obj, got, err, tc.want)
		}
	}
}

func TestAPIServiceName(t *testing.T) {
	for group, want := range map[string]string{
		"custom.metrics.k8s.io":         "apiservice-custom-metrics-k8s-io",
		"test.closedloop.io":            "apiservice-test-closedloop-io",
		strings.Repeat("a", 60) + ".io": "apiservice-" + strings.Repeat("a", 52),
	} {
		if got := apiServiceName(group); got != want {
			t.Errorf("apiServiceName(%q) = %q, want %q", group, got, want)
		}
	}
}

// A pod that failed to schedule is retried after at most 1 s of wall time
// (the defaults, 1 s and 10 s, cannot be compressed: whole seconds only).
func TestSchedulerConfigShortensTheBackoff(t *testing.T) {
	cfg := schedulerConfig("/tmp/kc")
	for _, want := range []string{"kind: KubeSchedulerConfiguration", "podInitialBackoffSeconds: 1\n", "podMaxBackoffSeconds: 1\n", "leaderElect: false", `kubeconfig: "/tmp/kc"`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("scheduler config lacks %q:\n%s", want, cfg)
		}
	}
	args := strings.Join(schedulerArgs("/tmp/kc", "/tmp/s.yaml", ports{}), " ")
	if !strings.Contains(args, "--config=/tmp/s.yaml") || strings.Contains(args, "--leader-elect") {
		t.Errorf("scheduler args: %s", args)
	}
}
