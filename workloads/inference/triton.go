package inference

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/aiplatform/infra/infra"
	"github.com/aiplatform/infra/workloads"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const tritonType = "aiplatform:workloads:Triton"

// tritonName names the Triton objects inside their namespace (stable Service DNS: triton.<ns>.svc).
const tritonName = "triton"

// tritonUID is the non-root user the NGC Triton image runs as.
const tritonUID = 1000

// BucketRef is the S3 bucket holding the model repository.
type BucketRef struct {
	Name pulumi.StringInput
	Arn  pulumi.StringInput
	// KMSKeyArn is the key the objects are encrypted with (SSE-KMS).
	KMSKeyArn pulumi.StringInput
}

// TritonArgs configures Triton.
type TritonArgs struct {
	Spec        TritonSpec
	Cluster     workloads.ClusterInfo
	ModelBucket BucketRef
	// VPCCIDR is where load balancers and in-VPC clients connect from.
	VPCCIDR string
	// ClientNamespaces are namespaces whose pods may call the HTTP and gRPC
	// ports directly (the default-deny namespace admits nothing else but the VPC).
	ClientNamespaces []string
	// HPAMetric is the inference-load metric the HPA scales on beside CPU,
	// resolved by the stack from Spec.Autoscaling (see TritonAutoscaling).
	// Zero: CPU only, for clusters where nothing serves the custom metrics
	// API (an unserved metric would block every scale-down).
	HPAMetric PodsMetric
	// HPAOffered, when set, is the HPA's second inference signal: the load
	// callers offer (triton.autoscaling.callsPerPod), an External metric.
	// Not with KEDA, whose ScaledObject reads it as TritonKEDA.OfferedQuery.
	HPAOffered *ExternalMetric
	// Monitoring, when set, has the platform's Prometheus scrape the metrics
	// port through a PodMonitor; nil: nothing scrapes it.
	Monitoring *TritonMonitoring
	// KEDA is set exactly when Spec.ScaleToZero is enabled: a KEDA
	// ScaledObject then replaces the HPA (tritonScaledObjectSpec).
	KEDA *TritonKEDA
}

// TritonKEDA is what the ScaledObject that lets Triton scale to zero
// reads, resolved by the stack (this package cannot import observability).
type TritonKEDA struct {
	// PrometheusAddress is the Prometheus KEDA's prometheus scaler queries
	// (http://<service>.<namespace>.svc:<port>).
	PrometheusAddress string
	// LoadQuery is the inference metric summed over Triton's pods; with
	// metricType AverageValue the HPA KEDA owns asks for
	// ceil(LoadQuery / LoadThreshold) replicas, what the HPA's Pods metric
	// asks for with the same per-pod target.
	LoadQuery string
	// LoadThreshold is the per-pod target (triton.autoscaling.target).
	LoadThreshold float64
	// WakeQuery is non-zero while callers fail to reach a ready Triton
	// (lds-service's unreachable and model_not_ready errors per second):
	// the only signal there is while Triton has no pod.
	WakeQuery string
	// OfferedQuery and OfferedThreshold, when set, are a third trigger: the
	// callers' request rate against triton.autoscaling.callsPerPod per pod,
	// what HPAOffered is without KEDA.
	OfferedQuery     string
	OfferedThreshold float64
	// DependsOn installs the ScaledObject CRD and KEDA's webhooks (the KEDA
	// chart).
	DependsOn []pulumi.Resource
}

// KEDAResolution is the smallest target KEDA v2.20.2 gives the HPA it owns:
// GetMetricTargetMili renders a trigger's threshold with
// resource.MustParse(fmt.Sprintf("%.3f", value)) (pkg/scalers/scaler.go,
// quantityFromFloat64), so 0.0004 becomes a target of 0.
const KEDAResolution = 0.001

// kedaTarget refuses a positive threshold KEDA would give the HPA as 0.
func kedaTarget(key string, v float64) error {
	if v < KEDAResolution {
		return fmt.Errorf("%s: %v is below the thousandths KEDA gives the HPA its target in, so the target would be 0; use at least %v", key, v, KEDAResolution)
	}
	return nil
}

