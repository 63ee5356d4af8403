package observability

import (
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/observability/signals"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const metricsStackType = "aiplatform:workloads:MetricsStack"

// Names the kube-prometheus-stack chart derives from its release. The
// release contains the chart name, so the chart's fullname is the release
// (templates/_helpers.tpl kube-prometheus-stack.fullname); the grafana
// subchart's is <release>-grafana.
const (
	metricsRelease = "kube-prometheus-stack"
	// PrometheusService serves Prometheus's API and UI on PrometheusPort.
	PrometheusService = metricsRelease + "-prometheus"
	PrometheusPort    = 9090
	// GrafanaService serves Grafana on port 80 (kubectl port-forward svc/... 3000:80).
	GrafanaService = metricsRelease + "-grafana"
	// operatorService serves the operator's admission webhooks (HTTPS).
	operatorService = metricsRelease + "-operator"
	// AdmissionSecret is what the operator mounts at /cert (keys cert, key)
	// when prometheusOperator.tls.enabled; the chart creates it only in a
	// hook Job (admission-webhooks/job-patch/job-createSecret.yaml).
	AdmissionSecret = metricsRelease + "-admission"
	// GrafanaAdminSecret holds Grafana's admin login (grafana.admin.existingSecret).
	GrafanaAdminSecret   = "grafana-admin"
	grafanaAdminUserKey  = "admin-user"
	grafanaAdminPassKey  = "admin-password"
	grafanaAdminUser     = "admin"
	grafanaPasswordChars = 32
	// alertsRuleName is the platform's PrometheusRule.
	alertsRuleName = "aiplatform-alerts"
	// AlertReceiverSecret holds the receivers' secrets (key
	// slackWebhookURLKey), listed in alertmanagerSpec.secrets: the operator
	// mounts each such Secret at /etc/alertmanager/secrets/<name>/
	// (prometheus-operator API, AlertmanagerSpec.secrets), where the
	// configuration's api_url_file points.
	AlertReceiverSecret = "aiplatform-alert-receivers"
	slackWebhookURLKey  = "slack-webhook-url"
)

// slackWebhookURLFile is where Alertmanager reads the Slack webhook URL.
const slackWebhookURLFile = "/etc/alertmanager/secrets/" + AlertReceiverSecret + "/" + slackWebhookURLKey

// kubePodNotReadyFor is the hold of the chart's KubePodNotReady
// (customRules, templates/prometheus/rules-1.14/kubernetes-apps.yaml: dig
// "KubePodNotReady" "for" "15m"). Its 15 m default is shorter than Triton's
// startup probe, so every scale-out onto a cold GPU node would warn; the
// platform's alerts hold past the same budget.
var kubePodNotReadyFor = signals.TritonStartupBudget + signals.StartupMargin

// MetricsStackArgs configures the metrics stack.
type MetricsStackArgs struct {
	Spec MetricsStackSpec
	// AdminPassword is Grafana's admin password (a secret). When nil one is
	// generated once and kept in Secret GrafanaAdminSecret (and the state).
	AdminPassword pulumi.StringInput
	// Alerts parameterise the PrometheusRule (the Triton namespace, the HPA's metric).
	Alerts signals.AlertParams
	// Chart defaults to KubePrometheusStackChart.
	Chart workloads.Chart
	// SlackWebhookURL is the Slack incoming webhook (a secret), required
	// with Spec.Alerting.Receiver slack.
	SlackWebhookURL pulumi.StringInput
}

func (a MetricsStackArgs) withDefaults() MetricsStackArgs {
	a.Spec = a.Spec.WithDefaults(workloads.Defaults{})
	a.Alerts = a.Alerts.WithDefaults()
	if a.Chart.Name == "" {
		a.Chart = workloads.KubePrometheusStackChart
	}
	return a
}

// Validate reports every problem at once.
func (a MetricsStackArgs) Validate() error {
	errs := []error{a.Spec.Validate("spec")}
	if err := a.Alerts.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("alerts: %w", err))
	}
	if a.Spec.Alerting.Receiver == signals.SlackReceiver && a.SlackWebhookURL == nil {
		errs = append(errs, errors.New("slackWebhookUrl: required with alerting receiver slack"))
	}
	return errors.Join(errs...)
}

