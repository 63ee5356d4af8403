package tests

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 18 items 1, 2 and 10: what a reviewer approves binds values, and the
// apply refuses anything else. Canned events in .github/scripts/testdata
// (README there); the scripts as the workflows run them.

// wfDigest is the summary's value digest computed independently of jq: the
// SHA-256 of the value's canonical JSON (Go's encoder sorts map keys and
// writes compact JSON; HTML escaping off, as jq does not escape).
func wfDigest(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	sum := sha256.Sum256(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// wfValueSummary is the part of summary.json version 2 that binds values.
type wfValueSummary struct {
	Version   int `json:"version"`
	Resources []struct {
		Op     string            `json:"op"`
		URN    string            `json:"urn"`
		Inputs map[string]string `json:"inputs"`
		Diff   []struct {
			Path, Kind, Old, New string
		} `json:"diff"`
	} `json:"resources"`
	Outputs []struct {
		Name, Op, Value string
	} `json:"outputs"`
	Changes bool `json:"changes"`
}

func wfValueSummarize(t *testing.T, file string) wfValueSummary {
	t.Helper()
	var s wfValueSummary
	require.NoError(t, json.Unmarshal([]byte(wfReadFile(t, file)), &s))
	return s
}

// wfStepInputs reads the new (or old) inputs of the first resourcePreEvent
// with op for urn from a canned event file.
func wfStepInputs(t *testing.T, canned, urn, side string) map[string]any {
	t.Helper()
	for _, line := range strings.Split(wfCanned(t, canned), "\n") {
		var e struct {
			ResourcePreEvent *struct {
				Metadata struct {
					URN    string          `json:"urn"`
					RawOld json.RawMessage `json:"old"`
					RawNew json.RawMessage `json:"new"`
				} `json:"metadata"`
			} `json:"resourcePreEvent"`
		}
		if json.Unmarshal([]byte(line), &e) != nil || e.ResourcePreEvent == nil || e.ResourcePreEvent.Metadata.URN != urn {
			continue
		}
		raw := e.ResourcePreEvent.Metadata.RawNew
		if side == "old" {
			raw = e.ResourcePreEvent.Metadata.RawOld
		}
		var state struct{ Inputs map[string]any }
		require.NoError(t, json.Unmarshal(raw, &state))
		return state.Inputs
	}
	t.Fatalf("no step for %s in %s", urn, canned)
	return nil
}

// wfMarkedSummary summarizes canned events after marking their secret stack
// outputs from a canned plan (pulumi-summary.sh mark-secrets, as the preview
// and apply scripts do with the plan of the same preview).
func wfMarkedSummary(t *testing.T, canned, plan string) (string, wfSummary) {
	t.Helper()
	dir := t.TempDir()
	events := filepath.Join(dir, canned)
	require.NoError(t, os.WriteFile(events, []byte(wfCanned(t, canned)), 0o644))
	out, code := wfRunScript(t, nil, "", "pulumi-summary.sh", "mark-secrets", events, wfTestdata(plan))
	require.Equal(t, 0, code, out)
	out, code = wfRunScript(t, nil, "", "pulumi-summary.sh", "summarize", "dev", events)
	require.Equal(t, 0, code, out)
	file := filepath.Join(dir, "summary.json")
	require.NoError(t, os.WriteFile(file, []byte(out), 0o644))
	var s wfSummary
	require.NoError(t, json.Unmarshal([]byte(out), &s), out)
	return file, s
}

const wfVpcURN = "urn:pulumi:dev::aiplatform::aiplatform:infra:Network$aws:ec2/vpc:Vpc::aiplatform-dev"

const wfTritonURN = "urn:pulumi:dev::aiplatform::aiplatform:workloads:Triton$kubernetes:apps/v1:Deployment::triton"

// Item 1: every detailed-diff path carries the digest of its old and planned
// value, and the whole inputs are bound; digests checked against Go's own
// canonical JSON, unknowns and secrets marked, never digested.
func TestWorkflowSummaryBindsValueDigests(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq", "sha256sum")
	dir := t.TempDir()

	file, _ := wfSummarize(t, dir, "preview-update.jsonl")
	s := wfValueSummarize(t, file)
	assert.Equal(t, 2, s.Version)
	require.Len(t, s.Resources, 1)
	r := s.Resources[0]
	require.Len(t, r.Diff, 1)
	assert.Equal(t, "scalingConfig.maxSize", r.Diff[0].Path)
	assert.Equal(t, "update", r.Diff[0].Kind)
	assert.Equal(t, wfDigest(t, 2), r.Diff[0].Old, "old maxSize 2")
	assert.Equal(t, wfDigest(t, 4), r.Diff[0].New, "planned maxSize 4")
	assert.Equal(t, wfDigest(t, wfStepInputs(t, "preview-update.jsonl", wfNodesURN, "old")), r.Inputs["old"])
	assert.Equal(t, wfDigest(t, wfStepInputs(t, "preview-update.jsonl", wfNodesURN, "new")), r.Inputs["new"])
	require.Len(t, s.Outputs, 1)
	assert.Equal(t, wfDigest(t, "https://argocd.ai.example.com"), s.Outputs[0].Value)

	// A Kubernetes object: the path inside spec, not just "spec".
	file, _ = wfSummarize(t, dir, "preview-k8s-image.jsonl")
	s = wfValueSummarize(t, file)
	require.Len(t, s.Resources, 1)
	require.Len(t, s.Resources[0].Diff, 1)
	assert.Equal(t, "spec.template.spec.containers[0].image", s.Resources[0].Diff[0].Path)
	assert.Equal(t, wfDigest(t, "nvcr.io/nvidia/tritonserver:25.02-py3"), s.Resources[0].Diff[0].New)

	// A value unknown at preview is marked, not digested.
	file, _ = wfSummarize(t, dir, "preview-blocked.jsonl")
	s = wfValueSummarize(t, file)
	var values []string
	for _, res := range s.Resources {
		for _, d := range res.Diff {
			values = append(values, d.Path+": "+d.New)
		}
	}
	assert.Contains(t, values, "values: unknown")

	// Item 10: a secret output that the preview's plan says changes is a
	// change on its own, marked, never digested. The event stream shows it as
	// unchanged ([secret] both sides): without the plan, no change.
	file, sum := wfMarkedSummary(t, "preview-no-changes.jsonl", "plan-secret-output.json")
	s = wfValueSummarize(t, file)
	assert.True(t, sum.Changes, "a changed secret output alone is a change")
	require.Len(t, s.Outputs, 1)
	assert.Equal(t, "kubeconfig", s.Outputs[0].Name)
	assert.Equal(t, "update", s.Outputs[0].Op)
	assert.Equal(t, "secret, changed", s.Outputs[0].Value)
	assert.NotContains(t, wfReadFile(t, file), "v1:", "no ciphertext from the plan")
	_, sum = wfSummarize(t, dir, "preview-no-changes.jsonl")
	assert.False(t, sum.Changes, "the same events without the plan")
}

// Item 1, the replays the issue names: approved maxSize 2→4, fresh 2→40;
// approved spec.replicas, fresh image. Both were exit 0 with names only.
func TestWorkflowCompareRefusesOtherValues(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq", "sha256sum")
	dir := t.TempDir()
	cases := []struct {
		name, approved, fresh string
		code                  int
		want                  []string
	}{
		{"node group maxSize 2→4 approved, 2→40 fresh", "preview-update.jsonl", "preview-update-maxsize-40.jsonl", 3, []string{
			"approved, not in the fresh preview:  update " + wfNodesURN + " scalingConfig.maxSize (update): " + wfDigest(t, 2) + " → " + wfDigest(t, 4),
			"in the fresh preview, not approved:  update " + wfNodesURN + " scalingConfig.maxSize (update): " + wfDigest(t, 2) + " → " + wfDigest(t, 40)}},
		{"spec.replicas approved, image fresh", "preview-k8s-replicas.jsonl", "preview-k8s-image.jsonl", 3, []string{
			"approved, not in the fresh preview:  update " + wfTritonURN + " spec.replicas (update): " + wfDigest(t, 1) + " → " + wfDigest(t, 3),
			"in the fresh preview, not approved:  update " + wfTritonURN + " spec.template.spec.containers[0].image (update): " +
				wfDigest(t, "nvcr.io/nvidia/tritonserver:25.01-py3") + " → " + wfDigest(t, "nvcr.io/nvidia/tritonserver:25.02-py3")}},

		// Two runs of summarize over the same events agree (the digests are
		// deterministic), so an unchanged stack is not refused.
		{"the same preview twice", "preview-update.jsonl", "preview-update.jsonl", 0, nil},
		{"the same first deploy twice", "preview-first-deploy.jsonl", "preview-first-deploy.jsonl", 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			approved, _ := wfSummarize(t, t.TempDir(), c.approved)
			fresh, _ := wfSummarize(t, dir, c.fresh)
			out, code := wfRunScript(t, nil, "", "pulumi-summary.sh", "compare", approved, fresh)
			assert.Equal(t, c.code, code, out)
			for _, w := range c.want {
				assert.Contains(t, out, w)
			}
		})
	}
	// Item 10: approved without a secret output change, the fresh preview's
	// plan says the secret output changes.
	approved, _ := wfMarkedSummary(t, "preview-no-changes.jsonl", "plan-no-changes.json")
	fresh, _ := wfMarkedSummary(t, "preview-no-changes.jsonl", "plan-secret-output.json")
	out, code := wfRunScript(t, nil, "", "pulumi-summary.sh", "compare", approved, fresh)
	assert.Equal(t, 3, code, out)
	assert.Contains(t, out, "in the fresh preview, not approved:  output update kubeconfig: secret, changed")
}

// Autonames: the engine draws a new random seed for each preview
// (pulumi pkg/resource/deploy/step_generator.go, randomSeed), so two previews
// of one commit name a created resource differently. The summary leaves
// autonames out of the bound inputs; any other value still counts.
func TestWorkflowCompareIgnoresAutonamesOnly(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq", "sha256sum")
	const roleURN = "urn:pulumi:dev::aiplatform::aiplatform:workloads:LoadBalancerController$aws:iam/role:Role::lbc"
	const saURN = "urn:pulumi:dev::aiplatform::aiplatform:workloads:Triton$kubernetes:core/v1:ServiceAccount::triton"
	write := func(roleName, policy, saName string) string {
		var out []string
		for _, line := range strings.Split(wfCanned(t, "preview-first-deploy.jsonl"), "\n") {
			var e map[string]any
			if json.Unmarshal([]byte(line), &e) != nil {
				continue
			}
			for _, kind := range []string{"resourcePreEvent", "resOutputsEvent"} {
				ev, ok := e[kind].(map[string]any)
				if !ok {
					continue
				}
				md := ev["metadata"].(map[string]any)
				if md["urn"] == roleURN {
					md["new"].(map[string]any)["inputs"] = map[string]any{
						"name": roleName, "assumeRolePolicy": policy, "__defaults": []any{"name"}}
				}
				// The autoname flows into another resource's input (as a
				// cluster's name into its node groups, found by the real tier).
				if md["urn"] == wfVpcURN {
					md["new"].(map[string]any)["inputs"] = map[string]any{"cidrBlock": "10.0.0.0/16", "tags": map[string]any{"role": "for " + roleName}}
				}
			}
			if e["summaryEvent"] != nil {
				// A created, autonamed Kubernetes object, as pulumi-kubernetes
				// marks it (provider/pkg/metadata/naming.go).
				sa := map[string]any{"op": "create", "urn": saURN, "type": "kubernetes:core/v1:ServiceAccount", "old": nil,
					"new": map[string]any{"type": "kubernetes:core/v1:ServiceAccount", "urn": saURN, "custom": true,
						"parent": "urn:pulumi:dev::aiplatform::pulumi:pulumi:Stack::aiplatform-dev",
						"inputs": map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{
							"name": saName, "namespace": "triton", "annotations": map[string]any{"pulumi.com/autonamed": "true"}}}},
					"detailedDiff": nil}
				b, _ := json.Marshal(map[string]any{"sequence": 99, "resourcePreEvent": map[string]any{"metadata": sa}})
				out = append(out, string(b))
			}
			b, _ := json.Marshal(e)
			out = append(out, string(b))
		}
		f := filepath.Join(t.TempDir(), "events.jsonl")
		require.NoError(t, os.WriteFile(f, []byte(strings.Join(out, "\n")+"\n"), 0o644))
		res, code := wfRunScript(t, nil, "", "pulumi-summary.sh", "summarize", "dev", f)
		require.Equal(t, 0, code, res)
		sf := filepath.Join(t.TempDir(), "summary.json")
		require.NoError(t, os.WriteFile(sf, []byte(res), 0o644))
		return sf
	}
	approved := write("lbc-1a2b3c4", `{"Version":"2012-10-17"}`, "triton-x7k2m9qp")
	out, code := wfRunScript(t, nil, "", "pulumi-summary.sh", "compare", approved, write("lbc-9f8e7d6", `{"Version":"2012-10-17"}`, "triton-b4n8c2rz"))
	assert.Equal(t, 0, code, "other autonames only: %s", out)
	out, code = wfRunScript(t, nil, "", "pulumi-summary.sh", "compare", approved, write("lbc-9f8e7d6", `{"Version":"2012-10-18"}`, "triton-b4n8c2rz"))
	assert.Equal(t, 3, code, out)
	assert.Contains(t, out, "create "+roleURN+" inputs: absent → ")
}