func (k TritonKEDA) validate(path string) error {
	var errs []error
	if !strings.HasPrefix(k.PrometheusAddress, "http://") && !strings.HasPrefix(k.PrometheusAddress, "https://") {
		errs = append(errs, fmt.Errorf("%s.prometheusAddress: %q is not an http(s) URL", path, k.PrometheusAddress))
	}
	if k.LoadQuery == "" || k.WakeQuery == "" {
		errs = append(errs, fmt.Errorf("%s: loadQuery and wakeQuery are required", path))
	}
	if (k.OfferedQuery == "") != !(k.OfferedThreshold > 0) {
		errs = append(errs, fmt.Errorf("%s: offeredQuery and offeredThreshold (> 0) come together, got %q and %v", path, k.OfferedQuery, k.OfferedThreshold))
	} else if k.OfferedThreshold > 0 {
		errs = append(errs, kedaTarget(path+".offeredThreshold", k.OfferedThreshold))
	}
	if !(k.LoadThreshold > 0) {
		errs = append(errs, fmt.Errorf("%s.loadThreshold: must be > 0, got %v", path, k.LoadThreshold))
	} else {
		errs = append(errs, kedaTarget(path+".loadThreshold", k.LoadThreshold))
	}
	if len(k.DependsOn) == 0 {
		errs = append(errs, fmt.Errorf("%s.dependsOn: the KEDA chart is required (it installs the ScaledObject CRD)", path))
	}
	return errors.Join(errs...)
}

// Validate reports every problem at once.
func (a TritonArgs) Validate() error {
	errs := []error{a.Spec.Validate("spec"), a.Cluster.Validate(), a.HPAMetric.validate("hpaMetric"), a.HPAOffered.validate("hpaOffered")}
	if a.HPAOffered != nil && a.HPAMetric == (PodsMetric{}) {
		errs = append(errs, errors.New("hpaOffered: only beside hpaMetric (both come from the metrics stack)"))
	}
	if a.HPAOffered != nil && a.KEDA != nil {
		errs = append(errs, errors.New("hpaOffered: not with keda, whose ScaledObject owns the HPA (set keda.offeredQuery instead)"))
	}
	if a.Monitoring != nil {
		errs = append(errs, a.Monitoring.validate("monitoring"))
	}
	switch {
	case a.Spec.ScaleToZero.Enabled && a.KEDA == nil:
		errs = append(errs, errors.New("keda: required with spec.scaleToZero.enabled (KEDA scales Triton to zero and wakes it)"))
	case !a.Spec.ScaleToZero.Enabled && a.KEDA != nil:
		errs = append(errs, errors.New("keda: only used with spec.scaleToZero.enabled"))
	case a.KEDA != nil:
		errs = append(errs, a.KEDA.validate("keda"))
	}
	if a.ModelBucket.Name == nil || a.ModelBucket.Arn == nil || a.ModelBucket.KMSKeyArn == nil {
		errs = append(errs, errors.New("modelBucket: name, arn and kmsKeyArn are required"))
	}
	if p, err := netip.ParsePrefix(a.VPCCIDR); err != nil || !p.Addr().Is4() {
		errs = append(errs, fmt.Errorf("vpcCidr: %q is not an IPv4 CIDR", a.VPCCIDR))
	}
	for i, ns := range a.ClientNamespaces {
		if !workloads.IsNamespaceName(ns) {
			errs = append(errs, fmt.Errorf("clientNamespaces[%d]: %q is not a namespace name", i, ns))
		}
	}
	return errors.Join(errs...)
}

