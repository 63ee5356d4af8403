package infra

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const networkType = "aiplatform:infra:Network"

// Subnet discovery tags read by the AWS Load Balancer Controller and EKS.
const (
	publicELBTag   = "kubernetes.io/role/elb"
	internalELBTag = "kubernetes.io/role/internal-elb"
)

// NetworkArgs configures the VPC.
type NetworkArgs struct {
	CIDR string
	// AvailabilityZones are the zone names to spread subnets over (2 or 3).
	AvailabilityZones []string
	// PublicSubnetCIDRs and PrivateSubnetCIDRs default to SubnetPlan(CIDR).
	PublicSubnetCIDRs  []string
	PrivateSubnetCIDRs []string
	NAT                NATMode
	// ClusterName is tagged on subnets so EKS and load balancers find them.
	ClusterName string
	Region      string
	Tags        map[string]string
}

func (a NetworkArgs) withDefaults() (NetworkArgs, error) {
	if a.NAT == "" {
		a.NAT = SingleNAT
	}
	if a.PublicSubnetCIDRs == nil || a.PrivateSubnetCIDRs == nil {
		public, private, err := SubnetPlan(a.CIDR, len(a.AvailabilityZones))
		if err != nil {
			return a, err
		}
		if a.PublicSubnetCIDRs == nil {
			a.PublicSubnetCIDRs = public
		}
		if a.PrivateSubnetCIDRs == nil {
			a.PrivateSubnetCIDRs = private
		}
	}
	return a, nil
}

// Validate reports every problem of the args.
func (a NetworkArgs) Validate() error {
	var errs []error
	if n := len(a.AvailabilityZones); n < 2 || n > 3 {
		errs = append(errs, fmt.Errorf("availabilityZones: need 2 or 3, got %d", n))
	}
	if len(a.PublicSubnetCIDRs) != len(a.AvailabilityZones) || len(a.PrivateSubnetCIDRs) != len(a.AvailabilityZones) {
		errs = append(errs, fmt.Errorf("subnets: need one public and one private subnet per AZ"))
	}
	if a.NAT != SingleNAT && a.NAT != NATPerAZ {
		errs = append(errs, fmt.Errorf("nat: %q is not one of %s, %s", a.NAT, SingleNAT, NATPerAZ))
	}
	if a.ClusterName == "" {
		errs = append(errs, errors.New("clusterName: required for subnet discovery tags"))
	}
	if a.Region == "" {
		errs = append(errs, errors.New("region: required for the S3 gateway endpoint"))
	}
	return errors.Join(errs...)
}

// Network is a VPC with public and private subnets in every AZ.
type Network struct {
	pulumi.ResourceState

	VpcID            pulumi.StringOutput
	PublicSubnetIDs  pulumi.StringArrayOutput
	PrivateSubnetIDs pulumi.StringArrayOutput
}

