package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The .github/scripts run here against fake pulumi, kubectl, curl and gh
// commands and the canned engine event streams in .github/scripts/testdata
// (hand-written in the shape of apitype.EngineEvent, pulumi
// sdk/go/common/apitype/events.go, as `pulumi preview|up --json` stream them
// with PULUMI_ENABLE_STREAMING_JSON_PREVIEW).

// wfNeedTools skips when a tool the scripts need is missing (.ci/run
// installs jq).
func wfNeedTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install -y %s)", tool, tool)
		}
	}
}

func wfScript(name string) string {
	p, err := filepath.Abs(filepath.Join(wfScriptsDir, name))
	if err != nil {
		panic(err)
	}
	return p
}

func wfTestdata(name string) string { return wfScript(filepath.Join("testdata", name)) }

// wfRunScript runs a script with only env (plus PATH with the fakes first,
// HOME and TMPDIR), so nothing of the caller's GITHUB_* or PULUMI_* leaks in.
// It returns the combined output and the exit code.
func wfRunScript(t *testing.T, env map[string]string, fakes string, script string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{wfScript(script)}, args...)...)
	path := os.Getenv("PATH")
	if fakes != "" {
		path = fakes + string(os.PathListSeparator) + path
	}
	cmd.Env = []string{"PATH=" + path, "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir(), "LC_ALL=C.UTF-8"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	require.NoError(t, err)
	return string(out), 0
}

// wfFake writes an executable fake command and its data files into dir.
func wfFake(t *testing.T, dir, name, script string, files map[string]string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/usr/bin/env bash\n"+script), 0o755))
	for f, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte(content), 0o644))
	}
}

func wfReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	require.NoError(t, err)
	return string(b)
}

func wfCanned(t *testing.T, name string) string { return wfReadFile(t, wfTestdata(name)) }

// The fake pulumi: `preview` prints previewN.jsonl (N counts calls; falls back
// to preview.jsonl), writes plan.json (or {}) to its --save-plan path and
// exits with preview.status; `up` prints up.jsonl and
// exits with up.status; `stack export --file F` copies stateN.json (N counts
// calls; falls back to state.json) or fails as the CLI does for a missing
// stack. Every call is logged to pulumi.args.
const wfFakePulumiScript = `dir=$(cd "$(dirname "$0")" && pwd)
echo "$*" >> "$dir/pulumi.args"
echo "streaming=${PULUMI_ENABLE_STREAMING_JSON_PREVIEW:-}" >> "$dir/pulumi.env"
case "$1" in
version) echo v3.274.1 ;;
preview)
	prev=""; for a in "$@"; do if [ "$prev" = --save-plan ]; then cp "$dir/plan.json" "$a" 2>/dev/null || echo '{}' > "$a"; fi; prev=$a; done
	n=$(cat "$dir/preview.n" 2>/dev/null || echo 0); echo $((n + 1)) > "$dir/preview.n"
	f="$dir/preview$n.jsonl"; [ -f "$f" ] || f="$dir/preview.jsonl"
	cat "$f"; exit "$(cat "$dir/preview.status" 2>/dev/null || echo 0)" ;;
up) cat "$dir/up.jsonl"; exit "$(cat "$dir/up.status" 2>/dev/null || echo 0)" ;;
stack)
	if [ "$2" = export ]; then
		n=$(cat "$dir/export.n" 2>/dev/null || echo 0); echo $((n + 1)) > "$dir/export.n"
		f="$dir/state$n.json"; [ -f "$f" ] || f="$dir/state.json"
		if [ ! -f "$f" ]; then echo "error: no stack named 'dev' found" >&2; exit 255; fi
		while [ $# -gt 0 ]; do if [ "$1" = --file ]; then cp "$f" "$2"; fi; shift; done
	fi ;;
esac
`

func wfFakePulumi(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	wfFake(t, dir, "pulumi", wfFakePulumiScript, files)
	return dir
}

// wfSummary is summary.json (format: pulumi-summary.sh's header).
type wfSummary struct {
	Version   int    `json:"version"`
	Stack     string `json:"stack"`
	Resources []struct {
		Op   string   `json:"op"`
		URN  string   `json:"urn"`
		Keys []string `json:"keys"`
	} `json:"resources"`
	Outputs []struct {
		Name string `json:"name"`
		Op   string `json:"op"`
	} `json:"outputs"`
	Incomplete []struct {
		URN string `json:"urn"`
		Op  string `json:"op"`
	} `json:"incomplete"`
	Undetermined []struct {
		Op  string `json:"op"`
		URN string `json:"urn"`
	} `json:"undetermined"`
	Partial bool     `json:"partial"`
	Blocked []string `json:"blocked"`
	Changes bool     `json:"changes"`
}

// lines renders a summary as "op name [keys]" per resource and "output op
// name" per output, for compact assertions.
func (s wfSummary) lines() []string {
	var out []string
	for _, r := range s.Resources {
		name := r.URN[strings.LastIndex(r.URN, "::")+2:]
		line := r.Op + " " + name
		if len(r.Keys) > 0 {
			line += " [" + strings.Join(r.Keys, ",") + "]"
		}
		out = append(out, line)
	}
	for _, o := range s.Outputs {
		out = append(out, "output "+o.Op+" "+o.Name)
	}
	return out
}

