package tests

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/aiplatform/infra/cost"
	"github.com/aiplatform/infra/infra"
	"github.com/aiplatform/infra/tests/estimate"
	"github.com/aiplatform/infra/tests/golden"
	"github.com/aiplatform/infra/tests/mocks"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pricedOn fixes the date of the golden estimates: it decides whether a
// Kubernetes version is in standard or extended EKS support.
var pricedOn = time.Date(2026, time.November, 25, 0, 0, 0, 0, time.UTC)

// priceStack runs the program with cfg under the mocks and prices it.
func priceStack(t *testing.T, cfg map[string]string, stack string, at time.Time) cost.Estimate {
	t.Helper()
	inv, a, err := estimate.Config(cfg, stack, at)
	require.NoError(t, err)
	e, err := cost.Prices.Price(inv, a)
	require.NoError(t, err)
	return e
}

func costLine(t *testing.T, e cost.Estimate, id string) cost.Line {
	t.Helper()
	var ids []string
	for _, l := range e.Lines {
		if l.ID == id {
			return l
		}
		ids = append(ids, l.ID)
	}
	t.Fatalf("no cost line %s; have %v", id, ids)
	return cost.Line{}
}

func renderText(t *testing.T, e cost.Estimate) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, e.WriteText(&b))
	return b.String()
}

// The committed dev stack, priced from what the program registers
// (go test ./tests -run TestCostGolden -update rewrites the files).
func TestCostGoldenDev(t *testing.T) {
	cfg, _, err := mocks.StackConfig("..", "dev")
	require.NoError(t, err)
	e := priceStack(t, cfg, "dev", pricedOn)
	golden.Assert(t, "testdata/cost/dev.txt", renderText(t, e))
	var j bytes.Buffer
	require.NoError(t, e.WriteJSON(&j))
	golden.Assert(t, "testdata/cost/dev.json", j.String())
}

// productionConfig is a production-like stack: a NAT gateway per AZ, bigger
// groups with GPUs always on, public endpoints and production volumes.
func productionConfig() map[string]string {
	return with(baseConfig(),
		"aws:region", "us-east-1",
		"aiplatform:kubernetesVersion", "1.35",
		"aiplatform:natGateways", "perAz",
		"aiplatform:nodeGroups", `[
			{"name":"system","kind":"system","capacityType":"ON_DEMAND","instanceTypes":["m6i.xlarge"],"minSize":3,"desiredSize":3,"maxSize":6,"criticalAddonsOnly":true},
			{"name":"spot","kind":"cpu","capacityType":"SPOT","instanceTypes":["m6i.xlarge","m6a.xlarge","m5.xlarge","m7i.xlarge"],"minSize":2,"desiredSize":6,"maxSize":30},
			{"name":"gpu","kind":"gpu","capacityType":"ON_DEMAND","instanceTypes":["g6e.xlarge","g5.2xlarge"],"minSize":1,"desiredSize":2,"maxSize":8,"gpusPerNode":1}]`,
		"aiplatform:domain", "ai.example.com",
		"aiplatform:hostedZoneIds", `["Z0123456789ABCDEFGHIJ"]`,
		"aiplatform:certificateArn", "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f",
		"aiplatform:argocd", `{"exposure":"internal"}`,
		"aiplatform:triton", `{"exposure":"public","allowedCidrs":["203.0.113.0/24"],"minReplicas":2,"maxReplicas":8}`,
		"aiplatform:ldsService", `{"image":"docker.io/acme/lds-service:1.4.2","exposure":"public","allowedCidrs":["203.0.113.0/24"],"minReplicas":3,"maxReplicas":12}`,
		"aiplatform-cost:natDataGBPerMonth", "2000",
		"aiplatform-cost:lcusPerLoadBalancer", "5",
		"aiplatform-cost:bucketGB", `{"models":2000}`,
		"aiplatform-cost:controlPlaneLogGBPerMonth", "100",
		"aiplatform-cost:gpuHoursPerDay", "48",
	)
}

