package realtier

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue 18: what a reviewer approves is what applies. The helpers the
// platform and rehearsal scenarios use to show that an apply is refused with
// nothing applied, and what happens between the fresh preview and the update.

// scriptPausedAfterPreview runs a pipeline script with a `pulumi` wrapper
// first on PATH: once the script's first `pulumi preview` has finished, the
// wrapper stops (blocking on a FIFO, no timer) until between has run, then
// returns the preview's status. between is what happens to the stack while
// pulumi-apply.sh sits between its fresh preview and `pulumi up`.
func (r *rehearsal) scriptPausedAfterPreview(t *testing.T, name string, extra map[string]string, between func()) (int, string) {
	t.Helper()
	dir := t.TempDir()
	previewed, resume := filepath.Join(dir, "previewed"), filepath.Join(dir, "resume")
	for _, f := range []string{previewed, resume} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	wrapper := fmt.Sprintf(`#!/usr/bin/env bash
%q "$@"
status=$?
if [ "$1" = preview ] && mkdir %q 2>/dev/null; then
	echo previewed > %q
	read -r _ < %q
fi
exit $status
`, r.pulumiBin, filepath.Join(dir, "fired"), previewed, resume)
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "pulumi"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for k, v := range r.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	env["PATH"] = bin + string(os.PathListSeparator) + env["PATH"]

	cmd := exec.CommandContext(r.ctx, "bash", filepath.Join(r.scripts, name))
	cmd.Dir = r.project
	cmd.Env = EnvList([]string{"HOME=" + os.Getenv("HOME")}, env)
	var out bytes.Buffer
	cmd.Stdout = &prefixWriter{w: &testLog{t: t}, buf: &out}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	paused := make(chan struct{})
	go func() {
		if f, err := os.Open(previewed); err == nil {
			_, _ = io.ReadAll(f)
			f.Close()
		}
		close(paused)
	}()
	var err error
	select {
	case <-paused:
		t.Logf("%s: paused after its fresh preview", name)
		between()
		if werr := os.WriteFile(resume, []byte("resume\n"), 0o600); werr != nil {
			t.Fatal(werr)
		}
		err = <-done
	case err = <-done:
		// Unblock the reader: the script ended before any preview.
		if f, oerr := os.OpenFile(previewed, os.O_WRONLY|syscall.O_NONBLOCK, 0); oerr == nil {
			f.Close()
		}
		t.Errorf("%s ended without a preview to pause after", name)
	}
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Logf("%s: exit %d in %s", name, code, time.Since(start).Round(100*time.Millisecond))
	return code, out.String()
}

// refusal is what a refused apply must leave behind: the state's resources
// and (when the scenario has them) the fake AWS provider's writes as before.
// refusesDriftAfterFreshPreview: the node group urn drifts (maxSize 12 in
// AWS) while pulumi-apply.sh sits between its fresh preview and the update,
// and someone refreshes the stack: apply refuses before the update (exit 3,
// the state changed) and nothing is applied.
func (r *rehearsal) refusesDriftAfterFreshPreview(t *testing.T, approved approval, fake *FakeAWS, urn string) {
	t.Helper()
	var afterRefresh refusal
	code, out := r.scriptPausedAfterPreview(t, "pulumi-apply.sh", approved.applyEnv(), func() {
		if err := fake.Mutate(urn, func(in, out map[string]any) {
			in["scalingConfig"].(map[string]any)["maxSize"] = 12.0
			out["scalingConfig"].(map[string]any)["maxSize"] = 12.0
		}); err != nil {
			t.Fatal(err)
		}
		r.cli(t, 0, "refresh", "--yes", "--skip-preview")
		afterRefresh = r.beforeRefusal(t)
	})
	if code != 3 || !strings.Contains(out, "state changed while the fresh preview ran") {
		t.Errorf("drift between the fresh preview and the update: apply exit %d, want 3 (state changed)\n%s", code, out)
	}
	r.checkNothingApplied(t, afterRefresh, "drift between the fresh preview and the update")
}

// refusesReplacementAfterFreshPreview: change makes the update replace the
// node group after pulumi-apply.sh's fresh preview; `up --plan` stops it
// before any step runs (exit 1, the plan's refusal) and no value changes.
func (r *rehearsal) refusesReplacementAfterFreshPreview(t *testing.T, approved approval, change func()) {
	t.Helper()
	before, values := r.beforeRefusal(t), r.stateValues(t)
	code, out := r.scriptPausedAfterPreview(t, "pulumi-apply.sh", approved.applyEnv(), change)
	t.Logf("a replacement after the fresh preview, under up --plan: apply exit %d", code)
	if code != 1 || !strings.Contains(out, "differed from the approved plan") {
		t.Errorf("apply exit %d, want 1 with the plan's refusal (\"differed from the approved plan\"):\n%s", code, out)
	}
	r.checkNoValueChanged(t, before, values, "a replacement after the fresh preview")
}

