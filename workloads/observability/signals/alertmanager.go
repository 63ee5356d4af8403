package signals

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ReceiverKind is where Alertmanager sends alerts.
type ReceiverKind string

const (
	// NoReceiver keeps the chart's configuration: every alert goes to the
	// "null" receiver (seen in Alertmanager's UI, sent nowhere).
	NoReceiver ReceiverKind = ""
	// SlackReceiver posts to a Slack incoming webhook, whose URL is a secret.
	SlackReceiver ReceiverKind = "slack"
)

// Severities from the most to the least urgent: the values of the
// severity label of the platform's and the chart's rules.
var Severities = []string{"critical", "warning", "info"}

// DefaultMinSeverity: warnings and worse reach people; the chart's many
// info alerts (CPUThrottlingHigh, ...) and SpotNodeInterrupted only with
// minSeverity info.
const DefaultMinSeverity = "warning"

// AlertingSpec is the configurable part of alert delivery (config key
// observability.alerting).
type AlertingSpec struct {
	Receiver ReceiverKind `json:"receiver,omitempty"`
	// SlackChannel overrides the webhook's own channel ("#ai-alerts"); empty: the webhook's.
	SlackChannel string `json:"slackChannel,omitempty"`
	// MinSeverity is the least urgent severity that is sent (Severities).
	MinSeverity string `json:"minSeverity,omitempty"`
}

// On reports whether alerts are sent anywhere.
func (a AlertingSpec) On() bool { return a.Receiver != NoReceiver }

// WithDefaults fills the severity when a receiver is set.
func (a AlertingSpec) WithDefaults() AlertingSpec {
	if a.On() && a.MinSeverity == "" {
		a.MinSeverity = DefaultMinSeverity
	}
	return a
}

// slackChannel: a channel (#name) or user (@name) as Slack names them.
var slackChannel = regexp.MustCompile(`^[#@][a-z0-9][a-z0-9._-]{0,79}$`)

// Validate reports every problem, each prefixed by path.
func (a AlertingSpec) Validate(path string) []error {
	var errs []error
	switch a.Receiver {
	case NoReceiver:
		if a.SlackChannel != "" || a.MinSeverity != "" {
			errs = append(errs, fmt.Errorf("%s.receiver: unset, so slackChannel and minSeverity do nothing; set receiver to %q", path, SlackReceiver))
		}
		return errs
	case SlackReceiver:
	default:
		return append(errs, fmt.Errorf("%s.receiver: %q is not %q (leave it unset for no notifications)", path, a.Receiver, SlackReceiver))
	}
	if a.SlackChannel != "" && !slackChannel.MatchString(a.SlackChannel) {
		errs = append(errs, fmt.Errorf("%s.slackChannel: %q is not a Slack channel like #ai-alerts (lowercase, starting with # or @)", path, a.SlackChannel))
	}
	if !slices.Contains(Severities, a.MinSeverity) {
		errs = append(errs, fmt.Errorf("%s.minSeverity: %q is not one of %s", path, a.MinSeverity, strings.Join(Severities, ", ")))
	}
	return errs
}

// Alertmanager's configuration file, the fields the platform writes
// (Alertmanager docs, "Configuration"; config/config.go and
// config/notifiers.go). JSON is YAML, so the chart value
// alertmanager.config takes it as it is.
type (
	AlertmanagerConfig struct {
		Global       AlertmanagerGlobal `json:"global"`
		Route        AlertmanagerRoute  `json:"route"`
		InhibitRules []InhibitRule      `json:"inhibit_rules"`
		Receivers    []AlertReceiver    `json:"receivers"`
		Templates    []string           `json:"templates"`
	}
	AlertmanagerGlobal struct {
		ResolveTimeout string `json:"resolve_timeout"`
	}
	AlertmanagerRoute struct {
		Receiver       string              `json:"receiver"`
		GroupBy        []string            `json:"group_by,omitempty"`
		GroupWait      string              `json:"group_wait,omitempty"`
		GroupInterval  string              `json:"group_interval,omitempty"`
		RepeatInterval string              `json:"repeat_interval,omitempty"`
		Matchers       []string            `json:"matchers,omitempty"`
		Routes         []AlertmanagerRoute `json:"routes,omitempty"`
	}
	InhibitRule struct {
		SourceMatchers []string `json:"source_matchers,omitempty"`
		TargetMatchers []string `json:"target_matchers"`
		Equal          []string `json:"equal,omitempty"`
	}
	AlertReceiver struct {
		Name         string        `json:"name"`
		SlackConfigs []SlackConfig `json:"slack_configs,omitempty"`
	}
	SlackConfig struct {
		// APIURLFile holds the webhook URL, so the secret stays out of the
		// configuration (and the chart values): a file of a mounted Secret.
		APIURLFile   string `json:"api_url_file"`
		Channel      string `json:"channel,omitempty"`
		SendResolved bool   `json:"send_resolved"`
		Title        string `json:"title"`
		Text         string `json:"text"`
	}
)