// wfSummarize runs `pulumi-summary.sh summarize dev <canned>` into dir.
func wfSummarize(t *testing.T, dir, canned string) (string, wfSummary) {
	t.Helper()
	out, code := wfRunScript(t, nil, "", "pulumi-summary.sh", "summarize", "dev", wfTestdata(canned))
	require.Equal(t, 0, code, out)
	file := filepath.Join(dir, strings.TrimSuffix(canned, ".jsonl")+".summary.json")
	require.NoError(t, os.WriteFile(file, []byte(out), 0o644))
	var s wfSummary
	require.NoError(t, json.Unmarshal([]byte(out), &s), out)
	return file, s
}

const (
	wfChartURN = "urn:pulumi:dev::aiplatform::aiplatform:workloads:LoadBalancerController$kubernetes:helm.sh/v4:Chart::lbc"
	wfRoleURN  = "urn:pulumi:dev::aiplatform::aiplatform:workloads:LoadBalancerController$aws:iam/role:Role::lbc"
	wfNodesURN = "urn:pulumi:dev::aiplatform::aiplatform:infra:Cluster$aiplatform:infra:NodeGroup$aws:eks/nodeGroup:NodeGroup::aiplatform-dev-gpu"
)

// Item 4 and 7: what a reviewer approves, from canned previews.
func TestWorkflowSummaryOfCannedPreviews(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq")
	cases := []struct {
		canned           string
		lines            []string
		changes, partial bool
		blocked          string
		undetermined     int
	}{
		{"preview-update.jsonl", []string{"update aiplatform-dev-gpu [scalingConfig]", "output create argocdUrl"}, true, false, "", 0},
		// Item 7: an output-only change is a change (the apply job must run).
		{"preview-outputs-only.jsonl", []string{"output create tritonEndpoint"}, true, false, "", 0},
		// A secret output compares as [secret]: unchanged here.
		{"preview-no-changes.jsonl", nil, false, false, "", 0},
		// The refresh steps of a drift check are not changes; the update after them is.
		{"preview-drift.jsonl", []string{"update aiplatform-dev-https [cidrBlocks]"}, true, false, "", 0},
		// First deploy: the chart's values are unknown, it renders nothing: partial.
		{"preview-first-deploy.jsonl", []string{
			"create aiplatform-dev", "create aiplatform-dev", "create aiplatform-dev", "create aiplatform-dev",
			"create lbc", "create lbc", "create lbc", "create default_6_83_0", "create aiplatform-dev", "create aiplatform-dev",
			"output create clusterName", "output create kubeconfig"}, true, true, "", 0},
		// First deploy where the Kubernetes provider itself is unknown: the
		// chart renders nothing and does not warn; still partial.
		{"preview-first-deploy-unknown-provider.jsonl", []string{
			"create aiplatform-dev", "create aiplatform-dev", "create aiplatform-dev", "create aiplatform-dev",
			"create lbc", "create lbc", "create lbc", "create default_6_83_0", "create aiplatform-dev", "create aiplatform-dev",
			"output create clusterName", "output create kubeconfig"}, true, true, "", 0},
		// An existing chart whose values become unknown: its children show as
		// deletes that the update would not perform; refused.
		{"preview-blocked.jsonl", []string{"replace lbc [name]", "update lbc [values]"}, true, true, "already exists", 2},
	}
	for _, c := range cases {
		t.Run(c.canned, func(t *testing.T) {
			_, s := wfSummarize(t, t.TempDir(), c.canned)
			assert.Equal(t, 2, s.Version)
			assert.Equal(t, "dev", s.Stack)
			assert.Equal(t, c.lines, s.lines())
			assert.Equal(t, c.changes, s.Changes, "changes")
			assert.Equal(t, c.partial, s.Partial, "partial")
			assert.Len(t, s.Undetermined, c.undetermined)
			if c.blocked == "" {
				assert.Empty(t, s.Blocked)
			} else {
				require.Len(t, s.Blocked, 1)
				assert.Contains(t, s.Blocked[0], c.blocked)
			}
			if c.partial {
				require.Len(t, s.Incomplete, 1)
				assert.Equal(t, wfChartURN, s.Incomplete[0].URN)
			}
		})
	}
}

func TestWorkflowSummaryRefusesAnUnfinishedPreview(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq")
	events := filepath.Join(t.TempDir(), "events.jsonl")
	var kept []string
	for _, line := range strings.Split(wfCanned(t, "preview-update.jsonl"), "\n") {
		if !strings.Contains(line, "summaryEvent") {
			kept = append(kept, line)
		}
	}
	require.NoError(t, os.WriteFile(events, []byte(strings.Join(kept, "\n")), 0o644))
	out, code := wfRunScript(t, nil, "", "pulumi-summary.sh", "summarize", "dev", events)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "did not finish")
}

func TestWorkflowSummaryMarkdown(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq")
	dir := t.TempDir()
	cases := []struct {
		canned string
		want   []string
	}{
		{"preview-update.jsonl", []string{"### Preview of `dev`: 1 resource operations, 1 output changes",
			"| update | `aws:eks/nodeGroup:NodeGroup` aiplatform-dev-gpu | scalingConfig |",
			"~ scalingConfig.maxSize: 2 → 4", "- create `argocdUrl`: ∅ → https://argocd.ai.example.com",
			"warning: `aws:eks/nodeGroup:NodeGroup` aiplatform-dev-gpu: verification warning", "sha256:0123abcd"}},
		{"preview-first-deploy.jsonl", []string{"**Partial preview.**", "> - create `kubernetes:helm.sh/v4:Chart` lbc",
			"- create `kubeconfig`: ∅ → (known after apply)"}},
		{"preview-blocked.jsonl", []string{"**Blocked: apply will refuse this preview.**", "~ values: {\"a\":1} → (known after apply)",
			"- delete `kubernetes:apps/v1:Deployment` lbc:kube-system/aws-load-balancer-controller"}},
	}
	for _, c := range cases {
		t.Run(c.canned, func(t *testing.T) {
			summary, _ := wfSummarize(t, dir, c.canned)
			out, code := wfRunScript(t, nil, "", "pulumi-summary.sh", "markdown", summary, wfTestdata(c.canned), "0123abcd")
			require.Equal(t, 0, code, out)
			for _, w := range c.want {
				assert.Contains(t, out, w)
			}
			assert.NotContains(t, out, "1b47061264138c4ac30d75fd1eb44270", "secrets render as [secret]")
		})
	}
}

