package setup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeAWS stands for PulumiSteps: it records its inputs and answers with
// the bootstrap's outputs, as a bootstrap that already ran.
type fakeAWS struct {
	bootstrap []BootstrapInput
	stacks    []StackInput
	dryRuns   []bool
}

func (f *fakeAWS) Bootstrap(_ context.Context, in BootstrapInput, dryRun bool) (BootstrapOutputs, []Change, error) {
	f.bootstrap = append(f.bootstrap, in)
	f.dryRuns = append(f.dryRuns, dryRun)
	var ch []Change
	if len(f.bootstrap) == 1 {
		ch = []Change{{Op: "update", What: "bootstrap stack acct", Detail: "create 14"}}
	}
	return BootstrapOutputs{
		BackendURL:      "s3://aiplatform-pulumi-state-1a2b3c4?region=us-west-2&awssdk=v2",
		SecretsProvider: "awskms://alias/aiplatform-pulumi-secrets?region=us-west-2",
		PreviewRoleArn:  "arn:aws:iam::123456789012:role/aiplatform-ci-preview",
		ApplyRoleArn:    "arn:aws:iam::123456789012:role/aiplatform-ci-apply",
	}, ch, nil
}

func (f *fakeAWS) Stack(_ context.Context, in StackInput, dryRun bool) ([]Change, error) {
	f.stacks = append(f.stacks, in)
	return nil, nil
}

// The AWS step gets what GitHub says (the OIDC subject prefix, the
// environments) and its outputs become the variables.
func TestAWSStepFeedsTheGitHubPart(t *testing.T) {
	f, gh := newFakeGitHub(t)
	f.oidc = map[string]any{"use_default": true, "sub_claim_prefix": "repo:acme@123456/infra@456789"}
	aws := &fakeAWS{}
	cfg := testConfig()
	cfg.BackendURL, cfg.PreviewRoleArn, cfg.ApplyRoleArn = "", "", ""
	s := &Setup{GitHub: gh, AWS: aws, Config: cfg}
	rep, err := s.Run(context.Background())
	require.NoError(t, err)
	require.Len(t, aws.bootstrap, 1)
	assert.Equal(t, BootstrapInput{Region: "us-west-2", Repository: "acme/infra", SubjectPrefix: "repo:acme@123456/infra@456789", Environments: []string{"dev"}}, aws.bootstrap[0])
	require.Len(t, aws.stacks, 1)
	assert.Equal(t, "awskms://alias/aiplatform-pulumi-secrets?region=us-west-2", aws.stacks[0].SecretsProvider)
	assert.Equal(t, "~ update bootstrap stack acct: create 14", rep.Changes[0].String())
	assertPreflightAccepts(t, f)
}

// A dry run before any bootstrap: the changes name the bootstrap's outputs
// instead of values no one knows yet, and nothing is written.
func TestDryRunBeforeTheBootstrap(t *testing.T) {
	f, gh := newFakeGitHub(t)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "stacks", "bootstrap"), 0o755))
	cfg := testConfig()
	cfg.BackendURL, cfg.PreviewRoleArn, cfg.ApplyRoleArn = "", "", ""
	s := &Setup{GitHub: gh, AWS: &PulumiSteps{ProjectDir: dir, BootstrapStack: "acct", ApplyPolicyArns: []string{"arn:aws:iam::aws:policy/AdministratorAccess"}}, Config: cfg, DryRun: true}
	rep, err := s.Run(context.Background())
	require.NoError(t, err)
	got := strings.Join(changeStrings(rep), "\n")
	assert.Contains(t, got, "+ create directory "+filepath.Join(dir, "stacks", "bootstrap", ".pulumi-state"))
	assert.Contains(t, got, "+ create bootstrap stack acct: state bucket, KMS key, GitHub OIDC roles")
	assert.Contains(t, got, "+ create stack dev")
	assert.Contains(t, got, "+ create repository variable AWS_APPLY_ROLE_ARN: "+Placeholder)
	assert.NoDirExists(t, filepath.Join(dir, "stacks", "bootstrap", ".pulumi-state"))
	assert.Empty(t, f.writes())
}