// ModelReadPolicy grants read-only access to the model repository: objects
// under prefix, listing the bucket, and decrypting through S3 only.
//
// s3:ListBucket is not limited by an s3:prefix condition: Triton's S3
// filesystem calls HeadBucket before it lists or reads anything
// (triton-inference-server/core src/filesystem/implementations/s3.h,
// S3FileSystem::CheckClient and IsDirectory, r25.01 through r26.06 and on
// main in June 2026), and S3 authorises HeadBucket as s3:ListBucket without an s3:prefix, so a
// prefix-conditioned statement denies it and the server cannot open its
// repository. Listing reveals key names only; object contents stay limited
// to the prefix by ReadModels.
func ModelReadPolicy(region, bucketArn, prefix, kmsKeyArn string) infra.PolicyDocument {
	list := infra.Allow("ListModelBucket", []string{"s3:ListBucket"}, []string{bucketArn})
	decrypt := infra.Allow("DecryptModels", []string{"kms:Decrypt"}, []string{kmsKeyArn})
	decrypt.Condition = map[string]map[string]any{"StringEquals": {"kms:ViaService": "s3." + region + "." + workloads.DNSSuffix(region)}}
	return infra.NewPolicy(
		infra.Allow("ReadModels", []string{"s3:GetObject"}, []string{bucketArn + "/" + prefix + "/*"}),
		list,
		decrypt,
	)
}

// Triton is NVIDIA Triton Inference Server serving the model repository from
// S3 on GPU nodes: its own default-deny namespace, an IRSA role that can only
// read the model prefix, a hardened Deployment, an NLB Service (with an
// ExternalDNS name), an HPA on inference load and CPU, a PodDisruptionBudget
// and, with Monitoring, a PodMonitor for the metrics port.
type Triton struct {
	pulumi.ResourceState

	Namespace pulumi.StringOutput
	RoleArn   pulumi.StringOutput
	Endpoint  pulumi.StringOutput
	// ModelRepository is s3://<bucket>/<prefix>, where `aiplatform models push` uploads.
	ModelRepository pulumi.StringOutput
	Deployment      *appsv1.Deployment
	Service         *corev1.Service
	// Peer is how clients in other namespaces name Triton's pods and ports
	// in their egress policies (ServiceArgs.EgressTo).
	Peer workloads.PodPeer
}

// tritonPeer selects Triton's pods (the Service's selector, so the VPC CNI's
// policy controller also resolves the Service's ClusterIP) on the HTTP and
// gRPC ports; metrics are for the scraper only.
func tritonPeer(namespace, instance string) workloads.PodPeer {
	return workloads.PodPeer{
		Namespace: namespace,
		PodLabels: map[string]string{workloads.LabelName: tritonName, workloads.LabelInstance: instance},
		Ports:     []int{TritonHTTPPort, TritonGRPCPort},
	}
}

