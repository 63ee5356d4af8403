package workloads

import (
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const loadBalancerControllerType = "aiplatform:workloads:LoadBalancerController"

// Where add-ons run and the service accounts their IRSA roles trust.
const (
	addonNamespace                 = "kube-system"
	loadBalancerControllerSA       = "aws-load-balancer-controller"
	loadBalancerControllerRelease  = "aws-load-balancer-controller"
	loadBalancerControllerReplicas = 2
)

// LoadBalancerControllerArgs configures the AWS Load Balancer Controller.
type LoadBalancerControllerArgs struct {
	Cluster ClusterInfo
	// Chart defaults to LoadBalancerControllerChart.
	Chart Chart
}

// LoadBalancerController is the AWS Load Balancer Controller: it turns
// Ingresses into ALBs and LoadBalancer Services into NLBs. Its webhooks must
// be serving before any Service or Ingress is created, so everything that
// creates them depends on Chart.
type LoadBalancerController struct {
	pulumi.ResourceState

	Chart   *helmv4.Chart
	RoleArn pulumi.StringOutput
}

// NewLoadBalancerController creates the controller's IRSA role and installs its chart.
func NewLoadBalancerController(ctx *pulumi.Context, name string, args *LoadBalancerControllerArgs, opts ...pulumi.ResourceOption) (*LoadBalancerController, error) {
	if args == nil {
		args = &LoadBalancerControllerArgs{}
	}
	if err := args.Cluster.Validate(); err != nil {
		return nil, errorf("load balancer controller", name, err)
	}
	chart := args.Chart
	if chart.Name == "" {
		chart = LoadBalancerControllerChart
	}
	c := &LoadBalancerController{}
	if err := ctx.RegisterComponentResource(loadBalancerControllerType, name, c, opts...); err != nil {
		return nil, err
	}
	role, err := args.Cluster.addonRole(ctx, name, loadBalancerControllerSA,
		pulumi.String(LoadBalancerControllerPolicy(args.Cluster.Partition()).JSON()), c)
	if err != nil {
		return nil, err
	}
	values := pulumi.Map{
		"clusterName":         args.Cluster.Name,
		"region":              pulumi.String(args.Cluster.Region),
		"vpcId":               args.Cluster.VpcID,
		"replicaCount":        pulumi.Int(loadBalancerControllerReplicas),
		"serviceAccount":      serviceAccountValues(loadBalancerControllerSA, role.Arn),
		"podDisruptionBudget": pulumi.Map{"maxUnavailable": pulumi.Int(1)},
		"nodeSelector":        systemNodeSelectorValues(),
		"tolerations":         systemTolerationValues(),
	}
	release, err := installChart(ctx, name, chart, loadBalancerControllerRelease, addonNamespace, values, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	c.Chart = release
	c.RoleArn = role.Arn
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"roleArn": role.Arn})
}
