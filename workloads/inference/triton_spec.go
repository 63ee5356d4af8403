package inference

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/inference/samplemodels"
)

// ModelControlMode is Triton's --model-control-mode.
type ModelControlMode string

const (
	// ModelControlNone loads every model in the repository at startup (default).
	ModelControlNone ModelControlMode = "none"
	// ModelControlPoll also reloads models when the repository changes.
	ModelControlPoll ModelControlMode = "poll"
	// ModelControlExplicit loads only the listed models; others are loaded through the API.
	ModelControlExplicit ModelControlMode = "explicit"
)

// DefaultTritonImage is NVIDIA's Triton Inference Server release this
// platform pins (Renovate bumps it; see renovate.json). 26.07 (server
// 2.71.0) still has every flag, probe path and S3 setting the Deployment
// uses (src/command_line_parser.cc, src/http_server.cc and
// docs/user_guide/model_repository.md on branch r26.07) and still runs as
// uid 1000 (build.py). It is built on CUDA 13 and needs a GPU of compute
// capability 7.5 or newer: not the V100 of p3 and p3dn.
const DefaultTritonImage = "nvcr.io/nvidia/tritonserver:26.07-py3"

// TritonUnsupportedGPUFamilies are EC2 GPU families the pinned Triton release
// cannot use: its CUDA needs compute capability 7.5 or newer, and p3/p3dn
// carry V100s (7.0) (Triton 26.07 release notes, driver requirements). A GPU
// group of these families would schedule Triton pods that crash on start.
var TritonUnsupportedGPUFamilies = []string{"p3", "p3dn"}

// Triton's ports: HTTP/REST, gRPC and Prometheus metrics.
const (
	TritonHTTPPort    = 8000
	TritonGRPCPort    = 8001
	TritonMetricsPort = 8002
)

// TritonSpec is the configurable part of the Triton deployment.
type TritonSpec struct {
	Namespace string `json:"namespace,omitempty"`
	Image     string `json:"image,omitempty"`
	// ModelPrefix is the folder of the model bucket holding the model
	// repository; Triton can read nothing else.
	ModelPrefix           string           `json:"modelPrefix,omitempty"`
	ModelControlMode      ModelControlMode `json:"modelControlMode,omitempty"`
	RepositoryPollSeconds int              `json:"repositoryPollSeconds,omitempty"`
	// Models are loaded at startup in explicit mode.
	Models []string `json:"models,omitempty"`
	// SampleModels uploads the sample model repository (package
	// samplemodels) under ModelPrefix, so Triton never starts on an empty
	// prefix; the stack turns it on by default in dev only.
	SampleModels *bool `json:"sampleModels,omitempty"`
	// GPUs per replica.
	GPUs         int    `json:"gpus,omitempty"`
	CPU          string `json:"cpu,omitempty"`
	CPULimit     string `json:"cpuLimit,omitempty"`
	Memory       string `json:"memory,omitempty"`
	MemoryLimit  string `json:"memoryLimit,omitempty"`
	SharedMemory string `json:"sharedMemory,omitempty"`
	// ModelCache is the scratch space Triton downloads the S3 repository
	// into: the /tmp emptyDir's sizeLimit and the pod's ephemeral-storage
	// request (the limit adds tritonLogHeadroom). Size it for the repository.
	ModelCache  string `json:"modelCache,omitempty"`
	MinReplicas int    `json:"minReplicas,omitempty"`
	MaxReplicas int    `json:"maxReplicas,omitempty"`
	// TargetCPUUtilization is the HPA's CPU target in percent of requests:
	// its second metric, beside Autoscaling's inference metric.
	TargetCPUUtilization int `json:"targetCpuUtilization,omitempty"`
	// Autoscaling is the inference-load metric the HPA scales on first.
	Autoscaling TritonAutoscaling `json:"autoscaling,omitempty"`
	// ScaleDownStabilizationSeconds keeps replicas (and GPU nodes) around
	// through short dips in load.
	ScaleDownStabilizationSeconds int `json:"scaleDownStabilizationSeconds,omitempty"`
	// ScaleToZero lets Triton, and so its GPU nodes, go to zero replicas
	// when idle: KEDA replaces the HPA (docs/autoscaling-and-observability.md).
	ScaleToZero    TritonScaleToZero  `json:"scaleToZero,omitempty"`
	Exposure       workloads.Exposure `json:"exposure,omitempty"`
	Host           string             `json:"host,omitempty"`
	AllowedCIDRs   []string           `json:"allowedCidrs,omitempty"`
	CertificateARN string             `json:"certificateArn,omitempty"`
	// MetricsNamespace is where the Prometheus that scrapes the metrics port
	// runs; only pods there may reach it.
	MetricsNamespace string `json:"metricsNamespace,omitempty"`
}

