package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// The CI pipeline is policy: these tests read .github/workflows and fail when
// a gate (approval, saved plan, OIDC, pinning, concurrency) goes missing.
// wfProblems is the checker; TestWorkflowPolicyCatchesRegressions proves it
// notices each regression it is meant to catch.

const (
	wfDir            = "../.github/workflows"
	wfPullRequest    = "pull-request.yml"
	wfDeploy         = "deploy.yml"
	wfStack          = "pulumi-stack.yml"
	wfDrift          = "drift.yml"
	wfArgoWaitScript = "../.github/scripts/argocd-wait.sh"
)

type ghWorkflow struct {
	Name        string            `yaml:"name"`
	On          map[string]any    `yaml:"on"`
	Permissions any               `yaml:"permissions"`
	Concurrency any               `yaml:"concurrency"`
	Env         map[string]string `yaml:"env"`
	Jobs        map[string]ghJob  `yaml:"jobs"`
}

type ghJob struct {
	Name           string            `yaml:"name"`
	RunsOn         any               `yaml:"runs-on"`
	Needs          any               `yaml:"needs"`
	If             string            `yaml:"if"`
	TimeoutMinutes int               `yaml:"timeout-minutes"`
	Environment    any               `yaml:"environment"`
	Permissions    any               `yaml:"permissions"`
	Concurrency    any               `yaml:"concurrency"`
	Strategy       ghStrategy        `yaml:"strategy"`
	Outputs        map[string]string `yaml:"outputs"`
	Uses           string            `yaml:"uses"`
	With           map[string]any    `yaml:"with"`
	Steps          []ghStep          `yaml:"steps"`
}

type ghStrategy struct {
	Matrix map[string]any `yaml:"matrix"`
}

type ghStep struct {
	ID    string            `yaml:"id"`
	Name  string            `yaml:"name"`
	If    string            `yaml:"if"`
	Uses  string            `yaml:"uses"`
	Run   string            `yaml:"run"`
	Shell string            `yaml:"shell"`
	With  map[string]any    `yaml:"with"`
	Env   map[string]string `yaml:"env"`
}

// action is the step's action without its ref: "actions/checkout".
func (s ghStep) action() string { return strings.SplitN(s.Uses, "@", 2)[0] }

func (s ghStep) with(key string) string {
	if v, ok := s.With[key]; ok {
		return fmt.Sprint(v)
	}
	return ""
}

