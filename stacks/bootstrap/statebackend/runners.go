package statebackend

import (
	"errors"
	"fmt"

	"github.com/aiplatform/infra/infra/awsbase"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/codebuild"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/codeconnections"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const runnersType = "aiplatform:bootstrap:Runners"

// RunnersArgs configures the runner pools.
type RunnersArgs struct {
	Region string
	// Repository is the GitHub repository ("owner/name") whose workflow
	// jobs the pools run.
	Repository string
	Options    RunnerOptions
	Tags       map[string]string
}

// RunnerWebhook is what GitHub must send a pool's jobs to: CodeBuild's
// payload URL and secret. The webhooks are created manually (CodeBuild's
// ManualCreation), so bootstrap needs no GitHub access and does not wait
// for the connection's handshake; setup adds them to the repository.
type RunnerWebhook struct {
	PayloadURL pulumi.StringOutput
	Secret     pulumi.StringOutput
}

// Runners is the runners' network, the GitHub connection and one
// CodeBuild project per pool.
type Runners struct {
	pulumi.ResourceState

	// EgressIP is the NAT gateway's address: every job reaches the
	// internet, and the clusters' public endpoint, from it.
	EgressIP      pulumi.StringOutput
	ConnectionArn pulumi.StringOutput
	Webhooks      map[string]RunnerWebhook // by pool name
}

// NewRunners creates the pools of RunnerPools.
func NewRunners(ctx *pulumi.Context, name string, args *RunnersArgs, opts ...pulumi.ResourceOption) (*Runners, error) {
	if args == nil {
		return nil, fmt.Errorf("runners %s: args are required", name)
	}
	r := args.Options.withDefaults()
	if err := errors.Join(r.validate("runners")...); err != nil {
		return nil, fmt.Errorf("runners %s: %w", name, err)
	}
	publicCIDR, privateCIDR, _ := RunnerSubnets(r.VPCCIDR)
	c := &Runners{Webhooks: map[string]RunnerWebhook{}}
	if err := ctx.RegisterComponentResource(runnersType, name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	tags := func(n string) pulumi.StringMap {
		m := pulumi.StringMap{"Name": pulumi.String(n)}
		for k, v := range args.Tags {
			m[k] = pulumi.String(v)
		}
		return m
	}

	zones, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{State: pulumi.StringRef("available")}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	if len(zones.Names) == 0 {
		return nil, fmt.Errorf("runners %s: region %s lists no available zone", name, args.Region)
	}
	caller, err := aws.GetCallerIdentity(ctx, &aws.GetCallerIdentityArgs{}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	// One zone: the NAT gateway and the jobs in the same zone keep traffic
	// free of cross-zone charges; a zone outage pauses CI, not the platform.
	zone := zones.Names[0]

	vpc, err := ec2.NewVpc(ctx, name, &ec2.VpcArgs{
		CidrBlock:          pulumi.String(r.VPCCIDR),
		EnableDnsSupport:   pulumi.Bool(true),
		EnableDnsHostnames: pulumi.Bool(true),
		Tags:               tags(name),
	}, parent)
	if err != nil {
		return nil, err
	}
	igw, err := ec2.NewInternetGateway(ctx, name, &ec2.InternetGatewayArgs{VpcId: vpc.ID(), Tags: tags(name)}, parent)
	if err != nil {
		return nil, err
	}
	public, err := ec2.NewSubnet(ctx, name+"-public", &ec2.SubnetArgs{
		VpcId: vpc.ID(), CidrBlock: pulumi.String(publicCIDR), AvailabilityZone: pulumi.String(zone),
		MapPublicIpOnLaunch: pulumi.Bool(false), Tags: tags(name + "-public"),
	}, parent)
	if err != nil {
		return nil, err
	}
	private, err := ec2.NewSubnet(ctx, name+"-private", &ec2.SubnetArgs{
		VpcId: vpc.ID(), CidrBlock: pulumi.String(privateCIDR), AvailabilityZone: pulumi.String(zone),
		Tags: tags(name + "-private"),
	}, parent)
	if err != nil {
		return nil, err
	}
	if _, err := defaultRoute(ctx, name+"-public", vpc, public, &ec2.RouteTableRouteArgs{GatewayId: igw.ID()}, tags(name+"-public"), parent); err != nil {
		return nil, err
	}
	eip, err := ec2.NewEip(ctx, name+"-nat", &ec2.EipArgs{Domain: pulumi.String("vpc"), Tags: tags(name + "-nat")}, parent)
	if err != nil {
		return nil, err
	}
	nat, err := ec2.NewNatGateway(ctx, name+"-nat", &ec2.NatGatewayArgs{
		AllocationId: eip.AllocationId, SubnetId: public.ID(), Tags: tags(name + "-nat"),
	}, parent, pulumi.DependsOn([]pulumi.Resource{igw}))
	if err != nil {
		return nil, err
	}
	privateRT, err := defaultRoute(ctx, name+"-private", vpc, private, &ec2.RouteTableRouteArgs{NatGatewayId: nat.ID()}, tags(name+"-private"), parent)
	if err != nil {
		return nil, err
	}
	// The jobs read and write the state bucket without paying NAT per GB.
	if _, err := ec2.NewVpcEndpoint(ctx, name+"-s3", &ec2.VpcEndpointArgs{
		VpcId:           vpc.ID(),
		ServiceName:     pulumi.Sprintf("com.amazonaws.%s.s3", args.Region),
		VpcEndpointType: pulumi.String("Gateway"),
		RouteTableIds:   pulumi.StringArray{privateRT.ID().ToStringOutput()},
		Tags:            tags(name + "-s3"),
	}, parent); err != nil {
		return nil, err
	}

	connectionArn := pulumi.String(r.ConnectionArn).ToStringOutput()
	if r.ConnectionArn == "" {
		conn, err := codeconnections.NewConnection(ctx, name+"-github", &codeconnections.ConnectionArgs{
			// At most 32 characters (CodeConnections CreateConnection).
			Name:         pulumi.String("aiplatform-ci-github"),
			ProviderType: pulumi.String("GitHub"),
			Tags:         tags(name + "-github"),
		}, parent)
		if err != nil {
			return nil, err
		}
		connectionArn = conn.Arn
	}

	part, err := aws.GetPartition(ctx, &aws.GetPartitionArgs{}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	partition := part.Partition
	for _, pool := range RunnerPools {
		webhook, err := c.pool(ctx, name+"-"+pool.Name, pool, r, runnerPoolNet{
			region: args.Region, account: caller.AccountId, partition: partition, repository: args.Repository,
			vpc: vpc, private: private, connectionArn: connectionArn,
		}, tags)
		if err != nil {
			return nil, err
		}
		c.Webhooks[pool.Name] = webhook
	}
	c.EgressIP = eip.PublicIp
	c.ConnectionArn = connectionArn
	outs := pulumi.Map{"egressIp": c.EgressIP, "connectionArn": c.ConnectionArn}
	for pool, w := range c.Webhooks {
		outs[pool+"PayloadUrl"] = w.PayloadURL
	}
	return c, ctx.RegisterResourceOutputs(c, outs)
}

// defaultRoute gives subnet a route table of its own (named name) whose
// one route sends 0.0.0.0/0 to route's target.
func defaultRoute(ctx *pulumi.Context, name string, vpc *ec2.Vpc, subnet *ec2.Subnet, route *ec2.RouteTableRouteArgs,
	tags pulumi.StringMap, parent pulumi.ResourceOption) (*ec2.RouteTable, error) {
	route.CidrBlock = pulumi.String("0.0.0.0/0")
	rt, err := ec2.NewRouteTable(ctx, name, &ec2.RouteTableArgs{VpcId: vpc.ID(), Routes: ec2.RouteTableRouteArray{route}, Tags: tags}, parent)
	if err != nil {
		return nil, err
	}
	if _, err := ec2.NewRouteTableAssociation(ctx, name, &ec2.RouteTableAssociationArgs{SubnetId: subnet.ID(), RouteTableId: rt.ID()}, parent); err != nil {
		return nil, err
	}
	return rt, nil
}

type runnerPoolNet struct {
	region, account, partition, repository string
	vpc                                    *ec2.Vpc
	private                                *ec2.Subnet
	connectionArn                          pulumi.StringOutput
}

// pool is one pool's security group, role, log group, project and webhook.
func (c *Runners) pool(ctx *pulumi.Context, name string, pool RunnerPool, r RunnerOptions, n runnerPoolNet,
	tags func(string) pulumi.StringMap) (RunnerWebhook, error) {
	parent := pulumi.Parent(c)
	project := RunnerProject(pool.Name)
	// Outbound HTTPS only (GitHub, the Pulumi CLI and plugins, the AWS
	// APIs); nothing may connect in. The VPC's DNS resolver is not subject
	// to security groups.
	sg, err := ec2.NewSecurityGroup(ctx, name, &ec2.SecurityGroupArgs{
		VpcId:       n.vpc.ID(),
		Description: pulumi.Sprintf("GitHub Actions runners of the %s pool: outbound HTTPS only", pool.Name),
		Egress: ec2.SecurityGroupEgressArray{&ec2.SecurityGroupEgressArgs{
			Protocol: pulumi.String("tcp"), FromPort: pulumi.Int(443), ToPort: pulumi.Int(443),
			CidrBlocks: pulumi.StringArray{pulumi.String("0.0.0.0/0")}, Description: pulumi.String("HTTPS"),
		}},
		Tags: tags(name),
	}, parent)
	if err != nil {
		return RunnerWebhook{}, err
	}
	logGroup, err := cloudwatch.NewLogGroup(ctx, name, &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/codebuild/" + project),
		RetentionInDays: pulumi.Int(r.LogRetentionDays),
		Tags:            tags(name),
	}, parent)
	if err != nil {
		return RunnerWebhook{}, err
	}
	projectArn := fmt.Sprintf("arn:%s:codebuild:%s:%s:project/%s", n.partition, n.region, n.account, project)
	role, err := iam.NewRole(ctx, name, &iam.RoleArgs{
		AssumeRolePolicy: pulumi.String(RunnerTrustPolicy(n.account, projectArn).JSON()),
		Description:      pulumi.String("CodeBuild runner of the " + pool.Name + " pool (" + pool.Purpose + "): runs the job; AWS access comes from the job's own OIDC role"),
		Tags:             tags(name),
	}, parent)
	if err != nil {
		return RunnerWebhook{}, err
	}
	policy := pulumi.All(logGroup.Arn, n.private.Arn, n.connectionArn).ApplyT(func(v []any) string {
		return RunnerPolicy(v[0].(string), v[1].(string), v[2].(string), n.partition, n.region, n.account).JSON()
	}).(pulumi.StringOutput)
	rp, err := iam.NewRolePolicy(ctx, name, &iam.RolePolicyArgs{Role: role.Name, Policy: policy}, parent)
	if err != nil {
		return RunnerWebhook{}, err
	}
	proj, err := codebuild.NewProject(ctx, name, &codebuild.ProjectArgs{
		Name:         pulumi.String(project),
		Description:  pulumi.String("GitHub Actions runners: " + pool.Purpose),
		ServiceRole:  role.Arn,
		BuildTimeout: pulumi.Int(r.BuildTimeoutMinutes),
		Artifacts:    &codebuild.ProjectArtifactsArgs{Type: pulumi.String("NO_ARTIFACTS")},
		Environment: &codebuild.ProjectEnvironmentArgs{
			Type:                     pulumi.String("LINUX_CONTAINER"),
			ComputeType:              pulumi.String(r.ComputeType),
			Image:                    pulumi.String(r.Image),
			ImagePullCredentialsType: pulumi.String("CODEBUILD"),
			PrivilegedMode:           pulumi.Bool(false),
		},
		Source: &codebuild.ProjectSourceArgs{
			Type:     pulumi.String("GITHUB"),
			Location: pulumi.String("https://github.com/" + n.repository + ".git"),
			Auth:     &codebuild.ProjectSourceAuthArgs{Type: pulumi.String("CODECONNECTIONS"), Resource: n.connectionArn},
		},
		VpcConfig: &codebuild.ProjectVpcConfigArgs{
			VpcId:            n.vpc.ID(),
			Subnets:          pulumi.StringArray{n.private.ID().ToStringOutput()},
			SecurityGroupIds: pulumi.StringArray{sg.ID().ToStringOutput()},
		},
		LogsConfig: &codebuild.ProjectLogsConfigArgs{CloudwatchLogs: &codebuild.ProjectLogsConfigCloudwatchLogsArgs{
			GroupName: logGroup.Name, Status: pulumi.String("ENABLED"),
		}},
		Tags: tags(name),
	}, parent, pulumi.DependsOn([]pulumi.Resource{rp}))
	if err != nil {
		return RunnerWebhook{}, err
	}
	hook, err := codebuild.NewWebhook(ctx, name, &codebuild.WebhookArgs{
		ProjectName:    proj.Name,
		BuildType:      pulumi.String("BUILD"),
		ManualCreation: pulumi.Bool(true),
		FilterGroups: codebuild.WebhookFilterGroupArray{&codebuild.WebhookFilterGroupArgs{
			Filters: codebuild.WebhookFilterGroupFilterArray{&codebuild.WebhookFilterGroupFilterArgs{
				Type: pulumi.String("EVENT"), Pattern: pulumi.String("WORKFLOW_JOB_QUEUED"),
			}},
		}},
	}, parent)
	if err != nil {
		return RunnerWebhook{}, err
	}
	return RunnerWebhook{PayloadURL: hook.PayloadUrl, Secret: pulumi.ToSecret(hook.Secret).(pulumi.StringOutput)}, nil
}

// RunnerTrustPolicy lets CodeBuild assume a pool's role for that project
// only (IAM User Guide, "The confused deputy problem": aws:SourceAccount and
// aws:SourceArn).
func RunnerTrustPolicy(account, projectArn string) awsbase.PolicyDocument {
	return awsbase.NewPolicy(awsbase.Statement{
		Sid:       "CodeBuild",
		Effect:    "Allow",
		Principal: map[string]any{"Service": "codebuild.amazonaws.com"},
		Action:    []string{"sts:AssumeRole"},
		Condition: map[string]map[string]any{
			"StringEquals": {"aws:SourceAccount": account},
			"ArnLike":      {"aws:SourceArn": projectArn},
		},
	})
}

// RunnerPolicy is what a pool's CodeBuild role may do: write its logs,
// attach the build to the private subnet, use the GitHub connection. It
// has no access to the state or the platform: a job gets those from its
// own OIDC role (the preview or apply role), as on any runner.
// Sources: CodeBuild User Guide, "Allow CodeBuild to access AWS services
// required to create a VPC network interface" and "GitHub and GitHub
// Enterprise Server access in CodeBuild" (CodeConnections permissions).
func RunnerPolicy(logGroupArn, subnetArn, connectionArn, partition, region, account string) awsbase.PolicyDocument {
	return awsbase.NewPolicy(
		awsbase.Allow("Logs", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, []string{logGroupArn, logGroupArn + ":*"}),
		awsbase.Allow("VPCNetworkInterfaces", []string{
			"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeDhcpOptions",
			"ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
		}, []string{"*"}),
		awsbase.Statement{
			Sid: "VPCNetworkInterfacePermission", Effect: "Allow",
			Action:   []string{"ec2:CreateNetworkInterfacePermission"},
			Resource: []string{fmt.Sprintf("arn:%s:ec2:%s:%s:network-interface/*", partition, region, account)},
			Condition: map[string]map[string]any{"StringEquals": {
				"ec2:Subnet":            []string{subnetArn},
				"ec2:AuthorizedService": "codebuild.amazonaws.com",
			}},
		},
		awsbase.Allow("GitHubConnection", []string{
			"codeconnections:GetConnection", "codeconnections:GetConnectionToken", "codeconnections:UseConnection",
			"codestar-connections:GetConnection", "codestar-connections:GetConnectionToken", "codestar-connections:UseConnection",
		}, []string{connectionArn}),
	)
}
