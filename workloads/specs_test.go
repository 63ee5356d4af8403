package workloads

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

const testCert = "arn:aws:acm:us-west-2:123456789012:certificate/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f"

// expectErrors asserts err mentions each want (all at once) or is nil when want is empty.
func expectErrors(t *testing.T, err error, want ...string) {
	t.Helper()
	if len(want) == 0 {
		require.NoError(t, err)
		return
	}
	require.Error(t, err)
	for _, w := range want {
		assert.Contains(t, err.Error(), w)
	}
}

func TestTritonSpecDefaults(t *testing.T) {
	s := TritonSpec{}.WithDefaults(Defaults{Domain: "ai.example.com", CertificateARN: testCert})
	assert.Equal(t, "triton", s.Namespace)
	assert.Equal(t, DefaultTritonImage, s.Image)
	assert.Equal(t, "models", s.ModelPrefix)
	assert.Equal(t, ModelControlNone, s.ModelControlMode)
	assert.Equal(t, Internal, s.Exposure, "internal NLB unless public is opted into")
	assert.Equal(t, "triton.ai.example.com", s.Host)
	assert.Equal(t, testCert, s.CertificateARN)
	assert.Equal(t, 1, s.GPUs)
	assert.Equal(t, 1, s.MinReplicas)
	assert.Equal(t, 3, s.MaxReplicas)
	assert.Equal(t, 300, s.ScaleDownStabilizationSeconds)
	assert.Zero(t, s.TargetGPUUtilization, "GPU-metric scaling needs a metrics adapter: off by default")
	assert.Equal(t, "monitoring", s.MetricsNamespace, "metrics are scraped from the monitoring namespace only")
	assert.Equal(t, "50Gi", s.ModelCache)
	assert.NoError(t, s.Validate("triton"))

	set := TritonSpec{Namespace: "infer", Host: "x.example.org", ModelControlMode: ModelControlPoll, MaxReplicas: 8, TargetGPUUtilization: 60}.
		WithDefaults(Defaults{Domain: "ai.example.com"})
	assert.Equal(t, "infer", set.Namespace, "never overrides a configured value")
	assert.Equal(t, "x.example.org", set.Host)
	assert.Equal(t, 60, set.RepositoryPollSeconds)
	assert.Equal(t, "nv_gpu_utilization", set.GPUMetric)
	assert.Equal(t, 8, set.MaxReplicas)

	inCluster := TritonSpec{Exposure: ClusterOnly}.WithDefaults(Defaults{Domain: "ai.example.com", CertificateARN: testCert})
	assert.Empty(t, inCluster.Host, "no DNS name without a load balancer")
	assert.Empty(t, inCluster.CertificateARN)
}

