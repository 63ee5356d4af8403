package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aiplatform/infra/tests/mocks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// Issue 18, items 3-9: the GitHub guards around the approval, checked by the
// preflight scripts against recorded GitHub API responses
// (tests/testdata/github, in the shapes GitHub documents; see its README),
// and the workflows' first-run behaviour.

const wfGuardsAPI = "https://api.example.test/repos/acme/infra"

// wfGuardsFakeCurlScript answers from responses/<METHOD URL, every other
// character as _>; a <key>.status file makes it an HTTP error, as curl
// --fail-with-body reports one: the body on stdout, exit 22. Unknown URLs
// get GitHub's 404 body.
const wfGuardsFakeCurlScript = `dir=$(cd "$(dirname "$0")" && pwd)
echo "$*" >> "$dir/curl.args"
method=GET; url=""
while [ $# -gt 0 ]; do
	case $1 in
	--request) method=$2; shift ;;
	--header | --data-binary) shift ;;
	http*) url=$1 ;;
	esac
	shift
done
key=$(printf '%s %s' "$method" "$url" | tr -c 'A-Za-z0-9' '_')
if [ -f "$dir/responses/$key" ]; then
	cat "$dir/responses/$key"
	if [ -f "$dir/responses/$key.status" ]; then
		echo "curl: (22) The requested URL returned error: $(cat "$dir/responses/$key.status")" >&2
		exit 22
	fi
	exit 0
fi
echo '{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}'
echo "curl: (22) The requested URL returned error: 404" >&2
exit 22
`

// wfGuardsFakeCurl serves recorded responses: request ("GET <url>") -> the
// file under testdata/github (its .status file, if any, goes along).
func wfGuardsFakeCurl(t *testing.T, responses map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	wfFake(t, dir, "curl", wfGuardsFakeCurlScript, nil)
	require.NoError(t, os.Mkdir(filepath.Join(dir, "responses"), 0o755))
	notAlnum := regexp.MustCompile(`[^A-Za-z0-9]`)
	for req, file := range responses {
		key := filepath.Join(dir, "responses", notAlnum.ReplaceAllString(req, "_"))
		body, err := os.ReadFile(filepath.Join("testdata", "github", file))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(key, body, 0o644))
		if status, err := os.ReadFile(filepath.Join("testdata", "github", file+".status")); err == nil {
			require.NoError(t, os.WriteFile(key+".status", status, 0o644))
		}
	}
	return dir
}

// wfGuardsResponses is a fully protected repository, with overrides.
func wfGuardsResponses(overrides map[string]string) map[string]string {
	r := map[string]string{
		"GET " + wfGuardsAPI + "/environments/dev":                                         "environment-protected.json",
		"GET " + wfGuardsAPI + "/environments/dev/deployment-branch-policies?per_page=100": "deployment-branch-policies-main.json",
		"GET " + wfGuardsAPI + "/rules/branches/main?per_page=100":                         "rules-complete.json",
		"GET " + wfGuardsAPI + "/branches/main/protection":                                 "protection-forbidden.json",
		"GET " + wfGuardsAPI + "/codeowners/errors?ref=main":                               "codeowners-errors-none.json",
	}
	for k, v := range overrides {
		if v == "" {
			delete(r, k)
		} else {
			r[k] = v
		}
	}
	return r
}

