package gitops

import (
	"encoding/json"
	"fmt"

	"gopkg.in/yaml.v3"
)

// NotificationTriggers are the events Argo CD reports, in order.
var NotificationTriggers = []string{"on-sync-succeeded", "on-sync-failed", "on-health-degraded"}

// notificationsTokenKey is the key of the token in argocd-notifications-secret;
// service configs reference it as $notifications-token.
const notificationsTokenKey = "notifications-token"

// triggerConditions are the expressions of each trigger, evaluated by the
// notifications controller on every Application change.
var triggerConditions = map[string]struct{ when, oncePer string }{
	"on-sync-succeeded":  {"app.status.operationState != nil and app.status.operationState.phase in ['Succeeded']", "app.status.sync.revision"},
	"on-sync-failed":     {"app.status.operationState != nil and app.status.operationState.phase in ['Error', 'Failed']", "app.status.sync.revision"},
	"on-health-degraded": {"app.status.health.status == 'Degraded'", ""},
}

// commitStates is the GitHub commit status each trigger sets.
var commitStates = map[string]string{
	"on-sync-succeeded":  "success",
	"on-sync-failed":     "failure",
	"on-health-degraded": "error",
}

// notificationsConfig is the chart's notifications section as strings the
// notifications controller parses (each service, template and trigger is a
// YAML document in argocd-notifications-cm).
type notificationsConfig struct {
	Service       string
	Notifiers     map[string]string
	Templates     map[string]string
	Triggers      map[string]string
	Subscriptions []map[string]any
}

func mustYAML(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		panic(err) // plain Go values always marshal
	}
	return string(b)
}

// templateName is the template a trigger sends ("on-sync-failed" -> "app-sync-failed").
func templateName(trigger string) string { return "app-" + trigger[len("on-"):] }

// buildNotifications renders services, templates, triggers and a default
// subscription of every Application to all three triggers.
func buildNotifications(n ArgoCDNotifications, withToken bool) notificationsConfig {
	appURL := "{{.context.argocdUrl}}/applications/{{.app.metadata.name}}"
	headers := []map[string]string{{"name": "Content-Type", "value": "application/json"}}
	cfg := notificationsConfig{Notifiers: map[string]string{}, Templates: map[string]string{}, Triggers: map[string]string{}}
	switch n.Kind {
	case GitHubCommitStatus:
		cfg.Service = "github"
		headers = append(headers,
			map[string]string{"name": "Accept", "value": "application/vnd.github+json"},
			map[string]string{"name": "Authorization", "value": "token $" + notificationsTokenKey})
	default:
		cfg.Service = "aiplatform"
		if withToken {
			headers = append(headers, map[string]string{"name": "Authorization", "value": "Bearer $" + notificationsTokenKey})
		}
	}
	cfg.Notifiers["service.webhook."+cfg.Service] = mustYAML(map[string]any{"url": n.URL, "headers": headers})
	for _, trigger := range NotificationTriggers {
		request := map[string]any{"method": "POST"}
		var body map[string]string
		if n.Kind == GitHubCommitStatus {
			request["path"] = "/repos/{{call .repo.FullNameByRepoURL .app.spec.source.repoURL}}/statuses/{{.app.status.sync.revision}}"
			body = map[string]string{
				"state":       commitStates[trigger],
				"description": fmt.Sprintf("Argo CD %s: sync {{.app.status.sync.status}}, health {{.app.status.health.status}}", trigger),
				"target_url":  appURL,
				"context":     "argocd/{{.app.metadata.name}}",
			}
		} else {
			body = map[string]string{
				"event":    trigger,
				"app":      "{{.app.metadata.name}}",
				"revision": "{{.app.status.sync.revision}}",
				"sync":     "{{.app.status.sync.status}}",
				"health":   "{{.app.status.health.status}}",
				"url":      appURL,
			}
		}
		b, _ := json.Marshal(body)
		request["body"] = string(b)
		cfg.Templates["template."+templateName(trigger)] = mustYAML(map[string]any{
			"webhook": map[string]any{cfg.Service: request},
		})
		cond := map[string]any{"when": triggerConditions[trigger].when, "send": []string{templateName(trigger)}}
		if once := triggerConditions[trigger].oncePer; once != "" {
			cond["oncePer"] = once
		}
		cfg.Triggers["trigger."+trigger] = mustYAML([]any{cond})
	}
	cfg.Subscriptions = []map[string]any{{
		"recipients": []string{cfg.Service},
		"triggers":   NotificationTriggers,
	}}
	return cfg
}
