package infra

import (
	"errors"
	"fmt"

	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-eks/sdk/v2/go/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const clusterType = "aiplatform:infra:Cluster"

// ControlPlaneLogTypes are every EKS control-plane log type; all are shipped to CloudWatch.
var ControlPlaneLogTypes = []string{"api", "audit", "authenticator", "controllerManager", "scheduler"}

// VpcCniConfiguration turns on the VPC CNI's NetworkPolicy enforcement, without
// which the workloads' default-deny policies would be accepted but ignored.
const VpcCniConfiguration = `{"enableNetworkPolicy":"true"}`

// EKS access policies granted through access entries.
const (
	ClusterAdminPolicyArn = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
	ClusterViewPolicyArn  = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
)

// ClusterArgs configures the EKS control plane.
type ClusterArgs struct {
	ClusterName       string
	KubernetesVersion string
	VpcID             pulumi.StringInput
	PublicSubnetIDs   pulumi.StringArrayInput
	PrivateSubnetIDs  pulumi.StringArrayInput
	ServiceCIDR       string
	// PublicAccessCIDRs opens the public endpoint to these networks; empty keeps
	// the API server private (reachable from the VPC only).
	PublicAccessCIDRs []string
	// AdminRoleArns get cluster-admin through EKS access entries.
	AdminRoleArns []string
	// ViewerRoleArns get read-only access (e.g. the CI preview role, which
	// runs pull-request code and must never be admin).
	ViewerRoleArns []string
	Tags           map[string]string
}

// Validate reports every problem of the args.
func (a ClusterArgs) Validate() error {
	var errs []error
	if a.ClusterName == "" {
		errs = append(errs, errors.New("clusterName: required"))
	}
	if a.KubernetesVersion == "" {
		errs = append(errs, errors.New("kubernetesVersion: required"))
	}
	if a.VpcID == nil || a.PrivateSubnetIDs == nil {
		errs = append(errs, errors.New("vpcId, privateSubnetIds: required"))
	}
	if len(a.AdminRoleArns) == 0 {
		errs = append(errs, errors.New("adminRoleArns: at least one admin role is required"))
	}
	for i, c := range a.PublicAccessCIDRs {
		if c == "0.0.0.0/0" || c == "::/0" {
			errs = append(errs, fmt.Errorf("publicAccessCidrs[%d]: %s would expose the API server to the internet", i, c))
		}
	}
	return errors.Join(errs...)
}

// Cluster is an EKS control plane with private endpoint, API access entries,
// KMS-encrypted secrets, all control-plane logs and an IAM OIDC provider for IRSA.
type Cluster struct {
	pulumi.ResourceState

	// EKS is the pulumi-eks component; node groups attach to it.
	EKS  *eks.Cluster
	Name pulumi.StringOutput
	// Kubeconfig is the JSON kubeconfig, marked secret.
	Kubeconfig      pulumi.StringOutput
	OIDCProviderArn pulumi.StringOutput
	// OIDCIssuer is the issuer URL including https://.
	OIDCIssuer       pulumi.StringOutput
	SecretsKMSKeyArn pulumi.StringOutput
}

// AccessEntries grants admin roles the cluster-admin and viewer roles the
// view access policy, both cluster-wide.
func AccessEntries(adminRoleArns, viewerRoleArns []string) map[string]eks.AccessEntryArgs {
	entries := make(map[string]eks.AccessEntryArgs, len(adminRoleArns)+len(viewerRoleArns))
	add := func(prefix, policy string, arns []string) {
		for i, arn := range arns {
			entries[fmt.Sprintf("%s-%d", prefix, i)] = eks.AccessEntryArgs{
				PrincipalArn: pulumi.String(arn),
				Type:         eks.AccessEntryTypeStandard,
				AccessPolicies: map[string]eks.AccessPolicyAssociationInput{
					prefix: eks.AccessPolicyAssociationArgs{
						PolicyArn:   pulumi.String(policy),
						AccessScope: awseks.AccessPolicyAssociationAccessScopeArgs{Type: pulumi.String("cluster")},
					},
				},
			}
		}
	}
	add("admin", ClusterAdminPolicyArn, adminRoleArns)
	add("viewer", ClusterViewPolicyArn, viewerRoleArns)
	return entries
}

// NewCluster creates the control plane. It creates no nodes: node groups are separate components.
func NewCluster(ctx *pulumi.Context, name string, args *ClusterArgs, opts ...pulumi.ResourceOption) (*Cluster, error) {
	if args == nil {
		return nil, errors.New("cluster " + name + ": args are required")
	}
	if err := args.Validate(); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	c := &Cluster{}
	if err := ctx.RegisterComponentResource(clusterType, name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	key, err := kms.NewKey(ctx, name+"-secrets",
		RotatingKeyArgs("Envelope encryption of Kubernetes secrets in EKS cluster "+args.ClusterName, args.Tags), parent)
	if err != nil {
		return nil, err
	}
	if _, err := kms.NewAlias(ctx, name+"-secrets", &kms.AliasArgs{
		Name:        pulumi.String("alias/" + args.ClusterName + "-eks-secrets"),
		TargetKeyId: key.KeyId,
	}, parent); err != nil {
		return nil, err
	}

	public := len(args.PublicAccessCIDRs) > 0
	mode := eks.AuthenticationModeApi
	noPublicIP := false
	skipDefault := true
	// The VPC CNI is the EKS managed add-on below (pulumi-eks's own CNI
	// manifest cannot turn on network policy enforcement).
	defaultCNI := true
	clusterArgs := &eks.ClusterArgs{
		Name:                            pulumi.String(args.ClusterName),
		Version:                         pulumi.String(args.KubernetesVersion),
		VpcId:                           args.VpcID,
		PublicSubnetIds:                 args.PublicSubnetIDs,
		PrivateSubnetIds:                args.PrivateSubnetIDs,
		NodeAssociatePublicIpAddress:    &noPublicIP,
		SkipDefaultNodeGroup:            &skipDefault,
		UseDefaultVpcCni:                &defaultCNI,
		AuthenticationMode:              &mode,
		AccessEntries:                   AccessEntries(args.AdminRoleArns, args.ViewerRoleArns),
		CreateOidcProvider:              pulumi.Bool(false), // created below so its ARN is a plain output
		EncryptionConfigKeyArn:          key.Arn,
		EnabledClusterLogTypes:          pulumi.ToStringArray(ControlPlaneLogTypes),
		EndpointPrivateAccess:           pulumi.Bool(true),
		EndpointPublicAccess:            pulumi.Bool(public),
		KubernetesServiceIpAddressRange: pulumi.String(args.ServiceCIDR),
		Tags:                            pulumi.ToStringMap(args.Tags),
	}
	if public {
		clusterArgs.PublicAccessCidrs = pulumi.ToStringArray(args.PublicAccessCIDRs)
	}
	cluster, err := eks.NewCluster(ctx, name, clusterArgs, parent)
	if err != nil {
		return nil, err
	}
	if _, err := awseks.NewAddon(ctx, name+"-vpc-cni", &awseks.AddonArgs{
		ClusterName:              cluster.EksCluster.Name(),
		AddonName:                pulumi.String("vpc-cni"),
		ConfigurationValues:      pulumi.String(VpcCniConfiguration),
		ResolveConflictsOnCreate: pulumi.String("OVERWRITE"),
		ResolveConflictsOnUpdate: pulumi.String("OVERWRITE"),
		Tags:                     pulumi.ToStringMap(args.Tags),
	}, parent); err != nil {
		return nil, err
	}
	issuer := cluster.EksCluster.Identities().Index(pulumi.Int(0)).Oidcs().Index(pulumi.Int(0)).Issuer().Elem()
	oidc, err := iam.NewOpenIdConnectProvider(ctx, name, &iam.OpenIdConnectProviderArgs{
		Url:           issuer,
		ClientIdLists: pulumi.StringArray{pulumi.String("sts.amazonaws.com")},
		Tags:          pulumi.ToStringMap(args.Tags),
	}, parent)
	if err != nil {
		return nil, err
	}
	c.EKS = cluster
	c.Name = cluster.EksCluster.Name()
	c.Kubeconfig = pulumi.ToSecret(cluster.KubeconfigJson).(pulumi.StringOutput)
	c.OIDCProviderArn = oidc.Arn
	c.OIDCIssuer = issuer
	c.SecretsKMSKeyArn = key.Arn
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"name":            c.Name,
		"kubeconfig":      c.Kubeconfig,
		"oidcProviderArn": c.OIDCProviderArn,
		"oidcIssuer":      c.OIDCIssuer,
	})
}
