package addons

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/aiplatform/infra/infra"
	"github.com/aiplatform/infra/workloads"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const clusterAutoscalerType = "aiplatform:workloads:ClusterAutoscaler"

const (
	clusterAutoscalerSA      = "cluster-autoscaler"
	clusterAutoscalerRelease = "cluster-autoscaler"
)

// ClusterAutoscalerImageTag is the autoscaler image for a Kubernetes minor
// ("" when the minor has no row in infra.KubernetesVersions; the chart's
// appVersion is used then).
func ClusterAutoscalerImageTag(kubernetesVersion string) string {
	v, _ := infra.LookupKubernetesVersion(kubernetesVersion)
	return v.ClusterAutoscalerImage
}

var durationPattern = regexp.MustCompile(`^\d+(s|m|h)$`)

// ClusterAutoscalerArgs configures the Cluster Autoscaler.
type ClusterAutoscalerArgs struct {
	Cluster workloads.ClusterInfo
	// KubernetesVersion picks the matching autoscaler image ("1.33").
	KubernetesVersion string
	// ScaleDownUnneededTime is how long a node must be unneeded (e.g. an
	// empty GPU node) before it is removed; default 10m.
	ScaleDownUnneededTime string
	// Chart defaults to ClusterAutoscalerChart.
	Chart workloads.Chart
}

func (a ClusterAutoscalerArgs) withDefaults() ClusterAutoscalerArgs {
	if a.ScaleDownUnneededTime == "" {
		a.ScaleDownUnneededTime = "10m"
	}
	if a.Chart.Name == "" {
		a.Chart = workloads.ClusterAutoscalerChart
	}
	return a
}

// Validate reports every problem at once.
func (a ClusterAutoscalerArgs) Validate() error {
	errs := []error{a.Cluster.Validate()}
	if !durationPattern.MatchString(a.ScaleDownUnneededTime) {
		errs = append(errs, fmt.Errorf("scaleDownUnneededTime: %q is not a duration like 10m", a.ScaleDownUnneededTime))
	}
	return errors.Join(errs...)
}

// ClusterAutoscalerPolicy lets the autoscaler read every Auto Scaling group
// but resize and terminate instances only in groups tagged as owned by this
// cluster (the auto-discovery tag EKS puts on a managed group's ASG).
// eks:DescribeNodegroup is how it learns a managed group's labels and taints
// while the group has no node: EKS does not copy node group tags to the ASG,
// so node-template tags never reach it (cluster-autoscaler/cloudprovider/aws/README.md).
func ClusterAutoscalerPolicy(partition, region, clusterName string) infra.PolicyDocument {
	scale := infra.Allow("ScaleClusterGroups", []string{
		"autoscaling:SetDesiredCapacity",
		"autoscaling:TerminateInstanceInAutoScalingGroup",
	}, []string{"*"})
	scale.Condition = map[string]map[string]any{"StringEquals": {
		"aws:ResourceTag/k8s.io/cluster-autoscaler/" + clusterName: "owned",
	}}
	return infra.NewPolicy(
		infra.Allow("DiscoverGroups", []string{
			"autoscaling:DescribeAutoScalingGroups",
			"autoscaling:DescribeAutoScalingInstances",
			"autoscaling:DescribeLaunchConfigurations",
			"autoscaling:DescribeScalingActivities",
			"autoscaling:DescribeTags",
			"ec2:DescribeImages",
			"ec2:DescribeInstanceTypes",
			"ec2:DescribeLaunchTemplateVersions",
			"ec2:GetInstanceTypesFromInstanceRequirements",
		}, []string{"*"}),
		infra.Allow("DescribeClusterNodeGroups", []string{"eks:DescribeNodegroup"},
			[]string{fmt.Sprintf("arn:%s:eks:%s:*:nodegroup/%s/*", partition, region, clusterName)}),
		scale,
	)
}