func TestCostGoldenProductionLike(t *testing.T) {
	e := priceStack(t, productionConfig(), "production-like", pricedOn)
	golden.Assert(t, "testdata/cost/production-like.txt", renderText(t, e))

	// Per-AZ NAT: three gateways and three Elastic IPs; three load balancers
	// (Triton's public NLB, the lds-service's public ALB, Argo CD's internal
	// ALB from its chart values).
	var nats, lbs []string
	for _, l := range e.Lines {
		switch {
		case strings.HasPrefix(l.ID, "nat/"):
			nats = append(nats, l.ID)
		case strings.HasPrefix(l.ID, "lb/"):
			lbs = append(lbs, l.ID+" "+l.Detail)
		}
	}
	assert.Len(t, nats, 3)
	require.Len(t, lbs, 3)
	assert.Contains(t, strings.Join(lbs, "\n"), "lb/argocd/server internal")
	assert.Contains(t, strings.Join(lbs, "\n"), "lb/triton internet-facing, 3 public IPv4")
	assert.Equal(t, 2000.0, e.Assumptions.NATDataGBPerMonth, "assumptions come from the aiplatform-cost config")
}

// Hand-computed from the AWS price pages (us-west-2, the dev stack's region).
func TestCostDevHandComputed(t *testing.T) {
	cfg, _, err := mocks.StackConfig("..", "dev")
	require.NoError(t, err)
	e := priceStack(t, cfg, "dev", pricedOn)

	// NAT gateway: $0.045/h × 730 h = $32.85.
	nat := costLine(t, e, "nat/network-nat-0")
	assert.Equal(t, 0.045, nat.Hourly)
	assert.Equal(t, 32.85, nat.Monthly)
	// Two on-demand m6i.large: 2 × $0.096 × 730 = $140.16, the same all on-demand.
	system := costLine(t, e, "nodes/nodes-system")
	assert.Equal(t, 140.16, system.Monthly)
	assert.Equal(t, 140.16, system.OnDemandMonthly)
	// EKS control plane: dev runs 1.36, in standard support on 2026-11-25:
	// $0.10 × 730 = $73.00.
	require.Equal(t, "1.36", cfg["aiplatform:kubernetesVersion"], "the dev stack's version changed: update this expectation")
	assert.Equal(t, 73.0, costLine(t, e, "eks/cluster").Monthly)
	// The same stack on 1.33, which left standard support on 2026-07-29:
	// $0.60 × 730 = $438.00 on 2026-11-25; before that date, $73.00.
	old := with(cfg, "aiplatform:kubernetesVersion", "1.33")
	assert.Equal(t, 438.0, costLine(t, priceStack(t, old, "dev", pricedOn), "eks/cluster").Monthly)
	before := priceStack(t, old, "dev", time.Date(2026, time.July, 1, 0, 0, 0, 0, time.UTC))
	assert.Equal(t, 73.0, costLine(t, before, "eks/cluster").Monthly)
}

// The support phase comes from infra.KubernetesVersions, not from a copy.
func TestCostControlPlaneFollowsTheVersionTable(t *testing.T) {
	for _, v := range infra.KubernetesVersions {
		for _, tc := range []struct {
			at       time.Time
			extended bool
		}{{v.StandardSupportEnd.Add(-24 * time.Hour), false}, {v.StandardSupportEnd, true}} {
			e := priceStack(t, with(baseConfig(), "aiplatform:kubernetesVersion", v.Minor), "unit", tc.at)
			want := 73.0
			if tc.extended {
				want = 438.0
			}
			assert.Equalf(t, want, costLine(t, e, "eks/cluster").Monthly, "%s on %s", v.Minor, tc.at.Format(time.DateOnly))
		}
	}
}

// The default node groups (README) price in every region of the table.
func TestCostDefaultsPriceInEveryRegion(t *testing.T) {
	for _, region := range cost.Prices.RegionNames() {
		e := priceStack(t, with(baseConfig(), "aws:region", region), "defaults", pricedOn)
		assert.Greater(t, e.Totals.Monthly, 0.0, region)
		assert.Greater(t, e.Totals.SpotNodesSavingPercent, 30.0, "%s: spot groups must be priced below on-demand", region)
	}
}

