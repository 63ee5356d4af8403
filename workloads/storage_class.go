package workloads

import (
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	storagev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/storage/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The cluster's default StorageClass lives here, not in a concern package:
// every PersistentVolumeClaim without a class gets it (Prometheus's today,
// any workload's tomorrow), so it belongs to the cluster, like namespaces.
const (
	// DefaultStorageClass names it.
	DefaultStorageClass = "gp3"
	// EBSCSIProvisioner is the EBS CSI driver (infra.EBSCSIDriver).
	EBSCSIProvisioner = "ebs.csi.aws.com"
	// defaultClassAnnotation marks the class PVCs without storageClassName get.
	defaultClassAnnotation = "storageclass.kubernetes.io/is-default-class"
)

const defaultStorageClassType = "aiplatform:workloads:DefaultStorageClass"

// DefaultStorageClassComponent holds the cluster's default StorageClass.
type DefaultStorageClassComponent struct {
	pulumi.ResourceState

	Class *storagev1.StorageClass
}

// NewDefaultStorageClass creates the default StorageClass: encrypted gp3 EBS
// volumes (with the customer managed key kmsKeyArn), provisioned in the
// zone of the pod that first uses them (WaitForFirstConsumer: a volume
// created elsewhere could never be attached), expandable, deleted with their
// claim. EKS clusters from 1.30 mark no class default (their gp2 class
// carries no default annotation), so this is the only default.
func NewDefaultStorageClass(ctx *pulumi.Context, name string, kmsKeyArn pulumi.StringInput, opts ...pulumi.ResourceOption) (*DefaultStorageClassComponent, error) {
	c := &DefaultStorageClassComponent{}
	if err := ctx.RegisterComponentResource(defaultStorageClassType, name, c, opts...); err != nil {
		return nil, err
	}
	class, err := storagev1.NewStorageClass(ctx, name, &storagev1.StorageClassArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:        pulumi.String(DefaultStorageClass),
			Annotations: pulumi.StringMap{defaultClassAnnotation: pulumi.String("true")},
			Labels:      pulumi.StringMap{LabelManagedBy: pulumi.String("pulumi")},
		},
		Provisioner: pulumi.String(EBSCSIProvisioner),
		// ebs.csi.aws.com parameters (aws-ebs-csi-driver docs/parameters.md).
		Parameters: pulumi.StringMap{
			"type":      pulumi.String("gp3"),
			"encrypted": pulumi.String("true"),
			"kmsKeyId":  kmsKeyArn,
		},
		VolumeBindingMode:    pulumi.String("WaitForFirstConsumer"),
		AllowVolumeExpansion: pulumi.Bool(true),
		ReclaimPolicy:        pulumi.String("Delete"),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	c.Class = class
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"name": class.Metadata.Name()})
}
