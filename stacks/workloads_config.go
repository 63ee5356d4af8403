package stacks

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aiplatform/infra/infra"
	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/addons"
	"github.com/aiplatform/infra/workloads/gitops"
	"github.com/aiplatform/infra/workloads/inference"
	"github.com/aiplatform/infra/workloads/observability"
	"github.com/aiplatform/infra/workloads/observability/signals"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// Secret config keys of the workloads layer (`pulumi config set --secret aiplatform:<key>`).
const (
	DockerHubTokenKey           = "dockerHubToken"
	ArgoCDAdminPasswordKey      = "argocdAdminPassword"
	ArgoCDNotificationsTokenKey = "argocdNotificationsToken"
	GrafanaAdminPasswordKey     = "grafanaAdminPassword"
	// AlertingSlackWebhookURLKey is the Slack incoming webhook of
	// observability.alerting.receiver slack.
	AlertingSlackWebhookURLKey = "alertingSlackWebhookUrl"
)

var workloadSecretKeys = []string{DockerHubTokenKey, ArgoCDAdminPasswordKey, ArgoCDNotificationsTokenKey, GrafanaAdminPasswordKey, AlertingSlackWebhookURLKey}

// DefaultAppNamespaces are created (default-deny) when appNamespaces is unset.
var DefaultAppNamespaces = []string{"apps"}

// dockerHubUserPattern: Docker Hub user and organisation names.
var dockerHubUserPattern = regexp.MustCompile(`^[a-z0-9]{4,30}$`)

// WorkloadsConfig configures the add-ons and AI workloads. Everything is
// optional: a stack with only the infra keys gets the add-ons, Argo CD
// (cluster-internal) and, when a GPU node group exists, Triton on an
// internal NLB. ExternalDNS runs only when hostedZoneIds are set, the Docker
// Hub pull secret only when dockerHubUsername is set, and the lds-service
// only when ldsService is set.
type WorkloadsConfig struct {
	// Domain names the workloads' hosts (<app>.<domain>) and limits ExternalDNS.
	Domain string `json:"domain"`
	// HostedZoneIDs are the Route 53 zones ExternalDNS may change; none: no ExternalDNS.
	HostedZoneIDs     []string         `json:"hostedZoneIds"`
	ExternalDNSPolicy addons.DNSPolicy `json:"externalDnsPolicy"`
	// CertificateARN is the ACM certificate load balancers terminate TLS with.
	CertificateARN    string                  `json:"certificateArn"`
	AppNamespaces     []string                `json:"appNamespaces"`
	DockerHubUsername string                  `json:"dockerHubUsername"`
	ChartVersions     workloads.ChartVersions `json:"chartVersions"`
	// ChartRepository is one mirror every add-on chart is fetched from
	// instead of its official repository (air-gapped clusters, ECR); empty:
	// the official repositories.
	ChartRepository string       `json:"chartRepository"`
	ArgoCD          ArgoCDConfig `json:"argocd"`
	Triton          TritonConfig `json:"triton"`
	// LDSService is the lds-service; nil: not deployed.
	LDSService *inference.ServiceSpec `json:"ldsService"`
	// Observability is the metrics stack (on unless enabled: false).
	Observability ObservabilityConfig `json:"observability"`

	// secrets records which secret keys are set (their values are read only by loadSecrets).
	secrets map[string]bool
}

// ArgoCDConfig is the argocd key: Argo CD's spec plus whether to install it.
type ArgoCDConfig struct {
	Enabled *bool `json:"enabled,omitempty"`
	gitops.ArgoCDSpec
}

// TritonConfig is the triton key: Triton's spec plus whether to deploy it.
type TritonConfig struct {
	Enabled *bool `json:"enabled,omitempty"`
	inference.TritonSpec
}

// ObservabilityConfig is the observability key: the metrics stack's spec
// plus whether to install it.
type ObservabilityConfig struct {
	Enabled *bool `json:"enabled,omitempty"`
	observability.MetricsStackSpec
}

// On reports whether the metrics stack is installed.
func (o ObservabilityConfig) On() bool { return o.Enabled == nil || *o.Enabled }

// On reports whether Argo CD is installed.
func (a ArgoCDConfig) On() bool { return a.Enabled == nil || *a.Enabled }

// On reports whether Triton is deployed.
func (t TritonConfig) On() bool { return t.Enabled != nil && *t.Enabled }

