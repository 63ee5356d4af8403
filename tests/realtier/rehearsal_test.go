package realtier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aiplatform/infra/workloads"
)

// projectSpec is a real project directory the pipeline's scripts run in.
type projectSpec struct {
	// pkg is the program's package (./rehearsal), compiled once.
	pkg string
	// projectYAML is the Pulumi.yaml that runs binary.
	projectYAML func(binary string) (string, error)
	// stackFile, when set, is copied to Pulumi.<stack>.yaml before the stack
	// is created (a committed stack config).
	stackFile string
	// kubeconfig sets the loopback cluster's kubeconfig as the secret config
	// key `kubeconfig` (the rehearsal program reads it).
	kubeconfig bool
	// eksCluster: the program creates this EKS cluster through pulumi-eks;
	// needs the pulumi-eks plugin and node, and puts the stub aws first on
	// PATH, issuing tokens for this cluster only.
	eksCluster string
	// config is set with `pulumi config set` after the stack is created.
	config  map[string]string
	timeout time.Duration
	// noCluster: the program creates AWS resources only (the fake AWS
	// provider); no control plane is started and only the pulumi CLI of the
	// tools is needed.
	noCluster bool
}

// startRehearsal starts the pipeline rehearsal's project (the ./rehearsal
// program, the loopback kubeconfig, config).
func startRehearsal(t *testing.T, config map[string]string) *rehearsal {
	return startProject(t, projectSpec{
		pkg:         "./rehearsal",
		projectYAML: func(bin string) (string, error) { return RehearsalProjectYAML(bin), nil },
		kubeconfig:  true,
		config:      config,
		timeout:     20 * time.Minute,
	})
}