func (j ghJob) needs() []string {
	switch n := j.Needs.(type) {
	case string:
		return []string{n}
	case []any:
		var out []string
		for _, x := range n {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

func (j ghJob) permissions() map[string]string { return wfPermissions(j.Permissions) }

// stepIndex returns the index of the first step matching, or -1.
func (j ghJob) stepIndex(match func(ghStep) bool) int {
	for i, s := range j.Steps {
		if match(s) {
			return i
		}
	}
	return -1
}

func (j ghJob) environmentName() string {
	switch e := j.Environment.(type) {
	case string:
		return e
	case map[string]any:
		return fmt.Sprint(e["name"])
	}
	return ""
}

func (j ghJob) matrixStacks() []string {
	var out []string
	if list, ok := j.Strategy.Matrix["stack"].([]any); ok {
		for _, s := range list {
			out = append(out, fmt.Sprint(s))
		}
	}
	return out
}

// wfPermissions normalises a permissions block; nil means "not declared".
func wfPermissions(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	out := map[string]string{}
	for k, x := range m {
		out[k] = fmt.Sprint(x)
	}
	return out
}

type ghConcurrency struct {
	Group            string
	CancelInProgress bool
}

func wfConcurrency(v any) (ghConcurrency, bool) {
	switch c := v.(type) {
	case string:
		return ghConcurrency{Group: c}, true
	case map[string]any:
		cancel, _ := c["cancel-in-progress"].(bool)
		return ghConcurrency{Group: fmt.Sprint(c["group"]), CancelInProgress: cancel}, true
	}
	return ghConcurrency{}, false
}

// wfStackGroup replaces the stack expression of a concurrency group with a
// placeholder so groups of different workflows can be compared.
func wfStackGroup(group string) string {
	return regexp.MustCompile(`\$\{\{\s*(matrix|inputs)\.stack\s*\}\}`).ReplaceAllString(group, "<stack>")
}

var (
	wfUsesLine     = regexp.MustCompile(`^\s*-?\s*uses:\s*(\S+)(.*)$`)
	wfSHA          = regexp.MustCompile(`^[0-9a-f]{40}$`)
	wfVersionNote  = regexp.MustCompile(`^\s*#\s*v\d+\.\d+\.\d+\s*$`)
	wfLongLivedKey = regexp.MustCompile(`(?i)aws_access_key_id|aws_secret_access_key|aws-access-key-id|aws-secret-access-key|aws_session_token`)
	wfSavePlan     = regexp.MustCompile(`--save-plan[ =](\S+)`)
	wfUsePlan      = regexp.MustCompile(`--plan[ =](\S+)`)
	wfGoModPulumi  = regexp.MustCompile(`(?m)^\s*github\.com/pulumi/pulumi/sdk/v3 v(\S+)`)
	wfCron         = regexp.MustCompile(`^(\S+\s+){4}\S+$`)
)

// wfWrites lists the write scopes a job may hold, each with the reason that
// must be visible in the job.
var wfWrites = map[string]func(ghJob) bool{
	// OIDC token for AWS: only jobs that assume a role.
	"id-token": func(j ghJob) bool {
		return j.Uses != "" || j.stepIndex(func(s ghStep) bool { return s.action() == "aws-actions/configure-aws-credentials" }) >= 0
	},
	// PR comment with the preview.
	"pull-requests": func(j ghJob) bool {
		return j.stepIndex(func(s ghStep) bool { return s.action() == "pulumi/actions" && s.with("comment-on-pr") == "true" }) >= 0
	},
	// Commit status with the Argo CD result.
	"statuses": func(j ghJob) bool {
		return j.Uses != "" || j.stepIndex(func(s ghStep) bool { return strings.Contains(s.Run, "/statuses/") }) >= 0
	},
}

func wfRead(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	entries, err := os.ReadDir(wfDir)
	require.NoError(t, err)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yml") || strings.HasSuffix(e.Name(), ".yaml") {
			b, err := os.ReadFile(filepath.Join(wfDir, e.Name()))
			require.NoError(t, err)
			files[e.Name()] = string(b)
		}
	}
	return files
}

func wfGoModPulumiVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../go.mod")
	require.NoError(t, err)
	m := wfGoModPulumi.FindStringSubmatch(string(b))
	require.NotNil(t, m, "pulumi sdk in go.mod")
	return m[1]
}

