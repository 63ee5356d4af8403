package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/aiplatform/infra/stacks/bootstrap/statebackend"
)

// Change is one thing setup changed, or would change in a dry run.
type Change struct {
	Op     string // create, update, delete
	What   string // e.g. "repository variable AWS_REGION"
	Detail string // the new value, or what differs
}

func (c Change) String() string {
	sign := map[string]string{"create": "+", "update": "~", "delete": "-"}[c.Op]
	s := sign + " " + c.Op + " " + c.What
	if c.Detail != "" {
		s += ": " + c.Detail
	}
	return s
}

// Report is what a run found and did.
type Report struct {
	DryRun        bool
	SubjectPrefix string
	Changes       []Change
	Checklist     []Item
}

// Setup runs the steps. AWS may be nil: then the bootstrap's outputs must be
// in Config (the -backend-url, -region and role flags).
type Setup struct {
	GitHub *GitHub
	AWS    AWSSteps
	Config Config
	DryRun bool
	// Log receives each change as it is made (or, in a dry run, found).
	Log io.Writer
	// GPUNeeds are the stacks' GPU vCPUs per quota; Quotas reads the
	// account's (nil: not checked). A quota below the need is a checklist
	// item, never a failure: AWS, not setup, raises it.
	GPUNeeds []GPUQuotaNeed
	Quotas   QuotaReader
	// Connections reads the runners' GitHub connection (nil: not read,
	// listed as not done).
	Connections ConnectionReader
}

// run is the state of one run.
type run struct {
	*Setup
	ctx    context.Context
	owner  string
	name   string
	repo   repository
	report *Report
	// codeownersErrors are GitHub's complaints about CODEOWNERS on Branch,
	// or why they could not be read.
	codeownersErrors []string
	// gpuShortfalls are the GPU quotas below the stacks' needs, or unread.
	gpuShortfalls []gpuQuotaShortfall
	// runners are the bootstrap's runner pools (with -runners), and
	// connection their GitHub connection's status or why it is unknown.
	runners    *RunnerOutputs
	connection string
}

type repository struct {
	ID         int64  `json:"id"`
	FullName   string `json:"full_name"`
	Private    bool   `json:"private"`
	Visibility string `json:"visibility"`
	HTMLURL    string `json:"html_url"`
	Owner      struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
		Type  string `json:"type"`
	} `json:"owner"`
	Permissions struct {
		Admin bool `json:"admin"`
	} `json:"permissions"`
}

// Placeholder stands for a bootstrap output a dry run cannot know yet.
const Placeholder = "(the bootstrap's output)"

// Run makes the repository (and, with AWS, the account) match the Config.
// It stops at the first error; the report holds what was done until then,
// and running again continues from there.
func (s *Setup) Run(ctx context.Context) (*Report, error) {
	cfg := s.Config.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s.Config = cfg
	if s.Log == nil {
		s.Log = io.Discard
	}
	r := &run{Setup: s, ctx: ctx, report: &Report{DryRun: s.DryRun}}
	r.owner, r.name, _ = strings.Cut(cfg.Repository, "/")
	err := r.steps()
	r.report.Checklist = checklist(r)
	return r.report, err
}

