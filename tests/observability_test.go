package tests

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aiplatform/infra/infra"
	"github.com/aiplatform/infra/stacks"
	"github.com/aiplatform/infra/tests/mocks"
	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/inference"
	"github.com/aiplatform/infra/workloads/observability"
	"github.com/aiplatform/infra/workloads/observability/signals"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	secretType       = "kubernetes:core/v1:Secret"
	customResource   = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
	storageClassType = "kubernetes:storage.k8s.io/v1:StorageClass"
	configMapType    = "kubernetes:core/v1:ConfigMap"
)

// The metrics stack is on by default: the pinned charts, the platform's
// alerts and dashboards, dcgm-exporter on GPU nodes only.
func TestObservabilityIsOnByDefault(t *testing.T) {
	rec := runProgram(t, baseConfig())
	kps := chartInputs(t, rec, "metrics")
	assert.Equal(t, "kube-prometheus-stack", kps["chart"])
	assert.Equal(t, workloads.KubePrometheusStackChart.Version, kps["version"])
	assert.Equal(t, observability.MonitoringNamespace, kps["namespace"])
	values := kps["values"].(map[string]any)
	assert.Equal(t, "15d", path(values, "prometheus", "prometheusSpec", "retention"))
	assert.Equal(t, "50Gi", path(values, "prometheus", "prometheusSpec", "storageSpec", "volumeClaimTemplate", "spec", "resources", "requests", "storage"))
	assert.Equal(t, workloads.DefaultStorageClass, path(values, "prometheus", "prometheusSpec", "storageSpec", "volumeClaimTemplate", "spec", "storageClassName"))
	assert.Equal(t, "system", path(values, "prometheus", "prometheusSpec", "nodeSelector", infra.NodeKindLabel))
	assert.Equal(t, observability.GrafanaAdminSecret, path(values, "grafana", "admin", "existingSecret"))
	assert.Nil(t, path(values, "grafana", "ingress"), "Grafana is cluster-internal by default")
	assert.Nil(t, path(values, "prometheus", "ingress"), "Prometheus is cluster-internal by default")
	assert.Equal(t, false, path(values, "prometheusOperator", "admissionWebhooks", "patch", "enabled"))
	assert.True(t, isSecretAt(find(t, rec, chartType, "metrics").Inputs, "values", "prometheusOperator", "admissionWebhooks", "caBundle"))

	adapter := chartInputs(t, rec, "prometheus-adapter")
	assert.Equal(t, workloads.PrometheusAdapterChart.Version, adapter["version"])
	assert.Equal(t, "http://kube-prometheus-stack-prometheus.monitoring.svc", path(adapter, "values", "prometheus", "url"))
	assert.Equal(t, true, path(adapter, "values", "tls", "enable"))
	assert.NotEmpty(t, path(adapter, "values", "rules", "custom"))

	dcgm := chartInputs(t, rec, "dcgm-exporter")
	assert.Equal(t, workloads.DCGMExporterChart.Version, dcgm["version"])
	assert.Equal(t, observability.AgentsNamespace, dcgm["namespace"])
	assert.Equal(t, map[string]any{infra.NodeKindLabel: "gpu"}, path(dcgm, "values", "nodeSelector"))
	assert.Equal(t, []any{map[string]any{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}}, path(dcgm, "values", "tolerations"))
	assert.Equal(t, false, path(dcgm, "values", "serviceMonitor", "enabled"), "not the chart's: its CR cannot render before the CRD exists")
	sm := plain(find(t, rec, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "dcgm-exporter").Inputs)
	assert.Equal(t, "ServiceMonitor", sm["kind"])
	assert.Equal(t, observability.AgentsNamespace, path(sm, "metadata", "namespace"))
	assert.Equal(t, true, path(sm, "spec", "endpoints", 0, "honorLabels"))
	assert.Equal(t, "metrics", path(sm, "spec", "endpoints", 0, "port"))
	assert.Equal(t, "dcgm-exporter", path(sm, "spec", "selector", "matchLabels", "app.kubernetes.io/instance"))

	// The alerts and the dashboards, after the chart (CRDs, webhooks).
	rule := find(t, rec, customResource, "metrics-alerts")
	assert.True(t, dependsOn(rule, find(t, rec, chartType, "metrics").URN))
	groups := path(plain(rule.Inputs), "spec", "groups").([]any)
	assert.Len(t, groups, 2)
	assert.Contains(t, mustJSONString(t, groups), `namespace=\"triton\"`)
	dashboards := 0
	for _, cm := range rec.ByType(configMapType) {
		if path(plain(cm.Inputs), "metadata", "labels", signals.GrafanaDashboardLabel) == "1" {
			dashboards++
		}
	}
	assert.Equal(t, len(signals.Dashboards()), dashboards)

	// Namespaces: baseline for the stack, privileged only for the node agents.
	ns := plain(find(t, rec, namespaceType, "metrics").Inputs)
	assert.Equal(t, "baseline", path(ns, "metadata", "labels", "pod-security.kubernetes.io/enforce"))
	agents := plain(find(t, rec, namespaceType, "metrics-agents").Inputs)
	assert.Equal(t, "privileged", path(agents, "metadata", "labels", "pod-security.kubernetes.io/enforce"))
	assert.Equal(t, observability.MonitoringNamespace, inference.DefaultMetricsNamespace, "Triton admits scrapes from the stack's namespace")
}

