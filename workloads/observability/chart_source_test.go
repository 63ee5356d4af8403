package observability

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/internal/wltest"
	"github.com/aiplatform/infra/workloads/observability/signals"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exposedSpec turns on every optional key (both ALBs, persistent storage).
func exposedSpec() MetricsStackSpec {
	e := Endpoint{Exposure: workloads.Public, Host: "grafana.ai.example.com", AllowedCIDRs: []string{"203.0.113.0/24"}, CertificateARN: wltest.TestCert}
	p := PrometheusSpec{Endpoint: e}
	p.Host = "prometheus.ai.example.com"
	alerting := signals.AlertingSpec{Receiver: signals.SlackReceiver, SlackChannel: "#ai-alerts"}
	return MetricsStackSpec{Prometheus: p, Grafana: e, Alerting: alerting}.WithDefaults(workloads.Defaults{})
}

func placeholderCA() pulumi.StringOutput { return pulumi.String("ca").ToStringOutput() }

// chartValuesFor renders each chart's values with every optional key set.
func chartValuesFor(chart workloads.Chart) []pulumi.Map {
	switch chart.Name {
	case workloads.KubePrometheusStackChart.Name:
		dev := MetricsStackSpec{Prometheus: PrometheusSpec{Storage: EmptyDirStorage}}.WithDefaults(workloads.Defaults{})
		return []pulumi.Map{metricsStackValues(exposedSpec(), placeholderCA()), metricsStackValues(dev, placeholderCA())}
	case workloads.PrometheusAdapterChart.Name:
		return []pulumi.Map{prometheusAdapterValues("http://prometheus.monitoring.svc", []signals.AdapterRule{signals.OfferedLoadRule()}, pulumi.StringMap{}.ToStringMapOutput())}
	case workloads.DCGMExporterChart.Name:
		return []pulumi.Map{dcgmExporterValues()}
	}
	panic("no values for chart " + chart.Name)
}

var metricsCharts = []workloads.Chart{workloads.KubePrometheusStackChart, workloads.PrometheusAdapterChart, workloads.DCGMExporterChart}

// Every key the program sets exists in the chart (with its subcharts): a
// misspelt or removed key would be ignored by Helm without a word.
func TestChartValuesUseOnlyKnownKeys(t *testing.T) {
	for _, c := range metricsCharts {
		row, _ := workloads.LookupAddonChart(c.Name)
		for i := range chartValuesFor(c) {
			wltest.CheckValuesUseOnlyKnownKeys(t, c.Name, row.Supported(), func(v string) pulumi.Map { return chartValuesFor(c.WithVersion(v))[i] })
		}
	}
}

// The keys values.yaml only mentions in comments are read by the templates.
func TestTemplateOnlyValuesAreRead(t *testing.T) {
	chart := kps(t)
	assert.Contains(t, chart.Files["charts/grafana/templates/ingress.yaml"], "{{- if .Values.ingress.ingressClassName }}")
	assert.Contains(t, chart.Files["templates/prometheus/ingress.yaml"], "{{- $pathType := .Values.prometheus.ingress.pathType")
	assert.Equal(t, []string{"grafana.ingress.ingressClassName", "prometheus.ingress.pathType"}, wltest.TemplateOnlyValues[workloads.KubePrometheusStackChart.Name])
}

func kps(t *testing.T) wltest.PackagedChart {
	return wltest.ReadChart(t, wltest.ChartsDir(t), workloads.KubePrometheusStackChart.Name, workloads.KubePrometheusStackChart.Version)
}

func values(t *testing.T) pulumi.Map {
	t.Helper()
	return metricsStackValues(exposedSpec(), placeholderCA())
}

