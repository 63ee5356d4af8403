package setup

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeGitHub is a recording fake of the GitHub REST API (2022-11-28) for one
// repository, acme/infra. It enforces what GitHub documents for each call
// setup makes: the headers, the token, the request body's fields (unknown
// fields refused), the fine-grained permission per endpoint (403 "Resource
// not accessible by personal access token"), a classic token's scopes in
// X-OAuth-Scopes, and the answers of a repository with Actions disabled.
type fakeGitHub struct {
	t  *testing.T
	mu sync.Mutex

	token string
	// scopes, when not nil, makes the token a classic one with these scopes.
	scopes []string
	// perms, when not nil, makes the token fine-grained with these
	// permissions ("Administration" → "write"); metadata: read is implied.
	perms map[string]string

	private, admin, actionsEnabled, enterprise bool
	oidc                                       map[string]any
	retention, maxRetention                    int
	workflowDefault                            string
	canApprove                                 bool
	vars                                       map[string]string
	envs                                       map[string]*fakeEnv
	rulesets                                   map[int64]rulesetBody
	nextID                                     int64
	users, teams                               map[string]int64
	codeownersErrors                           []map[string]any
	hooks                                      map[int64]*fakeHook
	// failOnce answers the next request "METHOD path" with this status.
	failOnce map[string]int

	requests []string // "METHOD path", every request
}

type fakeEnv struct {
	waitTimer       *int
	reviewers       []reviewerID
	preventSelf     bool
	canAdminsBypass *bool
	policy          *branchPolicySetting
	policies        []fakePolicy
	vars            map[string]string
}

// fakeHook is a repository webhook as GitHub keeps it.
type fakeHook struct {
	Active                             bool
	Events                             []string
	URL, ContentType, Secret, Insecure string
}

type fakePolicy struct {
	ID         int64
	Name, Type string
}

func newFakeGitHub(t *testing.T) (*fakeGitHub, *GitHub) {
	f := &fakeGitHub{
		t: t, token: "ghp_test", scopes: []string{"repo", "read:org", "workflow"},
		admin: true, actionsEnabled: true, enterprise: true,
		oidc:      map[string]any{"use_default": true},
		retention: 14, maxRetention: 90, workflowDefault: "write", canApprove: true,
		vars: map[string]string{}, envs: map[string]*fakeEnv{}, rulesets: map[int64]rulesetBody{},
		nextID: 100, users: map[string]int64{"alice": 501}, teams: map[string]int64{"platform-admins": 7},
		failOnce: map[string]int{}, hooks: map[int64]*fakeHook{},
	}
	srv := httptest.NewServer(f.routes())
	t.Cleanup(srv.Close)
	return f, &GitHub{BaseURL: srv.URL, Token: f.token, HTTP: srv.Client()}
}

// writes are the requests that change something.
func (f *fakeGitHub) writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var w []string
	for _, r := range f.requests {
		if !strings.HasPrefix(r, "GET ") {
			w = append(w, r)
		}
	}
	return w
}

func (f *fakeGitHub) resetRequests() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func msg(m string) map[string]any {
	return map[string]any{"message": m, "documentation_url": "https://docs.github.com/rest"}
}

// decode reads the body strictly: unknown fields are a 422, as GitHub's
// schema validation answers ("Invalid request").
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.Header.Get("Content-Type") != "application/json" {
		writeJSON(w, 415, msg("Unsupported Media Type"))
		return false
	}
	d := json.NewDecoder(r.Body)
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		writeJSON(w, 422, msg("Invalid request.\n\n"+err.Error()))
		return false
	}
	return true
}