func TestWorkflowSummaryCompare(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq")
	dir := t.TempDir()
	approved, _ := wfSummarize(t, dir, "preview-update.jsonl")
	changed, _ := wfSummarize(t, dir, "preview-update-changed.jsonl")
	partial, _ := wfSummarize(t, dir, "preview-first-deploy.jsonl")

	out, code := wfRunScript(t, nil, "", "pulumi-summary.sh", "compare", approved, approved)
	assert.Equal(t, 0, code, out)
	out, code = wfRunScript(t, nil, "", "pulumi-summary.sh", "compare", partial, partial)
	assert.Equal(t, 0, code, "a partial summary compares its known part: %s", out)

	out, code = wfRunScript(t, nil, "", "pulumi-summary.sh", "compare", approved, changed)
	assert.Equal(t, 3, code, out)
	assert.Contains(t, out, "approved, not in the fresh preview:  update "+wfNodesURN+" [scalingConfig]")
	assert.Contains(t, out, "in the fresh preview, not approved:  update "+wfNodesURN+" [labels,scalingConfig]")
	assert.Contains(t, out, "in the fresh preview, not approved:  delete "+wfRoleURN)
}

func TestWorkflowSummaryCheckUpdate(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq")
	dir := t.TempDir()
	var report struct {
		Unapproved, Unpreviewed, NotPerformed []struct{ Op, URN string }
	}

	// First deploy: everything approved happened; the chart's children were
	// created without having been previewed (listed, allowed).
	first, _ := wfSummarize(t, dir, "preview-first-deploy.jsonl")
	out, code := wfRunScript(t, nil, "", "pulumi-summary.sh", "check-update", first, wfTestdata("up-first-deploy.jsonl"))
	require.Equal(t, 0, code, out)
	require.NoError(t, json.Unmarshal([]byte(out), &report))
	assert.Empty(t, report.Unapproved)
	assert.Len(t, report.Unpreviewed, 2)
	for _, u := range report.Unpreviewed {
		assert.True(t, strings.HasPrefix(u.URN, strings.TrimSuffix(wfChartURN, "::lbc")+"$"), u.URN)
	}

	// The approved update became a replacement: found, after the fact.
	update, _ := wfSummarize(t, dir, "preview-update.jsonl")
	out, code = wfRunScript(t, nil, "", "pulumi-summary.sh", "check-update", update, wfTestdata("up-unapproved-replace.jsonl"))
	assert.Equal(t, 5, code, out)
	require.NoError(t, json.Unmarshal([]byte(out), &report))
	var ops []string
	for _, u := range report.Unapproved {
		ops = append(ops, u.Op)
	}
	assert.Equal(t, []string{"create-replacement", "replace", "delete-replaced"}, ops)
	require.Len(t, report.NotPerformed, 1)
	assert.Equal(t, "update", report.NotPerformed[0].Op)
}