// ClusterAutoscaler scales the managed node groups it discovers by tag,
// balancing similar groups across zones and removing empty nodes (GPU nodes
// included) once they have been unneeded for ScaleDownUnneededTime.
type ClusterAutoscaler struct {
	pulumi.ResourceState

	Chart   *helmv4.Chart
	RoleArn pulumi.StringOutput
}

// NewClusterAutoscaler creates the autoscaler's IRSA role and installs its chart.
func NewClusterAutoscaler(ctx *pulumi.Context, name string, args *ClusterAutoscalerArgs, opts ...pulumi.ResourceOption) (*ClusterAutoscaler, error) {
	if args == nil {
		args = &ClusterAutoscalerArgs{}
	}
	a := args.withDefaults()
	if err := a.Validate(); err != nil {
		return nil, workloads.Errorf("cluster autoscaler", name, err)
	}
	c := &ClusterAutoscaler{}
	if err := ctx.RegisterComponentResource(clusterAutoscalerType, name, c, opts...); err != nil {
		return nil, err
	}
	partition, region := a.Cluster.Partition(), a.Cluster.Region
	policy := a.Cluster.Name.ToStringOutput().ApplyT(func(cluster string) string {
		return ClusterAutoscalerPolicy(partition, region, cluster).JSON()
	}).(pulumi.StringOutput)
	role, err := a.Cluster.AddonRole(ctx, name, clusterAutoscalerSA, policy, c)
	if err != nil {
		return nil, err
	}
	release, err := workloads.InstallChart(ctx, name, a.Chart, clusterAutoscalerRelease, workloads.AddonNamespace, clusterAutoscalerValues(a, role.Arn), pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	c.Chart = release
	c.RoleArn = role.Arn
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"roleArn": role.Arn})
}

// clusterAutoscalerValues are the chart values, the same for every
// supported chart version (TestChartValuesUseOnlyKnownKeys); the image is
// the one of the cluster's Kubernetes minor, whatever the chart's appVersion.
func clusterAutoscalerValues(a ClusterAutoscalerArgs, roleArn pulumi.StringOutput) pulumi.Map {
	values := pulumi.Map{
		"cloudProvider": pulumi.String("aws"),
		"awsRegion":     pulumi.String(a.Cluster.Region),
		"autoDiscovery": pulumi.Map{"clusterName": a.Cluster.Name},
		"rbac":          pulumi.Map{"serviceAccount": workloads.ServiceAccountValues(clusterAutoscalerSA, roleArn)},
		"extraArgs": pulumi.Map{
			"balance-similar-node-groups": pulumi.Bool(true),
			"expander":                    pulumi.String("least-waste"),
			"scale-down-enabled":          pulumi.Bool(true),
			"scale-down-unneeded-time":    pulumi.String(a.ScaleDownUnneededTime),
			"scale-down-delay-after-add":  pulumi.String("5m"),
			// Daemon sets (device plugin, CNI, ...) run on every node and
			// must not keep an otherwise empty (GPU) node alive.
			"ignore-daemonsets-utilization": pulumi.Bool(true),
			// Pods with emptyDir scratch (Triton's model cache, /dev/shm)
			// can move; without this their nodes are never scaled down.
			"skip-nodes-with-local-storage": pulumi.Bool(false),
			"skip-nodes-with-system-pods":   pulumi.Bool(false),
		},
		"podAnnotations":    pulumi.Map{"cluster-autoscaler.kubernetes.io/safe-to-evict": pulumi.String("false")},
		"priorityClassName": pulumi.String("system-cluster-critical"),
		"nodeSelector":      workloads.SystemNodeSelectorValues(),
		"tolerations":       workloads.SystemTolerationValues(),
	}
	if tag := ClusterAutoscalerImageTag(a.KubernetesVersion); tag != "" {
		values["image"] = pulumi.Map{"tag": pulumi.String(tag)}
	}
	return values
}