// NewTriton creates Triton and everything it needs.
func NewTriton(ctx *pulumi.Context, name string, args *TritonArgs, opts ...pulumi.ResourceOption) (*Triton, error) {
	if args == nil {
		return nil, workloads.Errorf("triton", name, errors.New("args are required"))
	}
	a := *args
	a.Spec = a.Spec.WithDefaults(workloads.Defaults{})
	if err := a.Validate(); err != nil {
		return nil, workloads.Errorf("triton", name, err)
	}
	s := a.Spec
	t := &Triton{}
	if err := ctx.RegisterComponentResource(tritonType, name, t, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(t)
	ns, err := workloads.NewNamespace(ctx, name, &workloads.NamespaceArgs{Name: s.Namespace}, parent)
	if err != nil {
		return nil, err
	}
	region, prefix := a.Cluster.Region, s.ModelPrefix
	policy := pulumi.All(a.ModelBucket.Arn, a.ModelBucket.KMSKeyArn).ApplyT(func(v []any) string {
		return ModelReadPolicy(region, v[0].(string), prefix, v[1].(string)).JSON()
	}).(pulumi.StringOutput)
	role, err := infra.NewIRSARole(ctx, name, &infra.IRSARoleArgs{
		OIDCProviderArn: a.Cluster.OIDCProviderArn,
		OIDCIssuer:      a.Cluster.OIDCIssuer,
		Namespace:       s.Namespace,
		ServiceAccount:  tritonName,
		Policy:          policy,
		Tags:            a.Cluster.Tags,
	}, parent)
	if err != nil {
		return nil, err
	}
	// Triton exits on an empty prefix: the sample repository fills it, or
	// the preview says plainly what happens.
	var modelObjects []pulumi.Resource
	if s.SampleModelsOn() {
		if modelObjects, err = uploadSampleModels(ctx, name, a.ModelBucket, prefix, parent); err != nil {
			return nil, err
		}
	} else {
		_ = ctx.Log.Warn(emptyPrefixWarning(prefix), &pulumi.LogArgs{Resource: t})
	}
	meta := func(objectName string) *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(objectName), Namespace: ns.Name, Labels: workloads.CommonLabels(tritonName, name)}
	}
	sa, err := corev1.NewServiceAccount(ctx, name, &corev1.ServiceAccountArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(tritonName), Namespace: ns.Name, Labels: workloads.CommonLabels(tritonName, name),
			Annotations: pulumi.StringMap{workloads.RoleArnAnnotation: role.Arn},
		},
		AutomountServiceAccountToken: pulumi.Bool(false),
	}, parent)
	if err != nil {
		return nil, err
	}
	selector := workloads.AppLabels(tritonName, name)
	deployment, err := appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
		Metadata: meta(tritonName),
		Spec: &appsv1.DeploymentSpecArgs{
			// No replicas: the HPA owns the count; setting it here would
			// reset it to the minimum on every update.
			Selector: &metav1.LabelSelectorArgs{MatchLabels: selector},
			Strategy: tritonRolloutStrategy(),
			Template: &corev1.PodTemplateSpecArgs{
				// No prometheus.io annotations: nothing reads them; the
				// PodMonitor (Monitoring) is how the metrics port is scraped.
				Metadata: &metav1.ObjectMetaArgs{Labels: workloads.CommonLabels(tritonName, name)},
				Spec:     tritonPodSpec(s, sa.Metadata.Name().Elem(), a.ModelBucket.Name, region, selector, a.Monitoring.serverArgs()),
			},
		},
	}, parent, pulumi.DependsOn(modelObjects), pulumi.Timeouts(&pulumi.CustomTimeouts{Create: "30m", Update: "30m"}))
	if err != nil {
		return nil, err
	}
	svcType := "ClusterIP"
	var annotations pulumi.StringMap
	var lbClass pulumi.StringPtrInput
	var sourceRanges pulumi.StringArrayInput
	if s.Exposure.LoadBalanced() {
		svcType = "LoadBalancer"
		annotations = workloads.NLBAnnotations(s.exposure(), TritonHTTPPort, "/v2/health/ready", []string{"http", "grpc"})
		lbClass = pulumi.String("service.k8s.aws/nlb")
		if len(s.AllowedCIDRs) > 0 {
			sourceRanges = pulumi.ToStringArray(s.AllowedCIDRs)
		}
	}
	svcMeta := meta(tritonName)
	if annotations != nil {
		svcMeta.Annotations = annotations
	}
	svc, err := corev1.NewService(ctx, name, &corev1.ServiceArgs{
		Metadata: svcMeta,
		Spec: &corev1.ServiceSpecArgs{
			Type:                     pulumi.String(svcType),
			LoadBalancerClass:        lbClass,
			LoadBalancerSourceRanges: sourceRanges,
			Selector:                 selector,
			Ports: corev1.ServicePortArray{
				corev1.ServicePortArgs{Name: pulumi.String("http"), Port: pulumi.Int(TritonHTTPPort), TargetPort: pulumi.String("http"), Protocol: pulumi.String("TCP")},
				corev1.ServicePortArgs{Name: pulumi.String("grpc"), Port: pulumi.Int(TritonGRPCPort), TargetPort: pulumi.String("grpc"), Protocol: pulumi.String("TCP")},
			},
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	if a.KEDA != nil {
		// KEDA owns the HPA: one HPA per Deployment, or the two fight.
		soMeta := meta(tritonName)
		soMeta.Annotations = pulumi.StringMap{scaledObjectTransferHPAAnnotation: pulumi.String("true")}
		if _, err := apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
			ApiVersion:  pulumi.String("keda.sh/v1alpha1"),
			Kind:        pulumi.String("ScaledObject"),
			Metadata:    soMeta,
			OtherFields: kubernetes.UntypedArgs{"spec": tritonScaledObjectSpec(s, *a.KEDA)},
		}, parent, pulumi.DependsOn(append([]pulumi.Resource{deployment}, a.KEDA.DependsOn...))); err != nil {
			return nil, err
		}
	} else if _, err := autoscalingv2.NewHorizontalPodAutoscaler(ctx, name, &autoscalingv2.HorizontalPodAutoscalerArgs{
		Metadata: meta(tritonName),
		Spec:     hpaSpec(tritonName, s.MinReplicas, s.MaxReplicas, s.TargetCPUUtilization, a.HPAMetric, a.HPAOffered, s.ScaleDownStabilizationSeconds),
	}, parent, pulumi.DependsOn([]pulumi.Resource{deployment})); err != nil {
		return nil, err
	}
	if _, err := policyv1.NewPodDisruptionBudget(ctx, name, &policyv1.PodDisruptionBudgetArgs{
		Metadata: meta(tritonName),
		// maxUnavailable rather than minAvailable: with one replica a
		// minAvailable of 1 would block every node drain and scale-down.
		Spec: &policyv1.PodDisruptionBudgetSpecArgs{
			MaxUnavailable: pulumi.Int(1),
			Selector:       &metav1.LabelSelectorArgs{MatchLabels: selector},
		},
	}, parent); err != nil {
		return nil, err
	}
	// Inference ports from the VPC (the NLB's IP targets, in-VPC clients)
	// and from the client namespaces; metrics only from the scraper's
	// namespace, never from the VPC.
	api := []int{TritonHTTPPort, TritonGRPCPort}
	if err := workloads.AllowLoadBalancedIngress(ctx, name+"-ingress", ns.Name, selector, a.VPCCIDR, api, parent); err != nil {
		return nil, err
	}
	if len(a.ClientNamespaces) > 0 {
		if err := workloads.AllowNamespaceIngress(ctx, name+"-clients", "allow-client-ingress", ns.Name, selector, a.ClientNamespaces, api, parent); err != nil {
			return nil, err
		}
	}
	if err := workloads.AllowNamespaceIngress(ctx, name+"-metrics", "allow-metrics-scrape", ns.Name, selector,
		[]string{s.MetricsNamespace}, []int{TritonMetricsPort}, parent); err != nil {
		return nil, err
	}
	// S3 and STS (for IRSA) over HTTPS.
	if err := workloads.AllowHTTPSEgress(ctx, name+"-egress", ns.Name, selector, parent); err != nil {
		return nil, err
	}
	if a.Monitoring != nil {
		if _, err := newTritonPodMonitor(ctx, name, ns.Name, selector, *a.Monitoring, parent); err != nil {
			return nil, err
		}
	}
	t.Namespace = ns.Name
	t.RoleArn = role.Arn
	t.Deployment = deployment
	t.Service = svc
	t.Peer = tritonPeer(s.Namespace, name)
	t.Endpoint = tritonEndpoint(s, svc)
	t.ModelRepository = pulumi.Sprintf("s3://%s/%s", a.ModelBucket.Name, s.ModelPrefix)
	return t, ctx.RegisterResourceOutputs(t, pulumi.Map{"endpoint": t.Endpoint, "roleArn": role.Arn, "namespace": ns.Name,
		"modelRepository": t.ModelRepository})
}