func TestTritonSpecValidate(t *testing.T) {
	ok := func(f func(*TritonSpec)) TritonSpec {
		s := TritonSpec{}.WithDefaults(Defaults{})
		f(&s)
		return s
	}
	cases := []struct {
		name string
		spec TritonSpec
		want []string
	}{
		{"defaults", ok(func(*TritonSpec) {}), nil},
		{"latest image", ok(func(s *TritonSpec) { s.Image = "nvcr.io/nvidia/tritonserver:latest" }), []string{"triton.image:", "pinned"}},
		{"untagged image", ok(func(s *TritonSpec) { s.Image = "nvcr.io/nvidia/tritonserver" }), []string{"triton.image:"}},
		{"digest image", ok(func(s *TritonSpec) { s.Image = "nvcr.io/nvidia/tritonserver@sha256:" + strings.Repeat("a", 64) }), nil},
		{"bad mode", ok(func(s *TritonSpec) { s.ModelControlMode = "auto" }), []string{"triton.modelControlMode:", `"auto" is not one of none, poll, explicit`}},
		{"models need explicit", ok(func(s *TritonSpec) { s.Models = []string{"resnet"} }), []string{"triton.models: only used with modelControlMode explicit"}},
		{"explicit with models", ok(func(s *TritonSpec) { s.ModelControlMode = ModelControlExplicit; s.Models = []string{"resnet", "bert"} }), nil},
		{"poll interval", ok(func(s *TritonSpec) { s.ModelControlMode = ModelControlPoll; s.RepositoryPollSeconds = 1 }), []string{"triton.repositoryPollSeconds: must be >= 5"}},
		{"prefix wildcard", ok(func(s *TritonSpec) { s.ModelPrefix = "models/*" }), []string{"triton.modelPrefix:"}},
		{"prefix slash", ok(func(s *TritonSpec) { s.ModelPrefix = "/models" }), []string{"triton.modelPrefix:"}},
		{"replicas", ok(func(s *TritonSpec) { s.MinReplicas = 4; s.MaxReplicas = 2 }), []string{"triton.maxReplicas: must be >= minReplicas (4), got 2"}},
		{"min zero", ok(func(s *TritonSpec) { s.MinReplicas = -1 }), []string{"triton.minReplicas: must be >= 1"}},
		{"request over limit", ok(func(s *TritonSpec) { s.Memory = "32Gi"; s.MemoryLimit = "16Gi" }), []string{"triton.memoryLimit: must be >= memory (32Gi), got 16Gi"}},
		{"bad cpu", ok(func(s *TritonSpec) { s.CPU = "two" }), []string{`triton.cpu: "two" is not a quantity`}},
		{"gpus", ok(func(s *TritonSpec) { s.GPUs = 0 }), []string{"triton.gpus: must be between 1 and 16"}},
		{"gpu target", ok(func(s *TritonSpec) { s.TargetGPUUtilization = 150 }), []string{"triton.targetGpuUtilization"}},
		{"reserved namespace", ok(func(s *TritonSpec) { s.Namespace = "kube-system" }), []string{"triton.namespace:", "reserved"}},
		{"public needs tls and cidrs", ok(func(s *TritonSpec) { s.Exposure = Public }), []string{"triton.certificateArn: exposure public needs TLS", "triton.allowedCidrs: a public endpoint needs the named CIDRs"}},
		{"public whole internet", ok(func(s *TritonSpec) {
			s.Exposure, s.CertificateARN, s.AllowedCIDRs = Public, testCert, []string{"0.0.0.0/0"}
		}), []string{"triton.allowedCidrs[0]:", "whole internet"}},
		{"public ok", ok(func(s *TritonSpec) {
			s.Exposure, s.CertificateARN, s.AllowedCIDRs = Public, testCert, []string{"203.0.113.0/24"}
		}), nil},
		{"bad exposure", ok(func(s *TritonSpec) { s.Exposure = "open" }), []string{`triton.exposure: "open" is not one of cluster, internal, public`}},
		{"cluster with host", ok(func(s *TritonSpec) { s.Exposure, s.Host = ClusterOnly, "t.example.com" }), []string{"triton.host: only used with exposure"}},
		{"bad cert", ok(func(s *TritonSpec) { s.CertificateARN = "arn:aws:iam::1:cert" }), []string{"triton.certificateArn:", "not an ACM certificate ARN"}},
		{"several at once", ok(func(s *TritonSpec) { s.GPUs = 0; s.MinReplicas = 0; s.Image = "x" }), []string{"triton.gpus", "triton.minReplicas", "triton.image"}},
		{"model cache not a size", ok(func(s *TritonSpec) { s.ModelCache = "20GB" }), []string{`triton.modelCache: "20GB" is not a size like 1Gi`}},
		{"model cache zero", ok(func(s *TritonSpec) { s.ModelCache = "0" }), []string{`triton.modelCache: "0" is too small`}},
		{"model cache", ok(func(s *TritonSpec) { s.ModelCache = "120Gi" }), nil},
		{"metrics namespace", ok(func(s *TritonSpec) { s.MetricsNamespace = "Prometheus Ops" }), []string{`triton.metricsNamespace: "Prometheus Ops" is not a namespace name`}},
		{"metrics from kube-system", ok(func(s *TritonSpec) { s.MetricsNamespace = "kube-system" }), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expectErrors(t, c.spec.Validate("triton"), c.want...) })
	}
}