// wfPulumiEnv is the environment of a script run against the fake pulumi.
func wfPulumiEnv(out string, extra ...string) map[string]string {
	env := map[string]string{
		"STACK":               "dev",
		"PULUMI_BACKEND_URL":  "s3://state-bucket?region=us-west-2&awssdk=v2",
		"OUT_DIR":             out,
		"GITHUB_OUTPUT":       filepath.Join(out, "github-output"),
		"GITHUB_STEP_SUMMARY": filepath.Join(out, "step-summary.md"),
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

// Item 4 (and 3, 7): the preview script.
func TestWorkflowPreviewScript(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq")
	cases := []struct {
		name, canned, status string
		env                  []string
		code                 int
		outputs              []string
		want                 string
	}{
		{"changes", "preview-update.jsonl", "0", nil, 0, []string{"changes=true", "partial=false", "blocked=false"}, "Preview of `dev`"},
		{"output only", "preview-outputs-only.jsonl", "0", nil, 0, []string{"changes=true"}, "create `tritonEndpoint`"},
		{"no changes", "preview-no-changes.jsonl", "0", nil, 0, []string{"changes=false"}, "No resource changes."},
		{"first deploy", "preview-first-deploy.jsonl", "0", nil, 0, []string{"changes=true", "partial=true", "blocked=false"}, "Partial preview"},
		{"blocked", "preview-blocked.jsonl", "0", nil, 4, []string{"blocked=true"}, "cannot be approved"},
		{"pulumi fails", "preview-update.jsonl", "255", nil, 1, nil, "pulumi preview failed"},
		{"no backend", "preview-update.jsonl", "0", []string{"PULUMI_BACKEND_URL", ""}, 2, nil, "PULUMI_BACKEND_URL is not set"},
		{"Pulumi Cloud", "preview-update.jsonl", "0", []string{"PULUMI_BACKEND_URL", "https://api.pulumi.com"}, 2, nil, "not a DIY backend"},
		{"project directory", "preview-update.jsonl", "0", []string{"PULUMI_CWD", "/srv/infra"}, 0, nil, "Preview of `dev`"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fakes := wfFakePulumi(t, map[string]string{"preview.jsonl": wfCanned(t, c.canned), "preview.status": c.status})
			out := t.TempDir()
			log, code := wfRunScript(t, wfPulumiEnv(out, c.env...), fakes, "pulumi-preview.sh")
			require.Equal(t, c.code, code, log)
			assert.Contains(t, log, c.want)
			outputs := wfReadFile(t, filepath.Join(out, "github-output"))
			for _, o := range c.outputs {
				assert.Contains(t, outputs, o+"\n")
			}
			args := wfReadFile(t, filepath.Join(fakes, "pulumi.args"))
			if c.code == 2 {
				assert.Empty(t, args, "no pulumi command before the configuration is checked")
				return
			}
			assert.Contains(t, args, "preview --stack dev")
			assert.Contains(t, args, "--json --non-interactive")
			assert.Contains(t, wfReadFile(t, filepath.Join(fakes, "pulumi.env")), "streaming=true")
			if c.name == "project directory" {
				assert.Contains(t, args, "--cwd /srv/infra")
			}
			if c.code == 0 {
				digest := sha256.Sum256([]byte(wfReadFile(t, filepath.Join(out, "summary.json"))))
				assert.Contains(t, outputs, "digest="+hex.EncodeToString(digest[:])+"\n")
				assert.Contains(t, wfReadFile(t, filepath.Join(out, "step-summary.md")), "sha256:"+hex.EncodeToString(digest[:]))
			}
		})
	}
}

// Item 4: apply refuses anything but the approved summary, and reports what
// the update did beyond it.
func TestWorkflowApplyScript(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq")
	approvals := t.TempDir()
	update, _ := wfSummarize(t, approvals, "preview-update.jsonl")
	first, _ := wfSummarize(t, approvals, "preview-first-deploy.jsonl")
	none, _ := wfSummarize(t, approvals, "preview-no-changes.jsonl")
	blocked, _ := wfSummarize(t, approvals, "preview-blocked.jsonl")
	digest := func(file string) string {
		sum := sha256.Sum256([]byte(wfReadFile(t, file)))
		return hex.EncodeToString(sum[:])
	}
	cases := []struct {
		name, approved, fresh, up, upStatus string
		env                                 []string
		code                                int
		ranUp                               bool
		want                                string
	}{
		{"approved", update, "preview-update.jsonl", "preview-update.jsonl", "0", nil, 0, true, "applied exactly the approved operations"},
		{"digest checked", update, "preview-update.jsonl", "preview-update.jsonl", "0", []string{"APPROVED_DIGEST", digest(update)}, 0, true, "applied exactly"},
		{"stack changed since approval", update, "preview-update-changed.jsonl", "", "0", nil, 3, false, "in the fresh preview, not approved:  delete " + wfRoleURN},
		{"approved summary expired", filepath.Join(approvals, "missing.json"), "preview-update.jsonl", "", "0", nil, 2, false, "re-run the deploy workflow"},
		{"another summary", update, "preview-update.jsonl", "", "0", []string{"APPROVED_DIGEST", strings.Repeat("0", 64)}, 2, false, "is not the summary that was approved"},
		{"another stack", update, "preview-update.jsonl", "", "0", []string{"STACK", "prod"}, 2, false, "made for stack dev, not prod"},
		{"blocked", blocked, "preview-blocked.jsonl", "", "0", nil, 4, false, "blocked"},
		{"nothing approved", none, "preview-no-changes.jsonl", "", "0", nil, 0, false, "nothing to apply"},
		{"update did more than approved", update, "preview-update.jsonl", "up-unapproved-replace.jsonl", "0", nil, 5, true, "**Not approved, performed anyway**"},
		{"update failed", update, "preview-update.jsonl", "preview-update.jsonl", "1", nil, 1, true, "pulumi up failed"},
		{"first deploy, partial", first, "preview-first-deploy.jsonl", "up-first-deploy.jsonl", "0", nil, 0, true, "**Created under components the preview could not render**"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{"preview.jsonl": wfCanned(t, c.fresh), "up.status": c.upStatus, "state.json": `{"version":3}`}
			if c.up != "" {
				files["up.jsonl"] = wfCanned(t, c.up)
			}
			fakes := wfFakePulumi(t, files)
			out := t.TempDir()
			log, code := wfRunScript(t, wfPulumiEnv(out, append([]string{"APPROVED_SUMMARY", c.approved}, c.env...)...), fakes, "pulumi-apply.sh")
			require.Equal(t, c.code, code, log)
			assert.Contains(t, log, c.want)
			args := wfReadFile(t, filepath.Join(fakes, "pulumi.args"))
			assert.Equal(t, c.ranUp, strings.Contains(args, "up --stack dev --yes --skip-preview --refresh=false "), "pulumi up ran: %s", args)
			if c.code != 2 && c.code != 4 {
				assert.Contains(t, args, "preview --stack dev --refresh=false --save-plan ", "a fresh preview saves the plan, without a refresh")
			}
			if c.ranUp {
				assert.Contains(t, args, "preview --stack dev", "a fresh preview before the update")
				assert.Less(t, strings.Index(args, "preview --stack"), strings.Index(args, "up --stack"))
			}
		})
	}
}