// route registers a handler behind the checks every call shares. perm is
// the fine-grained permission GitHub documents for the endpoint ("" for
// none beyond metadata), level "read" or "write"; scope the classic scope.
func (f *fakeGitHub) route(mux *http.ServeMux, pattern, perm, level, scope string, h func(w http.ResponseWriter, r *http.Request)) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		key := r.Method + " " + r.URL.Path
		f.requests = append(f.requests, key)
		if r.Header.Get("Authorization") != "Bearer "+f.token {
			writeJSON(w, 401, msg("Bad credentials"))
			return
		}
		if r.Header.Get("Accept") != "application/vnd.github+json" || r.Header.Get("X-GitHub-Api-Version") != "2022-11-28" {
			writeJSON(w, 400, msg("missing Accept: application/vnd.github+json or X-GitHub-Api-Version: 2022-11-28"))
			return
		}
		if f.scopes != nil {
			w.Header().Set("X-OAuth-Scopes", strings.Join(f.scopes, ", "))
			// A public repository is readable with any token.
			public := !f.private && r.Method == http.MethodGet && r.URL.Path == "/repos/acme/infra"
			if scope != "" && !public && !slices.Contains(f.scopes, scope) && !(scope == "read:org" && slices.Contains(f.scopes, "admin:org")) {
				// A classic token without the scope cannot see a private
				// repository or an organisation's teams: 404, as GitHub hides them.
				writeJSON(w, 404, msg("Not Found"))
				return
			}
		}
		if f.perms != nil && perm != "" {
			have := f.perms[perm]
			if have == "" || (level == "write" && have != "write") {
				writeJSON(w, 403, msg("Resource not accessible by personal access token"))
				return
			}
		}
		if st, ok := f.failOnce[key]; ok {
			delete(f.failOnce, key)
			writeJSON(w, st, msg("Server Error"))
			return
		}
		// Actions disabled: its settings endpoints answer 409 Conflict.
		if !f.actionsEnabled && strings.Contains(r.URL.Path, "/actions/") && !strings.HasSuffix(r.URL.Path, "/actions/permissions") {
			writeJSON(w, 409, msg("Actions is disabled for this repository."))
			return
		}
		h(w, r)
	})
}

func (f *fakeGitHub) env(w http.ResponseWriter, r *http.Request) *fakeEnv {
	e := f.envs[r.PathValue("env")]
	if e == nil {
		writeJSON(w, 404, msg("Not Found"))
	}
	return e
}

func (f *fakeGitHub) envJSON(name string, e *fakeEnv) map[string]any {
	var rules []any
	if e.waitTimer != nil {
		rules = append(rules, map[string]any{"id": 1, "type": "wait_timer", "wait_timer": *e.waitTimer})
	}
	if len(e.reviewers) > 0 {
		var rv []any
		for _, x := range e.reviewers {
			who := map[string]any{"id": x.ID}
			for name, id := range f.users {
				if x.Type == User && id == x.ID {
					who["login"] = name
				}
			}
			for slug, id := range f.teams {
				if x.Type == Team && id == x.ID {
					who["slug"] = slug
				}
			}
			rv = append(rv, map[string]any{"type": x.Type, "reviewer": who})
		}
		rules = append(rules, map[string]any{"id": 2, "type": "required_reviewers", "prevent_self_review": e.preventSelf, "reviewers": rv})
	}
	out := map[string]any{"id": 1, "name": name, "protection_rules": rules, "deployment_branch_policy": e.policy}
	if e.canAdminsBypass != nil {
		out["can_admins_bypass"] = *e.canAdminsBypass
	}
	return out
}