// upUnderSavedPlan previews with --save-plan and runs `pulumi up --plan`
// with that plan, as pulumi-apply.sh would; it returns up's exit code and
// output and the lines in which the engine refused its own plan.
func (r *rehearsal) upUnderSavedPlan(t *testing.T) (int, string, []string) {
	t.Helper()
	plan := filepath.Join(t.TempDir(), "plan.json")
	r.cli(t, 0, "preview", "--refresh=false", "--save-plan", plan)
	code, out := r.run(t, "pulumi up --plan", r.env, r.pulumiBin, "up", "--yes", "--skip-preview", "--refresh=false",
		"--plan", plan, "--stack", stackName, "--non-interactive")
	var violations []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "violates plan") || strings.Contains(line, "not allowed by the plan") {
			violations = append(violations, strings.TrimSpace(line))
		}
	}
	return code, out, violations
}

type refusal struct {
	state []byte
	ops   int
}

func (r *rehearsal) beforeRefusal(t *testing.T) refusal {
	t.Helper()
	ops := 0
	if r.aws != nil {
		ops = len(r.aws.Ops())
	}
	return refusal{state: r.state(t), ops: ops}
}

// checkNothingApplied: no write reached AWS and the state's resources are
// byte-identical; no update events were written.
func (r *rehearsal) checkNothingApplied(t *testing.T, before refusal, what string) {
	t.Helper()
	if r.aws != nil {
		for _, op := range r.aws.Ops()[before.ops:] {
			if (op.Kind == "create" || op.Kind == "update" || op.Kind == "delete") && !op.Preview {
				t.Errorf("%s: the refused apply changed AWS: %s %s", what, op.Kind, op.URN)
			}
		}
	}
	if after := r.state(t); !bytes.Equal(before.state, after) {
		t.Errorf("%s: the refused apply changed the state: %s", what, stateDiff(before.state, after))
	}
}

