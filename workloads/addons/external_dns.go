package addons

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/aiplatform/infra/infra"
	"github.com/aiplatform/infra/workloads"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const externalDNSType = "aiplatform:workloads:ExternalDNS"

const (
	externalDNSSA      = "external-dns"
	externalDNSRelease = "external-dns"
)

// DNSPolicy says whether ExternalDNS may delete records.
type DNSPolicy string

const (
	// UpsertOnly creates and updates records but never deletes them (default).
	UpsertOnly DNSPolicy = "upsert-only"
	// Sync also deletes records whose Service or Ingress is gone; opt in.
	Sync DNSPolicy = "sync"
)

var hostedZoneIDPattern = regexp.MustCompile(`^Z[A-Z0-9]{1,31}$`)

// IsHostedZoneID reports whether s looks like a Route 53 hosted zone id (Z0123456789ABC).
func IsHostedZoneID(s string) bool { return hostedZoneIDPattern.MatchString(s) }

// ExternalDNSArgs configures ExternalDNS.
type ExternalDNSArgs struct {
	Cluster workloads.ClusterInfo
	// Domain limits the names ExternalDNS manages (domain filter).
	Domain string
	// HostedZoneIDs are the only zones whose records it may change.
	HostedZoneIDs []string
	// Policy defaults to UpsertOnly.
	Policy DNSPolicy
	// OwnerID marks the TXT ownership records so two clusters sharing a zone
	// never touch each other's records; use the cluster name.
	OwnerID string
	// Chart defaults to ExternalDNSChart.
	Chart workloads.Chart
}

func (a ExternalDNSArgs) withDefaults() ExternalDNSArgs {
	if a.Policy == "" {
		a.Policy = UpsertOnly
	}
	if a.Chart.Name == "" {
		a.Chart = workloads.ExternalDNSChart
	}
	return a
}

// Validate reports every problem at once.
func (a ExternalDNSArgs) Validate() error {
	errs := []error{a.Cluster.Validate()}
	if !workloads.IsHostname(a.Domain) {
		errs = append(errs, fmt.Errorf("domain: %q is not a DNS name like example.com", a.Domain))
	}
	if len(a.HostedZoneIDs) == 0 {
		errs = append(errs, errors.New("hostedZoneIds: at least one hosted zone is required"))
	}
	for i, z := range a.HostedZoneIDs {
		if !IsHostedZoneID(z) {
			errs = append(errs, fmt.Errorf("hostedZoneIds[%d]: %q is not a Route 53 hosted zone id like Z0123456789ABCDEFGHIJ", i, z))
		}
	}
	if a.Policy != UpsertOnly && a.Policy != Sync {
		errs = append(errs, fmt.Errorf("policy: %q is not one of %s, %s", a.Policy, UpsertOnly, Sync))
	}
	if a.OwnerID == "" {
		errs = append(errs, errors.New("ownerId: required"))
	}
	return errors.Join(errs...)
}

// ExternalDNSPolicy allows record changes only in the given hosted zones;
// listing zones is account-wide in Route 53 and cannot be scoped.
func ExternalDNSPolicy(partition string, zoneIDs []string) infra.PolicyDocument {
	zones := make([]string, len(zoneIDs))
	for i, z := range zoneIDs {
		zones[i] = fmt.Sprintf("arn:%s:route53:::hostedzone/%s", partition, z)
	}
	return infra.NewPolicy(
		infra.Allow("ChangeRecordsInZones", []string{"route53:ChangeResourceRecordSets"}, zones),
		infra.Allow("ReadRecordsInZones", []string{
			"route53:ListResourceRecordSets", "route53:ListTagsForResource", "route53:ListTagsForResources",
		}, zones),
		infra.Allow("ListZones", []string{"route53:ListHostedZones"}, []string{"*"}),
	)
}

// ExternalDNS publishes Route 53 records for Services and Ingresses that
// carry a hostname.
type ExternalDNS struct {
	pulumi.ResourceState

	Chart   *helmv4.Chart
	RoleArn pulumi.StringOutput
}

// NewExternalDNS creates the IRSA role and installs the chart.
func NewExternalDNS(ctx *pulumi.Context, name string, args *ExternalDNSArgs, opts ...pulumi.ResourceOption) (*ExternalDNS, error) {
	if args == nil {
		args = &ExternalDNSArgs{}
	}
	a := args.withDefaults()
	if err := a.Validate(); err != nil {
		return nil, workloads.Errorf("external-dns", name, err)
	}
	e := &ExternalDNS{}
	if err := ctx.RegisterComponentResource(externalDNSType, name, e, opts...); err != nil {
		return nil, err
	}
	role, err := a.Cluster.AddonRole(ctx, name, externalDNSSA,
		pulumi.String(ExternalDNSPolicy(a.Cluster.Partition(), a.HostedZoneIDs).JSON()), e)
	if err != nil {
		return nil, err
	}
	release, err := workloads.InstallChart(ctx, name, a.Chart, externalDNSRelease, workloads.AddonNamespace, externalDNSValues(a, role.Arn), pulumi.Parent(e))
	if err != nil {
		return nil, err
	}
	e.Chart = release
	e.RoleArn = role.Arn
	return e, ctx.RegisterResourceOutputs(e, pulumi.Map{"roleArn": role.Arn})
}

// externalDNSValues are the chart values, the same for every supported
// version: both have every key set here (TestChartValuesUseOnlyKnownKeys).
func externalDNSValues(a ExternalDNSArgs, roleArn pulumi.StringOutput) pulumi.Map {
	zoneFilters := pulumi.Array{}
	for _, z := range a.HostedZoneIDs {
		zoneFilters = append(zoneFilters, pulumi.String("--zone-id-filter="+z))
	}
	return pulumi.Map{
		"provider": pulumi.Map{"name": pulumi.String("aws")},
		"env": pulumi.Array{pulumi.Map{
			"name": pulumi.String("AWS_DEFAULT_REGION"), "value": pulumi.String(a.Cluster.Region),
		}},
		"serviceAccount": workloads.ServiceAccountValues(externalDNSSA, roleArn),
		"sources":        pulumi.Array{pulumi.String("service"), pulumi.String("ingress")},
		"domainFilters":  pulumi.Array{pulumi.String(a.Domain)},
		"extraArgs":      zoneFilters,
		"policy":         pulumi.String(string(a.Policy)),
		"registry":       pulumi.String("txt"),
		"txtOwnerId":     pulumi.String(a.OwnerID),
		"nodeSelector":   workloads.SystemNodeSelectorValues(),
		"tolerations":    workloads.SystemTolerationValues(),
	}
}
