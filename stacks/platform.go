package stacks

import (
	"github.com/aiplatform/infra/infra"
	"github.com/aiplatform/infra/infra/awsbase"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Platform is what the infra layer hands the workloads layer.
type Platform struct {
	// Kubernetes is the one provider every in-cluster resource uses, built from
	// the cluster's kubeconfig.
	Kubernetes      *kubernetes.Provider
	ClusterName     pulumi.StringOutput
	OIDCProviderArn pulumi.StringOutput
	// OIDCIssuer is the issuer URL including https://.
	OIDCIssuer  pulumi.StringOutput
	VpcID       pulumi.StringOutput
	Region      string
	ModelBucket *awsbase.Bucket
	// NodeGroups lets workloads depend on capacity existing (e.g. GPU nodes).
	NodeGroups []*infra.NodeGroup
	// EBSCSI provisions the default StorageClass's volumes, encrypted with its key.
	EBSCSI *infra.EBSCSIDriver
	Tags   map[string]string
}