// Item 10: an unreadable summary is an internal error (2), never "the stack
// changed" (3); apply maps it to 2 and runs no update.
func TestWorkflowCompareInternalErrorIsExit2(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq", "sha256sum")
	dir := t.TempDir()
	good, _ := wfSummarize(t, dir, "preview-update.jsonl")
	bad := map[string]string{
		"not JSON":      "{",
		"wrong shape":   `{"version":2,"stack":"dev","resources":5,"outputs":[],"incomplete":[],"blocked":[]}`,
		"version 1":     `{"version":1,"stack":"dev","resources":[],"outputs":[],"incomplete":[],"blocked":[]}`,
		"no resources!": `{"version":2,"stack":"dev","outputs":[],"incomplete":[],"blocked":[]}`,
	}
	for name, body := range bad {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "summary.json")
			require.NoError(t, os.WriteFile(file, []byte(body), 0o644))
			out, code := wfRunScript(t, nil, "", "pulumi-summary.sh", "compare", file, good)
			assert.Equal(t, 2, code, out)
			assert.Contains(t, out, "cannot read the summaries")

			fakes := wfFakePulumi(t, map[string]string{"preview.jsonl": wfCanned(t, "preview-update.jsonl"), "state.json": `{"version":3}`})
			log, code := wfRunScript(t, wfPulumiEnv(t.TempDir(), "APPROVED_SUMMARY", file), fakes, "pulumi-apply.sh")
			assert.Equal(t, 2, code, log)
			assert.NotContains(t, wfReadFile(t, filepath.Join(fakes, "pulumi.args")), "up --stack")
		})
	}
}

