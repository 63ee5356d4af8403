package tests

import (
	"fmt"
	"github.com/aiplatform/infra/stacks/bootstrap/statebackend"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// The CI pipeline is policy: these tests read .github/workflows and fail when
// a gate (approval, change summary, OIDC, pinning, concurrency, preflight,
// notification) goes missing. wfProblems is the checker;
// TestWorkflowPolicyCatchesRegressions proves it notices each regression it
// is meant to catch. The scripts the workflows call are tested in
// workflows_scripts_test.go.

const (
	wfDir         = "../.github/workflows"
	wfScriptsDir  = "../.github/scripts"
	wfPullRequest = "pull-request.yml"
	wfDeploy      = "deploy.yml"
	wfStack       = "pulumi-stack.yml"
	wfDrift       = "drift.yml"
	wfMainRef     = "github.ref == 'refs/heads/main'"
)

// The scripts, by role (.github/scripts; their headers document the interface).
const (
	wfInstall      = ".github/scripts/install-pulumi.sh"
	wfPreflight    = ".github/scripts/pulumi-preflight.sh"
	wfPreview      = ".github/scripts/pulumi-preview.sh"
	wfApply        = ".github/scripts/pulumi-apply.sh"
	wfDriftCheck   = ".github/scripts/pulumi-drift.sh"
	wfArgoWait     = ".github/scripts/argocd-wait.sh"
	wfEnvCheck     = ".github/scripts/check-environment.sh"
	wfCISettings   = ".github/scripts/check-ci-settings.sh"
	wfPRComment    = ".github/scripts/pr-comment.sh"
	wfDriftIssue   = ".github/scripts/drift-issue.sh"
	wfDeployBusy   = ".github/scripts/deploy-busy.sh"
	wfCostDiff     = ".github/scripts/cost-diff.sh"
	wfApprovalWait = 30 // days a deployment may wait for approval (GitHub docs, "Reviewing deployments")
)

// wfNode24Since is the first version (major, minor) of each action whose
// action.yml says runs.using: node24; Node 20 actions are deprecated on
// GitHub's runners. Read from each action's repository at its release tags:
// checkout v5.0.0, setup-go v6.2.0 (v6.0.0 and v6.1.0 are node20),
// configure-aws-credentials v6.0.0 (CHANGELOG: "Update action to use
// node24"), upload-artifact v6.0.0, download-artifact v7.0.0, cache v5.0.0.
var wfNode24Since = map[string][2]int{
	"actions/checkout":                      {5, 0},
	"actions/setup-go":                      {6, 2},
	"aws-actions/configure-aws-credentials": {6, 0},
	"actions/upload-artifact":               {6, 0},
	"actions/download-artifact":             {7, 0},
	"actions/cache":                         {5, 0},
}

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
	Env            map[string]string `yaml:"env"`
	Uses           string            `yaml:"uses"`
	With           map[string]any    `yaml:"with"`
	Steps          []ghStep          `yaml:"steps"`
}

type ghStrategy struct {
	Matrix map[string]any `yaml:"matrix"`
}

type ghStep struct {
	ID              string            `yaml:"id"`
	Name            string            `yaml:"name"`
	If              string            `yaml:"if"`
	Uses            string            `yaml:"uses"`
	Run             string            `yaml:"run"`
	Shell           string            `yaml:"shell"`
	With            map[string]any    `yaml:"with"`
	Env             map[string]string `yaml:"env"`
	ContinueOnError bool              `yaml:"continue-on-error"`
}

// action is the step's action without its ref: "actions/checkout".
func (s ghStep) action() string { return strings.SplitN(s.Uses, "@", 2)[0] }

func (s ghStep) with(key string) string {
	if v, ok := s.With[key]; ok {
		return fmt.Sprint(v)
	}
	return ""
}

// runs reports whether the step runs the script.
func (s ghStep) runs(script string) bool { return strings.Contains(s.Run, script) }

// runsPulumi: the step runs the CLI, directly or through a script (not the installer).
func (s ghStep) runsPulumi() bool {
	for _, script := range []string{wfPreflight, wfPreview, wfApply, wfDriftCheck} {
		if s.runs(script) {
			return true
		}
	}
	return regexp.MustCompile(`(^|[\s$(])pulumi\s`).MatchString(s.Run)
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

func (j ghJob) runsScript(script string) int {
	return j.stepIndex(func(s ghStep) bool { return s.runs(script) })
}

func (j ghJob) usesAction(action string) int {
	return j.stepIndex(func(s ghStep) bool { return s.action() == action })
}

func (j ghJob) runsPulumi() bool { return j.stepIndex(ghStep.runsPulumi) >= 0 }

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
	sort.Strings(out)
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
	wfVersionNote  = regexp.MustCompile(`^\s*#\s*v(\d+)\.(\d+)\.\d+\s*$`)
	wfLongLivedKey = regexp.MustCompile(`(?i)aws_access_key_id|aws_secret_access_key|aws-access-key-id|aws-secret-access-key|aws_session_token`)
	wfGoModPulumi  = regexp.MustCompile(`(?m)^\s*github\.com/pulumi/pulumi/sdk/v3 v(\S+)`)
	wfCron         = regexp.MustCompile(`^(\S+\s+){4}\S+$`)
	wfStepOutput   = regexp.MustCompile(`^\$\{\{\s*steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)\s*\}\}$`)
)

