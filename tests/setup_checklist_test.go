package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aiplatform/infra/internal/setup"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 22: what setup cannot do is a checklist (internal/setup,
// ItemSpecs), and a preflight script that finds an item not done names it
// as setup printed it. The IDs and titles come from the Go table, so a
// renamed item fails here until the scripts say the new name.

// scChecklistDetection is one way a preflight script finds an item not
// done: the script, run under the condition that makes the item missing.
type scChecklistDetection struct {
	id        setup.ItemID
	script    string
	condition string
	// run runs the script under the condition: its output and exit code.
	run func(t *testing.T) (string, int)
}

// The account setup's bootstrap made the apply role in (anything but AWS's
// documentation account 123456789012, which the committed config uses).
const scAccount = "210987654321"

// scCommittedStackFile is Pulumi.dev.yaml as committed.
func scCommittedStackFile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "Pulumi.dev.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(b), "arn:aws:iam::123456789012:role/platform-admin", "the committed placeholder these cases start from")
	return string(b)
}

// scAfterSetup is the committed stack file as setup leaves it: the KMS
// secrets provider's lines, and the apply role as the cluster's creator.
func scAfterSetup(t *testing.T) string {
	t.Helper()
	f := strings.Replace(scCommittedStackFile(t),
		"aiplatform:clusterCreatorRoleArn: arn:aws:iam::123456789012:role/platform-admin",
		"aiplatform:clusterCreatorRoleArn: arn:aws:iam::"+scAccount+":role/aiplatform-pulumi-state-ci-apply-0a1b2c3", 1)
	return "secretsprovider: awskms://alias/aiplatform-pulumi-secrets?region=us-west-2\nencryptedkey: AQICAHh0ZXN0\n" + f
}

// scPreflight runs pulumi-preflight.sh on a stack file, against a stack
// freshly created by setup (no provider in its state yet), with the
// environment of the workflows (which set PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER).
func scPreflight(t *testing.T, stackFile string) (string, int) {
	t.Helper()
	fakes := wfFakePulumi(t, map[string]string{"state.json": `{"version":3,"deployment":{"manifest":{}}}`})
	project := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(project, "Pulumi.dev.yaml"), []byte(stackFile), 0o644))
	return wfRunScript(t, wfPulumiEnv(t.TempDir(), "PULUMI_CWD", project, "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER", "true"), fakes, "pulumi-preflight.sh")
}

// scEnvironmentCheck runs check-environment.sh against a protected
// repository's recorded responses, with overrides, on the checkout root.
func scEnvironmentCheck(t *testing.T, overrides map[string]string, root string) (string, int) {
	t.Helper()
	return wfRunScript(t, map[string]string{"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "acme/infra", "ENVIRONMENT": "dev",
		"GITHUB_API_URL": "https://api.example.test", "REPO_ROOT": root}, wfGuardsFakeCurl(t, wfGuardsResponses(overrides)), "check-environment.sh")
}

// scCISettings runs check-ci-settings.sh with setup's variables and the two runner labels.
func scCISettings(t *testing.T, prRunner, deployRunner string) (string, int) {
	t.Helper()
	return wfRunScript(t, map[string]string{"GITHUB_OUTPUT": filepath.Join(t.TempDir(), "out"), "GITHUB_ACTIONS": "true",
		"PULUMI_BACKEND_URL": "s3://b?region=us-west-2&awssdk=v2", "AWS_REGION": "us-west-2",
		"AWS_PREVIEW_ROLE_ARN": "arn:aws:iam::" + scAccount + ":role/preview", "AWS_APPLY_ROLE_ARN": "arn:aws:iam::" + scAccount + ":role/apply",
		"PULUMI_PR_RUNNER": prRunner, "PULUMI_DEPLOY_RUNNER": deployRunner}, "", "check-ci-settings.sh")
}