// wfProblems checks the workflow files against the pipeline's policy and
// returns every violation. pulumiVersion is the SDK version in go.mod.
func wfProblems(files map[string]string, pulumiVersion string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	parsed := map[string]ghWorkflow{}
	for _, name := range []string{wfPullRequest, wfDeploy, wfStack, wfDrift} {
		if _, ok := files[name]; !ok {
			bad("%s: missing", name)
		}
	}
	pins := map[string]string{}
	for name, text := range files {
		var wf ghWorkflow
		if err := yaml.Unmarshal([]byte(text), &wf); err != nil {
			bad("%s: does not parse: %v", name, err)
			continue
		}
		parsed[name] = wf

		// Text-level rules: no long-lived credentials, no secrets at all
		// (OIDC needs none), every remote action pinned to a commit.
		for i, line := range strings.Split(text, "\n") {
			if wfLongLivedKey.MatchString(line) {
				bad("%s:%d: long-lived AWS credentials; use the OIDC role", name, i+1)
			}
			if strings.Contains(line, "secrets.") {
				bad("%s:%d: secrets are not needed with OIDC: %s", name, i+1, strings.TrimSpace(line))
			}
			m := wfUsesLine.FindStringSubmatch(line)
			if m == nil || strings.HasPrefix(m[1], "./") {
				continue
			}
			action, ref, _ := strings.Cut(m[1], "@")
			note := m[2]
			if !wfSHA.MatchString(ref) || !wfVersionNote.MatchString(note) {
				bad("%s:%d: %s must be pinned to a commit SHA with a # vX.Y.Z note, got @%s%s", name, i+1, action, ref, note)
			}
			if prev, ok := pins[action]; ok && prev != ref {
				bad("%s:%d: %s pinned to %s here but %s elsewhere", name, i+1, action, ref, prev)
			}
			pins[action] = ref
		}
		if strings.Contains(text, "uses: ./") && !strings.Contains(text, "uses: ./.github/workflows/") {
			bad("%s: local actions must live under .github/workflows", name)
		}

		if wf.Name == "" {
			bad("%s: no name", name)
		}
		if p := wfPermissions(wf.Permissions); p == nil || len(p) != 0 {
			bad("%s: top-level permissions must be {} (each job asks for its own), got %v", name, wf.Permissions)
		}
		for jobName, job := range wf.Jobs {
			where := name + ": job " + jobName
			perms := job.permissions()
			if perms == nil {
				bad("%s: no explicit permissions", where)
			}
			for scope, level := range perms {
				switch level {
				case "read", "none":
				case "write":
					if needed := wfWrites[scope]; needed == nil || !needed(job) {
						bad("%s: %s: write is not needed", where, scope)
					}
				default:
					bad("%s: %s: unknown level %q", where, scope, level)
				}
			}
			if job.Uses != "" {
				continue // a reusable-workflow call; its jobs are checked in their file
			}
			if job.TimeoutMinutes <= 0 {
				bad("%s: no timeout-minutes", where)
			}
			usesPulumi := false
			for _, s := range job.Steps {
				switch s.action() {
				case "aws-actions/configure-aws-credentials":
					if !strings.Contains(s.with("role-to-assume"), "vars.") || s.with("aws-region") == "" {
						bad("%s: configure-aws-credentials needs role-to-assume from vars and aws-region", where)
					}
					// Cloud jobs reach the private cluster endpoint: they run where PULUMI_RUNNER says.
					if !strings.Contains(fmt.Sprint(job.RunsOn), "vars.PULUMI_RUNNER") {
						bad("%s: runs-on must honour vars.PULUMI_RUNNER", where)
					}
					if perms["id-token"] != "write" {
						bad("%s: assumes a role without id-token: write", where)
					}
				case "actions/setup-go":
					if s.with("cache") != "true" || s.with("go-version-file") != "go.mod" {
						bad("%s: setup-go must use go.mod and the Go build cache", where)
					}
				case "actions/checkout":
					if s.with("persist-credentials") != "false" {
						bad("%s: checkout must not persist the token", where)
					}
				case "pulumi/actions":
					usesPulumi = true
					if s.with("pulumi-version") != "${{ env.PULUMI_VERSION }}" {
						bad("%s: pulumi/actions must install ${{ env.PULUMI_VERSION }}", where)
					}
				}
				if strings.Contains(s.Run, "pulumi ") && !usesPulumi {
					bad("%s: step %q runs pulumi before pulumi/actions installed the pinned CLI", where, s.Name)
				}
				if strings.Contains(s.Run, "|") && s.Shell != "bash" {
					bad("%s: step %q pipes without shell: bash (no pipefail)", where, s.Name)
				}
			}
			if usesPulumi && wf.Env["PULUMI_VERSION"] != pulumiVersion {
				bad("%s: PULUMI_VERSION %q differs from the pulumi sdk in go.mod (%s)", name, wf.Env["PULUMI_VERSION"], pulumiVersion)
			}
		}
	}

	pr, deploy, stack, drift := parsed[wfPullRequest], parsed[wfDeploy], parsed[wfStack], parsed[wfDrift]
	problems = append(problems, wfCheckTests(wfPullRequest, pr)...)
	problems = append(problems, wfCheckTests(wfDeploy, deploy)...)
	problems = append(problems, wfCheckTests(wfDrift, drift)...)

	// Pull requests: preview per stack with the diff as a PR comment.
	if _, ok := pr.On["pull_request"]; !ok {
		bad("%s: must run on pull_request", wfPullRequest)
	}
	prPreview := pr.Jobs["preview"]
	if !strings.Contains(prPreview.If, "github.event.pull_request.head.repo.full_name == github.repository") {
		bad("%s: preview must not run for pull requests from forks", wfPullRequest)
	}
	if !contains(prPreview.needs(), "test") {
		bad("%s: preview must need test", wfPullRequest)
	}
	if i := prPreview.stepIndex(func(s ghStep) bool { return s.action() == "pulumi/actions" }); i < 0 {
		bad("%s: preview must use pulumi/actions", wfPullRequest)
	} else {
		s := prPreview.Steps[i]
		if s.with("command") != "preview" || s.with("comment-on-pr") != "true" || s.with("diff") != "true" ||
			s.with("stack-name") != "${{ matrix.stack }}" {
			bad("%s: pulumi/actions must preview ${{ matrix.stack }} with diff and comment-on-pr", wfPullRequest)
		}
	}
	if c, ok := wfConcurrency(prPreview.Concurrency); !ok || !strings.Contains(c.Group, "matrix.stack") {
		bad("%s: preview concurrency group must be per stack", wfPullRequest)
	}

	// Push to main: runs serialised, never cancelled, one reusable call per stack after the tests.
	if branches := fmt.Sprint(deploy.On["push"]); !strings.Contains(branches, "main") {
		bad("%s: must run on push to main", wfDeploy)
	}
	if c, ok := wfConcurrency(deploy.Concurrency); !ok || c.CancelInProgress {
		bad("%s: workflow concurrency must be set with cancel-in-progress: false (never cancel an apply)", wfDeploy)
	}
	var deployStacks []string
	for jobName, job := range deploy.Jobs {
		if job.Uses == "" {
			continue
		}
		if job.Uses != "./.github/workflows/"+wfStack {
			bad("%s: job %s calls %s", wfDeploy, jobName, job.Uses)
			continue
		}
		if !contains(job.needs(), "test") {
			bad("%s: job %s must need test", wfDeploy, jobName)
		}
		deployStacks = append(deployStacks, fmt.Sprint(job.With["stack"]))
		for _, callee := range stack.Jobs {
			for scope, level := range callee.permissions() {
				if level == "write" && job.permissions()[scope] != "write" {
					bad("%s: job %s must grant %s: write to %s", wfDeploy, jobName, scope, wfStack)
				}
			}
		}
	}
	if len(deployStacks) == 0 {
		bad("%s: deploys no stack", wfDeploy)
	}

	// One stack: preview --save-plan -> artifact -> approval -> up --plan -> Argo CD -> status.
	if call, ok := stack.On["workflow_call"].(map[string]any); !ok ||
		fmt.Sprint(path(call, "inputs", "stack", "required")) != "true" {
		bad("%s: must be a workflow_call with a required stack input", wfStack)
	}
	preview, apply := stack.Jobs["preview"], stack.Jobs["apply"]
	savePlan, usePlan := "", ""
	planStep := preview.stepIndex(func(s ghStep) bool { return strings.Contains(s.Run, "pulumi preview") })
	if planStep < 0 {
		bad("%s: preview job runs no pulumi preview", wfStack)
	} else if m := wfSavePlan.FindStringSubmatch(preview.Steps[planStep].Run); m == nil {
		bad("%s: preview must --save-plan", wfStack)
	} else {
		savePlan = m[1]
	}
	upload := preview.stepIndex(func(s ghStep) bool { return s.action() == "actions/upload-artifact" })
	download := apply.stepIndex(func(s ghStep) bool { return s.action() == "actions/download-artifact" })
	up := apply.stepIndex(func(s ghStep) bool { return strings.Contains(s.Run, "pulumi up") })
	argo := apply.stepIndex(func(s ghStep) bool { return strings.Contains(s.Run, "argocd-wait.sh") })
	status := apply.stepIndex(func(s ghStep) bool { return strings.Contains(s.Run, "/statuses/") })
	if up < 0 {
		bad("%s: apply job runs no pulumi up", wfStack)
	} else if m := wfUsePlan.FindStringSubmatch(apply.Steps[up].Run); m == nil {
		bad("%s: apply must run pulumi up --plan", wfStack)
	} else {
		usePlan = m[1]
	}
	if savePlan != usePlan {
		bad("%s: pulumi up --plan %s is not the file preview --save-plan %s wrote", wfStack, usePlan, savePlan)
	}
	planFile := strings.Trim(savePlan, `"`)
	if v, ok := stack.Env[strings.Trim(planFile, "${}")]; ok {
		planFile = v
	}
	switch {
	case upload < planStep || upload < 0:
		bad("%s: the saved plan must be uploaded as an artifact after the preview", wfStack)
	case download < 0 || up < download:
		bad("%s: apply must download the plan artifact before pulumi up", wfStack)
	default:
		u, d := preview.Steps[upload], apply.Steps[download]
		if u.with("name") != d.with("name") {
			bad("%s: artifact uploaded as %q but downloaded as %q", wfStack, u.with("name"), d.with("name"))
		}
		if p := strings.ReplaceAll(u.with("path"), "${{ env.PLAN_FILE }}", stack.Env["PLAN_FILE"]); p != planFile {
			bad("%s: uploaded artifact path %q is not the plan file %q", wfStack, p, planFile)
		}
	}
	if !contains(apply.needs(), "preview") {
		bad("%s: apply must need preview", wfStack)
	}
	if !strings.Contains(apply.If, "needs.preview.outputs.changes") || preview.Outputs["changes"] == "" {
		bad("%s: apply must run only when the preview's plan changes something", wfStack)
	}
	if apply.environmentName() != "${{ inputs.stack }}" {
		bad("%s: apply must run in the stack's protected environment", wfStack)
	}
	if argo < 0 || argo < up {
		bad("%s: apply must wait for Argo CD after pulumi up", wfStack)
	}
	if status < argo || !strings.Contains(apply.Steps[status].If, "always()") {
		bad("%s: apply must report the Argo CD result as a commit status, always", wfStack)
	}
	pc, okP := wfConcurrency(preview.Concurrency)
	ac, okA := wfConcurrency(apply.Concurrency)
	if !okP || !okA || pc.Group != ac.Group || !strings.Contains(pc.Group, "inputs.stack") {
		bad("%s: preview and apply must share one per-stack concurrency group", wfStack)
	}
	if pc.CancelInProgress || ac.CancelInProgress {
		bad("%s: per-stack concurrency must not cancel-in-progress", wfStack)
	}

	// Drift: scheduled preview --refresh --expect-no-changes, in the same per-stack group.
	schedule, _ := drift.On["schedule"].([]any)
	if len(schedule) == 0 || !wfCron.MatchString(fmt.Sprint(path(schedule[0], "cron"))) {
		bad("%s: must run on a cron schedule", wfDrift)
	}
	driftJob := drift.Jobs["drift"]
	check := driftJob.stepIndex(func(s ghStep) bool { return strings.Contains(s.Run, "pulumi preview") })
	if check < 0 || !strings.Contains(driftJob.Steps[check].Run, "--expect-no-changes") ||
		!strings.Contains(driftJob.Steps[check].Run, "--refresh") {
		bad("%s: must run pulumi preview --refresh --expect-no-changes", wfDrift)
	}
	if dc, ok := wfConcurrency(driftJob.Concurrency); !ok || wfStackGroup(dc.Group) != wfStackGroup(pc.Group) || dc.CancelInProgress {
		bad("%s: drift concurrency must be the deploy's per-stack group without cancel-in-progress", wfDrift)
	}

	// The same stacks everywhere.
	sort.Strings(deployStacks)
	for _, other := range []struct {
		file   string
		stacks []string
	}{{wfPullRequest, prPreview.matrixStacks()}, {wfDrift, driftJob.matrixStacks()}} {
		sort.Strings(other.stacks)
		if strings.Join(other.stacks, ",") != strings.Join(deployStacks, ",") {
			bad("%s: stacks %v differ from the deployed stacks %v", other.file, other.stacks, deployStacks)
		}
	}
	return problems
}