// Items 2 and 3: the preflight says what is wrong before any pulumi command
// could stop at a prompt or reach Pulumi Cloud.
func TestWorkflowPreflightScript(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq")
	const (
		kms       = "secretsprovider: awskms://alias/aiplatform-pulumi-secrets?region=us-west-2\n"
		key       = "encryptedkey: AQICAHh0ZXN0\n"
		salt      = "encryptionsalt: v1:abc:def\n"
		kmsState  = `{"version":3,"deployment":{"manifest":{},"secrets_providers":{"type":"cloud","state":{"url":"awskms://alias/aiplatform-pulumi-secrets?region=us-west-2","encryptedkey":"AQ=="}},"resources":[]}}`
		freshInit = `{"version":3,"deployment":{"manifest":{}}}`
	)
	cases := []struct {
		name, config, state string
		env                 []string
		code                int
		want                string
	}{
		{"committed provider", kms + key + "config:\n  aws:region: us-west-2\n", freshInit, nil, 0, "secrets provider awskms://alias/aiplatform-pulumi-secrets (from "},
		{"provider without key", kms, freshInit, nil, 2, "no encryptedkey"},
		{"provider from the state", "config: {}\n", kmsState, []string{"PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER", "true"}, 0, "(from the state)"},
		{"state provider not allowed", "config: {}\n", kmsState, nil, 2, "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER is not true"},
		{"never deployed, nothing committed", "config: {}\n", freshInit, []string{"PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER", "true"}, 2, "pulumi stack init dev --secrets-provider"},
		{"passphrase stack", salt, freshInit, nil, 2, "not awskms://"},
		{"passphrase expected (rehearsal)", salt, freshInit, []string{"PULUMI_SECRETS_PROVIDER", "passphrase"}, 0, "secrets provider passphrase"},
		{"no stack", kms + key, "", nil, 2, "stack dev does not exist"},
		{"no backend", kms + key, freshInit, []string{"PULUMI_BACKEND_URL", ""}, 2, "PULUMI_BACKEND_URL is not set"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{}
			if c.state != "" {
				files["state.json"] = c.state
			}
			fakes := wfFakePulumi(t, files)
			project := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(project, "Pulumi.dev.yaml"), []byte(c.config), 0o644))
			log, code := wfRunScript(t, wfPulumiEnv(t.TempDir(), append([]string{"PULUMI_CWD", project}, c.env...)...), fakes, "pulumi-preflight.sh")
			assert.Equal(t, c.code, code, log)
			assert.Contains(t, log, c.want)
			args := wfReadFile(t, filepath.Join(fakes, "pulumi.args"))
			if c.name == "no backend" {
				assert.Empty(t, args, "fails before any pulumi command")
			} else {
				assert.Contains(t, args, "stack export --stack dev --non-interactive --cwd "+project)
			}
		})
	}
}

// Item 9: the drift check's result and exit code.
func TestWorkflowDriftScript(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq")
	cases := []struct {
		canned, status, result string
		code                   int
		want                   string
	}{
		{"preview-drift.jsonl", "0", "drift", 3, "`dev` has drifted"},
		{"preview-no-changes.jsonl", "0", "clean", 0, "no drift"},
		{"preview-update.jsonl", "255", "error", 1, "failed"},
	}
	for _, c := range cases {
		t.Run(c.result, func(t *testing.T) {
			fakes := wfFakePulumi(t, map[string]string{"preview.jsonl": wfCanned(t, c.canned), "preview.status": c.status})
			out := t.TempDir()
			log, code := wfRunScript(t, wfPulumiEnv(out), fakes, "pulumi-drift.sh")
			require.Equal(t, c.code, code, log)
			assert.Equal(t, c.result+"\n", wfReadFile(t, filepath.Join(out, "drift-result")))
			assert.Contains(t, wfReadFile(t, filepath.Join(out, "github-output")), "result="+c.result+"\n")
			assert.Contains(t, wfReadFile(t, filepath.Join(out, "drift.md")), c.want)
			assert.Contains(t, wfReadFile(t, filepath.Join(fakes, "pulumi.args")), "preview --refresh --stack dev")
		})
	}
}

// wfApp is one Argo CD Application as the fake kubectl returns it.
type wfApp struct {
	name, sync, health, revision, phase, opRevision, reconciledAt string
	specRevision, comparedRevision                                string
}

func (a wfApp) object() map[string]any {
	src := func(rev string) map[string]any {
		return map[string]any{"repoURL": "https://github.com/aiplatform/platform-apps.git", "path": "clusters/dev", "targetRevision": rev}
	}
	dst := map[string]any{"server": "https://kubernetes.default.svc", "namespace": "argocd"}
	if a.specRevision == "" {
		a.specRevision = "main"
	}
	if a.comparedRevision == "" {
		a.comparedRevision = a.specRevision
	}
	status := map[string]any{
		"sync":         map[string]any{"status": a.sync, "revision": a.revision, "comparedTo": map[string]any{"source": src(a.comparedRevision), "destination": dst}},
		"health":       map[string]any{"status": a.health},
		"reconciledAt": a.reconciledAt,
	}
	if a.phase != "" {
		status["operationState"] = map[string]any{"phase": a.phase, "message": "boom", "syncResult": map[string]any{"revision": a.opRevision}}
	}
	return map[string]any{"metadata": map[string]any{"name": a.name}, "spec": map[string]any{"source": src(a.specRevision), "destination": dst}, "status": status}
}

func wfApps(apps ...wfApp) string {
	items := []any{}
	for _, a := range apps {
		items = append(items, a.object())
	}
	b, _ := json.Marshal(map[string]any{"items": items})
	return string(b)
}