func (r *run) steps() error {
	if err := r.checkAccess(); err != nil {
		return err
	}
	if err := r.subjectPrefix(); err != nil {
		return err
	}
	if err := r.aws(); err != nil {
		return err
	}
	r.gpuQuotas()
	reviewers, err := r.lookupReviewers()
	if err != nil {
		return err
	}
	// Protection first, variables last: the variables arm the pipeline
	// (check-ci-settings.sh deploys once they are set), so an interrupted
	// run never leaves a pipeline that deploys without its guards.
	for _, step := range []func() error{
		r.retention,
		r.workflowPermissions,
		func() error {
			for _, st := range r.Config.Stacks {
				if err := r.environment(st, reviewers); err != nil {
					return err
				}
			}
			return nil
		},
		r.ruleset,
		r.codeowners,
		r.runnerWebhooks,
		r.variables,
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) repoPath(parts ...string) string {
	p := "/repos/" + url.PathEscape(r.owner) + "/" + url.PathEscape(r.name)
	for _, s := range parts {
		p += "/" + s
	}
	return p
}

func (r *run) change(c Change) {
	r.report.Changes = append(r.report.Changes, c)
	prefix := ""
	if r.DryRun {
		prefix = "would "
	}
	fmt.Fprintf(r.Log, "%s%s\n", prefix, strings.TrimSpace(strings.TrimLeft(c.String(), "+~-")))
}

// write performs a change unless this is a dry run.
func (r *run) write(c Change, method, path, perm string, body, out any) error {
	if !r.DryRun {
		if err := r.GitHub.call(r.ctx, method, path, perm, body, out); err != nil {
			return err
		}
	}
	r.change(c)
	return nil
}

// checkAccess: the repository exists, the token's user administers it, a
// classic token has the scopes, and Actions is enabled.
func (r *run) checkAccess() error {
	// GET /repos/{owner}/{repo}: docs.github.com/rest/repos/repos#get-a-repository
	if err := r.GitHub.call(r.ctx, http.MethodGet, r.repoPath(), "repository permission Metadata: read", nil, &r.repo); err != nil {
		if IsNotFound(err) {
			return fmt.Errorf("-repo: %s does not exist or the token cannot see it: check the name, and give a fine-grained token access to this repository (or a classic token the scope repo)", r.Config.Repository)
		}
		return err
	}
	if scopes, classic := r.GitHub.Scopes(); classic {
		var missing []string
		if !slices.Contains(scopes, "repo") {
			missing = append(missing, "repo")
		}
		if r.needsOrgRead() && !slices.ContainsFunc(scopes, func(s string) bool {
			return s == "read:org" || s == "write:org" || s == "admin:org"
		}) {
			missing = append(missing, "read:org")
		}
		if len(missing) > 0 {
			has := strings.Join(scopes, ", ")
			if has == "" {
				has = "none"
			}
			return fmt.Errorf("the GitHub token lacks the scopes %s (it has: %s): run `gh auth refresh -s repo,read:org` (or make a token with them at https://github.com/settings/tokens) and run setup again",
				strings.Join(missing, ", "), has)
		}
	}
	if !r.repo.Permissions.Admin {
		return fmt.Errorf("the token's user is not an administrator of %s (permissions.admin is false): environments, rulesets and Actions settings need the admin role; run setup with an administrator's token", r.Config.Repository)
	}
	// GET /repos/{owner}/{repo}/actions/permissions:
	// docs.github.com/rest/actions/permissions#get-github-actions-permissions-for-a-repository
	var perms struct {
		Enabled bool `json:"enabled"`
	}
	if err := r.GitHub.call(r.ctx, http.MethodGet, r.repoPath("actions", "permissions"), "repository permission Administration: read", nil, &perms); err != nil {
		return r.actionsError(err)
	}
	if !perms.Enabled {
		return r.actionsDisabled()
	}
	return nil
}

func (r *run) needsOrgRead() bool {
	return slices.ContainsFunc(r.Config.Reviewers, func(v Reviewer) bool { return v.Kind == Team })
}

func (r *run) actionsDisabled() error {
	return fmt.Errorf("GitHub Actions is disabled for %s, so no workflow would run: enable it under %s/settings/actions (Actions permissions), or `gh api -X PUT repos/%s/actions/permissions -F enabled=true`; if the organisation disables it, an organisation owner enables it under its Settings → Actions → General",
		r.Config.Repository, r.htmlURL(), r.Config.Repository)
}

// actionsError turns the answers GitHub gives on Actions endpoints of a
// repository whose Actions are disabled (409 Conflict, or 404 when the
// organisation policy hides them) into the fix.
func (r *run) actionsError(err error) error {
	switch statusOf(err) {
	case http.StatusConflict, http.StatusNotFound:
		return fmt.Errorf("%w (%v)", r.actionsDisabled(), err)
	}
	return err
}

func (r *run) htmlURL() string {
	if r.repo.HTMLURL != "" {
		return r.repo.HTMLURL
	}
	return "https://github.com/" + r.Config.Repository
}

// subjectPrefix reads the OIDC subject prefix the bootstrap's role trust
// policies need.
func (r *run) subjectPrefix() error {
	// GET /repos/{owner}/{repo}/actions/oidc/customization/sub:
	// docs.github.com/rest/actions/oidc#get-the-customization-template-for-an-oidc-subject-claim-for-a-repository
	var t struct {
		UseDefault       bool     `json:"use_default"`
		IncludeClaimKeys []string `json:"include_claim_keys"`
		SubClaimPrefix   string   `json:"sub_claim_prefix"`
	}
	if err := r.GitHub.call(r.ctx, http.MethodGet, r.repoPath("actions", "oidc", "customization", "sub"), "repository permission Actions: read", nil, &t); err != nil {
		return r.actionsError(err)
	}
	p, err := prefixFrom(t.UseDefault, t.IncludeClaimKeys, t.SubClaimPrefix, r.repo)
	if err != nil {
		return err
	}
	r.report.SubjectPrefix = p
	return nil
}

// prefixFrom: sub_claim_prefix when GitHub gives it (immutable-ID subjects);
// with a custom template, claim:value for each key before "context"; else
// GitHub's default, repo:<owner>/<name> (docs.github.com, "OpenID Connect
// reference", "Customizing the subject claims").
func prefixFrom(useDefault bool, keys []string, given string, repo repository) (string, error) {
	if given != "" {
		return given, nil
	}
	if useDefault || len(keys) == 0 {
		return "repo:" + repo.FullName, nil
	}
	var parts []string
	for _, k := range keys {
		if k == "context" {
			break
		}
		var v string
		switch k {
		case "repo", "repository":
			v = repo.FullName
		case "repository_owner":
			v = repo.Owner.Login
		case "repository_owner_id":
			v = strconv.FormatInt(repo.Owner.ID, 10)
		case "repository_id":
			v = strconv.FormatInt(repo.ID, 10)
		case "repository_visibility":
			v = repo.Visibility
		default:
			return "", fmt.Errorf("the repository's OIDC subject template includes the claim %q before context, whose value setup cannot know: set the template to claims about the repository only (repo, repository_owner_id, repository_id, …) with `gh api -X PUT repos/%s/actions/oidc/customization/sub`, or use the default", k, repo.FullName)
		}
		parts = append(parts, k+":"+v)
	}
	if !slices.Contains(keys, "context") {
		return "", fmt.Errorf("the repository's OIDC subject template has no context claim, so every job gets the same subject and the apply role could not require an environment: add \"context\" as the last of include_claim_keys")
	}
	return strings.Join(parts, ":"), nil
}

func (r *run) aws() error {
	c := &r.Config
	if r.AWS != nil {
		out, changes, err := r.AWS.Bootstrap(r.ctx, BootstrapInput{
			Region: c.Region, Repository: r.repo.FullName, SubjectPrefix: r.report.SubjectPrefix, Environments: c.Stacks,
			Runners: c.Runners,
		}, r.DryRun)
		for _, ch := range changes {
			r.change(ch)
		}
		if err != nil {
			return err
		}
		c.BackendURL, c.PreviewRoleArn, c.ApplyRoleArn = out.BackendURL, out.PreviewRoleArn, out.ApplyRoleArn
		if c.Runners != "" {
			if err := r.runnerConnection(out.Runners); err != nil {
				return err
			}
		}
		egress := ""
		if r.runners != nil {
			egress = r.runners.EgressIP
		}
		for _, st := range c.Stacks {
			changes, err := r.AWS.Stack(r.ctx, StackInput{Stack: st, Region: c.Region, BackendURL: out.BackendURL,
				SecretsProvider: out.SecretsProvider, PreviewRoleArn: out.PreviewRoleArn, ApplyRoleArn: out.ApplyRoleArn,
				RunnerEgressIP: egress}, r.DryRun)
			for _, ch := range changes {
				r.change(ch)
			}
			if err != nil {
				return err
			}
		}
	}
	var missing []string
	for _, v := range []struct{ flag, val string }{
		{"-backend-url", c.BackendURL},
		{"-preview-role-arn", c.PreviewRoleArn}, {"-apply-role-arn", c.ApplyRoleArn},
	} {
		if v.val == "" {
			if !r.DryRun {
				missing = append(missing, v.flag)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: not set: pass the bootstrap's outputs (pulumi -C stacks/bootstrap stack output), or leave -backend-url empty so that setup runs the bootstrap", strings.Join(missing, ", "))
	}
	for _, p := range []*string{&c.BackendURL, &c.PreviewRoleArn, &c.ApplyRoleArn} {
		if *p == "" {
			*p = Placeholder
		}
	}
	return nil
}

// runnerConnection keeps the bootstrap's runner outputs and reads the
// status of their GitHub connection: until an administrator completes its
// handshake it is PENDING and the pools' builds cannot register runners
// (the checklist's runner-connection item).
func (r *run) runnerConnection(out *RunnerOutputs) error {
	if out == nil {
		if r.DryRun {
			return nil // the bootstrap has not made them yet
		}
		return fmt.Errorf("-runners %s: the bootstrap exports no runner pools (%s is empty): run setup again; if it persists, check that stacks/bootstrap is this version (aiplatform-bootstrap:runners)", r.Config.Runners, statebackend.OutputRunnerEgressIP)
	}
	r.runners = out
	switch {
	case r.Connections == nil:
		r.connection = "not read"
	default:
		st, err := r.Connections.ConnectionStatus(r.ctx, r.Config.Region, out.ConnectionArn)
		if err != nil {
			r.connection = "could not be read: " + err.Error()
		} else {
			r.connection = st
		}
	}
	return nil
}

// runnerWebhooks makes GitHub send each CodeBuild pool the repository's
// queued workflow jobs: CodeBuild's payload URL and secret (the
// bootstrap's webhooks are created manually, CodeBuild's ManualCreation),
// event workflow_job (CodeBuild User Guide, "GitHub manual webhooks" and
// the WORKFLOW_JOB_QUEUED event).
func (r *run) runnerWebhooks() error {
	if r.Config.Runners == "" {
		return nil
	}
	if r.runners == nil { // a dry run before the bootstrap exists
		for _, p := range statebackend.RunnerPools {
			r.change(Change{Op: "create", What: "repository webhook of the " + p.Name + " runner pool", Detail: "workflow_job to CodeBuild " + Placeholder})
		}
		return nil
	}
	// GET /repos/{owner}/{repo}/hooks: docs.github.com/rest/repos/webhooks#list-repository-webhooks
	var hooks []struct {
		ID     int64    `json:"id"`
		Active bool     `json:"active"`
		Events []string `json:"events"`
		Config struct {
			URL         string `json:"url"`
			ContentType string `json:"content_type"`
		} `json:"config"`
	}
	if err := r.GitHub.call(r.ctx, http.MethodGet, r.repoPath("hooks"), "repository permission Webhooks: read", nil, &hooks); err != nil {
		return err
	}
	const perm = "repository permission Webhooks: write"
	for _, w := range r.runners.Webhooks {
		if w.PayloadURL == "" || w.Secret == "" {
			return fmt.Errorf("runner pool %s: the bootstrap's %s has no payload URL or secret: run setup again", w.Pool, statebackend.OutputRunnerWebhooks)
		}
		config := map[string]string{"url": w.PayloadURL, "content_type": "json", "insecure_ssl": "0", "secret": w.Secret}
		what := "repository webhook of the " + w.Pool + " runner pool"
		found := false
		for _, h := range hooks {
			if h.Config.URL != w.PayloadURL {
				continue
			}
			found = true
			if h.Active && slices.Equal(h.Events, []string{"workflow_job"}) && h.Config.ContentType == "json" {
				break
			}
			// PATCH /repos/{owner}/{repo}/hooks/{hook_id}: docs.github.com/rest/repos/webhooks#update-a-repository-webhook
			if err := r.write(Change{Op: "update", What: what, Detail: fmt.Sprintf("active %t, events %v → active, workflow_job, json", h.Active, h.Events)},
				http.MethodPatch, r.repoPath("hooks", strconv.FormatInt(h.ID, 10)), perm,
				map[string]any{"active": true, "events": []string{"workflow_job"}, "config": config}, nil); err != nil {
				return err
			}
			break
		}
		if found {
			continue
		}
		// POST /repos/{owner}/{repo}/hooks: docs.github.com/rest/repos/webhooks#create-a-repository-webhook
		if err := r.write(Change{Op: "create", What: what, Detail: "workflow_job to CodeBuild project " + statebackend.RunnerProject(w.Pool)},
			http.MethodPost, r.repoPath("hooks"), perm,
			map[string]any{"name": "web", "active": true, "events": []string{"workflow_job"}, "config": config}, nil); err != nil {
			return err
		}
	}
	return nil
}

// reviewerID is a reviewer resolved to the id the environments API takes.
type reviewerID struct {
	Type ReviewerKind `json:"type"`
	ID   int64        `json:"id"`
	Name string       `json:"-"` // for messages: login or @org/slug
}

func (r *run) lookupReviewers() ([]reviewerID, error) {
	var out []reviewerID
	var errs []error
	for _, v := range r.Config.Reviewers {
		var got struct {
			ID int64 `json:"id"`
		}
		var err error
		if v.Kind == Team {
			if !strings.EqualFold(v.Org, r.repo.Owner.Login) {
				errs = append(errs, fmt.Errorf("-reviewers: team %s belongs to %s, not to %s, which owns the repository: name a team of %s", v, v.Org, r.repo.Owner.Login, r.repo.Owner.Login))
				continue
			}
			// GET /orgs/{org}/teams/{team_slug}: docs.github.com/rest/teams/teams#get-a-team-by-name
			err = r.GitHub.call(r.ctx, http.MethodGet, "/orgs/"+url.PathEscape(v.Org)+"/teams/"+url.PathEscape(v.Name), "organization permission Members: read", nil, &got)
		} else {
			// GET /users/{username}: docs.github.com/rest/users/users#get-a-user
			err = r.GitHub.call(r.ctx, http.MethodGet, "/users/"+url.PathEscape(v.Name), "", nil, &got)
		}
		if IsNotFound(err) {
			what := "user"
			if v.Kind == Team {
				what = "team (or the token cannot see it: a classic token needs read:org, a fine-grained one the organization permission Members: read)"
			}
			errs = append(errs, fmt.Errorf("-reviewers: no %s %s: check the spelling; teams are @org/team-slug as in the team's URL", what, v))
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, reviewerID{Type: v.Kind, ID: got.ID, Name: v.String()})
	}
	return out, errors.Join(errs...)
}

// retention: artifacts and logs outlive the 30-day approval window.
func (r *run) retention() error {
	// GET/PUT /repos/{owner}/{repo}/actions/permissions/artifact-and-log-retention:
	// docs.github.com/rest/actions/permissions#set-artifact-and-log-retention-settings-for-a-repository
	path := r.repoPath("actions", "permissions", "artifact-and-log-retention")
	var cur struct {
		Days           int `json:"days"`
		MaximumAllowed int `json:"maximum_allowed_days"`
	}
	if err := r.GitHub.call(r.ctx, http.MethodGet, path, "repository permission Administration: read", nil, &cur); err != nil {
		return r.actionsError(err)
	}
	if cur.Days >= r.Config.RetentionDays {
		return nil
	}
	if cur.MaximumAllowed != 0 && cur.MaximumAllowed < r.Config.RetentionDays {
		return fmt.Errorf("artifact and log retention: the organisation allows at most %d days, less than the %d the approval window needs: an organisation owner raises it under the organisation's Settings → Actions → General → Artifact and log retention",
			cur.MaximumAllowed, r.Config.RetentionDays)
	}
	err := r.write(Change{Op: "update", What: "artifact and log retention", Detail: fmt.Sprintf("%d → %d days", cur.Days, r.Config.RetentionDays)},
		http.MethodPut, path, "repository permission Administration: write", map[string]int{"days": r.Config.RetentionDays}, nil)
	return r.actionsError(err)
}

// workflowPermissions: the job token reads only, and cannot approve pull
// requests (a branch's workflow could otherwise approve itself).
func (r *run) workflowPermissions() error {
	// GET/PUT /repos/{owner}/{repo}/actions/permissions/workflow:
	// docs.github.com/rest/actions/permissions#set-default-workflow-permissions-for-a-repository
	path := r.repoPath("actions", "permissions", "workflow")
	type perms struct {
		Default    string `json:"default_workflow_permissions"`
		CanApprove bool   `json:"can_approve_pull_request_reviews"`
	}
	var cur perms
	if err := r.GitHub.call(r.ctx, http.MethodGet, path, "repository permission Administration: read", nil, &cur); err != nil {
		return r.actionsError(err)
	}
	want := perms{Default: "read", CanApprove: false}
	if cur == want {
		return nil
	}
	err := r.write(Change{Op: "update", What: "workflow permissions",
		Detail: fmt.Sprintf("default %s → read, can approve pull requests %t → false", cur.Default, cur.CanApprove)},
		http.MethodPut, path, "repository permission Administration: write", want, nil)
	if statusOf(err) == http.StatusConflict {
		return fmt.Errorf("%w: the organisation's workflow permissions override the repository's; an organisation owner sets \"Read repository contents\" and unticks \"Allow GitHub Actions to create and approve pull requests\" under the organisation's Settings → Actions → General", err)
	}
	return r.actionsError(err)
}

// variables sets the repository variables the workflows read (docs/pipeline-guards.md,
// "Repository variables"). AWS_APPLY_ROLE_ARN is also a repository variable:
// check-ci-settings.sh reads it in the preflight job, which runs in no environment.
func (r *run) variables() error {
	c := r.Config
	for _, v := range [][2]string{
		{"PULUMI_BACKEND_URL", c.BackendURL},
		{"AWS_REGION", c.Region},
		{"AWS_PREVIEW_ROLE_ARN", c.PreviewRoleArn},
		{"AWS_APPLY_ROLE_ARN", c.ApplyRoleArn},
		{"PULUMI_PR_RUNNER", c.PRRunner},
		{"PULUMI_DEPLOY_RUNNER", c.DeployRunner},
	} {
		// docs.github.com/rest/actions/variables: "Get a repository variable",
		// "Create a repository variable", "Update a repository variable".
		if err := r.variable("repository variable", r.repoPath("actions", "variables"), "repository permission Variables", v[0], v[1]); err != nil {
			return err
		}
	}
	return nil
}

// variable makes the variable name under base hold value.
func (r *run) variable(what, base, perm, name, value string) error {
	var cur struct {
		Value string `json:"value"`
	}
	err := r.GitHub.call(r.ctx, http.MethodGet, base+"/"+url.PathEscape(name), perm+": read", nil, &cur)
	body := map[string]string{"name": name, "value": value}
	switch {
	case IsNotFound(err):
		return r.write(Change{Op: "create", What: what + " " + name, Detail: value}, http.MethodPost, base, perm+": write", body, nil)
	case err != nil:
		return err
	case cur.Value != value:
		return r.write(Change{Op: "update", What: what + " " + name, Detail: cur.Value + " → " + value},
			http.MethodPatch, base+"/"+url.PathEscape(name), perm+": write", body, nil)
	}
	return nil
}
