package setup

import (
	"fmt"
	"net/http"
	"strings"
)

// Item is a manual action left after setup: its ID, what, and the exact
// command or page.
type Item struct {
	ID   ItemID
	What string
	How  string
}

// ItemID names a checklist item. It is stable: setup prints it with the
// item, docs/setup.md lists it, and a preflight script that finds the item
// not done names it (ItemSpec.NotDone), so renaming one changes all three
// (tests/setup_checklist_test.go reads the IDs from here).
type ItemID string

const (
	CodeownersTeam     ItemID = "codeowners-team"
	GPUQuotaRaise      ItemID = "gpu-quota"
	RunnerPools        ItemID = "runner-pools"
	RunnerConnection   ItemID = "runner-connection"
	StackConfig        ItemID = "stack-config"
	StackSecrets       ItemID = "stack-secrets"
	StackFileCommitted ItemID = "stack-file-committed"
	SecondApprover     ItemID = "second-approver"
	DeployReview       ItemID = "deploy-review"
)

// ItemSpec is one kind of checklist item: its ID, its title (the What setup
// prints, before any details), and how setup fills it in for a run.
type ItemSpec struct {
	ID    ItemID
	Title string
	// needed says whether this run lists the item (nil: always).
	needed func(r *run) bool
	// details, if any, follow the title in parentheses.
	details func(r *run) string
	// how is the exact command or page.
	how func(r *run) string
}

// NotDone is how a preflight script begins its error when it finds the item
// not done, e.g. `setup checklist item "runner-pools" (Register the two
// runner pools) is not done`.
func (s ItemSpec) NotDone() string {
	return fmt.Sprintf("setup checklist item %q (%s) is not done", s.ID, s.Title)
}

// ItemSpecs is every item the checklist can hold, in the order a new user
// does them. The count of these plus the logins and the setup command
// itself is what docs/setup.md promises (at most 12 manual actions, issue 22).
//
// Where the thing an item makes true can be seen from a pipeline job, a
// preflight script checks it and names the item: codeowners-team
// (check-environment.sh: no CODEOWNERS file, or GitHub reports errors in
// it), runner-pools (check-ci-settings.sh: the pools' labels do not keep
// pull-request code off the deploy runners; whether runners are registered
// at all needs Administration: read, which the job token cannot have, and a
// job without a runner waits for one), stack-config (pulumi-preflight.sh:
// adminRoleArns still in AWS's documentation account while the cluster's
// creator is in yours) and stack-file-committed (pulumi-preflight.sh: no
// secretsprovider:/encryptedkey: lines). A missing secret value
// (stack-secrets) is refused by the program's config validation, naming
// the key, in the pull request's preview. The two approvals
// (second-approver, deploy-review) are a person's decision that nothing can
// check before it happens: GitHub itself enforces them, through the rules
// on main and the environment's required reviewers that setup configures
// and check-environment.sh verifies.
var ItemSpecs = []ItemSpec{
	{
		ID:     CodeownersTeam,
		Title:  "Give CODEOWNERS a team that exists",
		needed: func(r *run) bool { return len(r.codeownersErrors) > 0 },
		details: func(r *run) string {
			return strings.Join(r.codeownersErrors, "; ")
		},
		how: func(r *run) string {
			return "replace @aiplatform/platform-admins in .github/CODEOWNERS with a team of " + r.owner + " that has write access, in a pull request: " + r.htmlURL() + "/edit/" + Branch + "/.github/CODEOWNERS"
		},
	},
	{
		// AWS answers a quota request in hours to days, so it comes early.
		ID:     GPUQuotaRaise,
		Title:  "Have AWS raise the GPU instance quota",
		needed: func(r *run) bool { return len(r.gpuShortfalls) > 0 },
		details: func(r *run) string {
			var out []string
			for _, s := range r.gpuShortfalls {
				out = append(out, s.String())
			}
			return strings.Join(out, "; ")
		},
		how: func(r *run) string {
			var out []string
			for _, s := range r.gpuShortfalls {
				out = append(out, s.request())
			}
			return strings.Join(out, " && ") + " (without it the GPU node group cannot launch an instance and Triton stays Pending: docs/pipeline-guards.md#gpu-instance-quota-new-accounts)"
		},
	},
	{
		ID:     RunnerPools,
		Title:  "Register the two runner pools",
		needed: func(r *run) bool { return r.Config.Runners == "" },
		how: func(r *run) string {
			repo := r.htmlURL()
			return fmt.Sprintf("ephemeral, self-hosted, in separate runner groups: %s/settings/actions/runners/new, once with the label %s (deploys) and once with %s (pull requests): ./config.sh --url %s --ephemeral --labels <label> (docs/pipeline.md#runners)",
				repo, r.Config.DeployRunner, r.Config.PRRunner, repo)
		},
	},
	{
		// With -runners codebuild: the pools exist, but CodeBuild cannot
		// register a runner until the connection's GitHub App is installed,
		// which only a person can do (CodeConnections: "Update a pending
		// connection").
		ID:      RunnerConnection,
		Title:   "Connect the CodeBuild runners to GitHub",
		needed:  func(r *run) bool { return r.Config.Runners != "" && r.connection != "AVAILABLE" },
		details: func(r *run) string { return "connection status: " + r.connection },
		how: func(r *run) string {
			conn := "the connection aiplatform-ci-github"
			if r.runners != nil && r.runners.ConnectionArn != "" {
				conn = "the connection " + r.runners.ConnectionArn
			}
			return fmt.Sprintf("https://console.aws.amazon.com/codesuite/settings/connections?region=%s: %s → Update pending connection → install (or choose) the AWS Connector for GitHub app on %s with access to %s; it is then AVAILABLE (docs/pipeline.md#codebuild-hosted-runners)",
				r.Config.Region, conn, r.owner, r.Config.Repository)
		},
	},
	{
		ID:    StackConfig,
		Title: "Edit each stack's config for your account",
		how: func(r *run) string {
			if r.Config.Runners != "" {
				return "in Pulumi.<stack>.yaml: adminRoleArns (your administrators' role); setup has set endpointAccess: public-and-private with the runners' address in publicAccessCidrs (docs/configure.md)"
			}
			return "in Pulumi.<stack>.yaml: adminRoleArns (your administrators' role), and for the first deploy endpointAccess: public-and-private with publicAccessCidrs: [<the runners' NAT address>/32] (docs/configure.md)"
		},
	},
	{
		ID:    StackSecrets,
		Title: "Set the stacks' secret values, if you use them",
		how: func(*run) string {
			return "pulumi config set --secret --stack <stack> aiplatform:<key> (argocdNotificationsToken, dockerHubToken, alertingSlackWebhookUrl, …: docs/configure.md)"
		},
	},
	{
		ID:    StackFileCommitted,
		Title: "Commit Pulumi.<stack>.yaml in a pull request",
		how: func(*run) string {
			return "git switch -c setup && git add Pulumi.*.yaml && git commit -m 'stacks: account config' && git push -u origin setup && gh pr create --fill (the secretsprovider: and encryptedkey: lines included)"
		},
	},
	{
		ID:    SecondApprover,
		Title: "A second person approves the pull request",
		how: func(r *run) string {
			return "a code owner other than its pusher, at " + r.htmlURL() + "/pulls; then you merge it"
		},
	},
	{
		ID:    DeployReview,
		Title: "A reviewer approves the deploy",
		how: func(r *run) string {
			return "someone of the environment's reviewers other than whoever merged: " + r.htmlURL() + "/actions/workflows/deploy.yml → the run → Review deployments"
		},
	},
}