// wfCheckTests: the workflow vets and tests the Go code before anything else.
func wfCheckTests(name string, wf ghWorkflow) []string {
	test, ok := wf.Jobs["test"]
	if !ok {
		return []string{name + ": no test job"}
	}
	var vet, gotest bool
	for _, s := range test.Steps {
		vet = vet || strings.Contains(s.Run, "go vet ./...")
		gotest = gotest || (strings.Contains(s.Run, "go test") && strings.Contains(s.Run, "./..."))
	}
	if !vet || !gotest {
		return []string{name + ": test job must run go vet ./... and go test ./..."}
	}
	return nil
}

func TestWorkflowsPassPolicy(t *testing.T) {
	problems := wfProblems(wfRead(t), wfGoModPulumiVersion(t))
	assert.Empty(t, problems, strings.Join(problems, "\n"))
}

func TestWorkflowPolicyCatchesRegressions(t *testing.T) {
	files := wfRead(t)
	version := wfGoModPulumiVersion(t)
	cases := []struct {
		name, file, old, new, want string
	}{
		{"apply without approval", wfStack, "    environment:\n      name: ${{ inputs.stack }}\n", "", "protected environment"},
		{"apply ignores the plan", wfStack, `--plan "$PLAN_FILE"`, "", "pulumi up --plan"},
		{"preview saves no plan", wfStack, `--save-plan "$PLAN_FILE"`, "", "--save-plan"},
		{"plan file mismatch", wfStack, `--save-plan "$PLAN_FILE"`, `--save-plan other.json`, "is not the file"},
		{"artifact name mismatch", wfStack, "name: pulumi-plan-${{ inputs.stack }}\n          path:", "name: plan\n          path:", "artifact uploaded as"},
		{"apply before preview", wfStack, "    needs: preview\n", "", "apply must need preview"},
		{"apply not after preview's changes", wfStack, "    if: needs.preview.outputs.changes == 'true'\n", "", "only when"},
		{"no argo wait", wfStack, "bash .github/scripts/argocd-wait.sh", "true", "wait for Argo CD"},
		{"status only on success", wfStack, "if: always() && steps.argocd.outcome != 'skipped'", "if: success()", "commit status"},
		{"apply cancels in progress", wfStack, "      cancel-in-progress: false\n    steps:", "      cancel-in-progress: true\n    steps:", "cancel-in-progress"},
		{"groups differ", wfStack, "    concurrency:\n      group: pulumi-${{ inputs.stack }}\n      cancel-in-progress: false\n    outputs:", "    concurrency:\n      group: preview-${{ inputs.stack }}\n      cancel-in-progress: false\n    outputs:", "share one per-stack concurrency group"},
		{"static keys", wfStack, "          role-to-assume: ${{ vars.AWS_APPLY_ROLE_ARN }}\n", "          aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}\n", "long-lived"},
		{"unpinned action", wfPullRequest, "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2", "actions/checkout@v4", "pinned to a commit"},
		{"pin without version note", wfDrift, "pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d # v7.0.0", "pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d", "pinned to a commit"},
		{"inconsistent pins", wfDrift, "actions/setup-go@d35c59abb061a4a6fb18e82ac0862c26744d6ab5 # v5.5.0", "actions/setup-go@0aaccfd150d50ccaeb58ebd88d36e91967a5f35b # v5.4.0", "elsewhere"},
		{"deploy cancels runs", wfDeploy, "cancel-in-progress: false", "cancel-in-progress: true", "never cancel an apply"},
		{"deploy skips tests", wfDeploy, "    needs: test\n    permissions:", "    permissions:", "must need test"},
		{"caller withholds OIDC", wfDeploy, "      id-token: write\n      statuses: write\n    uses:", "      statuses: write\n    uses:", "must grant id-token"},
		{"no drift check", wfDrift, "--expect-no-changes ", "", "--expect-no-changes"},
		{"drift without refresh", wfDrift, "--refresh ", "", "--refresh"},
		{"drift not scheduled", wfDrift, "  schedule:\n    - cron: \"17 5 * * *\"\n", "", "cron schedule"},
		{"drift in its own group", wfDrift, "group: pulumi-${{ matrix.stack }}", "group: drift-${{ matrix.stack }}", "drift concurrency"},
		{"fork PRs reach the cloud", wfPullRequest, "    if: github.event.pull_request.head.repo.full_name == github.repository\n", "", "forks"},
		{"apply off the VPC runner", wfStack, "    if: needs.preview.outputs.changes == 'true'\n    runs-on: ${{ vars.PULUMI_RUNNER || 'ubuntu-latest' }}", "    if: needs.preview.outputs.changes == 'true'\n    runs-on: ubuntu-latest", "PULUMI_RUNNER"},
		{"no PR comment", wfPullRequest, "comment-on-pr: true", "comment-on-pr: false", "comment-on-pr"},
		{"PR preview without OIDC", wfPullRequest, "      id-token: write\n      pull-requests: write\n", "      pull-requests: write\n", "without id-token"},
		{"needless write", wfPullRequest, "  test:\n    runs-on: ubuntu-latest\n    timeout-minutes: 30\n    permissions:\n      contents: read\n", "  test:\n    runs-on: ubuntu-latest\n    timeout-minutes: 30\n    permissions:\n      contents: write\n", "contents: write is not needed"},
		{"broad default permissions", wfPullRequest, "permissions: {}", "permissions: write-all", "top-level permissions"},
		{"no go vet", wfPullRequest, "      - run: go vet ./...\n", "", "go vet"},
		{"no build cache", wfPullRequest, "cache: true", "cache: false", "build cache"},
		{"CLI drifts from go.mod", wfDrift, "PULUMI_VERSION: " + version, "PULUMI_VERSION: 3.100.0", "differs from the pulumi sdk"},
		{"stack lists diverge", wfDrift, "stack: [dev]", "stack: [dev, prod]", "differ from the deployed stacks"},
		{"pipe without pipefail", wfDrift, "        shell: bash\n        env:\n          STACK: ${{ matrix.stack }}", "        env:\n          STACK: ${{ matrix.stack }}", "pipefail"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mutated := map[string]string{}
			for k, v := range files {
				mutated[k] = v
			}
			require.Contains(t, mutated[c.file], c.old, "mutation no longer applies; update the test")
			mutated[c.file] = strings.Replace(mutated[c.file], c.old, c.new, 1)
			problems := wfProblems(mutated, version)
			joined := strings.Join(problems, "\n")
			assert.Contains(t, joined, c.want)
		})
	}
}