// tritonRolloutStrategy replaces pods one at a time without a surge pod.
// A surge pod needs a free GPU: at maxReplicas, or whenever the GPU group is
// full, it stays Pending until the autoscaler adds a node the group may not
// be allowed to have, and the rollout hangs. Validating that the GPU group's
// maxSize leaves room for one more would need GPUs per node and every other
// GPU consumer, and would still pay for an extra node on each rollout. With
// maxSurge 0 a rollout needs no spare capacity; it briefly runs one pod
// fewer, so minReplicas >= 2 keeps serving through it (docs/configure.md, Triton).
func tritonRolloutStrategy() *appsv1.DeploymentStrategyArgs {
	return &appsv1.DeploymentStrategyArgs{
		Type: pulumi.String("RollingUpdate"),
		RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{
			MaxSurge: pulumi.Int(0), MaxUnavailable: pulumi.Int(1),
		},
	}
}

// tritonArgs are the server's command-line arguments; extra come last.
func tritonArgs(s TritonSpec, bucket pulumi.StringInput, extra []string) pulumi.StringArray {
	args := pulumi.StringArray{
		pulumi.Sprintf("--model-repository=s3://%s/%s", bucket, s.ModelPrefix),
		pulumi.String("--model-control-mode=" + string(s.ModelControlMode)),
		pulumi.Sprintf("--http-port=%d", TritonHTTPPort),
		pulumi.Sprintf("--grpc-port=%d", TritonGRPCPort),
		pulumi.Sprintf("--metrics-port=%d", TritonMetricsPort),
		pulumi.String("--allow-metrics=true"),
		pulumi.String("--allow-gpu-metrics=true"),
		// Ready only when every model is loaded, so the NLB and the
		// readiness probe never route to a half-loaded server.
		pulumi.String("--strict-readiness=true"),
	}
	if s.ModelControlMode == ModelControlPoll {
		args = append(args, pulumi.Sprintf("--repository-poll-secs=%d", s.RepositoryPollSeconds))
	}
	for _, m := range s.Models {
		args = append(args, pulumi.String("--load-model="+m))
	}
	for _, arg := range extra {
		args = append(args, pulumi.String(arg))
	}
	return args
}