func (f *fakeGitHub) routes() http.Handler {
	mux := http.NewServeMux()
	const repo = "/repos/acme/infra"
	f.route(mux, "GET "+repo, "", "", "repo", func(w http.ResponseWriter, r *http.Request) {
		vis := "public"
		if f.private {
			vis = "private"
		}
		writeJSON(w, 200, map[string]any{"id": 456789, "full_name": "acme/infra", "private": f.private, "visibility": vis,
			"html_url": "https://github.com/acme/infra", "owner": map[string]any{"id": 123456, "login": "acme", "type": "Organization"},
			"permissions": map[string]any{"admin": f.admin, "push": true, "pull": true}})
	})
	f.route(mux, "GET "+repo+"/actions/permissions", "Administration", "read", "repo", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"enabled": f.actionsEnabled, "allowed_actions": "all"})
	})
	f.route(mux, "GET "+repo+"/actions/oidc/customization/sub", "Actions", "read", "repo", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, f.oidc)
	})
	f.route(mux, "GET /users/{login}", "", "", "", func(w http.ResponseWriter, r *http.Request) {
		if id, ok := f.users[r.PathValue("login")]; ok {
			writeJSON(w, 200, map[string]any{"id": id, "login": r.PathValue("login"), "type": "User"})
			return
		}
		writeJSON(w, 404, msg("Not Found"))
	})
	f.route(mux, "GET /orgs/acme/teams/{slug}", "Members", "read", "read:org", func(w http.ResponseWriter, r *http.Request) {
		if id, ok := f.teams[r.PathValue("slug")]; ok {
			writeJSON(w, 200, map[string]any{"id": id, "slug": r.PathValue("slug")})
			return
		}
		writeJSON(w, 404, msg("Not Found"))
	})
	f.route(mux, "GET "+repo+"/actions/permissions/artifact-and-log-retention", "Administration", "read", "repo", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"days": f.retention, "maximum_allowed_days": f.maxRetention})
	})
	f.route(mux, "PUT "+repo+"/actions/permissions/artifact-and-log-retention", "Administration", "write", "repo", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Days *int `json:"days"`
		}
		if !decode(w, r, &b) {
			return
		}
		if b.Days == nil || *b.Days < 1 || *b.Days > f.maxRetention {
			writeJSON(w, 422, msg("days must be between 1 and "+strconv.Itoa(f.maxRetention)))
			return
		}
		f.retention = *b.Days
		w.WriteHeader(204)
	})
	f.route(mux, "GET "+repo+"/actions/permissions/workflow", "Administration", "read", "repo", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"default_workflow_permissions": f.workflowDefault, "can_approve_pull_request_reviews": f.canApprove})
	})
	f.route(mux, "PUT "+repo+"/actions/permissions/workflow", "Administration", "write", "repo", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Default    *string `json:"default_workflow_permissions"`
			CanApprove *bool   `json:"can_approve_pull_request_reviews"`
		}
		if !decode(w, r, &b) {
			return
		}
		if b.Default != nil {
			if *b.Default != "read" && *b.Default != "write" {
				writeJSON(w, 422, msg("default_workflow_permissions must be read or write"))
				return
			}
			f.workflowDefault = *b.Default
		}
		if b.CanApprove != nil {
			f.canApprove = *b.CanApprove
		}
		w.WriteHeader(204)
	})
	// Variables, repository and environment: same shapes.
	variables := func(base, perm string, store func(r *http.Request) map[string]string) {
		f.route(mux, "GET "+base+"/variables/{name}", perm, "read", "repo", func(w http.ResponseWriter, r *http.Request) {
			vars := store(r)
			if vars == nil {
				writeJSON(w, 404, msg("Not Found"))
				return
			}
			v, ok := vars[r.PathValue("name")]
			if !ok {
				writeJSON(w, 404, msg("Not Found"))
				return
			}
			writeJSON(w, 200, map[string]any{"name": r.PathValue("name"), "value": v})
		})
		f.route(mux, "POST "+base+"/variables", perm, "write", "repo", func(w http.ResponseWriter, r *http.Request) {
			vars := store(r)
			if vars == nil {
				writeJSON(w, 404, msg("Not Found"))
				return
			}
			var b struct{ Name, Value *string }
			if !decode(w, r, &b) {
				return
			}
			if b.Name == nil || b.Value == nil {
				writeJSON(w, 422, msg("name and value are required"))
				return
			}
			if _, ok := vars[*b.Name]; ok {
				writeJSON(w, 409, msg("Already exists - Variable already exists"))
				return
			}
			vars[*b.Name] = *b.Value
			writeJSON(w, 201, map[string]any{})
		})
		f.route(mux, "PATCH "+base+"/variables/{name}", perm, "write", "repo", func(w http.ResponseWriter, r *http.Request) {
			vars := store(r)
			if vars == nil {
				writeJSON(w, 404, msg("Not Found"))
				return
			}
			var b struct{ Name, Value *string }
			if !decode(w, r, &b) {
				return
			}
			if _, ok := vars[r.PathValue("name")]; !ok {
				writeJSON(w, 404, msg("Not Found"))
				return
			}
			if b.Value != nil {
				vars[r.PathValue("name")] = *b.Value
			}
			w.WriteHeader(204)
		})
	}
	variables(repo+"/actions", "Variables", func(*http.Request) map[string]string { return f.vars })
	variables(repo+"/environments/{env}", "Environments", func(r *http.Request) map[string]string {
		if e := f.envs[r.PathValue("env")]; e != nil {
			return e.vars
		}
		return nil
	})
	f.route(mux, "GET "+repo+"/environments/{env}", "Actions", "read", "repo", func(w http.ResponseWriter, r *http.Request) {
		if e := f.env(w, r); e != nil {
			writeJSON(w, 200, f.envJSON(r.PathValue("env"), e))
		}
	})
	f.route(mux, "PUT "+repo+"/environments/{env}", "Administration", "write", "repo", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			WaitTimer         *int                 `json:"wait_timer"`
			PreventSelfReview *bool                `json:"prevent_self_review"`
			Reviewers         []reviewerID         `json:"reviewers"`
			Policy            *branchPolicySetting `json:"deployment_branch_policy"`
			CanAdminsBypass   *bool                `json:"can_admins_bypass"`
		}
		if !decode(w, r, &b) {
			return
		}
		if f.private && !f.enterprise && (len(b.Reviewers) > 0 || b.PreventSelfReview != nil || b.WaitTimer != nil) {
			writeJSON(w, 422, msg("Failed to create the environment protection rule. Please ensure the billing plan supports the required reviewers protection rule."))
			return
		}
		if b.PreventSelfReview != nil && *b.PreventSelfReview && len(b.Reviewers) == 0 {
			writeJSON(w, 422, msg("Failed to create or update the environment protection rule. Required reviewers must have at least one reviewer to set prevent_self_review."))
			return
		}
		for _, v := range b.Reviewers {
			if v.Type != User && v.Type != Team || v.ID == 0 {
				writeJSON(w, 422, msg("Invalid reviewer"))
				return
			}
		}
		if b.Policy != nil && b.Policy.ProtectedBranches == b.Policy.CustomBranchPolicies {
			writeJSON(w, 422, msg("Only one of protected_branches and custom_branch_policies can be true"))
			return
		}
		e := f.envs[r.PathValue("env")]
		if e == nil {
			e = &fakeEnv{vars: map[string]string{}}
			f.envs[r.PathValue("env")] = e
		}
		// The PUT replaces the protection rules: what is omitted is gone.
		e.waitTimer, e.reviewers, e.preventSelf = b.WaitTimer, b.Reviewers, b.PreventSelfReview != nil && *b.PreventSelfReview
		if b.Policy == nil || (b.Policy.CustomBranchPolicies && (e.policy == nil || !e.policy.CustomBranchPolicies)) {
			e.policies = nil // switching the policy drops the custom rules
		}
		e.policy = b.Policy
		if b.CanAdminsBypass != nil {
			e.canAdminsBypass = b.CanAdminsBypass
		} else {
			e.canAdminsBypass = ptr(true)
		}
		writeJSON(w, 200, f.envJSON(r.PathValue("env"), e))
	})
	f.route(mux, "GET "+repo+"/environments/{env}/deployment-branch-policies", "Actions", "read", "repo", func(w http.ResponseWriter, r *http.Request) {
		if e := f.env(w, r); e != nil {
			ps := []any{}
			for _, p := range e.policies {
				ps = append(ps, map[string]any{"id": p.ID, "name": p.Name, "type": p.Type})
			}
			writeJSON(w, 200, map[string]any{"total_count": len(ps), "branch_policies": ps})
		}
	})
	f.route(mux, "POST "+repo+"/environments/{env}/deployment-branch-policies", "Administration", "write", "repo", func(w http.ResponseWriter, r *http.Request) {
		e := f.env(w, r)
		if e == nil {
			return
		}
		var b struct {
			Name *string `json:"name"`
			Type *string `json:"type"`
		}
		if !decode(w, r, &b) {
			return
		}
		if b.Name == nil || (b.Type != nil && *b.Type != "branch" && *b.Type != "tag") {
			writeJSON(w, 422, msg("name is required; type is branch or tag"))
			return
		}
		if e.policy == nil || !e.policy.CustomBranchPolicies {
			writeJSON(w, 404, msg("Not Found"))
			return
		}
		typ := "branch"
		if b.Type != nil {
			typ = *b.Type
		}
		f.nextID++
		e.policies = append(e.policies, fakePolicy{ID: f.nextID, Name: *b.Name, Type: typ})
		writeJSON(w, 200, map[string]any{"id": f.nextID, "name": *b.Name, "type": typ})
	})
	f.route(mux, "DELETE "+repo+"/environments/{env}/deployment-branch-policies/{id}", "Administration", "write", "repo", func(w http.ResponseWriter, r *http.Request) {
		e := f.env(w, r)
		if e == nil {
			return
		}
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		n := len(e.policies)
		e.policies = slices.DeleteFunc(e.policies, func(p fakePolicy) bool { return p.ID == id })
		if len(e.policies) == n {
			writeJSON(w, 404, msg("Not Found"))
			return
		}
		w.WriteHeader(204)
	})
	f.route(mux, "GET "+repo+"/rulesets", "", "", "repo", func(w http.ResponseWriter, r *http.Request) {
		out := []any{}
		for id, rs := range f.rulesets {
			out = append(out, map[string]any{"id": id, "name": rs.Name, "target": rs.Target, "enforcement": rs.Enforcement, "source": "acme/infra"})
		}
		writeJSON(w, 200, out)
	})
	f.route(mux, "GET "+repo+"/rulesets/{id}", "", "", "repo", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		rs, ok := f.rulesets[id]
		if !ok {
			writeJSON(w, 404, msg("Not Found"))
			return
		}
		writeJSON(w, 200, rs)
	})
	saveRuleset := func(w http.ResponseWriter, r *http.Request, id int64, status int) {
		var b rulesetBody
		if !decode(w, r, &b) {
			return
		}
		if err := validRuleset(b); err != "" {
			writeJSON(w, 422, msg("Invalid request.\n\n"+err))
			return
		}
		f.rulesets[id] = b
		writeJSON(w, status, b)
	}
	f.route(mux, "POST "+repo+"/rulesets", "Administration", "write", "repo", func(w http.ResponseWriter, r *http.Request) {
		for _, rs := range f.rulesets {
			if rs.Name == RulesetName {
				writeJSON(w, 422, msg("Validation Failed: Name must be unique"))
				return
			}
		}
		f.nextID++
		saveRuleset(w, r, f.nextID, 201)
	})
	f.route(mux, "PUT "+repo+"/rulesets/{id}", "Administration", "write", "repo", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if _, ok := f.rulesets[id]; !ok {
			writeJSON(w, 404, msg("Not Found"))
			return
		}
		saveRuleset(w, r, id, 200)
	})
	// "Get rules for a branch": the active rules of every ruleset on the branch,
	// as check-environment.sh reads them.
	f.route(mux, "GET "+repo+"/rules/branches/{branch}", "", "", "repo", func(w http.ResponseWriter, r *http.Request) {
		out := []any{}
		for id, rs := range f.rulesets {
			if rs.Enforcement != "active" || !slices.Contains(rs.Conditions.RefName.Include, "refs/heads/"+r.PathValue("branch")) {
				continue
			}
			for _, ru := range rs.Rules {
				out = append(out, map[string]any{"type": ru.Type, "parameters": ru.Parameters, "ruleset_source_type": "Repository", "ruleset_source": "acme/infra", "ruleset_id": id})
			}
		}
		writeJSON(w, 200, out)
	})
	f.route(mux, "GET "+repo+"/branches/{branch}/protection", "Administration", "read", "repo", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, msg("Branch not protected"))
	})
	f.route(mux, "GET "+repo+"/codeowners/errors", "", "", "repo", func(w http.ResponseWriter, r *http.Request) {
		errs := f.codeownersErrors
		if errs == nil {
			errs = []map[string]any{}
		}
		writeJSON(w, 200, map[string]any{"errors": errs})
	})
	// Repository webhooks (docs.github.com/rest/repos/webhooks): the
	// fine-grained permission Webhooks, or a classic token's repo scope
	// (which covers repository hooks, as admin:repo_hook does). GitHub
	// never returns a secret: config.secret reads "********".
	hookJSON := func(id int64, h *fakeHook) map[string]any {
		cfg := map[string]any{"url": h.URL, "content_type": h.ContentType, "insecure_ssl": h.Insecure}
		if h.Secret != "" {
			cfg["secret"] = "********"
		}
		return map[string]any{"id": id, "type": "Repository", "name": "web", "active": h.Active, "events": h.Events, "config": cfg}
	}
	type hookBody struct {
		Name   *string  `json:"name"`
		Active *bool    `json:"active"`
		Events []string `json:"events"`
		Config *struct {
			URL         string `json:"url"`
			ContentType string `json:"content_type"`
			Secret      string `json:"secret"`
			InsecureSSL string `json:"insecure_ssl"`
		} `json:"config"`
	}
	validHook := func(w http.ResponseWriter, b hookBody, create bool) bool {
		switch {
		case create && (b.Config == nil || b.Config.URL == ""):
			writeJSON(w, 422, msg("Validation Failed: config.url is required"))
		case b.Name != nil && *b.Name != "web":
			writeJSON(w, 422, msg("Validation Failed: name must be web"))
		case b.Config != nil && !slices.Contains([]string{"", "json", "form"}, b.Config.ContentType):
			writeJSON(w, 422, msg("Validation Failed: content_type must be json or form"))
		case b.Config != nil && !slices.Contains([]string{"", "0", "1"}, b.Config.InsecureSSL):
			writeJSON(w, 422, msg("Validation Failed: insecure_ssl must be \"0\" or \"1\""))
		default:
			for _, e := range b.Events {
				if !slices.Contains([]string{"push", "pull_request", "workflow_job", "workflow_run", "*"}, e) {
					writeJSON(w, 422, msg("Validation Failed: unknown event "+e))
					return false
				}
			}
			return true
		}
		return false
	}
	f.route(mux, "GET "+repo+"/hooks", "Webhooks", "read", "repo", func(w http.ResponseWriter, r *http.Request) {
		out := []any{}
		ids := make([]int64, 0, len(f.hooks))
		for id := range f.hooks {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			out = append(out, hookJSON(id, f.hooks[id]))
		}
		writeJSON(w, 200, out)
	})
	f.route(mux, "POST "+repo+"/hooks", "Webhooks", "write", "repo", func(w http.ResponseWriter, r *http.Request) {
		var b hookBody
		if !decode(w, r, &b) || !validHook(w, b, true) {
			return
		}
		for _, h := range f.hooks {
			if h.URL == b.Config.URL {
				writeJSON(w, 422, msg("Validation Failed: Hook already exists on this repository"))
				return
			}
		}
		h := &fakeHook{Active: true, Events: []string{"push"}, URL: b.Config.URL, ContentType: b.Config.ContentType, Secret: b.Config.Secret, Insecure: b.Config.InsecureSSL}
		if b.Active != nil {
			h.Active = *b.Active
		}
		if b.Events != nil {
			h.Events = b.Events
		}
		if h.ContentType == "" {
			h.ContentType = "form"
		}
		f.nextID++
		f.hooks[f.nextID] = h
		writeJSON(w, 201, hookJSON(f.nextID, h))
	})
	f.route(mux, "PATCH "+repo+"/hooks/{id}", "Webhooks", "write", "repo", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		h := f.hooks[id]
		if h == nil {
			writeJSON(w, 404, msg("Not Found"))
			return
		}
		var b hookBody
		if !decode(w, r, &b) || !validHook(w, b, false) {
			return
		}
		if b.Active != nil {
			h.Active = *b.Active
		}
		if b.Events != nil {
			h.Events = b.Events
		}
		if b.Config != nil {
			h.URL, h.ContentType, h.Secret, h.Insecure = b.Config.URL, b.Config.ContentType, b.Config.Secret, b.Config.InsecureSSL
		}
		writeJSON(w, 200, hookJSON(id, h))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		f.t.Errorf("fake GitHub: unexpected request %s %s", r.Method, r.URL.Path)
		writeJSON(w, 404, msg("Not Found"))
	})
	return mux
}

