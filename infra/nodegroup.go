package infra

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-eks/sdk/v2/go/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const nodeGroupType = "aiplatform:infra:NodeGroup"

// awsNodeGroupType is the resource pulumi-eks creates inside a ManagedNodeGroup.
const awsNodeGroupType = "aws:eks/nodeGroup:NodeGroup"

// DesiredSizePath is the property the Cluster Autoscaler owns once the group exists.
const DesiredSizePath = "scalingConfig.desiredSize"

// NodeRolePolicies are the AWS managed policies of every node role; SSM
// replaces SSH for break-glass access. AmazonEKS_CNI_Policy is not among them:
// the VPC CNI has its own IRSA role (see NewCluster). Attachments are named
// after their policy; formerName is the numbered name they had before, so a
// stack that has them adopts them instead of attaching them anew and then
// detaching them by deleting the old ones.
var NodeRolePolicies = []struct{ Policy, formerName string }{
	{"AmazonEKSWorkerNodePolicy", "0"},
	{"AmazonEC2ContainerRegistryReadOnly", "2"},
	{"AmazonSSMManagedInstanceCore", "3"},
}

// NodeGroupArgs configures one managed node group.
type NodeGroupArgs struct {
	Cluster     *Cluster
	ClusterName string
	// Region decides the partition of the managed policy ARNs.
	Region    string
	Spec      NodeGroupSpec
	SubnetIDs pulumi.StringArrayInput
	Tags      map[string]string
}

// NodeGroup is an EKS managed node group with its own role and launch template.
type NodeGroup struct {
	pulumi.ResourceState

	Spec     NodeGroupSpec
	RoleArn  pulumi.StringOutput
	RoleName pulumi.StringOutput
	// Group is the EKS managed node group itself. Depend on it, not on the
	// NodeGroup: the Go SDK expands a dependency on a local component into
	// its children as they are known when the dependent registers, and a
	// child is known only once its own registration goroutine has run
	// (sdk/go/pulumi/rpc.go addDependency, context.go getOpts), so under
	// load a dependent could miss the node group entirely.
	Group *eks.ManagedNodeGroup
}

// AutoscalerTags are the Cluster Autoscaler auto-discovery tags and the
// node-template tags describing the group's nodes. They stay on the EKS node
// group: EKS does not copy node group tags to its Auto Scaling group ("These
// tags don't propagate to other resources in the node group, such as Auto
// Scaling groups", latest/ug/nodes/create-managed-node-group.adoc). The
// autoscaler finds the groups anyway, because EKS tags every managed group's
// ASG for auto-discovery itself, and it scales a group up from zero with the
// labels and taints it reads through eks:DescribeNodegroup plus the CPU,
// memory and GPUs of the instance type (cluster-autoscaler/cloudprovider/aws/README.md).
// The node-template tags are therefore a record, not what the autoscaler uses.
func AutoscalerTags(clusterName string, spec NodeGroupSpec) map[string]string {
	tags := map[string]string{
		"k8s.io/cluster-autoscaler/enabled":        "true",
		"k8s.io/cluster-autoscaler/" + clusterName: "owned",
	}
	for k, v := range spec.NodeLabels() {
		tags["k8s.io/cluster-autoscaler/node-template/label/"+k] = v
	}
	for _, t := range spec.NodeTaints() {
		tags["k8s.io/cluster-autoscaler/node-template/taint/"+t.Key] = t.Value + ":" + KubernetesEffect(t.Effect)
	}
	if spec.Kind == GPUNodes {
		tags["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"] = strconv.Itoa(spec.GPUsPerNode)
	}
	return tags
}

// KubernetesEffect spells an EKS taint effect (NO_SCHEDULE) as Kubernetes
// taints and pod tolerations do (NoSchedule).
func KubernetesEffect(eksEffect string) string {
	switch eksEffect {
	case "NO_SCHEDULE":
		return "NoSchedule"
	case "NO_EXECUTE":
		return "NoExecute"
	case "PREFER_NO_SCHEDULE":
		return "PreferNoSchedule"
	}
	return eksEffect
}

// IgnoreScalingChanges keeps `pulumi up` from resetting the desired size that
// the Cluster Autoscaler set. pulumi-eks v2 has no ignoreScalingChanges option
// and creates the aws:eks NodeGroup inside its component, so a transform is the
// only place the option can be added.
func IgnoreScalingChanges(_ context.Context, args *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
	if args.Type != awsNodeGroupType {
		return nil
	}
	opts := args.Opts
	opts.IgnoreChanges = append(append([]string(nil), opts.IgnoreChanges...), DesiredSizePath)
	return &pulumi.ResourceTransformResult{Props: args.Props, Opts: opts}
}