// Items 3, 4 and 5: check-environment.sh refuses every way around the
// approval, against recorded responses; the committed .github/CODEOWNERS
// (REPO_ROOT=..) owns what it must.
func TestWorkflowGuardsCheckEnvironment(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq")
	const (
		env      = "GET " + wfGuardsAPI + "/environments/dev"
		policies = "GET " + wfGuardsAPI + "/environments/dev/deployment-branch-policies?per_page=100"
		rules    = "GET " + wfGuardsAPI + "/rules/branches/main?per_page=100"
		prot     = "GET " + wfGuardsAPI + "/branches/main/protection"
		errs     = "GET " + wfGuardsAPI + "/codeowners/errors?ref=main"
	)
	cases := []struct {
		name       string
		overrides  map[string]string
		codeowners string // "" = the repository's own
		code       int
		want       []string
		wantNot    []string
	}{
		{"protected by a ruleset", nil, "", 0, []string{"no administrator bypass, deployments from main only", "code owners in .github/CODEOWNERS"}, nil},
		{"protected by classic branch protection", map[string]string{rules: "rules-checks-only.json", prot: "protection-complete.json"}, "", 0, []string{"needs a reviewed pull request"}, nil},
		// Item 3: GitHub's default lets administrators skip the reviewers.
		{"administrators bypass", map[string]string{env: "environment-admins-bypass.json"}, "", 3, []string{"administrators can bypass the required reviewers", "1 problems"}, nil},
		{"bypass field absent means true", map[string]string{env: "environment-no-bypass-field.json"}, "", 3, []string{"can_admins_bypass is not false"}, nil},
		// Item 5: only a custom policy allowing exactly main.
		{"protected branches only", map[string]string{env: "environment-protected-branches.json", policies: ""}, "", 3, []string{`"Protected branches only"`, "Selected branches and tags"}, nil},
		{"main and release branches", map[string]string{policies: "deployment-branch-policies-main-and-release.json"}, "", 3, []string{"allow [branch:main branch:release/*]"}, nil},
		{"a tag named main", map[string]string{policies: "deployment-branch-policies-main-tag.json"}, "", 3, []string{"allow [tag:main]"}, nil},
		{"missing", map[string]string{env: ""}, "", 3, []string{"environment dev does not exist", "without reviewers"}, nil},
		{"unprotected", map[string]string{env: "environment-unprotected.json"}, "", 3, []string{
			"no required reviewers", "self-review is allowed", "administrators can bypass", "any branch may deploy", "4 problems"}, nil},
		// Item 4: the rules on main.
		{"no rules at all", map[string]string{rules: "rules-none.json", prot: "protection-not-protected.json"}, "", 3, []string{
			"main accepts changes without an approving review", "approvals survive new pushes", "most recent push", "code owners need not review", "4 problems"},
			[]string{"not readable"}},
		{"only the required checks, protection unreadable", map[string]string{rules: "rules-checks-only.json"}, "", 3, []string{
			"without an approving review", "classic branch protection is not readable with this token"}, nil},
		{"one approval, nothing else", map[string]string{rules: "rules-one-approval.json", prot: "protection-not-protected.json"}, "", 3, []string{
			"approvals survive new pushes", "most recent push", "code owners need not review", "3 problems"}, []string{"without an approving review"}},
		{"classic protection administrators exempt", map[string]string{rules: "rules-checks-only.json", prot: "protection-admins-exempt.json"}, "", 3, []string{
			"administrators bypass the branch protection of main", "1 problems"}, nil},
		{"CODEOWNERS with an unknown owner", map[string]string{errs: "codeowners-errors-unknown-owner.json"}, "", 3, []string{"line 11: Unknown owner on line 11"}, nil},
		{"CODEOWNERS missing the stacks", nil, "/.github/ @acme/platform\n/.ci/ @acme/platform\n", 3, []string{
			"gives no owner to: stacks/run.go stacks/bootstrap/Pulumi.yaml Pulumi.yaml Pulumi.dev.yaml"}, []string{".github/workflows/deploy.yml", ".ci/run"}},
		// The last matching line wins: a later line without owners un-owns.
		{"CODEOWNERS un-owned by a later line", nil, "* @acme/platform\n/.github/scripts/\n", 3, []string{"gives no owner to: .github/scripts/pulumi-apply.sh"}, nil},
		{"CODEOWNERS owning everything", nil, "# everyone\n*   @acme/platform   # the whole tree\n", 0, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root, err := filepath.Abs("..")
			require.NoError(t, err)
			if c.codeowners != "" {
				root = t.TempDir()
				require.NoError(t, os.MkdirAll(filepath.Join(root, ".github"), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(root, ".github", "CODEOWNERS"), []byte(c.codeowners), 0o644))
			}
			fakes := wfGuardsFakeCurl(t, wfGuardsResponses(c.overrides))
			log, code := wfRunScript(t, map[string]string{"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "acme/infra", "ENVIRONMENT": "dev",
				"GITHUB_API_URL": "https://api.example.test", "REPO_ROOT": root}, fakes, "check-environment.sh")
			require.Equal(t, c.code, code, log)
			for _, w := range c.want {
				assert.Contains(t, log, w)
			}
			for _, w := range c.wantNot {
				assert.NotContains(t, log, w)
			}
		})
	}
}

// Item 4: the committed CODEOWNERS owns every tree the issue names, each with
// an owner, and its patterns are the ones documented.
func TestWorkflowGuardsCodeownersFile(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", ".github", "CODEOWNERS"))
	require.NoError(t, err)
	owned := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 && !strings.HasPrefix(fields[0], "#") {
			owned[fields[0]] = true
		}
	}
	for _, pattern := range []string{"/.github/", "/stacks/", "Pulumi*.yaml", "/.ci/"} {
		assert.True(t, owned[pattern], "CODEOWNERS must own %s", pattern)
	}
}