// Items 1, 2, 10 through pulumi-apply.sh: values bind, the plan of the fresh
// preview binds the update, a state changed while it ran is refused.
func TestWorkflowApplyBindsTheApprovedValues(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq", "sha256sum")
	approvals := t.TempDir()
	update, _ := wfSummarize(t, approvals, "preview-update.jsonl")
	secret, _ := wfMarkedSummary(t, "preview-no-changes.jsonl", "plan-secret-output.json")
	first, _ := wfSummarize(t, approvals, "preview-first-deploy.jsonl")
	violation := `{"sequence":1,"diagnosticEvent":{"urn":"` + wfNodesURN + `","message":"resource ` + wfNodesURN +
		` violates plan: properties changed: ~~scalingConfig[{map[maxSize:{40}]}!={map[maxSize:{4}]}]\n","severity":"error"}}` + "\n"
	cases := []struct {
		name, approved, fresh, up, upStatus string
		states                              []string
		code                                int
		ranUp                               bool
		want                                string
		noPlan                              bool
	}{
		{"maxSize 2→40 fresh, 2→4 approved", update, "preview-update-maxsize-40.jsonl", "", "0", nil, 3, false, "scalingConfig.maxSize (update): " + wfDigest(t, 2) + " → " + wfDigest(t, 40), false},
		{"the refusal shows the fresh values", update, "preview-update-maxsize-40.jsonl", "", "0", nil, 3, false, "~ scalingConfig.maxSize: 2 → 40", false},
		{"state changed while the fresh preview ran", update, "preview-update.jsonl", "", "0", []string{`{"version":3}`, `{"version":3,"changed":1}`}, 3, false, "the stack's state changed while the fresh preview ran", false},
		{"the plan stops the update", update, "preview-update.jsonl", violation, "255", nil, 1, true, "a step differed from the approved plan", false},
		// Item 10: a secret output alone is a change: it is applied.
		{"secret output only", secret, "preview-no-changes.jsonl", "preview-no-changes.jsonl", "0", nil, 0, true, "applied exactly the approved operations", false},
		{"approved", update, "preview-update.jsonl", "preview-update.jsonl", "0", nil, 0, true, "applied exactly the approved operations", false},
		// A partial preview (first deploy): the engine would refuse its own
		// plan (pulumi/pulumi#13765, reproduced by TestPlatform h), so no --plan.
		{"partial first deploy: no plan", first, "preview-first-deploy.jsonl", "up-first-deploy.jsonl", "0", nil, 0, true, "the preview is partial: updating without --plan", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{"preview.jsonl": wfCanned(t, c.fresh), "up.status": c.upStatus, "state.json": `{"version":3}`}
			if c.name == "secret output only" {
				files["plan.json"] = wfCanned(t, "plan-secret-output.json")
			}
			switch {
			case strings.HasSuffix(c.up, ".jsonl"):
				files["up.jsonl"] = wfCanned(t, c.up)
			case c.up != "":
				files["up.jsonl"] = c.up
			}
			for i, s := range c.states {
				files["state"+string(rune('0'+i))+".json"] = s
			}
			fakes := wfFakePulumi(t, files)
			out := t.TempDir()
			log, code := wfRunScript(t, wfPulumiEnv(out, "APPROVED_SUMMARY", c.approved), fakes, "pulumi-apply.sh")
			require.Equal(t, c.code, code, log)
			assert.Contains(t, log, c.want)
			args := wfReadFile(t, filepath.Join(fakes, "pulumi.args"))
			assert.Equal(t, c.ranUp, strings.Contains(args, "up --stack dev"), "pulumi up ran: %s", args)
			save := regexp.MustCompile(`preview --stack dev --refresh=false --save-plan (\S+) --json --non-interactive`).FindStringSubmatch(args)
			require.NotNil(t, save, "the fresh preview saves a plan, without a refresh: %s", args)
			if c.ranUp && c.noPlan {
				assert.Contains(t, args, "up --stack dev --yes --skip-preview --refresh=false --json", "an update without a plan")
				assert.NotContains(t, args, "--plan ")
			} else if c.ranUp {
				assert.Contains(t, args, "up --stack dev --yes --skip-preview --refresh=false --plan "+save[1]+" ", "the update uses that plan")
			}
			if c.ranUp {
				var timing struct{ PreviewSeconds, GapSeconds *int }
				require.NoError(t, json.Unmarshal([]byte(wfReadFile(t, filepath.Join(out, "apply-timing.json"))), &timing))
				require.NotNil(t, timing.GapSeconds)
			}
			_, err := os.Stat(filepath.Dir(save[1]))
			assert.True(t, os.IsNotExist(err), "the plan is removed with the script's private directory: %v", err)
		})
	}
}