func mustJSONString(t *testing.T, v any) string { return string(mustJSON(t, v)) }

// Grafana's admin password is a secret everywhere: generated and kept when
// unset, the configured Pulumi secret otherwise.
func TestGrafanaAdminPasswordIsSecret(t *testing.T) {
	rec := runProgram(t, baseConfig())
	kept := find(t, rec, secretType, "metrics-grafana-admin")
	assert.True(t, kept.Inputs["data"].IsSecret() || kept.Inputs["data"].IsComputed() || kept.Inputs["data"].ContainsUnknowns(), "the generated password is a secret")
	assert.NotEmpty(t, secretData(t, kept)["admin-password"])

	rec = runProgram(t, with(baseConfig(), "aiplatform:grafanaAdminPassword", "correct-horse-grafana"))
	set := find(t, rec, secretType, "metrics-grafana-admin")
	assert.True(t, isSecretAt(set.Inputs, "stringData", "admin-password"))
	assert.NotContains(t, redacted(t, set.Inputs), "correct-horse-grafana")
}

// The EBS CSI driver is the EKS managed add-on with its own IRSA role,
// trusted only by its controller's service account; volumes are encrypted
// with its rotating key through the default StorageClass.
func TestEBSCSIDriverAndDefaultStorageClass(t *testing.T) {
	rec := runProgram(t, baseConfig())
	addon := plain(find(t, rec, addonType, "ebs-csi").Inputs)
	assert.Equal(t, "aws-ebs-csi-driver", addon["addonName"])
	v, _ := infra.LookupKubernetesVersion("1.36")
	assert.Equal(t, v.EBSCSIAddon, addon["addonVersion"])
	assert.Equal(t, "arn:aws:iam::123456789012:role/ebs-csi", addon["serviceAccountRoleArn"])
	policy, trust := irsaPolicy(t, rec, "ebs-csi")
	assert.Equal(t, "system:serviceaccount:kube-system:ebs-csi-controller-sa", trustedSubject(trust))
	assert.Contains(t, mustJSONString(t, policy), "kms:GrantIsForAWSResource")
	attach := plain(find(t, rec, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "ebs-csi-0").Inputs)
	assert.Equal(t, "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy", attach["policyArn"])
	// EKS reports the add-on active only once its controller runs: after the node groups.
	driver := find(t, rec, "aiplatform:infra:EBSCSIDriver", "ebs-csi")
	// The aws:eks NodeGroup lives inside pulumi-eks's remote component, which
	// has no children under the mocks: the component is what the driver waits for.
	groups := rec.ByType("eks:index:ManagedNodeGroup")
	require.Len(t, groups, 3, "the default node groups")
	for _, ng := range groups {
		assert.True(t, dependsOn(driver, ng.URN), "the EBS CSI add-on waits for node group %s", ng.Name)
	}

	sc := plain(find(t, rec, storageClassType, "default-storage-class").Inputs)
	assert.Equal(t, "true", path(sc, "metadata", "annotations", "storageclass.kubernetes.io/is-default-class"))
	assert.Equal(t, "ebs.csi.aws.com", sc["provisioner"])
	assert.Equal(t, "gp3", path(sc, "parameters", "type"))
	assert.Equal(t, "true", path(sc, "parameters", "encrypted"))
	assert.NotEmpty(t, path(sc, "parameters", "kmsKeyId"))
	assert.Equal(t, "WaitForFirstConsumer", sc["volumeBindingMode"])
}