func tritonPodSpec(s TritonSpec, serviceAccount pulumi.StringInput, bucket pulumi.StringInput, region string, selector pulumi.StringMap, extraArgs []string) *corev1.PodSpecArgs {
	gpus := pulumi.String(fmt.Sprint(s.GPUs))
	probe := func(path string, period, failures int) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			HttpGet:          &corev1.HTTPGetActionArgs{Path: pulumi.String(path), Port: pulumi.String("http")},
			PeriodSeconds:    pulumi.Int(period),
			TimeoutSeconds:   pulumi.Int(5),
			FailureThreshold: pulumi.Int(failures),
		}
	}
	return &corev1.PodSpecArgs{
		ServiceAccountName:            serviceAccount,
		AutomountServiceAccountToken:  pulumi.Bool(false),
		TerminationGracePeriodSeconds: pulumi.Int(60),
		NodeSelector:                  workloads.GPUNodeSelector(),
		Tolerations:                   workloads.GPUTolerations(),
		TopologySpreadConstraints:     spreadAcrossZones(selector),
		SecurityContext: &corev1.PodSecurityContextArgs{
			RunAsNonRoot:   pulumi.Bool(true),
			RunAsUser:      pulumi.Int(tritonUID),
			RunAsGroup:     pulumi.Int(tritonUID),
			FsGroup:        pulumi.Int(tritonUID),
			SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
		},
		Containers: corev1.ContainerArray{corev1.ContainerArgs{
			Name:            pulumi.String(tritonName),
			Image:           pulumi.String(s.Image),
			ImagePullPolicy: pulumi.String("IfNotPresent"),
			Command:         pulumi.StringArray{pulumi.String("tritonserver")},
			Args:            tritonArgs(s, bucket, extraArgs),
			Env: corev1.EnvVarArray{
				corev1.EnvVarArgs{Name: pulumi.String("AWS_REGION"), Value: pulumi.String(region)},
				corev1.EnvVarArgs{Name: pulumi.String("AWS_DEFAULT_REGION"), Value: pulumi.String(region)},
				// The root filesystem is read-only; the AWS SDK (~/.aws) and
				// the Python backend (~/.cache) write under HOME.
				corev1.EnvVarArgs{Name: pulumi.String("HOME"), Value: pulumi.String(tritonScratchDir)},
			},
			Ports: corev1.ContainerPortArray{
				corev1.ContainerPortArgs{Name: pulumi.String("http"), ContainerPort: pulumi.Int(TritonHTTPPort), Protocol: pulumi.String("TCP")},
				corev1.ContainerPortArgs{Name: pulumi.String("grpc"), ContainerPort: pulumi.Int(TritonGRPCPort), Protocol: pulumi.String("TCP")},
				corev1.ContainerPortArgs{Name: pulumi.String(tritonMetricsPortName), ContainerPort: pulumi.Int(TritonMetricsPort), Protocol: pulumi.String("TCP")},
			},
			Resources: &corev1.ResourceRequirementsArgs{
				// The downloaded repository lives on the node's disk: the
				// request makes the scheduler pick a node with room for it.
				Requests: pulumi.StringMap{"cpu": pulumi.String(s.CPU), "memory": pulumi.String(s.Memory), "nvidia.com/gpu": gpus,
					"ephemeral-storage": pulumi.String(s.ModelCache)},
				Limits: pulumi.StringMap{"cpu": pulumi.String(s.CPULimit), "memory": pulumi.String(s.MemoryLimit), "nvidia.com/gpu": gpus,
					"ephemeral-storage": pulumi.String(tritonEphemeralLimit(s.ModelCache))},
			},
			// Loading a large repository from S3 can take many minutes; the
			// startup probe holds liveness off until the server answers.
			StartupProbe:   probe("/v2/health/live", 10, 120),
			LivenessProbe:  probe("/v2/health/live", 10, 3),
			ReadinessProbe: probe("/v2/health/ready", 5, 3),
			SecurityContext: &corev1.SecurityContextArgs{
				RunAsNonRoot:             pulumi.Bool(true),
				AllowPrivilegeEscalation: pulumi.Bool(false),
				ReadOnlyRootFilesystem:   pulumi.Bool(true),
				Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
			},
			VolumeMounts: corev1.VolumeMountArray{
				corev1.VolumeMountArgs{Name: pulumi.String("dshm"), MountPath: pulumi.String("/dev/shm")},
				corev1.VolumeMountArgs{Name: pulumi.String("model-cache"), MountPath: pulumi.String(tritonScratchDir)},
			},
		}},
		Volumes: corev1.VolumeArray{
			// Backends exchange tensors through shared memory; the container
			// runtime's 64Mi default is far too small.
			corev1.VolumeArgs{Name: pulumi.String("dshm"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{
				Medium: pulumi.String("Memory"), SizeLimit: pulumi.String(s.SharedMemory),
			}},
			// Triton copies the S3 repository to local disk before loading,
			// under /tmp unless TRITON_AWS_MOUNT_DIRECTORY says otherwise
			// (core src/filesystem/implementations/s3.h, LocalizePath).
			corev1.VolumeArgs{Name: pulumi.String("model-cache"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{
				SizeLimit: pulumi.String(s.ModelCache),
			}},
		},
	}
}

// spreadAcrossZones spreads replicas over zones and nodes. ScheduleAnyway:
// GPU capacity is often only available in some zones, and an unschedulable
// replica is worse than an unbalanced one.
func spreadAcrossZones(selector pulumi.StringMap) corev1.TopologySpreadConstraintArray {
	constraint := func(key string) corev1.TopologySpreadConstraintArgs {
		return corev1.TopologySpreadConstraintArgs{
			MaxSkew:           pulumi.Int(1),
			TopologyKey:       pulumi.String(key),
			WhenUnsatisfiable: pulumi.String("ScheduleAnyway"),
			LabelSelector:     &metav1.LabelSelectorArgs{MatchLabels: selector},
		}
	}
	return corev1.TopologySpreadConstraintArray{constraint("topology.kubernetes.io/zone"), constraint("kubernetes.io/hostname")}
}

// hpaSpec scales a Deployment on the per-pod metric pods (when it is set)
// and on CPU: the HPA takes the largest replica count any metric asks for
// (Kubernetes docs, Horizontal Pod Autoscaling, "Scaling on multiple
// metrics"). Scale-up has no stabilization window and may double the pods
// or add 4, whichever is more, every 15 s (the HPA's own defaults, written
// out so a change is a diff here); scale-down waits stabilizeDown seconds
// and removes one pod per 2 minutes, so GPU nodes are not churned by short dips.
func hpaSpec(deployment string, min, max, cpuTarget int, pods PodsMetric, offered *ExternalMetric, stabilizeDown int) *autoscalingv2.HorizontalPodAutoscalerSpecArgs {
	var metrics autoscalingv2.MetricSpecArray
	if pods.Name != "" {
		metrics = append(metrics, autoscalingv2.MetricSpecArgs{
			Type: pulumi.String("Pods"),
			Pods: &autoscalingv2.PodsMetricSourceArgs{
				Metric: &autoscalingv2.MetricIdentifierArgs{Name: pulumi.String(pods.Name)},
				Target: &autoscalingv2.MetricTargetArgs{Type: pulumi.String("AverageValue"), AverageValue: pulumi.String(pods.TargetQuantity)},
			},
		})
	}
	if offered != nil {
		// The HPA takes the largest of its metrics' proposals
		// (podautoscaler/horizontal.go computeReplicasForMetrics), so this
		// adds pods for a step the Pods metric reads late and never holds
		// more than the load asks for.
		metrics = append(metrics, autoscalingv2.MetricSpecArgs{
			Type: pulumi.String("External"),
			External: &autoscalingv2.ExternalMetricSourceArgs{
				Metric: &autoscalingv2.MetricIdentifierArgs{
					Name:     pulumi.String(offered.Name),
					Selector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(offered.Selector)},
				},
				Target: &autoscalingv2.MetricTargetArgs{Type: pulumi.String("AverageValue"), AverageValue: pulumi.String(offered.TargetQuantity)},
			},
		})
	}
	metrics = append(metrics, autoscalingv2.MetricSpecArgs{
		Type: pulumi.String("Resource"),
		Resource: &autoscalingv2.ResourceMetricSourceArgs{
			Name:   pulumi.String("cpu"),
			Target: &autoscalingv2.MetricTargetArgs{Type: pulumi.String("Utilization"), AverageUtilization: pulumi.Int(cpuTarget)},
		},
	})
	up, down := tritonBehavior(stabilizeDown)
	return &autoscalingv2.HorizontalPodAutoscalerSpecArgs{
		ScaleTargetRef: &autoscalingv2.CrossVersionObjectReferenceArgs{
			ApiVersion: pulumi.String("apps/v1"), Kind: pulumi.String("Deployment"), Name: pulumi.String(deployment),
		},
		MinReplicas: pulumi.Int(min),
		MaxReplicas: pulumi.Int(max),
		Metrics:     metrics,
		Behavior:    &autoscalingv2.HorizontalPodAutoscalerBehaviorArgs{ScaleUp: up.typed(), ScaleDown: down.typed()},
	}
}