func TestBootstrapNeedsApplyPolicies(t *testing.T) {
	p := &PulumiSteps{ProjectDir: t.TempDir(), BootstrapStack: "acct"}
	_, _, err := p.Bootstrap(context.Background(), BootstrapInput{Region: "us-west-2"}, true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-apply-policy-arns: empty")
}

func TestBootstrapConfig(t *testing.T) {
	p := &PulumiSteps{ApplyPolicyArns: []string{"arn:aws:iam::aws:policy/AdministratorAccess"}}
	got := p.bootstrapConfig(BootstrapInput{Region: "us-west-2", Repository: "acme/infra", SubjectPrefix: "repo:acme/infra", Environments: []string{"dev", "prod"}})
	assert.Equal(t, auto.ConfigMap{
		"aws:region":                                     {Value: "us-west-2"},
		"aiplatform-bootstrap:github.repository":         {Value: "acme/infra"},
		"aiplatform-bootstrap:github.subjectPrefix":      {Value: "repo:acme/infra"},
		"aiplatform-bootstrap:github.environments[0]":    {Value: "dev"},
		"aiplatform-bootstrap:github.environments[1]":    {Value: "prod"},
		"aiplatform-bootstrap:github.applyPolicyArns[0]": {Value: "arn:aws:iam::aws:policy/AdministratorAccess"},
	}, got)
	// `pulumi config --json` gives objects as JSON; a second run compares
	// them key by key and sets nothing.
	cur := auto.ConfigMap{
		"aws:region":                  {Value: "us-west-2"},
		"aiplatform-bootstrap:github": {Value: `{"repository":"acme/infra","subjectPrefix":"repo:acme/infra","environments":["dev","prod"],"applyPolicyArns":["arn:aws:iam::aws:policy/AdministratorAccess"]}`},
	}
	assert.Empty(t, configDiff(flatten(cur), got))
	cur["aiplatform-bootstrap:github"] = auto.ConfigValue{Value: `{"repository":"acme/infra","environments":["dev"]}`}
	assert.Equal(t, []string{
		"aiplatform-bootstrap:github.applyPolicyArns[0]", "aiplatform-bootstrap:github.environments[1]", "aiplatform-bootstrap:github.subjectPrefix",
	}, sortedKeys(configDiff(flatten(cur), got)))
}

func TestReadSecretsProvider(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "Pulumi.dev.yaml")
	got, err := readSecretsProvider(f)
	require.NoError(t, err)
	assert.Equal(t, secretsProviderLines{}, got, "no file yet")
	require.NoError(t, os.WriteFile(f, []byte("secretsprovider: awskms://alias/aiplatform-pulumi-secrets?region=us-west-2\nencryptedkey: AQICAHh...\nconfig:\n  aws:region: us-west-2\n"), 0o644))
	got, err = readSecretsProvider(f)
	require.NoError(t, err)
	assert.Equal(t, secretsProviderLines{Provider: "awskms://alias/aiplatform-pulumi-secrets?region=us-west-2", EncryptedKey: true}, got)

	// Lines from another account's key are refused before any pulumi call.
	p := &PulumiSteps{ProjectDir: dir}
	_, err = p.Stack(context.Background(), StackInput{Stack: "dev", SecretsProvider: "awskms://alias/other?region=eu-west-1"}, true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "delete the secretsprovider: and encryptedkey: lines")
}

func TestOpsDetail(t *testing.T) {
	assert.Equal(t, "create 3, update 1", opsDetail(map[string]int{"same": 9, "update": 1, "create": 3}))
	assert.Empty(t, opsDetail(map[string]int{"same": 12}))
}

func TestBootstrapNeedsThePulumiCLI(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "stacks", "bootstrap"), 0o755))
	p := &PulumiSteps{ProjectDir: dir, BootstrapStack: "acct", ApplyPolicyArns: []string{"arn:aws:iam::aws:policy/AdministratorAccess"}}
	_, changes, err := p.Bootstrap(context.Background(), BootstrapInput{Region: "us-west-2"}, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the Pulumi CLI is not on PATH")
	assert.Contains(t, err.Error(), "-backend-url")
	// The state directory is made first, so the next run starts there.
	assert.DirExists(t, filepath.Join(dir, "stacks", "bootstrap", ".pulumi-state"))
	require.Len(t, changes, 1)
}

func TestAWSHint(t *testing.T) {
	err := awsHint(errors.New("bootstrap up: error: get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found"))
	assert.Contains(t, err.Error(), "aws sso login")
	other := errors.New("bootstrap up: BucketAlreadyExists")
	assert.Equal(t, other, awsHint(other))
}

func TestStackConfig(t *testing.T) {
	in := StackInput{Stack: "dev", Region: "us-west-2",
		PreviewRoleArn: "arn:aws:iam::123456789012:role/aiplatform-ci-preview", ApplyRoleArn: "arn:aws:iam::123456789012:role/aiplatform-ci-apply"}
	// The committed Pulumi.dev.yaml: a placeholder creator role, one other viewer.
	cur := auto.ConfigMap{
		"aws:region":                       {Value: "us-west-2"},
		"aiplatform:clusterCreatorRoleArn": {Value: "arn:aws:iam::123456789012:role/platform-admin"},
		"aiplatform:viewerRoleArns":        {Value: `["arn:aws:iam::123456789012:role/auditor"]`},
	}
	assert.Equal(t, auto.ConfigMap{
		"aiplatform:clusterCreatorRoleArn": {Value: in.ApplyRoleArn},
		"aiplatform:viewerRoleArns[1]":     {Value: in.PreviewRoleArn},
	}, stackConfig(cur, in))
	cur["aiplatform:clusterCreatorRoleArn"] = auto.ConfigValue{Value: in.ApplyRoleArn}
	cur["aiplatform:viewerRoleArns"] = auto.ConfigValue{Value: `["arn:aws:iam::123456789012:role/auditor","` + in.PreviewRoleArn + `"]`}
	assert.Empty(t, stackConfig(cur, in), "a second run sets nothing")
}
