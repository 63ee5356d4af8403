package gitops

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/internal/wltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestArgoCDSpec(t *testing.T) {
	d := ArgoCDSpec{}.WithDefaults(workloads.Defaults{Domain: "ai.example.com", CertificateARN: wltest.TestCert})
	assert.Equal(t, workloads.ClusterOnly, d.Exposure, "Argo CD is not reachable from outside the cluster unless opted in")
	assert.Empty(t, d.Host)
	assert.Equal(t, "https://argocd-server.argocd.svc.cluster.local", d.URL())
	require.NoError(t, d.Validate("argocd"))

	internal := ArgoCDSpec{Exposure: workloads.Internal}.WithDefaults(workloads.Defaults{Domain: "ai.example.com", CertificateARN: wltest.TestCert})
	assert.Equal(t, "argocd.ai.example.com", internal.Host)
	assert.Equal(t, "https://argocd.ai.example.com", internal.URL())
	require.NoError(t, internal.Validate("argocd"))

	apps := ArgoCDSpec{Apps: &ArgoCDApps{RepoURL: "https://github.com/acme/platform-apps.git", Path: "clusters/dev"}}.WithDefaults(workloads.Defaults{})
	assert.Equal(t, "HEAD", apps.Apps.Revision)
	assert.Equal(t, workloads.ArgoCDNamespace, apps.Apps.Namespace, "app of apps: Applications live in argocd")
	assert.Equal(t, AutomatedSync, apps.Apps.Sync)
	gh := ArgoCDSpec{Notifications: &ArgoCDNotifications{Kind: GitHubCommitStatus}}.WithDefaults(workloads.Defaults{})
	assert.Equal(t, "https://api.github.com", gh.Notifications.URL)

	cases := []struct {
		name string
		spec ArgoCDSpec
		want []string
	}{
		{"internal needs tls", ArgoCDSpec{Exposure: workloads.Internal, Host: "argocd.example.com"}, []string{"argocd.certificateArn: exposure internal needs TLS"}},
		{"exposed needs host", ArgoCDSpec{Exposure: workloads.Internal, CertificateARN: wltest.TestCert}, []string{"argocd.host: exposure internal needs a host name"}},
		{"public needs cidrs", ArgoCDSpec{Exposure: workloads.Public, Host: "argocd.example.com", CertificateARN: wltest.TestCert}, []string{"argocd.allowedCidrs"}},
		{"mtime", ArgoCDSpec{AdminPasswordMtime: "yesterday"}, []string{"argocd.adminPasswordMtime"}},
		{"repo url", ArgoCDSpec{Apps: &ArgoCDApps{RepoURL: "github.com/acme/apps", Path: "apps"}}, []string{"argocd.apps.repoUrl"}},
		{"ssh repo", ArgoCDSpec{Apps: &ArgoCDApps{RepoURL: "git@github.com:acme/apps.git", Path: "apps"}}, nil},
		{"path escape", ArgoCDSpec{Apps: &ArgoCDApps{RepoURL: "https://github.com/acme/apps", Path: "../x"}}, []string{"argocd.apps.path"}},
		{"sync", ArgoCDSpec{Apps: &ArgoCDApps{RepoURL: "https://github.com/acme/apps", Path: "apps", Sync: "sometimes"}}, []string{"argocd.apps.sync"}},
		{"webhook url", ArgoCDSpec{Notifications: &ArgoCDNotifications{Kind: WebhookNotifications}}, []string{"argocd.notifications.url: the webhook URL is required"}},
		{"http webhook", ArgoCDSpec{Notifications: &ArgoCDNotifications{Kind: WebhookNotifications, URL: "http://hooks.example.com"}}, []string{"must be an https:// URL"}},
		{"kind", ArgoCDSpec{Notifications: &ArgoCDNotifications{Kind: "slack", URL: "https://x.example.com"}}, []string{"argocd.notifications.kind"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wltest.ExpectErrors(t, c.spec.WithDefaults(workloads.Defaults{}).Validate("argocd"), c.want...)
		})
	}
}

func TestNotificationsWebhook(t *testing.T) {
	cfg := buildNotifications(ArgoCDNotifications{Kind: WebhookNotifications, URL: "https://hooks.example.com/argocd"}, true)
	assert.Equal(t, "aiplatform", cfg.Service)
	svc := cfg.Notifiers["service.webhook.aiplatform"]
	assert.Contains(t, svc, "url: https://hooks.example.com/argocd")
	assert.Contains(t, svc, "Bearer $notifications-token", "the token is referenced from the secret, never inlined")
	for _, trigger := range []string{"on-sync-succeeded", "on-sync-failed", "on-health-degraded"} {
		require.Contains(t, cfg.Triggers, "trigger."+trigger)
		tmpl := "app-" + strings.TrimPrefix(trigger, "on-")
		assert.Contains(t, cfg.Triggers["trigger."+trigger], tmpl)
		assert.Contains(t, cfg.Templates, "template."+tmpl)
		assert.Contains(t, cfg.Templates["template."+tmpl], "aiplatform:")
	}
	assert.Contains(t, cfg.Triggers["trigger.on-sync-failed"], "['Error', 'Failed']")
	assert.Contains(t, cfg.Triggers["trigger.on-health-degraded"], "'Degraded'")
	assert.Equal(t, []map[string]any{{"recipients": []string{"aiplatform"}, "triggers": NotificationTriggers}}, cfg.Subscriptions)

	noToken := buildNotifications(ArgoCDNotifications{Kind: WebhookNotifications, URL: "https://hooks.example.com/argocd"}, false)
	assert.NotContains(t, noToken.Notifiers["service.webhook.aiplatform"], "Authorization")
}

func TestNotificationsGitHubCommitStatus(t *testing.T) {
	cfg := buildNotifications(ArgoCDNotifications{Kind: GitHubCommitStatus, URL: "https://api.github.com"}, true)
	assert.Equal(t, "github", cfg.Service)
	assert.Contains(t, cfg.Notifiers["service.webhook.github"], "token $notifications-token")
	for trigger, state := range map[string]string{"sync-succeeded": "success", "sync-failed": "failure", "health-degraded": "error"} {
		tmpl := cfg.Templates["template.app-"+trigger]
		assert.Contains(t, tmpl, "/repos/{{call .repo.FullNameByRepoURL .app.spec.source.repoURL}}/statuses/", trigger)
		var doc struct {
			Webhook map[string]struct{ Method, Path, Body string } `yaml:"webhook"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(tmpl), &doc))
		var body map[string]string
		require.NoError(t, json.Unmarshal([]byte(doc.Webhook["github"].Body), &body), "the body must be JSON")
		assert.Equal(t, state, body["state"], trigger)
		assert.Equal(t, "POST", doc.Webhook["github"].Method)
	}
}