// Items 8 and 9: runner label sets, the GitHub-hosted deploy runner, and
// "setup not finished".
func TestWorkflowGuardsCheckCISettings(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash")
	setup := map[string]string{"PULUMI_BACKEND_URL": "s3://b?region=us-west-2&awssdk=v2", "AWS_REGION": "us-west-2",
		"AWS_PREVIEW_ROLE_ARN": "arn:aws:iam::123456789012:role/preview", "AWS_APPLY_ROLE_ARN": "arn:aws:iam::123456789012:role/apply",
		"PULUMI_DEPLOY_RUNNER": "aiplatform-deploy"}
	cases := []struct {
		name  string
		env   map[string]string // overrides; "" unsets
		code  int
		ready string
		want  []string
	}{
		{"separate pools", nil, 0, "true", []string{"PR runner ubuntu-latest, deploy runner aiplatform-deploy"}},
		{"separate self-hosted pools", map[string]string{"PULUMI_PR_RUNNER": "aiplatform-pr"}, 0, "true", []string{"PR runner aiplatform-pr"}},
		// Item 8: the default runner cannot reach the private endpoint.
		{"deploy runner unset", map[string]string{"PULUMI_DEPLOY_RUNNER": ""}, 2, "", []string{"half done: PULUMI_DEPLOY_RUNNER"}},
		{"deploy runner GitHub-hosted", map[string]string{"PULUMI_DEPLOY_RUNNER": "ubuntu-latest"}, 2, "", []string{"is GitHub-hosted", "private API endpoint"}},
		{"deploy runner GitHub-hosted, other case", map[string]string{"PULUMI_DEPLOY_RUNNER": "Ubuntu-24.04"}, 2, "", []string{"is GitHub-hosted"}},
		// Item 8: every self-hosted runner carries self-hosted.
		{"PR jobs on any self-hosted runner", map[string]string{"PULUMI_PR_RUNNER": "self-hosted"}, 2, "", []string{"PULUMI_PR_RUNNER=self-hosted is a label every self-hosted runner carries", "could run on a deploy runner"}},
		{"deploy jobs on any Linux runner", map[string]string{"PULUMI_PR_RUNNER": "aiplatform-pr", "PULUMI_DEPLOY_RUNNER": "Linux"}, 2, "", []string{"PULUMI_DEPLOY_RUNNER=Linux is a label every self-hosted runner carries"}},
		{"same pool", map[string]string{"PULUMI_PR_RUNNER": "aiplatform-vpc", "PULUMI_DEPLOY_RUNNER": "aiplatform-vpc"}, 2, "", []string{"would share runners"}},
		{"same pool in another case", map[string]string{"PULUMI_PR_RUNNER": "AIPlatform-VPC", "PULUMI_DEPLOY_RUNNER": "aiplatform-vpc"}, 2, "", []string{"would share runners", "case-insensitively"}},
		{"a list is not one label", map[string]string{"PULUMI_DEPLOY_RUNNER": "self-hosted,aiplatform-deploy"}, 2, "", []string{"is not one runner label"}},
		// Item 9: nothing set yet -> one notice, ready=false, success.
		{"setup not finished", map[string]string{"PULUMI_BACKEND_URL": "", "AWS_REGION": "", "AWS_PREVIEW_ROLE_ARN": "", "AWS_APPLY_ROLE_ARN": "", "PULUMI_DEPLOY_RUNNER": ""}, 0, "false",
			[]string{"::notice title=setup not finished::none of the repository variables"}},
		{"half done", map[string]string{"AWS_PREVIEW_ROLE_ARN": "", "AWS_APPLY_ROLE_ARN": ""}, 2, "", []string{"the setup is half done: AWS_PREVIEW_ROLE_ARN AWS_APPLY_ROLE_ARN not set"}},
		{"no DIY backend", map[string]string{"PULUMI_BACKEND_URL": "https://api.pulumi.com"}, 2, "", []string{"is not a DIY backend"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "github-output")
			env := map[string]string{"GITHUB_OUTPUT": out, "GITHUB_ACTIONS": "true"}
			for k, v := range setup {
				env[k] = v
			}
			for k, v := range c.env {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			log, code := wfRunScript(t, env, "", "check-ci-settings.sh")
			require.Equal(t, c.code, code, log)
			for _, w := range c.want {
				assert.Contains(t, log, w)
			}
			if c.ready == "" {
				assert.NotContains(t, wfReadFile(t, out), "ready=true", "a refused setting is never ready")
			} else {
				assert.Equal(t, "ready="+c.ready+"\n", wfReadFile(t, out))
			}
			assert.LessOrEqual(t, strings.Count(log, "setup not finished"), 1, "said once")
		})
	}
}

