package setup

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// environmentState is the part of "Get an environment" setup compares
// (docs.github.com/rest/deployments/environments#get-an-environment).
type environmentState struct {
	CanAdminsBypass *bool `json:"can_admins_bypass"`
	ProtectionRules []struct {
		Type              string `json:"type"`
		WaitTimer         *int   `json:"wait_timer"`
		PreventSelfReview bool   `json:"prevent_self_review"`
		Reviewers         []struct {
			Type     ReviewerKind `json:"type"`
			Reviewer struct {
				ID    int64  `json:"id"`
				Login string `json:"login"` // users
				Slug  string `json:"slug"`  // teams
			} `json:"reviewer"`
		} `json:"reviewers"`
	} `json:"protection_rules"`
	DeploymentBranchPolicy *branchPolicySetting `json:"deployment_branch_policy"`
}

type branchPolicySetting struct {
	ProtectedBranches    bool `json:"protected_branches"`
	CustomBranchPolicies bool `json:"custom_branch_policies"`
}

// environmentBody is "Create or update an environment"
// (docs.github.com/rest/deployments/environments#create-or-update-an-environment).
// can_admins_bypass is not in that page's parameters, but the endpoint
// takes it (go-github issue #2725) and "Get an environment" returns it;
// check-environment.sh reads it back.
type environmentBody struct {
	WaitTimer              *int                `json:"wait_timer,omitempty"`
	PreventSelfReview      bool                `json:"prevent_self_review"`
	Reviewers              []reviewerID        `json:"reviewers"`
	DeploymentBranchPolicy branchPolicySetting `json:"deployment_branch_policy"`
	CanAdminsBypass        bool                `json:"can_admins_bypass"`
}

// environment makes the stack's environment as check-environment.sh wants
// it: required reviewers, self-review prevented, no administrator bypass,
// deployments from exactly Branch, and the variable AWS_APPLY_ROLE_ARN.
func (r *run) environment(stack string, want []reviewerID) error {
	envPath := r.repoPath("environments", url.PathEscape(stack))
	var cur environmentState
	exists := true
	if err := r.GitHub.call(r.ctx, http.MethodGet, envPath, "repository permission Actions: read", nil, &cur); err != nil {
		if !IsNotFound(err) {
			return err
		}
		exists = false
	}
	var have []reviewerID
	selfReview := false
	var waitTimer *int
	for _, p := range cur.ProtectionRules {
		switch p.Type {
		case "required_reviewers":
			selfReview = p.PreventSelfReview
			for _, v := range p.Reviewers {
				name := v.Reviewer.Login
				if v.Type == Team {
					name = "@" + r.owner + "/" + v.Reviewer.Slug
				}
				have = append(have, reviewerID{Type: v.Type, ID: v.Reviewer.ID, Name: name})
			}
		case "wait_timer":
			waitTimer = p.WaitTimer
		}
	}
	if len(want) == 0 {
		if len(have) == 0 {
			return fmt.Errorf("-reviewers: empty, and environment %s has no required reviewers: name at least one person or team other than whoever merges, e.g. -reviewers @%s/platform-admins", stack, r.owner)
		}
		want = have // keep the reviewers someone already chose
	}
	body := environmentBody{
		WaitTimer:              waitTimer,
		PreventSelfReview:      true,
		Reviewers:              want,
		DeploymentBranchPolicy: branchPolicySetting{ProtectedBranches: false, CustomBranchPolicies: true},
		CanAdminsBypass:        false,
	}
	var diffs []string
	if !sameReviewers(have, want) {
		diffs = append(diffs, "reviewers "+reviewersString(have)+" → "+reviewersString(want))
	}
	if !selfReview {
		diffs = append(diffs, "prevent self-review")
	}
	if cur.CanAdminsBypass == nil || *cur.CanAdminsBypass {
		diffs = append(diffs, "can_admins_bypass → false")
	}
	if p := cur.DeploymentBranchPolicy; p == nil || p.ProtectedBranches || !p.CustomBranchPolicies {
		diffs = append(diffs, "deployment branches → selected branches")
	}
	if len(diffs) > 0 {
		op := "update"
		if !exists {
			op = "create"
		}
		var got environmentState
		err := r.write(Change{Op: op, What: "environment " + stack, Detail: strings.Join(diffs, ", ")},
			http.MethodPut, envPath, "repository permission Administration: write", body, &got)
		if err != nil {
			return r.environmentError(stack, err)
		}
		if !r.DryRun && !hasReviewers(got) {
			return r.environmentError(stack, fmt.Errorf("PUT %s: the environment came back without required reviewers", envPath))
		}
	}
	if err := r.branchPolicies(stack, envPath, exists); err != nil {
		return err
	}
	// The environment's own AWS_APPLY_ROLE_ARN: the apply job (which runs in
	// the environment) reads it before the repository's.
	// docs.github.com/rest/actions/variables: "Create an environment variable".
	return r.variable("environment "+stack+" variable", envPath+"/variables", "repository permission Environments", "AWS_APPLY_ROLE_ARN", r.Config.ApplyRoleArn)
}

