package observability

import (
	"os"
	"testing"

	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/internal/wltest"
	"github.com/aiplatform/infra/workloads/observability/signals"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetricsStackSpecDefaults(t *testing.T) {
	s := MetricsStackSpec{}.WithDefaults(workloads.Defaults{Domain: "ai.example.com", CertificateARN: wltest.TestCert})
	assert.Equal(t, DefaultRetention, s.Prometheus.Retention)
	assert.Equal(t, DefaultStorage, s.Prometheus.Storage)
	assert.Equal(t, workloads.ClusterOnly, s.Grafana.Exposure)
	assert.Empty(t, s.Grafana.Host, "no host for a cluster-internal UI")
	assert.Empty(t, s.Grafana.CertificateARN)
	assert.True(t, s.Persistent())
	require.NoError(t, s.Validate("aiplatform:observability"))

	exposed := MetricsStackSpec{Grafana: Endpoint{Exposure: workloads.Internal}}.WithDefaults(workloads.Defaults{Domain: "ai.example.com", CertificateARN: wltest.TestCert})
	assert.Equal(t, "grafana.ai.example.com", exposed.Grafana.Host)
	assert.Equal(t, wltest.TestCert, exposed.Grafana.CertificateARN)
	assert.Equal(t, "https://grafana.ai.example.com", exposed.Grafana.url(GrafanaService, 80))
	assert.Equal(t, "http://kube-prometheus-stack-grafana.monitoring.svc.cluster.local:80", s.Grafana.url(GrafanaService, 80))
}

func TestMetricsStackSpecValidate(t *testing.T) {
	const p = "aiplatform:observability"
	cases := []struct {
		name string
		spec MetricsStackSpec
		want []string
	}{
		{"defaults", MetricsStackSpec{}, nil},
		{"weeks and days", MetricsStackSpec{Prometheus: PrometheusSpec{Retention: "2w3d"}}, nil},
		{"hours", MetricsStackSpec{Prometheus: PrometheusSpec{Retention: "36h"}}, nil},
		{"emptyDir", MetricsStackSpec{Prometheus: PrometheusSpec{Storage: EmptyDirStorage}}, nil},
		{"days without unit", MetricsStackSpec{Prometheus: PrometheusSpec{Retention: "15"}}, []string{p + `.prometheus.retention: "15" is not a Prometheus duration`}},
		{"Go duration", MetricsStackSpec{Prometheus: PrometheusSpec{Retention: "1.5h"}}, []string{p + `.prometheus.retention: "1.5h"`}},
		{"units out of order", MetricsStackSpec{Prometheus: PrometheusSpec{Retention: "1d2w"}}, []string{p + `.prometheus.retention: "1d2w"`}},
		{"zero", MetricsStackSpec{Prometheus: PrometheusSpec{Retention: "0d"}}, []string{p + `.prometheus.retention: "0d"`}},
		{"decimal units", MetricsStackSpec{Prometheus: PrometheusSpec{Storage: "50G"}}, []string{p + `.prometheus.storage: "50G" is not a volume size`}},
		{"too small", MetricsStackSpec{Prometheus: PrometheusSpec{Storage: "512Mi"}}, []string{p + `.prometheus.storage: "512Mi"`}},
		{"too large", MetricsStackSpec{Prometheus: PrometheusSpec{Storage: "17Ti"}}, []string{p + `.prometheus.storage: "17Ti"`}},
		{"not a size", MetricsStackSpec{Prometheus: PrometheusSpec{Storage: "lots"}}, []string{p + `.prometheus.storage: "lots"`}},
		{"exposure", MetricsStackSpec{Grafana: Endpoint{Exposure: "world"}}, []string{p + `.grafana.exposure: "world" is not one of`}},
		{"internal without TLS or host", MetricsStackSpec{Grafana: Endpoint{Exposure: workloads.Internal}},
			[]string{p + ".grafana.certificateArn: exposure internal needs TLS", p + ".grafana.host: exposure internal needs a host name"}},
		{"public without CIDRs", MetricsStackSpec{Prometheus: PrometheusSpec{Endpoint: Endpoint{Exposure: workloads.Public, Host: "prometheus.ai.example.com", CertificateARN: wltest.TestCert}}},
			[]string{p + ".prometheus.allowedCidrs: a public endpoint needs the named CIDRs"}},
		{"never the whole internet", MetricsStackSpec{Grafana: Endpoint{Exposure: workloads.Public, Host: "grafana.ai.example.com", CertificateARN: wltest.TestCert, AllowedCIDRs: []string{"0.0.0.0/0"}}},
			[]string{p + `.grafana.allowedCidrs[0]: "0.0.0.0/0" opens the endpoint to the whole internet`}},
		{"host without exposure", MetricsStackSpec{Grafana: Endpoint{Host: "grafana.ai.example.com"}}, []string{p + ".grafana.host: only used with exposure"}},
		{"every problem at once", MetricsStackSpec{Prometheus: PrometheusSpec{Retention: "x", Storage: "y"}, Grafana: Endpoint{Exposure: "z"}},
			[]string{".prometheus.retention", ".prometheus.storage", ".grafana.exposure"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wltest.ExpectErrors(t, c.spec.WithDefaults(workloads.Defaults{}).Validate(p), c.want...)
		})
	}
}

// Prometheus may fill 85 % of its volume (emptyDir: of its size limit).
func TestRetentionSize(t *testing.T) {
	assert.Equal(t, "43520MB", retentionSize("50Gi"))
	assert.Equal(t, "8704MB", retentionSize(EmptyDirStorage))
}

// The footprint table of docs/autoscaling-and-observability.md is Footprint(), row for row, and every
// container of the stack has requests and limits.
func TestReadmeFootprintMatchesGo(t *testing.T) {
	readme, err := os.ReadFile("../../docs/autoscaling-and-observability.md")
	require.NoError(t, err)
	for _, c := range Footprint() {
		assert.Contains(t, string(readme), c.readmeRow()+"\n")
		cpu, mem := c.Requests()
		cpuLimit, memLimit := c.Limits()
		for _, q := range []string{cpu, mem, cpuLimit, memLimit} {
			_, ok := workloads.ParseQuantity(q)
			assert.True(t, ok, "%s: %q", c.Name, q)
		}
	}
}

func TestMetricsStackArgsValidate(t *testing.T) {
	a := MetricsStackArgs{Alerts: signals.AlertParams{TritonNamespace: "Bad_NS"}}.withDefaults()
	wltest.ExpectErrors(t, a.Validate(), `alerts: tritonNamespace: "Bad_NS"`)
	a = MetricsStackArgs{Alerts: signals.AlertParams{TritonNamespace: "triton"}}.withDefaults()
	require.NoError(t, a.Validate())
	assert.Equal(t, workloads.KubePrometheusStackChart, a.Chart)
}

// Issue 21 item 8: the Slack receiver needs its webhook URL; the spec's
// alerting block is validated under its path.
func TestMetricsStackArgsAlerting(t *testing.T) {
	slack := MetricsStackSpec{Alerting: signals.AlertingSpec{Receiver: signals.SlackReceiver}}
	a := MetricsStackArgs{Spec: slack, Alerts: signals.AlertParams{TritonNamespace: "triton"}}.withDefaults()
	assert.ErrorContains(t, a.Validate(), "slackWebhookUrl: required with alerting receiver slack")
	a.SlackWebhookURL = pulumi.String("https://hooks.slack.com/services/T/B/X")
	assert.NoError(t, a.Validate())
	bad := MetricsStackSpec{Alerting: signals.AlertingSpec{Receiver: "email"}}.WithDefaults(workloads.Defaults{})
	assert.ErrorContains(t, bad.Validate("aiplatform:observability"), `aiplatform:observability.alerting.receiver: "email" is not "slack"`)
}