// stateValues is every resource's inputs and outputs in the checkpoint,
// secrets decrypted (`stack export --show-secrets`; the encryption's nonce
// changes on every write), by URN.
func (r *rehearsal) stateValues(t *testing.T) map[string]string {
	t.Helper()
	var dep struct {
		Deployment struct {
			Resources []struct {
				URN     string         `json:"urn"`
				Inputs  map[string]any `json:"inputs"`
				Outputs map[string]any `json:"outputs"`
			} `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal(r.pulumi(t, "", "stack", "export", "--show-secrets", "--stack", stackName), &dep); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, res := range dep.Deployment.Resources {
		b, _ := json.Marshal([]any{res.Inputs, res.Outputs})
		out[res.URN] = string(b)
	}
	return out
}

// checkNoValueChanged is checkNothingApplied for an update the plan stopped:
// no write reached AWS and every resource's values are as before. The
// checkpoint is not byte-identical: the update's "same" steps rewrite every
// record (order, propertyDependencies, secrets encrypted anew), so that
// difference is reported, not failed.
func (r *rehearsal) checkNoValueChanged(t *testing.T, before refusal, values map[string]string, what string) {
	t.Helper()
	for _, op := range r.aws.Ops()[before.ops:] {
		if (op.Kind == "create" || op.Kind == "update" || op.Kind == "delete") && !op.Preview {
			t.Errorf("%s: the stopped update changed AWS: %s %s", what, op.Kind, op.URN)
		}
	}
	after := r.stateValues(t)
	for urn, v := range values {
		if after[urn] != v {
			t.Errorf("%s: the stopped update changed %s in the state:\n%s\n-> %s", what, urn, v, after[urn])
		}
	}
	for urn := range after {
		if _, ok := values[urn]; !ok {
			t.Errorf("%s: the stopped update added %s to the state", what, urn)
		}
	}
	if b := r.state(t); !bytes.Equal(before.state, b) {
		t.Logf("FINDING: %s: no value changed, but the checkpoint is not byte-identical: the update's same steps rewrote it (%d resources; record order, propertyDependencies, secrets encrypted anew)", what, len(after))
	}
}

// stateDiff names the resources, and their fields, that differ between two
// checkpoints' resource lists.
func stateDiff(before, after []byte) string {
	index := func(b []byte) (map[string]map[string]json.RawMessage, []string) {
		var list []map[string]json.RawMessage
		_ = json.Unmarshal(b, &list)
		out := map[string]map[string]json.RawMessage{}
		var order []string
		for _, r := range list {
			var urn string
			_ = json.Unmarshal(r["urn"], &urn)
			out[urn] = r
			order = append(order, urn)
		}
		return out, order
	}
	b, bo := index(before)
	a, ao := index(after)
	var diffs []string
	if !slices.Equal(bo, ao) {
		diffs = append(diffs, fmt.Sprintf("order %v -> %v", bo, ao))
	}
	for urn, rb := range b {
		ra, ok := a[urn]
		if !ok {
			diffs = append(diffs, "gone: "+urn)
			continue
		}
		for k := range ra {
			if !bytes.Equal(rb[k], ra[k]) {
				diffs = append(diffs, fmt.Sprintf("%s %s: %s -> %s", urn, k, rb[k], ra[k]))
			}
		}
		for k := range rb {
			if _, ok := ra[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s %s: removed", urn, k))
			}
		}
	}
	for urn := range a {
		if _, ok := b[urn]; !ok {
			diffs = append(diffs, "new: "+urn)
		}
	}
	return strings.Join(diffs, "; ")
}

// expectRefused runs pulumi-apply.sh on approved and wants exit 3 with want
// in its output, nothing applied and no `pulumi up`.
func (r *rehearsal) expectRefused(t *testing.T, approved approval, what string, want ...string) string {
	t.Helper()
	before := r.beforeRefusal(t)
	updateEvents := filepath.Join(r.project, "pulumi-out", "update-events.jsonl")
	_ = os.Remove(updateEvents)
	code, out := r.script(t, "pulumi-apply.sh", approved.applyEnv())
	if code != 3 {
		t.Errorf("%s: pulumi-apply.sh exit %d, want 3 (refused)", what, code)
	}
	for _, w := range append(want, "nothing was applied") {
		if !strings.Contains(out, w) {
			t.Errorf("%s: the refusal does not say %q", what, w)
		}
	}
	if _, err := os.Stat(updateEvents); err == nil {
		t.Errorf("%s: apply ran pulumi up after refusing (update-events.jsonl written)", what)
	}
	r.checkNothingApplied(t, before, what)
	return out
}

// applyTiming is pulumi-apply.sh's apply-timing.json.
type applyTiming struct {
	PreviewSeconds int `json:"previewSeconds"`
	GapSeconds     int `json:"gapSeconds"`
}

func (r *rehearsal) timing(t *testing.T) applyTiming {
	t.Helper()
	var tm applyTiming
	r.readJSON(t, "apply-timing.json", &tm)
	return tm
}

// TestApprovalBinding rehearses issue 18's "Done when" through the pipeline's
// own scripts, the real engine and CLI, and the fake AWS provider, on the
// ./rehearsalbinding program (the cluster's AWS shape, no Kubernetes, so it
// runs in a minute; TestPlatform repeats e and f on the whole program):
//
//  0. evidence: a first deploy under `preview --save-plan` + `up --plan`
//     (pulumi/pulumi#13765), then destroyed again
//     a. first deploy (values unknown until the update: no plan)
//     b. an approved change applies under `up --plan`
//     c. refused, nothing applied, state byte-identical: the approved property
//     with another value; an unapproved replacement
//     d. between the fresh preview and the update: drift (refused: the state
//     changed); a replacement (stopped by the plan)
//     e. a secret stack output alone changes: a change, applied (item 10)
//     f. the approved change applies; the time from fresh preview to update
func TestApprovalBinding(t *testing.T) {
	r := startProject(t, projectSpec{
		pkg: "./rehearsalbinding",
		projectYAML: func(bin string) (string, error) {
			return fmt.Sprintf("name: binding\nruntime:\n  name: go\n  options:\n    binary: %q\n", bin), nil
		},
		config:    map[string]string{"aws:region": "us-west-2", "maxSize": "3"},
		timeout:   15 * time.Minute,
		noCluster: true,
	})
	fake := r.aws
	nodeGroup := func(t *testing.T) FakeResource {
		t.Helper()
		groups := fake.Resources("aws:eks/nodeGroup:NodeGroup")
		if len(groups) != 1 {
			t.Fatalf("%d node groups in AWS, want 1", len(groups))
		}
		return groups[0]
	}
	maxSize := func(t *testing.T) any {
		return nodeGroup(t).Inputs["scalingConfig"].(map[string]any)["maxSize"]
	}

	timed(t, "0 first deploy under up --plan (evidence)", func(t *testing.T) {
		code, out, violations := r.upUnderSavedPlan(t)
		switch {
		case code == 0:
			t.Logf("FINDING: a first deploy with values unknown at preview succeeded under up --plan")
		case len(violations) > 0:
			t.Logf("FINDING: a first deploy under up --plan fails (exit %d), the engine refusing its own plan once unknown values are known:\n%s",
				code, strings.Join(violations, "\n"))
		default:
			t.Errorf("a first deploy under up --plan failed (exit %d) without a plan violation:\n%s", code, out)
		}
		r.cli(t, 0, "destroy", "--yes", "--skip-preview")
		if live := fake.Live(); len(live) != 0 {
			t.Fatalf("left in AWS after destroy: %v", live)
		}
	})

	ok := timed(t, "a first deploy", func(t *testing.T) {
		approved := r.preview(t)
		code, out := r.script(t, "pulumi-apply.sh", approved.applyEnv())
		if code != 0 {
			t.Fatalf("first deploy: apply exit %d\n%s", code, out)
		}
		if strings.Contains(out, "updating without --plan") || !strings.Contains(out, "--plan (the fresh preview began") {
			t.Errorf("a complete first deploy (unknown values, nothing partial) was not updated under the plan:\n%s", out)
		}
		r.checkReport(t)
	})
	if !ok {
		t.FailNow()
	}

	timed(t, "b an approved change applies under up --plan", func(t *testing.T) {
		r.configSet(t, "maxSize", "4")
		approved := r.preview(t)
		out := r.expect(t, 0, "pulumi-apply.sh", approved.applyEnv())
		if !strings.Contains(out, "--plan (the fresh preview began") {
			t.Errorf("apply did not update under the plan:\n%s", out)
		}
		r.checkReport(t)
		if got := maxSize(t); got != 4.0 {
			t.Errorf("maxSize in AWS %v, want 4", got)
		}
	})

	timed(t, "c stale approvals are refused", func(t *testing.T) {
		r.configSet(t, "maxSize", "5")
		approved := r.preview(t)
		r.configSet(t, "maxSize", "6")
		r.expectRefused(t, approved, "maxSize 4→5 approved, 4→6 previewed afresh", "in the fresh preview, not approved:", "scalingConfig")
		r.configSet(t, "maxSize", "5")
		r.configSet(t, "capacityType", "ON_DEMAND")
		r.expectRefused(t, approved, "an unapproved replacement", "in the fresh preview, not approved:  replace ")
		r.configSet(t, "capacityType", "SPOT")
		if got := maxSize(t); got != 4.0 {
			t.Errorf("maxSize in AWS %v after the refusals, want still 4", got)
		}
	})

	timed(t, "d between the fresh preview and the update", func(t *testing.T) {
		approved := r.preview(t) // maxSize 4→5
		ng := nodeGroup(t)
		r.refusesDriftAfterFreshPreview(t, approved, fake, ng.URN)

		approved = r.preview(t) // 12 (refreshed) → 5
		r.refusesReplacementAfterFreshPreview(t, approved, func() { r.configSet(t, "capacityType", "ON_DEMAND") })
		r.configSet(t, "capacityType", "SPOT")
	})

	timed(t, "e a secret output alone changes", func(t *testing.T) {
		r.pulumi(t, "first-token", "config", "set", "--secret", "token", "--stack", stackName)
		approved := r.preview(t) // also maxSize 12 → 5
		r.expect(t, 0, "pulumi-apply.sh", approved.applyEnv())
		r.pulumi(t, "second-token", "config", "set", "--secret", "token", "--stack", stackName)
		approved = r.preview(t)
		if approved.outputs["changes"] != "true" || len(approved.summary.Resources) != 0 {
			t.Errorf("a secret output alone changed: outputs %v, %d resource operations; want changes=true and none", approved.outputs, len(approved.summary.Resources))
		}
		md, err := os.ReadFile(filepath.Join(approved.dir, "summary.md"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(md), "[secret, changed]") || strings.Contains(string(md), "second-token") {
			t.Errorf("summary.md shows the secret as %q, want [secret, changed] and never its value", md)
		}
		r.expect(t, 0, "pulumi-apply.sh", approved.applyEnv())
		if got := strings.TrimSpace(string(r.pulumi(t, "", "stack", "output", "token", "--show-secrets", "--stack", stackName))); got != "second-token" {
			t.Errorf("the stack output after apply: %q, want the new secret", got)
		}
		for _, f := range []string{"preview-events.jsonl", "fresh-events.jsonl", "update-events.jsonl", "summary.json", "summary.md"} {
			if b, _ := os.ReadFile(filepath.Join(r.project, "pulumi-out", f)); bytes.Contains(b, []byte("second-token")) || bytes.Contains(b, []byte("first-token")) {
				t.Errorf("%s holds a secret in clear", f)
			}
		}
	})

	timed(t, "f the approved change applies", func(t *testing.T) {
		r.configSet(t, "maxSize", "7")
		approved := r.preview(t)
		r.expect(t, 0, "pulumi-apply.sh", approved.applyEnv())
		r.checkReport(t)
		if got := maxSize(t); got != 7.0 {
			t.Errorf("maxSize in AWS %v, want the approved 7", got)
		}
		tm := r.timing(t)
		t.Logf("MEASURED: the fresh preview took %d s; the update started %d s after the fresh preview began", tm.PreviewSeconds, tm.GapSeconds)
	})
}
