package awsbase

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// bucketType keeps the token of the package the component was born in: the
// token is part of the URN of the bucket and of its children, so a new one
// would replace the retained (and, for the state bucket, protected) resources.
const bucketType = "aiplatform:infra:Bucket"

// DestroyPolicy says what `pulumi destroy` does with a bucket and its key.
// Either way the data survives: the bucket, its key and its guard rails
// (public access block, TLS-only policy, encryption, versioning) are retained,
// so a destroyed stack leaves the bucket exactly as locked down as before.
type DestroyPolicy string

const (
	// RetainOnDestroy: destroy completes and leaves the bucket and key in the
	// account, no longer managed by the stack (the model bucket).
	RetainOnDestroy DestroyPolicy = "retain"
	// ProtectAndRetain: destroy refuses to run until the resources are
	// unprotected (`pulumi state unprotect`); for the Pulumi state bucket,
	// which every stack depends on.
	ProtectAndRetain DestroyPolicy = "protect"
)

// BucketArgs configures a private, encrypted, versioned S3 bucket.
type BucketArgs struct {
	// KMSKeyArn encrypts objects (SSE-KMS with a bucket key). When nil the
	// component creates its own key with rotation on.
	KMSKeyArn pulumi.StringInput
	// NoncurrentVersionDays expires old object versions after this many days (default 90).
	NoncurrentVersionDays int
	// OnDestroy defaults to RetainOnDestroy.
	OnDestroy DestroyPolicy
	Tags      map[string]string
}

func (a BucketArgs) withDefaults() BucketArgs {
	if a.NoncurrentVersionDays == 0 {
		a.NoncurrentVersionDays = 90
	}
	if a.OnDestroy == "" {
		a.OnDestroy = RetainOnDestroy
	}
	return a
}

// Validate reports every bad value at once.
func (a BucketArgs) Validate() error {
	var errs []error
	if a.NoncurrentVersionDays < 1 {
		errs = append(errs, fmt.Errorf("noncurrentVersionDays: must be >= 1, got %d", a.NoncurrentVersionDays))
	}
	switch a.OnDestroy {
	case RetainOnDestroy, ProtectAndRetain:
	default:
		errs = append(errs, fmt.Errorf("onDestroy: %q is not one of %s, %s", a.OnDestroy, RetainOnDestroy, ProtectAndRetain))
	}
	return errors.Join(errs...)
}

// Bucket is an S3 bucket that holds data the platform cannot lose (models,
// Pulumi state): versioned, SSE-KMS, all public access blocked, TLS-only, and
// retained, guard rails included, when the stack is destroyed.
type Bucket struct {
	pulumi.ResourceState

	Bucket    *s3.BucketV2
	Name      pulumi.StringOutput
	Arn       pulumi.StringOutput
	KMSKeyArn pulumi.StringOutput
}

// TLSOnlyPolicy denies every request to the bucket that is not over TLS.
func TLSOnlyPolicy(bucketArn string) PolicyDocument {
	return NewPolicy(Statement{
		Sid:       "DenyInsecureTransport",
		Effect:    "Deny",
		Principal: map[string]any{"AWS": "*"},
		Action:    []string{"s3:*"},
		Resource:  []string{bucketArn, bucketArn + "/*"},
		Condition: map[string]map[string]any{"Bool": {"aws:SecureTransport": "false"}},
	})
}