// wfWrites lists the write scopes a job may hold, each with the reason that
// must be visible in the job. A job that runs a branch's Pulumi program never
// also holds a token that writes to the repository.
var wfWrites = map[string]func(ghJob) bool{
	// OIDC token for AWS: only jobs that assume a role.
	"id-token": func(j ghJob) bool {
		return j.Uses != "" || j.usesAction("aws-actions/configure-aws-credentials") >= 0
	},
	// PR comment with the preview, posted by a job that runs no Pulumi.
	"pull-requests": func(j ghJob) bool { return j.runsScript(wfPRComment) >= 0 && !j.runsPulumi() },
	// Commit status with the Argo CD result.
	"statuses": func(j ghJob) bool {
		return j.Uses != "" || j.stepIndex(func(s ghStep) bool { return strings.Contains(s.Run, "/statuses/") }) >= 0
	},
	// Drift issues, by a job that runs no Pulumi.
	"issues": func(j ghJob) bool { return j.runsScript(wfDriftIssue) >= 0 && !j.runsPulumi() },
	// The lds-service image pushed to GHCR (issue 24), by a job that runs no Pulumi.
	"packages": func(j ghJob) bool {
		return !j.runsPulumi() && j.stepIndex(func(s ghStep) bool { return strings.Contains(s.Run, "go -C cmd/lds-image run . -repository") }) >= 0
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

// wfSecretsProviders reads the committed `secretsprovider:` of each stack
// config file (Pulumi.<stack>.yaml), "" when there is none.
func wfSecretsProviders(t *testing.T) map[string]string {
	t.Helper()
	matches, err := filepath.Glob("../Pulumi.*.yaml")
	require.NoError(t, err)
	out := map[string]string{}
	for _, m := range matches {
		var cfg struct {
			SecretsProvider string `yaml:"secretsprovider"`
			EncryptedKey    string `yaml:"encryptedkey"`
		}
		b, err := os.ReadFile(m)
		require.NoError(t, err)
		require.NoError(t, yaml.Unmarshal(b, &cfg), m)
		stack := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), "Pulumi."), ".yaml")
		if cfg.EncryptedKey != "" {
			out[stack] = cfg.SecretsProvider
		} else {
			out[stack] = ""
		}
	}
	return out
}

// wfPolicy is what wfProblems checks the workflow files against.
type wfPolicy struct {
	pulumiVersion string
	// secretsProviders: Pulumi.<stack>.yaml's committed secretsprovider
	// (with its encryptedkey), "" when the file names none.
	secretsProviders map[string]string
}

// wfProblems checks the workflow files against the pipeline's policy and
// returns every violation.
func wfProblems(files map[string]string, policy wfPolicy) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	parsed := map[string]ghWorkflow{}
	for _, name := range []string{wfPullRequest, wfDeploy, wfStack, wfDrift} {
		if _, ok := files[name]; !ok {
			bad("%s: missing", name)
		}
	}
	pins := map[string]string{}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		text := files[name]
		var wf ghWorkflow
		if err := yaml.Unmarshal([]byte(text), &wf); err != nil {
			bad("%s: does not parse: %v", name, err)
			continue
		}
		parsed[name] = wf
		problems = append(problems, wfTextProblems(name, text, pins)...)
		problems = append(problems, wfJobProblems(name, wf, policy)...)
	}

	pr, deploy, stack, drift := parsed[wfPullRequest], parsed[wfDeploy], parsed[wfStack], parsed[wfDrift]
	problems = append(problems, wfCheckTests(wfPullRequest, pr)...)
	problems = append(problems, wfCheckTests(wfDeploy, deploy)...)
	problems = append(problems, wfCheckTests(wfDrift, drift)...)
	deployStacks := wfDeployProblems(deploy, stack, bad)
	deployGroup := wfStackProblems(stack, bad)
	prStacks := wfPullRequestProblems(pr, bad)
	driftStacks := wfDriftProblems(drift, deployGroup, bad)

	// Item 5: nothing outside the deploy may share its per-stack group: GitHub
	// keeps one pending job per group and cancels the older pending one,
	// whatever workflow it belongs to.
	for _, name := range names {
		if name == wfStack {
			continue
		}
		for jobName, job := range parsed[name].Jobs {
			if c, ok := wfConcurrency(job.Concurrency); ok && deployGroup != "" && wfStackGroup(c.Group) == deployGroup {
				bad("%s: job %s shares the deploy's concurrency group %s and could displace a pending deploy job", name, jobName, c.Group)
			}
		}
	}

	// The same stacks everywhere.
	for _, other := range []struct {
		file   string
		stacks []string
	}{{wfPullRequest, prStacks}, {wfDrift, driftStacks}} {
		if strings.Join(other.stacks, ",") != strings.Join(deployStacks, ",") {
			bad("%s: stacks %v differ from the deployed stacks %v", other.file, other.stacks, deployStacks)
		}
	}

	// Item 2: every deployed stack has an awskms:// secrets provider the CLI
	// will use without a prompt: committed in Pulumi.<stack>.yaml, or read
	// from the state, which CLI 3.274 does only with
	// PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER set (checked per job above).
	for _, s := range deployStacks {
		p, ok := policy.secretsProviders[s]
		if ok && p != "" && !strings.HasPrefix(p, "awskms://") {
			bad("Pulumi.%s.yaml: secretsprovider %s is not awskms://", s, p)
		}
	}
	return problems
}

// wfTextProblems: no long-lived credentials, no secrets at all (OIDC needs
// none), every remote action pinned to a commit of a Node 24 release.
func wfTextProblems(name, text string, pins map[string]string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
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
		note := wfVersionNote.FindStringSubmatch(m[2])
		if !wfSHA.MatchString(ref) || note == nil {
			bad("%s:%d: %s must be pinned to a commit SHA with a # vX.Y.Z note, got @%s%s", name, i+1, action, ref, m[2])
		} else if since, known := wfNode24Since[action]; !known {
			bad("%s:%d: %s: not a known Node 24 action; add it to wfNode24Since with its evidence, or install the tool by script", name, i+1, action)
		} else if major, minor := wfAtoi(note[1]), wfAtoi(note[2]); major < since[0] || major == since[0] && minor < since[1] {
			bad("%s:%d: %s v%d.%d runs on Node 20 (deprecated on runners); node24 since v%d.%d", name, i+1, action, major, minor, since[0], since[1])
		}
		if prev, ok := pins[action]; ok && prev != ref {
			bad("%s:%d: %s pinned to %s here but %s elsewhere", name, i+1, action, ref, prev)
		}
		pins[action] = ref
	}
	if strings.Contains(text, "uses: ./") && !strings.Contains(text, "uses: ./.github/workflows/") {
		bad("%s: local actions must live under .github/workflows", name)
	}
	return problems
}

func wfAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// wfJobProblems: the rules every job of every workflow follows.
func wfJobProblems(name string, wf ghWorkflow, policy wfPolicy) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if wf.Name == "" {
		bad("%s: no name", name)
	}
	if p := wfPermissions(wf.Permissions); p == nil || len(p) != 0 {
		bad("%s: top-level permissions must be {} (each job asks for its own), got %v", name, wf.Permissions)
	}
	runnerVar := "vars.PULUMI_DEPLOY_RUNNER"
	if name == wfPullRequest {
		runnerVar = "vars.PULUMI_PR_RUNNER"
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
		runsOn := fmt.Sprint(job.RunsOn)
		if (perms["pull-requests"] == "write" || perms["issues"] == "write") && runsOn != "ubuntu-latest" {
			bad("%s: a job holding a repository write token runs GitHub-hosted (ubuntu-latest), not on %s", where, runsOn)
		}
		install, cache, preflight := job.runsScript(wfInstall), -1, job.runsScript(wfPreflight)
		for i, s := range job.Steps {
			switch s.action() {
			case "aws-actions/configure-aws-credentials":
				if !strings.Contains(s.with("role-to-assume"), "vars.") || s.with("aws-region") == "" {
					bad("%s: configure-aws-credentials needs role-to-assume from vars and aws-region", where)
				}
				// Item 10: cloud jobs run where the private endpoint is reachable, and
				// pull-request code never on the runners that apply.
				if !strings.Contains(runsOn, runnerVar) {
					bad("%s: runs-on must honour %s", where, runnerVar)
				} else if want := runsOnPool(strings.TrimPrefix(runnerVar, "vars.")); runsOn != want {
					bad("%s: runs-on must be %s: a CodeBuild-hosted pool needs its label with the run's id and attempt", where, want)
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
			case "actions/cache":
				if strings.Contains(s.with("path"), "~/.pulumi/plugins") && strings.Contains(s.with("key"), "env.PULUMI_VERSION") {
					cache = i
				}
			case "pulumi/actions":
				bad("%s: pulumi/actions installs an unverified CLI; use %s", where, wfInstall)
			}
			if s.runsPulumi() && (install < 0 || install > i) {
				bad("%s: step %q runs pulumi before %s installed the pinned, checksum-verified CLI", where, s.Name, wfInstall)
			}
			// Item 3: fail fast on a missing backend URL, a missing stack or a
			// passphrase secrets provider, before any other pulumi command.
			if s.runsPulumi() && !s.runs(wfPreflight) && (preflight < 0 || preflight > i) {
				bad("%s: step %q runs pulumi before %s checked the backend, the stack and its secrets provider", where, s.Name, wfPreflight)
			}
			if strings.Contains(s.Run, "|") && s.Shell != "bash" {
				bad("%s: step %q pipes without shell: bash (no pipefail)", where, s.Name)
			}
		}
		if !job.runsPulumi() {
			continue
		}
		// Item 12: the plugins (and the CLI download) are cached.
		if cache < 0 || cache > install {
			bad("%s: cache ~/.pulumi/plugins (keyed on env.PULUMI_VERSION) before installing the CLI", where)
		}
		if wf.Env["PULUMI_VERSION"] != policy.pulumiVersion {
			bad("%s: PULUMI_VERSION %q differs from the pulumi sdk in go.mod (%s)", name, wf.Env["PULUMI_VERSION"], policy.pulumiVersion)
		}
		if wf.Env["PULUMI_BACKEND_URL"] != "${{ vars.PULUMI_BACKEND_URL }}" {
			bad("%s: PULUMI_BACKEND_URL must come from the repository variable", name)
		}
		// Item 2: without a committed awskms provider, every pulumi job must
		// let the CLI use the one in the state.
		fallback := wf.Env["PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER"]
		if v, ok := job.Env["PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER"]; ok {
			fallback = v
		}
		for stack, provider := range policy.secretsProviders {
			if !strings.HasPrefix(provider, "awskms://") && fallback != "true" {
				bad("%s: Pulumi.%s.yaml commits no awskms:// secretsprovider, so PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER must be \"true\" (CLI 3.274 otherwise uses the passphrase provider)", where, stack)
				break
			}
		}
	}
	return problems
}

// wfDeployProblems: push to main; one reusable call per stack, main only.
func wfDeployProblems(deploy, stack ghWorkflow, bad func(string, ...any)) []string {
	if branches := fmt.Sprint(deploy.On["push"]); !strings.Contains(branches, "main") {
		bad("%s: must run on push to main", wfDeploy)
	}
	c, ok := wfConcurrency(deploy.Concurrency)
	if !ok || c.CancelInProgress {
		bad("%s: workflow concurrency must be set with cancel-in-progress: false (never cancel an apply)", wfDeploy)
	}
	// Item 5: a manual run from another branch must not land in main's group.
	if ok && !strings.Contains(c.Group, "github.ref") {
		bad("%s: the workflow concurrency group must include github.ref, or a run of another branch displaces main's pending deploy", wfDeploy)
	}
	var stacks []string
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
		if !strings.Contains(job.If, wfMainRef) {
			bad("%s: job %s must deploy only %s", wfDeploy, jobName, wfMainRef)
		}
		stacks = append(stacks, fmt.Sprint(job.With["stack"]))
		// A reusable workflow gets at most what its caller grants.
		for _, callee := range stack.Jobs {
			for scope, level := range callee.permissions() {
				granted := job.permissions()[scope]
				if level == "write" && granted != "write" || level == "read" && granted != "read" && granted != "write" {
					bad("%s: job %s must grant %s: %s to %s", wfDeploy, jobName, scope, level, wfStack)
				}
			}
		}
	}
	if len(stacks) == 0 {
		bad("%s: deploys no stack", wfDeploy)
	}
	sort.Strings(stacks)
	return stacks
}