func (r scalingRules) typed() *autoscalingv2.HPAScalingRulesArgs {
	var policies autoscalingv2.HPAScalingPolicyArray
	for _, p := range r.Policies {
		policies = append(policies, autoscalingv2.HPAScalingPolicyArgs{
			Type: pulumi.String(p.Type), Value: pulumi.Int(p.Value), PeriodSeconds: pulumi.Int(p.PeriodSeconds),
		})
	}
	args := &autoscalingv2.HPAScalingRulesArgs{StabilizationWindowSeconds: pulumi.Int(r.StabilizationWindowSeconds), Policies: policies}
	if r.SelectPolicy != "" {
		args.SelectPolicy = pulumi.String(r.SelectPolicy)
	}
	return args
}

// TritonClusterURL is Triton's in-cluster HTTP endpoint in namespace: what
// lds-service's TRITON_URL defaults to.
func TritonClusterURL(namespace string) string {
	return fmt.Sprintf("http://%s.%s.svc.cluster.local:%d", tritonName, namespace, TritonHTTPPort)
}

// tritonEndpoint is the HTTP endpoint clients use (gRPC is on TritonGRPCPort of the same host).
func tritonEndpoint(s TritonSpec, svc *corev1.Service) pulumi.StringOutput {
	scheme := "http"
	if s.CertificateARN != "" && s.Exposure.LoadBalanced() {
		scheme = "https"
	}
	switch {
	case !s.Exposure.LoadBalanced():
		return pulumi.String(TritonClusterURL(s.Namespace)).ToStringOutput()
	case s.Host != "":
		return pulumi.Sprintf("%s://%s:%d", scheme, s.Host, TritonHTTPPort)
	}
	// Not Index(0): it panics while the NLB has no address yet (empty
	// status after a skipped or timed-out await).
	return svc.Status.LoadBalancer().Ingress().ApplyT(func(ing []corev1.LoadBalancerIngress) string {
		if len(ing) == 0 || ing[0].Hostname == nil || strings.TrimSpace(*ing[0].Hostname) == "" {
			return "" // no address yet
		}
		return fmt.Sprintf("%s://%s:%d", scheme, strings.TrimSpace(*ing[0].Hostname), TritonHTTPPort)
	}).(pulumi.StringOutput)
}
