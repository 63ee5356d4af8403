package workloads

import (
	"errors"
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const namespaceType = "aiplatform:workloads:Namespace"

// PodSecurityLevel is the Pod Security Standard a namespace enforces.
type PodSecurityLevel string

const (
	// Restricted: non-root, no privilege escalation, all capabilities dropped, seccomp on.
	Restricted PodSecurityLevel = "restricted"
	// Baseline: blocks known privilege escalations; for third-party charts that are not restricted-clean.
	Baseline PodSecurityLevel = "baseline"
	// Privileged: no restrictions; only for node agents that need the host
	// (hostNetwork, hostPID, hostPath, added capabilities), in a namespace
	// of their own so nothing else gets the exemption.
	Privileged PodSecurityLevel = "privileged"
)

// NamespaceArgs configures an application namespace.
type NamespaceArgs struct {
	Name string
	// PodSecurity defaults to Restricted.
	PodSecurity PodSecurityLevel
}

func (a NamespaceArgs) withDefaults() NamespaceArgs {
	if a.PodSecurity == "" {
		a.PodSecurity = Restricted
	}
	return a
}

// Validate reports bad values.
func (a NamespaceArgs) Validate() error {
	var errs []error
	if !IsNamespaceName(a.Name) {
		errs = append(errs, fmt.Errorf("name: %q is not a DNS-1123 label", a.Name))
	}
	if a.PodSecurity != Restricted && a.PodSecurity != Baseline && a.PodSecurity != Privileged {
		errs = append(errs, fmt.Errorf("podSecurity: %q is not one of %s, %s, %s", a.PodSecurity, Restricted, Baseline, Privileged))
	}
	return errors.Join(errs...)
}

// Namespace is a namespace whose pods can reach nothing and be reached by
// nothing unless a NetworkPolicy allows it: default-deny for ingress and
// egress, with DNS and traffic inside the namespace allowed. Workloads add
// their own narrow allowances.
type Namespace struct {
	pulumi.ResourceState

	Name      pulumi.StringOutput
	Namespace *corev1.Namespace
}

// NewNamespace creates the namespace and its baseline policies.
func NewNamespace(ctx *pulumi.Context, name string, args *NamespaceArgs, opts ...pulumi.ResourceOption) (*Namespace, error) {
	if args == nil {
		return nil, Errorf("namespace", name, errors.New("args are required"))
	}
	a := args.withDefaults()
	if err := a.Validate(); err != nil {
		return nil, Errorf("namespace", name, err)
	}
	n := &Namespace{}
	if err := ctx.RegisterComponentResource(namespaceType, name, n, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(n)
	level := pulumi.String(string(a.PodSecurity))
	ns, err := corev1.NewNamespace(ctx, name, &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(a.Name),
			Labels: pulumi.StringMap{
				"pod-security.kubernetes.io/enforce": level,
				"pod-security.kubernetes.io/audit":   pulumi.String(string(Restricted)),
				"pod-security.kubernetes.io/warn":    pulumi.String(string(Restricted)),
				LabelManagedBy:                       pulumi.String("pulumi"),
			},
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	nsName := ns.Metadata.Name().Elem()
	all := &metav1.LabelSelectorArgs{}
	policies := []struct {
		name string
		spec networkingv1.NetworkPolicySpecArgs
	}{
		{"default-deny", networkingv1.NetworkPolicySpecArgs{
			PodSelector: all,
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
		}},
		{"allow-dns", networkingv1.NetworkPolicySpecArgs{
			PodSelector: all,
			PolicyTypes: pulumi.StringArray{pulumi.String("Egress")},
			Egress: networkingv1.NetworkPolicyEgressRuleArray{networkingv1.NetworkPolicyEgressRuleArgs{
				To: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
					NamespaceSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String("kube-system")}},
					PodSelector:       &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"k8s-app": pulumi.String("kube-dns")}},
				}},
				Ports: policyPorts([]int{53}, "UDP", "TCP"),
			}},
		}},
		{"allow-same-namespace", networkingv1.NetworkPolicySpecArgs{
			PodSelector: all,
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{
				From: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{PodSelector: all}},
			}},
			Egress: networkingv1.NetworkPolicyEgressRuleArray{networkingv1.NetworkPolicyEgressRuleArgs{
				To: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{PodSelector: all}},
			}},
		}},
	}
	for _, p := range policies {
		spec := p.spec
		if _, err := networkingv1.NewNetworkPolicy(ctx, name+"-"+p.name, &networkingv1.NetworkPolicyArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(p.name), Namespace: nsName},
			Spec:     &spec,
		}, parent); err != nil {
			return nil, err
		}
	}
	n.Name = nsName
	n.Namespace = ns
	return n, ctx.RegisterResourceOutputs(n, pulumi.Map{"name": nsName})
}

