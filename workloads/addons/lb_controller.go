package addons

import (
	"time"

	"github.com/aiplatform/infra/workloads"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const loadBalancerControllerType = "aiplatform:workloads:LoadBalancerController"

// Where add-ons run and the service accounts their IRSA roles trust.
const (
	loadBalancerControllerSA       = "aws-load-balancer-controller"
	loadBalancerControllerRelease  = "aws-load-balancer-controller"
	loadBalancerControllerReplicas = 2
)

// The controller's admission webhooks need a CA and serving certificate.
// The chart takes them from webhookTLS.*, else (keepTLSSecret) from a
// `lookup` of its own Secret aws-load-balancer-tls, else makes new ones with
// genCA/genSignedCert on every render (templates/_helpers.tpl webhookCerts,
// templates/webhook.yaml). A render that cannot read the Secret (a first
// preview, an identity without Secret access) or a chart with keepTLSSecret
// off (the 3.x default) would show a new certificate on every preview. So
// the program generates them once, keeps them in its own Secret and passes
// them as values: the render is the same on every run.
const (
	// LoadBalancerControllerTLSSecret holds the kept CA, certificate and key
	// (ca.crt, tls.crt, tls.key) in kube-system. Nothing mounts it: the chart
	// renders its own aws-load-balancer-tls from the values.
	LoadBalancerControllerTLSSecret = "aiplatform-aws-load-balancer-tls"
	// loadBalancerWebhookService is the chart's webhook Service:
	// "<namePrefix>-webhook-service", where namePrefix is the chart name
	// without "-controller" (not the release name; templates/_helpers.tpl).
	loadBalancerWebhookService = "aws-load-balancer-webhook-service"
)

// LoadBalancerControllerArgs configures the AWS Load Balancer Controller.
type LoadBalancerControllerArgs struct {
	Cluster workloads.ClusterInfo
	// Chart defaults to LoadBalancerControllerChart.
	Chart workloads.Chart
}

// LoadBalancerController is the AWS Load Balancer Controller: it turns
// Ingresses into ALBs and LoadBalancer Services into NLBs. Its webhooks must
// be serving before any Service or Ingress is created, so everything that
// creates them depends on Chart.
type LoadBalancerController struct {
	pulumi.ResourceState

	Chart   *helmv4.Chart
	RoleArn pulumi.StringOutput
	// Resources are what dependents name (stacks.deployWorkloads): the
	// role and its policy (an Ingress is deleted while the controller can
	// still delete its load balancer), the webhook certificate and the chart.
	Resources []pulumi.Resource
}

// NewLoadBalancerController creates the controller's IRSA role and installs its chart.
func NewLoadBalancerController(ctx *pulumi.Context, name string, args *LoadBalancerControllerArgs, opts ...pulumi.ResourceOption) (*LoadBalancerController, error) {
	if args == nil {
		args = &LoadBalancerControllerArgs{}
	}
	if err := args.Cluster.Validate(); err != nil {
		return nil, workloads.Errorf("load balancer controller", name, err)
	}
	chart := args.Chart
	if chart.Name == "" {
		chart = workloads.LoadBalancerControllerChart
	}
	c := &LoadBalancerController{}
	if err := ctx.RegisterComponentResource(loadBalancerControllerType, name, c, opts...); err != nil {
		return nil, err
	}
	role, err := args.Cluster.AddonRole(ctx, name, loadBalancerControllerSA,
		pulumi.String(LoadBalancerControllerPolicy(args.Cluster.Partition()).JSON()), c)
	if err != nil {
		return nil, err
	}
	tlsSecret, tls, err := workloads.NewKeptSecret(ctx, name+"-webhook-tls", workloads.KeptSecretArgs{
		Name:      LoadBalancerControllerTLSSecret,
		Namespace: pulumi.String(workloads.AddonNamespace),
		Labels:    workloads.CommonLabels(loadBalancerControllerRelease, name),
		Generate: func() (map[string]string, error) {
			return workloads.GenerateWebhookTLS(loadBalancerControllerRelease, workloads.ServiceDNSNames(loadBalancerWebhookService, workloads.AddonNamespace), time.Now())
		},
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	release, err := workloads.InstallChart(ctx, name, chart, loadBalancerControllerRelease, workloads.AddonNamespace, loadBalancerControllerValues(args.Cluster, role.Arn, tls), pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	c.Chart = release
	c.RoleArn = role.Arn
	c.Resources = append(append([]pulumi.Resource{}, role.Resources...), tlsSecret, release)
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"roleArn": role.Arn})
}

// loadBalancerControllerValues are the chart values, the same for every
// supported version: both have every key set here
// (TestChartValuesUseOnlyKnownKeys). tls is the kept webhook bundle
// (ca.crt, tls.crt, tls.key).
func loadBalancerControllerValues(cluster workloads.ClusterInfo, roleArn pulumi.StringOutput, tls pulumi.StringMapOutput) pulumi.Map {
	return pulumi.Map{
		"clusterName":         cluster.Name,
		"region":              pulumi.String(cluster.Region),
		"vpcId":               cluster.VpcID,
		"replicaCount":        pulumi.Int(loadBalancerControllerReplicas),
		"serviceAccount":      workloads.ServiceAccountValues(loadBalancerControllerSA, roleArn),
		"podDisruptionBudget": pulumi.Map{"maxUnavailable": pulumi.Int(1)},
		"nodeSelector":        workloads.SystemNodeSelectorValues(),
		"tolerations":         workloads.SystemTolerationValues(),
		"webhookTLS": pulumi.Map{
			"caCert": workloads.KeptValue(tls, workloads.TLSCAKey),
			"cert":   workloads.KeptValue(tls, workloads.TLSCertKey),
			"key":    workloads.KeptValue(tls, workloads.TLSKeyKey),
		},
		// Unused while webhookTLS is set (it wins in webhookCerts); on in
		// case it ever is not, since 3.x turned the default off and would
		// then draw a new CA on every render.
		"keepTLSSecret": pulumi.Bool(true),
	}
}
