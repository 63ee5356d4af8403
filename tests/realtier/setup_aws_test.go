package realtier

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiplatform/infra/internal/setup"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

// backendRedirect is setup's AWS step with the main project's backend in
// the tier's S3: the bootstrap's bucket exists only in the fake AWS
// provider, so its backendUrl output (s3://<bucket>?region=…) points at
// AWS. Everything else is setup.PulumiSteps as `aiplatform setup` runs it.
type backendRedirect struct {
	*setup.PulumiSteps
	url string
}

func (b backendRedirect) Stack(ctx context.Context, in setup.StackInput, dryRun bool) ([]setup.Change, error) {
	if in.BackendURL != "" && in.BackendURL != setup.Placeholder {
		in.BackendURL = b.url
	}
	return b.PulumiSteps.Stack(ctx, in, dryRun)
}

// setupAWS is setup's AWS step against the tier: the repository's projects
// in a temporary directory, the bootstrap's program prebuilt, the tier's S3,
// the fake AWS provider, a fake KMS that holds only the keys the bootstrap
// made, and the stand-in Go language host, all in this process's
// environment, which the Pulumi CLI inherits.
type setupAWS struct {
	ctx           context.Context
	steps         backendRedirect
	s3            *S3
	aws           *FakeAWS
	kms           *FakeKMS
	proj, bootDir string
}

func startSetupAWS(t *testing.T) *setupAWS {
	tools, _ := FindTools()
	if tools.Pulumi == "" {
		if !required() {
			t.Skip("setup's AWS steps skipped: no pulumi CLI (run .ci/tools.sh, or set REALTIER=1 to make this an error)")
		}
		t.Fatal("pulumi: not in the tools directory nor on PATH (run .ci/tools.sh)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	dir := t.TempDir()
	repoRoot, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	// The repository's projects, with the bootstrap's program prebuilt (the
	// stand-in language host runs binaries only).
	h := &setupAWS{ctx: ctx, proj: filepath.Join(dir, "project")}
	h.bootDir = filepath.Join(h.proj, "stacks", "bootstrap")
	if err := os.MkdirAll(h.bootDir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin", "bootstrap")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/aiplatform/infra/stacks/bootstrap").CombinedOutput(); err != nil {
		t.Fatalf("go build the bootstrap: %v\n%s", err, out)
	}
	bootYAML := readFile(t, filepath.Join(repoRoot, "stacks", "bootstrap", "Pulumi.yaml"))
	withBinary := strings.Replace(bootYAML, "\nruntime: go\n", "\nruntime:\n  name: go\n  options:\n    binary: "+bin+"\n", 1)
	if withBinary == bootYAML {
		t.Fatal("stacks/bootstrap/Pulumi.yaml has no `runtime: go` line to give the prebuilt binary")
	}
	writeFile(t, filepath.Join(h.bootDir, "Pulumi.yaml"), withBinary)
	for _, f := range []string{"Pulumi.yaml", "Pulumi.dev.yaml"} {
		writeFile(t, filepath.Join(h.proj, f), readFile(t, filepath.Join(repoRoot, f)))
	}

	if h.s3, err = StartS3("pulumi-state"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.s3.Close)
	if h.aws, err = StartFakeAWS(awsSDKVersion); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.aws.Stop)
	h.kms = StartFakeKMS(func() map[string]string { return KMSAliases(h.aws) })
	t.Cleanup(h.kms.Close)
	log := &bytes.Buffer{}
	host, err := StartGoLanguageHost(os.Environ(), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(host.Stop)
	// The CLI inherits this process's environment (the Automation API adds
	// its own): the tier's CLI environment (Backend.Env), without a backend
	// URL or passphrase (the bootstrap has its own file backend and empty
	// passphrase, the stacks get theirs from setup), plus the stand-in
	// language host and the fake KMS. The awskms:// secrets provider's AWS
	// SDK v2 client (gocloud.dev/secrets/awskms) honours
	// AWS_ENDPOINT_URL_KMS. In the tier's noCluster way, the CLI's
	// directory goes first on PATH.
	tools.KubernetesProvider = filepath.Join(filepath.Dir(tools.Pulumi), "pulumi-resource-kubernetes")
	env := Backend{Tools: tools, PulumiHome: filepath.Join(dir, "pulumi-home"), DebugProviders: h.aws.DebugProviders()}.Env()
	delete(env, "PULUMI_BACKEND_URL")
	delete(env, "PULUMI_CONFIG_PASSPHRASE")
	env["PULUMI_DEBUG_LANGUAGES"] = host.DebugLanguages()
	env["AWS_ENDPOINT_URL_KMS"] = h.kms.URL()
	for k, v := range env {
		t.Setenv(k, v)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("CLI and program output:\n%s", log.String())
		}
	})
	h.steps = backendRedirect{&setup.PulumiSteps{ProjectDir: h.proj, BootstrapStack: "acct",
		ApplyPolicyArns: []string{"arn:aws:iam::aws:policy/AdministratorAccess"}, Progress: log}, h.s3.BackendURL()}
	return h
}

