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
	// runners are the runner pools' outputs, answered when asked for them.
	runners *RunnerOutputs
}

func (f *fakeAWS) Bootstrap(_ context.Context, in BootstrapInput, dryRun bool) (BootstrapOutputs, []Change, error) {
	f.bootstrap = append(f.bootstrap, in)
	f.dryRuns = append(f.dryRuns, dryRun)
	var ch []Change
	if len(f.bootstrap) == 1 {
		ch = []Change{{Op: "update", What: "bootstrap stack acct", Detail: "create 14"}}
	}
	out := BootstrapOutputs{
		BackendURL:      "s3://aiplatform-pulumi-state-1a2b3c4?region=us-west-2&awssdk=v2",
		SecretsProvider: "awskms://alias/aiplatform-pulumi-secrets?region=us-west-2",
		PreviewRoleArn:  "arn:aws:iam::123456789012:role/aiplatform-ci-preview",
		ApplyRoleArn:    "arn:aws:iam::123456789012:role/aiplatform-ci-apply",
	}
	if in.Runners != "" {
		out.Runners = f.runners
	}
	return out, ch, nil
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

// Issue 22: a permission the bootstrap's credentials lack is named, with
// the fix. The texts are AWS's, as the AWS provider (aws-sdk-go-v2:
// "operation error <service>: <operation>, https response error …, api
// error <code>: <message>") and the S3 backend (gocloud's blob errors) pass
// them on; the messages' own shapes are from the IAM User Guide
// ("Troubleshoot access denied error messages"), the S3 User Guide
// ("Troubleshoot access denied (403 Forbidden) errors": the enhanced
// messages, and plain "Access Denied" without them), and reported errors:
// KMS CreateKey on resource * (aws-ia/terraform-aws-control_tower_account_factory#569),
// KMS tags at key creation (LeapBeyond/terraform-s3-replication#5), EC2's
// encoded UnauthorizedOperation (okd-project/okd-scos#3).
func TestAWSHintPermissionDenied(t *testing.T) {
	const (
		alice   = "arn:aws:sts::123456789012:assumed-role/Developer/alice"
		grant   = ": run setup as an administrator of the account (the AdministratorAccess policy), or grant these credentials the permissions " + awsPermissionsDoc + " lists, and run setup again"
		upError = "bootstrap up (run setup again to continue; the state is in stacks/bootstrap/.pulumi-state): failed to run update: exit status 255\ncode: 255\nstdout: Updating (aiplatform):\n\n"
	)
	for _, tc := range []struct {
		name, err, want string
	}{
		{"S3, enhanced message",
			upError + `    error: 1 error occurred:` + "\n\t" + `* creating S3 Bucket (aiplatform-pulumi-state-1a2b3c4): operation error S3: CreateBucket, https response error StatusCode: 403, RequestID: 5PN3Z2794BT2QQBG, HostID: TXlyrgvyZPdh4mz54gXfwjYZKt6sVbZRITvONFJNicsdshX3nu3FG/7b0+OP8SnR2cHlt7L3bA8=, api error AccessDenied: User: ` + alice + ` is not authorized to perform: s3:CreateBucket on resource: "arn:aws:s3:::aiplatform-pulumi-state-1a2b3c4" because no identity-based policy allows the s3:CreateBucket action`,
			"AWS denied s3:CreateBucket on arn:aws:s3:::aiplatform-pulumi-state-1a2b3c4 to " + alice + " (because no identity-based policy allows the s3:CreateBucket action)" + grant},
		{"S3, plain Access Denied names the call",
			upError + `    error: 1 error occurred:` + "\n\t" + `* putting S3 Bucket (aiplatform-pulumi-state-1a2b3c4) Policy: operation error S3: PutBucketPolicy, https response error StatusCode: 403, RequestID: 0A1B2C3D4E5F6789, HostID: abc=, api error AccessDenied: Access Denied`,
			"AWS denied the call S3 PutBucketPolicy (AWS's message names no IAM action)" + grant},
		{"S3 backend of the stack step",
			`stack dev: failed to create stack: blob (key ".pulumi/meta.yaml") (code=Unknown): operation error S3: GetObject, https response error StatusCode: 403, RequestID: 5PN3Z2794BT2QQBG, HostID: TXly=, api error AccessDenied: Access Denied`,
			"AWS denied the call S3 GetObject (AWS's message names no IAM action)" + grant},
		{"KMS CreateKey on resource *",
			upError + `    error: 1 error occurred:` + "\n\t" + `* creating KMS Key: operation error KMS: CreateKey, https response error StatusCode: 400, RequestID: 467691b6-62e4-4742-bb69-0123456789ab, api error AccessDeniedException: User: ` + alice + ` is not authorized to perform: kms:CreateKey on resource: * because no identity-based policy allows the kms:CreateKey action`,
			"AWS denied kms:CreateKey to " + alice + " (because no identity-based policy allows the kms:CreateKey action)" + grant},
		{"KMS tags at key creation",
			upError + `    error: 1 error occurred:` + "\n\t" + `* creating KMS Key: operation error KMS: CreateKey, https response error StatusCode: 400, RequestID: c8e16e1f-4f5a-45a5-b882-d6808aec9c3b, api error AccessDeniedException: You don't have the kms:TagResource permission that is required to add tags during key creation.`,
			"AWS denied kms:TagResource" + grant},
		{"IAM, two denials, each once",
			upError + `    error: 2 errors occurred:` + "\n\t" + `* creating IAM OIDC Provider: operation error IAM: CreateOpenIDConnectProvider, https response error StatusCode: 403, RequestID: 9f0e8d7c-0000-4000-8000-000000000001, api error AccessDenied: User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:CreateOpenIDConnectProvider on resource: arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com because no identity-based policy allows the iam:CreateOpenIDConnectProvider action` +
				"\n\t" + `* creating IAM Role (aiplatform-pulumi-state-ci-apply-0a1b2c3): operation error IAM: CreateRole, https response error StatusCode: 403, RequestID: 9f0e8d7c-0000-4000-8000-000000000002, api error AccessDenied: User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::123456789012:role/aiplatform-pulumi-state-ci-apply-0a1b2c3 because no identity-based policy allows the iam:CreateRole action` +
				"\nstderr: error: update failed\n" + `creating IAM OIDC Provider: operation error IAM: CreateOpenIDConnectProvider, https response error StatusCode: 403, RequestID: 9f0e8d7c-0000-4000-8000-000000000001, api error AccessDenied: User: arn:aws:iam::123456789012:user/bob is not authorized to perform: iam:CreateOpenIDConnectProvider on resource: arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com because no identity-based policy allows the iam:CreateOpenIDConnectProvider action`,
			"AWS denied iam:CreateOpenIDConnectProvider on arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com, iam:CreateRole on arn:aws:iam::123456789012:role/aiplatform-pulumi-state-ci-apply-0a1b2c3 to arn:aws:iam::123456789012:user/bob" + grant},
		{"IAM, explicit deny in a service control policy",
			upError + `    error: 1 error occurred:` + "\n\t" + `* creating IAM Role (aiplatform-pulumi-state-ci-apply-0a1b2c3): operation error IAM: CreateRole, https response error StatusCode: 403, RequestID: 9f0e8d7c-0000-4000-8000-000000000003, api error AccessDenied: User: ` + alice + ` is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::123456789012:role/aiplatform-pulumi-state-ci-apply-0a1b2c3 with an explicit deny in a service control policy`,
			"AWS denied iam:CreateRole on arn:aws:iam::123456789012:role/aiplatform-pulumi-state-ci-apply-0a1b2c3 to " + alice + " (with an explicit deny in a service control policy): a policy denies it explicitly, which no permission granted to these credentials overrides: ask whoever owns that policy (for a service control policy, your AWS Organizations administrator) to allow it, or run setup in an account it does not restrict, and run setup again"},
		{"EC2, encoded UnauthorizedOperation",
			`bootstrap preview: operation error EC2: DescribeVpcs, https response error StatusCode: 403, RequestID: 0a1b2c3d-0000-4000-8000-000000000004, api error UnauthorizedOperation: You are not authorized to perform this operation. Encoded authorization failure message: jdKjBcZEAySjIK0A8mKNsduSnHmoPAf68VPLTt9EwBam`,
			"AWS denied the call EC2 DescribeVpcs (AWS's message names no IAM action)" + grant},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := errors.New(tc.err)
			err := awsHint(orig)
			require.ErrorIs(t, err, orig, "the AWS text stays")
			msg := err.Error()
			assert.Equal(t, tc.want, msg[strings.LastIndex(msg, "\n")+1:])
		})
	}
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
	set := stackConfig(cur, in)
	assert.Equal(t, auto.ConfigMap{
		"aiplatform:clusterCreatorRoleArn": {Value: in.ApplyRoleArn},
		"aiplatform:viewerRoleArns[1]":     {Value: in.PreviewRoleArn},
	}, set)
	cur["aiplatform:clusterCreatorRoleArn"] = auto.ConfigValue{Value: in.ApplyRoleArn}
	cur["aiplatform:viewerRoleArns"] = auto.ConfigValue{Value: `["arn:aws:iam::123456789012:role/auditor","` + in.PreviewRoleArn + `"]`}
	set = stackConfig(cur, in)
	assert.Empty(t, set, "a second run sets nothing")

	// With the CodeBuild runners the endpoint admits their one address,
	// beside any the stack already names.
	in.RunnerEgressIP = "203.0.113.7"
	set = stackConfig(cur, in)
	assert.Equal(t, auto.ConfigMap{
		"aiplatform:endpointAccess":       {Value: "public-and-private"},
		"aiplatform:publicAccessCidrs[0]": {Value: "203.0.113.7/32"},
	}, set)
	cur["aiplatform:endpointAccess"] = auto.ConfigValue{Value: "public-and-private"}
	cur["aiplatform:publicAccessCidrs"] = auto.ConfigValue{Value: `["198.51.100.0/24"]`}
	set = stackConfig(cur, in)
	assert.Equal(t, auto.ConfigMap{"aiplatform:publicAccessCidrs[1]": {Value: "203.0.113.7/32"}}, set)
	cur["aiplatform:publicAccessCidrs"] = auto.ConfigValue{Value: `["198.51.100.0/24","203.0.113.7/32"]`}
	set = stackConfig(cur, in)
	assert.Empty(t, set)
	// The committed stacks are private: -runners codebuild opens the
	// endpoint to the runners' address (a change the user commits).
	cur["aiplatform:endpointAccess"] = auto.ConfigValue{Value: "private"}
	set = stackConfig(cur, in)
	assert.Equal(t, auto.ConfigMap{"aiplatform:endpointAccess": {Value: "public-and-private"}}, set)
}