// MetricsStack is kube-prometheus-stack (Prometheus Operator, Prometheus,
// Alertmanager, Grafana, kube-state-metrics, node-exporter) on the system
// nodes, with the platform's alerts and dashboards. Prometheus selects every
// ServiceMonitor, PodMonitor and PrometheusRule of the cluster, whatever its
// labels; resources that need the monitoring.coreos.com CRDs depend on it.
type MetricsStack struct {
	pulumi.ResourceState

	Chart *helmv4.Chart
	// PrometheusURL is Prometheus's in-cluster address (prometheus-adapter's backend).
	PrometheusURL string
	// GrafanaURL and PrometheusUIURL are where people reach the UIs.
	GrafanaURL      pulumi.StringOutput
	PrometheusUIURL pulumi.StringOutput
}

// NewMetricsStack creates the namespaces, the kept admission certificate and
// Grafana login, installs the chart, then the alerts and dashboards.
func NewMetricsStack(ctx *pulumi.Context, name string, args *MetricsStackArgs, opts ...pulumi.ResourceOption) (*MetricsStack, error) {
	if args == nil {
		args = &MetricsStackArgs{}
	}
	a := args.withDefaults()
	if err := a.Validate(); err != nil {
		return nil, workloads.Errorf("metrics stack", name, err)
	}
	c := &MetricsStack{}
	if err := ctx.RegisterComponentResource(metricsStackType, name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	// Prometheus, Grafana and the operator run restricted-clean, but third
	// party charts change: baseline enforced, restricted warned about.
	ns, err := workloads.NewChartNamespace(ctx, name, MonitoringNamespace, parent)
	if err != nil {
		return nil, err
	}
	agents, err := workloads.NewNamespace(ctx, name+"-agents", &workloads.NamespaceArgs{Name: AgentsNamespace, PodSecurity: workloads.Privileged}, parent)
	if err != nil {
		return nil, err
	}
	// The agents' namespace is default-deny; only Prometheus's namespace may
	// reach dcgm-exporter (node-exporter uses the host's network, which
	// NetworkPolicies do not govern).
	if err := workloads.AllowNamespaceIngress(ctx, name+"-agents-scrape", "allow-metrics-scrape", agents.Name, pulumi.StringMap{},
		[]string{MonitoringNamespace}, []int{DCGMExporterPort}, parent); err != nil {
		return nil, err
	}
	nsName := ns.Metadata.Name().Elem()
	_, admission, err := workloads.NewKeptSecret(ctx, name+"-admission", workloads.KeptSecretArgs{
		Name:      AdmissionSecret,
		Namespace: nsName,
		Labels:    workloads.CommonLabels(metricsRelease, name),
		Generate:  generateAdmissionTLS,
	}, parent)
	if err != nil {
		return nil, err
	}
	adminSecret, err := grafanaAdmin(ctx, name, nsName, a.AdminPassword, parent)
	if err != nil {
		return nil, err
	}
	chartDeps := []pulumi.Resource{ns, agents.Namespace, adminSecret} // resources, not components: see stacks.deployWorkloads
	if a.Spec.Alerting.On() {
		receivers, err := corev1.NewSecret(ctx, name+"-alert-receivers", &corev1.SecretArgs{
			Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(AlertReceiverSecret), Namespace: nsName, Labels: workloads.CommonLabels("alertmanager", name)},
			Type:       pulumi.String("Opaque"),
			StringData: pulumi.StringMap{slackWebhookURLKey: pulumi.ToSecret(a.SlackWebhookURL).(pulumi.StringOutput)},
		}, parent)
		if err != nil {
			return nil, err
		}
		chartDeps = append(chartDeps, receivers)
	}
	release, err := workloads.InstallChart(ctx, name, a.Chart, metricsRelease, MonitoringNamespace,
		metricsStackValues(a.Spec, workloads.KeptValue(admission, admissionCAKey)), parent,
		pulumi.DependsOn(chartDeps))
	if err != nil {
		return nil, err
	}
	if _, err := apiextensions.NewCustomResource(ctx, name+"-alerts", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("monitoring.coreos.com/v1"),
		Kind:       pulumi.String("PrometheusRule"),
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(alertsRuleName),
			Namespace: nsName,
			Labels:    workloads.CommonLabels(alertsRuleName, name),
		},
		OtherFields: kubernetes.UntypedArgs{"spec": pulumi.Map{"groups": toValues(signals.AlertRuleGroups(a.Alerts))}},
	}, parent, pulumi.DependsOn([]pulumi.Resource{release})); err != nil {
		return nil, err
	}
	for _, d := range signals.Dashboards() {
		labels := workloads.CommonLabels("grafana-dashboard", name)
		labels[signals.GrafanaDashboardLabel] = pulumi.String(grafanaDashboardLabelValue)
		if _, err := corev1.NewConfigMap(ctx, name+"-dashboard-"+d.UID, &corev1.ConfigMapArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("dashboard-" + d.UID), Namespace: nsName, Labels: labels},
			Data:     pulumi.StringMap{d.FileName: pulumi.String(string(d.JSON))},
		}, parent); err != nil {
			return nil, err
		}
	}
	c.Chart = release
	c.PrometheusURL = fmt.Sprintf("http://%s.%s.svc", PrometheusService, MonitoringNamespace)
	c.GrafanaURL = pulumi.String(a.Spec.Grafana.url(GrafanaService, 80)).ToStringOutput()
	c.PrometheusUIURL = pulumi.String(a.Spec.Prometheus.url(PrometheusService, PrometheusPort)).ToStringOutput()
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"grafanaUrl": c.GrafanaURL, "prometheusUrl": c.PrometheusUIURL})
}