// run is setup's AWS step as Setup.Run makes it: the bootstrap, then the
// stack dev with the bootstrap's outputs.
func (h *setupAWS) run(t *testing.T, in setup.BootstrapInput, dryRun bool) (changes []string, out setup.BootstrapOutputs, err error) {
	t.Helper()
	defer func() {
		t.Logf("dry run %t: %d changes, err %v\n  %s", dryRun, len(changes), err, strings.Join(changes, "\n  "))
	}()
	out, ch, err := h.steps.Bootstrap(h.ctx, in, dryRun)
	for _, c := range ch {
		changes = append(changes, c.String())
	}
	if err != nil {
		return changes, out, err
	}
	stack := setup.StackInput{Stack: "dev", Region: in.Region, BackendURL: out.BackendURL,
		SecretsProvider: out.SecretsProvider, PreviewRoleArn: out.PreviewRoleArn, ApplyRoleArn: out.ApplyRoleArn}
	if out.Runners != nil {
		stack.RunnerEgressIP = out.Runners.EgressIP
	}
	ch, err = h.steps.Stack(h.ctx, stack, dryRun)
	for _, c := range ch {
		changes = append(changes, c.String())
	}
	return changes, out, err
}

var setupAWSInput = setup.BootstrapInput{Region: "us-west-2", Repository: "acme/infra", SubjectPrefix: "repo:acme@123456/infra@456789", Environments: []string{"dev"}}