// The fake kubectl: `get crd` prints the file crd (fails while crd.fail
// exists); `get applications.argoproj.io` prints pollN (the last repeats;
// "fail" fails). Every call is logged.
const wfFakeKubectlScript = `dir=$(cd "$(dirname "$0")" && pwd)
echo "$*" >> "$dir/kubectl.args"
case " $* " in
*" get crd "*) if [ -f "$dir/crd.fail" ]; then echo "connection refused" >&2; exit 1; fi; cat "$dir/crd" ;;
*" get applications.argoproj.io "*)
	n=$(cat "$dir/count" 2>/dev/null || echo 0); echo $((n + 1)) > "$dir/count"
	last=$(($(ls "$dir"/poll* | wc -l) - 1)); i=$(( n < last ? n : last ))
	body=$(cat "$dir/poll$i")
	if [ "$body" = fail ]; then echo "connection refused" >&2; exit 1; fi
	printf '%s' "$body" ;;
*) echo "unexpected kubectl $*" >&2; exit 1 ;;
esac
`

// Item 8: the Argo CD wait.
func TestWorkflowArgoCDWaitScript(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq")
	const crd = "customresourcedefinition.apiextensions.k8s.io/applications.argoproj.io\n"
	ready := func(name string) wfApp {
		return wfApp{name: name, sync: "Synced", health: "Healthy", revision: "abc123def", reconciledAt: "2026-01-02T00:00:00Z"}
	}
	stale := ready("platform")
	stale.specRevision, stale.comparedRevision = "v2", "v1"
	running := ready("platform")
	running.phase = "Running"
	failed := ready("platform")
	failed.phase, failed.opRevision = "Failed", "abc123def"
	degraded := ready("platform")
	degraded.health = "Degraded"
	cases := []struct {
		name  string
		crd   string
		polls []string
		env   []string
		ok    bool
		want  string
	}{
		{"no Argo CD", "", []string{wfApps()}, nil, true, "Argo CD is not installed"},
		{"no applications", crd, []string{wfApps()}, nil, true, "no Argo CD Applications in namespace argocd: nothing to wait for"},
		{"all ready", crd, []string{wfApps(ready("platform"), ready("models"))}, nil, true, "all 2 Argo CD applications"},
		{"becomes ready", crd, []string{wfApps(stale, ready("models")), "fail", wfApps(ready("platform"), ready("models"))}, nil, true, "all 2"},
		{"spec not yet observed", crd, []string{wfApps(stale)}, nil, false, "platform (not yet compared with its current spec)"},
		{"expected revision", crd, []string{wfApps(ready("platform"))}, []string{"ARGOCD_REVISION", "abc123"}, true, "at abc123"},
		{"other revision", crd, []string{wfApps(ready("platform"))}, []string{"ARGOCD_REVISION", "fff"}, false, "revision abc123def, expected fff"},
		{"sync running", crd, []string{wfApps(running)}, nil, false, "sync operation Running"},
		{"sync failed", crd, []string{wfApps(failed)}, nil, false, "last sync Failed: boom"},
		{"degraded", crd, []string{wfApps(degraded)}, nil, false, "health=Degraded"},
		{"no status yet", crd, []string{`{"items":[{"metadata":{"name":"platform"},"spec":{"source":{}}}]}`}, nil, false, "sync=Unknown; health=Unknown"},
		{"not reconciled since the deploy", crd, []string{wfApps(ready("platform"))}, []string{"ARGOCD_SINCE", "2026-01-03T00:00:00Z"}, false, "not reconciled since 2026-01-03T00:00:00Z"},
		{"kubectl keeps failing", crd, []string{"fail"}, nil, false, "kubectl get applications failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			files := map[string]string{"crd": c.crd}
			for i, p := range c.polls {
				files[fmt.Sprintf("poll%d", i)] = p
			}
			wfFake(t, dir, "kubectl", wfFakeKubectlScript, files)
			// Successes return as soon as the apps are ready; failures poll
			// once and give up (a deadline of 0 s: no real waiting in tests).
			timeout := "0"
			if c.ok {
				timeout = "30"
			}
			env := map[string]string{"ARGOCD_WAIT_TIMEOUT": timeout, "ARGOCD_WAIT_INTERVAL": "0.01", "KUBECONFIG": filepath.Join(dir, "kubeconfig")}
			for i := 0; i+1 < len(c.env); i += 2 {
				env[c.env[i]] = c.env[i+1]
			}
			out, code := wfRunScript(t, env, dir, "argocd-wait.sh")
			if c.ok {
				assert.Equal(t, 0, code, out)
			} else {
				assert.Equal(t, 3, code, out)
				assert.Contains(t, out, "timed out after 0s", "the deadline is honoured")
			}
			assert.Contains(t, out, c.want)
			for _, call := range strings.Split(strings.TrimSpace(wfReadFile(t, filepath.Join(dir, "kubectl.args"))), "\n") {
				assert.Contains(t, call, "--request-timeout=20s", "every kubectl call is bounded")
			}
			if c.crd != "" {
				assert.Contains(t, wfReadFile(t, filepath.Join(dir, "kubectl.args")), "get applications.argoproj.io --namespace argocd --output json")
			}
		})
	}
}