// TritonAutoscaling is the triton.autoscaling key: the per-pod inference
// metric the HPA scales on and its per-pod target. The metrics themselves
// (names, queries, default targets) are the observability package's table;
// this package cannot import it (concern packages are independent), so the
// stack fills the defaults, checks Metric against that table and passes the
// resolved metric in as TritonArgs.HPAMetric.
type TritonAutoscaling struct {
	// Metric is a key of the inference metric table, e.g. queueTimePerRequest.
	Metric string `json:"metric,omitempty"`
	// Target is the per-pod average the HPA aims for, in the metric's unit;
	// 0: the metric's default target.
	Target float64 `json:"target,omitempty"`
	// CallsPerPod, when set, is a second signal beside Metric: the requests
	// per second one pod should take of the load lds-service offers Triton
	// (its calls as they arrive, served or not), so Triton also scales to
	// ceil(offered rate / CallsPerPod). It reads a load step at once and in
	// full, where Triton's own metrics read only what the ready pods
	// complete (and nothing of what a full queue refuses); the closed loop
	// measures the difference (docs/closed-loop.md). 0: off. Needs
	// ldsService and the metrics stack.
	CallsPerPod float64 `json:"callsPerPod,omitempty"`
}

// TritonScaleToZero is the triton.scaleToZero key. When Enabled, a KEDA
// ScaledObject replaces the HPA: after IdleSeconds with no request in
// flight and no caller waiting, Triton goes to 0 replicas and the Cluster
// Autoscaler then removes the idle GPU nodes; the first call after that
// wakes it, and lds-service answers 503 with Retry-After until a replica is
// ready (the cold start: GPU node boot, image pull, model load).
type TritonScaleToZero struct {
	Enabled bool `json:"enabled,omitempty"`
	// IdleSeconds is KEDA's cooldownPeriod: how long Triton stays up with
	// nothing to do before it goes to zero.
	IdleSeconds int `json:"idleSeconds,omitempty"`
}

// DefaultScaleToZeroIdleSeconds is 30 minutes: about 4 cold starts
// (docs/closed-loop.md: 7m44s from a call to the first answer), so a pause
// within a working session does not pay one, and a night or weekend costs
// no GPU.
const DefaultScaleToZeroIdleSeconds = 1800

// Bounds of triton.scaleToZero.idleSeconds: at least the HPA's own
// scale-down window of 5 minutes, at most a day.
const (
	MinScaleToZeroIdleSeconds = 300
	MaxScaleToZeroIdleSeconds = 86400
)

func (z TritonScaleToZero) validate(path string) []error {
	if !z.Enabled {
		if z.IdleSeconds != 0 {
			return []error{fmt.Errorf("%s.idleSeconds: only used with %s.enabled: true; set it or delete idleSeconds", path, path)}
		}
		return nil
	}
	if z.IdleSeconds < MinScaleToZeroIdleSeconds || z.IdleSeconds > MaxScaleToZeroIdleSeconds {
		return []error{fmt.Errorf("%s.idleSeconds: must be between %d and %d seconds, got %d (%d, 30 minutes, is the default)",
			path, MinScaleToZeroIdleSeconds, MaxScaleToZeroIdleSeconds, z.IdleSeconds, DefaultScaleToZeroIdleSeconds)}
	}
	return nil
}

// validate checks what needs no metric table: the target is a positive
// number (0 stands for the metric's default until the stack fills it).
func (a TritonAutoscaling) validate(path string) []error {
	var errs []error
	if math.IsNaN(a.Target) || math.IsInf(a.Target, 0) || a.Target < 0 {
		errs = append(errs, fmt.Errorf("%s.target: must be a number > 0 in the metric's unit, got %v", path, a.Target))
	}
	if math.IsNaN(a.CallsPerPod) || math.IsInf(a.CallsPerPod, 0) || a.CallsPerPod < 0 {
		errs = append(errs, fmt.Errorf("%s.callsPerPod: must be a number of requests per second > 0 (or 0 for off), got %v", path, a.CallsPerPod))
	}
	return errs
}

// DefaultMetricsNamespace is where the metrics port is scraped from unless
// triton.metricsNamespace says otherwise (kube-prometheus-stack's usual namespace).
const DefaultMetricsNamespace = "monitoring"