// Item 9: before the setup is finished the nightly report opens no issue.
func TestWorkflowGuardsDriftIssueSetupNotFinished(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash")
	dir := t.TempDir()
	wfFake(t, dir, "gh", wfFakeGHScript, map[string]string{"issues.json": `[]`})
	log, code := wfRunScript(t, map[string]string{"GH_TOKEN": "t", "GITHUB_REPOSITORY": "acme/infra", "STACK": "dev", "RESULT": "unconfigured"}, dir, "drift-issue.sh")
	require.Equal(t, 0, code, log)
	assert.Equal(t, 1, strings.Count(log, "setup not finished"), log)
	assert.Empty(t, wfReadFile(t, filepath.Join(dir, "gh.args")), "no issue listed, opened or commented on")
}

// wfGuardsProblems checks the workflows for items 7 and 9: the comment job is
// gated for forks like preview; before the setup is finished the deploy and
// the drift check stop after the settings check (ready=false) and the drift
// report opens no issue.
func wfGuardsProblems(files map[string]string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	parse := func(name string) ghWorkflow {
		var wf ghWorkflow
		if err := yaml.Unmarshal([]byte(files[name]), &wf); err != nil {
			bad("%s: does not parse: %v", name, err)
		}
		return wf
	}
	const fork = "github.event.pull_request.head.repo.full_name == github.repository"
	pr, stack, drift := parse(wfPullRequest), parse(wfStack), parse(wfDrift)
	for _, name := range []string{"preview", "comment"} {
		if !strings.Contains(pr.Jobs[name].If, fork) {
			bad("%s: %s must not run for pull requests from forks (%s)", wfPullRequest, name, fork)
		}
	}

	settingsReady := func(wf string, workflow ghWorkflow, job ghJob, output string) {
		i := job.runsScript(wfCISettings)
		if i < 0 {
			bad("%s: the job must run %s", wf, wfCISettings)
			return
		}
		st := job.Steps[i]
		if st.ID == "" || job.Outputs[output] != "${{ steps."+st.ID+".outputs.ready }}" {
			bad("%s: the job's %s output must be %s's ready output", wf, output, wfCISettings)
		}
		for _, v := range []string{"PULUMI_BACKEND_URL", "AWS_REGION", "AWS_PREVIEW_ROLE_ARN", "AWS_APPLY_ROLE_ARN", "PULUMI_PR_RUNNER", "PULUMI_DEPLOY_RUNNER"} {
			if st.Env[v] != "${{ vars."+v+" }}" && workflow.Env[v] != "${{ vars."+v+" }}" {
				bad("%s: %s needs %s from the repository variable", wf, wfCISettings, v)
			}
		}
		for j, later := range job.Steps[i+1:] {
			if !strings.Contains(later.If, "steps."+st.ID+".outputs.ready == 'true'") {
				bad("%s: step %d after the settings check must run only when it is ready", wf, i+1+j)
			}
		}
	}
	preflight := stack.Jobs["preflight"]
	settingsReady(wfStack, stack, preflight, "ready")
	if !strings.Contains(stack.Jobs["preview"].If, "needs.preflight.outputs.ready == 'true'") {
		bad("%s: preview must wait for a finished setup (needs.preflight.outputs.ready == 'true')", wfStack)
	}
	gate, check, report := drift.Jobs["gate"], drift.Jobs["drift"], drift.Jobs["report"]
	settingsReady(wfDrift, drift, gate, "ready")
	if !strings.Contains(check.If, "needs.gate.outputs.ready == 'true'") {
		bad("%s: the drift job must wait for a finished setup (needs.gate.outputs.ready == 'true')", wfDrift)
	}
	if i := report.runsScript(wfDriftIssue); i < 0 || report.Steps[i].Env["READY"] != "${{ needs.gate.outputs.ready }}" ||
		!strings.Contains(report.Steps[i].Run, `"$READY" = false ]; then result=unconfigured`) {
		bad("%s: the report must pass RESULT=unconfigured when the setup is not finished (READY from the gate)", wfDrift)
	}
	return problems
}

func TestWorkflowGuardsPassPolicy(t *testing.T) {
	t.Parallel()
	problems := wfGuardsProblems(wfRead(t))
	assert.Empty(t, problems, strings.Join(problems, "\n"))
}

