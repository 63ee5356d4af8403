package cost

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// HoursPerMonth is the month AWS pricing pages and calculators use (365 × 24 / 12).
const HoursPerMonth = 730.0

// Table is the embedded, dated price list: one row per region for the
// services the platform uses, one row per instance type (price per region)
// and one row per instance family (spot discount per region). Defaults,
// lookups, docs and tests all read this one value.
type Table struct {
	// OnDemandAsOf dates the on-demand and service prices; SpotAsOf dates the
	// spot snapshot. StaleAfter is how long either may age before the tests
	// fail and the table must be refreshed.
	OnDemandAsOf time.Time
	SpotAsOf     time.Time
	Sources      []string
	Regions      []RegionPrices
	Instances    []InstancePrice
	Spot         []SpotDiscount
}

// StaleAfter is the most a price snapshot may age (TestPriceTableIsFresh).
const StaleAfter = 365 * 24 * time.Hour

// RegionPrices are the non-EC2 list prices of one region, in USD.
type RegionPrices struct {
	Region string
	// EKS control plane per cluster-hour, in standard and in extended support.
	EKSStandardHour float64
	EKSExtendedHour float64
	// NAT gateway per hour and per GB processed.
	NATGatewayHour float64
	NATGatewayGB   float64
	// PublicIPv4Hour is charged for every public IPv4 address (EIPs of NAT
	// gateways, the per-AZ addresses of internet-facing load balancers).
	PublicIPv4Hour float64
	// Load balancers per hour, plus per (N)LCU-hour.
	ALBHour    float64
	ALBLCUHour float64
	NLBHour    float64
	NLBLCUHour float64
	// GP3GBMonth is EBS gp3 storage; the 3,000 IOPS / 125 MB/s baseline is free.
	GP3GBMonth float64
	// S3StandardGBMonth is S3 Standard storage, first 50 TB tier.
	S3StandardGBMonth float64
	// KMSKeyMonth per customer managed key (before its first rotation).
	KMSKeyMonth float64
	// LogsIngestedGB is CloudWatch Logs standard-class ingestion.
	LogsIngestedGB float64
	// CodeBuildMinute is CodeBuild's on-demand Linux price per build-minute
	// by compute type; a region without it is not priced.
	CodeBuildMinute map[string]float64
}

// InstancePrice is one EC2 instance type: Linux on-demand $/hour per region.
// A region without an entry does not offer the type (g6 in eu-west-1) or it
// was not collected; either way it has no price, never a zero one.
type InstancePrice struct {
	Type string
	// VCPUs is what EC2's vCPU-based instance quotas count (setup's GPU
	// quota check): Amazon EC2 instance types, "Specifications".
	VCPUs  int
	GPUs   int
	Hourly map[string]float64
}

// SpotDiscount is the average spot discount of an instance family per
// region: 1 − mean(spot price over the region's AZs and the sampled sizes) /
// on-demand price.
type SpotDiscount struct {
	Family   string
	Discount map[string]float64
}

// Family is the instance family of a type: "m6i" for "m6i.xlarge".
func Family(instanceType string) string {
	f, _, _ := strings.Cut(instanceType, ".")
	return f
}

// RegionNames lists the regions of the table in table order.
func (t Table) RegionNames() []string {
	names := make([]string, len(t.Regions))
	for i, r := range t.Regions {
		names[i] = r.Region
	}
	return names
}

// Region returns the prices of region or an error naming the regions there are.
func (t Table) Region(region string) (RegionPrices, error) {
	for _, r := range t.Regions {
		if r.Region == region {
			return r, nil
		}
	}
	return RegionPrices{}, fmt.Errorf("no prices for region %q: the price table (%s) has %s",
		region, t.OnDemandAsOf.Format(time.DateOnly), strings.Join(t.RegionNames(), ", "))
}

// Instance returns the row of an instance type, whatever the region.
func (t Table) Instance(instanceType string) (InstancePrice, bool) {
	for _, i := range t.Instances {
		if i.Type == instanceType {
			return i, true
		}
	}
	return InstancePrice{}, false
}