// grafanaDashboardLabelValue is the value the sidecar matches
// (grafana.sidecar.dashboards.labelValue).
const grafanaDashboardLabelValue = "1"

// Keys of Secret AdmissionSecret: the operator reads cert and key
// (templates/prometheus-operator/deployment.yaml, --web.cert-file=/cert/cert);
// ca is the webhooks' caBundle.
const (
	admissionCAKey   = "ca"
	admissionCertKey = "cert"
	admissionKeyKey  = "key"
)

// generateAdmissionTLS makes the CA and the serving certificate of the
// operator's webhook Service, under the keys the operator mounts.
func generateAdmissionTLS() (map[string]string, error) {
	tls, err := workloads.GenerateWebhookTLS(operatorService, workloads.ServiceDNSNames(operatorService, MonitoringNamespace), time.Now())
	if err != nil {
		return nil, err
	}
	return map[string]string{admissionCAKey: tls[workloads.TLSCAKey], admissionCertKey: tls[workloads.TLSCertKey], admissionKeyKey: tls[workloads.TLSKeyKey]}, nil
}

// grafanaAdmin is Secret GrafanaAdminSecret: the configured password, or
// one generated once and kept.
func grafanaAdmin(ctx *pulumi.Context, name string, namespace pulumi.StringInput, password pulumi.StringInput, parent pulumi.ResourceOption) (*corev1.Secret, error) {
	labels := workloads.CommonLabels("grafana", name)
	if password == nil {
		secret, _, err := workloads.NewKeptSecret(ctx, name+"-grafana-admin", workloads.KeptSecretArgs{
			Name: GrafanaAdminSecret, Namespace: namespace, Labels: labels,
			Generate: func() (map[string]string, error) {
				pw, err := workloads.RandomPassword(grafanaPasswordChars)
				return map[string]string{grafanaAdminUserKey: grafanaAdminUser, grafanaAdminPassKey: pw}, err
			},
		}, parent)
		return secret, err
	}
	return corev1.NewSecret(ctx, name+"-grafana-admin", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(GrafanaAdminSecret), Namespace: namespace, Labels: labels},
		Type:     pulumi.String("Opaque"),
		StringData: pulumi.StringMap{
			grafanaAdminUserKey: pulumi.String(grafanaAdminUser),
			grafanaAdminPassKey: pulumi.ToSecret(password).(pulumi.StringOutput),
		},
	}, parent)
}