// scChecklistDetections: one row per way a script finds an item missing.
var scChecklistDetections = []scChecklistDetection{
	{setup.CodeownersTeam, "check-environment.sh", "GitHub reports an unknown owner in CODEOWNERS", func(t *testing.T) (string, int) {
		root, err := filepath.Abs("..")
		require.NoError(t, err)
		return scEnvironmentCheck(t, map[string]string{"GET " + wfGuardsAPI + "/codeowners/errors?ref=main": "codeowners-errors-unknown-owner.json"}, root)
	}},
	{setup.CodeownersTeam, "check-environment.sh", "no CODEOWNERS file", func(t *testing.T) (string, int) {
		return scEnvironmentCheck(t, nil, t.TempDir())
	}},
	{setup.RunnerPools, "check-ci-settings.sh", "one label for both pools", func(t *testing.T) (string, int) {
		return scCISettings(t, "aiplatform-runners", "aiplatform-runners")
	}},
	{setup.RunnerPools, "check-ci-settings.sh", "the deploy pool is GitHub-hosted", func(t *testing.T) (string, int) {
		return scCISettings(t, "aiplatform-pr", "ubuntu-latest")
	}},
	{setup.RunnerPools, "check-ci-settings.sh", "the pull-request pool is every self-hosted runner", func(t *testing.T) (string, int) {
		return scCISettings(t, "self-hosted", "aiplatform-deploy")
	}},
	{setup.StackConfig, "pulumi-preflight.sh", "adminRoleArns still the committed placeholder after setup", func(t *testing.T) (string, int) {
		return scPreflight(t, scAfterSetup(t))
	}},
	{setup.StackFileCommitted, "pulumi-preflight.sh", "the committed stack file, without setup's secretsprovider: and encryptedkey:", func(t *testing.T) (string, int) {
		return scPreflight(t, scCommittedStackFile(t))
	}},
	{setup.StackFileCommitted, "pulumi-preflight.sh", "secretsprovider: without encryptedkey:", func(t *testing.T) (string, int) {
		return scPreflight(t, strings.Replace(scAfterSetup(t), "encryptedkey: AQICAHh0ZXN0\n", "", 1))
	}},
}

// scChecklistNotByScripts are the items no preflight script names, each
// with who finds it instead (as docs/setup.md's table says) and why no
// script can.
var scChecklistNotByScripts = map[setup.ItemID]struct{ foundBy, why string }{
	// A person's approval cannot be found missing before it happens.
	setup.SecondApprover: {"enforced by GitHub", "the rules on main block the merge until a code owner other than the pusher approves; check-environment.sh checks the rules (TestWorkflowGuardsCheckEnvironment)"},
	setup.DeployReview:   {"enforced by GitHub", "the environment's required reviewers hold the apply; check-environment.sh checks reviewers, prevent self-review and no administrator bypass (TestWorkflowGuardsCheckEnvironment)"},
	// Which secrets a stack needs is the program's to say.
	setup.StackSecrets: {"the program's config validation", "a missing secret is refused in the preview, naming the key and `pulumi config set --secret` (tests/workloads_test.go, tests/observability_test.go)"},
	// A quota is read once, before the first deploy; a raised one stays raised.
	// A job's runner is not a job's to see: a pool without a connection
	// never starts one.
	setup.RunnerConnection: {"setup, on every run", "setup reads the connection's status with the administrator's credentials (internal/setup TestCodeBuildRunners); a job whose pool cannot register a runner waits in the queue, where no script runs"},
	setup.GPUQuotaRaise:    {"setup, before anything is deployed", "setup reads the quota with the administrator's credentials (internal/setup TestGPUQuotaShortfallIsAChecklistItem) before the first deploy"},
}

func TestSetupChecklistItemsNamedByPreflight(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq")
	for _, d := range scChecklistDetections {
		t.Run(string(d.id)+"/"+d.condition, func(t *testing.T) {
			t.Parallel()
			spec, ok := setup.Spec(d.id)
			require.True(t, ok, "%s is an item of setup's checklist", d.id)
			log, code := d.run(t)
			assert.NotEqual(t, 0, code, "%s refuses: %s", d.script, log)
			assert.Contains(t, log, spec.NotDone()+": ", "%s names the item as setup printed it", d.script)
		})
	}
}

