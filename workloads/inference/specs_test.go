package inference

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/internal/wltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTritonSpecDefaults(t *testing.T) {
	s := TritonSpec{}.WithDefaults(workloads.Defaults{Domain: "ai.example.com", CertificateARN: wltest.TestCert})
	assert.Equal(t, "triton", s.Namespace)
	assert.Equal(t, DefaultTritonImage, s.Image)
	assert.Equal(t, "models", s.ModelPrefix)
	assert.Equal(t, ModelControlNone, s.ModelControlMode)
	assert.Equal(t, workloads.Internal, s.Exposure, "internal NLB unless public is opted into")
	assert.Equal(t, "triton.ai.example.com", s.Host)
	assert.Equal(t, wltest.TestCert, s.CertificateARN)
	assert.Equal(t, 1, s.GPUs)
	assert.Equal(t, 1, s.MinReplicas)
	assert.Equal(t, 3, s.MaxReplicas)
	assert.Equal(t, 300, s.ScaleDownStabilizationSeconds)
	assert.Zero(t, s.Autoscaling, "the metric table is observability's: the stack fills triton.autoscaling")
	assert.Equal(t, "monitoring", s.MetricsNamespace, "metrics are scraped from the monitoring namespace only")
	assert.Equal(t, "50Gi", s.ModelCache)
	assert.NoError(t, s.Validate("triton"))

	set := TritonSpec{Namespace: "infer", Host: "x.example.org", ModelControlMode: ModelControlPoll, MaxReplicas: 8,
		Autoscaling: TritonAutoscaling{Metric: "queueToComputeRatio", Target: 2}}.
		WithDefaults(workloads.Defaults{Domain: "ai.example.com"})
	assert.Equal(t, "infer", set.Namespace, "never overrides a configured value")
	assert.Equal(t, "x.example.org", set.Host)
	assert.Equal(t, 60, set.RepositoryPollSeconds)
	assert.Equal(t, TritonAutoscaling{Metric: "queueToComputeRatio", Target: 2}, set.Autoscaling)
	assert.Equal(t, 8, set.MaxReplicas)

	assert.Zero(t, s.ScaleToZero, "Triton keeps minReplicas up unless scaleToZero is turned on")
	idle := TritonSpec{ScaleToZero: TritonScaleToZero{Enabled: true}}.WithDefaults(workloads.Defaults{})
	assert.Equal(t, DefaultScaleToZeroIdleSeconds, idle.ScaleToZero.IdleSeconds)

	inCluster := TritonSpec{Exposure: workloads.ClusterOnly}.WithDefaults(workloads.Defaults{Domain: "ai.example.com", CertificateARN: wltest.TestCert})
	assert.Empty(t, inCluster.Host, "no DNS name without a load balancer")
	assert.Empty(t, inCluster.CertificateARN)
}

