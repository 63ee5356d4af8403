package infra

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/aiplatform/infra/infra/awsbase"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi-eks/sdk/v2/go/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const clusterType = "aiplatform:infra:Cluster"

// ControlPlaneLogTypes are every EKS control-plane log type; all are shipped to CloudWatch.
var ControlPlaneLogTypes = []string{"api", "audit", "authenticator", "controllerManager", "scheduler"}

// VpcCniConfiguration turns on the VPC CNI's NetworkPolicy enforcement, without
// which the workloads' default-deny policies would be accepted but ignored.
const VpcCniConfiguration = `{"enableNetworkPolicy":"true"}`

// EKS access policies granted through access entries. Viewers get
// AmazonEKSAdminViewPolicy (get/list/watch on every resource of every API
// group, Secrets and custom resources included), because `pulumi preview`
// reads every object the program manages; AmazonEKSViewPolicy cannot read
// Secrets, CRDs, ClusterRoles or webhook configurations. Source: "Review
// access policy permissions" in the EKS user guide
// (latest/ug/manage-access/k8s-access/access-policy-reference.adoc).
const (
	ClusterAdminAccessPolicy = "AmazonEKSClusterAdminPolicy"
	ViewerAccessPolicy       = "AmazonEKSAdminViewPolicy"
)

// AccessPolicyArn is the ARN of an EKS access policy in partition.
func AccessPolicyArn(partition, policy string) string {
	return "arn:" + partition + ":eks::aws:cluster-access-policy/" + policy
}

// The VPC CNI's aws-node daemon set runs as kube-system/aws-node; that
// service account's IRSA role carries AmazonEKS_CNI_Policy, the node roles don't.
const (
	VpcCniNamespace      = "kube-system"
	VpcCniServiceAccount = "aws-node"
	vpcCniPolicy         = "AmazonEKS_CNI_Policy"
)

var securityGroupIDPattern = regexp.MustCompile(`^sg-([0-9a-f]{8}|[0-9a-f]{17})$`)

// IsSecurityGroupID reports whether s is an EC2 security group id (sg- and 8 or 17 hex digits).
func IsSecurityGroupID(s string) bool { return securityGroupIDPattern.MatchString(s) }

// ClusterArgs configures the EKS control plane.
type ClusterArgs struct {
	ClusterName string
	// KubernetesVersion is a minor with a row in KubernetesVersions ("1.36").
	KubernetesVersion string
	// Region decides the partition of the policy ARNs.
	Region           string
	VpcID            pulumi.StringInput
	PublicSubnetIDs  pulumi.StringArrayInput
	PrivateSubnetIDs pulumi.StringArrayInput
	ServiceCIDR      string
	// PublicAccessCIDRs opens the public endpoint to these networks; empty keeps
	// the API server private (reachable from the VPC only).
	PublicAccessCIDRs []string
	// EndpointAccessSecurityGroupIDs and EndpointAccessCIDRs may reach the
	// private API endpoint (TCP 443). The control plane's network interfaces
	// carry only the EKS cluster security group and pulumi-eks's cluster
	// security group, which admit 443 from nothing but the nodes.
	EndpointAccessSecurityGroupIDs []string
	EndpointAccessCIDRs            []string
	// AdminRoleArns get cluster-admin through EKS access entries.
	AdminRoleArns []string
	// ViewerRoleArns get read-only access (e.g. the CI preview role, which
	// runs pull-request code and must never be admin).
	ViewerRoleArns []string
	// CreatorRoleArn is the IAM role that creates the cluster. EKS makes it
	// admin itself, so no access entry is created for it.
	CreatorRoleArn string
	Tags           map[string]string
}

