package gitops

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/aiplatform/infra/workloads"
)

// defaultAdminPasswordMtime is the admin password's modification time when
// none is configured. The chart would otherwise stamp the current time on
// every render (a diff on every `pulumi up`). Argo CD rejects sessions issued
// before this time, so set argocd.adminPasswordMtime when rotating the password.
const defaultAdminPasswordMtime = "2025-01-01T00:00:00Z"

// SyncPolicy says whether Argo CD applies changes from Git by itself.
type SyncPolicy string

const (
	// AutomatedSync applies every commit, prunes deleted resources and reverts drift.
	AutomatedSync SyncPolicy = "automated"
	// ManualSync only reports drift; someone presses Sync.
	ManualSync SyncPolicy = "manual"
)

// ArgoCDApps points Argo CD at the Git repository holding the app manifests.
// With the default namespace (argocd) the path holds Application manifests:
// the app-of-apps pattern.
type ArgoCDApps struct {
	RepoURL   string     `json:"repoUrl"`
	Path      string     `json:"path"`
	Revision  string     `json:"revision,omitempty"`
	Namespace string     `json:"namespace,omitempty"`
	Sync      SyncPolicy `json:"sync,omitempty"`
}

// NotificationKind is where Argo CD reports sync and health events.
type NotificationKind string

const (
	// WebhookNotifications POST a JSON event to a URL.
	WebhookNotifications NotificationKind = "webhook"
	// GitHubCommitStatus sets a commit status on the synced revision.
	GitHubCommitStatus NotificationKind = "githubCommitStatus"
)

// defaultGitHubAPI is the API base for GitHub commit statuses (GitHub Enterprise: set url).
const defaultGitHubAPI = "https://api.github.com"

// ArgoCDNotifications configures the notifications controller. The token
// (GitHub token, or bearer token for the webhook) is a secret config value.
type ArgoCDNotifications struct {
	Kind NotificationKind `json:"kind"`
	// URL is the webhook endpoint, or the GitHub API base URL.
	URL string `json:"url,omitempty"`
}

// ArgoCDSpec is the configurable part of Argo CD.
type ArgoCDSpec struct {
	// Exposure defaults to ClusterOnly: the UI is reached with kubectl port-forward
	// unless an internal or public load balancer is opted into.
	Exposure       workloads.Exposure `json:"exposure,omitempty"`
	Host           string             `json:"host,omitempty"`
	AllowedCIDRs   []string           `json:"allowedCidrs,omitempty"`
	CertificateARN string             `json:"certificateArn,omitempty"`
	// AdminPasswordMtime (RFC 3339) is when the admin password last changed.
	AdminPasswordMtime string               `json:"adminPasswordMtime,omitempty"`
	Apps               *ArgoCDApps          `json:"apps,omitempty"`
	Notifications      *ArgoCDNotifications `json:"notifications,omitempty"`
}

// WithDefaults fills only what is unset.
func (s ArgoCDSpec) WithDefaults(d workloads.Defaults) ArgoCDSpec {
	if s.Exposure == "" {
		s.Exposure = workloads.ClusterOnly
	}
	if s.Host == "" {
		s.Host = d.HostFor("argocd", s.Exposure)
	}
	if s.CertificateARN == "" && s.Exposure.LoadBalanced() {
		s.CertificateARN = d.CertificateARN
	}
	if s.AdminPasswordMtime == "" {
		s.AdminPasswordMtime = defaultAdminPasswordMtime
	}
	if s.Apps != nil {
		apps := *s.Apps
		if apps.Revision == "" {
			apps.Revision = "HEAD"
		}
		if apps.Namespace == "" {
			apps.Namespace = workloads.ArgoCDNamespace
		}
		if apps.Sync == "" {
			apps.Sync = AutomatedSync
		}
		s.Apps = &apps
	}
	if s.Notifications != nil && s.Notifications.Kind == GitHubCommitStatus && s.Notifications.URL == "" {
		n := *s.Notifications
		n.URL = defaultGitHubAPI
		s.Notifications = &n
	}
	return s
}

// Validate returns every problem, each prefixed by path (e.g. "aiplatform:argocd").
func (s ArgoCDSpec) Validate(p string) error {
	errs := s.exposure().Validate(p, true)
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", p, key, fmt.Sprintf(format, args...)))
	}
	if s.Exposure.LoadBalanced() && s.Host == "" {
		bad("host", "exposure %s needs a host name for the UI and its certificate; set host or aiplatform:domain", s.Exposure)
	}
	if _, err := time.Parse(time.RFC3339, s.AdminPasswordMtime); err != nil {
		bad("adminPasswordMtime", "%q is not an RFC 3339 time like 2025-01-01T00:00:00Z", s.AdminPasswordMtime)
	}
	if a := s.Apps; a != nil {
		if !isGitURL(a.RepoURL) {
			bad("apps.repoUrl", "%q is not a Git URL (https://..., ssh://... or git@host:org/repo.git)", a.RepoURL)
		}
		if a.Path == "" || path.IsAbs(a.Path) || path.Clean(a.Path) != a.Path || strings.HasPrefix(a.Path, "..") {
			bad("apps.path", "%q must be a relative path inside the repository like apps or clusters/dev", a.Path)
		}
		if strings.ContainsAny(a.Revision, " \t\n") {
			bad("apps.revision", "%q is not a branch, tag or commit", a.Revision)
		}
		if !workloads.IsNamespaceName(a.Namespace) {
			bad("apps.namespace", "%q is not a namespace name", a.Namespace)
		}
		if a.Sync != AutomatedSync && a.Sync != ManualSync {
			bad("apps.sync", "%q is not one of %s, %s", a.Sync, AutomatedSync, ManualSync)
		}
	}
	if n := s.Notifications; n != nil {
		switch n.Kind {
		case WebhookNotifications:
			if n.URL == "" {
				bad("notifications.url", "the webhook URL is required")
			}
		case GitHubCommitStatus:
		default:
			bad("notifications.kind", "%q is not one of %s, %s", n.Kind, WebhookNotifications, GitHubCommitStatus)
		}
		if n.URL != "" {
			if u, err := url.Parse(n.URL); err != nil || u.Scheme != "https" || u.Host == "" {
				bad("notifications.url", "%q must be an https:// URL", n.URL)
			}
		}
	}
	return errors.Join(errs...)
}

func (s ArgoCDSpec) exposure() workloads.ExposureSpec {
	return workloads.ExposureSpec{Exposure: s.Exposure, Host: s.Host, AllowedCIDRs: s.AllowedCIDRs, CertificateARN: s.CertificateARN}
}

// URL is where users reach the Argo CD UI and API.
func (s ArgoCDSpec) URL() string {
	if s.Exposure.LoadBalanced() {
		return "https://" + s.Host
	}
	return "https://argocd-server." + workloads.ArgoCDNamespace + ".svc.cluster.local"
}

func isGitURL(s string) bool {
	if strings.HasPrefix(s, "git@") {
		host, repo, ok := strings.Cut(strings.TrimPrefix(s, "git@"), ":")
		return ok && host != "" && repo != ""
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "ssh") && u.Host != "" && len(u.Path) > 1
}
