package setup

import (
	"fmt"
	"net/http"
	"strings"
)

// Item is a manual action left after setup: what, and the exact command or page.
type Item struct {
	What string
	How  string
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

// checklist is what setup cannot do, in the order a new user does it. The
// count of these plus the logins and the setup command itself is what
// docs/setup.md promises (at most 12 manual actions, issue 22).
func checklist(r *run) []Item {
	c := r.Config
	repo := r.htmlURL()
	var items []Item
	if len(r.codeownersErrors) > 0 {
		items = append(items, Item{
			What: "Give CODEOWNERS a team that exists (" + strings.Join(r.codeownersErrors, "; ") + ")",
			How:  "replace @aiplatform/platform-admins in .github/CODEOWNERS with a team of " + r.owner + " that has write access, in a pull request: " + repo + "/edit/" + Branch + "/.github/CODEOWNERS",
		})
	}
	items = append(items,
		Item{
			What: "Register the two runner pools",
			How: fmt.Sprintf("ephemeral, self-hosted, in separate runner groups: %s/settings/actions/runners/new, once with the label %s (deploys) and once with %s (pull requests): ./config.sh --url %s --ephemeral --labels <label> (docs/pipeline.md#runners)",
				repo, c.DeployRunner, c.PRRunner, repo),
		},
		Item{
			What: "Edit each stack's config for your account",
			How:  "in Pulumi.<stack>.yaml: adminRoleArns (your administrators' role), and for the first deploy endpointAccess: public-and-private with publicAccessCidrs: [<the runners' NAT address>/32] (docs/configure.md)",
		},
		Item{
			What: "Set the stacks' secret values, if you use them",
			How:  "pulumi config set --secret --stack <stack> aiplatform:<key> (argocdNotificationsToken, dockerHubToken, alertingSlackWebhookUrl, …: docs/configure.md)",
		},
		Item{
			What: "Commit Pulumi.<stack>.yaml in a pull request",
			How:  "git switch -c setup && git add Pulumi.*.yaml && git commit -m 'stacks: account config' && git push -u origin setup && gh pr create --fill (the secretsprovider: and encryptedkey: lines included)",
		},
		Item{
			What: "A second person approves the pull request",
			How:  "a code owner other than its pusher, at " + repo + "/pulls; then you merge it",
		},
		Item{
			What: "A reviewer approves the deploy",
			How:  "someone of the environment's reviewers other than whoever merged: " + repo + "/actions/workflows/deploy.yml → the run → Review deployments",
		},
	)
	return items
}