// The Helm v4 Chart runs no hooks. kube-prometheus-stack 88.5.3 has hooks
// in two places only (shared/charts/README.md): the admission webhooks'
// patch Jobs with their RBAC (gated by admissionWebhooks.patch.enabled) and
// the CRD upgrade Job (gated by crds.upgradeJob.enabled). Both are off.
func TestMetricsStackRendersNoHooks(t *testing.T) {
	chart := kps(t)
	gates := map[string]string{
		"templates/prometheus-operator/admission-webhooks/job-patch/": ".Values.prometheusOperator.admissionWebhooks.patch.enabled",
		"charts/crds/templates/upgrade/":                              ".Values.upgradeJob.enabled",
	}
	hooks := 0
	for path, body := range chart.Files {
		if !strings.Contains(body, "helm.sh/hook") {
			continue
		}
		hooks++
		gated := false
		for dir, gate := range gates {
			if strings.HasPrefix(path, dir) {
				head, _, _ := strings.Cut(body, "\n---")
				assert.Contains(t, head[:min(len(head), 600)], gate, "%s is gated by %s", path, gate)
				gated = true
			}
		}
		assert.True(t, gated, "hook outside the known gated folders: %s", path)
	}
	assert.Positive(t, hooks)
	v := values(t)
	assert.Equal(t, pulumi.Bool(false), v["prometheusOperator"].(pulumi.Map)["admissionWebhooks"].(pulumi.Map)["patch"].(pulumi.Map)["enabled"])
	assert.Equal(t, pulumi.Bool(false), v["crds"].(pulumi.Map)["upgradeJob"].(pulumi.Map)["enabled"])
	assert.Equal(t, pulumi.Bool(false), v["grafana"].(pulumi.Map)["testFramework"].(pulumi.Map)["enabled"])
}

// With the patch Jobs off, the operator still mounts Secret
// <fullname>-admission at /cert and reads cert and key from it
// (prometheusOperator.tls.enabled defaults to true), the webhooks call the
// operator's Service and take their caBundle from admissionWebhooks.caBundle
// as it is (already base64), with failurePolicy Fail. The program's kept
// Secret has that name and those keys, and its certificate names that Service.
func TestMetricsStackAdmissionTLSMatchesTheChart(t *testing.T) {
	chart := kps(t)
	deploy := chart.Files["templates/prometheus-operator/deployment.yaml"]
	assert.Contains(t, deploy, `secretName: {{ template "kube-prometheus-stack.fullname" . }}-admission`)
	assert.Contains(t, deploy, `--web.cert-file=/cert/{{ if .Values.prometheusOperator.admissionWebhooks.certManager.enabled }}tls.crt{{ else }}cert{{ end }}`)
	assert.Contains(t, deploy, `--web.key-file=/cert/{{ if .Values.prometheusOperator.admissionWebhooks.certManager.enabled }}tls.key{{ else }}key{{ end }}`)
	for _, f := range []string{"mutatingWebhookConfiguration.yaml", "validatingWebhookConfiguration.yaml"} {
		body := chart.Files["templates/prometheus-operator/admission-webhooks/"+f]
		assert.Contains(t, body, `caBundle: {{ .Values.prometheusOperator.admissionWebhooks.caBundle }}`, f)
		assert.Contains(t, body, `name: {{ template "kube-prometheus-stack.operator.fullname" $ }}`, f)
		assert.Contains(t, body, "failurePolicy: Fail", f)
	}
	helpers := chart.Files["templates/_helpers.tpl"]
	assert.Contains(t, helpers, `{{- printf "%s-operator" (include "kube-prometheus-stack.fullname" .) -}}`)
	assert.Equal(t, metricsRelease+"-admission", AdmissionSecret)
	assert.Equal(t, metricsRelease+"-operator", operatorService)
	tls, err := generateAdmissionTLS()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{admissionCAKey, admissionCertKey, admissionKeyKey}, keys(tls))
	assert.Contains(t, tls[admissionCertKey], "BEGIN CERTIFICATE")
	assert.Equal(t, true, chart.Values(t, "")["prometheusOperator"].(map[string]any)["tls"].(map[string]any)["enabled"])
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Render-time random values and lookups of the chart (shared/charts/README.md):
// Grafana's admin Secret (randAlphaNum 40 unless admin.existingSecret) is
// not rendered at all with an existing Secret, the image renderer (its own
// random token) and persistence (lookup of the PVC) stay off.
func TestMetricsStackRendersNoRandomValues(t *testing.T) {
	chart := kps(t)
	secret := chart.Files["charts/grafana/templates/secret.yaml"]
	assert.True(t, strings.HasPrefix(secret, "{{- if or (and (not .Values.admin.existingSecret)"), "grafana's Secret is skipped with admin.existingSecret")
	assert.Contains(t, chart.Files["charts/grafana/templates/_config.tpl"], "(not .Values.admin.existingSecret)", "checksum/secret hashes nothing random")
	g := values(t)["grafana"].(pulumi.Map)
	assert.Equal(t, pulumi.String(GrafanaAdminSecret), g["admin"].(pulumi.Map)["existingSecret"])
	gv := chart.Values(t, "charts/grafana/")
	assert.Equal(t, false, gv["imageRenderer"].(map[string]any)["enabled"])
	assert.Equal(t, false, gv["persistence"].(map[string]any)["enabled"])
	assert.NotContains(t, g, "imageRenderer")
	assert.NotContains(t, g, "persistence")
}