// tritonScratchDir is the writable emptyDir: the downloaded model repository and HOME.
const tritonScratchDir = "/tmp"

// tritonLogHeadroom is added to ModelCache for the ephemeral-storage limit:
// the container's logs count against it too, and the kubelet evicts a pod
// over its limit.
const tritonLogHeadroom = 1 << 30

// tritonEphemeralLimit is the ephemeral-storage limit for a model cache size.
func tritonEphemeralLimit(modelCache string) string {
	q, ok := workloads.ParseQuantity(modelCache)
	if !ok {
		return modelCache
	}
	return workloads.FormatBytes(q + tritonLogHeadroom)
}

// WithDefaults fills only what is unset.
func (s TritonSpec) WithDefaults(d workloads.Defaults) TritonSpec {
	str := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	num := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	str(&s.Namespace, "triton")
	str(&s.Image, DefaultTritonImage)
	str(&s.ModelPrefix, "models")
	if s.ModelControlMode == "" {
		s.ModelControlMode = ModelControlNone
	}
	if s.ModelControlMode == ModelControlPoll {
		num(&s.RepositoryPollSeconds, 60)
	}
	num(&s.GPUs, 1)
	str(&s.CPU, "2")
	str(&s.CPULimit, "3")
	str(&s.Memory, "8Gi")
	str(&s.MemoryLimit, "12Gi")
	str(&s.SharedMemory, "1Gi")
	str(&s.ModelCache, "50Gi")
	num(&s.MinReplicas, 1)
	num(&s.MaxReplicas, 3)
	num(&s.TargetCPUUtilization, 70)
	num(&s.ScaleDownStabilizationSeconds, 300)
	if s.ScaleToZero.Enabled {
		num(&s.ScaleToZero.IdleSeconds, DefaultScaleToZeroIdleSeconds)
	}
	str(&s.MetricsNamespace, DefaultMetricsNamespace)
	if s.Exposure == "" {
		s.Exposure = workloads.Internal
	}
	str(&s.Host, d.HostFor("triton", s.Exposure))
	if s.Exposure.LoadBalanced() {
		str(&s.CertificateARN, d.CertificateARN)
	}
	return s
}

// Validate returns every problem, each prefixed by path (e.g. "aiplatform:triton").
func (s TritonSpec) Validate(path string) error {
	errs := s.exposure().Validate(path, false)
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, key, fmt.Sprintf(format, args...)))
	}
	if !workloads.IsNamespaceName(s.Namespace) {
		bad("namespace", "%q is not a namespace name (lowercase DNS label)", s.Namespace)
	} else if workloads.IsReservedNamespace(s.Namespace) {
		bad("namespace", "%q is reserved for the cluster or its add-ons", s.Namespace)
	}
	if !workloads.PinnedImage(s.Image) {
		bad("image", "%q must be pinned to a tag other than latest or to a digest", s.Image)
	}
	if s.ModelPrefix == "" || strings.HasPrefix(s.ModelPrefix, "/") || strings.HasSuffix(s.ModelPrefix, "/") ||
		strings.ContainsAny(s.ModelPrefix, "*?$ ") || strings.Contains(s.ModelPrefix, "..") {
		bad("modelPrefix", "%q must be a folder like models or teams/a/models (no leading or trailing /, no wildcards)", s.ModelPrefix)
	}
	switch s.ModelControlMode {
	case ModelControlNone, ModelControlPoll, ModelControlExplicit:
	default:
		bad("modelControlMode", "%q is not one of %s, %s, %s", s.ModelControlMode, ModelControlNone, ModelControlPoll, ModelControlExplicit)
	}
	if s.ModelControlMode == ModelControlPoll && s.RepositoryPollSeconds < 5 {
		bad("repositoryPollSeconds", "must be >= 5 in poll mode, got %d", s.RepositoryPollSeconds)
	}
	if s.ModelControlMode != ModelControlPoll && s.RepositoryPollSeconds != 0 {
		bad("repositoryPollSeconds", "only used with modelControlMode %s", ModelControlPoll)
	}
	if len(s.Models) > 0 && s.ModelControlMode != ModelControlExplicit {
		bad("models", "only used with modelControlMode %s; in %s mode every model of the repository is loaded", ModelControlExplicit, s.ModelControlMode)
	}
	if s.SampleModelsOn() && s.ModelControlMode == ModelControlExplicit && len(s.Models) == 0 {
		bad("models", "with sampleModels in %s mode, list %q (the sample ensemble; its steps load with it) or your own models, or Triton loads nothing", ModelControlExplicit, samplemodels.EnsembleName)
	}
	for i, m := range s.Models {
		if m == "" || strings.ContainsAny(m, "/ \t") {
			bad(fmt.Sprintf("models[%d]", i), "%q is not a model name", m)
		}
	}
	if s.GPUs < 1 || s.GPUs > 16 {
		bad("gpus", "must be between 1 and 16, got %d", s.GPUs)
	}
	errs = append(errs, validateResources(path, s.CPU, s.CPULimit, s.Memory, s.MemoryLimit)...)
	for key, q := range map[string]string{"sharedMemory": s.SharedMemory, "modelCache": s.ModelCache} {
		if v, ok := workloads.ParseQuantity(q); !ok {
			bad(key, "%q is not a size like 1Gi", q)
		} else if v < 1<<20 {
			bad(key, "%q is too small; use at least 1Mi", q)
		}
	}
	if !workloads.IsNamespaceName(s.MetricsNamespace) {
		bad("metricsNamespace", "%q is not a namespace name (lowercase DNS label)", s.MetricsNamespace)
	}
	errs = append(errs, validateReplicas(path, s.MinReplicas, s.MaxReplicas, s.TargetCPUUtilization)...)
	errs = append(errs, s.Autoscaling.validate(path+".autoscaling")...)
	if s.ScaleDownStabilizationSeconds < 0 || s.ScaleDownStabilizationSeconds > 3600 {
		bad("scaleDownStabilizationSeconds", "must be between 0 and 3600, got %d", s.ScaleDownStabilizationSeconds)
	}
	errs = append(errs, s.ScaleToZero.validate(path+".scaleToZero")...)
	// Only lds-service's failed calls wake Triton from zero (the stack's
	// wake trigger); a caller through the load balancer would find no
	// target and wake nothing.
	if s.ScaleToZero.Enabled && s.Exposure.LoadBalanced() {
		bad("scaleToZero.enabled", "cannot be used with exposure %q: callers through the load balancer would find no replica and nothing would wake Triton "+
			"(only lds-service's failed calls do); set exposure: %s and call Triton through lds-service, or turn scaleToZero off", s.Exposure, workloads.ClusterOnly)
	}
	return errors.Join(errs...)
}