// Issue 22: setup's AWS part (the bootstrap and the stack, through the
// Automation API and the real Pulumi CLI) against the tier: a dry run from
// nothing changes nothing; a first run that fails half-way (KMS refuses the
// stack's data key) is finished by the next run; a run after that has
// nothing to change; the stack's secrets are encrypted under the
// bootstrap's key.
func TestSetupAWSSteps(t *testing.T) {
	h := startSetupAWS(t)
	in := setupAWSInput

	// A dry run from nothing: what would be made, and nothing made.
	changes, _, err := h.run(t, in, true)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	wantPrefix(t, "dry run", changes, "+ create directory "+filepath.Join(h.bootDir, ".pulumi-state"), "+ create bootstrap stack acct",
		"+ create stack dev: secrets provider "+setup.Placeholder)
	if live := h.aws.Live(); len(live) != 0 {
		t.Errorf("the dry run created %d AWS resources: %v", len(live), live)
	}
	if _, err := os.Stat(filepath.Join(h.bootDir, ".pulumi-state")); !os.IsNotExist(err) {
		t.Errorf("the dry run created the state directory (%v)", err)
	}

	// A first run that fails half-way: the bootstrap is made, KMS refuses
	// the stack's data key (the SDK's three attempts).
	h.kms.FailNext(10)
	changes, _, err = h.run(t, in, false)
	if err == nil || !strings.Contains(err.Error(), "KMSInternalException") {
		t.Fatalf("first run with KMS failing: err %v, want KMS's refusal; changes %v", err, changes)
	}
	h.kms.FailNext(0)
	joined := strings.Join(changes, "\n")
	for _, want := range []string{"+ create bootstrap stack acct", "~ update bootstrap config aiplatform-bootstrap:github.repository: acme/infra", "~ update bootstrap stack acct: create "} {
		if !strings.Contains(joined, want) {
			t.Errorf("first run: no change %q in\n%s", want, joined)
		}
	}
	keyArn := KMSAliases(h.aws)["alias/aiplatform-pulumi-secrets"]
	if keyArn == "" {
		t.Fatalf("the bootstrap made no alias/aiplatform-pulumi-secrets: %v", KMSAliases(h.aws))
	}

	// The next run finishes the job: the stack, under the bootstrap's key.
	changes, _, err = h.run(t, in, false)
	if err != nil {
		t.Fatalf("run after the failure: %v", err)
	}
	joined = strings.Join(changes, "\n")
	for _, want := range []string{"+ create stack dev: in " + h.s3.BackendURL() + ", secrets provider awskms://alias/aiplatform-pulumi-secrets?region=us-west-2",
		"~ update stack dev config aiplatform:clusterCreatorRoleArn: arn:aws:iam::123456789012:role/aiplatform-pulumi-state-ci-apply"} {
		if !strings.Contains(joined, want) {
			t.Errorf("run after the failure: no change %q in\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "bootstrap stack acct:") {
		t.Errorf("run after the failure: the bootstrap changed again:\n%s", joined)
	}
	stackFile := readFile(t, filepath.Join(h.proj, "Pulumi.dev.yaml"))
	for _, want := range []string{"secretsprovider: awskms://alias/aiplatform-pulumi-secrets?region=us-west-2", "encryptedkey: "} {
		if !strings.Contains(stackFile, want) {
			t.Errorf("Pulumi.dev.yaml lacks %q:\n%s", want, stackFile)
		}
	}
	if keys, err := h.s3.Keys(".pulumi/stacks/aiplatform/dev"); err != nil || len(keys) == 0 {
		t.Errorf("the stack is not in the tier's S3: %v %v", keys, err)
	}
	if calls := h.kms.Calls(); len(calls) == 0 || calls[0] != "Encrypt "+keyArn {
		t.Errorf("KMS calls %v, want the data key encrypted under the bootstrap's key %s", calls, keyArn)
	}

	// A secret set in the stack is readable through the bootstrap's key.
	st, err := auto.SelectStackLocalSource(h.ctx, "dev", h.proj, auto.EnvVars(map[string]string{"PULUMI_BACKEND_URL": h.s3.BackendURL()}))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetConfig(h.ctx, "aiplatform:dockerHubToken", auto.ConfigValue{Value: "s3cr3t", Secret: true}); err != nil {
		t.Fatal(err)
	}
	if v, err := st.GetConfig(h.ctx, "aiplatform:dockerHubToken"); err != nil || v.Value != "s3cr3t" {
		t.Errorf("the secret read back: %+v, %v", v, err)
	}
	if calls := strings.Join(h.kms.Calls(), "\n"); !strings.Contains(calls, "Decrypt "+keyArn) {
		t.Errorf("KMS calls %v: no Decrypt under the bootstrap's key", calls)
	}

	// Then nothing to change, and a dry run agrees.
	for _, dry := range []bool{false, true} {
		changes, _, err = h.run(t, in, dry)
		if err != nil || len(changes) != 0 {
			t.Errorf("run with nothing to do (dry run %t): err %v, changes %v", dry, err, changes)
		}
	}
}

// -runners codebuild through the real engine and CLI: the bootstrap's
// runner pools, their outputs as setup reads them (the webhooks' secrets
// included, through the CLI's secret outputs), and the stack's endpoint
// opened to the runners' one address; a second run changes nothing.
func TestSetupAWSStepsRunners(t *testing.T) {
	h := startSetupAWS(t)
	in := setupAWSInput
	in.Runners = setup.RunnersCodeBuild
	changes, out, err := h.run(t, in, false)
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	r := out.Runners
	if r == nil {
		t.Fatal("the bootstrap's outputs have no runner pools")
	}
	nat := h.aws.Resources("aws:ec2/eip:Eip")
	if len(nat) != 1 || r.EgressIP != nat[0].Outputs["publicIp"] {
		t.Errorf("egress %q, want the one Elastic IP's address (%d EIPs)", r.EgressIP, len(nat))
	}
	if !strings.HasPrefix(r.ConnectionArn, "arn:aws:codeconnections:us-west-2:") {
		t.Errorf("connection %q", r.ConnectionArn)
	}
	hooks := h.aws.Resources("aws:codebuild/webhook:Webhook")
	if len(r.Webhooks) != 2 || len(hooks) != 2 {
		t.Fatalf("webhooks %+v, fake AWS holds %d", r.Webhooks, len(hooks))
	}
	for _, w := range r.Webhooks {
		var found bool
		for _, fh := range hooks {
			if fh.Outputs["payloadUrl"] == w.PayloadURL && fh.Outputs["secret"] == w.Secret && fh.ID == "aiplatform-ci-"+w.Pool {
				found = true
			}
		}
		if !found || w.Secret == "" {
			t.Errorf("pool %s: webhook %+v is not the fake's", w.Pool, w)
		}
	}
	joined := strings.Join(changes, "\n")
	for _, want := range []string{"~ update bootstrap config aiplatform-bootstrap:runners.kind: codebuild",
		"~ update stack dev config aiplatform:endpointAccess: public-and-private",
		"~ update stack dev config aiplatform:publicAccessCidrs[0]: " + r.EgressIP + "/32"} {
		if !strings.Contains(joined, want) {
			t.Errorf("first run: no change %q in\n%s", want, joined)
		}
	}
	if strings.Contains(joined, r.Webhooks[0].Secret) {
		t.Error("a webhook secret is in the changes")
	}
	changes, _, err = h.run(t, in, false)
	if err != nil || len(changes) != 0 {
		t.Errorf("second run: err %v, changes %v", err, changes)
	}
}

func wantPrefix(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if len(got) < len(want) {
		t.Errorf("%s: changes %v, want them to begin with %v", what, got, want)
		return
	}
	for i, w := range want {
		if got[i] != w && !strings.HasPrefix(got[i], w+":") {
			t.Errorf("%s: change %d is %q, want %q", what, i, got[i], w)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
