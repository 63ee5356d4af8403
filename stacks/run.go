// Package stacks loads the typed stack configuration and composes the infra
// and workloads layers into one Pulumi program.
package stacks

import (
	"fmt"

	"github.com/aiplatform/infra/infra"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
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

// availabilityZones picks the first n available zones of the region.
func availabilityZones(ctx *pulumi.Context, n int) ([]string, error) {
	state := "available"
	res, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{State: &state})
	if err != nil {
		return nil, fmt.Errorf("listing availability zones: %w", err)
	}
	if len(res.Names) < n {
		return nil, fmt.Errorf("%s:availabilityZoneCount: %d zones requested but the region has %d available", Project, n, len(res.Names))
	}
	return res.Names[:n], nil
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
	cluster, err := infra.NewCluster(ctx, "cluster", &infra.ClusterArgs{
		ClusterName:       cfg.ClusterName,
		KubernetesVersion: cfg.KubernetesVersion,
		VpcID:             network.VpcID,
		PublicSubnetIDs:   network.PublicSubnetIDs,
		PrivateSubnetIDs:  network.PrivateSubnetIDs,
		ServiceCIDR:       cfg.ServiceCIDR,
		PublicAccessCIDRs: publicCIDRs,
		AdminRoleArns:     cfg.AdminRoleARNs,
		ViewerRoleArns:    cfg.ViewerRoleARNs,
		Tags:              cfg.Tags,
	})
	if err != nil {
		return nil, err
	}
	var groups []*infra.NodeGroup
	for _, spec := range cfg.NodeGroups {
		ng, err := infra.NewNodeGroup(ctx, "nodes-"+spec.Name, &infra.NodeGroupArgs{
			Cluster:     cluster,
			ClusterName: cfg.ClusterName,
			Spec:        spec,
			SubnetIDs:   network.PrivateSubnetIDs,
			Tags:        cfg.Tags,
		})
		if err != nil {
			return nil, err
		}
		groups = append(groups, ng)
	}
	models, err := infra.NewBucket(ctx, "models", &infra.BucketArgs{Tags: cfg.Tags})
	if err != nil {
		return nil, err
	}
	k8s, err := kubernetes.NewProvider(ctx, "cluster", &kubernetes.ProviderArgs{
		Kubeconfig:            cluster.Kubeconfig,
		EnableServerSideApply: pulumi.Bool(true),
	}, pulumi.DependsOn([]pulumi.Resource{cluster}))
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
		Tags:            cfg.Tags,
	}, nil
}
