// Package workloads installs the cluster add-ons (device plugin, metrics,
// autoscaling, load balancing, DNS, GitOps) and the AI workloads (Triton, the
// lds-service) as typed Pulumi components. Every in-cluster resource goes
// through the one Kubernetes provider the caller passes with
// pulumi.Providers(...); add-ons come from pinned official Helm charts, the
// workloads are typed Kubernetes resources.
package workloads

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aiplatform/infra/infra"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AddonNamespace is where the cluster add-ons run and the service accounts
// their IRSA roles trust.
const AddonNamespace = "kube-system"

// ClusterInfo is what add-ons need to know about the cluster they run in.
type ClusterInfo struct {
	Name            pulumi.StringInput
	OIDCProviderArn pulumi.StringInput
	// OIDCIssuer is the issuer URL, with or without https://.
	OIDCIssuer pulumi.StringInput
	VpcID      pulumi.StringInput
	Region     string
	Tags       map[string]string
}

// Validate reports every missing field at once.
func (c ClusterInfo) Validate() error {
	var errs []error
	if c.Name == nil {
		errs = append(errs, errors.New("cluster.name: required"))
	}
	if c.OIDCProviderArn == nil {
		errs = append(errs, errors.New("cluster.oidcProviderArn: required"))
	}
	if c.OIDCIssuer == nil {
		errs = append(errs, errors.New("cluster.oidcIssuer: required"))
	}
	if c.Region == "" {
		errs = append(errs, errors.New("cluster.region: required"))
	}
	return errors.Join(errs...)
}

// Partition is the AWS partition of the cluster's region, for building ARNs.
func (c ClusterInfo) Partition() string { return infra.Partition(c.Region) }

// DNSSuffix is the AWS DNS suffix of the partition (for service principals like s3.<region>.<suffix>).
func DNSSuffix(region string) string {
	if strings.HasPrefix(region, "cn-") {
		return "amazonaws.com.cn"
	}
	return "amazonaws.com"
}

// Kubernetes labels every workload resource carries.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelPartOf    = "app.kubernetes.io/part-of"
)

func AppLabels(app, instance string) pulumi.StringMap {
	return pulumi.StringMap{LabelName: pulumi.String(app), LabelInstance: pulumi.String(instance)}
}

func CommonLabels(app, instance string) pulumi.StringMap {
	l := AppLabels(app, instance)
	l[LabelManagedBy] = pulumi.String("pulumi")
	l[LabelPartOf] = pulumi.String("aiplatform")
	return l
}

// IRSA service-account annotation understood by the EKS pod identity webhook.
const RoleArnAnnotation = "eks.amazonaws.com/role-arn"

// Errorf prefixes a component error with the component name.
func Errorf(component, name string, err error) error {
	return fmt.Errorf("%s %s: %w", component, name, err)
}

// AddonRole creates the IRSA role of an add-on's service account in the
// add-on namespace, parented to the add-on component.
func (c ClusterInfo) AddonRole(ctx *pulumi.Context, name, serviceAccount string, policy pulumi.StringInput, parent pulumi.Resource) (*infra.IRSARole, error) {
	return infra.NewIRSARole(ctx, name, &infra.IRSARoleArgs{
		OIDCProviderArn: c.OIDCProviderArn,
		OIDCIssuer:      c.OIDCIssuer,
		Namespace:       AddonNamespace,
		ServiceAccount:  serviceAccount,
		Policy:          policy,
		Tags:            c.Tags,
	}, pulumi.Parent(parent))
}

// ServiceAccountValues is the chart values block that creates the add-on's
// service account annotated with its IRSA role.
func ServiceAccountValues(serviceAccount string, roleArn pulumi.StringOutput) pulumi.Map {
	return pulumi.Map{
		"create":      pulumi.Bool(true),
		"name":        pulumi.String(serviceAccount),
		"annotations": pulumi.Map{RoleArnAnnotation: roleArn},
	}
}