// wfStackProblems checks one stack's deploy: preflight -> preview + change
// summary -> approval -> apply of exactly that -> Argo CD -> status. It
// returns the per-stack concurrency group (normalised).
func wfStackProblems(stack ghWorkflow, bad func(string, ...any)) string {
	if call, ok := stack.On["workflow_call"].(map[string]any); !ok ||
		fmt.Sprint(path(call, "inputs", "stack", "required")) != "true" {
		bad("%s: must be a workflow_call with a required stack input", wfStack)
	}
	preflight, preview, apply := stack.Jobs["preflight"], stack.Jobs["preview"], stack.Jobs["apply"]

	// Item 11: the environment must exist with reviewers before anything runs.
	if i := preflight.runsScript(wfEnvCheck); i < 0 || preflight.Steps[i].Env["ENVIRONMENT"] != "${{ inputs.stack }}" {
		bad("%s: a preflight job must run %s for the stack's environment", wfStack, wfEnvCheck)
	} else if preflight.permissions()["actions"] != "read" {
		bad("%s: preflight needs actions: read to read the environment's protection rules", wfStack)
	}
	if preflight.runsScript(wfCISettings) < 0 {
		bad("%s: the preflight job must run %s (variables, separate PR and deploy runners)", wfStack, wfCISettings)
	}
	if !contains(preview.needs(), "preflight") {
		bad("%s: preview must need preflight", wfStack)
	}
	for _, name := range []string{"preflight", "apply"} {
		if !strings.Contains(stack.Jobs[name].If, wfMainRef) {
			bad("%s: %s must run only for %s", wfStack, name, wfMainRef)
		}
	}

	// Item 4: the approval document is the change summary.
	previewStep := preview.runsScript(wfPreview)
	if previewStep < 0 {
		bad("%s: preview must run %s", wfStack, wfPreview)
	} else {
		// Item 7: changes come from the summary, which counts output changes.
		m := wfStepOutput.FindStringSubmatch(preview.Outputs["changes"])
		if m == nil || m[1] != preview.Steps[previewStep].ID || m[2] != "changes" {
			bad("%s: preview's changes output must be the summary's (steps.<%s step>.outputs.changes), which counts output changes", wfStack, wfPreview)
		}
		if d := wfStepOutput.FindStringSubmatch(preview.Outputs["digest"]); d == nil || d[1] != preview.Steps[previewStep].ID {
			bad("%s: preview must output the summary's digest", wfStack)
		}
	}
	upload := preview.usesAction("actions/upload-artifact")
	download := apply.usesAction("actions/download-artifact")
	applyStep := apply.runsScript(wfApply)
	argo := apply.runsScript(wfArgoWait)
	status := apply.stepIndex(func(s ghStep) bool { return strings.Contains(s.Run, "/statuses/") })
	switch {
	case upload < 0 || upload < previewStep:
		bad("%s: the change summary must be uploaded as an artifact after the preview", wfStack)
	case !strings.Contains(preview.Steps[upload].with("path"), "summary.json"):
		bad("%s: the uploaded artifact must hold summary.json", wfStack)
	default:
		// Item 6: the summary must outlive the longest wait for approval.
		if days, _ := strconv.Atoi(preview.Steps[upload].with("retention-days")); days < wfApprovalWait {
			bad("%s: the summary artifact's retention (%d days) is shorter than the %d days a deployment may wait for approval", wfStack, days, wfApprovalWait)
		}
	}
	if applyStep < 0 {
		bad("%s: apply must run %s (fresh preview, compare with the approved summary, up)", wfStack, wfApply)
	}
	if download < 0 || applyStep < download {
		bad("%s: apply must download the approved summary before %s", wfStack, wfApply)
	} else if upload >= 0 {
		u, d := preview.Steps[upload], apply.Steps[download]
		if u.with("name") != d.with("name") {
			bad("%s: artifact uploaded as %q but downloaded as %q", wfStack, u.with("name"), d.with("name"))
		}
		if applyStep >= 0 {
			env := apply.Steps[applyStep].Env
			if !strings.HasPrefix(env["APPROVED_SUMMARY"], d.with("path")+"/") {
				bad("%s: APPROVED_SUMMARY %q is not in the downloaded artifact %q", wfStack, env["APPROVED_SUMMARY"], d.with("path"))
			}
			if env["APPROVED_DIGEST"] != "${{ needs.preview.outputs.digest }}" {
				bad("%s: apply must check APPROVED_DIGEST against the preview's digest output", wfStack)
			}
		}
		// Item 6: an expired artifact fails with a message that says to re-run.
		explain := apply.stepIndex(func(s ghStep) bool {
			return strings.Contains(s.If, "failure()") && strings.Contains(s.If, "steps."+d.ID+".outcome") && strings.Contains(strings.ToLower(s.Run), "re-run")
		})
		if d.ID == "" || explain < download {
			bad("%s: when the approved summary cannot be downloaded (expired), a step must say to re-run the workflow", wfStack)
		}
	}
	if !contains(apply.needs(), "preview") {
		bad("%s: apply must need preview", wfStack)
	}
	if !strings.Contains(apply.If, "needs.preview.outputs.changes == 'true'") || preview.Outputs["changes"] == "" {
		bad("%s: apply must run only when the preview's summary changes something", wfStack)
	}
	if apply.environmentName() != "${{ inputs.stack }}" {
		bad("%s: apply must run in the stack's protected environment", wfStack)
	}
	if argo < 0 || argo < applyStep {
		bad("%s: apply must wait for Argo CD after %s", wfStack, wfApply)
	} else {
		// Item 8: a kubeconfig of this job, under RUNNER_TEMP.
		run := apply.Steps[argo].Run
		if !regexp.MustCompile(`KUBECONFIG="?\$RUNNER_TEMP/`).MatchString(run) || !strings.Contains(run, `--kubeconfig "$KUBECONFIG"`) {
			bad("%s: the Argo CD wait must write and use a kubeconfig under $RUNNER_TEMP (KUBECONFIG and --kubeconfig)", wfStack)
		}
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
	return wfStackGroup(pc.Group)
}

// wfPullRequestProblems: preview per stack with the summary as a PR comment,
// posted by a job that does not run the branch's code.
func wfPullRequestProblems(pr ghWorkflow, bad func(string, ...any)) []string {
	if _, ok := pr.On["pull_request"]; !ok {
		bad("%s: must run on pull_request", wfPullRequest)
	}
	preview, comment := pr.Jobs["preview"], pr.Jobs["comment"]
	if !strings.Contains(preview.If, "github.event.pull_request.head.repo.full_name == github.repository") {
		bad("%s: preview must not run for pull requests from forks", wfPullRequest)
	}
	if !contains(preview.needs(), "test") {
		bad("%s: preview must need test", wfPullRequest)
	}
	if preview.runsScript(wfPreview) < 0 {
		bad("%s: preview must run %s", wfPullRequest, wfPreview)
	}
	if c, ok := wfConcurrency(preview.Concurrency); !ok || !strings.Contains(c.Group, "matrix.stack") {
		bad("%s: preview concurrency group must be per stack", wfPullRequest)
	}
	if i := comment.runsScript(wfPRComment); i < 0 || !contains(comment.needs(), "preview") {
		bad("%s: a comment job after preview must post the summary with %s", wfPullRequest, wfPRComment)
	} else if !strings.Contains(comment.Steps[i].Env["MARKER"], "matrix.stack") {
		bad("%s: the PR comment marker must be per stack (one comment each, edited on each push)", wfPullRequest)
	}
	if strings.Join(comment.matrixStacks(), ",") != strings.Join(preview.matrixStacks(), ",") {
		bad("%s: the comment job's stacks %v differ from the preview's %v", wfPullRequest, comment.matrixStacks(), preview.matrixStacks())
	}
	// Issue 9: the monthly cost difference of main (the PR's base) and the
	// head, in the same comment as the preview.
	cost := pr.Jobs["cost"]
	if i := cost.runsScript(wfCostDiff); i < 0 || !strings.Contains(cost.Steps[i].Env["BASE_SHA"], "github.event.pull_request.base.sha") {
		bad("%s: a cost job must run %s with BASE_SHA from github.event.pull_request.base.sha", wfPullRequest, wfCostDiff)
	}
	fetchesBase := false
	for _, st := range cost.Steps {
		if st.action() == "actions/checkout" && st.with("fetch-depth") == "0" {
			fetchesBase = true
		}
	}
	if !fetchesBase {
		bad("%s: the cost job's checkout needs fetch-depth: 0 to price the base commit", wfPullRequest)
	}
	if !contains(comment.needs(), "cost") {
		bad("%s: the comment job must need cost, so the difference is posted with the preview", wfPullRequest)
	}
	if strings.Join(cost.matrixStacks(), ",") != strings.Join(preview.matrixStacks(), ",") {
		bad("%s: the cost job's stacks %v differ from the preview's %v", wfPullRequest, cost.matrixStacks(), preview.matrixStacks())
	}
	return preview.matrixStacks()
}

// wfDriftProblems: a scheduled refresh-preview of main per stack, in its own
// concurrency group, yielding to deploys, never skipped by failing tests,
// reported as one issue per stack.
func wfDriftProblems(drift ghWorkflow, deployGroup string, bad func(string, ...any)) []string {
	schedule, _ := drift.On["schedule"].([]any)
	if len(schedule) == 0 || !wfCron.MatchString(fmt.Sprint(path(schedule[0], "cron"))) {
		bad("%s: must run on a cron schedule", wfDrift)
	}
	gate, check, report := drift.Jobs["gate"], drift.Jobs["drift"], drift.Jobs["report"]
	if check.runsScript(wfDriftCheck) < 0 {
		bad("%s: the drift job must run %s", wfDrift, wfDriftCheck)
	}
	dc, ok := wfConcurrency(check.Concurrency)
	if !ok || dc.CancelInProgress || !strings.Contains(dc.Group, "matrix.stack") {
		bad("%s: drift needs a per-stack concurrency group without cancel-in-progress", wfDrift)
	} else if wfStackGroup(dc.Group) == deployGroup {
		bad("%s: drift must not share the deploy's concurrency group %s: a queued drift run would cancel a pending deploy job", wfDrift, dc.Group)
	}
	// Item 5: yield to a deploy of main in progress (queued, waiting, running).
	if gate.runsScript(wfDeployBusy) < 0 || gate.permissions()["actions"] != "read" {
		bad("%s: a gate job must run %s (with actions: read)", wfDrift, wfDeployBusy)
	}
	if !contains(check.needs(), "gate") || !strings.Contains(check.If, "needs.gate.outputs.busy != 'true'") {
		bad("%s: the drift job must yield while a deploy runs (needs gate, if needs.gate.outputs.busy != 'true')", wfDrift)
	}
	// Item 9: a failing test job must not silently skip the drift check.
	if contains(check.needs(), "test") && !strings.Contains(check.If, "!cancelled()") && !strings.Contains(check.If, "always()") {
		bad("%s: the drift job needs test without !cancelled(): failing tests would silently skip the drift check", wfDrift)
	}
	for name, job := range map[string]ghJob{"gate": gate, "report": report} {
		if !strings.Contains(job.If, wfMainRef) {
			bad("%s: %s must run only for %s", wfDrift, name, wfMainRef)
		}
	}
	// Item 9: drift notifies: one issue per stack, opened, updated and closed.
	if i := report.runsScript(wfDriftIssue); i < 0 || !contains(report.needs(), "drift") ||
		(!strings.Contains(report.If, "!cancelled()") && !strings.Contains(report.If, "always()")) {
		bad("%s: a report job must run %s after the drift job, whatever its result", wfDrift, wfDriftIssue)
	} else if report.Steps[i].Env["TEST_RESULT"] != "${{ needs.test.result }}" {
		bad("%s: the drift issue must say when the tests failed (TEST_RESULT)", wfDrift)
	}
	if strings.Join(report.matrixStacks(), ",") != strings.Join(check.matrixStacks(), ",") {
		bad("%s: the report job's stacks %v differ from the drift job's %v", wfDrift, report.matrixStacks(), check.matrixStacks())
	}
	return check.matrixStacks()
}

// wfCheckTests: the workflow vets and tests the Go code before anything else.
func wfCheckTests(name string, wf ghWorkflow) []string {
	test, ok := wf.Jobs["test"]
	if !ok {
		return []string{name + ": no test job"}
	}
	var vet, promql bool
	gotest := -1
	for i, s := range test.Steps {
		vet = vet || strings.Contains(s.Run, "go vet ./...")
		if gotest < 0 && strings.Contains(s.Run, "go test") && strings.Contains(s.Run, "./...") {
			gotest = i
		}
		promql = promql || strings.Contains(s.Run, "go -C tests/promql test ./...")
	}
	if !vet || gotest < 0 {
		return []string{name + ": test job must run go vet ./... and go test ./..."}
	}
	// Issue 19 item 13: the PromQL module is tested wherever the code is.
	if !promql {
		return []string{name + ": test job must run the PromQL tests: go -C tests/promql test ./..."}
	}
	return wfCheckChartsFetched(name, test.Steps, gotest)
}

// The steps of each test job that fetch the charts and test with them, as
// the regression cases move them.
const (
	wfFetchStep = "      - name: Fetch the pinned charts\n        run: go run ./cmd/aiplatform charts fetch -dir \"$AIPLATFORM_CHARTS\"\n        env:\n          AIPLATFORM_CHARTS: ${{ runner.temp }}/charts\n"
	wfTestStep  = "      - run: go test -p 1 ./...\n        env:\n          AIPLATFORM_CHARTS: ${{ runner.temp }}/charts\n"
)

// wfChartsFetch is the -dir argument of the step that fetches the charts.
var wfChartsFetch = regexp.MustCompile(`go run \./cmd/aiplatform charts fetch -dir ("[^"]*"|'[^']*'|\S+)`)

// wfCheckChartsFetched (issue 19 item 13): the chart tests run with charts.
// Without AIPLATFORM_CHARTS they look beside the checkout, where a GitHub
// runner has nothing, so the go test step must name the runner's own
// directory, and an earlier step must fetch the pinned charts into it
// (verified against their digests): in CI a missing chart fails the tests.
func wfCheckChartsFetched(name string, steps []ghStep, gotest int) []string {
	const want = "${{ runner.temp }}/charts"
	dir := steps[gotest].Env["AIPLATFORM_CHARTS"]
	if dir != want {
		return []string{fmt.Sprintf("%s: the go test step must read the fetched charts: env AIPLATFORM_CHARTS: %s (it has %q)", name, want, dir)}
	}
	for _, s := range steps[:gotest] {
		m := wfChartsFetch.FindStringSubmatch(s.Run)
		if m == nil {
			continue
		}
		arg := strings.Trim(m[1], `"'`)
		for _, ref := range []string{"${AIPLATFORM_CHARTS}", "$AIPLATFORM_CHARTS"} {
			arg = strings.ReplaceAll(arg, ref, s.Env["AIPLATFORM_CHARTS"])
		}
		if arg == dir {
			return nil
		}
		return []string{fmt.Sprintf("%s: the charts are fetched into %q, but go test reads AIPLATFORM_CHARTS=%s", name, arg, dir)}
	}
	return []string{fmt.Sprintf("%s: test job must fetch the pinned charts before go test: go run ./cmd/aiplatform charts fetch -dir \"$AIPLATFORM_CHARTS\" (env AIPLATFORM_CHARTS: %s)", name, want)}
}

func wfPolicyFor(t *testing.T) wfPolicy {
	return wfPolicy{pulumiVersion: wfGoModPulumiVersion(t), secretsProviders: wfSecretsProviders(t)}
}

func TestWorkflowsPassPolicy(t *testing.T) {
	problems := wfProblems(wfRead(t), wfPolicyFor(t))
	assert.Empty(t, problems, strings.Join(problems, "\n"))
}

func TestWorkflowPolicyCatchesRegressions(t *testing.T) {
	files := wfRead(t)
	policy := wfPolicyFor(t)
	cases := []struct {
		name, file, old, new, want string
	}{
		// Approval and the change summary (item 4).
		{"apply without approval", wfStack, "    environment:\n      name: ${{ inputs.stack }}\n", "", "protected environment"},
		{"apply ignores the approval", wfStack, "run: bash .github/scripts/pulumi-apply.sh", `run: pulumi up --stack "$STACK" --yes`, "apply must run " + wfApply},
		{"apply trusts any summary", wfStack, "          APPROVED_DIGEST: ${{ needs.preview.outputs.digest }}\n", "", "APPROVED_DIGEST"},
		{"apply reads another file", wfStack, "APPROVED_SUMMARY: approved/summary.json", "APPROVED_SUMMARY: summary.json", "not in the downloaded artifact"},
		{"preview without summary", wfStack, "run: bash .github/scripts/pulumi-preview.sh", `run: pulumi preview --stack "$STACK"`, "preview must run " + wfPreview},
		{"summary not uploaded", wfStack, "            ${{ env.OUT_DIR }}/summary.json\n", "", "summary.json"},
		{"artifact name mismatch", wfStack, "name: pulumi-summary-${{ inputs.stack }}\n          path: approved", "name: summary\n          path: approved", "artifact uploaded as"},
		{"apply before preview", wfStack, "    needs: preview\n", "", "apply must need preview"},
		{"apply not after preview's changes", wfStack, "needs.preview.outputs.changes == 'true' && ", "", "only when"},
		{"no argo wait", wfStack, "bash .github/scripts/argocd-wait.sh", "true", "wait for Argo CD"},
		{"status only on success", wfStack, "if: always() && steps.argocd.outcome != 'skipped'", "if: success()", "commit status"},
		{"apply cancels in progress", wfStack, "      cancel-in-progress: false\n    steps:", "      cancel-in-progress: true\n    steps:", "cancel-in-progress"},
		{"groups differ", wfStack, "    concurrency:\n      group: pulumi-${{ inputs.stack }}\n      cancel-in-progress: false\n    outputs:", "    concurrency:\n      group: preview-${{ inputs.stack }}\n      cancel-in-progress: false\n    outputs:", "share one per-stack concurrency group"},
		{"no PromQL tests", wfPullRequest, "      - run: go -C tests/promql test ./...\n", "", "must run the PromQL tests"},
		{"no PromQL tests before deploy", wfDeploy, "      - run: go -C tests/promql test ./...\n", "", "must run the PromQL tests"},
		{"no charts fetched", wfPullRequest, "        run: go run ./cmd/aiplatform charts fetch -dir \"$AIPLATFORM_CHARTS\"\n", "        run: true\n", "must fetch the pinned charts before go test"},
		{"charts fetched after the tests", wfDrift, wfFetchStep + wfTestStep, wfTestStep + wfFetchStep, "must fetch the pinned charts before go test"},
		{"tests without the charts", wfDeploy, "      - run: go test -p 1 ./...\n        env:\n          AIPLATFORM_CHARTS: ${{ runner.temp }}/charts\n", "      - run: go test -p 1 ./...\n", "the go test step must read the fetched charts"},
		{"charts fetched elsewhere", wfDeploy, "charts fetch -dir \"$AIPLATFORM_CHARTS\"", "charts fetch -dir /tmp/charts", `fetched into "/tmp/charts"`},
		// Issue 9: the cost difference in the PR comment.
		{"no cost job", wfPullRequest, "run: bash .github/scripts/cost-diff.sh", "run: go run ./cmd/aiplatform cost", "cost job must run " + wfCostDiff},
		{"cost of the wrong base", wfPullRequest, "BASE_SHA: ${{ github.event.pull_request.base.sha }}", "BASE_SHA: ${{ github.sha }}", "BASE_SHA from github.event.pull_request.base.sha"},
		{"cost without the base commit", wfPullRequest, "          fetch-depth: 0\n", "", "fetch-depth: 0"},
		{"cost not in the comment", wfPullRequest, "needs: [preview, cost]", "needs: [preview]", "must need cost"},
		// Identity and pinning.
		{"static keys", wfStack, "          role-to-assume: ${{ vars.AWS_APPLY_ROLE_ARN }}\n", "          aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}\n", "long-lived"},
		{"unpinned action", wfPullRequest, "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1", "actions/checkout@v7", "pinned to a commit"},
		{"pin without version note", wfDrift, "actions/setup-go@b7ad1dad31e06c5925ef5d2fc7ad053ef454303e # v7.0.0", "actions/setup-go@b7ad1dad31e06c5925ef5d2fc7ad053ef454303e", "pinned to a commit"},
		{"inconsistent pins", wfDrift, "actions/setup-go@b7ad1dad31e06c5925ef5d2fc7ad053ef454303e # v7.0.0", "actions/setup-go@924ae3a1cded613372ab5595356fb5720e22ba16 # v6.5.0", "elsewhere"},
		{"node 20 minor release", wfDrift, "actions/setup-go@b7ad1dad31e06c5925ef5d2fc7ad053ef454303e # v7.0.0", "actions/setup-go@4dc6199c7b1a012772edbd06daecab0f50c9053c # v6.1.0", "v6.1 runs on Node 20"},
		// Item 12: Node 24 actions, a verified CLI, cached plugins.
		{"node 20 action", wfDeploy, "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1", "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2", "Node 20"},
		{"unknown action", wfDeploy, "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1", "example/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1", "not a known Node 24 action"},
		{"unverified CLI", wfDrift, "      - name: Install the Pulumi CLI (checksum verified)\n        run: bash .github/scripts/install-pulumi.sh\n", "      - uses: pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d # v7.0.0\n", "install-pulumi.sh"},
		{"no plugin cache", wfDrift, "            ~/.pulumi/plugins\n", "", "cache ~/.pulumi/plugins"},
		{"CLI drifts from go.mod", wfDrift, "PULUMI_VERSION: " + policy.pulumiVersion, "PULUMI_VERSION: 3.100.0", "differs from the pulumi sdk"},
		// Item 2: the secrets provider.
		{"passphrase fallback", wfDrift, "  PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER: \"true\"\n", "", "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER"},
		// Item 3: backend URL and preflight.
		{"no preflight", wfDrift, "      - name: Check backend, stack and secrets provider\n        run: bash .github/scripts/pulumi-preflight.sh\n", "", "before " + wfPreflight},
		{"backend not from vars", wfPullRequest, "  PULUMI_BACKEND_URL: ${{ vars.PULUMI_BACKEND_URL }}\n", "", "PULUMI_BACKEND_URL must come"},
		// Item 5: concurrency and branches.
		{"deploy cancels runs", wfDeploy, "cancel-in-progress: false", "cancel-in-progress: true", "never cancel an apply"},
		{"one group for every branch", wfDeploy, "group: deploy-${{ github.ref }}", "group: deploy-main", "github.ref"},
		{"deploy from any branch", wfDeploy, "    if: github.ref == 'refs/heads/main'\n", "", "must deploy only"},
		{"apply from any branch", wfStack, " && github.ref == 'refs/heads/main'", "", "apply must run only for"},
		{"drift shares the deploy's group", wfDrift, "group: drift-${{ matrix.stack }}", "group: pulumi-${{ matrix.stack }}", "displace"},
		{"drift does not yield", wfDrift, " && needs.gate.outputs.busy != 'true'", "", "yield"},
		// Item 6: retention.
		{"summary expires before approval", wfStack, "retention-days: 30", "retention-days: 7", "shorter than the 30 days"},
		{"expired summary unexplained", wfStack, "        if: failure() && steps.approved.outcome == 'failure'\n", "        if: always()\n", "re-run"},
		// Item 7: output changes.
		{"changes ignore outputs", wfStack, "changes: ${{ steps.preview.outputs.changes }}", "changes: ${{ steps.resources.outputs.changes }}", "counts output changes"},
		// Item 8: kubeconfig.
		{"shared kubeconfig", wfStack, `export KUBECONFIG="$RUNNER_TEMP/kubeconfig-$STACK"`, `export KUBECONFIG="$HOME/.kube/config"`, "RUNNER_TEMP"},
		// Item 9: drift notifications.
		{"failing tests skip drift", wfDrift, "if: ${{ !cancelled() && needs.gate.result", "if: ${{ needs.gate.result", "silently skip"},
		{"drift notifies nobody", wfDrift, "RESULT=$result bash .github/scripts/drift-issue.sh", "echo \"$result\"", "drift-issue.sh"},
		{"drift issue on the VPC runner", wfDrift, "    runs-on: ubuntu-latest\n    timeout-minutes: 10\n    permissions:\n      contents: read\n      issues: write", "    runs-on: " + runsOnPool("PULUMI_DEPLOY_RUNNER") + "\n    timeout-minutes: 10\n    permissions:\n      contents: read\n      issues: write", "GitHub-hosted"},
		{"drift not scheduled", wfDrift, "  schedule:\n    - cron: \"17 5 * * *\"\n", "", "cron schedule"},
		{"no drift check", wfDrift, "run: bash .github/scripts/pulumi-drift.sh", "run: true", "must run " + wfDriftCheck},
		// Item 10: runners.
		{"PR previews on the deploy runners", wfPullRequest, runsOnPool("PULUMI_PR_RUNNER"), runsOnPool("PULUMI_DEPLOY_RUNNER"), "PULUMI_PR_RUNNER"},
		{"apply off the deploy runners", wfStack, "    if: needs.preview.outputs.changes == 'true' && github.ref == 'refs/heads/main'\n    runs-on: " + runsOnPool("PULUMI_DEPLOY_RUNNER"), "    if: needs.preview.outputs.changes == 'true' && github.ref == 'refs/heads/main'\n    runs-on: ubuntu-latest", "PULUMI_DEPLOY_RUNNER"},
		{"CodeBuild pool without the run's label", wfStack, runsOnPool("PULUMI_DEPLOY_RUNNER"), "${{ vars.PULUMI_DEPLOY_RUNNER || 'ubuntu-latest' }}", "needs its label with the run's id"},
		{"runner separation unchecked", wfStack, "        run: bash .github/scripts/check-ci-settings.sh\n", "        run: true\n", wfCISettings},
		// Item 11: environment protection.
		{"environment unchecked", wfStack, "        run: bash .github/scripts/check-environment.sh\n", "        run: true\n", wfEnvCheck},
		// Pull requests.
		{"fork PRs reach the cloud", wfPullRequest, "    if: github.event.pull_request.head.repo.full_name == github.repository\n", "", "forks"},
		{"no PR comment", wfPullRequest, "          bash .github/scripts/pr-comment.sh\n", "          true\n", "comment job"},
		{"PR code with a write token", wfPullRequest, "      contents: read\n      id-token: write\n", "      contents: read\n      id-token: write\n      pull-requests: write\n", "pull-requests: write is not needed"},
		{"PR preview without OIDC", wfPullRequest, "      contents: read\n      id-token: write\n", "      contents: read\n", "without id-token"},
		{"needless write", wfPullRequest, "  test:\n    runs-on: ubuntu-latest\n    timeout-minutes: 30\n    permissions:\n      contents: read\n", "  test:\n    runs-on: ubuntu-latest\n    timeout-minutes: 30\n    permissions:\n      contents: write\n", "contents: write is not needed"},
		{"broad default permissions", wfPullRequest, "permissions: {}", "permissions: write-all", "top-level permissions"},
		// Tests and the rest.
		{"deploy skips tests", wfDeploy, "    needs: [test, lds-image]\n    if:", "    needs: [lds-image]\n    if:", "must need test"},
		{"caller withholds OIDC", wfDeploy, "      id-token: write\n      statuses: write\n    uses:", "      statuses: write\n    uses:", "must grant id-token"},
		{"caller withholds actions: read", wfDeploy, "      actions: read\n      id-token: write\n      statuses: write\n    uses:", "      id-token: write\n      statuses: write\n    uses:", "must grant actions: read"},
		{"no go vet", wfPullRequest, "      - run: go vet ./...\n", "", "go vet"},
		{"no build cache", wfPullRequest, "cache: true", "cache: false", "build cache"},
		{"stack lists diverge", wfDrift, "stack: [dev]", "stack: [dev, prod]", "differ"},
		{"pipe without pipefail", wfDrift, "run: bash .github/scripts/pulumi-drift.sh", "run: bash .github/scripts/pulumi-drift.sh | tee drift.txt", "pipefail"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mutated := map[string]string{}
			for k, v := range files {
				mutated[k] = v
			}
			require.Contains(t, mutated[c.file], c.old, "mutation no longer applies; update the test")
			mutated[c.file] = strings.Replace(mutated[c.file], c.old, c.new, 1)
			problems := wfProblems(mutated, policy)
			joined := strings.Join(problems, "\n")
			assert.Contains(t, joined, c.want)
		})
	}
}