// Spec is the spec of the item with this ID; ok is false for an unknown ID.
func Spec(id ItemID) (ItemSpec, bool) {
	for _, s := range ItemSpecs {
		if s.ID == id {
			return s, true
		}
	}
	return ItemSpec{}, false
}

// codeowners reads GitHub's errors in the CODEOWNERS file on Branch: an
// owner GitHub does not know (the committed @aiplatform/platform-admins in a
// fork) owns nothing, and code-owner review would then require nobody.
// Setup cannot fix the file (it is code, changed by a reviewed pull
// request), so a problem becomes a checklist item.
func (r *run) codeowners() error {
	// GET /repos/{owner}/{repo}/codeowners/errors: docs.github.com/rest/repos/repos#list-codeowners-errors
	var got struct {
		Errors []struct {
			Line    int    `json:"line"`
			Kind    string `json:"kind"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	err := r.GitHub.call(r.ctx, http.MethodGet, r.repoPath("codeowners", "errors")+"?ref="+Branch, "repository permission Metadata: read", nil, &got)
	if err != nil {
		if IsNotFound(err) {
			r.codeownersErrors = []string{"no CODEOWNERS file on " + Branch}
			return nil
		}
		return err
	}
	for _, e := range got.Errors {
		m := e.Kind
		if first, _, _ := strings.Cut(e.Message, "\n"); first != "" {
			m = first
		}
		r.codeownersErrors = append(r.codeownersErrors, fmt.Sprintf("line %d: %s", e.Line, m))
	}
	return nil
}

// checklist is what setup cannot do, in the order a new user does it: the
// items of ItemSpecs this run needs.
func checklist(r *run) []Item {
	var items []Item
	for _, s := range ItemSpecs {
		if s.needed != nil && !s.needed(r) {
			continue
		}
		what := s.Title
		if s.details != nil {
			if d := s.details(r); d != "" {
				what += " (" + d + ")"
			}
		}
		items = append(items, Item{ID: s.ID, What: what, How: s.how(r)})
	}
	return items
}