func TestWorkflowGuardsPolicyCatchesRegressions(t *testing.T) {
	t.Parallel()
	files := wfRead(t)
	cases := []struct {
		name, file, old, new, want string
	}{
		// Item 7: a fork's read-only token cannot post the comment.
		{"comment for forks", wfPullRequest, "if: ${{ !cancelled() && github.event.pull_request.head.repo.full_name == github.repository && ", "if: ${{ !cancelled() && ", "comment must not run for pull requests from forks"},
		// Item 9.
		{"preview before setup", wfStack, "    if: needs.preflight.outputs.ready == 'true'\n", "", "preview must wait for a finished setup"},
		{"environment check before setup", wfStack, "        if: steps.settings.outputs.ready == 'true'\n        env:\n          GITHUB_TOKEN", "        env:\n          GITHUB_TOKEN", "must run only when it is ready"},
		{"no ready output", wfStack, "      ready: ${{ steps.settings.outputs.ready }}\n    steps:\n      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1\n        with:\n          persist-credentials: false\n      - name: Check the CI settings", "      other: x\n    steps:\n      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1\n        with:\n          persist-credentials: false\n      - name: Check the CI settings", "ready output"},
		{"apply role not checked", wfStack, "          AWS_APPLY_ROLE_ARN: ${{ vars.AWS_APPLY_ROLE_ARN }}\n          PULUMI_PR_RUNNER", "          PULUMI_PR_RUNNER", "needs AWS_APPLY_ROLE_ARN"},
		{"drift before setup", wfDrift, "needs.gate.outputs.ready == 'true' && ", "", "drift job must wait for a finished setup"},
		{"drift busy check before setup", wfDrift, "        if: steps.settings.outputs.ready == 'true'\n        env:\n          GITHUB_TOKEN", "        env:\n          GITHUB_TOKEN", "must run only when it is ready"},
		{"error issue before setup", wfDrift, "          if [ \"$READY\" = false ]; then result=unconfigured\n          elif", "          if", "RESULT=unconfigured"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			require.Contains(t, files[c.file], c.old, "the regression's anchor must exist")
			mutated := map[string]string{}
			for k, v := range files {
				mutated[k] = v
			}
			mutated[c.file] = strings.Replace(files[c.file], c.old, c.new, 1)
			problems := wfGuardsProblems(mutated)
			assert.Contains(t, strings.Join(problems, "\n"), c.want)
		})
	}
}

// Item 9: docs/pipeline-guards.md names the GPU quotas a new account needs
// (codes from the Service Quotas console; AWS EC2 User Guide, "On-Demand
// Instance quotas" and "Spot Instance quotas") and the vCPUs the committed dev
// stack's GPU group needs at its maxSize: a g5/g6 .xlarge has 4 vCPUs (AWS,
// "Accelerated computing instance specifications").
func TestWorkflowGuardsDocGPUQuota(t *testing.T) {
	t.Parallel()
	doc := wfReadFile(t, filepath.Join("..", "docs", "pipeline-guards.md"))
	assert.Contains(t, doc, "| On-Demand | Running On-Demand G and VT instances | `L-DB2E81BA` |")
	assert.Contains(t, doc, "| Spot | All G and VT Spot Instance Requests | `L-3819A6DF` |")

	cfg, _, err := mocks.StackConfig("..", "dev")
	require.NoError(t, err)
	var groups []struct {
		Kind          string   `json:"kind"`
		CapacityType  string   `json:"capacityType"`
		InstanceTypes []string `json:"instanceTypes"`
		MaxSize       int      `json:"maxSize"`
	}
	require.NoError(t, json.Unmarshal([]byte(cfg["aiplatform:nodeGroups"]), &groups))
	vcpus := 0
	for _, g := range groups {
		if g.Kind != "gpu" {
			continue
		}
		require.Equal(t, "ON_DEMAND", g.CapacityType, "the doc prices the dev GPU group as On-Demand")
		for _, it := range g.InstanceTypes {
			require.Regexp(t, `^g[56]\.xlarge$`, it, "the doc assumes 4-vCPU GPU instances")
		}
		vcpus += 4 * g.MaxSize
	}
	require.Positive(t, vcpus)
	assert.Contains(t, doc, fmt.Sprintf("needs **%d** vCPUs of `L-DB2E81BA`", vcpus))
	assert.Contains(t, doc, fmt.Sprintf("--quota-code L-DB2E81BA --desired-value %d", vcpus))
}