// The fake curl answers from responses/<METHOD URL with every other
// character as _>; unknown URLs get GitHub's 404 body and curl's exit 22
// (--fail-with-body). Requests are logged to curl.args, bodies kept in
// curl.bodies.
const wfFakeCurlScript = `dir=$(cd "$(dirname "$0")" && pwd)
echo "$*" >> "$dir/curl.args"
out=""; method=GET; url=""
while [ $# -gt 0 ]; do
	case $1 in
	--output) out=$2; shift ;;
	--request) method=$2; shift ;;
	--data-binary) cat "${2#@}" >> "$dir/curl.bodies"; echo >> "$dir/curl.bodies"; shift ;;
	--header) shift ;;
	http*) url=$1 ;;
	esac
	shift
done
key=$(printf '%s %s' "$method" "$url" | tr -c 'A-Za-z0-9' '_')
if [ -f "$dir/responses/$key" ]; then
	if [ -n "$out" ]; then cp "$dir/responses/$key" "$out"; else cat "$dir/responses/$key"; fi
	exit 0
fi
echo '{"message":"Not Found","status":"404"}'
echo "curl: (22) The requested URL returned error: 404" >&2
exit 22
`

func wfFakeCurl(t *testing.T, responses map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	wfFake(t, dir, "curl", wfFakeCurlScript, nil)
	require.NoError(t, os.Mkdir(filepath.Join(dir, "responses"), 0o755))
	notAlnum := regexp.MustCompile(`[^A-Za-z0-9]`)
	for req, body := range responses {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "responses", notAlnum.ReplaceAllString(req, "_")), []byte(body), 0o644))
	}
	return dir
}

// Item 12: the CLI is installed only when its SHA-256 matches Pulumi's list.
func TestWorkflowInstallPulumiScript(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "tar")
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	if arch == "" {
		t.Skip("no Pulumi build for " + runtime.GOARCH)
	}
	build := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(build, "pulumi"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(build, "pulumi", "pulumi"), []byte("#!/usr/bin/env bash\necho v3.274.1\n"), 0o755))
	archive := "pulumi-v3.274.1-linux-" + arch + ".tar.gz"
	tarball := filepath.Join(build, archive)
	out, err := exec.Command("tar", "-czf", tarball, "-C", build, "pulumi").CombinedOutput()
	require.NoError(t, err, "%s", out)
	content := wfReadFile(t, tarball)
	sum := sha256.Sum256([]byte(content))
	good := hex.EncodeToString(sum[:]) + "  " + archive + "\n" + strings.Repeat("a", 64) + "  pulumi-v3.274.1-darwin-x64.tar.gz\n"
	const (
		sums = "GET https://github.com/pulumi/pulumi/releases/download/v3.274.1/pulumi-3.274.1-checksums.txt"
		arc  = "GET https://get.pulumi.com/releases/sdk/"
	)
	cache := t.TempDir()
	cases := []struct {
		name, checksums string
		serveArchive    bool
		code            int
		want            string
	}{
		{"verified", good, true, 0, "sha256 " + hex.EncodeToString(sum[:]) + " verified"},
		{"cached archive verified again", good, false, 0, "verified"},
		{"tampered", strings.Replace(good, hex.EncodeToString(sum[:]), strings.Repeat("b", 64), 1), true, 1, "refusing to install it"},
		{"not listed", strings.Repeat("a", 64) + "  pulumi-v3.274.1-darwin-x64.tar.gz\n", true, 1, "lists no SHA-256"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			responses := map[string]string{sums: c.checksums}
			if c.serveArchive {
				responses[arc+archive] = content
			}
			fakes := wfFakeCurl(t, responses)
			dest := filepath.Join(t.TempDir(), "cli")
			ghPath := filepath.Join(t.TempDir(), "github-path")
			log, code := wfRunScript(t, map[string]string{"PULUMI_VERSION": "3.274.1", "PULUMI_INSTALL_DIR": dest,
				"PULUMI_DOWNLOAD_CACHE": cache, "GITHUB_PATH": ghPath}, fakes, "install-pulumi.sh")
			require.Equal(t, c.code, code, log)
			assert.Contains(t, log, c.want)
			if c.code == 0 {
				assert.Equal(t, dest+"\n", wfReadFile(t, ghPath))
				assert.FileExists(t, filepath.Join(dest, "pulumi"))
			} else {
				assert.NoFileExists(t, filepath.Join(dest, "pulumi"))
			}
		})
	}
}

// check-environment.sh and check-ci-settings.sh: workflows_guards_test.go.

// Item 5: the drift check yields while a deploy of main is not finished.
func TestWorkflowDeployBusyScript(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq")
	const api = "GET https://api.example.test/repos/acme/infra/actions/workflows/deploy.yml/runs?branch=main&per_page=30"
	cases := []struct {
		name, runs, want string
	}{
		{"waiting for approval", `{"workflow_runs":[{"status":"completed","html_url":"u1"},{"status":"waiting","html_url":"u2"}]}`, "busy=true"},
		{"idle", `{"workflow_runs":[{"status":"completed","html_url":"u1"}]}`, "busy=false"},
		{"API error", "", "busy=false"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			responses := map[string]string{}
			if c.runs != "" {
				responses[api] = c.runs
			}
			out := filepath.Join(t.TempDir(), "github-output")
			log, code := wfRunScript(t, map[string]string{"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "acme/infra",
				"GITHUB_API_URL": "https://api.example.test", "GITHUB_OUTPUT": out}, wfFakeCurl(t, responses), "deploy-busy.sh")
			require.Equal(t, 0, code, log)
			assert.Contains(t, wfReadFile(t, out), c.want+"\n")
			if c.name == "API error" {
				assert.Contains(t, log, "checking drift anyway")
			}
		})
	}
}