// NewNetwork creates the VPC, subnets, internet and NAT gateways, routes and an S3 gateway endpoint.
func NewNetwork(ctx *pulumi.Context, name string, args *NetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	if args == nil {
		return nil, errors.New("network " + name + ": args are required")
	}
	a, err := args.withDefaults()
	if err == nil {
		err = a.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", name, err)
	}
	n := &Network{}
	if err := ctx.RegisterComponentResource(networkType, name, n, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(n)
	tags := func(resourceName string, extra map[string]string) pulumi.StringMap {
		return pulumi.ToStringMap(mergeTags(mergeTags(a.Tags, extra), map[string]string{"Name": resourceName}))
	}
	clusterTag := map[string]string{"kubernetes.io/cluster/" + a.ClusterName: "shared"}

	vpc, err := ec2.NewVpc(ctx, name, &ec2.VpcArgs{
		CidrBlock:          pulumi.String(a.CIDR),
		EnableDnsHostnames: pulumi.Bool(true),
		EnableDnsSupport:   pulumi.Bool(true),
		Tags:               tags(name, nil),
	}, parent)
	if err != nil {
		return nil, err
	}
	// The default security group allows all traffic between its members; strip
	// its rules so nothing relies on it by accident.
	if _, err := ec2.NewDefaultSecurityGroup(ctx, name+"-default", &ec2.DefaultSecurityGroupArgs{
		VpcId: vpc.ID(),
		Tags:  tags(name+"-default-locked", nil),
	}, parent); err != nil {
		return nil, err
	}
	igw, err := ec2.NewInternetGateway(ctx, name, &ec2.InternetGatewayArgs{
		VpcId: vpc.ID(),
		Tags:  tags(name, nil),
	}, parent)
	if err != nil {
		return nil, err
	}
	publicRT, err := ec2.NewRouteTable(ctx, name+"-public", &ec2.RouteTableArgs{
		VpcId: vpc.ID(),
		Routes: ec2.RouteTableRouteArray{&ec2.RouteTableRouteArgs{
			CidrBlock: pulumi.String("0.0.0.0/0"),
			GatewayId: igw.ID(),
		}},
		Tags: tags(name+"-public", nil),
	}, parent)
	if err != nil {
		return nil, err
	}

	var publicIDs, privateIDs pulumi.StringArray
	var natIDs []pulumi.IDOutput
	privateRTs := pulumi.StringArray{}
	for i, az := range a.AvailabilityZones {
		pubName := fmt.Sprintf("%s-public-%d", name, i)
		pub, err := ec2.NewSubnet(ctx, pubName, &ec2.SubnetArgs{
			VpcId:            vpc.ID(),
			CidrBlock:        pulumi.String(a.PublicSubnetCIDRs[i]),
			AvailabilityZone: pulumi.String(az),
			// Load balancers get public IPs themselves; instances here never should.
			MapPublicIpOnLaunch: pulumi.Bool(false),
			Tags:                tags(pubName, mergeTags(clusterTag, map[string]string{publicELBTag: "1"})),
		}, parent)
		if err != nil {
			return nil, err
		}
		publicIDs = append(publicIDs, pub.ID().ToStringOutput())
		if _, err := ec2.NewRouteTableAssociation(ctx, pubName, &ec2.RouteTableAssociationArgs{
			SubnetId:     pub.ID(),
			RouteTableId: publicRT.ID(),
		}, parent); err != nil {
			return nil, err
		}
		if i == 0 || a.NAT == NATPerAZ {
			natName := fmt.Sprintf("%s-nat-%d", name, i)
			eip, err := ec2.NewEip(ctx, natName, &ec2.EipArgs{
				Domain: pulumi.String("vpc"),
				Tags:   tags(natName, nil),
			}, parent)
			if err != nil {
				return nil, err
			}
			nat, err := ec2.NewNatGateway(ctx, natName, &ec2.NatGatewayArgs{
				AllocationId: eip.AllocationId,
				SubnetId:     pub.ID(),
				Tags:         tags(natName, nil),
			}, parent, pulumi.DependsOn([]pulumi.Resource{igw}))
			if err != nil {
				return nil, err
			}
			natIDs = append(natIDs, nat.ID())
		}

		privName := fmt.Sprintf("%s-private-%d", name, i)
		priv, err := ec2.NewSubnet(ctx, privName, &ec2.SubnetArgs{
			VpcId:            vpc.ID(),
			CidrBlock:        pulumi.String(a.PrivateSubnetCIDRs[i]),
			AvailabilityZone: pulumi.String(az),
			Tags:             tags(privName, mergeTags(clusterTag, map[string]string{internalELBTag: "1"})),
		}, parent)
		if err != nil {
			return nil, err
		}
		privateIDs = append(privateIDs, priv.ID().ToStringOutput())
		rt, err := ec2.NewRouteTable(ctx, privName, &ec2.RouteTableArgs{
			VpcId: vpc.ID(),
			Routes: ec2.RouteTableRouteArray{&ec2.RouteTableRouteArgs{
				CidrBlock:    pulumi.String("0.0.0.0/0"),
				NatGatewayId: natIDs[len(natIDs)-1],
			}},
			Tags: tags(privName, nil),
		}, parent)
		if err != nil {
			return nil, err
		}
		privateRTs = append(privateRTs, rt.ID().ToStringOutput())
		if _, err := ec2.NewRouteTableAssociation(ctx, privName, &ec2.RouteTableAssociationArgs{
			SubnetId:     priv.ID(),
			RouteTableId: rt.ID(),
		}, parent); err != nil {
			return nil, err
		}
	}
	// Model and image pulls from S3 stay on the AWS network and skip NAT charges.
	if _, err := ec2.NewVpcEndpoint(ctx, name+"-s3", &ec2.VpcEndpointArgs{
		VpcId:           vpc.ID(),
		ServiceName:     pulumi.Sprintf("com.amazonaws.%s.s3", a.Region),
		VpcEndpointType: pulumi.String("Gateway"),
		RouteTableIds:   privateRTs,
		Tags:            tags(name+"-s3", nil),
	}, parent); err != nil {
		return nil, err
	}

	n.VpcID = vpc.ID().ToStringOutput()
	n.PublicSubnetIDs = publicIDs.ToStringArrayOutput()
	n.PrivateSubnetIDs = privateIDs.ToStringArrayOutput()
	return n, ctx.RegisterResourceOutputs(n, pulumi.Map{
		"vpcId":            n.VpcID,
		"publicSubnetIds":  n.PublicSubnetIDs,
		"privateSubnetIds": n.PrivateSubnetIDs,
	})
}