// NewChartNamespace creates the namespace of a third-party chart whose pods
// are not restricted-clean in every release: Pod Security baseline
// enforced, restricted warned about. Unlike NewNamespace it adds no
// NetworkPolicies; the chart brings its own or needs the cluster's API and
// other namespaces.
func NewChartNamespace(ctx *pulumi.Context, name, namespace string, opts ...pulumi.ResourceOption) (*corev1.Namespace, error) {
	return corev1.NewNamespace(ctx, name, &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(namespace),
			Labels: pulumi.StringMap{
				"pod-security.kubernetes.io/enforce": pulumi.String(string(Baseline)),
				"pod-security.kubernetes.io/warn":    pulumi.String(string(Restricted)),
				LabelManagedBy:                       pulumi.String("pulumi"),
			},
		},
	}, opts...)
}

// policyPorts lists ports for each protocol.
func policyPorts(ports []int, protocols ...string) networkingv1.NetworkPolicyPortArray {
	var out networkingv1.NetworkPolicyPortArray
	for _, proto := range protocols {
		for _, port := range ports {
			out = append(out, networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String(proto), Port: pulumi.Int(port)})
		}
	}
	return out
}

// metadataAddress is the EC2 instance metadata service; pods use IRSA, never node credentials.
const metadataAddress = "169.254.169.254/32"

// AllowLoadBalancedIngress lets load balancers and in-VPC clients (which
// reach pods through IP targets from VPC addresses) connect to ports of the
// selected pods.
func AllowLoadBalancedIngress(ctx *pulumi.Context, name string, namespace pulumi.StringInput, selector pulumi.StringMap, vpcCIDR string, ports []int, opts ...pulumi.ResourceOption) error {
	_, err := networkingv1.NewNetworkPolicy(ctx, name, &networkingv1.NetworkPolicyArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("allow-vpc-ingress"), Namespace: namespace},
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{MatchLabels: selector},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress")},
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{
				From:  networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{IpBlock: &networkingv1.IPBlockArgs{Cidr: pulumi.String(vpcCIDR)}}},
				Ports: policyPorts(ports, "TCP"),
			}},
		},
	}, opts...)
	return err
}

// AllowHTTPSEgress lets the selected pods make HTTPS calls out (AWS APIs,
// S3, registries), never to the instance metadata endpoint.
func AllowHTTPSEgress(ctx *pulumi.Context, name string, namespace pulumi.StringInput, selector pulumi.StringMap, opts ...pulumi.ResourceOption) error {
	_, err := networkingv1.NewNetworkPolicy(ctx, name, &networkingv1.NetworkPolicyArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("allow-https-egress"), Namespace: namespace},
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{MatchLabels: selector},
			PolicyTypes: pulumi.StringArray{pulumi.String("Egress")},
			Egress: networkingv1.NetworkPolicyEgressRuleArray{networkingv1.NetworkPolicyEgressRuleArgs{
				To: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{IpBlock: &networkingv1.IPBlockArgs{
					Cidr:   pulumi.String("0.0.0.0/0"),
					Except: pulumi.StringArray{pulumi.String(metadataAddress)},
				}}},
				Ports: policyPorts([]int{443}, "TCP"),
			}},
		},
	}, opts...)
	return err
}