// validRuleset checks the parameters the REST reference marks required for
// the rule types setup writes.
func validRuleset(b rulesetBody) string {
	if b.Name == "" || !slices.Contains([]string{"active", "evaluate", "disabled"}, b.Enforcement) {
		return "name and enforcement (active, evaluate, disabled) are required"
	}
	for _, r := range b.Rules {
		p := r.Parameters
		switch r.Type {
		case "pull_request":
			if p == nil || p.RequiredApprovingReviewCount == nil || p.DismissStaleReviewsOnPush == nil || p.RequireCodeOwnerReview == nil ||
				p.RequireLastPushApproval == nil || p.RequiredReviewThreadResolution == nil {
				return "pull_request needs all of required_approving_review_count, dismiss_stale_reviews_on_push, require_code_owner_review, require_last_push_approval, required_review_thread_resolution"
			}
		case "required_status_checks":
			if p == nil || p.RequiredStatusChecks == nil || p.StrictRequiredStatusChecksPolicy == nil {
				return "required_status_checks needs required_status_checks and strict_required_status_checks_policy"
			}
		default:
			return fmt.Sprintf("rule type %q not modelled by the fake", r.Type)
		}
	}
	return ""
}

// dump is the fake's state, for failure messages.
func (f *fakeGitHub) dump() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b bytes.Buffer
	fmt.Fprintf(&b, "vars %v\n", f.vars)
	for n, e := range f.envs {
		fmt.Fprintf(&b, "env %s %+v\n", n, *e)
	}
	return b.String()
}
