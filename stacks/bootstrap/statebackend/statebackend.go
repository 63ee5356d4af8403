// Package statebackend is the bootstrap program of the main project's Pulumi
// state: the S3 bucket of the DIY backend, the KMS key whose alias is the
// awskms:// secrets provider, and optionally the GitHub Actions OIDC roles
// that CI assumes instead of long-lived keys.
//
// There is no DynamoDB lock table: the DIY backend locks a stack by writing a
// lock object under .pulumi/locks/ in the bucket itself (and `pulumi cancel`
// deletes a stale one).
package statebackend

import (
	"fmt"
	"regexp"
	"sort"

	"github.com/aiplatform/infra/infra/awsbase"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const stateBackendType = "aiplatform:bootstrap:StateBackend"

const (
	githubOIDCHost = "token.actions.githubusercontent.com"
	stsAudience    = "sts.amazonaws.com"
	// stateObjects is where the DIY backend keeps every object it writes
	// (checkpoints, history, backups, locks); CI roles get nothing else.
	stateObjects = ".pulumi/*"
	// applySessionSeconds outlasts a full EKS create (cluster, node groups, add-ons).
	applySessionSeconds = 2 * 60 * 60
)

// BackendURL is what `pulumi login` takes (and Pulumi.yaml's backend.url).
func BackendURL(bucket, region string) string {
	return fmt.Sprintf("s3://%s?region=%s&awssdk=v2", bucket, region)
}

// SecretsProviderURL is what `pulumi stack init --secrets-provider` takes.
func SecretsProviderURL(keyAlias, region string) string {
	return fmt.Sprintf("awskms://%s?region=%s", keyAlias, region)
}

// StateAccessPolicy lets a CI role use the backend. Previews (read) need the
// checkpoint and the stack's data key; applies also write checkpoints and lock
// objects, which SSE-KMS encrypts with data keys from the same key.
func StateAccessPolicy(bucketArn, keyArn string, write bool) awsbase.PolicyDocument {
	objectActions := []string{"s3:GetObject"}
	kmsActions := []string{"kms:Decrypt", "kms:DescribeKey"}
	if write {
		objectActions = append(objectActions, "s3:PutObject", "s3:DeleteObject")
		kmsActions = append(kmsActions, "kms:Encrypt", "kms:GenerateDataKey")
	}
	return awsbase.NewPolicy(
		awsbase.Allow("ListStateBucket", []string{"s3:ListBucket", "s3:GetBucketLocation"}, []string{bucketArn}),
		awsbase.Allow("StateObjects", objectActions, []string{bucketArn + "/" + stateObjects}),
		awsbase.Allow("StateAndSecretsKey", kmsActions, []string{keyArn}),
	)
}

// GitHubTrustPolicy lets GitHub Actions jobs whose OIDC subject is exactly one
// of subjects assume a role. StringEquals, not StringLike: no wildcard can
// widen it to other repositories, branches or environments.
func GitHubTrustPolicy(providerArn string, subjects []string) awsbase.PolicyDocument {
	return awsbase.NewPolicy(awsbase.Statement{
		Sid:       "GitHubActionsOIDC",
		Effect:    "Allow",
		Principal: map[string]any{"Federated": providerArn},
		Action:    []string{"sts:AssumeRoleWithWebIdentity"},
		Condition: map[string]map[string]any{
			"StringEquals": {
				githubOIDCHost + ":aud": stsAudience,
				githubOIDCHost + ":sub": subjects,
			},
		},
	})
}

// PreviewSubjects are the OIDC subjects of pull-request jobs and of jobs on
// the deploy branch without an environment (the main-branch preview, the
// scheduled drift check): the subject prefix, then GitHub's context.
func (ci GitHubCI) PreviewSubjects() []string {
	return []string{
		ci.subjectPrefix() + ":pull_request",
		ci.subjectPrefix() + ":ref:refs/heads/" + ci.Branch,
	}
}

// ApplySubjects are the OIDC subjects of jobs running in a protected
// environment; GitHub only issues them after the environment's approval.
func (ci GitHubCI) ApplySubjects() []string {
	out := make([]string, len(ci.Environments))
	for i, env := range ci.Environments {
		out[i] = ci.subjectPrefix() + ":environment:" + env
	}
	return out
}

// subjectPrefix is SubjectPrefix, or GitHub's original "repo:owner/name" when
// the struct did not pass through withDefaults.
func (ci GitHubCI) subjectPrefix() string {
	if ci.SubjectPrefix != "" {
		return ci.SubjectPrefix
	}
	return "repo:" + ci.Repository
}

// StateBackend is the bucket, key and CI roles of the main project's state.
type StateBackend struct {
	pulumi.ResourceState

	Key    *kms.Key
	Bucket *awsbase.Bucket

	BucketName      pulumi.StringOutput
	KMSKeyArn       pulumi.StringOutput
	BackendURL      pulumi.StringOutput
	SecretsProvider pulumi.StringOutput
	// PreviewRoleArn and ApplyRoleArn are empty without CI.
	PreviewRoleArn pulumi.StringOutput
	ApplyRoleArn   pulumi.StringOutput
}

// NewStateBackend creates the backend. The key, its alias and the bucket are
// protected and retained: losing them loses every stack's state and secrets.
func NewStateBackend(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*StateBackend, error) {
	if args == nil {
		return nil, fmt.Errorf("state backend %s: args are required", name)
	}
	a := args.withDefaults()
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("state backend %s: %w", name, err)
	}
	sb := &StateBackend{}
	if err := ctx.RegisterComponentResource(stateBackendType, name, sb, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(sb)
	keep := []pulumi.ResourceOption{parent, pulumi.Protect(true), pulumi.RetainOnDelete(true)}

	key, err := kms.NewKey(ctx, name,
		awsbase.RotatingKeyArgs("Encrypts the Pulumi state bucket and the secrets of the aiplatform stacks", a.Tags), keep...)
	if err != nil {
		return nil, err
	}
	if _, err := kms.NewAlias(ctx, name, &kms.AliasArgs{
		Name:        pulumi.String(a.KeyAlias),
		TargetKeyId: key.KeyId,
	}, keep...); err != nil {
		return nil, err
	}
	bucket, err := awsbase.NewBucket(ctx, name, &awsbase.BucketArgs{
		KMSKeyArn:             key.Arn,
		NoncurrentVersionDays: a.NoncurrentVersionDays,
		// Every stack's state lives here: a destroy must stop, not proceed.
		OnDestroy: awsbase.ProtectAndRetain,
		Tags:      a.Tags,
	}, parent)
	if err != nil {
		return nil, err
	}
	sb.Key = key
	sb.Bucket = bucket
	sb.BucketName = bucket.Name
	sb.KMSKeyArn = key.Arn
	sb.BackendURL = bucket.Name.ApplyT(func(b string) string { return BackendURL(b, a.Region) }).(pulumi.StringOutput)
	sb.SecretsProvider = pulumi.String(SecretsProviderURL(a.KeyAlias, a.Region)).ToStringOutput()
	sb.PreviewRoleArn = pulumi.String("").ToStringOutput()
	sb.ApplyRoleArn = pulumi.String("").ToStringOutput()

	if a.CI != nil {
		if err := sb.ciRoles(ctx, name, *a.CI, a.Tags); err != nil {
			return nil, err
		}
	}
	return sb, ctx.RegisterResourceOutputs(sb, pulumi.Map{
		"bucketName":      sb.BucketName,
		"kmsKeyArn":       sb.KMSKeyArn,
		"backendUrl":      sb.BackendURL,
		"secretsProvider": sb.SecretsProvider,
		"previewRoleArn":  sb.PreviewRoleArn,
		"applyRoleArn":    sb.ApplyRoleArn,
	})
}

// ciRoles creates (or reuses) the GitHub OIDC provider and the two CI roles.
func (sb *StateBackend) ciRoles(ctx *pulumi.Context, name string, ci GitHubCI, tags map[string]string) error {
	parent := pulumi.Parent(sb)
	providerArn := pulumi.String(ci.OIDCProviderArn).ToStringOutput()
	if ci.OIDCProviderArn == "" {
		provider, err := iam.NewOpenIdConnectProvider(ctx, name+"-github", &iam.OpenIdConnectProviderArgs{
			Url:           pulumi.String("https://" + githubOIDCHost),
			ClientIdLists: pulumi.StringArray{pulumi.String(stsAudience)},
			Tags:          pulumi.ToStringMap(tags),
		}, parent)
		if err != nil {
			return err
		}
		providerArn = provider.Arn
	}
	preview, err := sb.ciRole(ctx, name+"-ci-preview", providerArn, ci.PreviewSubjects(), false, ci.PreviewPolicyArns, tags,
		"GitHub Actions: pulumi preview of "+ci.Repository, 0)
	if err != nil {
		return err
	}
	apply, err := sb.ciRole(ctx, name+"-ci-apply", providerArn, ci.ApplySubjects(), true, ci.ApplyPolicyArns, tags,
		"GitHub Actions: pulumi up of "+ci.Repository+" after environment approval", applySessionSeconds)
	if err != nil {
		return err
	}
	sb.PreviewRoleArn = preview.Arn
	sb.ApplyRoleArn = apply.Arn
	return nil
}

func (sb *StateBackend) ciRole(ctx *pulumi.Context, name string, providerArn pulumi.StringOutput, subjects []string,
	write bool, managed []string, tags map[string]string, description string, sessionSeconds int) (*iam.Role, error) {
	parent := pulumi.Parent(sb)
	trust := providerArn.ApplyT(func(arn string) string { return GitHubTrustPolicy(arn, subjects).JSON() }).(pulumi.StringOutput)
	roleArgs := &iam.RoleArgs{
		AssumeRolePolicy: trust,
		Description:      pulumi.String(description),
		Tags:             pulumi.ToStringMap(tags),
	}
	if sessionSeconds > 0 {
		roleArgs.MaxSessionDuration = pulumi.Int(sessionSeconds)
	}
	role, err := iam.NewRole(ctx, name, roleArgs, parent)
	if err != nil {
		return nil, err
	}
	state := pulumi.All(sb.Bucket.Arn, sb.Key.Arn).ApplyT(func(v []any) string {
		return StateAccessPolicy(v[0].(string), v[1].(string), write).JSON()
	}).(pulumi.StringOutput)
	if _, err := iam.NewRolePolicy(ctx, name+"-state", &iam.RolePolicyArgs{
		Role:   role.Name,
		Policy: state,
	}, parent); err != nil {
		return nil, err
	}
	// Attachments are named after the policy, not their list position, so
	// reordering the config does not replace them.
	sorted := append([]string(nil), managed...)
	sort.Strings(sorted)
	for _, arn := range sorted {
		if _, err := iam.NewRolePolicyAttachment(ctx, name+"-"+policySlug(arn), &iam.RolePolicyAttachmentArgs{
			Role:      role.Name,
			PolicyArn: pulumi.String(arn),
		}, parent); err != nil {
			return nil, err
		}
	}
	return role, nil
}

var (
	policyArnParts = regexp.MustCompile(`:iam::([^:]*):policy/(.+)$`)
	nonSlug        = regexp.MustCompile(`[^a-zA-Z0-9-]+`)
)

// policySlug turns arn:aws:iam::aws:policy/job-function/ViewOnlyAccess into
// aws-job-function-ViewOnlyAccess: unique per ARN and readable in a preview.
func policySlug(arn string) string {
	owner, path := "", arn
	if m := policyArnParts.FindStringSubmatch(arn); m != nil {
		owner, path = m[1], m[2]
	}
	return nonSlug.ReplaceAllString(owner+"-"+path, "-")
}

// The bootstrap's outputs about the runner pools, which setup reads.
const (
	// OutputRunnerEgressIP is the runners' one egress address.
	OutputRunnerEgressIP = "runnerEgressIp"
	// OutputRunnerConnectionArn is the CodeConnections connection to GitHub.
	OutputRunnerConnectionArn = "runnerConnectionArn"
	// OutputRunnerLabels maps each pool's repository variable to its label.
	OutputRunnerLabels = "runnerLabels"
	// OutputRunnerWebhooks maps each pool to its payloadUrl and secret.
	OutputRunnerWebhooks = "runnerWebhooks"
)

// Run is the bootstrap program: load config, create the backend, export what
// the main project's `pulumi login` and `pulumi stack init` need.
func Run(ctx *pulumi.Context) error {
	_, err := Deploy(ctx)
	return err
}

// Deploy is Run returning the component, for tests.
func Deploy(ctx *pulumi.Context) (*StateBackend, error) {
	args, err := LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	sb, err := NewStateBackend(ctx, "aiplatform-pulumi-state", &args)
	if err != nil {
		return nil, err
	}
	ctx.Export("bucketName", sb.BucketName)
	ctx.Export("kmsKeyArn", sb.KMSKeyArn)
	ctx.Export("backendUrl", sb.BackendURL)
	ctx.Export("secretsProvider", sb.SecretsProvider)
	if args.CI != nil {
		ctx.Export("previewRoleArn", sb.PreviewRoleArn)
		ctx.Export("applyRoleArn", sb.ApplyRoleArn)
	}
	if args.Runners != nil {
		runners, err := NewRunners(ctx, "aiplatform-ci-runners", &RunnersArgs{
			Region: args.Region, Repository: args.CI.Repository, Options: *args.Runners, Tags: args.Tags,
		})
		if err != nil {
			return nil, err
		}
		labels := pulumi.StringMap{}
		hooks := pulumi.Map{}
		for _, p := range RunnerPools {
			labels[p.Variable] = pulumi.String(RunnerLabel(p.Name))
			w := runners.Webhooks[p.Name]
			hooks[p.Name] = pulumi.Map{"payloadUrl": w.PayloadURL, "secret": w.Secret}
		}
		ctx.Export(OutputRunnerEgressIP, runners.EgressIP)
		ctx.Export(OutputRunnerConnectionArn, runners.ConnectionArn)
		ctx.Export(OutputRunnerLabels, labels)
		ctx.Export(OutputRunnerWebhooks, hooks)
	}
	return sb, nil
}