// Validate reports every problem of the args.
func (a ClusterArgs) Validate() error {
	var errs []error
	if a.ClusterName == "" {
		errs = append(errs, errors.New("clusterName: required"))
	}
	if _, ok := LookupKubernetesVersion(a.KubernetesVersion); !ok {
		errs = append(errs, fmt.Errorf("kubernetesVersion: %q has no row in KubernetesVersions; accepted: %s", a.KubernetesVersion, AcceptedKubernetesMinors()))
	}
	if a.Region == "" {
		errs = append(errs, errors.New("region: required (it decides the ARN partition)"))
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
	for i, id := range a.EndpointAccessSecurityGroupIDs {
		if !IsSecurityGroupID(id) {
			errs = append(errs, fmt.Errorf("endpointAccessSecurityGroupIds[%d]: %q is not a security group id like sg-0123456789abcdef0", i, id))
		}
	}
	for i, c := range a.EndpointAccessCIDRs {
		if p, err := netip.ParsePrefix(c); err != nil || !p.Addr().Is4() || p.Bits() < 8 || p.Masked() != p {
			errs = append(errs, fmt.Errorf("endpointAccessCidrs[%d]: %q is not an IPv4 network of /8 or narrower", i, c))
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
	// VpcCni is the vpc-cni EKS add-on: nodes and everything that talks to
	// the Kubernetes API wait for it, so pods never start without networking.
	VpcCni *awseks.Addon
}

// AccessEntryKey names the access entry of a role after a short hash of its
// ARN, so reordering adminRoleArns renames (and so replaces) nothing.
// pulumi-eks names the AccessEntry resource "<cluster>-<key>".
func AccessEntryKey(prefix, roleArn string) string {
	sum := sha256.Sum256([]byte(roleArn))
	return prefix + "-" + hex.EncodeToString(sum[:4])
}

// AccessEntries grants admin roles the cluster-admin and viewer roles the
// admin-view access policy, both cluster-wide. The creating role gets no
// entry: pulumi-eks v2 creates the cluster with
// bootstrapClusterCreatorAdminPermissions: true (nodejs/eks/cluster.ts at
// v2.8.1, line 617), so EKS already gave it an admin entry and a second one
// fails with ResourceInUseException (pulumi/pulumi-eks#2373). skipped lists
// the ARNs left out, for a warning.
func AccessEntries(partition string, adminRoleArns, viewerRoleArns []string, creatorRoleArn string) (entries map[string]eks.AccessEntryArgs, skipped []string) {
	entries = make(map[string]eks.AccessEntryArgs, len(adminRoleArns)+len(viewerRoleArns))
	add := func(prefix, policy string, arns []string) {
		for _, arn := range arns {
			if creatorRoleArn != "" && strings.EqualFold(arn, creatorRoleArn) {
				skipped = append(skipped, arn)
				continue
			}
			entries[AccessEntryKey(prefix, arn)] = eks.AccessEntryArgs{
				PrincipalArn: pulumi.String(arn),
				Type:         eks.AccessEntryTypeStandard,
				AccessPolicies: map[string]eks.AccessPolicyAssociationInput{
					prefix: eks.AccessPolicyAssociationArgs{
						PolicyArn:   pulumi.String(AccessPolicyArn(partition, policy)),
						AccessScope: awseks.AccessPolicyAssociationAccessScopeArgs{Type: pulumi.String("cluster")},
					},
				},
			}
		}
	}
	add("admin", ClusterAdminAccessPolicy, adminRoleArns)
	add("viewer", ViewerAccessPolicy, viewerRoleArns)
	return entries, skipped
}

// EndpointIngress is one source allowed to reach the private API endpoint.
type EndpointIngress struct {
	// Key names the rule ("sg-0123…" or "10-20-0-0-16"), stable per source.
	Key             string
	SecurityGroupID string
	CIDR            string
}

// EndpointIngresses is one rule per configured security group and CIDR.
func EndpointIngresses(securityGroupIDs, cidrs []string) []EndpointIngress {
	var out []EndpointIngress
	for _, id := range securityGroupIDs {
		out = append(out, EndpointIngress{Key: id, SecurityGroupID: id})
	}
	for _, c := range cidrs {
		out = append(out, EndpointIngress{Key: strings.NewReplacer(".", "-", "/", "-").Replace(c), CIDR: c})
	}
	return out
}

// NewCluster creates the control plane. It creates no nodes: node groups are separate components.
func NewCluster(ctx *pulumi.Context, name string, args *ClusterArgs, opts ...pulumi.ResourceOption) (*Cluster, error) {
	if args == nil {
		return nil, errors.New("cluster " + name + ": args are required")
	}
	if err := args.Validate(); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	version, _ := LookupKubernetesVersion(args.KubernetesVersion)
	partition := Partition(args.Region)
	c := &Cluster{}
	if err := ctx.RegisterComponentResource(clusterType, name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	key, err := kms.NewKey(ctx, name+"-secrets",
		awsbase.RotatingKeyArgs("Envelope encryption of Kubernetes secrets in EKS cluster "+args.ClusterName, args.Tags), parent)
	if err != nil {
		return nil, err
	}
	if _, err := kms.NewAlias(ctx, name+"-secrets", &kms.AliasArgs{
		Name:        pulumi.String("alias/" + args.ClusterName + "-eks-secrets"),
		TargetKeyId: key.KeyId,
	}, parent); err != nil {
		return nil, err
	}

	entries, skipped := AccessEntries(partition, args.AdminRoleArns, args.ViewerRoleArns, args.CreatorRoleArn)
	for _, arn := range skipped {
		if err := ctx.Log.Warn(fmt.Sprintf("no access entry for %s: it creates the cluster, and EKS makes the creator "+
			"cluster admin itself (a second entry would fail with ResourceInUseException)", arn),
			&pulumi.LogArgs{Resource: c}); err != nil {
			return nil, err
		}
	}
	// No instanceRoles: with authenticationMode API pulumi-eks v2.8.1 rejects
	// a non-empty list (nodejs/eks/authenticationMode.ts, lines 38-52), so it
	// creates its default instance role and that role's EC2_LINUX access
	// entry (nodejs/eks/cluster.ts, lines 766-792 and 849-863); both stay
	// unused. The node groups' roles need no entry from us: EKS adds one when
	// it creates a managed node group ("It's unnecessary to create an access
	// entry for an IAM role that's used for a managed node group",
	// latest/ug/manage-access/k8s-access/grant-k8s-access.adoc).

	public := len(args.PublicAccessCIDRs) > 0
	mode := eks.AuthenticationModeApi
	noPublicIP := false
	skipDefault := true
	// The VPC CNI is the EKS managed add-on below (pulumi-eks's own CNI
	// manifest cannot turn on network policy enforcement).
	defaultCNI := true
	clusterArgs := &eks.ClusterArgs{
		Name:                            pulumi.String(args.ClusterName),
		Version:                         pulumi.String(version.Minor),
		VpcId:                           args.VpcID,
		PublicSubnetIds:                 args.PublicSubnetIDs,
		PrivateSubnetIds:                args.PrivateSubnetIDs,
		NodeAssociatePublicIpAddress:    &noPublicIP,
		SkipDefaultNodeGroup:            &skipDefault,
		UseDefaultVpcCni:                &defaultCNI,
		AuthenticationMode:              &mode,
		AccessEntries:                   entries,
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

	// The control plane's network interfaces carry the EKS cluster security
	// group; opening 443 there lets runners, VPNs and bastions reach the
	// private endpoint. EKS also attaches that group to managed nodes
	// (latest/ug/networking/sec-group-reqs.adoc), so these sources reach
	// port 443 on the nodes as well; NetworkPolicies still guard the pods.
	clusterSG := cluster.EksCluster.VpcConfig().ClusterSecurityGroupId().Elem()
	for _, in := range EndpointIngresses(args.EndpointAccessSecurityGroupIDs, args.EndpointAccessCIDRs) {
		rule := &vpc.SecurityGroupIngressRuleArgs{
			SecurityGroupId: clusterSG,
			IpProtocol:      pulumi.String("tcp"),
			FromPort:        pulumi.Int(443),
			ToPort:          pulumi.Int(443),
			Description:     pulumi.String("Kubernetes API (private endpoint) from " + in.SecurityGroupID + in.CIDR),
			Tags:            pulumi.ToStringMap(args.Tags),
		}
		if in.SecurityGroupID != "" {
			rule.ReferencedSecurityGroupId = pulumi.String(in.SecurityGroupID)
		} else {
			rule.CidrIpv4 = pulumi.String(in.CIDR)
		}
		if _, err := vpc.NewSecurityGroupIngressRule(ctx, name+"-api-"+in.Key, rule, parent); err != nil {
			return nil, err
		}
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
	// The CNI's AWS permissions go to its own service account, not to every
	// node ("Configure Amazon VPC CNI plugin to use IRSA",
	// latest/ug/networking/cni-iam-role.adoc).
	cniRole, err := NewIRSARole(ctx, name+"-vpc-cni", &IRSARoleArgs{
		OIDCProviderArn:   oidc.Arn,
		OIDCIssuer:        issuer,
		Namespace:         VpcCniNamespace,
		ServiceAccount:    VpcCniServiceAccount,
		ManagedPolicyArns: []string{managedPolicyArn(partition, vpcCniPolicy)},
		Tags:              args.Tags,
	}, parent)
	if err != nil {
		return nil, err
	}
	cni, err := awseks.NewAddon(ctx, name+"-vpc-cni", &awseks.AddonArgs{
		ClusterName:              cluster.EksCluster.Name(),
		AddonName:                pulumi.String("vpc-cni"),
		AddonVersion:             pulumi.String(version.VpcCniAddon),
		ServiceAccountRoleArn:    cniRole.Arn,
		ConfigurationValues:      pulumi.String(VpcCniConfiguration),
		ResolveConflictsOnCreate: pulumi.String("OVERWRITE"),
		ResolveConflictsOnUpdate: pulumi.String("OVERWRITE"),
		// Deleting the add-on must not take pod networking off running nodes.
		Preserve: pulumi.Bool(true),
		Tags:     pulumi.ToStringMap(args.Tags),
	}, parent, pulumi.DependsOn(cniRole.Resources))
	if err != nil {
		return nil, err
	}
	c.EKS = cluster
	c.Name = cluster.EksCluster.Name()
	c.Kubeconfig = pulumi.ToSecret(cluster.KubeconfigJson).(pulumi.StringOutput)
	c.OIDCProviderArn = oidc.Arn
	c.OIDCIssuer = issuer
	c.SecretsKMSKeyArn = key.Arn
	c.VpcCni = cni
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"name":            c.Name,
		"kubeconfig":      c.Kubeconfig,
		"oidcProviderArn": c.OIDCProviderArn,
		"oidcIssuer":      c.OIDCIssuer,
	})
}
