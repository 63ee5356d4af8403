// Package stacks loads the typed stack configuration and composes the infra
// and workloads layers into one Pulumi program.
package stacks

import (
	"fmt"

	"github.com/aiplatform/infra/infra"
	"github.com/aiplatform/infra/infra/awsbase"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Run is the whole program: config first (so bad input fails before any
// resource is registered), then infra, then workloads.
func Run(ctx *pulumi.Context) error {
	cfg, err := LoadConfig(ctx)
	if err != nil {
		return err
	}
	zones, err := availabilityZones(ctx, cfg.AZCount)
	if err != nil {
		return err
	}
	p, err := deployInfra(ctx, cfg, zones)
	if err != nil {
		return err
	}
	outputs, err := deployWorkloads(ctx, cfg, p)
	if err != nil {
		return err
	}
	outputs["clusterName"] = p.ClusterName
	outputs["modelBucketName"] = p.ModelBucket.Name
	outputs["oidcProviderArn"] = p.OIDCProviderArn
	outputs["vpcId"] = p.VpcID
	for k, v := range outputs {
		ctx.Export(k, v)
	}
	return nil
}

// availabilityZones picks the first n available zones of the region. Local
// Zones and Wavelength Zones are opt-in and would also be listed (once opted
// in); they lack NAT gateways and most instance types, so only the region's
// own zones, which need no opt-in, are used (DescribeAvailabilityZones filter
// opt-in-status, EC2 API reference).
func availabilityZones(ctx *pulumi.Context, n int) ([]string, error) {
	state := "available"
	res, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{
		State:   &state,
		Filters: []aws.GetAvailabilityZonesFilter{{Name: "opt-in-status", Values: []string{"opt-in-not-required"}}},
	})
	if err != nil {
		return nil, fmt.Errorf("listing availability zones: %w", err)
	}
	if len(res.Names) < n {
		return nil, fmt.Errorf("%s:availabilityZoneCount: %d zones requested but the region has %d available", Project, n, len(res.Names))
	}
	return res.Names[:n], nil
}

// deployingRole is the IAM role the deployment runs as: the caller's ARN is an
// STS session (arn:aws:sts::<account>:assumed-role/<name>/<session>), which
// getSessionContext turns into the role's ARN, path included. For an IAM user
// it is the user's ARN, which matches no role.
func deployingRole(ctx *pulumi.Context) (string, error) {
	caller, err := aws.GetCallerIdentity(ctx, &aws.GetCallerIdentityArgs{})
	if err != nil {
		return "", fmt.Errorf("identifying the deploying role: %w", err)
	}
	session, err := iam.GetSessionContext(ctx, &iam.GetSessionContextArgs{Arn: caller.Arn})
	if err != nil {
		return "", fmt.Errorf("resolving the deploying role of %s: %w", caller.Arn, err)
	}
	return session.IssuerArn, nil
}

// deployInfra creates the network, cluster, node groups, model bucket and the
// Kubernetes provider every workload uses.
func deployInfra(ctx *pulumi.Context, cfg Config, zones []string) (*Platform, error) {
	network, err := infra.NewNetwork(ctx, "network", &infra.NetworkArgs{
		CIDR:              cfg.VPCCIDR,
		AvailabilityZones: zones,
		NAT:               cfg.NAT,
		ClusterName:       cfg.ClusterName,
		Region:            cfg.Region,
		Tags:              cfg.Tags,
	})
	if err != nil {
		return nil, err
	}
	var publicCIDRs []string
	if cfg.EndpointAccess == PublicAndPrivateEndpoint {
		publicCIDRs = cfg.PublicAccessCIDRs
	}
	// The role EKS made admin when it created the cluster. Configured, it is
	// the same for every run (the preview role's too); otherwise it is the
	// role running pulumi, right only while that role also created the cluster.
	creator := cfg.ClusterCreatorRoleARN
	if creator == "" {
		if creator, err = deployingRole(ctx); err != nil {
			return nil, err
		}
	}
	cluster, err := infra.NewCluster(ctx, "cluster", &infra.ClusterArgs{
		ClusterName:                    cfg.ClusterName,
		KubernetesVersion:              cfg.KubernetesVersion,
		Region:                         cfg.Region,
		VpcID:                          network.VpcID,
		PublicSubnetIDs:                network.PublicSubnetIDs,
		PrivateSubnetIDs:               network.PrivateSubnetIDs,
		ServiceCIDR:                    cfg.ServiceCIDR,
		PublicAccessCIDRs:              publicCIDRs,
		EndpointAccessSecurityGroupIDs: cfg.EndpointAccessSecurityGroupIDs,
		EndpointAccessCIDRs:            cfg.EndpointAccessCIDRs,
		AdminRoleArns:                  cfg.AdminRoleARNs,
		ViewerRoleArns:                 cfg.ViewerRoleARNs,
		CreatorRoleArn:                 creator,
		Tags:                           cfg.Tags,
	})
	if err != nil {
		return nil, err
	}
	var groups []*infra.NodeGroup
	for _, spec := range cfg.NodeGroups {
		ng, err := infra.NewNodeGroup(ctx, "nodes-"+spec.Name, &infra.NodeGroupArgs{
			Cluster:     cluster,
			ClusterName: cfg.ClusterName,
			Region:      cfg.Region,
			Spec:        spec,
			SubnetIDs:   network.PrivateSubnetIDs,
			Tags:        cfg.Tags,
		})
		if err != nil {
			return nil, err
		}
		groups = append(groups, ng)
	}
	// The EBS CSI controller is a Deployment: EKS reports the add-on ACTIVE
	// only when its pods run, so it waits for the node groups.
	capacity := make([]pulumi.Resource, 0, len(groups))
	for _, ng := range groups {
		capacity = append(capacity, ng.Group)
	}
	ebs, err := infra.NewEBSCSIDriver(ctx, "ebs-csi", &infra.EBSCSIDriverArgs{
		ClusterName:       cluster.Name,
		OIDCProviderArn:   cluster.OIDCProviderArn,
		OIDCIssuer:        cluster.OIDCIssuer,
		KubernetesVersion: cfg.KubernetesVersion,
		Region:            cfg.Region,
		Tags:              cfg.Tags,
	}, pulumi.DependsOn(capacity))
	if err != nil {
		return nil, err
	}
	models, err := awsbase.NewBucket(ctx, "models", &awsbase.BucketArgs{Tags: cfg.Tags})
	if err != nil {
		return nil, err
	}
	k8s, err := kubernetes.NewProvider(ctx, "cluster", &kubernetes.ProviderArgs{
		Kubeconfig:            cluster.Kubeconfig,
		EnableServerSideApply: pulumi.Bool(true),
	}, pulumi.DependsOn([]pulumi.Resource{cluster.EKS, cluster.VpcCni})) // not cluster: see tests/depscheck
	if err != nil {
		return nil, err
	}
	ctx.Export("kubeconfig", cluster.Kubeconfig)
	return &Platform{
		Kubernetes:      k8s,
		ClusterName:     cluster.Name,
		OIDCProviderArn: cluster.OIDCProviderArn,
		OIDCIssuer:      cluster.OIDCIssuer,
		VpcID:           network.VpcID,
		Region:          cfg.Region,
		ModelBucket:     models,
		NodeGroups:      groups,
		EBSCSI:          ebs,
		Tags:            cfg.Tags,
	}, nil
}
