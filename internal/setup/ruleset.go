package setup

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// rulesetBody is "Create a repository ruleset" / "Update a repository
// ruleset" (docs.github.com/rest/repos/rules#create-a-repository-ruleset).
type rulesetBody struct {
	Name         string `json:"name"`
	Target       string `json:"target"`
	Enforcement  string `json:"enforcement"`
	BypassActors []any  `json:"bypass_actors"`
	Conditions   struct {
		RefName struct {
			Include []string `json:"include"`
			Exclude []string `json:"exclude"`
		} `json:"ref_name"`
	} `json:"conditions"`
	Rules []rule `json:"rules"`
}

type rule struct {
	Type       string          `json:"type"`
	Parameters *ruleParameters `json:"parameters,omitempty"`
}

// ruleParameters holds the parameters of the two rule types setup writes;
// "pull_request" requires all five of its own, "required_status_checks"
// both of its own (the ruleset schema of the REST reference).
type ruleParameters struct {
	// pull_request
	RequiredApprovingReviewCount   *int  `json:"required_approving_review_count,omitempty"`
	DismissStaleReviewsOnPush      *bool `json:"dismiss_stale_reviews_on_push,omitempty"`
	RequireCodeOwnerReview         *bool `json:"require_code_owner_review,omitempty"`
	RequireLastPushApproval        *bool `json:"require_last_push_approval,omitempty"`
	RequiredReviewThreadResolution *bool `json:"required_review_thread_resolution,omitempty"`
	// required_status_checks
	RequiredStatusChecks             []statusCheck `json:"required_status_checks,omitempty"`
	StrictRequiredStatusChecksPolicy *bool         `json:"strict_required_status_checks_policy,omitempty"`
}

type statusCheck struct {
	Context string `json:"context"`
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

// desiredRuleset is the ruleset check-environment.sh accepts, keeping
// whatever is stricter in cur (more approvals, resolved threads, strict
// checks, more checks).
func (r *run) desiredRuleset(cur *rulesetBody) rulesetBody {
	var b rulesetBody
	b.Name, b.Target, b.Enforcement = RulesetName, "branch", "active"
	b.BypassActors = []any{}
	b.Conditions.RefName.Include = []string{"refs/heads/" + Branch}
	b.Conditions.RefName.Exclude = []string{}
	pr := ruleParameters{
		RequiredApprovingReviewCount: ptr(1), DismissStaleReviewsOnPush: ptr(true),
		RequireCodeOwnerReview: ptr(true), RequireLastPushApproval: ptr(true),
		RequiredReviewThreadResolution: ptr(false),
	}
	checks := ruleParameters{StrictRequiredStatusChecksPolicy: ptr(false)}
	for _, c := range r.Config.RequiredChecks() {
		checks.RequiredStatusChecks = append(checks.RequiredStatusChecks, statusCheck{Context: c})
	}
	if cur != nil {
		if p := cur.rule("pull_request"); p != nil {
			pr.RequiredApprovingReviewCount = ptr(max(1, deref(p.RequiredApprovingReviewCount)))
			pr.RequiredReviewThreadResolution = ptr(deref(p.RequiredReviewThreadResolution))
		}
		if p := cur.rule("required_status_checks"); p != nil {
			checks.StrictRequiredStatusChecksPolicy = ptr(deref(p.StrictRequiredStatusChecksPolicy))
			for _, c := range p.RequiredStatusChecks {
				if !slices.Contains(checks.RequiredStatusChecks, statusCheck{Context: c.Context}) {
					checks.RequiredStatusChecks = append(checks.RequiredStatusChecks, statusCheck{Context: c.Context})
				}
			}
		}
	}
	b.Rules = []rule{{Type: "pull_request", Parameters: &pr}, {Type: "required_status_checks", Parameters: &checks}}
	return b
}

func (b rulesetBody) rule(typ string) *ruleParameters {
	for _, r := range b.Rules {
		if r.Type == typ {
			if r.Parameters == nil {
				return &ruleParameters{}
			}
			return r.Parameters
		}
	}
	return nil
}

// rulesetDiffs lists what in cur falls short of want.
func rulesetDiffs(cur, want rulesetBody) []string {
	var d []string
	if cur.Enforcement != "active" {
		d = append(d, fmt.Sprintf("enforcement %s → active", cur.Enforcement))
	}
	if cur.Target != "branch" || !slices.Equal(cur.Conditions.RefName.Include, want.Conditions.RefName.Include) || len(cur.Conditions.RefName.Exclude) > 0 {
		d = append(d, "target → refs/heads/"+Branch)
	}
	if len(cur.BypassActors) > 0 {
		d = append(d, "bypass list → empty")
	}
	p := cur.rule("pull_request")
	if p == nil {
		p = &ruleParameters{}
	}
	if deref(p.RequiredApprovingReviewCount) < 1 {
		d = append(d, "required approvals → 1")
	}
	if !deref(p.DismissStaleReviewsOnPush) {
		d = append(d, "dismiss stale approvals")
	}
	if !deref(p.RequireLastPushApproval) {
		d = append(d, "approval of the most recent push")
	}
	if !deref(p.RequireCodeOwnerReview) {
		d = append(d, "code-owner review")
	}
	have := map[string]bool{}
	if c := cur.rule("required_status_checks"); c != nil {
		for _, s := range c.RequiredStatusChecks {
			have[s.Context] = true
		}
	}
	for _, s := range want.rule("required_status_checks").RequiredStatusChecks {
		if !have[s.Context] {
			d = append(d, "required check "+s.Context)
		}
	}
	return d
}

// ruleset makes the rules on main that check-environment.sh requires, in a
// repository ruleset named RulesetName (a ruleset, not classic branch
// protection: the job token can read only rulesets, docs/pipeline-guards.md).
func (r *run) ruleset() error {
	// GET /repos/{owner}/{repo}/rulesets: docs.github.com/rest/repos/rules#get-all-repository-rulesets
	var list []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	if err := r.GitHub.call(r.ctx, http.MethodGet, r.repoPath("rulesets")+"?per_page=100&includes_parents=false", "repository permission Metadata: read", nil, &list); err != nil {
		return err
	}
	for _, rs := range list {
		if rs.Name != RulesetName {
			continue
		}
		// GET/PUT /repos/{owner}/{repo}/rulesets/{ruleset_id}:
		// docs.github.com/rest/repos/rules#get-a-repository-ruleset, #update-a-repository-ruleset
		path := fmt.Sprintf("%s/%d", r.repoPath("rulesets"), rs.ID)
		var cur rulesetBody
		if err := r.GitHub.call(r.ctx, http.MethodGet, path, "repository permission Metadata: read", nil, &cur); err != nil {
			return err
		}
		want := r.desiredRuleset(&cur)
		d := rulesetDiffs(cur, want)
		if len(d) == 0 {
			return nil
		}
		return r.write(Change{Op: "update", What: "ruleset " + RulesetName, Detail: strings.Join(d, ", ")},
			http.MethodPut, path, "repository permission Administration: write", want, nil)
	}
	want := r.desiredRuleset(nil)
	// POST /repos/{owner}/{repo}/rulesets: docs.github.com/rest/repos/rules#create-a-repository-ruleset
	return r.write(Change{Op: "create", What: "ruleset " + RulesetName,
		Detail: "on " + Branch + ": a pull request with 1 approval, stale approvals dismissed, the last push approved, code-owner review, checks " + strings.Join(r.Config.RequiredChecks(), ", ")},
		http.MethodPost, r.repoPath("rulesets"), "repository permission Administration: write", want, nil)
}