// Item 10 through pulumi-preview.sh: the plan of its preview tells the
// changed secret output, which the event stream shows as unchanged; the plan
// (ciphertext) is removed and nothing of it reaches the files it writes.
func TestWorkflowPreviewMarksChangedSecretOutputs(t *testing.T) {
	t.Parallel()
	wfNeedTools(t, "bash", "jq", "sha256sum")
	fakes := wfFakePulumi(t, map[string]string{"preview.jsonl": wfCanned(t, "preview-no-changes.jsonl"), "plan.json": wfCanned(t, "plan-secret-output.json")})
	out := t.TempDir()
	log, code := wfRunScript(t, wfPulumiEnv(out), fakes, "pulumi-preview.sh")
	require.Equal(t, 0, code, log)
	args := wfReadFile(t, filepath.Join(fakes, "pulumi.args"))
	save := regexp.MustCompile(`preview --stack dev --refresh=false --save-plan (\S+) `).FindStringSubmatch(args)
	require.NotNil(t, save, args)
	_, err := os.Stat(filepath.Dir(save[1]))
	assert.True(t, os.IsNotExist(err), "the plan is removed: %v", err)
	assert.Contains(t, wfReadFile(t, filepath.Join(out, "github-output")), "changes=true\n")
	assert.Contains(t, wfReadFile(t, filepath.Join(out, "summary.md")), "- update `kubeconfig`: [secret] → [secret, changed]")
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		assert.NotContains(t, wfReadFile(t, filepath.Join(out, e.Name())), "v1:", "%s holds the plan's ciphertext", e.Name())
	}
	assert.NotContains(t, log, "v1:")
}