// ExternalDNSEnabled reports whether ExternalDNS manages records.
func (w WorkloadsConfig) ExternalDNSEnabled() bool { return len(w.HostedZoneIDs) > 0 }

// HasSecret reports whether the secret config key is set.
func (w WorkloadsConfig) HasSecret(key string) bool { return w.secrets[key] }

func readWorkloads(r *reader) WorkloadsConfig {
	var w WorkloadsConfig
	r.str("domain", &w.Domain)
	r.stringList("hostedZoneIds", &w.HostedZoneIDs)
	var policy string
	r.str("externalDnsPolicy", &policy)
	w.ExternalDNSPolicy = addons.DNSPolicy(policy)
	r.str("certificateArn", &w.CertificateARN)
	r.stringList("appNamespaces", &w.AppNamespaces)
	r.str("dockerHubUsername", &w.DockerHubUsername)
	r.object("chartVersions", &w.ChartVersions)
	r.str("chartRepository", &w.ChartRepository)
	r.object("argocd", &w.ArgoCD)
	r.object("triton", &w.Triton)
	r.object("ldsService", &w.LDSService)
	r.object("observability", &w.Observability)
	w.secrets = map[string]bool{}
	for _, key := range workloadSecretKeys {
		// Only presence is recorded here; the value stays out of the plain config.
		if v, ok := r.get(key); ok && strings.TrimSpace(v) != "" {
			w.secrets[key] = true
		}
	}
	return w
}

func (w WorkloadsConfig) withDefaults(c Config) WorkloadsConfig {
	if w.ExternalDNSPolicy == "" {
		w.ExternalDNSPolicy = addons.UpsertOnly
	}
	if w.AppNamespaces == nil {
		w.AppNamespaces = append([]string(nil), DefaultAppNamespaces...)
	}
	w.ChartVersions = w.ChartVersions.WithDefaults()
	d := workloads.Defaults{Domain: w.Domain, CertificateARN: w.CertificateARN}
	if w.ArgoCD.Enabled == nil {
		on := true
		w.ArgoCD.Enabled = &on
	}
	w.ArgoCD.ArgoCDSpec = w.ArgoCD.ArgoCDSpec.WithDefaults(d)
	if w.Triton.Enabled == nil {
		// Triton needs GPU capacity; without a GPU group it is off unless asked for.
		on := hasGPUNodes(c.NodeGroups)
		w.Triton.Enabled = &on
	}
	if w.Triton.SampleModels == nil {
		// Dev gets a model repository by itself; elsewhere the models are the user's.
		on := c.Stack == DevStack
		w.Triton.SampleModels = &on
	}
	w.Triton.TritonSpec = w.Triton.TritonSpec.WithDefaults(d)
	w.Triton.Autoscaling = withTritonAutoscalingDefaults(w.Triton.Autoscaling)
	if w.LDSService != nil {
		s := w.LDSService.WithDefaults(d)
		if _, set := s.Settings["TRITON_URL"]; !set && w.Triton.On() {
			// lds-service calls the Triton this stack deploys unless told otherwise.
			settings := map[string]string{"TRITON_URL": inference.TritonClusterURL(w.Triton.Namespace)}
			for k, v := range s.Settings {
				settings[k] = v
			}
			s.Settings = settings
		}
		w.LDSService = &s
	}
	if w.Observability.Enabled == nil {
		on := true
		w.Observability.Enabled = &on
	}
	w.Observability.MetricsStackSpec = w.Observability.MetricsStackSpec.WithDefaults(d)
	if w.secrets == nil {
		w.secrets = map[string]bool{}
	}
	return w
}

func hasGPUNodes(groups []infra.NodeGroupSpec) bool {
	for _, g := range groups {
		if g.Kind == infra.GPUNodes {
			return true
		}
	}
	return false
}