// observability.enabled: false installs none of the metrics stack.
func TestObservabilityOptOut(t *testing.T) {
	rec := runProgram(t, with(baseConfig(), "aiplatform:observability", `{"enabled":false}`))
	for _, name := range []string{"metrics", "prometheus-adapter", "dcgm-exporter"} {
		_, ok := rec.Find(chartType, name)
		assert.False(t, ok, name)
	}
	assert.Empty(t, rec.ByType(customResource))
	assert.Empty(t, rec.ByType("aiplatform:workloads:MetricsStack"))
	_, err := runProgramErr(with(baseConfig(), "aiplatform:observability", `{"enabled":false}`, "aiplatform:grafanaAdminPassword", "pw"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aiplatform:grafanaAdminPassword: set, but observability.enabled is false")
}

// Dev keeps Prometheus on the node's disk; exposure works like Argo CD's
// (HTTPS ALB with named CIDRs, never the whole internet).
func TestObservabilityStorageAndExposure(t *testing.T) {
	rec := runProgram(t, with(wlFullConfig(), "aiplatform:observability",
		`{"prometheus":{"retention":"3d","storage":"emptyDir"},"grafana":{"exposure":"public","allowedCidrs":["203.0.113.0/24"]}}`))
	values := chartInputs(t, rec, "metrics")["values"].(map[string]any)
	assert.Equal(t, "3d", path(values, "prometheus", "prometheusSpec", "retention"))
	assert.Equal(t, "10Gi", path(values, "prometheus", "prometheusSpec", "storageSpec", "emptyDir", "sizeLimit"))
	ann := path(values, "grafana", "ingress", "annotations").(map[string]any)
	assert.Equal(t, "internet-facing", ann["alb.ingress.kubernetes.io/scheme"])
	assert.Equal(t, "203.0.113.0/24", ann["alb.ingress.kubernetes.io/inbound-cidrs"])
	assert.Equal(t, wlCert, ann["alb.ingress.kubernetes.io/certificate-arn"])
	assert.Equal(t, []any{"grafana.ai.example.com"}, path(values, "grafana", "ingress", "hosts"))
	assert.NotContains(t, mustJSONString(t, values), "0.0.0.0/0")

	for cfg, want := range map[string]string{
		`{"grafana":{"exposure":"public","allowedCidrs":["0.0.0.0/0"]}}`: `aiplatform:observability.grafana.allowedCidrs[0]: "0.0.0.0/0" opens the endpoint to the whole internet`,
		`{"prometheus":{"retention":"15"}}`:                              `aiplatform:observability.prometheus.retention: "15" is not a Prometheus duration`,
		`{"prometheus":{"storage":"50GB"}}`:                              `aiplatform:observability.prometheus.storage: "50GB" is not a volume size`,
		`{"prometheus":{"exposure":"internal"}}`:                         `aiplatform:observability.prometheus.certificateArn: exposure internal needs TLS`,
		`{"grafana":{"exposur":"internal"}}`:                             `exposur`,
	} {
		_, err := runProgramErr(with(baseConfig(), "aiplatform:observability", cfg))
		require.Error(t, err, cfg)
		assert.Contains(t, err.Error(), want, cfg)
	}
}

func runProgramErr(cfg map[string]string) (*mocks.Recorder, error) { return mocks.Run(cfg, stacks.Run) }

// Issue 21 item 8: observability.alerting.receiver slack sends the alerts to
// the Slack webhook in the secret config key: the URL only in a Secret
// (mounted into Alertmanager, read through api_url_file), never in the
// chart values; misconfigurations name the key. tests/promql routes and
// delivers a firing alert with Alertmanager's own code.
func TestAlertingSlackReceiver(t *testing.T) {
	const hook = "https://hooks.slack.com/services/T000/B000/correct-horse-battery"
	rec := runProgram(t, with(baseConfig(),
		"aiplatform:observability", `{"alerting":{"receiver":"slack","slackChannel":"#ai-alerts"}}`,
		"aiplatform:"+stacks.AlertingSlackWebhookURLKey, hook))
	secret := find(t, rec, secretType, "metrics-alert-receivers")
	assert.True(t, isSecretAt(secret.Inputs, "stringData", "slack-webhook-url"))
	assert.Equal(t, observability.AlertReceiverSecret, path(plain(secret.Inputs), "metadata", "name"))
	chart := find(t, rec, chartType, "metrics")
	assert.True(t, dependsOn(chart, secret.URN), "the Secret exists before Alertmanager mounts it")
	values := plain(chart.Inputs)["values"].(map[string]any)
	assert.NotContains(t, redacted(t, chart.Inputs), "correct-horse-battery")
	assert.Equal(t, []any{observability.AlertReceiverSecret}, path(values, "alertmanager", "alertmanagerSpec", "secrets"))
	slack := path(values, "alertmanager", "config", "receivers", 1, "slack_configs", 0).(map[string]any)
	assert.Equal(t, "/etc/alertmanager/secrets/aiplatform-alert-receivers/slack-webhook-url", slack["api_url_file"])
	assert.Equal(t, "#ai-alerts", slack["channel"])
	assert.Equal(t, signals.PlatformReceiver, path(values, "alertmanager", "config", "route", "routes", 2, "receiver"))

	// Off by default: the chart's configuration, no Secret.
	off := runProgram(t, baseConfig())
	_, ok := off.Find(secretType, "metrics-alert-receivers")
	assert.False(t, ok)
	assert.Nil(t, path(chartInputs(t, off, "metrics")["values"], "alertmanager", "config"))

	for _, c := range []struct {
		kv   []string
		want string
	}{
		{[]string{"aiplatform:observability", `{"alerting":{"receiver":"slack"}}`},
			"aiplatform:alertingSlackWebhookUrl: required with observability.alerting.receiver slack (the Slack incoming webhook URL); set it with `pulumi config set --secret aiplatform:alertingSlackWebhookUrl`"},
		{[]string{"aiplatform:alertingSlackWebhookUrl", hook},
			"aiplatform:alertingSlackWebhookUrl: set, but observability.alerting.receiver is not slack"},
		{[]string{"aiplatform:observability", `{"enabled":false}`, "aiplatform:alertingSlackWebhookUrl", hook},
			"aiplatform:alertingSlackWebhookUrl: set, but observability.enabled is false"},
		{[]string{"aiplatform:observability", `{"alerting":{"receiver":"pagerduty"}}`},
			`aiplatform:observability.alerting.receiver: "pagerduty" is not "slack"`},
		{[]string{"aiplatform:observability", `{"alerting":{"receiver":"slack","minSeverity":"page"}}`, "aiplatform:alertingSlackWebhookUrl", hook},
			`aiplatform:observability.alerting.minSeverity: "page" is not one of critical, warning, info`},
	} {
		_, err := runProgramErr(with(baseConfig(), c.kv...))
		require.Error(t, err, c.kv)
		assert.Contains(t, err.Error(), c.want)
	}
}

// Issue 21 item 7: the agents' namespace keeps its deny-all egress (DNS and
// the namespace itself only): dcgm-exporter needs no API server (its pod
// watcher stays off, see observability.TestDCGMExporterNeedsNoAPIServer).
func TestAgentsNamespaceAllowsNoEgress(t *testing.T) {
	rec := runProgram(t, baseConfig())
	var policies []string
	for _, p := range rec.ByType(netpolType) {
		in := plain(p.Inputs)
		if path(in, "metadata", "namespace") != observability.AgentsNamespace {
			continue
		}
		policies = append(policies, path(in, "metadata", "name").(string))
		if egress := path(in, "spec", "egress"); egress != nil && path(in, "metadata", "name") != "allow-dns" && path(in, "metadata", "name") != "allow-same-namespace" {
			t.Errorf("%s allows egress %v", path(in, "metadata", "name"), egress)
		}
	}
	assert.ElementsMatch(t, []string{"default-deny", "allow-dns", "allow-same-namespace", "allow-metrics-scrape"}, policies)
	assert.Equal(t, false, path(chartInputs(t, rec, "dcgm-exporter")["values"], "kubernetes", "enablePodLabels"))
}

// Issue 21 item 2: the alerts' startup budget covers Triton's startup
// probe as rendered, so a pod that is still starting never warns.
func TestTritonStartupFitsTheAlertBudget(t *testing.T) {
	_, c := tritonPod(t, runProgram(t, baseConfig()))
	probe := path(c, "startupProbe").(map[string]any)
	budget := time.Duration(probe["failureThreshold"].(float64)*probe["periodSeconds"].(float64)) * time.Second
	assert.LessOrEqual(t, budget, signals.TritonStartupBudget)
	assert.Greater(t, signals.AlertParams{TritonNamespace: "triton"}.WithDefaults().GPUPendingFor, budget)
}

// A request a full Triton queue refuses (max_queue_size) is in none of
// Triton's metrics; only the lds-service's lds_triton_errors_total counts
// it, so with the metrics stack the service is scraped: a PodMonitor on
// its metrics route on the HTTP port, after the stack's chart (CRDs), and
// its default-deny namespace admits the Prometheus's namespace on that
// port. Without the stack, neither.
func TestLDSServiceIsScrapedWithTheMetricsStack(t *testing.T) {
	rec := runProgram(t, wlFullConfig())
	pm := find(t, rec, podMonitorType, "lds-service")
	assert.True(t, dependsOn(pm, find(t, rec, chartType, "metrics").URN), "the PodMonitor waits for the metrics stack's chart")
	in := plain(pm.Inputs)
	assert.Equal(t, "lds", path(in, "metadata", "namespace"), "in the service's namespace; no namespaceSelector: its own")
	assert.Nil(t, path(in, "spec", "namespaceSelector"))
	svc := plain(find(t, rec, k8sServiceType, "lds-service").Inputs)
	assert.Equal(t, path(svc, "spec", "selector"), path(in, "spec", "selector", "matchLabels"), "the Service's pods")
	assert.Equal(t, []any{map[string]any{"port": "http", "path": signals.LDSMetricsPath, "interval": fmt.Sprintf("%ds", int(signals.LDSScrapeInterval.Seconds()))}},
		path(in, "spec", "podMetricsEndpoints"))
	c := path(plain(find(t, rec, deploymentType, "lds-service").Inputs), "spec", "template", "spec", "containers", 0)
	assert.Contains(t, path(c, "ports"), map[string]any{"name": "http", "containerPort": 8080.0, "protocol": "TCP"}, "the endpoint names this port")

	scrape := policies(rec)["lds/allow-metrics-scrape"]
	require.NotNil(t, scrape, "have %v", keysOf(policies(rec)))
	assert.Equal(t, path(svc, "spec", "selector"), path(scrape, "spec", "podSelector", "matchLabels"))
	assert.Equal(t, []any{map[string]any{
		"from":  []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": observability.MonitoringNamespace}}}},
		"ports": tcpPorts(8080),
	}}, path(scrape, "spec", "ingress"))

	off := runProgram(t, wlFullConfig("aiplatform:observability", `{"enabled":false}`))
	_, ok := off.Find(podMonitorType, "lds-service")
	assert.False(t, ok, "no metrics stack, no PodMonitor (its CRD may not exist)")
	assert.NotContains(t, policies(off), "lds/allow-metrics-scrape")
	_, ok = off.Find(deploymentType, "lds-service")
	assert.True(t, ok, "the service itself is still deployed")
}

// Bad monitoring input names each field, all at once.
func TestServiceMonitoringValidate(t *testing.T) {
	_, err := mocks.Run(baseConfig(), func(ctx *pulumi.Context) error {
		_, err := inference.NewService(ctx, "lds-service", &inference.ServiceArgs{
			Spec:       inference.ServiceSpec{Image: "docker.io/acme/lds-service:1.4.2"},
			VPCCIDR:    "10.0.0.0/16",
			Monitoring: &inference.ServiceMonitoring{Path: "metrics", Interval: 1500 * time.Millisecond, FromNamespace: "Monitoring NS"},
		})
		return err
	})
	require.Error(t, err)
	for _, want := range []string{
		`monitoring.path: "metrics" must be an absolute HTTP path like /metrics`,
		"monitoring.interval: must be whole seconds, at least 1s, got 1.5s",
		`monitoring.fromNamespace: "Monitoring NS" is not a namespace name`,
	} {
		assert.Contains(t, err.Error(), want)
	}
}

// Every platform alert is explained in docs/alerting.md's table and listed
// in the observability docs, so an operator paged by it finds what it means.
func TestEveryAlertIsDocumented(t *testing.T) {
	table, err := os.ReadFile("../docs/alerting.md")
	require.NoError(t, err)
	list, err := os.ReadFile("../docs/autoscaling-and-observability.md")
	require.NoError(t, err)
	require.NotEmpty(t, signals.AlertNames())
	for _, a := range signals.AlertNames() {
		assert.True(t, strings.Contains(string(table), "| `"+a+"` |"), "docs/alerting.md, The platform's alerts: no row for %s", a)
		assert.True(t, strings.Contains(string(list), "- `"+a+"` ("), "docs/autoscaling-and-observability.md, Alerts: no item for %s", a)
	}
}