// Receiver names.
const (
	NullReceiver = "null"
	// PlatformReceiver is where routed alerts go.
	PlatformReceiver = "platform"
)

// alwaysFiring are the chart's heartbeat alerts, firing by design
// (kube-prometheus-stack rules general.rules): never sent.
var alwaysFiring = []string{"Watchdog", "InfoInhibitor"}

// AlertmanagerConfigFor is the whole Alertmanager configuration for a
// receiver: the chart's defaults (values.yaml alertmanager.config: global,
// inhibit rules, grouping, templates), with every alert of at least the
// minimum severity routed to the receiver and the heartbeats to "null".
// webhookURLFile is where Alertmanager reads the Slack webhook URL.
func AlertmanagerConfigFor(a AlertingSpec, webhookURLFile string) AlertmanagerConfig {
	a = a.WithDefaults()
	cfg := AlertmanagerConfig{
		Global: AlertmanagerGlobal{ResolveTimeout: "5m"},
		Route: AlertmanagerRoute{
			Receiver: NullReceiver, GroupBy: []string{"namespace"},
			GroupWait: "30s", GroupInterval: "5m", RepeatInterval: "12h",
		},
		// The chart's: a critical alert silences the same alert's warning
		// and info in its namespace, a warning its info; InfoInhibitor
		// silences info alerts of a namespace that has nothing worse.
		InhibitRules: []InhibitRule{
			{SourceMatchers: []string{"severity = critical"}, TargetMatchers: []string{"severity =~ warning|info"}, Equal: []string{"namespace", "alertname"}},
			{SourceMatchers: []string{"severity = warning"}, TargetMatchers: []string{"severity = info"}, Equal: []string{"namespace", "alertname"}},
			{SourceMatchers: []string{"alertname = InfoInhibitor"}, TargetMatchers: []string{"severity = info"}, Equal: []string{"namespace"}},
			{TargetMatchers: []string{"alertname = InfoInhibitor"}},
		},
		Receivers: []AlertReceiver{{Name: NullReceiver}},
		Templates: []string{"/etc/alertmanager/config/*.tmpl"},
	}
	for _, name := range alwaysFiring {
		cfg.Route.Routes = append(cfg.Route.Routes, AlertmanagerRoute{Receiver: NullReceiver, Matchers: []string{fmt.Sprintf("alertname = %q", name)}})
	}
	if !a.On() {
		return cfg
	}
	i := slices.Index(Severities, a.MinSeverity)
	cfg.Route.Routes = append(cfg.Route.Routes, AlertmanagerRoute{
		Receiver: PlatformReceiver,
		Matchers: []string{fmt.Sprintf("severity =~ %q", strings.Join(Severities[:i+1], "|"))},
	})
	cfg.Receivers = append(cfg.Receivers, AlertReceiver{Name: PlatformReceiver, SlackConfigs: []SlackConfig{{
		APIURLFile: webhookURLFile, Channel: a.SlackChannel, SendResolved: true,
		Title: `[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} {{ .CommonLabels.namespace }}`,
		Text:  `{{ range .Alerts }}*{{ .Labels.severity }}* {{ .Annotations.summary }}{{ "\n" }}{{ .Annotations.description }}{{ "\n" }}{{ end }}`,
	}}})
	return cfg
}