func TestServiceSpec(t *testing.T) {
	base := ServiceSpec{Image: "docker.io/acme/lds-service:1.4.2"}
	d := base.WithDefaults(Defaults{Domain: "ai.example.com", CertificateARN: testCert})
	assert.Equal(t, "lds-service", d.Name)
	assert.Equal(t, "lds", d.Namespace)
	assert.Equal(t, 8080, d.Port)
	assert.Equal(t, "/healthz", d.HealthPath)
	assert.Equal(t, Internal, d.Exposure)
	assert.Equal(t, "lds-service.ai.example.com", d.Host)
	assert.Equal(t, testCert, d.CertificateARN)
	assert.Equal(t, 2, d.MinReplicas)
	require.NoError(t, d.Validate("ldsService"))

	cases := []struct {
		name string
		f    func(*ServiceSpec)
		want []string
	}{
		{"image required", func(s *ServiceSpec) { s.Image = "" }, []string{"ldsService.image: required"}},
		{"image latest", func(s *ServiceSpec) { s.Image = "acme/lds-service:latest" }, []string{"ldsService.image:", "pinned"}},
		{"image short docker hub ref", func(s *ServiceSpec) { s.Image = "acme/lds-service:2.0" }, nil},
		{"privileged port", func(s *ServiceSpec) { s.Port = 80 }, []string{"ldsService.port: must be between 1024 and 65535"}},
		{"root", func(s *ServiceSpec) { s.RunAsUser = -1 }, []string{"ldsService.runAsUser"}},
		{"settings key", func(s *ServiceSpec) { s.Settings = map[string]string{"LOG_LEVEL": "info", "bad-key": "x"} }, []string{`ldsService.settings: key "bad-key"`}},
		{"health path", func(s *ServiceSpec) { s.HealthPath = "healthz" }, []string{"ldsService.healthPath"}},
		{"reserved namespace", func(s *ServiceSpec) { s.Namespace = ArgoCDNamespace }, []string{"ldsService.namespace:", "reserved"}},
		{"public http", func(s *ServiceSpec) {
			s.Exposure, s.CertificateARN, s.AllowedCIDRs = Public, "", []string{"198.51.100.0/24"}
		}, []string{"ldsService.certificateArn: exposure public needs TLS"}},
		{"internal http allowed", func(s *ServiceSpec) { s.CertificateARN = "" }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := d
			c.f(&s)
			expectErrors(t, s.Validate("ldsService"), c.want...)
		})
	}
}

func TestArgoCDSpec(t *testing.T) {
	d := ArgoCDSpec{}.WithDefaults(Defaults{Domain: "ai.example.com", CertificateARN: testCert})
	assert.Equal(t, ClusterOnly, d.Exposure, "Argo CD is not reachable from outside the cluster unless opted in")
	assert.Empty(t, d.Host)
	assert.Equal(t, "https://argocd-server.argocd.svc.cluster.local", d.URL())
	require.NoError(t, d.Validate("argocd"))

	internal := ArgoCDSpec{Exposure: Internal}.WithDefaults(Defaults{Domain: "ai.example.com", CertificateARN: testCert})
	assert.Equal(t, "argocd.ai.example.com", internal.Host)
	assert.Equal(t, "https://argocd.ai.example.com", internal.URL())
	require.NoError(t, internal.Validate("argocd"))

	apps := ArgoCDSpec{Apps: &ArgoCDApps{RepoURL: "https://github.com/acme/platform-apps.git", Path: "clusters/dev"}}.WithDefaults(Defaults{})
	assert.Equal(t, "HEAD", apps.Apps.Revision)
	assert.Equal(t, ArgoCDNamespace, apps.Apps.Namespace, "app of apps: Applications live in argocd")
	assert.Equal(t, AutomatedSync, apps.Apps.Sync)
	gh := ArgoCDSpec{Notifications: &ArgoCDNotifications{Kind: GitHubCommitStatus}}.WithDefaults(Defaults{})
	assert.Equal(t, "https://api.github.com", gh.Notifications.URL)

	cases := []struct {
		name string
		spec ArgoCDSpec
		want []string
	}{
		{"internal needs tls", ArgoCDSpec{Exposure: Internal, Host: "argocd.example.com"}, []string{"argocd.certificateArn: exposure internal needs TLS"}},
		{"exposed needs host", ArgoCDSpec{Exposure: Internal, CertificateARN: testCert}, []string{"argocd.host: exposure internal needs a host name"}},
		{"public needs cidrs", ArgoCDSpec{Exposure: Public, Host: "argocd.example.com", CertificateARN: testCert}, []string{"argocd.allowedCidrs"}},
		{"mtime", ArgoCDSpec{AdminPasswordMtime: "yesterday"}, []string{"argocd.adminPasswordMtime"}},
		{"repo url", ArgoCDSpec{Apps: &ArgoCDApps{RepoURL: "github.com/acme/apps", Path: "apps"}}, []string{"argocd.apps.repoUrl"}},
		{"ssh repo", ArgoCDSpec{Apps: &ArgoCDApps{RepoURL: "git@github.com:acme/apps.git", Path: "apps"}}, nil},
		{"path escape", ArgoCDSpec{Apps: &ArgoCDApps{RepoURL: "https://github.com/acme/apps", Path: "../x"}}, []string{"argocd.apps.path"}},
		{"sync", ArgoCDSpec{Apps: &ArgoCDApps{RepoURL: "https://github.com/acme/apps", Path: "apps", Sync: "sometimes"}}, []string{"argocd.apps.sync"}},
		{"webhook url", ArgoCDSpec{Notifications: &ArgoCDNotifications{Kind: WebhookNotifications}}, []string{"argocd.notifications.url: the webhook URL is required"}},
		{"http webhook", ArgoCDSpec{Notifications: &ArgoCDNotifications{Kind: WebhookNotifications, URL: "http://hooks.example.com"}}, []string{"must be an https:// URL"}},
		{"kind", ArgoCDSpec{Notifications: &ArgoCDNotifications{Kind: "slack", URL: "https://x.example.com"}}, []string{"argocd.notifications.kind"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expectErrors(t, c.spec.WithDefaults(Defaults{}).Validate("argocd"), c.want...)
		})
	}
}