func hasReviewers(e environmentState) bool {
	for _, p := range e.ProtectionRules {
		if p.Type == "required_reviewers" && len(p.Reviewers) > 0 {
			return true
		}
	}
	return false
}

// environmentError says what to do when GitHub refuses the reviewers: on a
// private or internal repository they need GitHub Enterprise; GitHub answers
// 422 "Failed to create the environment protection rule. Please ensure the
// billing plan supports the required reviewers protection rule."
// (docs.github.com, "Managing environments for deployment").
func (r *run) environmentError(stack string, err error) error {
	if statusOf(err) == http.StatusUnprocessableEntity || statusOf(err) == 0 {
		if r.repo.Private || r.repo.Visibility == "internal" || strings.Contains(err.Error(), "billing plan") {
			return fmt.Errorf("environment %s: GitHub refused the required reviewers (%v): on a private or internal repository they need GitHub Enterprise; make the repository public, or move it to an organisation on GitHub Enterprise Cloud; without reviewers the preflight refuses to deploy", stack, err)
		}
	}
	return err
}

func sameReviewers(a, b []reviewerID) bool {
	key := func(v reviewerID) string { return fmt.Sprintf("%s/%d", v.Type, v.ID) }
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i, v := range a {
		ka[i] = key(v)
	}
	for i, v := range b {
		kb[i] = key(v)
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}

func reviewersString(v []reviewerID) string {
	if len(v) == 0 {
		return "none"
	}
	var s []string
	for _, x := range v {
		if x.Name != "" {
			s = append(s, x.Name)
		} else {
			s = append(s, fmt.Sprintf("%s %d", x.Type, x.ID))
		}
	}
	return strings.Join(s, ", ")
}

// branchPolicies leaves exactly one deployment-branch policy: the branch
// Branch (check-environment.sh refuses a second rule or a tag rule).
func (r *run) branchPolicies(stack, envPath string, exists bool) error {
	// docs.github.com/rest/deployments/branch-policies: "List deployment
	// branch policies", "Create a deployment branch policy", "Delete a
	// deployment branch policy".
	base := envPath + "/deployment-branch-policies"
	var cur struct {
		BranchPolicies []struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"branch_policies"`
	}
	if exists || !r.DryRun {
		if err := r.GitHub.call(r.ctx, http.MethodGet, base+"?per_page=100", "repository permission Actions: read", nil, &cur); err != nil && !IsNotFound(err) {
			return err
		}
	}
	found := false
	for _, p := range cur.BranchPolicies {
		typ := p.Type
		if typ == "" {
			typ = "branch"
		}
		if typ == "branch" && p.Name == Branch && !found {
			found = true
			continue
		}
		if err := r.write(Change{Op: "delete", What: "environment " + stack + " deployment branch policy " + typ + ":" + p.Name},
			http.MethodDelete, fmt.Sprintf("%s/%d", base, p.ID), "repository permission Administration: write", nil, nil); err != nil {
			return err
		}
	}
	if found {
		return nil
	}
	return r.write(Change{Op: "create", What: "environment " + stack + " deployment branch policy branch:" + Branch},
		http.MethodPost, base, "repository permission Administration: write", map[string]string{"name": Branch, "type": "branch"}, nil)
}