// Bad inputs give a clear error naming what is missing, never a zero price.
func TestCostBadInputsAreErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg  map[string]string
		want []string
	}{
		"unknown region": {with(baseConfig(), "aws:region", "ap-south-1"),
			[]string{`no prices for region "ap-south-1"`, "us-east-1, us-west-2, eu-west-1, eu-central-1"}},
		"unknown instance type": {with(baseConfig(), "aiplatform:nodeGroups",
			`[{"name":"system","kind":"system","capacityType":"ON_DEMAND","instanceTypes":["c7i.large"],"minSize":1,"desiredSize":1,"maxSize":2}]`),
			[]string{"node group nodes-system", `no on-demand price for instance type "c7i.large"`}},
	} {
		t.Run(name, func(t *testing.T) {
			inv, a, err := estimate.Config(tc.cfg, "unit", pricedOn)
			require.NoError(t, err, "the program itself accepts the config")
			_, err = cost.Prices.Price(inv, a)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	_, _, err := estimate.Config(with(baseConfig(), "aiplatform-cost:natGB", "5", "aiplatform-cost:gpuHoursPerDay", "many"), "unit", pricedOn)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aiplatform-cost:natGB: unknown key; the cost assumptions are natDataGBPerMonth, lcusPerLoadBalancer, bucketGB")
	assert.Contains(t, err.Error(), `aiplatform-cost:gpuHoursPerDay: "many" is not a number`)
}

// How workloads' Services and Ingresses become load balancers, on a small
// program that registers each shape directly.
func TestCostLoadBalancerRules(t *testing.T) {
	meta := func(name string, annotations map[string]string) *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: pulumi.String("apps"), Annotations: pulumi.ToStringMap(annotations)}
	}
	ingress := func(ctx *pulumi.Context, name, class string, annotations map[string]string) error {
		_, err := networkingv1.NewIngress(ctx, name, &networkingv1.IngressArgs{
			Metadata: meta(name, annotations),
			Spec:     &networkingv1.IngressSpecArgs{IngressClassName: pulumi.String(class)},
		})
		return err
	}
	program := func(extra func(*pulumi.Context) error) pulumi.RunFunc {
		return func(ctx *pulumi.Context) error {
			if _, err := corev1.NewService(ctx, "nlb", &corev1.ServiceArgs{
				Metadata: meta("nlb", map[string]string{"service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"}),
				Spec:     &corev1.ServiceSpecArgs{Type: pulumi.String("LoadBalancer"), LoadBalancerClass: pulumi.String("service.k8s.aws/nlb")},
			}); err != nil {
				return err
			}
			if _, err := corev1.NewService(ctx, "cluster-ip", &corev1.ServiceArgs{Metadata: meta("cluster-ip", nil),
				Spec: &corev1.ServiceSpecArgs{Type: pulumi.String("ClusterIP")}}); err != nil {
				return err
			}
			group := map[string]string{"alb.ingress.kubernetes.io/group.name": "shared"}
			for _, err := range []error{
				ingress(ctx, "a", "alb", group), ingress(ctx, "b", "alb", group), // one ALB for the group
				ingress(ctx, "solo", "alb", nil),
				ingress(ctx, "nginx", "nginx", nil), // not an AWS load balancer
			} {
				if err != nil {
					return err
				}
			}
			if _, err := helmv4.NewChart(ctx, "ui", &helmv4.ChartArgs{Chart: pulumi.String("ui"), Values: pulumi.Map{
				"server": pulumi.Map{"ingress": pulumi.Map{"enabled": pulumi.Bool(true), "ingressClassName": pulumi.String("alb")}},
				"other":  pulumi.Map{"ingress": pulumi.Map{"enabled": pulumi.Bool(false), "ingressClassName": pulumi.String("alb")}},
			}}); err != nil {
				return err
			}
			if extra != nil {
				return extra(ctx)
			}
			return nil
		}
	}
	rec, err := mocks.Run(baseConfig(), program(nil))
	require.NoError(t, err)
	inv, err := estimate.Inventory(rec, pricedOn)
	require.NoError(t, err)
	var got []string
	for _, lb := range inv.LoadBalancers {
		got = append(got, string(lb.Kind)+" "+lb.Name+" public="+map[bool]string{true: "yes", false: "no"}[lb.Public]+" ("+lb.Source+")")
	}
	assert.Equal(t, []string{ // sorted by name
		"ALB group shared public=no (Ingress apps/a, Ingress apps/b)",
		"NLB nlb public=yes (Service apps/nlb)",
		"ALB solo public=no (Ingress apps/solo)",
		"ALB ui/server public=no (Helm chart ui, values server.ingress)",
	}, got)

	// A LoadBalancer Service the controller does not own would be a Classic
	// Load Balancer, which the table cannot price: an error, not $0.
	rec, err = mocks.Run(baseConfig(), program(func(ctx *pulumi.Context) error {
		_, err := corev1.NewService(ctx, "classic", &corev1.ServiceArgs{Metadata: meta("classic", nil),
			Spec: &corev1.ServiceSpecArgs{Type: pulumi.String("LoadBalancer")}})
		return err
	}))
	require.NoError(t, err)
	_, err = estimate.Inventory(rec, pricedOn)
	require.ErrorContains(t, err, "Service classic is type LoadBalancer without loadBalancerClass service.k8s.aws/nlb")
	assert.ErrorContains(t, err, "Classic Load Balancer")
}

