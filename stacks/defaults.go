package stacks

import (
	"time"

	"github.com/aiplatform/infra/infra"
)

// Defaults of the scalar keys; Pulumi.yaml declares the same values and a test
// keeps the two in step. DefaultKubernetesVersion is the newest row of
// infra.KubernetesVersions in EKS standard support on KubernetesVersionsReviewed
// (a test checks it); a constant, not computed from the clock, so that a
// default never changes a running cluster's version by itself.
const (
	DefaultKubernetesVersion = "1.36"
	DefaultVPCCIDR           = "10.0.0.0/16"
	DefaultAZCount           = 3
	DefaultServiceCIDR       = "172.20.0.0/16"
	DefaultNAT               = infra.SingleNAT
	DefaultEndpointAccess    = PrivateEndpoint
	// DevStack is the stack where samples and tags are fine: triton.sampleModels
	// defaults on, and ldsService.image may be a tag without a digest.
	DevStack = "dev"
)

// KubernetesVersionsReviewed is the day DefaultKubernetesVersion and
// infra.KubernetesVersions were last checked against the EKS release calendar.
var KubernetesVersionsReviewed = time.Date(2026, time.November, 25, 0, 0, 0, 0, time.UTC)

// withDefaults fills only what is unset; it never overrides a configured value.
func (c Config) withDefaults() Config {
	if c.ClusterName == "" {
		c.ClusterName = Project + "-" + c.Stack
	}
	if c.KubernetesVersion == "" {
		c.KubernetesVersion = DefaultKubernetesVersion
	}
	if c.VPCCIDR == "" {
		c.VPCCIDR = DefaultVPCCIDR
	}
	if c.AZCount == 0 {
		c.AZCount = DefaultAZCount
	}
	if c.NAT == "" {
		c.NAT = DefaultNAT
	}
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = DefaultServiceCIDR
	}
	if c.EndpointAccess == "" {
		c.EndpointAccess = DefaultEndpointAccess
	}
	if c.NodeGroups == nil {
		c.NodeGroups = infra.DefaultNodeGroups()
	}
	groups := make([]infra.NodeGroupSpec, len(c.NodeGroups))
	for i, g := range c.NodeGroups {
		groups[i] = g.WithDefaults()
	}
	c.NodeGroups = groups
	tags := map[string]string{"project": Project, "stack": c.Stack, "managed-by": "pulumi"}
	for k, v := range c.Tags {
		tags[k] = v
	}
	c.Tags = tags
	c.Workloads = c.Workloads.withDefaults(c)
	return c
}