func TestTritonSpecValidate(t *testing.T) {
	ok := func(f func(*TritonSpec)) TritonSpec {
		s := TritonSpec{}.WithDefaults(workloads.Defaults{})
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
		{"negative target", ok(func(s *TritonSpec) { s.Autoscaling.Target = -0.05 }), []string{"triton.autoscaling.target: must be a number > 0", "got -0.05"}},
		{"NaN target", ok(func(s *TritonSpec) { s.Autoscaling.Target = math.NaN() }), []string{"triton.autoscaling.target: must be a number > 0", "got NaN"}},
		{"infinite target", ok(func(s *TritonSpec) { s.Autoscaling.Target = math.Inf(1) }), []string{"triton.autoscaling.target: must be a number > 0"}},
		{"unset target is the metric's default", ok(func(s *TritonSpec) { s.Autoscaling = TritonAutoscaling{Metric: "anything"} }), nil},
		{"target", ok(func(s *TritonSpec) { s.Autoscaling.Target = 0.2 }), nil},
		{"reserved namespace", ok(func(s *TritonSpec) { s.Namespace = "kube-system" }), []string{"triton.namespace:", "reserved"}},
		{"public needs tls and cidrs", ok(func(s *TritonSpec) { s.Exposure = workloads.Public }), []string{"triton.certificateArn: exposure public needs TLS", "triton.allowedCidrs: a public endpoint needs the named CIDRs"}},
		{"public whole internet", ok(func(s *TritonSpec) {
			s.Exposure, s.CertificateARN, s.AllowedCIDRs = workloads.Public, wltest.TestCert, []string{"0.0.0.0/0"}
		}), []string{"triton.allowedCidrs[0]:", "whole internet"}},
		{"public ok", ok(func(s *TritonSpec) {
			s.Exposure, s.CertificateARN, s.AllowedCIDRs = workloads.Public, wltest.TestCert, []string{"203.0.113.0/24"}
		}), nil},
		{"bad exposure", ok(func(s *TritonSpec) { s.Exposure = "open" }), []string{`triton.exposure: "open" is not one of cluster, internal, public`}},
		{"cluster with host", ok(func(s *TritonSpec) { s.Exposure, s.Host = workloads.ClusterOnly, "t.example.com" }), []string{"triton.host: only used with exposure"}},
		{"bad cert", ok(func(s *TritonSpec) { s.CertificateARN = "arn:aws:iam::1:cert" }), []string{"triton.certificateArn:", "not an ACM certificate ARN"}},
		{"several at once", ok(func(s *TritonSpec) { s.GPUs = 0; s.MinReplicas = 0; s.Image = "x" }), []string{"triton.gpus", "triton.minReplicas", "triton.image"}},
		{"model cache not a size", ok(func(s *TritonSpec) { s.ModelCache = "20GB" }), []string{`triton.modelCache: "20GB" is not a size like 1Gi`}},
		{"model cache zero", ok(func(s *TritonSpec) { s.ModelCache = "0" }), []string{`triton.modelCache: "0" is too small`}},
		{"model cache", ok(func(s *TritonSpec) { s.ModelCache = "120Gi" }), nil},
		{"metrics namespace", ok(func(s *TritonSpec) { s.MetricsNamespace = "Prometheus Ops" }), []string{`triton.metricsNamespace: "Prometheus Ops" is not a namespace name`}},
		{"metrics from kube-system", ok(func(s *TritonSpec) { s.MetricsNamespace = "kube-system" }), nil},
		{"scale to zero in the cluster", ok(func(s *TritonSpec) {
			s.Exposure, s.Host, s.ScaleToZero = workloads.ClusterOnly, "", TritonScaleToZero{Enabled: true, IdleSeconds: 1800}
		}), nil},
		{"scale to zero behind a load balancer", ok(func(s *TritonSpec) { s.ScaleToZero = TritonScaleToZero{Enabled: true, IdleSeconds: 1800} }),
			[]string{`triton.scaleToZero.enabled: cannot be used with exposure "internal"`, "nothing would wake Triton", "set exposure: cluster"}},
		{"idle too short", ok(func(s *TritonSpec) {
			s.Exposure, s.Host, s.ScaleToZero = workloads.ClusterOnly, "", TritonScaleToZero{Enabled: true, IdleSeconds: 60}
		}), []string{"triton.scaleToZero.idleSeconds: must be between 300 and 86400 seconds, got 60"}},
		{"idle without scale to zero", ok(func(s *TritonSpec) { s.ScaleToZero.IdleSeconds = 600 }),
			[]string{"triton.scaleToZero.idleSeconds: only used with triton.scaleToZero.enabled: true"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wltest.ExpectErrors(t, c.spec.Validate("triton"), c.want...) })
	}
}

func TestServiceSpec(t *testing.T) {
	base := ServiceSpec{Image: "docker.io/acme/lds-service:1.4.2"}
	d := base.WithDefaults(workloads.Defaults{Domain: "ai.example.com", CertificateARN: wltest.TestCert})
	assert.Equal(t, "lds-service", d.Name)
	assert.Equal(t, "lds", d.Namespace)
	assert.Equal(t, 8080, d.Port)
	assert.Equal(t, "/healthz", d.HealthPath)
	assert.Equal(t, workloads.Internal, d.Exposure)
	assert.Equal(t, "lds-service.ai.example.com", d.Host)
	assert.Equal(t, wltest.TestCert, d.CertificateARN)
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
		{"reserved namespace", func(s *ServiceSpec) { s.Namespace = workloads.ArgoCDNamespace }, []string{"ldsService.namespace:", "reserved"}},
		{"public http", func(s *ServiceSpec) {
			s.Exposure, s.CertificateARN, s.AllowedCIDRs = workloads.Public, "", []string{"198.51.100.0/24"}
		}, []string{"ldsService.certificateArn: exposure public needs TLS"}},
		{"internal http allowed", func(s *ServiceSpec) { s.CertificateARN = "" }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := d
			c.f(&s)
			wltest.ExpectErrors(t, s.Validate("ldsService"), c.want...)
		})
	}
}