func TestChartVersions(t *testing.T) {
	v := ChartVersions{ArgoCD: "8.3.0"}.WithDefaults()
	assert.Equal(t, "8.3.0", v.ArgoCD)
	assert.Equal(t, DevicePluginChart.Version, v.DevicePlugin)
	assert.NoError(t, v.Validate("chartVersions"))
	v.ExternalDNS = "^1.18"
	v.MetricsServer = "latest"
	err := v.Validate("aiplatform:chartVersions")
	expectErrors(t, err, `aiplatform:chartVersions.externalDns: "^1.18" must be an exact chart version`, "aiplatform:chartVersions.metricsServer")
	for _, c := range []Chart{DevicePluginChart, MetricsServerChart, ClusterAutoscalerChart, LoadBalancerControllerChart, ExternalDNSChart, ArgoCDChart} {
		assert.NoError(t, c.Validate(), c.Name)
		assert.True(t, strings.HasPrefix(c.Repo, "https://"), c.Name)
	}
	assert.Equal(t, "9.9.9", ArgoCDChart.WithVersion("9.9.9").Version)
	assert.Equal(t, ArgoCDChart, ArgoCDChart.WithVersion(""))
}

func TestQuantitiesAndImages(t *testing.T) {
	for in, want := range map[string]float64{"500m": 0.5, "2": 2, "16Gi": 16 << 30, "1.5": 1.5, "128Mi": 128 << 20, "1k": 1000} {
		got, ok := parseQuantity(in)
		assert.True(t, ok, in)
		assert.InDelta(t, want, got, 1e-9, in)
	}
	for _, bad := range []string{"", "1 Gi", "Gi", "-1", "1gb"} {
		_, ok := parseQuantity(bad)
		assert.False(t, ok, bad)
	}
	for ref, pinned := range map[string]bool{
		"nvcr.io/nvidia/tritonserver:25.01-py3": true,
		"acme/lds:1.0":                          true,
		"localhost:5000/acme/lds:1.0":           true,
		"localhost:5000/acme/lds":               false,
		"acme/lds":                              false,
		"acme/lds:latest":                       false,
		"Acme/lds:1.0":                          false,
	} {
		assert.Equal(t, pinned, pinnedImage(ref), ref)
	}
}

func TestDockerConfigJSON(t *testing.T) {
	got := DockerConfigJSON(DockerHubRegistry, "acme", "dckr_pat_x")
	assert.JSONEq(t, `{"auths":{"https://index.docker.io/v1/":{"username":"acme","password":"dckr_pat_x","auth":"YWNtZTpkY2tyX3BhdF94"}}}`, got)
}

