package cost

import "time"

func day(year int, month time.Month, d int) time.Time {
	return time.Date(year, month, d, 0, 0, 0, 0, time.UTC)
}

// The regions of the table, spelled once.
const (
	usEast1    = "us-east-1"
	usWest2    = "us-west-2"
	euWest1    = "eu-west-1"
	euCentral1 = "eu-central-1"
)

// perRegion is a price in each supported region, in table order.
func perRegion(useast1, uswest2, euwest1, eucentral1 float64) map[string]float64 {
	m := map[string]float64{}
	for region, v := range map[string]float64{usEast1: useast1, usWest2: uswest2, euWest1: euwest1, euCentral1: eucentral1} {
		if v > 0 { // 0 here means "not offered in that region": no entry, so lookups fail
			m[region] = v
		}
	}
	return m
}

// Prices is the embedded price table (USD, Linux, no Savings Plans or
// Reserved Instances, no free tier).
//
// Sources:
//   - EC2 on-demand: the AWS Price List API. us-east-1 as generated into
//     aws/karpenter-provider-aws pkg/providers/pricing/zz_generated.pricing_aws.go
//     ("generated at 2026-07-20T13:44:30Z for us-east-1"); the other regions
//     from skypilot-org/skypilot-catalog catalogs/v8/aws/vms.csv (commit
//     00148f2af3672e2229b4f7bf8157d5a3f36e3c35), whose us-east-1 column equals
//     the Karpenter file for every type below.
//   - Spot: the same catalog's per-AZ SpotPrice column (EC2 spot price
//     history), averaged per family over the sampled sizes and the region's
//     AZs (Local Zones left out). Spot prices move daily; this is a snapshot,
//     not a forecast.
//   - Services: the AWS pricing pages of EKS (standard $0.10, extended
//     support $0.60 per cluster-hour since 2024-04-01), VPC (NAT gateway,
//     public IPv4 $0.005/h since 2024-02-01), Elastic Load Balancing, EBS,
//     S3, KMS and CloudWatch, as published in 2026.
//
// Refresh: re-read the sources, update the rows and both dates; the tests
// fail a year after either date.
var Prices = Table{
	OnDemandAsOf: day(2026, time.July, 20),
	SpotAsOf:     day(2026, time.November, 25),
	Sources: []string{
		"AWS Price List API via aws/karpenter-provider-aws zz_generated.pricing_aws.go (2026-07-20, us-east-1)",
		"skypilot-org/skypilot-catalog catalogs/v8/aws/vms.csv @00148f2a (on-demand other regions; spot, read 2026-11-25)",
		"aws.amazon.com/{eks,vpc,elasticloadbalancing,ebs,s3,kms,cloudwatch}/pricing (2026)",
	},
	// CodeBuild is priced for the US regions only: the figures for the
	// others could not be read from a source here, so their runner pools
	// are reported as not priced rather than guessed.
	Regions: []RegionPrices{
		{Region: usEast1, EKSStandardHour: 0.10, EKSExtendedHour: 0.60,
			NATGatewayHour: 0.045, NATGatewayGB: 0.045, PublicIPv4Hour: 0.005,
			ALBHour: 0.0225, ALBLCUHour: 0.008, NLBHour: 0.0225, NLBLCUHour: 0.006,
			GP3GBMonth: 0.08, S3StandardGBMonth: 0.023, KMSKeyMonth: 1, LogsIngestedGB: 0.50,
			CodeBuildMinute: codeBuildUS},
		{Region: usWest2, EKSStandardHour: 0.10, EKSExtendedHour: 0.60,
			NATGatewayHour: 0.045, NATGatewayGB: 0.045, PublicIPv4Hour: 0.005,
			ALBHour: 0.0225, ALBLCUHour: 0.008, NLBHour: 0.0225, NLBLCUHour: 0.006,
			GP3GBMonth: 0.08, S3StandardGBMonth: 0.023, KMSKeyMonth: 1, LogsIngestedGB: 0.50,
			CodeBuildMinute: codeBuildUS},
		{Region: euWest1, EKSStandardHour: 0.10, EKSExtendedHour: 0.60,
			NATGatewayHour: 0.048, NATGatewayGB: 0.048, PublicIPv4Hour: 0.005,
			ALBHour: 0.0252, ALBLCUHour: 0.008, NLBHour: 0.0252, NLBLCUHour: 0.006,
			GP3GBMonth: 0.088, S3StandardGBMonth: 0.023, KMSKeyMonth: 1, LogsIngestedGB: 0.57},
		{Region: euCentral1, EKSStandardHour: 0.10, EKSExtendedHour: 0.60,
			NATGatewayHour: 0.052, NATGatewayGB: 0.052, PublicIPv4Hour: 0.005,
			ALBHour: 0.027, ALBLCUHour: 0.008, NLBHour: 0.027, NLBLCUHour: 0.006,
			GP3GBMonth: 0.0952, S3StandardGBMonth: 0.0245, KMSKeyMonth: 1, LogsIngestedGB: 0.63},
	},
	// Columns: us-east-1, us-west-2, eu-west-1, eu-central-1; 0 = not offered.
	Instances: []InstancePrice{
		{Type: "m5.large", VCPUs: 2, Hourly: perRegion(0.096, 0.096, 0.107, 0.115)},
		{Type: "m5.xlarge", VCPUs: 4, Hourly: perRegion(0.192, 0.192, 0.214, 0.23)},
		{Type: "m6a.large", VCPUs: 2, Hourly: perRegion(0.0864, 0.0864, 0.0963, 0.1035)},
		{Type: "m6a.xlarge", VCPUs: 4, Hourly: perRegion(0.1728, 0.1728, 0.1926, 0.207)},
		{Type: "m6i.large", VCPUs: 2, Hourly: perRegion(0.096, 0.096, 0.107, 0.115)},
		{Type: "m6i.xlarge", VCPUs: 4, Hourly: perRegion(0.192, 0.192, 0.214, 0.23)},
		{Type: "m6i.2xlarge", VCPUs: 8, Hourly: perRegion(0.384, 0.384, 0.428, 0.46)},
		{Type: "m7i.large", VCPUs: 2, Hourly: perRegion(0.1008, 0.1008, 0.11235, 0.12075)},
		{Type: "m7i.xlarge", VCPUs: 4, Hourly: perRegion(0.2016, 0.2016, 0.2247, 0.2415)},
		{Type: "g5.xlarge", VCPUs: 4, GPUs: 1, Hourly: perRegion(1.006, 1.006, 1.123, 1.258)},
		{Type: "g5.2xlarge", VCPUs: 8, GPUs: 1, Hourly: perRegion(1.212, 1.212, 1.35296, 1.5156)},
		{Type: "g5.12xlarge", VCPUs: 48, GPUs: 4, Hourly: perRegion(5.672, 5.672, 6.33167, 7.09282)},
		{Type: "g6.xlarge", VCPUs: 4, GPUs: 1, Hourly: perRegion(0.8048, 0.8048, 0, 1.0064)},
		{Type: "g6.2xlarge", VCPUs: 8, GPUs: 1, Hourly: perRegion(0.9776, 0.9776, 0, 1.22249)},
		{Type: "g6e.xlarge", VCPUs: 4, GPUs: 1, Hourly: perRegion(1.861, 1.861, 0, 2.327)},
		{Type: "g6e.2xlarge", VCPUs: 8, GPUs: 1, Hourly: perRegion(2.24208, 2.24208, 0, 2.8035)},
	},
	// Columns: us-east-1, us-west-2, eu-west-1, eu-central-1. Sampled sizes:
	// large and xlarge (m*), plus 2xlarge for m6i and the g families.
	Spot: []SpotDiscount{
		{Family: "m5", Discount: perRegion(0.64, 0.59, 0.45, 0.67)},
		{Family: "m6a", Discount: perRegion(0.48, 0.39, 0.43, 0.57)},
		{Family: "m6i", Discount: perRegion(0.59, 0.59, 0.47, 0.60)},
		{Family: "m7i", Discount: perRegion(0.58, 0.58, 0.47, 0.52)},
		{Family: "g5", Discount: perRegion(0.57, 0.59, 0.52, 0.54)},
		{Family: "g6", Discount: perRegion(0.51, 0.46, 0, 0.59)},
		{Family: "g6e", Discount: perRegion(0.52, 0.46, 0, 0.34)},
	},
}

// codeBuildUS: CodeBuild on-demand Linux per build-minute in us-east-1 and
// us-west-2 (aws.amazon.com/codebuild/pricing: general1.small $0.005,
// medium $0.01, large $0.02; the first 100 small minutes a month are free
// and left out).
var codeBuildUS = map[string]float64{
	"BUILD_GENERAL1_SMALL":  0.005,
	"BUILD_GENERAL1_MEDIUM": 0.01,
	"BUILD_GENERAL1_LARGE":  0.02,
}