// Issue 21 item 9: the metrics stack's Prometheus volume (a gp3 PVC from
// the chart's volumeClaimTemplate) and the ALBs of an exposed Grafana and
// Prometheus (one each: their Ingresses share no IngressGroup) are priced,
// each line named for what it is.
func TestCostPricesTheMetricsStack(t *testing.T) {
	cfg := with(productionConfig(), "aiplatform:observability", `{"prometheus":{"storage":"200Gi","exposure":"internal"},"grafana":{"exposure":"public","allowedCidrs":["203.0.113.0/24"]}}`)
	e := priceStack(t, cfg, "production-like", pricedOn)
	// us-east-1 gp3 $0.08/GB-month: 200 GiB = $16.00.
	vol := costLine(t, e, "pvc/metrics/prometheus")
	assert.Equal(t, 16.0, vol.Monthly)
	assert.Equal(t, cost.StorageCost, vol.Category)
	assert.Contains(t, vol.Detail, "1 × 200 GiB gp3")
	// ALB $0.0225/h + 5 LCU × $0.008/h = $0.0625/h (internal); public adds
	// 3 AZs × $0.005/h of IPv4.
	prom := costLine(t, e, "lb/metrics/prometheus")
	assert.Equal(t, 0.0625, prom.Hourly)
	assert.Contains(t, prom.Detail, "internal")
	graf := costLine(t, e, "lb/metrics/grafana")
	assert.Equal(t, 0.0775, graf.Hourly)
	assert.Contains(t, graf.Detail, "internet-facing, 3 public IPv4")
	ids := map[string]bool{}
	for _, l := range e.Lines {
		assert.False(t, ids[l.ID], "line id %s repeated", l.ID)
		ids[l.ID] = true
	}

	// The default (cluster-internal UIs, 50Gi): the volume, no ALB; emptyDir: nothing.
	d := priceStack(t, productionConfig(), "production-like", pricedOn)
	assert.Equal(t, 4.0, costLine(t, d, "pvc/metrics/prometheus").Monthly)
	dev := priceStack(t, with(productionConfig(), "aiplatform:observability", `{"prometheus":{"storage":"emptyDir"}}`), "dev", pricedOn)
	for _, l := range dev.Lines {
		assert.NotContains(t, l.ID, "metrics", l.ID)
	}
}