func TestNotificationsWebhook(t *testing.T) {
	cfg := buildNotifications(ArgoCDNotifications{Kind: WebhookNotifications, URL: "https://hooks.example.com/argocd"}, true)
	assert.Equal(t, "aiplatform", cfg.Service)
	svc := cfg.Notifiers["service.webhook.aiplatform"]
	assert.Contains(t, svc, "url: https://hooks.example.com/argocd")
	assert.Contains(t, svc, "Bearer $notifications-token", "the token is referenced from the secret, never inlined")
	for _, trigger := range []string{"on-sync-succeeded", "on-sync-failed", "on-health-degraded"} {
		require.Contains(t, cfg.Triggers, "trigger."+trigger)
		tmpl := "app-" + strings.TrimPrefix(trigger, "on-")
		assert.Contains(t, cfg.Triggers["trigger."+trigger], tmpl)
		assert.Contains(t, cfg.Templates, "template."+tmpl)
		assert.Contains(t, cfg.Templates["template."+tmpl], "aiplatform:")
	}
	assert.Contains(t, cfg.Triggers["trigger.on-sync-failed"], "['Error', 'Failed']")
	assert.Contains(t, cfg.Triggers["trigger.on-health-degraded"], "'Degraded'")
	assert.Equal(t, []map[string]any{{"recipients": []string{"aiplatform"}, "triggers": NotificationTriggers}}, cfg.Subscriptions)

	noToken := buildNotifications(ArgoCDNotifications{Kind: WebhookNotifications, URL: "https://hooks.example.com/argocd"}, false)
	assert.NotContains(t, noToken.Notifiers["service.webhook.aiplatform"], "Authorization")
}

func TestNotificationsGitHubCommitStatus(t *testing.T) {
	cfg := buildNotifications(ArgoCDNotifications{Kind: GitHubCommitStatus, URL: "https://api.github.com"}, true)
	assert.Equal(t, "github", cfg.Service)
	assert.Contains(t, cfg.Notifiers["service.webhook.github"], "token $notifications-token")
	for trigger, state := range map[string]string{"sync-succeeded": "success", "sync-failed": "failure", "health-degraded": "error"} {
		tmpl := cfg.Templates["template.app-"+trigger]
		assert.Contains(t, tmpl, "/repos/{{call .repo.FullNameByRepoURL .app.spec.source.repoURL}}/statuses/", trigger)
		var doc struct {
			Webhook map[string]struct{ Method, Path, Body string } `yaml:"webhook"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(tmpl), &doc))
		var body map[string]string
		require.NoError(t, json.Unmarshal([]byte(doc.Webhook["github"].Body), &body), "the body must be JSON")
		assert.Equal(t, state, body["state"], trigger)
		assert.Equal(t, "POST", doc.Webhook["github"].Method)
	}
}

// The ephemeral-storage limit leaves room for the container's logs on top of
// the model cache, or the kubelet would evict a pod whose cache is full.
func TestTritonEphemeralLimit(t *testing.T) {
	for in, want := range map[string]string{"50Gi": "51Gi", "20Gi": "21Gi", "512Mi": "1536Mi", "100G": "98704826Ki", "1": "1073741825", "1Ti": "1025Gi"} {
		assert.Equal(t, want, tritonEphemeralLimit(in), in)
		req, _ := parseQuantity(in)
		lim, ok := parseQuantity(tritonEphemeralLimit(in))
		require.True(t, ok, in)
		assert.Equal(t, float64(tritonLogHeadroom), lim-req, in)
	}
}

func TestPodPeerValidate(t *testing.T) {
	good := PodPeer{Namespace: "triton", PodLabels: map[string]string{"app.kubernetes.io/name": "triton"}, Ports: []int{8000, 8001}}
	require.NoError(t, good.Validate("egressTo[0]"))
	cases := []struct {
		name string
		f    func(*PodPeer)
		want []string
	}{
		{"namespace", func(p *PodPeer) { p.Namespace = "Triton" }, []string{`egressTo[0].namespace: "Triton"`}},
		{"every pod", func(p *PodPeer) { p.PodLabels = nil }, []string{"egressTo[0].podLabels: name the pods"}},
		{"no ports", func(p *PodPeer) { p.Ports = nil }, []string{"egressTo[0].ports: at least one port"}},
		{"bad port", func(p *PodPeer) { p.Ports = []int{8000, 70000} }, []string{"egressTo[0].ports[1]: 70000 is not a TCP port"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := good
			c.f(&p)
			expectErrors(t, p.Validate("egressTo[0]"), c.want...)
		})
	}
	peer := tritonPeer("triton", "triton")
	assert.Equal(t, []int{TritonHTTPPort, TritonGRPCPort}, peer.Ports, "clients get the inference ports, not metrics")
	assert.Equal(t, map[string]string{"app.kubernetes.io/name": "triton", "app.kubernetes.io/instance": "triton"}, peer.PodLabels,
		"the Triton Service's selector")
	assert.NoError(t, peer.Validate("peer"))
}
