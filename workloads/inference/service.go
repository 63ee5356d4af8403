package inference

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/aiplatform/infra/workloads"
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const serviceType = "aiplatform:workloads:Service"

// RegistryCredentials authenticate image pulls from a private registry.
type RegistryCredentials struct {
	// Server defaults to DockerHubRegistry.
	Server   string
	Username string
	// Password is a secret (a Docker Hub access token).
	Password pulumi.StringInput
}

// ServiceArgs configures a Service.
type ServiceArgs struct {
	Spec ServiceSpec
	// PullCredentials, when set, become an image pull secret.
	PullCredentials *RegistryCredentials
	// VPCCIDR is where the ALB and in-VPC clients connect from.
	VPCCIDR string
	// EgressTo are pods in other namespaces the service calls (e.g. Triton's
	// Peer); its namespace otherwise allows egress only to DNS, itself and 443.
	EgressTo []workloads.PodPeer
	// Monitoring, when set, has the platform's Prometheus scrape the
	// service's metrics route; nil: nothing scrapes it.
	Monitoring *ServiceMonitoring
}

// Validate reports every problem at once.
func (a ServiceArgs) Validate() error {
	errs := []error{a.Spec.Validate("spec")}
	if c := a.PullCredentials; c != nil && (c.Username == "" || c.Password == nil) {
		errs = append(errs, errors.New("pullCredentials: username and password are required"))
	}
	if p, err := netip.ParsePrefix(a.VPCCIDR); err != nil || !p.Addr().Is4() {
		errs = append(errs, fmt.Errorf("vpcCidr: %q is not an IPv4 CIDR", a.VPCCIDR))
	}
	for i, p := range a.EgressTo {
		errs = append(errs, p.Validate(fmt.Sprintf("egressTo[%d]", i)))
	}
	if a.Monitoring != nil {
		errs = append(errs, a.Monitoring.validate("monitoring"))
	}
	return errors.Join(errs...)
}

// Service is a reusable stateless HTTP service in its own default-deny
// namespace: settings from a ConfigMap as environment, an optional image
// pull secret built from a secret, a hardened Deployment, a ClusterIP
// Service, an HPA, a PodDisruptionBudget and, when exposed, an ALB Ingress
// (HTTPS when a certificate is configured) named for ExternalDNS; with
// Monitoring, a PodMonitor for its metrics route.
type Service struct {
	pulumi.ResourceState

	Namespace  pulumi.StringOutput
	URL        pulumi.StringOutput
	Deployment *appsv1.Deployment
	ConfigMap  *corev1.ConfigMap
	Ingress    *networkingv1.Ingress
}