// metricsStackValues are the chart values. caPEM is the kept admission CA
// (a secret); the webhooks' caBundle is its base64.
func metricsStackValues(s MetricsStackSpec, caPEM pulumi.StringOutput) pulumi.Map {
	caBundle := pulumi.ToSecret(caPEM.ApplyT(func(pem string) string {
		return base64.StdEncoding.EncodeToString([]byte(pem))
	})).(pulumi.StringOutput)
	return pulumi.Map{
		// CRDs come from the crds subchart's crds/ directory, applied by the
		// Helm v4 Chart as ordinary resources (no keep annotation), so
		// `pulumi destroy` deletes them; the upgrade Job is a hook.
		"crds": pulumi.Map{"enabled": pulumi.Bool(true), "upgradeJob": pulumi.Map{"enabled": pulumi.Bool(false)}},
		// EKS runs the control plane: nothing of it can be scraped, and
		// kube-proxy listens on 127.0.0.1 only. Their targets would be down
		// forever and fire the chart's TargetDown alerts.
		"kubeControllerManager": pulumi.Map{"enabled": pulumi.Bool(false)},
		"kubeScheduler":         pulumi.Map{"enabled": pulumi.Bool(false)},
		"kubeEtcd":              pulumi.Map{"enabled": pulumi.Bool(false)},
		"kubeProxy":             pulumi.Map{"enabled": pulumi.Bool(false)},
		"prometheusOperator":    operatorValues(caBundle),
		"prometheus":            prometheusValues(s.Prometheus),
		"alertmanager":          alertmanagerValues(s.Alerting),
		// The chart's pod alert holds past Triton's startup budget.
		"customRules": pulumi.Map{"KubePodNotReady": pulumi.Map{"for": pulumi.String(signals.PromDuration(kubePodNotReadyFor))}},
		"grafana":     grafanaValues(s.Grafana),
		"kube-state-metrics": systemPlacement(pulumi.Map{
			// kube_node_labels carries only allowed labels; the spot alert needs these.
			"metricLabelsAllowlist": pulumi.ToStringArray(signals.KubeStateMetricsLabelsAllowlist),
			"resources":             kubeStateMetrics.values(),
		}),
		"prometheus-node-exporter": pulumi.Map{
			// Into the privileged agents namespace, on every node: GPU
			// nodes (their taint) and tainted system nodes included.
			"namespaceOverride": pulumi.String(AgentsNamespace),
			"tolerations":       pulumi.Array{pulumi.Map{"operator": pulumi.String("Exists")}},
			"resources":         nodeExporterContainer.values(),
		},
	}
}

// alertmanagerValues: with a receiver, the whole configuration (so the
// chart's defaults merge into nothing) and its Secret mounted; without,
// the chart's configuration, which sends nothing.
func alertmanagerValues(a signals.AlertingSpec) pulumi.Map {
	spec := systemPlacement(pulumi.Map{"resources": alertmanagerContainer.values()})
	values := pulumi.Map{"alertmanagerSpec": spec}
	if a.On() {
		spec["secrets"] = pulumi.StringArray{pulumi.String(AlertReceiverSecret)}
		values["config"] = toValues(signals.AlertmanagerConfigFor(a, slackWebhookURLFile))
	}
	return values
}

func operatorValues(caBundle pulumi.StringOutput) pulumi.Map {
	return systemPlacement(pulumi.Map{
		"resources": operatorContainer.values(),
		"admissionWebhooks": pulumi.Map{
			// The patch Jobs (hooks) would create Secret AdmissionSecret and
			// write the caBundle; the Helm v4 Chart runs no hooks. The
			// program creates the Secret from a kept CA and passes the
			// bundle, so the webhooks validate PrometheusRules (failurePolicy Fail).
			"patch":    pulumi.Map{"enabled": pulumi.Bool(false)},
			"caBundle": caBundle,
		},
		"prometheusConfigReloader": pulumi.Map{"resources": configReloaderContainer.values()},
	})
}

