package signals

import (
	"strings"
	"testing"
)

func TestAlertingSpecValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		spec AlertingSpec
		want []string
	}{
		{"off", AlertingSpec{}, nil},
		{"slack", AlertingSpec{Receiver: SlackReceiver, SlackChannel: "#ai-alerts"}, nil},
		{"slack, webhook's channel", AlertingSpec{Receiver: SlackReceiver, MinSeverity: "info"}, nil},
		{"unknown receiver", AlertingSpec{Receiver: "sns"}, []string{`x.receiver: "sns" is not "slack" (leave it unset for no notifications)`}},
		{"settings without receiver", AlertingSpec{SlackChannel: "#a"}, []string{"x.receiver: unset, so slackChannel and minSeverity do nothing"}},
		{"bad channel and severity", AlertingSpec{Receiver: SlackReceiver, SlackChannel: "ai alerts", MinSeverity: "page"},
			[]string{`x.slackChannel: "ai alerts" is not a Slack channel`, `x.minSeverity: "page" is not one of critical, warning, info`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			errs := c.spec.WithDefaults().Validate("x")
			if len(errs) != len(c.want) {
				t.Fatalf("errors %v, want %d", errs, len(c.want))
			}
			for i, w := range c.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %q lacks %q", errs[i], w)
				}
			}
		})
	}
}

// The heartbeats never reach the receiver; the severity route lists the
// minimum and everything more urgent. tests/promql routes real alerts
// through Alertmanager's own code.
func TestAlertmanagerConfigFor(t *testing.T) {
	off := AlertmanagerConfigFor(AlertingSpec{}, "/f")
	if len(off.Receivers) != 1 || len(off.Route.Routes) != len(alwaysFiring) {
		t.Errorf("no receiver: %+v", off)
	}
	on := AlertmanagerConfigFor(AlertingSpec{Receiver: SlackReceiver}, "/f")
	last := on.Route.Routes[len(on.Route.Routes)-1]
	if last.Receiver != PlatformReceiver || last.Matchers[0] != `severity =~ "critical|warning"` {
		t.Errorf("route %+v", last)
	}
	if s := on.Receivers[1].SlackConfigs[0]; s.APIURLFile != "/f" || !s.SendResolved {
		t.Errorf("slack %+v", s)
	}
}