func (w WorkloadsConfig) validate(c Config) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%s: %s", Project, key, fmt.Sprintf(format, args...)))
	}
	secretHint := func(key string) string {
		return fmt.Sprintf("set it with `pulumi config set --secret %s:%s`", Project, key)
	}
	if w.Domain != "" && !workloads.IsHostname(w.Domain) {
		bad("domain", "%q is not a lowercase DNS name like ai.example.com", w.Domain)
	}
	if len(w.HostedZoneIDs) > 0 && w.Domain == "" {
		bad("domain", "required with hostedZoneIds: ExternalDNS only manages names under the domain")
	}
	seenZone := map[string]bool{}
	for i, z := range w.HostedZoneIDs {
		if !addons.IsHostedZoneID(z) {
			bad(fmt.Sprintf("hostedZoneIds[%d]", i), "%q is not a Route 53 hosted zone id like Z0123456789ABCDEFGHIJ", z)
		}
		if seenZone[z] {
			bad(fmt.Sprintf("hostedZoneIds[%d]", i), "%q is listed twice", z)
		}
		seenZone[z] = true
	}
	switch w.ExternalDNSPolicy {
	case addons.UpsertOnly:
	case addons.Sync:
		if len(w.HostedZoneIDs) == 0 {
			bad("externalDnsPolicy", "%q only applies with hostedZoneIds", w.ExternalDNSPolicy)
		}
	default:
		bad("externalDnsPolicy", "%q is not one of %s, %s (sync also deletes records; opt in deliberately)", w.ExternalDNSPolicy, addons.UpsertOnly, addons.Sync)
	}
	if w.CertificateARN != "" && !workloads.IsCertificateARN(w.CertificateARN) {
		bad("certificateArn", "%q is not an ACM certificate ARN like arn:aws:acm:us-west-2:123456789012:certificate/<uuid>", w.CertificateARN)
	}
	if w.DockerHubUsername != "" && !dockerHubUserPattern.MatchString(w.DockerHubUsername) {
		bad("dockerHubUsername", "%q is not a Docker Hub user name (4-30 lowercase letters and digits)", w.DockerHubUsername)
	}
	if w.DockerHubUsername != "" && !w.HasSecret(DockerHubTokenKey) {
		bad(DockerHubTokenKey, "required with dockerHubUsername; %s", secretHint(DockerHubTokenKey))
	}
	if w.DockerHubUsername == "" && w.HasSecret(DockerHubTokenKey) {
		bad("dockerHubUsername", "required with %s:%s, which is set", Project, DockerHubTokenKey)
	}
	errs = append(errs, joinErrors(w.ChartVersions.Validate(Project+":chartVersions"))...)
	if err := workloads.ValidateChartRepository(Project+":chartRepository", w.ChartRepository); err != nil {
		errs = append(errs, err)
	}

	// Namespaces: valid, not reserved, and each owned by exactly one user.
	owners := map[string]string{}
	claim := func(ns, key string) {
		if prev, ok := owners[ns]; ok {
			bad(key, "namespace %q is already used by %s", ns, prev)
			return
		}
		owners[ns] = Project + ":" + key
	}
	for i, ns := range w.AppNamespaces {
		key := fmt.Sprintf("appNamespaces[%d]", i)
		switch {
		case !infra.IsDNSLabel(ns):
			bad(key, "%q is not a namespace name (lowercase DNS label)", ns)
		case workloads.IsReservedNamespace(ns):
			bad(key, "%q is reserved for the cluster or its add-ons", ns)
		default:
			claim(ns, key)
		}
	}

	hosts := map[string]string{}
	if w.ArgoCD.On() {
		errs = append(errs, joinErrors(w.ArgoCD.ArgoCDSpec.Validate(Project+":argocd"))...)
		if n := w.ArgoCD.Notifications; n != nil && n.Kind == gitops.GitHubCommitStatus && !w.HasSecret(ArgoCDNotificationsTokenKey) {
			bad(ArgoCDNotificationsTokenKey, "GitHub commit statuses need a token with repo:status scope; %s", secretHint(ArgoCDNotificationsTokenKey))
		}
		hosts["argocd.host"] = w.ArgoCD.Host
	}
	if w.Triton.On() {
		errs = append(errs, joinErrors(w.Triton.TritonSpec.Validate(Project+":triton"))...)
		errs = append(errs, validateTritonAutoscaling(Project+":triton.autoscaling", w.Triton.Autoscaling)...)
		if w.Observability.On() && w.Triton.MetricsNamespace != observability.MonitoringNamespace {
			// Triton's NetworkPolicy admits scrapes only from metricsNamespace.
			bad("triton.metricsNamespace", "%q would block the metrics stack's Prometheus, which scrapes from %q; leave it unset, or set observability.enabled to false",
				w.Triton.MetricsNamespace, observability.MonitoringNamespace)
		}
		if !hasGPUNodes(c.NodeGroups) {
			bad("triton.enabled", "Triton needs GPU nodes: add a node group of kind gpu to %s:nodeGroups, or set triton.enabled to false", Project)
		}
		for i, g := range c.NodeGroups {
			if g.Kind != infra.GPUNodes {
				continue
			}
			for j, t := range g.InstanceTypes {
				family, _, _ := strings.Cut(t, ".")
				if slices.Contains(inference.TritonUnsupportedGPUFamilies, family) {
					bad(fmt.Sprintf("nodeGroups[%d].instanceTypes[%d]", i, j), "%q (V100, compute capability 7.0) cannot run Triton %s, which needs 7.5 or newer; use g4dn, g5, g6, g6e, p4d or newer, or set triton.enabled to false", t, w.Triton.Image)
				}
			}
		}
		if fit := tritonGPUCapacity(c.NodeGroups, w.Triton.GPUs); hasGPUNodes(c.NodeGroups) && w.Triton.MaxReplicas > fit {
			bad("triton.maxReplicas", "%d replicas of %d GPU(s) each do not fit the GPU node groups, which hold at most %d such replicas "+
				"(maxSize × whole replicas per node); lower triton.maxReplicas or raise a gpu group's maxSize", w.Triton.MaxReplicas, w.Triton.GPUs, fit)
		}
		if w.Triton.Autoscaling.CallsPerPod > 0 {
			const key = "triton.autoscaling.callsPerPod"
			if !w.Observability.On() {
				bad(key, "needs the metrics stack: the offered load is lds-service's call rate in Prometheus, and observability.enabled is false; turn observability on, or remove %s", key)
			}
			if w.LDSService == nil {
				bad(key, "needs ldsService: the offered load is lds-service's calls to Triton, and ldsService is not set; configure ldsService, or remove %s", key)
			}
		}
		if w.Triton.ScaleToZero.Enabled {
			errs = append(errs, validateScaleToZero(w, c.NodeGroups)...)
			claim(addons.KEDANamespace, "triton.scaleToZero")
		}
		claim(w.Triton.Namespace, "triton.namespace")
		hosts["triton.host"] = w.Triton.Host
	} else if err := tritonMetricUnnamed(Project+":triton.autoscaling", w.Triton.Autoscaling); err != nil {
		// Also with Triton off: the queue alert reads the target, and the
		// stale key would apply as soon as Triton is turned on.
		errs = append(errs, err)
	}
	if s := w.LDSService; s != nil {
		errs = append(errs, joinErrors(s.Validate(Project+":ldsService"))...)
		if why := ldsImageProblem(s.Image, c.Stack); why != "" {
			bad("ldsService.image", "%s", why)
		}
		claim(s.Namespace, "ldsService.namespace")
		hosts["ldsService.host"] = s.Host
	}
	if w.Observability.On() {
		errs = append(errs, joinErrors(w.Observability.MetricsStackSpec.Validate(Project+":observability"))...)
		claim(observability.MonitoringNamespace, "observability")
		claim(observability.AgentsNamespace, "observability")
		hosts["observability.grafana.host"] = w.Observability.Grafana.Host
		hosts["observability.prometheus.host"] = w.Observability.Prometheus.Host
		slack := w.Observability.Alerting.Receiver == signals.SlackReceiver
		if slack && !w.HasSecret(AlertingSlackWebhookURLKey) {
			bad(AlertingSlackWebhookURLKey, "required with observability.alerting.receiver %s (the Slack incoming webhook URL); %s", signals.SlackReceiver, secretHint(AlertingSlackWebhookURLKey))
		}
		if !slack && w.HasSecret(AlertingSlackWebhookURLKey) {
			bad(AlertingSlackWebhookURLKey, "set, but observability.alerting.receiver is not %s: nothing would use it; set the receiver or remove the key", signals.SlackReceiver)
		}
	} else {
		if w.HasSecret(GrafanaAdminPasswordKey) {
			bad(GrafanaAdminPasswordKey, "set, but observability.enabled is false: there is no Grafana to log in to")
		}
		if w.HasSecret(AlertingSlackWebhookURLKey) {
			bad(AlertingSlackWebhookURLKey, "set, but observability.enabled is false: there is no Alertmanager to send from")
		}
	}
	if w.ExternalDNSEnabled() && w.Domain != "" {
		for key, host := range hosts {
			if host != "" && host != w.Domain && !strings.HasSuffix(host, "."+w.Domain) {
				bad(key, "%q is outside aiplatform:domain %q; ExternalDNS would not publish it", host, w.Domain)
			}
		}
	}
	return errs
}