// The PR comment is edited in place, one per stack.
func TestWorkflowPRCommentScript(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq")
	const list = "GET https://api.example.test/repos/acme/infra/issues/12/comments?per_page=100&page=1"
	body := filepath.Join(t.TempDir(), "summary.md")
	require.NoError(t, os.WriteFile(body, []byte("### Preview of `dev`\n"), 0o644))
	env := map[string]string{"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "acme/infra", "GITHUB_API_URL": "https://api.example.test",
		"PR_NUMBER": "12", "BODY_FILE": body, "MARKER": "aiplatform-preview:dev"}

	fakes := wfFakeCurl(t, map[string]string{
		list: `[{"id":41,"body":"<!-- aiplatform-preview:prod -->\nx"},{"id":42,"body":"<!-- aiplatform-preview:dev -->\nold"}]`,
		"PATCH https://api.example.test/repos/acme/infra/issues/comments/42": `{}`,
	})
	log, code := wfRunScript(t, env, fakes, "pr-comment.sh")
	require.Equal(t, 0, code, log)
	assert.Contains(t, log, "edited comment 42")
	var posted struct{ Body string }
	require.NoError(t, json.Unmarshal([]byte(wfReadFile(t, filepath.Join(fakes, "curl.bodies"))), &posted))
	assert.Equal(t, "<!-- aiplatform-preview:dev -->\n### Preview of `dev`\n", posted.Body)

	fakes = wfFakeCurl(t, map[string]string{list: `[]`, "POST https://api.example.test/repos/acme/infra/issues/12/comments": `{}`})
	log, code = wfRunScript(t, env, fakes, "pr-comment.sh")
	require.Equal(t, 0, code, log)
	assert.Contains(t, log, "commented on #12")
}

// The fake gh: `issue list` prints issues.json; every call is logged, and
// --body-file contents are kept in gh.bodies.
const wfFakeGHScript = `dir=$(cd "$(dirname "$0")" && pwd)
echo "$*" >> "$dir/gh.args"
prev=""
for a in "$@"; do
	if [ "$prev" = --body-file ]; then cat "$a" >> "$dir/gh.bodies"; fi
	prev=$a
done
case "$1 $2" in
"issue list") cat "$dir/issues.json" ;;
"issue create") echo "https://github.com/acme/infra/issues/9" ;;
esac
`

// Item 9: one drift issue per stack, opened, updated and closed.
func TestWorkflowDriftIssueScript(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq")
	openIssue := `[{"number":3,"title":"Drift in stack prod"},{"number":7,"title":"Drift in stack dev"}]`
	cases := []struct {
		name, result, issues string
		env                  []string
		calls, notCalls      []string
		body                 string
	}{
		{"drift, no issue yet", "drift", `[]`, nil,
			[]string{"label create drift", "issue create --title Drift in stack dev --label drift"}, []string{"issue comment"}, "differs from `main`"},
		{"drift, issue open", "drift", openIssue, nil, []string{"issue comment 7"}, []string{"issue create"}, "### `dev` has drifted"},
		{"check failed with failing tests", "error", `[]`, []string{"TEST_RESULT", "failure"}, []string{"issue create"}, nil, "The tests on the same commit: **failure**"},
		{"clean again", "clean", openIssue, nil, []string{"issue comment 7", "issue close 7 --reason completed"}, []string{"issue create"}, "matching `main` again"},
		{"clean, nothing open", "clean", `[]`, nil, nil, []string{"issue create", "issue comment", "issue close"}, ""},
		{"skipped for a deploy", "skipped", openIssue, nil, nil, []string{"issue create", "issue comment", "issue close"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			wfFake(t, dir, "gh", wfFakeGHScript, map[string]string{"issues.json": c.issues})
			report := filepath.Join(dir, "drift.md")
			require.NoError(t, os.WriteFile(report, []byte("### `dev` has drifted\n"), 0o644))
			env := map[string]string{"GH_TOKEN": "t", "GITHUB_REPOSITORY": "acme/infra", "STACK": "dev", "RESULT": c.result,
				"REPORT": report, "RUN_URL": "https://github.com/acme/infra/actions/runs/1"}
			for i := 0; i+1 < len(c.env); i += 2 {
				env[c.env[i]] = c.env[i+1]
			}
			log, code := wfRunScript(t, env, dir, "drift-issue.sh")
			require.Equal(t, 0, code, log)
			calls := wfReadFile(t, filepath.Join(dir, "gh.args"))
			assert.Contains(t, calls, "issue list --state open --label drift")
			for _, call := range c.calls {
				assert.Contains(t, calls, call)
			}
			for _, call := range c.notCalls {
				assert.NotContains(t, calls, call)
			}
			assert.Contains(t, wfReadFile(t, filepath.Join(dir, "gh.bodies")), c.body)
		})
	}
}

// The scripts carry the interface the real-tier rehearsal calls: every
// script documents its environment and exit codes in its header, and is
// shellcheck-clean when shellcheck is installed.
func TestWorkflowScriptsAreDocumentedAndLinted(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir(wfScriptsDir)
	require.NoError(t, err)
	var scripts []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".sh") {
			continue
		}
		scripts = append(scripts, wfScript(e.Name()))
		text := wfReadFile(t, wfScript(e.Name()))
		if e.Name() == "lib.sh" || e.Name() == "github-api.sh" {
			continue // sourced helpers
		}
		assert.True(t, strings.HasPrefix(text, "#!/usr/bin/env bash\n"), "%s: shebang", e.Name())
		assert.Contains(t, text, "set -euo pipefail", e.Name())
		assert.Regexp(t, `(?m)^# (Exit|Exit codes|Usage|  pulumi-summary\.sh)`, text, "%s documents how to call it", e.Name())
	}
	bin, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck not installed")
	}
	cmd := exec.Command(bin, append([]string{"-x", "-s", "bash"}, scripts...)...)
	cmd.Dir = wfScriptsDir
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "%s", out)
}