// The CRDs ship in the crds subchart's crds/ folder; none carries
// helm.sh/resource-policy: keep (which the Helm v4 Chart would turn into
// retainOnDelete), so `pulumi destroy` removes them, as for Argo CD.
func TestMetricsStackCRDsAreDeletedWithTheStack(t *testing.T) {
	chart := kps(t)
	crds := 0
	for path, body := range chart.Files {
		if strings.HasPrefix(path, "charts/crds/crds/") {
			crds++
			assert.NotContains(t, body, "resource-policy", path)
		}
	}
	assert.Positive(t, crds)
	meta := chart.Meta(t, "")
	for _, d := range meta.Dependencies {
		if d.Name == "crds" {
			assert.Equal(t, "crds.enabled", d.Condition)
		}
	}
}

// The signals' labels reach the chart: kube-state-metrics' allowlist (the
// spot alert), the sidecar's dashboard label, node-exporter in the agents
// namespace with its ServiceMonitor (namespaceOverride moves both).
func TestMetricsStackSignalsSettings(t *testing.T) {
	chart := kps(t)
	v := values(t)
	assert.Equal(t, pulumi.ToStringArray(signals.KubeStateMetricsLabelsAllowlist), v["kube-state-metrics"].(pulumi.Map)["metricLabelsAllowlist"])
	dash := v["grafana"].(pulumi.Map)["sidecar"].(pulumi.Map)["dashboards"].(pulumi.Map)
	assert.Equal(t, pulumi.String(signals.GrafanaDashboardLabel), dash["label"])
	helpers := chart.Files["charts/prometheus-node-exporter/templates/_helpers.tpl"]
	assert.Contains(t, helpers, `define "prometheus-node-exporter.monitor-namespace"`)
	assert.Contains(t, chart.Files["charts/prometheus-node-exporter/templates/servicemonitor.yaml"], `namespace: {{ include "prometheus-node-exporter.monitor-namespace" . }}`)
	assert.Equal(t, pulumi.String(AgentsNamespace), v["prometheus-node-exporter"].(pulumi.Map)["namespaceOverride"])
	ps := chart.Values(t, "")["prometheus"].(map[string]any)["prometheusSpec"].(map[string]any)
	assert.Equal(t, map[string]any{}, ps["serviceMonitorNamespaceSelector"], "Prometheus looks in every namespace")
}

// prometheus-adapter: with tls.enable the APIService carries the CA as its
// caBundle and no insecureSkipTLSVerify, and the chart's Secret holds the
// certificate and key from the values. The certificate names the Service.
func TestPrometheusAdapterTLSMatchesTheChart(t *testing.T) {
	row := workloads.PrometheusAdapterChart
	chart := wltest.ReadChart(t, wltest.ChartsDir(t), row.Name, row.Version)
	api := chart.Files["templates/custom-metrics-apiservice.yaml"]
	assert.Contains(t, api, "caBundle: {{ b64enc .Values.tls.ca }}")
	assert.Contains(t, api, "{{- if not (or .Values.tls.enable .Values.certManager.enabled) }}\n  insecureSkipTLSVerify: true")
	assert.Contains(t, api, `name: {{ template "k8s-prometheus-adapter.fullname" . }}`)
	assert.Contains(t, chart.Files["templates/_helpers.tpl"], "{{- if contains $name .Release.Name -}}\n{{- .Release.Name")
	assert.Contains(t, chart.Files["templates/secret.yaml"], "tls.crt: {{ b64enc .Values.tls.certificate }}")
	v := chartValuesFor(row)[0]
	assert.Equal(t, pulumi.Bool(true), v["tls"].(pulumi.Map)["enable"])
	assert.ElementsMatch(t, []string{"enable", "ca", "certificate", "key"}, wltest.MapKeys(v["tls"].(pulumi.Map)))
	assert.Equal(t, pulumi.Bool(false), v["rules"].(pulumi.Map)["default"])
}