// Adding an item to the checklist means deciding how the pipeline finds it
// missing: a row of scChecklistDetections, or an entry, with the reason, in
// scChecklistNotByScripts; docs/setup.md says the same.
func TestSetupChecklistEveryItemDecided(t *testing.T) {
	t.Parallel()
	scripts := map[setup.ItemID][]string{}
	for _, d := range scChecklistDetections {
		scripts[d.id] = append(scripts[d.id], d.script)
	}
	doc := wfReadFile(t, filepath.Join("..", "docs", "setup.md"))
	_, section, ok := strings.Cut(doc, "\n## When the pipeline names a checklist item\n")
	require.True(t, ok, "docs/setup.md has the section")
	section, _, _ = strings.Cut(section, "\n## ")
	rows := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\| ([^|]*) \\|").FindAllStringSubmatch(section, -1) {
		rows[m[1]] = m[2]
	}
	require.Len(t, rows, len(setup.ItemSpecs), "one row per item")

	for _, s := range setup.ItemSpecs {
		other, notByScript := scChecklistNotByScripts[s.ID]
		if !assert.True(t, (len(scripts[s.ID]) > 0) != notByScript,
			"%s: a script names it (a row of scChecklistDetections) or scChecklistNotByScripts says who finds it instead, not both", s.ID) {
			continue
		}
		for _, script := range scripts[s.ID] {
			assert.Contains(t, rows[string(s.ID)], "`"+script+"`", "docs/setup.md: %s is found by %s", s.ID, script)
		}
		if notByScript {
			assert.NotEmpty(t, other.why)
			assert.Contains(t, rows[string(s.ID)], other.foundBy, "docs/setup.md: who finds %s", s.ID)
		}
	}
	for id := range scChecklistNotByScripts {
		_, ok := setup.Spec(id)
		assert.True(t, ok, "%s is an item of setup's checklist", id)
	}
}

// stack-config: only the committed placeholder beside a real apply role is
// refused. The rehearsal's fake AWS lives in the documentation account
// (tests/realtier, FakeAccount), so there both roles are in it, and pass.
func TestSetupChecklistStackConfigPlaceholder(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq")
	spec, ok := setup.Spec(setup.StackConfig)
	require.True(t, ok)
	const placeholder = "arn:aws:iam::123456789012:role/platform-admin"
	mine := "arn:aws:iam::" + scAccount + ":role/platform-admin"
	cases := []struct {
		name  string
		edit  func(string) string
		names bool
	}{
		{"unedited", func(f string) string { return f }, true},
		{"edited", func(f string) string { return strings.Replace(f, "    - "+placeholder+"\n", "    - "+mine+"\n", 1) }, false},
		{"one of two still the placeholder", func(f string) string {
			return strings.Replace(f, "    - "+placeholder+"\n", "    - "+mine+"\n    - "+placeholder+"  # old\n", 1)
		}, true},
		{"flow style", func(f string) string {
			return strings.Replace(f, "  aiplatform:adminRoleArns:\n    - "+placeholder+"\n", "  aiplatform:adminRoleArns: ["+placeholder+"]\n", 1)
		}, true},
		{"creator in the documentation account too (the rehearsal)", func(f string) string {
			return strings.Replace(f, "arn:aws:iam::"+scAccount+":role/aiplatform-pulumi-state-ci-apply-0a1b2c3", placeholder, 1)
		}, false},
		{"no creator set", func(f string) string {
			return regexp.MustCompile(`(?m)^  aiplatform:clusterCreatorRoleArn: .*\n`).ReplaceAllString(f, "")
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			file := c.edit(scAfterSetup(t))
			if c.name != "unedited" {
				require.NotEqual(t, scAfterSetup(t), file, "the edit applies")
			}
			log, code := scPreflight(t, file)
			if c.names {
				assert.Equal(t, 2, code, log)
				assert.Contains(t, log, spec.NotDone()+": ")
				assert.Contains(t, log, "adminRoleArns still holds "+placeholder+", in AWS's documentation account 123456789012")
				assert.Contains(t, log, "is in account "+scAccount)
				assert.NotContains(t, log, mine)
			} else {
				assert.Equal(t, 0, code, log)
				assert.Contains(t, log, "preflight: stack dev in s3://state-bucket")
			}
		})
	}
}