// Issue 20: what a GPU Deployment keeps while idle, read from what scales
// it: an HPA's minReplicas, or a KEDA ScaledObject's idleReplicaCount when
// set, else its minReplicaCount, with KEDA v2.20.2's defaults where a field
// is unset (minReplicaCount 0, cooldownPeriod 300 s; tests/estimate cites
// the sources). A ScaledObject owns its target's HPA, so it wins over one.
func TestCostGPUWorkloadsIdleFloor(t *testing.T) {
	deployment := func(ctx *pulumi.Context, name, gpus string) error {
		labels := pulumi.StringMap{"app": pulumi.String(name)}
		container := corev1.ContainerArgs{Name: pulumi.String(name), Image: pulumi.String("nvcr.io/nvidia/tritonserver:25.01-py3")}
		if gpus != "" {
			container.Resources = &corev1.ResourceRequirementsArgs{Limits: pulumi.StringMap{"nvidia.com/gpu": pulumi.String(gpus)}}
		}
		_, err := appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: pulumi.String("ml")},
			Spec: &appsv1.DeploymentSpecArgs{
				Selector: &metav1.LabelSelectorArgs{MatchLabels: labels},
				Template: &corev1.PodTemplateSpecArgs{Metadata: &metav1.ObjectMetaArgs{Labels: labels},
					Spec: &corev1.PodSpecArgs{Containers: corev1.ContainerArray{container}}},
			},
		})
		return err
	}
	hpa := func(ctx *pulumi.Context, target string, minReplicas int) error {
		_, err := autoscalingv2.NewHorizontalPodAutoscaler(ctx, target+"-hpa", &autoscalingv2.HorizontalPodAutoscalerArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(target), Namespace: pulumi.String("ml")},
			Spec: &autoscalingv2.HorizontalPodAutoscalerSpecArgs{
				ScaleTargetRef: &autoscalingv2.CrossVersionObjectReferenceArgs{ApiVersion: pulumi.String("apps/v1"), Kind: pulumi.String("Deployment"), Name: pulumi.String(target)},
				MinReplicas:    pulumi.Int(minReplicas), MaxReplicas: pulumi.Int(4),
			},
		})
		return err
	}
	// scaledObject registers the shape the program renders (type
	// kubernetes:keda.sh/v1alpha1:ScaledObject); spec holds the counts set.
	scaledObject := func(ctx *pulumi.Context, target string, spec map[string]any) error {
		spec["scaleTargetRef"] = map[string]any{"name": target}
		if target != "bare" { // kind unset: KEDA's default, a Deployment
			spec["scaleTargetRef"] = map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": target}
		}
		_, err := apiextensions.NewCustomResource(ctx, target+"-so", &apiextensions.CustomResourceArgs{
			ApiVersion:  pulumi.String("keda.sh/v1alpha1"),
			Kind:        pulumi.String("ScaledObject"),
			Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(target), Namespace: pulumi.String("ml")},
			OtherFields: map[string]any{"spec": spec},
		})
		return err
	}
	rec, err := mocks.Run(baseConfig(), func(ctx *pulumi.Context) error {
		for _, err := range []error{
			deployment(ctx, "hpa", "1"), hpa(ctx, "hpa", 1),
			deployment(ctx, "plain", "1"), // no scaler: spec.replicas, default 1
			deployment(ctx, "idle", "1"), scaledObject(ctx, "idle", map[string]any{"idleReplicaCount": 0, "minReplicaCount": 1, "maxReplicaCount": 2, "cooldownPeriod": 1800}),
			deployment(ctx, "min", "1"), scaledObject(ctx, "min", map[string]any{"minReplicaCount": 2, "maxReplicaCount": 4}),
			deployment(ctx, "bare", "2"), scaledObject(ctx, "bare", map[string]any{}),
			deployment(ctx, "adopted", "1"), hpa(ctx, "adopted", 1), scaledObject(ctx, "adopted", map[string]any{"idleReplicaCount": 0, "minReplicaCount": 3, "cooldownPeriod": 600}),
			deployment(ctx, "cpu", ""), scaledObject(ctx, "cpu", map[string]any{"minReplicaCount": 5}),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	inv, err := estimate.Inventory(rec, pricedOn)
	require.NoError(t, err)
	assert.ElementsMatch(t, []cost.GPUWorkload{
		{Name: "Deployment ml/hpa", MinReplicas: 1, GPUsPerPod: 1},
		{Name: "Deployment ml/plain", MinReplicas: 1, GPUsPerPod: 1},
		{Name: "Deployment ml/idle", MinReplicas: 0, FloorFrom: "idleReplicaCount", GPUsPerPod: 1, ScalesToZero: true, IdleSeconds: 1800, ActiveMinReplicas: 1},
		{Name: "Deployment ml/min", MinReplicas: 2, FloorFrom: "minReplicaCount", GPUsPerPod: 1, IdleSeconds: 300, ActiveMinReplicas: 2},
		{Name: "Deployment ml/bare", MinReplicas: 0, FloorFrom: "minReplicaCount", GPUsPerPod: 2, ScalesToZero: true, IdleSeconds: 300, ActiveMinReplicas: 1},
		{Name: "Deployment ml/adopted", MinReplicas: 0, FloorFrom: "idleReplicaCount", GPUsPerPod: 1, ScalesToZero: true, IdleSeconds: 600, ActiveMinReplicas: 3},
	}, inv.GPUWorkloads)
}

// Issue 20: the dev stack (Pulumi.dev.yaml, triton.scaleToZero on) holds
// no GPU node while Triton is idle; its GPU cost is the expected use. Until
// Pulumi.dev.yaml turns scaleToZero on, this fails with FloorNodes 1.
func TestCostDevGPUScalesToZero(t *testing.T) {
	cfg, _, err := mocks.StackConfig("..", "dev")
	require.NoError(t, err)
	e := priceStack(t, cfg, "dev", pricedOn)
	require.Len(t, e.GPU, 1)
	s := e.GPU[0]
	assert.Equal(t, 0, s.FloorNodes, "Triton's ScaledObject keeps 0 replicas while idle")
	assert.Equal(t, 0.0, s.FloorMonthly)
	assert.Equal(t, e.Totals.Monthly, e.Totals.WithGPUFloorMonthly)
	want := "Deployment triton/triton (0 replicas after 30 minutes idle; 1 × 1 GPU while active)"
	assert.Equal(t, want, s.ScalesToZero)
	notes := strings.Join(e.Notes, "\n")
	assert.Contains(t, notes, "GPU group nodes-gpu scales to zero: "+want+", so no GPU node runs while idle and the group costs its expected use, 8 node-hours/day: $250.13/month instead of $750.38 for one GPU node around the clock.")
	assert.NotContains(t, notes, "cannot scale to zero")
}