// NewBucket creates the bucket and its guard rails. Nothing of it is deleted
// by a destroy (args.OnDestroy); only ProtectAndRetain also blocks the destroy.
func NewBucket(ctx *pulumi.Context, name string, args *BucketArgs, opts ...pulumi.ResourceOption) (*Bucket, error) {
	if args == nil {
		args = &BucketArgs{}
	}
	a := args.withDefaults()
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("bucket %s: %w", name, err)
	}
	b := &Bucket{}
	if err := ctx.RegisterComponentResource(bucketType, name, b, opts...); err != nil {
		return nil, err
	}
	keep := []pulumi.ResourceOption{pulumi.Parent(b), pulumi.RetainOnDelete(true)}
	if a.OnDestroy == ProtectAndRetain {
		keep = append(keep, pulumi.Protect(true))
	}
	// Guard rails are retained with the bucket (deleting them would leave a
	// retained bucket without its public access block and TLS-only policy),
	// but never protected: a protected child would block the destroy again.
	rails := []pulumi.ResourceOption{pulumi.Parent(b), pulumi.RetainOnDelete(true)}

	keyArn := a.KMSKeyArn
	if keyArn == nil {
		key, err := kms.NewKey(ctx, name, RotatingKeyArgs("Encrypts S3 bucket "+name, a.Tags), keep...)
		if err != nil {
			return nil, err
		}
		keyArn = key.Arn
	}
	bucket, err := s3.NewBucketV2(ctx, name, &s3.BucketV2Args{
		BucketPrefix: pulumi.String(name + "-"),
		Tags:         pulumi.ToStringMap(a.Tags),
	}, keep...)
	if err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketOwnershipControls(ctx, name, &s3.BucketOwnershipControlsArgs{
		Bucket: bucket.ID(),
		Rule:   &s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, rails...); err != nil {
		return nil, err
	}
	block, err := s3.NewBucketPublicAccessBlock(ctx, name, &s3.BucketPublicAccessBlockArgs{
		Bucket:                bucket.ID(),
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, rails...)
	if err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketVersioningV2(ctx, name, &s3.BucketVersioningV2Args{
		Bucket:                  bucket.ID(),
		VersioningConfiguration: &s3.BucketVersioningV2VersioningConfigurationArgs{Status: pulumi.String("Enabled")},
	}, rails...); err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, name, &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{&s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
			ApplyServerSideEncryptionByDefault: &s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
				SseAlgorithm:   pulumi.String("aws:kms"),
				KmsMasterKeyId: keyArn,
			},
			BucketKeyEnabled: pulumi.Bool(true),
		}},
	}, rails...); err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketLifecycleConfigurationV2(ctx, name, &s3.BucketLifecycleConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketLifecycleConfigurationV2RuleArray{&s3.BucketLifecycleConfigurationV2RuleArgs{
			Id:     pulumi.String("expire-noncurrent-versions"),
			Status: pulumi.String("Enabled"),
			Filter: &s3.BucketLifecycleConfigurationV2RuleFilterArgs{},
			NoncurrentVersionExpiration: &s3.BucketLifecycleConfigurationV2RuleNoncurrentVersionExpirationArgs{
				NoncurrentDays: pulumi.Int(a.NoncurrentVersionDays),
			},
			AbortIncompleteMultipartUpload: &s3.BucketLifecycleConfigurationV2RuleAbortIncompleteMultipartUploadArgs{
				DaysAfterInitiation: pulumi.Int(7),
			},
		}},
	}, rails...); err != nil {
		return nil, err
	}
	policy := bucket.Arn.ApplyT(func(arn string) string { return TLSOnlyPolicy(arn).JSON() }).(pulumi.StringOutput)
	// The policy waits for the public access block so AWS does not judge it before the block exists.
	if _, err := s3.NewBucketPolicy(ctx, name, &s3.BucketPolicyArgs{
		Bucket: bucket.ID(),
		Policy: policy,
	}, append(rails, pulumi.DependsOn([]pulumi.Resource{block}))...); err != nil {
		return nil, err
	}
	b.Bucket = bucket
	b.Name = bucket.Bucket
	b.Arn = bucket.Arn
	b.KMSKeyArn = keyArn.ToStringOutput()
	return b, ctx.RegisterResourceOutputs(b, pulumi.Map{"name": bucket.Bucket, "arn": bucket.Arn, "kmsKeyArn": b.KMSKeyArn})
}

// RotatingKeyArgs are the arguments of every KMS key of the platform: yearly
// rotation on, and the longest deletion window so a mistaken delete can be undone.
func RotatingKeyArgs(description string, tags map[string]string) *kms.KeyArgs {
	return &kms.KeyArgs{
		Description:          pulumi.String(description),
		EnableKeyRotation:    pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(30),
		Tags:                 pulumi.ToStringMap(tags),
	}
}