// loadSecrets reads the secret config values the workloads need. Presence
// was checked by validate, so RequireSecret cannot fail here.
func loadSecrets(ctx *pulumi.Context, c Config) Secrets {
	w := c.Workloads
	var s Secrets
	if w.HasSecret(DockerHubTokenKey) {
		s.DockerHubToken = config.RequireSecret(ctx, Project+":"+DockerHubTokenKey)
	}
	if w.HasSecret(ArgoCDAdminPasswordKey) {
		s.ArgoCDAdminPassword = config.RequireSecret(ctx, Project+":"+ArgoCDAdminPasswordKey)
	}
	if w.HasSecret(ArgoCDNotificationsTokenKey) {
		s.ArgoCDNotificationsToken = config.RequireSecret(ctx, Project+":"+ArgoCDNotificationsTokenKey)
	}
	if w.HasSecret(GrafanaAdminPasswordKey) {
		s.GrafanaAdminPassword = config.RequireSecret(ctx, Project+":"+GrafanaAdminPasswordKey)
	}
	if w.HasSecret(AlertingSlackWebhookURLKey) {
		s.AlertingSlackWebhookURL = config.RequireSecret(ctx, Project+":"+AlertingSlackWebhookURLKey)
	}
	return s
}

// ldsImageDigest: an image reference pinned by digest.
var ldsImageDigest = regexp.MustCompile(`@sha256:[a-f0-9]{64}$`)