// Every stack deployed by CI has its stack config next to the main project.
func TestWorkflowStacksHaveStackConfig(t *testing.T) {
	if _, err := os.Stat("../Pulumi.yaml"); err != nil {
		t.Skip("no Pulumi.yaml at the repository root yet")
	}
	var deploy ghWorkflow
	require.NoError(t, yaml.Unmarshal([]byte(wfRead(t)[wfDeploy]), &deploy))
	for _, job := range deploy.Jobs {
		if stack, ok := job.With["stack"]; ok {
			_, err := os.Stat(fmt.Sprintf("../Pulumi.%s.yaml", stack))
			assert.NoError(t, err, "stack %s", stack)
		}
	}
}

// actionlint knows GitHub's expression language, action inputs and (with
// shellcheck on PATH) the run scripts; it runs when installed.
func TestWorkflowsActionlint(t *testing.T) {
	bin, err := exec.LookPath("actionlint")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "actionlint")
		if _, statErr := os.Stat(bin); statErr != nil {
			t.Skip("actionlint not installed (go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12)")
		}
	}
	cmd := exec.Command(bin, "-no-color")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "%s", out)
}

// wfFakeKubectl writes a kubectl that prints the given Application states,
// one poll per line of states (the last repeats), and fails on "fail".
func wfFakeKubectl(t *testing.T, polls ...string) string {
	t.Helper()
	dir := t.TempDir()
	for i, p := range polls {
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("poll%d", i)), []byte(p), 0o644))
	}
	script := `#!/usr/bin/env bash
dir="$(dirname "$0")"
n=$(cat "$dir/count" 2>/dev/null || echo 0)
echo "$*" >> "$dir/args"
last=` + fmt.Sprint(len(polls)-1) + `
i=$(( n < last ? n : last ))
echo $((n + 1)) > "$dir/count"
body=$(cat "$dir/poll$i")
if [ "$body" = fail ]; then echo "connection refused" >&2; exit 1; fi
printf '%s' "$body"
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kubectl"), []byte(script), 0o755))
	return dir
}

func TestWorkflowArgoCDWaitScript(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	ready := "platform\tSynced\tHealthy\nmodels\tSynced\tHealthy\n"
	cases := []struct {
		name    string
		polls   []string
		minApps string
		ok      bool
		want    string
	}{
		{"all ready", []string{ready}, "", true, "all 2 Argo CD applications"},
		{"becomes ready", []string{"platform\tOutOfSync\tProgressing\nmodels\tSynced\tHealthy\n", "fail", ready}, "", true, "all 2"},
		{"stays degraded", []string{"platform\tSynced\tDegraded\nmodels\tSynced\tHealthy\n"}, "", false, "platform sync=Synced health=Degraded"},
		{"no status yet", []string{"platform\t\t\n"}, "", false, "platform sync=Unknown health=Unknown"},
		{"no applications", []string{""}, "", false, "timed out"},
		{"fewer than expected", []string{ready}, "3", false, "2 applications in argocd, 0 not ready"},
		{"kubectl keeps failing", []string{"fail"}, "", false, "kubectl get applications failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := wfFakeKubectl(t, c.polls...)
			// Successes return as soon as the apps are ready; failures wait out a short timeout.
			timeout := "1"
			if c.ok {
				timeout = "30"
			}
			cmd := exec.Command("bash", wfArgoWaitScript)
			cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"),
				"ARGOCD_WAIT_TIMEOUT="+timeout, "ARGOCD_WAIT_INTERVAL=0.2", "ARGOCD_MIN_APPS="+c.minApps)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			assert.Equal(t, c.ok, err == nil, "%s", out)
			assert.Contains(t, string(out), c.want)
			assert.Less(t, time.Since(start), 20*time.Second, "the timeout is honoured")
			args, _ := os.ReadFile(filepath.Join(dir, "args"))
			assert.Contains(t, string(args), "get applications.argoproj.io --namespace argocd", "queries Argo CD's namespace")
		})
	}
}