// dcgm-exporter: no hooks, and the two render-time random values stay off:
// the TLS Secret (genCA when tlsServerConfig.enabled and autoGenerated) and
// basicAuth's bcrypt. The ServiceMonitor takes honorLabels from the values.
func TestDCGMExporterRendersNoRandomValues(t *testing.T) {
	row := workloads.DCGMExporterChart
	chart := wltest.ReadChart(t, wltest.ChartsDir(t), row.Name, row.Version)
	for path, body := range chart.Files {
		assert.NotContains(t, body, "helm.sh/hook", path)
	}
	assert.Contains(t, chart.Files["templates/tls-secret.yaml"], ".Values.tlsServerConfig.enabled")
	// The ServiceMonitor is the program's own (NewDCGMExporter): it selects
	// the chart's Service by the chart's selector labels, port "metrics".
	assert.Contains(t, chart.Files["templates/service-monitor.yaml"], "{{- if .Values.serviceMonitor.enabled }}")
	assert.Contains(t, chart.Files["templates/_helpers.tpl"], "app.kubernetes.io/name: {{ include \"dcgm-exporter.name\" . }}\napp.kubernetes.io/instance: {{ .Release.Name }}\napp.kubernetes.io/component: {{ include \"dcgm-exporter.name\" . }}")
	assert.Contains(t, chart.Files["templates/service.yaml"], `- name: "metrics"`)
	v := dcgmExporterValues()
	assert.Equal(t, pulumi.Bool(false), v["tlsServerConfig"].(pulumi.Map)["enabled"])
	assert.NotContains(t, v, "basicAuth")
	assert.Equal(t, pulumi.Bool(false), v["serviceMonitor"].(pulumi.Map)["enabled"])
	assert.Equal(t, workloads.GPUTolerationValues(), v["tolerations"])
}

// Issue 21 item 7: dcgm-exporter starts no pod watcher, so the agents
// namespace's deny-all egress (DNS only) costs nothing. The chart mounts a
// service account token only for pod labels, pod UIDs or DRA, all pinned
// off; without a token 4.8.2's NewPodMapper stops at rest.InClusterConfig
// and maps GPUs to pods through the kubelet socket alone. The chart's
// default arguments read no ConfigMap through the API (-m).
func TestDCGMExporterNeedsNoAPIServer(t *testing.T) {
	row := workloads.DCGMExporterChart
	chart := wltest.ReadChart(t, wltest.ChartsDir(t), row.Name, row.Version)
	ds := chart.Files["templates/daemonset.yaml"]
	assert.Contains(t, ds, "automountServiceAccountToken: {{ or (and (or .Values.kubernetes.enablePodLabels .Values.kubernetes.enablePodUID) .Values.kubernetes.rbac.create) .Values.kubernetesDRA.enabled }}")
	assert.Contains(t, ds, "- name: \"pod-gpu-resources\"\n        hostPath:\n          path: {{ .Values.kubeletPath }}")
	v := dcgmExporterValues()
	k8s := v["kubernetes"].(pulumi.Map)
	assert.Equal(t, pulumi.Bool(false), k8s["enablePodLabels"])
	assert.Equal(t, pulumi.Bool(false), k8s["enablePodUID"])
	assert.Equal(t, pulumi.Bool(false), v["kubernetesDRA"].(pulumi.Map)["enabled"])
	assert.NotContains(t, v, "arguments")
	assert.NotContains(t, strings.Join(anyStrings(chart.Values(t, "")["arguments"]), " "), "-m")
}

func anyStrings(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(string))
	}
	return out
}

