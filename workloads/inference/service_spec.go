package inference

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aiplatform/infra/workloads"
)

// ServiceSpec is a stateless HTTP service: Deployment, Service, HPA, PDB and
// (when exposed) an ALB Ingress, configured through environment variables
// from a ConfigMap.
type ServiceSpec struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// Image is pinned (tag other than latest, or digest), e.g. docker.io/acme/lds-service:1.4.2.
	Image string `json:"image"`
	Port  int    `json:"port,omitempty"`
	// HealthPath answers the startup and liveness probes (and the ALB's
	// health check); ReadyPath the readiness probe. lds-service fails
	// ReadyPath, not HealthPath, while it drains after SIGTERM.
	HealthPath string `json:"healthPath,omitempty"`
	ReadyPath  string `json:"readyPath,omitempty"`
	// RunAsUser is the non-root UID the container runs as.
	RunAsUser            int    `json:"runAsUser,omitempty"`
	MinReplicas          int    `json:"minReplicas,omitempty"`
	MaxReplicas          int    `json:"maxReplicas,omitempty"`
	TargetCPUUtilization int    `json:"targetCpuUtilization,omitempty"`
	CPU                  string `json:"cpu,omitempty"`
	CPULimit             string `json:"cpuLimit,omitempty"`
	Memory               string `json:"memory,omitempty"`
	MemoryLimit          string `json:"memoryLimit,omitempty"`
	// ScaleDownStabilizationSeconds damps scale-down after load spikes.
	ScaleDownStabilizationSeconds int                `json:"scaleDownStabilizationSeconds,omitempty"`
	Exposure                      workloads.Exposure `json:"exposure,omitempty"`
	Host                          string             `json:"host,omitempty"`
	AllowedCIDRs                  []string           `json:"allowedCidrs,omitempty"`
	CertificateARN                string             `json:"certificateArn,omitempty"`
	// Settings become the service's environment (through a ConfigMap). Never
	// put secrets here: config values are stored in plain text.
	Settings map[string]string `json:"settings,omitempty"`
}

// WithDefaults fills only what is unset.
func (s ServiceSpec) WithDefaults(d workloads.Defaults) ServiceSpec {
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
	str(&s.Name, "lds-service")
	str(&s.Namespace, "lds")
	num(&s.Port, 8080)
	str(&s.HealthPath, "/healthz")
	str(&s.ReadyPath, "/readyz")
	num(&s.RunAsUser, 10001)
	num(&s.MinReplicas, 2)
	num(&s.MaxReplicas, 6)
	num(&s.TargetCPUUtilization, 70)
	str(&s.CPU, "250m")
	str(&s.CPULimit, "1")
	str(&s.Memory, "256Mi")
	str(&s.MemoryLimit, "512Mi")
	num(&s.ScaleDownStabilizationSeconds, 300)
	if s.Exposure == "" {
		s.Exposure = workloads.Internal
	}
	str(&s.Host, d.HostFor(s.Name, s.Exposure))
	if s.Exposure.LoadBalanced() {
		str(&s.CertificateARN, d.CertificateARN)
	}
	return s
}

// Validate returns every problem, each prefixed by path (e.g. "aiplatform:ldsService").
func (s ServiceSpec) Validate(path string) error {
	errs := s.exposure().Validate(path, false)
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, key, fmt.Sprintf(format, args...)))
	}
	if !workloads.IsNamespaceName(s.Name) || len(s.Name) > 50 {
		bad("name", "%q must be a lowercase DNS label of at most 50 characters", s.Name)
	}
	if !workloads.IsNamespaceName(s.Namespace) {
		bad("namespace", "%q is not a namespace name (lowercase DNS label)", s.Namespace)
	} else if workloads.IsReservedNamespace(s.Namespace) {
		bad("namespace", "%q is reserved for the cluster or its add-ons", s.Namespace)
	}
	if s.Image == "" {
		bad("image", "required, e.g. docker.io/acme/lds-service:1.4.2")
	} else if !workloads.PinnedImage(s.Image) {
		bad("image", "%q must be pinned to a tag other than latest or to a digest", s.Image)
	}
	if s.Port < 1024 || s.Port > 65535 {
		bad("port", "must be between 1024 and 65535 (non-root containers cannot bind lower ports), got %d", s.Port)
	}
	for key, p := range map[string]string{"healthPath": s.HealthPath, "readyPath": s.ReadyPath} {
		if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " \t") {
			bad(key, "%q must be an absolute HTTP path like /healthz", p)
		}
	}
	if s.RunAsUser < 1 {
		bad("runAsUser", "must be a non-root UID (>= 1), got %d", s.RunAsUser)
	}
	errs = append(errs, validateResources(path, s.CPU, s.CPULimit, s.Memory, s.MemoryLimit)...)
	errs = append(errs, validateReplicas(path, s.MinReplicas, s.MaxReplicas, s.TargetCPUUtilization)...)
	if s.ScaleDownStabilizationSeconds < 0 || s.ScaleDownStabilizationSeconds > 3600 {
		bad("scaleDownStabilizationSeconds", "must be between 0 and 3600, got %d", s.ScaleDownStabilizationSeconds)
	}
	for k := range s.Settings {
		if !workloads.EnvNamePattern.MatchString(k) {
			bad("settings", "key %q is not an environment variable name (letters, digits, _; not starting with a digit)", k)
		}
	}
	return errors.Join(errs...)
}

func (s ServiceSpec) exposure() workloads.ExposureSpec {
	return workloads.ExposureSpec{Exposure: s.Exposure, Host: s.Host, AllowedCIDRs: s.AllowedCIDRs, CertificateARN: s.CertificateARN}
}

// DockerHubRegistry is the registry key Docker Hub credentials are stored under.
const DockerHubRegistry = "https://index.docker.io/v1/"

// DockerConfigJSON renders the .dockerconfigjson of an image pull secret.
func DockerConfigJSON(server, username, password string) string {
	entry := map[string]string{
		"username": username,
		"password": password,
		"auth":     base64.StdEncoding.EncodeToString([]byte(username + ":" + password)),
	}
	b, _ := json.Marshal(map[string]any{"auths": map[string]any{server: entry}})
	return string(b)
}
