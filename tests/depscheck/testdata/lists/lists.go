// Package lists is depscheck's fixture: each line marked "want" puts a
// component of this module in a []pulumi.Resource; the others must pass.
package lists

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Addon is a local component.
type Addon struct {
	pulumi.ResourceState

	Chart     *helmv4.Chart
	Resources []pulumi.Resource
}

func lists(a *Addon, ns *corev1.Namespace, more []pulumi.Resource) [][]pulumi.Resource {
	return [][]pulumi.Resource{
		{a},                            // want
		append([]pulumi.Resource{}, a), // want
		append(more, ns, a.Chart, a),   // want
		{a.Chart, ns},                  // a remote component and a custom resource
		append(more, a.Resources...),   // a spread slice is checked where it is built
		{pulumi.Resource(a)},           // an explicit conversion is a decision, not an accident
	}
}
