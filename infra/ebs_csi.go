package infra

import (
	"errors"
	"fmt"

	"github.com/aiplatform/infra/infra/awsbase"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const ebsCSIDriverType = "aiplatform:infra:EBSCSIDriver"

// The EBS CSI controller runs as kube-system/ebs-csi-controller-sa (the
// add-on's service account); its IRSA role carries AmazonEBSCSIDriverPolicy,
// the node roles don't ("Create an Amazon EBS CSI driver IAM role",
// latest/ug/storage/ebs-csi.adoc).
const (
	EBSCSINamespace      = "kube-system"
	EBSCSIServiceAccount = "ebs-csi-controller-sa"
	EBSCSIAddonName      = "aws-ebs-csi-driver"
	ebsCSIPolicy         = "service-role/AmazonEBSCSIDriverPolicy"
)

// EBSCSIKMSPolicy lets the driver use the volumes' customer managed key: the
// policy of "Create an Amazon EBS CSI driver IAM role", step "use a custom
// KMS key for encryption" (KMS_Key_For_Encryption_On_EBS_Policy). Grants only
// for AWS resources (EC2 attaches the volume with a grant), data-key calls on
// this one key.
func EBSCSIKMSPolicy(keyArn string) PolicyDocument {
	grants := Allow("EBSVolumeKeyGrants", []string{"kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"}, []string{keyArn})
	grants.Condition = map[string]map[string]any{"Bool": {"kms:GrantIsForAWSResource": "true"}}
	return NewPolicy(grants,
		Allow("EBSVolumeKeyUse", []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"}, []string{keyArn}))
}

// EBSCSIDriverArgs configures the EBS CSI driver add-on.
type EBSCSIDriverArgs struct {
	ClusterName     pulumi.StringInput
	OIDCProviderArn pulumi.StringInput
	OIDCIssuer      pulumi.StringInput
	// KubernetesVersion picks the add-on version (KubernetesVersions).
	KubernetesVersion string
	Region            string
	Tags              map[string]string
}

// Validate reports every problem at once.
func (a EBSCSIDriverArgs) Validate() error {
	var errs []error
	if a.ClusterName == nil || a.OIDCProviderArn == nil || a.OIDCIssuer == nil {
		errs = append(errs, errors.New("clusterName, oidcProviderArn, oidcIssuer: required"))
	}
	if _, ok := LookupKubernetesVersion(a.KubernetesVersion); !ok {
		errs = append(errs, fmt.Errorf("kubernetesVersion: %q has no row in KubernetesVersions; accepted: %s", a.KubernetesVersion, AcceptedKubernetesMinors()))
	}
	if a.Region == "" {
		errs = append(errs, errors.New("region: required (it decides the ARN partition)"))
	}
	return errors.Join(errs...)
}

// EBSCSIDriver is the aws-ebs-csi-driver EKS managed add-on with its own IRSA
// role and a rotating customer managed key for the volumes it creates.
// Its controller is a Deployment: EKS reports the add-on ACTIVE only once
// those pods run, so it is created after the node groups.
type EBSCSIDriver struct {
	pulumi.ResourceState

	Addon *awseks.Addon
	// VolumeKeyArn is the KMS key the default StorageClass encrypts volumes with.
	VolumeKeyArn pulumi.StringOutput
}

// NewEBSCSIDriver creates the volume key, the IRSA role and the add-on.
func NewEBSCSIDriver(ctx *pulumi.Context, name string, args *EBSCSIDriverArgs, opts ...pulumi.ResourceOption) (*EBSCSIDriver, error) {
	if args == nil {
		return nil, errors.New("ebs csi driver " + name + ": args are required")
	}
	if err := args.Validate(); err != nil {
		return nil, fmt.Errorf("ebs csi driver %s: %w", name, err)
	}
	version, _ := LookupKubernetesVersion(args.KubernetesVersion)
	d := &EBSCSIDriver{}
	if err := ctx.RegisterComponentResource(ebsCSIDriverType, name, d, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(d)
	key, err := kms.NewKey(ctx, name+"-volumes", awsbase.RotatingKeyArgs("Encryption of EBS volumes the EBS CSI driver creates", args.Tags), parent)
	if err != nil {
		return nil, err
	}
	role, err := NewIRSARole(ctx, name, &IRSARoleArgs{
		OIDCProviderArn:   args.OIDCProviderArn,
		OIDCIssuer:        args.OIDCIssuer,
		Namespace:         EBSCSINamespace,
		ServiceAccount:    EBSCSIServiceAccount,
		Policy:            key.Arn.ApplyT(func(arn string) string { return EBSCSIKMSPolicy(arn).JSON() }).(pulumi.StringOutput),
		ManagedPolicyArns: []string{managedPolicyArn(Partition(args.Region), ebsCSIPolicy)},
		Tags:              args.Tags,
	}, parent)
	if err != nil {
		return nil, err
	}
	addon, err := awseks.NewAddon(ctx, name, &awseks.AddonArgs{
		ClusterName:              args.ClusterName,
		AddonName:                pulumi.String(EBSCSIAddonName),
		AddonVersion:             pulumi.String(version.EBSCSIAddon),
		ServiceAccountRoleArn:    role.Arn,
		ResolveConflictsOnCreate: pulumi.String("OVERWRITE"),
		ResolveConflictsOnUpdate: pulumi.String("OVERWRITE"),
		Tags:                     pulumi.ToStringMap(args.Tags),
	}, parent, pulumi.DependsOn(role.Resources))
	if err != nil {
		return nil, err
	}
	d.Addon = addon
	d.VolumeKeyArn = key.Arn
	return d, ctx.RegisterResourceOutputs(d, pulumi.Map{"addonVersion": addon.AddonVersion, "volumeKeyArn": key.Arn})
}