func TestQuantitiesAndImages(t *testing.T) {
	for in, want := range map[string]float64{"500m": 0.5, "2": 2, "16Gi": 16 << 30, "1.5": 1.5, "128Mi": 128 << 20, "1k": 1000} {
		got, ok := workloads.ParseQuantity(in)
		assert.True(t, ok, in)
		assert.InDelta(t, want, got, 1e-9, in)
	}
	for _, bad := range []string{"", "1 Gi", "Gi", "-1", "1gb"} {
		_, ok := workloads.ParseQuantity(bad)
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
		assert.Equal(t, pinned, workloads.PinnedImage(ref), ref)
	}
}

func TestDockerConfigJSON(t *testing.T) {
	got := DockerConfigJSON(DockerHubRegistry, "acme", "dckr_pat_x")
	assert.JSONEq(t, `{"auths":{"https://index.docker.io/v1/":{"username":"acme","password":"dckr_pat_x","auth":"YWNtZTpkY2tyX3BhdF94"}}}`, got)
}

// The ephemeral-storage limit leaves room for the container's logs on top of
// the model cache, or the kubelet would evict a pod whose cache is full.
func TestTritonEphemeralLimit(t *testing.T) {
	for in, want := range map[string]string{"50Gi": "51Gi", "20Gi": "21Gi", "512Mi": "1536Mi", "100G": "98704826Ki", "1": "1073741825", "1Ti": "1025Gi"} {
		assert.Equal(t, want, tritonEphemeralLimit(in), in)
		req, _ := workloads.ParseQuantity(in)
		lim, ok := workloads.ParseQuantity(tritonEphemeralLimit(in))
		require.True(t, ok, in)
		assert.Equal(t, float64(tritonLogHeadroom), lim-req, in)
	}
}

func TestDocsNameTheTritonImage(t *testing.T) {
	readme, err := os.ReadFile("../../docs/configure.md")
	require.NoError(t, err)
	assert.Contains(t, string(readme), DefaultTritonImage, "docs/configure.md names the pinned Triton image")
}

func TestTritonPeer(t *testing.T) {
	peer := tritonPeer("triton", "triton")
	assert.Equal(t, []int{TritonHTTPPort, TritonGRPCPort}, peer.Ports, "clients get the inference ports, not metrics")
	assert.Equal(t, map[string]string{"app.kubernetes.io/name": "triton", "app.kubernetes.io/instance": "triton"}, peer.PodLabels,
		"the Triton Service's selector")
	assert.NoError(t, peer.Validate("peer"))
}

// Issue 24: the preview names the failure of an empty prefix in Triton's own
// words (core src/model_repository_manager/model_repository_manager.cc) and
// how to avoid it.
func TestEmptyPrefixWarningSaysWhatFailsAndHowToAvoidIt(t *testing.T) {
	w := emptyPrefixWarning("teams/a/models")
	for _, want := range []string{"repository path is not a valid directory", "s3://<modelBucketName>/teams/a/models/",
		"aiplatform models push DIR", "triton.sampleModels"} {
		assert.Contains(t, w, want)
	}
}

func TestSampleModelKeysAreUnderThePrefix(t *testing.T) {
	keys := SampleModelKeys("models")
	assert.Contains(t, keys, "models/id_card/config.pbtxt")
	assert.Contains(t, keys, "models/detect/1/model.py")
	assert.Contains(t, keys, "models/recognise/1/model.py")
	for _, k := range keys {
		assert.True(t, strings.HasPrefix(k, "models/"), k)
	}
}

func TestSampleModelsInExplicitModeNeedModelsListed(t *testing.T) {
	on := true
	s := TritonSpec{ModelControlMode: ModelControlExplicit, SampleModels: &on}.WithDefaults(workloads.Defaults{})
	assert.ErrorContains(t, s.Validate("triton"), `triton.models: with sampleModels in explicit mode, list "id_card"`)
	s.Models = []string{"id_card"}
	assert.NoError(t, s.Validate("triton"))
}

func TestServiceSpecReadyPath(t *testing.T) {
	s := ServiceSpec{Image: "ghcr.io/acme/lds-service:0.1.0"}.WithDefaults(workloads.Defaults{})
	assert.Equal(t, "/readyz", s.ReadyPath)
	assert.Equal(t, "/healthz", s.HealthPath)
	s.ReadyPath = "readyz"
	assert.ErrorContains(t, s.Validate("ldsService"), `ldsService.readyPath: "readyz" must be an absolute HTTP path`)
}