// startProject checks the prerequisites (skip, or fail with REALTIER=1),
// builds the program, starts the control plane, S3, the fake AWS provider
// and, without a real pulumi-language-go, the stand-in host, writes the
// project directory and creates the stack with its config (keys as `pulumi
// config set` would).
func startProject(t *testing.T, spec projectSpec) *rehearsal {
	tools, err := FindTools()
	var missing []error
	needed := []string{"bash", "jq", "kubectl", "go"}
	switch {
	case spec.noCluster && tools.Pulumi == "":
		missing = append(missing, fmt.Errorf("pulumi: not in %s nor on PATH (run .ci/tools.sh)", BinDir()))
	case spec.noCluster:
		needed = []string{"bash", "jq", "go"}
		// Backend.Env puts the provider's directory on PATH; here the CLI's.
		tools.KubernetesProvider = filepath.Join(filepath.Dir(tools.Pulumi), "pulumi-resource-kubernetes")
	case err != nil:
		missing = append(missing, err)
	}
	var eksPlugin string
	if spec.eksCluster != "" {
		needed = append(needed, "node")
		if eksPlugin, err = FindEKSPlugin(); err != nil {
			missing = append(missing, err)
		}
	}
	for _, tool := range needed {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, fmt.Errorf("%s: not on PATH (the .github/scripts need bash, pulumi, jq and kubectl; pulumi-eks needs node)", tool))
		}
	}
	repoRoot, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	scripts := filepath.Join(repoRoot, ".github", "scripts")
	if _, err := os.Stat(filepath.Join(scripts, "pulumi-apply.sh")); err != nil {
		missing = append(missing, fmt.Errorf("the pipeline scripts: %w", err))
	}
	if len(missing) > 0 {
		if !required() {
			t.Skipf("pipeline rehearsal skipped (run .ci/tools.sh, install jq and kubectl, or set REALTIER=1 to make this an error):\n%v", errors.Join(missing...))
		}
		t.Fatal(errors.Join(missing...))
	}
	ctx, cancel := context.WithTimeout(context.Background(), spec.timeout)
	t.Cleanup(cancel)
	dir := t.TempDir()

	// The program, compiled once; the CLI only ever runs the binary.
	start := time.Now()
	bin := filepath.Join(dir, "bin", filepath.Base(spec.pkg))
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, spec.pkg)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", spec.pkg, err, out)
	}
	t.Logf("built the program %s in %s", spec.pkg, time.Since(start).Round(100*time.Millisecond))

	cluster := &Cluster{}
	if !spec.noCluster {
		cluster = startTestCluster(ctx, t, tools, filepath.Join(dir, "cluster"))
	}
	s3, err := StartS3("pulumi-state")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s3.Close)
	aws, err := StartFakeAWS(awsSDKVersion)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(aws.Stop)

	backend := Backend{Tools: tools, URL: s3.BackendURL(), PulumiHome: filepath.Join(dir, "pulumi-home"), DebugProviders: aws.DebugProviders()}
	env := backend.Env()
	// What pulumi-stack.yml and drift.yml set for every job, and the stack
	// without KMS (README "Scripts": PULUMI_SECRETS_PROVIDER=passphrase).
	env["PULUMI_SKIP_UPDATE_CHECK"] = "true"
	env["PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER"] = "true"
	env["STACK"] = stackName
	env["OUT_DIR"] = "pulumi-out"
	env["PULUMI_SECRETS_PROVIDER"] = "passphrase"
	if spec.eksCluster != "" {
		// The stub aws first on PATH (pulumi-eks checks `aws --version`; the
		// kubeconfig it builds runs `aws eks get-token`), then the tools
		// directory with pulumi-resource-eks.
		stubDir := filepath.Join(dir, "awsstub")
		build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(stubDir, "aws"), "./awsstub")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build ./awsstub: %v\n%s", err, out)
		}
		env["PATH"] = stubDir + string(os.PathListSeparator) + filepath.Dir(eksPlugin) + string(os.PathListSeparator) + env["PATH"]
		env["AIPLATFORM_AWSSTUB_CLUSTER"] = spec.eksCluster
		env["AIPLATFORM_AWSSTUB_TOKEN"] = cluster.Token
		env["AIPLATFORM_AWSSTUB_LOG"] = filepath.Join(dir, "awsstub.log")
		aws.SetEKSEndpoint(cluster.URL, caData(cluster.PKI.CAPEM))
	}
	log := &testLog{t: t}
	if lang := filepath.Join(BinDir(), "pulumi-language-go"); isExecutable(lang) {
		t.Logf("language host: %s", lang)
	} else {
		host, err := StartGoLanguageHost(EnvList(nil, env), log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(host.Stop)
		env["PULUMI_DEBUG_LANGUAGES"] = host.DebugLanguages()
		t.Logf("language host: no pulumi-language-go in %s (the Go module proxy does not serve it); the in-process stand-in runs the binary (%s)", BinDir(), host.DebugLanguages())
	}

	project := filepath.Join(dir, "project")
	if err := os.MkdirAll(project, 0o755); err != nil {
		t.Fatal(err)
	}
	projectYAML, err := spec.projectYAML(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(project, "Pulumi.yaml"), []byte(projectYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if spec.stackFile != "" {
		b, err := os.ReadFile(spec.stackFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(project, "Pulumi."+stackName+".yaml"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	kubeconfigFile := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfigFile, []byte(cluster.Kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &rehearsal{ctx: ctx, env: env, project: project, scripts: scripts, api: cluster.API, s3: s3, pulumiBin: tools.Pulumi,
		cluster: cluster, aws: aws, kubeconfigFile: kubeconfigFile, dir: dir}

	// The stack exists before CI runs (README "State backend", step 3).
	r.pulumi(t, "", "stack", "init", stackName, "--secrets-provider", "passphrase")
	if spec.kubeconfig {
		r.pulumi(t, cluster.Kubeconfig, "config", "set", "--secret", "kubeconfig")
	}
	for k, v := range spec.config {
		r.configSet(t, k, v)
	}
	return r
}

// TestRehearsal rehearses the deploy pipeline (issue #10, "the approved plan
// must apply"): the .github/scripts that the workflows run, with the
// workflows' environment variables, against the S3 backend and the loopback
// API server, on a real project directory whose program is the compiled
// ./rehearsal (every add-on chart from the packaged charts, then the typed
// AI workloads: the charts scenario's program).
//
//	a. first deploy of an empty stack: preflight, preview (partial: some
//	   charts' inputs are unknown until apply), apply of that summary
//	b. a change (Triton maxReplicas): preview, apply
//	c. a stale approval (the stack changed after the preview; or the same
//	   property of the same object got another value): apply refuses with
//	   exit 3 and changes nothing
//	d. the drift check: clean on an unchanged stack, exit 3 after an
//	   out-of-band edit through the API server
//
// Without the packaged charts it is skipped (REALTIER=1: fails), like the
// charts scenario.
func TestRehearsal(t *testing.T) {
	chartsDir, err := FindCharts()
	RequireCharts(t, err, "pipeline rehearsal (it deploys the add-on charts)")
	total := time.Now()
	r := startRehearsal(t, map[string]string{"chartsDir": chartsDir})
	ctx, cluster, aws, project, kubeconfigFile, s3 := r.ctx, r.cluster, r.aws, r.project, r.kubeconfigFile, r.s3
	hpa := apps(wlTritonNS, "horizontalpodautoscalers", "triton", "autoscaling/v2")

	ok := timed(t, "a first deploy of an empty stack", func(t *testing.T) {
		r.expect(t, 0, "pulumi-preflight.sh", nil)
		approved := r.preview(t)
		// Partial: the charts whose values are outputs unknown at preview
		// (the Load Balancer Controller's) cannot be rendered.
		if approved.outputs["changes"] != "true" || approved.outputs["partial"] != "true" || approved.outputs["blocked"] != "false" || !approved.summary.Partial {
			t.Fatalf("preview outputs %v (summary partial=%t), want changes=true partial=true blocked=false", approved.outputs, approved.summary.Partial)
		}
		for _, res := range approved.summary.Resources {
			if res.Op != "create" {
				t.Errorf("first deploy: %s %s, want only creates", res.Op, res.URN)
			}
		}
		t.Logf("approved: %d resource operations, partial=%s", len(approved.summary.Resources), approved.outputs["partial"])
		r.expect(t, 0, "pulumi-apply.sh", approved.applyEnv())
		// After a partial preview, what the unrendered charts create is
		// reported as unpreviewed (under "Created under components the
		// preview could not render"); nothing may be unapproved or missing.
		var report struct{ Unapproved, Unpreviewed, NotPerformed []any }
		r.readJSON(t, "update-report.json", &report)
		if len(report.Unapproved)+len(report.NotPerformed) != 0 {
			t.Errorf("update report: %+v, want nothing unapproved or not performed", report)
		}
		if len(report.Unpreviewed) == 0 {
			t.Errorf("update report lists nothing unpreviewed after a partial preview: %+v", report)
		}
		t.Logf("created under components the preview could not render: %d", len(report.Unpreviewed))
		objects, err := chartsObjects(ctx, cluster.API)
		if err != nil {
			t.Fatalf("resolve expected objects: %v", err)
		}
		assertObjects(ctx, t, cluster.API, objects)
		// What TestRealTier's charts scenario checked after its up, for the
		// same program (it no longer installs the current charts itself):
		// every Kubernetes object in the state is in the API server and
		// carries the test's stack transform, children of the Helm v4
		// Charts included; no pod template names a missing object.
		var exported []stateResource
		if err := json.Unmarshal(r.state(t), &exported); err != nil {
			t.Fatal(err)
		}
		inState, err := stateObjects(ctx, t, exported, cluster.API)
		if err != nil {
			t.Errorf("map the state's Kubernetes objects to API paths: %v", err)
		}
		if len(inState) < 100 {
			t.Errorf("%d Kubernetes objects in the state, want the charts' (over 100)", len(inState))
		}
		t.Logf("%d Kubernetes objects in the state, each read back from the API server", len(inState))
		assertObjects(ctx, t, cluster.API, inState)
		checkNoDanglingReferences(ctx, t, cluster.API)
		var urns []string
		for _, res := range approved.summary.Resources {
			urns = append(urns, res.URN)
		}
		if got, want := len(aws.Live()), countPackage(urns, "aws"); got != want || want == 0 { // the IRSA roles and their policies
			t.Errorf("the fake AWS provider holds %d resources, the approved summary creates %d", got, want)
		}
		// The apply job's next step. No Argo CD controller runs: the
		// Applications never sync, so the wait must time out with exit 3, as
		// it would on a broken cluster.
		r.expect(t, 3, "argocd-wait.sh", map[string]string{"KUBECONFIG": kubeconfigFile, "ARGOCD_WAIT_TIMEOUT": "5", "ARGOCD_WAIT_INTERVAL": "2"})
	})
	if !ok {
		t.FailNow()
	}

	timed(t, "b change Triton maxReplicas", func(t *testing.T) {
		r.configSet(t, "maxReplicas", "4")
		approved := r.preview(t)
		if approved.outputs["changes"] != "true" || approved.outputs["partial"] != "false" {
			t.Fatalf("preview outputs %v, want changes=true partial=false", approved.outputs)
		}
		var ops []string
		for _, res := range approved.summary.Resources {
			ops = append(ops, res.Op+" "+urnName(res.URN)+" "+strings.Join(res.Keys, ","))
		}
		if len(ops) != 1 || !strings.HasPrefix(ops[0], "update triton spec") {
			t.Errorf("summary: %v, want one update of the triton HPA's spec (and nothing from the charts)", ops)
		}
		r.expect(t, 0, "pulumi-apply.sh", approved.applyEnv())
		r.checkReport(t)
		assertObjects(ctx, t, cluster.API, []Expect{{Path: hpa, Check: hasField(4, "spec", "maxReplicas")}})
	})

	timed(t, "c stale approval is refused", func(t *testing.T) {
		// Approve X: maxReplicas 5.
		r.configSet(t, "maxReplicas", "5")
		approved := r.preview(t)
		// Then the stack changes to Y before the apply: X plus a new
		// lds-service setting.
		r.configSet(t, "ldsLogLevel", "debug")
		before := r.state(t)
		objBefore := r.objects(t)
		updateEvents := filepath.Join(project, "pulumi-out", "update-events.jsonl")
		if err := os.Remove(updateEvents); err != nil {
			t.Fatal(err)
		}
		out := r.expect(t, 3, "pulumi-apply.sh", approved.applyEnv())
		if !strings.Contains(out, "in the fresh preview, not approved:") || !strings.Contains(out, "nothing was applied") {
			t.Errorf("apply refused, but without naming the difference:\n%s", out)
		}
		if _, err := os.Stat(updateEvents); err == nil {
			t.Error("apply ran pulumi up after refusing (update-events.jsonl written)")
		}
		if after := r.state(t); !bytes.Equal(before, after) {
			t.Errorf("the refused apply changed the state:\nbefore %s\nafter  %s", before, after)
		}
		if len(objBefore) == 0 {
			t.Fatal("no objects listed to compare resourceVersions")
		}
		t.Logf("comparing the resourceVersions of %d objects", len(objBefore))
		if objAfter := r.objects(t); !slices.Equal(objBefore, objAfter) {
			t.Errorf("the refused apply changed objects in the API server:\nbefore %v\nafter  %v", objBefore, objAfter)
		}
		assertObjects(ctx, t, cluster.API, []Expect{{Path: hpa, Check: hasField(4, "spec", "maxReplicas")}})
		if locks, _ := s3.Keys(".pulumi/locks/"); len(locks) != 0 {
			t.Errorf("locks left behind: %v", locks)
		}
		r.configRm(t, "ldsLogLevel")

		// The same approval (X: 5) once the stack changed to a different
		// value of the same property (Y: 6), inside the same Kubernetes
		// object's spec. The summary binds the value at each changed path
		// (issue 18 item 1; it used to carry "update triton [spec]" only, and
		// this applied 6): refused, nothing applied.
		r.configSet(t, "maxReplicas", "6")
		out = r.expectRefused(t, approved, "maxReplicas 5 approved, 6 previewed afresh", "spec.maxReplicas")
		if !strings.Contains(out, "~ spec.maxReplicas: 4 → 6") {
			t.Errorf("the refusal does not show the fresh value (spec.maxReplicas 4 → 6):\n%s", out)
		}
		assertObjects(ctx, t, cluster.API, []Expect{{Path: hpa, Check: hasField(4, "spec", "maxReplicas")}})
		r.configSet(t, "maxReplicas", "4")
	})

	timed(t, "d drift check", func(t *testing.T) {
		before := r.state(t)
		live, err := cluster.API.Get(ctx, hpa)
		if err != nil {
			t.Fatal(err)
		}
		applied := live.Path("spec", "maxReplicas")

		// A label the program does not set, added through the API server
		// before the first check: with server-side apply pulumi-kubernetes
		// diffs only the fields it manages, so the check must still say
		// clean. (One check for both: each drift check is a refresh and a
		// preview of the whole stack, about 40 s here.)
		label := map[string]any{"metadata": map[string]any{"labels": map[string]any{"realtier.aiplatform.io/edited": "out-of-band"}}}
		if err := cluster.API.do(ctx, http.MethodPatch, hpa, label, nil); err != nil {
			t.Fatalf("patch %s: %v", hpa, err)
		}
		r.expect(t, 0, "pulumi-drift.sh", nil)
		if got := r.read(t, "drift-result"); got != "clean" {
			t.Errorf("drift-result %q after a label the program does not manage was added out of band, want clean", got)
		}

		// A field the program sets (maxReplicas), edited by another field
		// manager (as kubectl edit/patch would): the refresh sees it, and the
		// dry-run server-side apply of the program's value conflicts with the
		// new owner. The check must not pass.
		field := map[string]any{"spec": map[string]any{"maxReplicas": 9}}
		if err := cluster.API.do(ctx, http.MethodPatch, hpa, field, nil); err != nil {
			t.Fatalf("patch %s: %v", hpa, err)
		}
		code, out := r.script(t, "pulumi-drift.sh", nil)
		result := r.read(t, "drift-result")
		t.Logf("a managed field edited out of band (maxReplicas %v -> 9 by another field manager): drift check exit %d (%s)", applied, code, result)
		if code == 0 || result == "clean" {
			t.Errorf("the drift check passed after an out-of-band edit of a managed field:\n%s", out)
		}
		conflict := code == 1 && strings.Contains(out, "Server-Side Apply field conflict")
		switch {
		case code == 3:
			// Drift: the summary must name the edited object, not merely count.
			var edited summary
			r.readJSON(t, "drift-summary.json", &edited)
			if !slices.ContainsFunc(edited.Resources, func(res summaryResource) bool {
				return strings.HasSuffix(res.URN, "HorizontalPodAutoscaler::triton")
			}) {
				t.Errorf("drift exit 3, but the summary does not name the edited HPA: %+v", edited.Resources)
			}
		case code == 1 && !conflict:
			// A crash of the drift script is not drift detected (issue 19, item 12).
			t.Errorf("the drift check failed for another reason than the known server-side apply conflict:\n%s", out)
		}
		if conflict {
			// The deploy's pulumi-preview.sh does not refresh, so it shows
			// changes=false for this edit (docs/testing.md, measured once;
			// not re-run here: a preview of the whole stack for a log line).
			t.Logf("FINDING: pulumi-kubernetes reports the edit as a server-side apply conflict, so pulumi-drift.sh exits 1 (check failed; drift.yml opens the drift issue for it), not 3")
		}
		// Back to the applied value: the conflict is about differing values.
		if err := cluster.API.do(ctx, http.MethodPatch, hpa, map[string]any{"spec": map[string]any{"maxReplicas": applied}}, nil); err != nil {
			t.Fatal(err)
		}

		// A managed object deleted out of band: drift, exit 3, with the
		// create that would restore it.
		pdb := apps(wlTritonNS, "poddisruptionbudgets", "triton", "policy/v1")
		if err := cluster.API.do(ctx, http.MethodDelete, pdb, nil, nil); err != nil {
			t.Fatalf("delete %s: %v", pdb, err)
		}
		out = r.expect(t, 3, "pulumi-drift.sh", nil)
		if got := r.read(t, "drift-result"); got != "drift" {
			t.Errorf("drift-result %q, want drift", got)
		}
		var drift summary
		r.readJSON(t, "drift-summary.json", &drift)
		var ops []string
		for _, res := range drift.Resources {
			ops = append(ops, res.Op+" "+res.URN)
		}
		if !slices.ContainsFunc(ops, func(op string) bool {
			return strings.HasPrefix(op, "create ") && strings.HasSuffix(op, "PodDisruptionBudget::triton")
		}) {
			t.Errorf("drift summary does not restore the deleted PDB: %v\n%s", ops, out)
		}
		// Every check refreshed in memory: the state is as before.
		if after := r.state(t); !bytes.Equal(before, after) {
			t.Errorf("the drift check wrote the state:\nbefore %s\nafter  %s", before, after)
		}
	})
	t.Logf("pipeline rehearsal (charts and typed workloads) took %s", time.Since(total).Round(time.Second))
}

// rehearsal runs the pipeline's scripts and the CLI in the project directory.
type rehearsal struct {
	ctx       context.Context
	env       map[string]string
	project   string
	scripts   string
	api       *KubeAPI
	s3        *S3
	pulumiBin string

	cluster        *Cluster
	aws            *FakeAWS
	kubeconfigFile string
	dir            string // the test's temporary directory
}

// summary is the part of pulumi-summary.sh's format the test reads.
type summary struct {
	Stack     string            `json:"stack"`
	Resources []summaryResource `json:"resources"`
	Changes   bool              `json:"changes"`
	Partial   bool              `json:"partial"`
}

// summaryResource is one resource operation of a summary.
type summaryResource struct {
	Op   string   `json:"op"`
	URN  string   `json:"urn"`
	Keys []string `json:"keys"`
}

// approval is a preview job's result as the apply job receives it: the
// artifact (summary.json and summary.md, downloaded to approved/) and the
// job's outputs (digest, changes, partial, blocked).
type approval struct {
	dir     string
	outputs map[string]string
	summary summary
}

// applyEnv is what pulumi-stack.yml's apply step sets.
func (a approval) applyEnv() map[string]string {
	return map[string]string{
		"APPROVED_SUMMARY": filepath.Join(a.dir, "summary.json"),
		"APPROVED_DIGEST":  a.outputs["digest"],
	}
}

// preview runs pulumi-preview.sh and hands its artifact and outputs on.
func (r *rehearsal) preview(t *testing.T) approval {
	t.Helper()
	ghOut := filepath.Join(t.TempDir(), "github-output")
	r.expect(t, 0, "pulumi-preview.sh", map[string]string{"GITHUB_OUTPUT": ghOut})
	outputs, err := ReadGitHubOutput(ghOut)
	if err != nil {
		t.Fatal(err)
	}
	a := approval{dir: t.TempDir(), outputs: outputs}
	for _, f := range []string{"summary.json", "summary.md"} {
		b, err := os.ReadFile(filepath.Join(r.project, "pulumi-out", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(a.dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r.readJSON(t, "summary.json", &a.summary)
	if a.outputs["digest"] == "" || a.outputs["digest"] != r.read(t, "summary.sha256") {
		t.Fatalf("preview output digest %q, summary.sha256 %q", a.outputs["digest"], r.read(t, "summary.sha256"))
	}
	return a
}

// checkReport: the update did exactly what was approved.
func (r *rehearsal) checkReport(t *testing.T) {
	t.Helper()
	var report struct {
		Unapproved, Unpreviewed, NotPerformed []any
	}
	r.readJSON(t, "update-report.json", &report)
	if len(report.Unapproved)+len(report.Unpreviewed)+len(report.NotPerformed) != 0 {
		t.Errorf("update report: %+v, want nothing unapproved, unpreviewed or not performed", report)
	}
}

// script runs one of .github/scripts the way a workflow step does: bash, in
// the project directory, with the job's environment plus extra.
func (r *rehearsal) script(t *testing.T, name string, extra map[string]string) (int, string) {
	t.Helper()
	env := map[string]string{}
	for k, v := range r.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	return r.run(t, name, env, "bash", filepath.Join(r.scripts, name))
}

// run runs a command in the project directory with env, its output to the
// test log, and returns its exit code and output.
func (r *rehearsal) run(t *testing.T, label string, env map[string]string, command string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.CommandContext(r.ctx, command, args...)
	cmd.Dir = r.project
	cmd.Env = EnvList([]string{"HOME=" + os.Getenv("HOME")}, env)
	var out bytes.Buffer
	l := &testLog{t: t}
	cmd.Stdout = &prefixWriter{w: l, buf: &out}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	t.Logf("%s: exit %d in %s", label, code, time.Since(start).Round(100*time.Millisecond))
	return code, out.String()
}

// expect runs a script and fails the test unless it exits with want.
func (r *rehearsal) expect(t *testing.T, want int, name string, extra map[string]string) string {
	t.Helper()
	code, out := r.script(t, name, extra)
	if code != want {
		t.Fatalf("%s: exit %d, want %d", name, code, want)
	}
	return out
}

// pulumi runs the CLI in the project directory (stack setup, config, export).
func (r *rehearsal) pulumi(t *testing.T, stdin string, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(r.ctx, r.pulumiBin, append(args, "--non-interactive")...)
	cmd.Dir = r.project
	cmd.Env = EnvList([]string{"HOME=" + os.Getenv("HOME")}, r.env)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pulumi %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func (r *rehearsal) configSet(t *testing.T, key, value string) {
	t.Helper()
	r.pulumi(t, "", "config", "set", "--stack", stackName, key, value)
}

func (r *rehearsal) configRm(t *testing.T, key string) {
	t.Helper()
	r.pulumi(t, "", "config", "rm", "--stack", stackName, key)
}

// state is the stack's checkpoint resources, as `pulumi stack export` gives them.
func (r *rehearsal) state(t *testing.T) []byte {
	t.Helper()
	var dep struct {
		Deployment struct {
			Resources json.RawMessage `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal(r.pulumi(t, "", "stack", "export", "--stack", stackName), &dep); err != nil {
		t.Fatal(err)
	}
	return dep.Deployment.Resources
}

// objects lists every object of the kinds the program creates, in the
// namespaces it creates them in and cluster-wide, with its resourceVersion:
// any write through the API server changes it.
func (r *rehearsal) objects(t *testing.T) []string {
	t.Helper()
	var colls []string
	for _, ns := range []string{wlTritonNS, wlServiceNS, "kube-system", workloads.ArgoCDNamespace, chAppsNS} {
		for _, c := range []string{
			"/api/v1/namespaces/%s/configmaps", "/api/v1/namespaces/%s/secrets",
			"/api/v1/namespaces/%s/serviceaccounts", "/api/v1/namespaces/%s/services",
			"/apis/apps/v1/namespaces/%s/deployments", "/apis/apps/v1/namespaces/%s/statefulsets",
			"/apis/apps/v1/namespaces/%s/daemonsets",
			"/apis/autoscaling/v2/namespaces/%s/horizontalpodautoscalers",
			"/apis/policy/v1/namespaces/%s/poddisruptionbudgets",
			"/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies",
			"/apis/networking.k8s.io/v1/namespaces/%s/ingresses",
			"/apis/rbac.authorization.k8s.io/v1/namespaces/%s/roles",
			"/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings",
			"/apis/argoproj.io/v1alpha1/namespaces/%s/applications",
			"/apis/argoproj.io/v1alpha1/namespaces/%s/appprojects",
		} {
			colls = append(colls, fmt.Sprintf(c, ns))
		}
	}
	colls = append(colls, "/api/v1/namespaces",
		"/apis/rbac.authorization.k8s.io/v1/clusterroles",
		"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
		"/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
		"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
		"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
		"/apis/networking.k8s.io/v1/ingressclasses")
	var out []string
	for _, coll := range colls {
		items, err := r.api.List(r.ctx, coll)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range items {
			out = append(out, coll+"/"+o.String("metadata", "name")+"@"+o.String("metadata", "resourceVersion"))
		}
	}
	slices.Sort(out)
	return out
}

func (r *rehearsal) read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.project, "pulumi-out", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func (r *rehearsal) readJSON(t *testing.T, name string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.read(t, name)), v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// prefixWriter copies a script's output to the test log and a buffer.
type prefixWriter struct {
	w   *testLog
	buf *bytes.Buffer
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf.Write(b)
	return p.w.Write(b)
}