// NewNodeGroup creates the node role, a launch template (IMDSv2, encrypted gp3
// root volume, no SSH key) and the managed node group, which waits for the
// role's policies and for the VPC CNI add-on.
func NewNodeGroup(ctx *pulumi.Context, name string, args *NodeGroupArgs, opts ...pulumi.ResourceOption) (*NodeGroup, error) {
	if args == nil || args.Cluster == nil {
		return nil, errors.New("node group " + name + ": a cluster is required")
	}
	if args.Region == "" {
		return nil, errors.New("node group " + name + ": region is required (it decides the ARN partition)")
	}
	spec := args.Spec.WithDefaults()
	if err := spec.Validate("spec"); err != nil {
		return nil, fmt.Errorf("node group %s: %w", name, err)
	}
	ng := &NodeGroup{Spec: spec}
	if err := ctx.RegisterComponentResource(nodeGroupType, name, ng, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(ng)
	tags := mergeTags(args.Tags, map[string]string{"node-group": spec.Name})

	role, err := iam.NewRole(ctx, name, &iam.RoleArgs{
		AssumeRolePolicy: pulumi.String(NewPolicy(Statement{
			Effect:    "Allow",
			Principal: map[string]any{"Service": "ec2.amazonaws.com"},
			Action:    []string{"sts:AssumeRole"},
		}).JSON()),
		Description: pulumi.Sprintf("Nodes of group %s in cluster %s", spec.Name, args.ClusterName),
		Tags:        pulumi.ToStringMap(tags),
	}, parent)
	if err != nil {
		return nil, err
	}
	partition := Partition(args.Region)
	waitFor := []pulumi.Resource{args.Cluster.VpcCni}
	for _, p := range NodeRolePolicies {
		att, err := iam.NewRolePolicyAttachment(ctx, name+"-"+p.Policy, &iam.RolePolicyAttachmentArgs{
			Role:      role.Name,
			PolicyArn: pulumi.String(managedPolicyArn(partition, p.Policy)),
		}, parent, pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(name + "-" + p.formerName)}}))
		if err != nil {
			return nil, err
		}
		waitFor = append(waitFor, att)
	}

	instanceTags := pulumi.ToStringMap(mergeTags(tags, map[string]string{"Name": args.ClusterName + "-" + spec.Name}))
	lt, err := ec2.NewLaunchTemplate(ctx, name, &ec2.LaunchTemplateArgs{
		NamePrefix:           pulumi.String(args.ClusterName + "-" + spec.Name + "-"),
		Description:          pulumi.Sprintf("Nodes of group %s", spec.Name),
		UpdateDefaultVersion: pulumi.Bool(true),
		MetadataOptions: &ec2.LaunchTemplateMetadataOptionsArgs{
			HttpEndpoint:            pulumi.String("enabled"),
			HttpTokens:              pulumi.String("required"),
			HttpPutResponseHopLimit: pulumi.Int(spec.IMDSHopLimit),
			InstanceMetadataTags:    pulumi.String("disabled"),
		},
		BlockDeviceMappings: ec2.LaunchTemplateBlockDeviceMappingArray{&ec2.LaunchTemplateBlockDeviceMappingArgs{
			DeviceName: pulumi.String("/dev/xvda"),
			Ebs: &ec2.LaunchTemplateBlockDeviceMappingEbsArgs{
				VolumeSize:          pulumi.Int(spec.DiskSizeGiB),
				VolumeType:          pulumi.String("gp3"),
				Encrypted:           pulumi.String("true"),
				DeleteOnTermination: pulumi.String("true"),
			},
		}},
		TagSpecifications: ec2.LaunchTemplateTagSpecificationArray{
			&ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("instance"), Tags: instanceTags},
			&ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("volume"), Tags: instanceTags},
		},
		Tags: pulumi.ToStringMap(tags),
	}, parent)
	if err != nil {
		return nil, err
	}

	var taints awseks.NodeGroupTaintArray
	for _, t := range spec.NodeTaints() {
		taints = append(taints, awseks.NodeGroupTaintArgs{Key: pulumi.String(t.Key), Value: pulumi.String(t.Value), Effect: pulumi.String(t.Effect)})
	}
	// pulumi-eks creates the aws:eks NodeGroup inside this remote component
	// with only its own dependsOn (v2.8.1 nodegroup.js,
	// createManagedNodeGroupInternal: `dependsOn: ngDeps`), so a DependsOn
	// here does not reach it. Data dependencies do: the cluster name comes
	// from the vpc-cni add-on (nodes need the CNI to become Ready) and the
	// role ARN waits for the role's policy attachments (nodes need them to
	// join); both are the same values, so nothing is replaced.
	attached := []any{role.Arn}
	for _, r := range waitFor[1:] {
		attached = append(attached, r.(*iam.RolePolicyAttachment).ID())
	}
	roleArn := pulumi.All(attached...).ApplyT(func(v []any) string { return v[0].(string) }).(pulumi.StringOutput)
	ng.Group, err = eks.NewManagedNodeGroup(ctx, name, &eks.ManagedNodeGroupArgs{
		Cluster:       args.Cluster.EKS,
		ClusterName:   args.Cluster.VpcCni.ClusterName,
		NodeGroupName: pulumi.String(spec.Name),
		AmiType:       pulumi.String(spec.AMIType()),
		CapacityType:  pulumi.String(string(spec.Capacity)),
		InstanceTypes: pulumi.ToStringArray(spec.InstanceTypes),
		Labels:        pulumi.ToStringMap(spec.NodeLabels()),
		Taints:        taints,
		NodeRoleArn:   roleArn,
		SubnetIds:     args.SubnetIDs,
		ScalingConfig: &awseks.NodeGroupScalingConfigArgs{
			MinSize:     pulumi.Int(spec.MinSize),
			DesiredSize: pulumi.Int(spec.DesiredSize),
			MaxSize:     pulumi.Int(spec.MaxSize),
		},
		LaunchTemplate: &awseks.NodeGroupLaunchTemplateArgs{
			Id:      lt.ID(),
			Version: lt.LatestVersion.ApplyT(strconv.Itoa).(pulumi.StringOutput),
		},
		Tags: pulumi.ToStringMap(mergeTags(tags, AutoscalerTags(args.ClusterName, spec))),
	}, parent, pulumi.DependsOn(waitFor), pulumi.Transforms([]pulumi.ResourceTransform{IgnoreScalingChanges}))
	if err != nil {
		return nil, err
	}
	ng.RoleArn = role.Arn
	ng.RoleName = role.Name
	return ng, ctx.RegisterResourceOutputs(ng, pulumi.Map{"roleArn": role.Arn})
}