// placeholderImageTags stand in for a real release.
var placeholderImageTags = []string{"placeholder", "changeme", "change-me", "todo", "tbd", "example", "0.0.0"}

// seedLDSImage is the reference the seed's stack carried; nothing publishes it.
const seedLDSImage = "docker.io/aiplatform/lds-service"

// ldsImageProblem says what is wrong with the lds-service image for the
// stack, or "". Outside dev the image is pinned by digest (what the deploy
// workflow's image job prints), so a deploy runs exactly the image that was
// built and tested; the seed's image, which nothing builds, never becomes
// ready in any stack.
func ldsImageProblem(image, stack string) string {
	const how = "build and push it with `go -C cmd/lds-image run . -push ghcr.io/<owner>/lds-service:<tag>`, which prints the digest, " +
		"then `pulumi config set --path 'aiplatform:ldsService.image' ghcr.io/<owner>/lds-service@sha256:<digest>` (docs/inference.md)"
	repo, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	if repo == seedLDSImage {
		return fmt.Sprintf("%q is the seed's placeholder, which nothing builds or publishes, so the Deployment never becomes ready; %s", image, how)
	}
	if stack == DevStack {
		return ""
	}
	last := image[strings.LastIndex(image, "/")+1:]
	last, _, _ = strings.Cut(last, "@")
	if _, tag, ok := strings.Cut(last, ":"); ok && slices.Contains(placeholderImageTags, strings.ToLower(tag)) {
		return fmt.Sprintf("%q has the placeholder tag %q; outside the %s stack the image is pinned by digest: %s", image, tag, DevStack, how)
	}
	if !ldsImageDigest.MatchString(image) {
		return fmt.Sprintf("%q has no digest; outside the %s stack the image is pinned by digest (@sha256:<64 hex>) so a deploy runs exactly what was built: %s", image, DevStack, how)
	}
	return ""
}

// validateScaleToZero checks what Triton's scale to zero needs outside
// the Triton key: the metrics stack (KEDA reads its Prometheus), lds-service
// (its failed calls are what wakes Triton), and GPU groups that may go to 0
// nodes (else the idle node stays and is paid for).
func validateScaleToZero(w WorkloadsConfig, groups []infra.NodeGroupSpec) []error {
	const key = "triton.scaleToZero.enabled"
	var errs []error
	bad := func(k, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%s: %s", Project, k, fmt.Sprintf(format, args...)))
	}
	if !w.Observability.On() {
		bad(key, "needs the metrics stack: KEDA sizes and wakes Triton from its Prometheus, and observability.enabled is false; "+
			"turn observability on, or set %s to false", key)
	}
	if w.LDSService == nil {
		bad(key, "needs ldsService: only lds-service's failed calls to Triton wake it from zero, and ldsService is not set; "+
			"configure ldsService, or set %s to false", key)
	}
	for i, g := range groups {
		if g.Kind == infra.GPUNodes && g.MinSize > 0 {
			bad(fmt.Sprintf("nodeGroups[%d].minSize", i), "is %d, so group %q keeps %d GPU node(s) while Triton is at zero and scaling to zero saves nothing; "+
				"set minSize (and desiredSize) to 0, or set %s to false", g.MinSize, g.Name, g.MinSize, key)
		}
	}
	return errs
}
