package workloads

import (
	"errors"
	"fmt"
	"sort"

	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// namespaceNameLabel is set by Kubernetes on every namespace (1.21+), so a
// NetworkPolicy can select a namespace by name.
const namespaceNameLabel = "kubernetes.io/metadata.name"

// PodPeer names pods in another namespace and the TCP ports a workload may
// open to them: one egress allowance of a default-deny namespace.
type PodPeer struct {
	Namespace string
	// PodLabels select the pods; use the target Service's selector, so the
	// VPC CNI's policy controller also allows the Service's ClusterIP.
	PodLabels map[string]string
	Ports     []int
}

// Validate reports every problem of the peer under path.
func (p PodPeer) Validate(path string) error {
	var errs []error
	if !IsNamespaceName(p.Namespace) {
		errs = append(errs, fmt.Errorf("%s.namespace: %q is not a namespace name", path, p.Namespace))
	}
	if len(p.PodLabels) == 0 {
		errs = append(errs, fmt.Errorf("%s.podLabels: name the pods (every pod of a namespace is too wide)", path))
	}
	if len(p.Ports) == 0 {
		errs = append(errs, fmt.Errorf("%s.ports: at least one port", path))
	}
	for i, port := range p.Ports {
		if port < 1 || port > 65535 {
			errs = append(errs, fmt.Errorf("%s.ports[%d]: %d is not a TCP port", path, i, port))
		}
	}
	return errors.Join(errs...)
}

func namespaceSelector(namespace string) *metav1.LabelSelectorArgs {
	return &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{namespaceNameLabel: pulumi.String(namespace)}}
}

// AllowPeerEgress lets the selected pods open the peers' ports (and only
// those) on the peers' pods.
func AllowPeerEgress(ctx *pulumi.Context, name string, namespace pulumi.StringInput, selector pulumi.StringMap, peers []PodPeer, opts ...pulumi.ResourceOption) error {
	var rules networkingv1.NetworkPolicyEgressRuleArray
	for _, p := range peers {
		rules = append(rules, networkingv1.NetworkPolicyEgressRuleArgs{
			To: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
				NamespaceSelector: namespaceSelector(p.Namespace),
				PodSelector:       &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(p.PodLabels)},
			}},
			Ports: policyPorts(p.Ports, "TCP"),
		})
	}
	_, err := networkingv1.NewNetworkPolicy(ctx, name, &networkingv1.NetworkPolicyArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("allow-peer-egress"), Namespace: namespace},
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{MatchLabels: selector},
			PolicyTypes: pulumi.StringArray{pulumi.String("Egress")},
			Egress:      rules,
		},
	}, opts...)
	return err
}

// AllowNamespaceIngress lets pods of the given namespaces connect to ports
// of the selected pods.
func AllowNamespaceIngress(ctx *pulumi.Context, name, policyName string, namespace pulumi.StringInput, selector pulumi.StringMap, from []string, ports []int, opts ...pulumi.ResourceOption) error {
	sorted := append([]string(nil), from...)
	sort.Strings(sorted)
	var peers networkingv1.NetworkPolicyPeerArray
	for _, ns := range sorted {
		peers = append(peers, networkingv1.NetworkPolicyPeerArgs{NamespaceSelector: namespaceSelector(ns)})
	}
	_, err := networkingv1.NewNetworkPolicy(ctx, name, &networkingv1.NetworkPolicyArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(policyName), Namespace: namespace},
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{MatchLabels: selector},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress")},
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{
				From:  peers,
				Ports: policyPorts(ports, "TCP"),
			}},
		},
	}, opts...)
	return err
}
