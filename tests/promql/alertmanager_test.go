package promqltests

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiplatform/infra/workloads/observability/signals"
	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/notify/slack"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/alertmanager/types"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"
)

// loadAlertmanagerConfig loads the platform's configuration with
// Alertmanager's own loader (config.Load: the checks Alertmanager runs at
// start), as JSON, which is YAML.
func loadAlertmanagerConfig(t *testing.T, spec signals.AlertingSpec, webhookURLFile string) *amconfig.Config {
	t.Helper()
	b, err := json.Marshal(signals.AlertmanagerConfigFor(spec, webhookURLFile))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := amconfig.Load(string(b))
	if err != nil {
		t.Fatalf("Alertmanager rejects the configuration: %v\n%s", err, b)
	}
	return cfg
}

// receiversFor is where Alertmanager's routing tree (dispatch.Route.Match)
// sends an alert with these labels.
func receiversFor(cfg *amconfig.Config, lset model.LabelSet) []string {
	var out []string
	for _, r := range dispatch.NewRoute(cfg.Route, nil).Match(lset) {
		out = append(out, r.RouteOpts.Receiver)
	}
	return out
}

// Issue 21 item 8: a firing alert is routed and delivered. The queue alert
// fires in Prometheus's rule engine on the overload series; Alertmanager's
// routing tree sends it to the platform receiver, whose Slack notifier
// (Alertmanager's own, reading the webhook URL from api_url_file as from
// the mounted Secret) posts it to a stand-in Slack. The heartbeats and,
// below minSeverity, info alerts go nowhere.
func TestFiringAlertIsRoutedToSlack(t *testing.T) {
	var posted []map[string]any
	slackAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("slack body %s: %v", b, err)
		}
		posted = append(posted, body)
		io.WriteString(w, "ok")
	}))
	defer slackAPI.Close()
	urlFile := filepath.Join(t.TempDir(), "slack-webhook-url")
	if err := os.WriteFile(urlFile, []byte(slackAPI.URL+"/services/T000/B000/XXXX\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := signals.AlertingSpec{Receiver: signals.SlackReceiver, SlackChannel: "#ai-alerts"}
	cfg := loadAlertmanagerConfig(t, spec, urlFile)

	// The alert as Prometheus sends it: the rule's labels plus alertname.
	p := signals.AlertParams{TritonNamespace: tritonNamespace}.WithDefaults()
	rule := signals.AlertRuleGroups(p)[0].Rules[0]
	var fired *rules.Alert
	runRule(t, loadSeries(t, tritonOverload()), rule, "namespace", 24*time.Minute, func(_ time.Duration, a *rules.Alert) { fired = a })
	if fired == nil {
		t.Fatal("the queue alert never fired")
	}
	lset := model.LabelSet{model.AlertNameLabel: model.LabelValue(rule.Alert)}
	fired.Labels.Range(func(l labels.Label) { lset[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
	annotations := model.LabelSet{}
	fired.Annotations.Range(func(l labels.Label) { annotations[model.LabelName(l.Name)] = model.LabelValue(l.Value) })

	if got := receiversFor(cfg, lset); strings.Join(got, ",") != signals.PlatformReceiver {
		t.Fatalf("%s routed to %v", rule.Alert, got)
	}
	for _, c := range []struct {
		spec signals.AlertingSpec
		lset model.LabelSet
		want string
	}{
		{spec, model.LabelSet{"alertname": "Watchdog", "severity": "none"}, signals.NullReceiver},
		{spec, model.LabelSet{"alertname": "InfoInhibitor", "severity": "none", "namespace": "triton"}, signals.NullReceiver},
		{spec, model.LabelSet{"alertname": signals.AlertSpotNodeInterrupted, "severity": "info"}, signals.NullReceiver},
		{spec, model.LabelSet{"alertname": "KubePodNotReady", "severity": "warning", "namespace": "triton"}, signals.PlatformReceiver},
		{spec, model.LabelSet{"alertname": "KubeNodeNotReady", "severity": "critical"}, signals.PlatformReceiver},
		{signals.AlertingSpec{Receiver: signals.SlackReceiver, MinSeverity: "info"},
			model.LabelSet{"alertname": signals.AlertSpotNodeInterrupted, "severity": "info"}, signals.PlatformReceiver},
		{signals.AlertingSpec{}, lset, signals.NullReceiver},
	} {
		if got := receiversFor(loadAlertmanagerConfig(t, c.spec, urlFile), c.lset); strings.Join(got, ",") != c.want {
			t.Errorf("%v with %+v routed to %v, want %s", c.lset, c.spec, got, c.want)
		}
	}

	// Delivery through the receiver the route chose.
	var receiver *amconfig.Receiver
	for _, r := range cfg.Receivers {
		if r.Name == signals.PlatformReceiver {
			receiver = &r
		}
	}
	if receiver == nil || len(receiver.SlackConfigs) != 1 {
		t.Fatalf("receiver %+v", receiver)
	}
	tmpl, err := template.FromGlobs(cfg.Templates)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.ExternalURL, _ = url.Parse("http://alertmanager.monitoring.svc:9093")
	notifier, err := slack.New(receiver.SlackConfigs[0], tmpl, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := notify.WithGroupKey(context.Background(), "{}:{namespace=\"triton\"}")
	ctx = notify.WithReceiverName(ctx, receiver.Name)
	ctx = notify.WithGroupLabels(ctx, model.LabelSet{"namespace": "triton"})
	alert := &types.Alert{Alert: model.Alert{Labels: lset, Annotations: annotations, StartsAt: epoch.Add(20 * time.Minute)}, UpdatedAt: epoch.Add(20 * time.Minute)}
	if retry, err := notifier.Notify(ctx, alert); err != nil {
		t.Fatalf("notify (retry %v): %v", retry, err)
	}
	if len(posted) != 1 {
		t.Fatalf("%d posts to Slack", len(posted))
	}
	msg, _ := json.Marshal(posted[0])
	for _, want := range []string{`"channel":"#ai-alerts"`, "[FIRING:1] TritonQueueAboveTarget triton",
		"Triton triton_requests_in_flight above the autoscaling target 6", "averages 6.367 triton_requests_in_flight"} {
		if !strings.Contains(string(msg), want) {
			t.Errorf("Slack message lacks %q: %s", want, msg)
		}
	}
}
