// Command rehearsalbinding is the program of the approval-binding rehearsal
// (rehearsal_binding_test.go, TestApprovalBinding): the shape of this
// project's cluster in AWS resources only (a VPC, subnets, a security group,
// a role, an EKS cluster whose vpcConfig lists the subnets' and security
// group's IDs, so a first deploy plans values unknown until the update, and
// a node group), plus a secret stack output from config. Compiled by the
// test and run by the real CLI through the pipeline's scripts.
package main

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		cfg := config.New(ctx, "")
		maxSize := cfg.GetInt("maxSize")
		if maxSize == 0 {
			maxSize = 3
		}
		capacity := cfg.Get("capacityType")
		if capacity == "" {
			capacity = "SPOT"
		}
		vpc, err := ec2.NewVpc(ctx, "binding", &ec2.VpcArgs{CidrBlock: pulumi.String("10.0.0.0/16")})
		if err != nil {
			return err
		}
		var subnets pulumi.StringArray
		for i, az := range []string{"us-west-2a", "us-west-2b"} {
			s, err := ec2.NewSubnet(ctx, fmt.Sprintf("binding-%d", i), &ec2.SubnetArgs{
				VpcId: vpc.ID(), CidrBlock: pulumi.Sprintf("10.0.%d.0/24", i), AvailabilityZone: pulumi.String(az)})
			if err != nil {
				return err
			}
			subnets = append(subnets, s.ID())
		}
		sg, err := ec2.NewSecurityGroup(ctx, "binding", &ec2.SecurityGroupArgs{VpcId: vpc.ID(), Description: pulumi.String("binding rehearsal")})
		if err != nil {
			return err
		}
		role, err := iam.NewRole(ctx, "binding", &iam.RoleArgs{AssumeRolePolicy: pulumi.String(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["eks.amazonaws.com","ec2.amazonaws.com"]},"Action":"sts:AssumeRole"}]}`)})
		if err != nil {
			return err
		}
		cluster, err := eks.NewCluster(ctx, "binding", &eks.ClusterArgs{
			RoleArn: role.Arn,
			Version: pulumi.String("1.33"),
			VpcConfig: &eks.ClusterVpcConfigArgs{
				SubnetIds: subnets, SecurityGroupIds: pulumi.StringArray{sg.ID()},
				EndpointPrivateAccess: pulumi.Bool(true), EndpointPublicAccess: pulumi.Bool(false),
			},
		})
		if err != nil {
			return err
		}
		_, err = eks.NewNodeGroup(ctx, "binding-spot", &eks.NodeGroupArgs{
			ClusterName:   cluster.Name,
			NodeRoleArn:   role.Arn,
			SubnetIds:     subnets,
			CapacityType:  pulumi.String(capacity),
			InstanceTypes: pulumi.StringArray{pulumi.String("m6i.xlarge")},
			ScalingConfig: &eks.NodeGroupScalingConfigArgs{DesiredSize: pulumi.Int(1), MinSize: pulumi.Int(0), MaxSize: pulumi.Int(maxSize)},
		})
		if err != nil {
			return err
		}
		ctx.Export("clusterName", cluster.Name)
		ctx.Export("token", cfg.GetSecret("token"))
		return nil
	})
}