// SampleModelsOn reports whether the sample model repository is uploaded.
func (s TritonSpec) SampleModelsOn() bool { return s.SampleModels != nil && *s.SampleModels }

func (s TritonSpec) exposure() workloads.ExposureSpec {
	return workloads.ExposureSpec{Exposure: s.Exposure, Host: s.Host, AllowedCIDRs: s.AllowedCIDRs, CertificateARN: s.CertificateARN}
}

// validateResources checks requests and limits: valid quantities, request <= limit.
func validateResources(path, cpu, cpuLimit, memory, memoryLimit string) []error {
	var errs []error
	pair := func(reqKey, req, limKey, lim, example string) {
		r, okR := workloads.ParseQuantity(req)
		l, okL := workloads.ParseQuantity(lim)
		if !okR {
			errs = append(errs, fmt.Errorf("%s.%s: %q is not a quantity like %s", path, reqKey, req, example))
		}
		if !okL {
			errs = append(errs, fmt.Errorf("%s.%s: %q is not a quantity like %s", path, limKey, lim, example))
		}
		if okR && okL && r > l {
			errs = append(errs, fmt.Errorf("%s.%s: must be >= %s (%s), got %s", path, limKey, reqKey, req, lim))
		}
		if okR && r <= 0 {
			errs = append(errs, fmt.Errorf("%s.%s: must be > 0", path, reqKey))
		}
	}
	pair("cpu", cpu, "cpuLimit", cpuLimit, "500m or 2")
	pair("memory", memory, "memoryLimit", memoryLimit, "512Mi or 8Gi")
	return errs
}

func validateReplicas(path string, min, max, cpuTarget int) []error {
	var errs []error
	if min < 1 {
		errs = append(errs, fmt.Errorf("%s.minReplicas: must be >= 1, got %d", path, min))
	}
	if max < min {
		errs = append(errs, fmt.Errorf("%s.maxReplicas: must be >= minReplicas (%d), got %d", path, min, max))
	}
	if max > 100 {
		errs = append(errs, fmt.Errorf("%s.maxReplicas: must be <= 100, got %d", path, max))
	}
	if cpuTarget < 10 || cpuTarget > 100 {
		errs = append(errs, fmt.Errorf("%s.targetCpuUtilization: must be between 10 and 100 percent, got %d", path, cpuTarget))
	}
	return errs
}