// OnDemand is the on-demand $/hour of an instance type in region.
func (t Table) OnDemand(region, instanceType string) (float64, error) {
	if _, err := t.Region(region); err != nil {
		return 0, err
	}
	row, ok := t.Instance(instanceType)
	if !ok {
		return 0, fmt.Errorf("no on-demand price for instance type %q: the price table (%s) has %s",
			instanceType, t.OnDemandAsOf.Format(time.DateOnly), strings.Join(t.instanceTypes(region), ", "))
	}
	price, ok := row.Hourly[region]
	if !ok || price <= 0 {
		return 0, fmt.Errorf("no on-demand price for instance type %q in %s (not offered there or not in the table); %s has %s",
			instanceType, region, region, strings.Join(t.instanceTypes(region), ", "))
	}
	return price, nil
}

// SpotHourly is the expected spot $/hour of an instance type in region: its
// on-demand price less the family's average discount.
func (t Table) SpotHourly(region, instanceType string) (float64, error) {
	od, err := t.OnDemand(region, instanceType)
	if err != nil {
		return 0, err
	}
	family := Family(instanceType)
	for _, s := range t.Spot {
		if s.Family != family {
			continue
		}
		d, ok := s.Discount[region]
		if !ok {
			break
		}
		return od * (1 - d), nil
	}
	return 0, fmt.Errorf("no spot discount for instance family %q in %s: the spot snapshot (%s) has %s",
		family, region, t.SpotAsOf.Format(time.DateOnly), strings.Join(t.spotFamilies(region), ", "))
}

func (t Table) instanceTypes(region string) []string {
	var out []string
	for _, i := range t.Instances {
		if _, ok := i.Hourly[region]; ok {
			out = append(out, i.Type)
		}
	}
	sort.Strings(out)
	return out
}

func (t Table) spotFamilies(region string) []string {
	var out []string
	for _, s := range t.Spot {
		if _, ok := s.Discount[region]; ok {
			out = append(out, s.Family)
		}
	}
	sort.Strings(out)
	return out
}

// Validate reports table rows that would price something at zero: every
// price must be positive and every discount in [0, 1).
func (t Table) Validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if t.OnDemandAsOf.IsZero() || t.SpotAsOf.IsZero() {
		bad("the table must be dated (OnDemandAsOf, SpotAsOf)")
	}
	for _, r := range t.Regions {
		for name, v := range map[string]float64{
			"EKSStandardHour": r.EKSStandardHour, "EKSExtendedHour": r.EKSExtendedHour,
			"NATGatewayHour": r.NATGatewayHour, "NATGatewayGB": r.NATGatewayGB, "PublicIPv4Hour": r.PublicIPv4Hour,
			"ALBHour": r.ALBHour, "ALBLCUHour": r.ALBLCUHour, "NLBHour": r.NLBHour, "NLBLCUHour": r.NLBLCUHour,
			"GP3GBMonth": r.GP3GBMonth, "S3StandardGBMonth": r.S3StandardGBMonth,
			"KMSKeyMonth": r.KMSKeyMonth, "LogsIngestedGB": r.LogsIngestedGB,
		} {
			if v <= 0 {
				bad("%s.%s: must be > 0, got %v", r.Region, name, v)
			}
		}
	}
	regions := map[string]bool{}
	for _, r := range t.Regions {
		regions[r.Region] = true
	}
	for _, i := range t.Instances {
		for region, v := range i.Hourly {
			if !regions[region] {
				bad("%s: price for unknown region %s", i.Type, region)
			}
			if v <= 0 {
				bad("%s in %s: must be > 0, got %v", i.Type, region, v)
			}
		}
	}
	for _, s := range t.Spot {
		for region, d := range s.Discount {
			if !regions[region] {
				bad("spot %s: discount for unknown region %s", s.Family, region)
			}
			if d < 0 || d >= 1 {
				bad("spot %s in %s: discount must be in [0, 1), got %v", s.Family, region, d)
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("price table: %s", strings.Join(problems, "; "))
	}
	return nil
}