// NewService creates the service.
func NewService(ctx *pulumi.Context, name string, args *ServiceArgs, opts ...pulumi.ResourceOption) (*Service, error) {
	if args == nil {
		return nil, workloads.Errorf("service", name, errors.New("args are required"))
	}
	a := *args
	a.Spec = a.Spec.WithDefaults(workloads.Defaults{})
	if err := a.Validate(); err != nil {
		return nil, workloads.Errorf("service", name, err)
	}
	s := a.Spec
	svc := &Service{}
	if err := ctx.RegisterComponentResource(serviceType, name, svc, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(svc)
	ns, err := workloads.NewNamespace(ctx, name, &workloads.NamespaceArgs{Name: s.Namespace}, parent)
	if err != nil {
		return nil, err
	}
	labels := workloads.CommonLabels(s.Name, name)
	selector := workloads.AppLabels(s.Name, name)
	meta := func() *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(s.Name), Namespace: ns.Name, Labels: labels}
	}
	sa, err := corev1.NewServiceAccount(ctx, name, &corev1.ServiceAccountArgs{
		Metadata:                     meta(),
		AutomountServiceAccountToken: pulumi.Bool(false),
	}, parent)
	if err != nil {
		return nil, err
	}
	// Auto-named: a settings change creates a new ConfigMap under a new
	// name, which changes the pod template and rolls the Deployment.
	config, err := corev1.NewConfigMap(ctx, name, &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{Namespace: ns.Name, Labels: labels},
		Data:     pulumi.ToStringMap(s.Settings),
	}, parent)
	if err != nil {
		return nil, err
	}
	var pullSecrets corev1.LocalObjectReferenceArray
	if c := a.PullCredentials; c != nil {
		server, user := c.Server, c.Username
		if server == "" {
			server = DockerHubRegistry
		}
		dockerConfig := pulumi.ToSecret(c.Password.ToStringOutput().ApplyT(func(pw string) string {
			return DockerConfigJSON(server, user, pw)
		})).(pulumi.StringOutput)
		secret, err := corev1.NewSecret(ctx, name+"-registry", &corev1.SecretArgs{
			Metadata:   &metav1.ObjectMetaArgs{Namespace: ns.Name, Labels: labels},
			Type:       pulumi.String("kubernetes.io/dockerconfigjson"),
			StringData: pulumi.StringMap{".dockerconfigjson": dockerConfig},
		}, parent)
		if err != nil {
			return nil, err
		}
		pullSecrets = corev1.LocalObjectReferenceArray{corev1.LocalObjectReferenceArgs{Name: secret.Metadata.Name()}}
	}
	probe := func(path string, period, failures int) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			HttpGet:          &corev1.HTTPGetActionArgs{Path: pulumi.String(path), Port: pulumi.String("http")},
			PeriodSeconds:    pulumi.Int(period),
			TimeoutSeconds:   pulumi.Int(3),
			FailureThreshold: pulumi.Int(failures),
		}
	}
	deployment, err := appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
		Metadata: meta(),
		Spec: &appsv1.DeploymentSpecArgs{
			// No replicas: the HPA owns the count.
			Selector: &metav1.LabelSelectorArgs{MatchLabels: selector},
			Strategy: &appsv1.DeploymentStrategyArgs{
				Type:          pulumi.String("RollingUpdate"),
				RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{MaxSurge: pulumi.String("25%"), MaxUnavailable: pulumi.Int(0)},
			},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: labels},
				Spec: &corev1.PodSpecArgs{
					ServiceAccountName:           sa.Metadata.Name().Elem(),
					AutomountServiceAccountToken: pulumi.Bool(false),
					ImagePullSecrets:             pullSecrets,
					TopologySpreadConstraints:    spreadAcrossZones(selector),
					SecurityContext: &corev1.PodSecurityContextArgs{
						RunAsNonRoot:   pulumi.Bool(true),
						RunAsUser:      pulumi.Int(s.RunAsUser),
						RunAsGroup:     pulumi.Int(s.RunAsUser),
						FsGroup:        pulumi.Int(s.RunAsUser),
						SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
					},
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:            pulumi.String(s.Name),
						Image:           pulumi.String(s.Image),
						ImagePullPolicy: pulumi.String("IfNotPresent"),
						Ports: corev1.ContainerPortArray{corev1.ContainerPortArgs{
							Name: pulumi.String(serviceHTTPPortName), ContainerPort: pulumi.Int(s.Port), Protocol: pulumi.String("TCP"),
						}},
						EnvFrom: corev1.EnvFromSourceArray{corev1.EnvFromSourceArgs{
							ConfigMapRef: &corev1.ConfigMapEnvSourceArgs{Name: config.Metadata.Name()},
						}},
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String(s.CPU), "memory": pulumi.String(s.Memory)},
							Limits:   pulumi.StringMap{"cpu": pulumi.String(s.CPULimit), "memory": pulumi.String(s.MemoryLimit)},
						},
						StartupProbe:   probe(s.HealthPath, 5, 30),
						LivenessProbe:  probe(s.HealthPath, 10, 3),
						ReadinessProbe: probe(s.ReadyPath, 5, 3),
						SecurityContext: &corev1.SecurityContextArgs{
							RunAsNonRoot:             pulumi.Bool(true),
							AllowPrivilegeEscalation: pulumi.Bool(false),
							ReadOnlyRootFilesystem:   pulumi.Bool(true),
							Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
						},
						VolumeMounts: corev1.VolumeMountArray{corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")}},
					}},
					Volumes: corev1.VolumeArray{corev1.VolumeArgs{
						Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String("1Gi")},
					}},
				},
			},
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	service, err := corev1.NewService(ctx, name, &corev1.ServiceArgs{
		Metadata: meta(),
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: selector,
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name: pulumi.String("http"), Port: pulumi.Int(80), TargetPort: pulumi.String("http"), Protocol: pulumi.String("TCP"),
			}},
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	if _, err := autoscalingv2.NewHorizontalPodAutoscaler(ctx, name, &autoscalingv2.HorizontalPodAutoscalerArgs{
		Metadata: meta(),
		Spec:     hpaSpec(s.Name, s.MinReplicas, s.MaxReplicas, s.TargetCPUUtilization, PodsMetric{}, nil, s.ScaleDownStabilizationSeconds),
	}, parent, pulumi.DependsOn([]pulumi.Resource{deployment})); err != nil {
		return nil, err
	}
	if _, err := policyv1.NewPodDisruptionBudget(ctx, name, &policyv1.PodDisruptionBudgetArgs{
		Metadata: meta(),
		Spec: &policyv1.PodDisruptionBudgetSpecArgs{
			MaxUnavailable: pulumi.Int(1),
			Selector:       &metav1.LabelSelectorArgs{MatchLabels: selector},
		},
	}, parent); err != nil {
		return nil, err
	}
	if err := workloads.AllowLoadBalancedIngress(ctx, name+"-ingress", ns.Name, selector, a.VPCCIDR, []int{s.Port}, parent); err != nil {
		return nil, err
	}
	if err := workloads.AllowHTTPSEgress(ctx, name+"-egress", ns.Name, selector, parent); err != nil {
		return nil, err
	}
	if len(a.EgressTo) > 0 {
		if err := workloads.AllowPeerEgress(ctx, name+"-peer-egress", ns.Name, selector, a.EgressTo, parent); err != nil {
			return nil, err
		}
	}
	if a.Monitoring != nil {
		if err := newServiceMonitoring(ctx, name, s.Name, ns.Name, selector, s.Port, *a.Monitoring, parent); err != nil {
			return nil, err
		}
	}
	svc.URL = pulumi.Sprintf("http://%s.%s.svc.cluster.local", s.Name, s.Namespace)
	if s.Exposure.LoadBalanced() {
		annotations := workloads.ALBAnnotations(s.exposure(), s.HealthPath)
		rule := networkingv1.IngressRuleArgs{Http: &networkingv1.HTTPIngressRuleValueArgs{
			Paths: networkingv1.HTTPIngressPathArray{networkingv1.HTTPIngressPathArgs{
				Path:     pulumi.String("/"),
				PathType: pulumi.String("Prefix"),
				Backend: &networkingv1.IngressBackendArgs{Service: &networkingv1.IngressServiceBackendArgs{
					Name: service.Metadata.Name().Elem(),
					Port: &networkingv1.ServiceBackendPortArgs{Name: pulumi.String("http")},
				}},
			}},
		}}
		if s.Host != "" {
			rule.Host = pulumi.String(s.Host)
		}
		ingressMeta := meta()
		ingressMeta.Annotations = annotations
		ingress, err := networkingv1.NewIngress(ctx, name, &networkingv1.IngressArgs{
			Metadata: ingressMeta,
			Spec: &networkingv1.IngressSpecArgs{
				IngressClassName: pulumi.String("alb"),
				Rules:            networkingv1.IngressRuleArray{rule},
			},
		}, parent)
		if err != nil {
			return nil, err
		}
		svc.Ingress = ingress
		scheme := "http"
		if s.CertificateARN != "" {
			scheme = "https"
		}
		if s.Host != "" {
			svc.URL = pulumi.Sprintf("%s://%s", scheme, s.Host)
		} else {
			// Not Index(0): it panics while the ALB has no address yet
			// (empty status after a skipped or timed-out await).
			svc.URL = ingress.Status.LoadBalancer().Ingress().ApplyT(func(ing []networkingv1.IngressLoadBalancerIngress) string {
				if len(ing) == 0 || ing[0].Hostname == nil {
					return ""
				}
				return scheme + "://" + *ing[0].Hostname
			}).(pulumi.StringOutput)
		}
	}
	svc.Namespace = ns.Name
	svc.Deployment = deployment
	svc.ConfigMap = config
	return svc, ctx.RegisterResourceOutputs(svc, pulumi.Map{"url": svc.URL, "namespace": ns.Name})
}