// Item 2: a committed provider that is not awskms:// is caught, and a
// committed awskms:// provider makes the fallback unnecessary.
func TestWorkflowPolicySecretsProviders(t *testing.T) {
	files := wfRead(t)
	version := wfGoModPulumiVersion(t)
	noFallback := map[string]string{}
	for k, v := range files {
		noFallback[k] = strings.ReplaceAll(v, "  PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER: \"true\"\n", "")
	}
	problems := wfProblems(noFallback, wfPolicy{pulumiVersion: version, secretsProviders: map[string]string{"dev": "awskms://alias/aiplatform-pulumi-secrets?region=us-west-2"}})
	assert.Empty(t, problems, "a committed awskms provider needs no fallback")
	problems = wfProblems(files, wfPolicy{pulumiVersion: version, secretsProviders: map[string]string{"dev": "passphrase"}})
	assert.Contains(t, strings.Join(problems, "\n"), "Pulumi.dev.yaml: secretsprovider passphrase is not awskms://")
}

// Every stack deployed by CI has its stack config next to the main project,
// and an awskms:// secrets provider: committed (with its encryptedkey), or
// the state's, which every pulumi job then allows with
// PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER (checked by wfProblems; the
// preflight script fails with instructions when neither exists).
func TestWorkflowStacksHaveStackConfigAndKMSSecrets(t *testing.T) {
	providers := wfSecretsProviders(t)
	var deploy ghWorkflow
	require.NoError(t, yaml.Unmarshal([]byte(wfRead(t)[wfDeploy]), &deploy))
	for _, job := range deploy.Jobs {
		stack, ok := job.With["stack"]
		if !ok {
			continue
		}
		provider, exists := providers[fmt.Sprint(stack)]
		assert.True(t, exists, "Pulumi.%s.yaml is missing", stack)
		if provider != "" {
			assert.True(t, strings.HasPrefix(provider, "awskms://"), "stack %s: secretsprovider %s", stack, provider)
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

// runsOnPool is the runs-on of a job on a runner pool: the variable's label,
// or for a CodeBuild-hosted pool (the bootstrap's runners option, whose
// variables hold codebuild-<project>) the label CodeBuild requires,
// codebuild-<project>-${{ github.run_id }}-${{ github.run_attempt }} (CodeBuild
// User Guide, "Label overrides supported with the CodeBuild-hosted GitHub
// Actions runner"), or GitHub-hosted when the variable is empty.
func runsOnPool(variable string) string {
	v := "vars." + variable
	return "${{ startsWith(" + v + ", 'codebuild-') && format('{0}-{1}-{2}', " + v + ", github.run_id, github.run_attempt) || " + v + " || 'ubuntu-latest' }}"
}

// setup writes statebackend.RunnerLabel into the pools' variables; the
// workflows' runs-on (runsOnPool) recognises a CodeBuild pool by its prefix.
func TestRunnerLabelsAreCodeBuildLabels(t *testing.T) {
	for _, p := range statebackend.RunnerPools {
		assert.True(t, strings.HasPrefix(statebackend.RunnerLabel(p.Name), "codebuild-"), p.Name)
	}
}