// Issue 21 item 2: the chart's KubePodNotReady takes its hold from
// customRules, and the program sets it past Triton's startup budget (the
// chart's 15 m would warn on every cold GPU scale-out).
func TestKubePodNotReadyHoldsPastTritonStartup(t *testing.T) {
	apps := kps(t).Files["templates/prometheus/rules-1.14/kubernetes-apps.yaml"]
	assert.Contains(t, apps, `for: {{ dig "KubePodNotReady" "for" "15m" .Values.customRules }}`)
	for _, alert := range signals.ChartAlertsCovering {
		assert.Contains(t, apps, "- alert: "+alert)
	}
	// KubeHpaMaxedOut stays quiet for an HPA with minReplicas == maxReplicas.
	assert.Contains(t, apps, "kube_horizontalpodautoscaler_spec_max_replicas{job=\"{{ $kubeStateMetricsJob }}\", namespace{{ $namespaceOperator }}\"{{ $targetNamespace }}\"}\n            !=\n          kube_horizontalpodautoscaler_spec_min_replicas")
	hold := values(t)["customRules"].(pulumi.Map)["KubePodNotReady"].(pulumi.Map)["for"]
	d, err := time.ParseDuration(string(hold.(pulumi.String)))
	require.NoError(t, err)
	assert.Greater(t, d, signals.TritonStartupBudget)
}

// Issue 21 item 8: with a receiver, alertmanager.config is the whole
// configuration: every key of the chart's default is set (Helm merges maps,
// so a key left out would come back from the chart), the chart's inhibit
// rules, grouping and templates are kept, and the Secret the Slack
// receiver reads is mounted where the operator puts it.
func TestAlertmanagerConfigReplacesTheChartDefault(t *testing.T) {
	chart := kps(t)
	def := chart.Values(t, "")["alertmanager"].(map[string]any)["config"].(map[string]any)
	spec := exposedSpec()
	am := metricsStackValues(spec, placeholderCA())["alertmanager"].(pulumi.Map)
	var ours map[string]any
	b, err := json.Marshal(signals.AlertmanagerConfigFor(spec.Alerting, slackWebhookURLFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &ours))
	assert.Equal(t, toValues(signals.AlertmanagerConfigFor(spec.Alerting, slackWebhookURLFile)), am["config"])
	var missing func(path string, def, ours map[string]any)
	missing = func(path string, def, ours map[string]any) {
		for k, v := range def {
			o, ok := ours[k]
			if !assert.True(t, ok, "alertmanager.config%s.%s left to the chart", path, k) {
				continue
			}
			if dm, isMap := v.(map[string]any); isMap {
				missing(path+"."+k, dm, o.(map[string]any))
			}
		}
	}
	missing("", def, ours)
	for _, k := range []string{"global", "inhibit_rules", "templates"} {
		assert.Equal(t, mustNormalize(t, def[k]), mustNormalize(t, ours[k]), k)
	}
	for _, k := range []string{"group_by", "group_wait", "group_interval", "repeat_interval"} {
		assert.Equal(t, def["route"].(map[string]any)[k], ours["route"].(map[string]any)[k], k)
	}
	assert.Equal(t, pulumi.StringArray{pulumi.String(AlertReceiverSecret)}, am["alertmanagerSpec"].(pulumi.Map)["secrets"])
	crd := chart.Files["charts/crds/crds/crd-alertmanagers.yaml"]
	assert.Contains(t, crd, "The Secrets are mounted into `/etc/alertmanager/secrets/<secret-name>` in the 'alertmanager' container.")
	assert.Equal(t, "/etc/alertmanager/secrets/"+AlertReceiverSecret+"/"+slackWebhookURLKey, slackWebhookURLFile)

	// Off (the default): the chart's configuration, nothing mounted.
	off := metricsStackValues(MetricsStackSpec{}.WithDefaults(workloads.Defaults{}), placeholderCA())["alertmanager"].(pulumi.Map)
	assert.NotContains(t, off, "config")
	assert.NotContains(t, off["alertmanagerSpec"].(pulumi.Map), "secrets")
}

// mustNormalize round-trips v through JSON, so YAML-decoded chart values
// and the Go values compare as plain data.
func mustNormalize(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}