func prometheusValues(p PrometheusSpec) pulumi.Map {
	spec := systemPlacement(pulumi.Map{
		"retention":     pulumi.String(p.Retention),
		"retentionSize": pulumi.String(retentionSize(p.Storage)),
		"resources":     prometheusContainer.values(),
		// Select every ServiceMonitor, PodMonitor and PrometheusRule in the
		// cluster, not only those labelled with this release: the Triton
		// ServiceMonitor and dcgm-exporter's need no chart label.
		"serviceMonitorSelectorNilUsesHelmValues": pulumi.Bool(false),
		"podMonitorSelectorNilUsesHelmValues":     pulumi.Bool(false),
		"ruleSelectorNilUsesHelmValues":           pulumi.Bool(false),
	})
	if p.Storage == EmptyDirStorage {
		spec["storageSpec"] = pulumi.Map{"emptyDir": pulumi.Map{"sizeLimit": pulumi.String(emptyDirSizeLimit)}}
	} else {
		spec["storageSpec"] = pulumi.Map{"volumeClaimTemplate": pulumi.Map{"spec": pulumi.Map{
			"storageClassName": pulumi.String(workloads.DefaultStorageClass),
			"accessModes":      pulumi.StringArray{pulumi.String("ReadWriteOnce")},
			"resources":        pulumi.Map{"requests": pulumi.Map{"storage": pulumi.String(p.Storage)}},
		}}}
		// The StatefulSet's claim (and its EBS volume) goes with the
		// Prometheus resource, so destroy leaves no volume behind.
		spec["persistentVolumeClaimRetentionPolicy"] = pulumi.Map{"whenDeleted": pulumi.String("Delete"), "whenScaled": pulumi.String("Retain")}
	}
	values := pulumi.Map{"prometheusSpec": spec}
	if p.Exposure.LoadBalanced() {
		spec["externalUrl"] = pulumi.String("https://" + p.Host)
		values["ingress"] = pulumi.Map{
			"enabled":          pulumi.Bool(true),
			"ingressClassName": pulumi.String("alb"),
			"annotations":      workloads.ALBAnnotationValues(p.exposure(), "/-/healthy"),
			"hosts":            pulumi.StringArray{pulumi.String(p.Host)},
			"paths":            pulumi.StringArray{pulumi.String("/")},
			"pathType":         pulumi.String("Prefix"),
		}
	}
	return values
}

func grafanaValues(g Endpoint) pulumi.Map {
	values := systemPlacement(pulumi.Map{
		// The login comes from Secret GrafanaAdminSecret; without it the
		// chart draws a random password on every render (randAlphaNum 40
		// in _helpers.tpl grafana.password) and restarts Grafana each time.
		"admin": pulumi.Map{
			"existingSecret": pulumi.String(GrafanaAdminSecret),
			"userKey":        pulumi.String(grafanaAdminUserKey),
			"passwordKey":    pulumi.String(grafanaAdminPassKey),
		},
		"resources": grafanaContainer.values(),
		"sidecar": pulumi.Map{
			"resources":  grafanaSidecarContainer.values(),
			"dashboards": pulumi.Map{"label": pulumi.String(signals.GrafanaDashboardLabel), "labelValue": pulumi.String(grafanaDashboardLabelValue)},
		},
		// The chart's test Pod is a Helm test hook, never run here.
		"testFramework": pulumi.Map{"enabled": pulumi.Bool(false)},
	})
	if g.Exposure.LoadBalanced() {
		values["grafana.ini"] = pulumi.Map{"server": pulumi.Map{"root_url": pulumi.String("https://" + g.Host)}}
		values["ingress"] = pulumi.Map{
			"enabled":          pulumi.Bool(true),
			"ingressClassName": pulumi.String("alb"),
			"annotations":      workloads.ALBAnnotationValues(g.exposure(), "/api/health"),
			"hosts":            pulumi.StringArray{pulumi.String(g.Host)},
			"path":             pulumi.String("/"),
			"pathType":         pulumi.String("Prefix"),
		}
	}
	return values
}
