package cost

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Assumptions are the usage figures the program cannot know. Each has a
// default (DefaultAssumptions), a key in the stack config namespace
// aiplatform-cost and a flag of the preview (see tests/estimate).
type Assumptions struct {
	// NATDataGBPerMonth is the traffic through all NAT gateways together
	// (image pulls from public registries, external APIs; S3 goes through the
	// gateway endpoint and is free).
	NATDataGBPerMonth float64 `json:"natDataGBPerMonth"`
	// LCUsPerLoadBalancer is the average (N)LCU-hours each load balancer uses
	// per hour.
	LCUsPerLoadBalancer float64 `json:"lcusPerLoadBalancer"`
	// BucketGB is the stored size (all versions) per bucket role.
	BucketGB map[string]float64 `json:"bucketGB"`
	// ControlPlaneLogGBPerMonth is what each cluster's control-plane logs
	// ingest into CloudWatch.
	ControlPlaneLogGBPerMonth float64 `json:"controlPlaneLogGBPerMonth"`
	// GPUHoursPerDay is the expected GPU node-hours per day of each GPU group.
	GPUHoursPerDay float64 `json:"gpuHoursPerDay"`
	// RunnerMinutesPerMonth is the build-minutes of all runner pools
	// together (every pipeline job that runs on them), split evenly.
	RunnerMinutesPerMonth float64 `json:"runnerMinutesPerMonth"`
}

// DefaultAssumptions are a small dev stack's usage.
func DefaultAssumptions() Assumptions {
	return Assumptions{
		NATDataGBPerMonth:         100,
		LCUsPerLoadBalancer:       1,
		BucketGB:                  map[string]float64{"models": 100, "state": 1},
		ControlPlaneLogGBPerMonth: 10,
		GPUHoursPerDay:            8,
		// About 60 pull requests and 60 deploys a month at 10-15 minutes a
		// job, plus a daily drift check.
		RunnerMinutesPerMonth: 2000,
	}
}

// AssumptionKey is one tunable assumption: its key in the stack config
// namespace aiplatform-cost, its preview flag and what it means. The config
// reader, the flags and the docs/cost.md table follow AssumptionKeys.
type AssumptionKey struct {
	Key, Flag, Usage string
	number           func(*Assumptions) *float64 // nil: bucketGB
}

// AssumptionKeys lists every assumption once.
var AssumptionKeys = []AssumptionKey{
	{"natDataGBPerMonth", "nat-gb", "GB per month through all NAT gateways", func(a *Assumptions) *float64 { return &a.NATDataGBPerMonth }},
	{"lcusPerLoadBalancer", "lcu", "average (N)LCUs per load balancer per hour", func(a *Assumptions) *float64 { return &a.LCUsPerLoadBalancer }},
	{"bucketGB", "bucket-gb", `stored GB per bucket role: "models=500,state=2" or {"models": 500}`, nil},
	{"controlPlaneLogGBPerMonth", "log-gb", "control-plane log GB ingested per month per cluster", func(a *Assumptions) *float64 { return &a.ControlPlaneLogGBPerMonth }},
	{"gpuHoursPerDay", "gpu-hours", "expected GPU node-hours per day per GPU group", func(a *Assumptions) *float64 { return &a.GPUHoursPerDay }},
	{"runnerMinutesPerMonth", "runner-minutes", "build-minutes per month of all CodeBuild runner pools together (bootstrap)", func(a *Assumptions) *float64 { return &a.RunnerMinutesPerMonth }},
}

// Set sets the assumption key (an AssumptionKeys Key) from its text form.
func (a *Assumptions) Set(key, value string) error {
	for _, k := range AssumptionKeys {
		if k.Key != key {
			continue
		}
		if k.number != nil {
			f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil {
				return fmt.Errorf("%s: %q is not a number", key, value)
			}
			*k.number(a) = f
			return nil
		}
		sizes, err := parseBucketGB(value)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if a.BucketGB == nil {
			a.BucketGB = map[string]float64{}
		}
		for role, gb := range sizes {
			a.BucketGB[role] = gb
		}
		return nil
	}
	names := make([]string, len(AssumptionKeys))
	for i, k := range AssumptionKeys {
		names[i] = k.Key
	}
	return fmt.Errorf("%s: unknown key; the cost assumptions are %s", key, strings.Join(names, ", "))
}

// parseBucketGB reads "models=500,state=2" or a JSON object {"models": 500}
// (how Pulumi passes an object-valued config key).
func parseBucketGB(s string) (map[string]float64, error) {
	out := map[string]float64{}
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			return nil, fmt.Errorf("want an object of bucket role to GB like {\"models\": 500}: %v", err)
		}
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		role, v, ok := strings.Cut(part, "=")
		gb, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if !ok || err != nil || strings.TrimSpace(role) == "" {
			return nil, fmt.Errorf("%q is not role=GB (e.g. models=500,state=2)", part)
		}
		out[strings.TrimSpace(role)] = gb
	}
	return out, nil
}

// Validate reports negative or impossible assumptions.
func (a Assumptions) Validate() error {
	var errs []error
	neg := func(name string, v float64) {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			errs = append(errs, fmt.Errorf("%s: must be a number >= 0, got %v", name, v))
		}
	}
	neg("natDataGBPerMonth", a.NATDataGBPerMonth)
	neg("lcusPerLoadBalancer", a.LCUsPerLoadBalancer)
	neg("controlPlaneLogGBPerMonth", a.ControlPlaneLogGBPerMonth)
	neg("gpuHoursPerDay", a.GPUHoursPerDay)
	neg("runnerMinutesPerMonth", a.RunnerMinutesPerMonth)
	for role, gb := range a.BucketGB {
		neg("bucketGB."+role, gb)
	}
	return errors.Join(errs...)
}

// Category groups lines in the table.
type Category string

const (
	ControlPlaneCost Category = "control plane"
	ComputeCost      Category = "compute"
	StorageCost      Category = "storage"
	NetworkCost      Category = "network"
	SecurityCost     Category = "security"
	LoggingCost      Category = "logging"
)

// Line is one priced resource. Hourly × 730 = Monthly for hourly-billed
// resources; for per-GB ones Hourly is Monthly / 730. OnDemandMonthly is the
// same resource with every spot instance priced on demand.
type Line struct {
	ID              string   `json:"id"`
	Category        Category `json:"category"`
	Resource        string   `json:"resource"`
	Detail          string   `json:"detail"`
	Hourly          float64  `json:"hourly"`
	Monthly         float64  `json:"monthly"`
	OnDemandMonthly float64  `json:"onDemandMonthly"`
}

// GPUScenario prices a GPU node group at its bounds and at expected use.
type GPUScenario struct {
	Group string `json:"group"`
	// NodeHourly is one node (instance and root volume) per hour.
	NodeHourly     float64 `json:"nodeHourly"`
	Min            int     `json:"min"`
	Desired        int     `json:"desired"`
	Max            int     `json:"max"`
	MinMonthly     float64 `json:"minMonthly"`
	DesiredMonthly float64 `json:"desiredMonthly"`
	MaxMonthly     float64 `json:"maxMonthly"`
	// ExpectedMonthly is GPUHoursPerDay node-hours every day.
	GPUHoursPerDay  float64 `json:"gpuHoursPerDay"`
	ExpectedMonthly float64 `json:"expectedMonthly"`
	// AlwaysOnMonthly is one node running all month: what scale-to-zero saves against.
	AlwaysOnMonthly float64 `json:"alwaysOnMonthly"`
	// FloorNodes is what the GPU workloads' minimum replicas hold up (the
	// autoscaler cannot remove a node a pod needs); FloorMonthly prices it.
	FloorNodes   int     `json:"floorNodes"`
	FloorMonthly float64 `json:"floorMonthly"`
	FloorReason  string  `json:"floorReason,omitempty"`
	// ScalesToZero names the GPU workloads that a KEDA ScaledObject takes to
	// 0 replicas when idle, and after how long: they hold no node up, so
	// while they are the only ones the group costs ExpectedMonthly.
	ScalesToZero string `json:"scalesToZero,omitempty"`
}

// Totals sums the lines.
type Totals struct {
	Hourly          float64 `json:"hourly"`
	Monthly         float64 `json:"monthly"`
	OnDemandMonthly float64 `json:"onDemandMonthly"`
	// SpotSavingPercent is what spot saves on the whole stack:
	// 1 − Monthly / OnDemandMonthly.
	SpotSavingPercent float64 `json:"spotSavingPercent"`
	// SpotNodesSavingPercent is the same over the spot node groups only
	// (their instances, per node): the "spot is ~60% cheaper" claim.
	SpotNodesSavingPercent float64 `json:"spotNodesSavingPercent"`
	// WithExpectedGPUMonthly replaces the GPU groups' desired size by their
	// expected use; WithGPUFloorMonthly by the floor the workloads hold up.
	WithExpectedGPUMonthly float64 `json:"withExpectedGpuMonthly"`
	WithGPUFloorMonthly    float64 `json:"withGpuFloorMonthly"`
}

// Estimate is the priced inventory.
type Estimate struct {
	Stack        string          `json:"stack"`
	Region       string          `json:"region"`
	PricesAsOf   string          `json:"pricesAsOf"`
	SpotAsOf     string          `json:"spotAsOf"`
	Assumptions  Assumptions     `json:"assumptions"`
	Lines        []Line          `json:"lines"`
	GPU          []GPUScenario   `json:"gpu"`
	Totals       Totals          `json:"totals"`
	Notes        []string        `json:"notes"`
	Unpriced     []UnpricedThing `json:"unpriced,omitempty"`
	HoursInMonth float64         `json:"hoursInMonth"`
}

// Price turns an inventory into an estimate. Every error names what the
// table or the assumptions lack; nothing is ever priced at zero for want of
// a row.
func (t Table) Price(inv Inventory, a Assumptions) (Estimate, error) {
	if err := a.Validate(); err != nil {
		return Estimate{}, fmt.Errorf("assumptions: %w", err)
	}
	rp, err := t.Region(inv.Region)
	if err != nil {
		return Estimate{}, err
	}
	e := Estimate{
		Stack: inv.Stack, Region: inv.Region,
		PricesAsOf:   t.OnDemandAsOf.Format("2006-01-02"),
		SpotAsOf:     t.SpotAsOf.Format("2006-01-02"),
		Assumptions:  a,
		Unpriced:     inv.Unpriced,
		HoursInMonth: HoursPerMonth,
	}
	var errs []error
	hourly := func(id string, c Category, resource, detail string, perHour, onDemandPerHour float64) {
		e.Lines = append(e.Lines, Line{ID: id, Category: c, Resource: resource, Detail: detail,
			Hourly: perHour, Monthly: perHour * HoursPerMonth, OnDemandMonthly: onDemandPerHour * HoursPerMonth})
	}
	monthly := func(id string, c Category, resource, detail string, perMonth float64) {
		e.Lines = append(e.Lines, Line{ID: id, Category: c, Resource: resource, Detail: detail,
			Hourly: perMonth / HoursPerMonth, Monthly: perMonth, OnDemandMonthly: perMonth})
	}

	for _, cp := range inv.ControlPlanes {
		rate, phase := rp.EKSStandardHour, "standard support"
		if cp.ExtendedSupport {
			rate, phase = rp.EKSExtendedHour, "EXTENDED support"
		}
		detail := fmt.Sprintf("Kubernetes %s, %s", cp.Version, phase)
		if cp.SupportNote != "" {
			detail += " (" + cp.SupportNote + ")"
		}
		hourly("eks/"+cp.Name, ControlPlaneCost, "EKS control plane "+cp.Name, detail, rate, rate)
		if len(cp.LogTypes) > 0 {
			gb := a.ControlPlaneLogGBPerMonth
			monthly("logs/"+cp.Name, LoggingCost, "control-plane logs "+cp.Name,
				fmt.Sprintf("%d log types to CloudWatch, %s GB/month ingested (assumed)", len(cp.LogTypes), num(gb)), gb*rp.LogsIngestedGB)
		}
	}

	var spotNodes, spotNodesOnDemand float64
	gpuGroups := 0
	for _, ng := range inv.NodeGroups {
		node, err := t.nodePrice(inv.Region, ng)
		if err != nil {
			errs = append(errs, fmt.Errorf("node group %s: %w", ng.Name, err))
			continue
		}
		if ng.RootVolumeType != "gp3" {
			errs = append(errs, fmt.Errorf("node group %s: no price for EBS root volume type %q (the table prices gp3)", ng.Name, ng.RootVolumeType))
			continue
		}
		n := float64(ng.Desired)
		hourly("nodes/"+ng.Name, ComputeCost, "node group "+ng.Name,
			fmt.Sprintf("%d × %s (min %d, max %d)", ng.Desired, node.describe, ng.Min, ng.Max),
			n*node.hourly, n*node.onDemandHourly)
		volumeMonth := float64(ng.RootVolumeGiB) * rp.GP3GBMonth
		monthly("ebs/"+ng.Name, StorageCost, "root volumes "+ng.Name,
			fmt.Sprintf("%d × %d GiB %s", ng.Desired, ng.RootVolumeGiB, ng.RootVolumeType), n*volumeMonth)
		if ng.Capacity == Spot {
			spotNodes += node.hourly
			spotNodesOnDemand += node.onDemandHourly
		}
		if node.gpus > 0 {
			s := GPUScenario{Group: ng.Name, NodeHourly: node.hourly + volumeMonth/HoursPerMonth,
				Min: ng.Min, Desired: ng.Desired, Max: ng.Max, GPUHoursPerDay: a.GPUHoursPerDay}
			s.MinMonthly = float64(s.Min) * s.NodeHourly * HoursPerMonth
			s.DesiredMonthly = float64(s.Desired) * s.NodeHourly * HoursPerMonth
			s.MaxMonthly = float64(s.Max) * s.NodeHourly * HoursPerMonth
			s.ExpectedMonthly = a.GPUHoursPerDay * s.NodeHourly * HoursPerMonth / 24
			s.AlwaysOnMonthly = s.NodeHourly * HoursPerMonth
			s.FloorNodes = s.Desired
			if gpuGroups == 0 { // GPU workloads are attributed to the first GPU group
				s.FloorNodes, s.FloorReason, s.ScalesToZero = gpuFloor(inv.GPUWorkloads, node.gpus, s)
			}
			s.FloorMonthly = float64(s.FloorNodes) * s.NodeHourly * HoursPerMonth
			e.GPU = append(e.GPU, s)
			gpuGroups++
		}
	}

	for _, nat := range inv.NATGateways {
		hourly("nat/"+nat, NetworkCost, "NAT gateway "+nat, "fixed hourly charge", rp.NATGatewayHour, rp.NATGatewayHour)
	}
	if len(inv.NATGateways) > 0 {
		gb := a.NATDataGBPerMonth
		monthly("nat-data", NetworkCost, "NAT data processing",
			fmt.Sprintf("%s GB/month through %s (assumed)", num(gb), plural(len(inv.NATGateways), "gateway")), gb*rp.NATGatewayGB)
	}
	for _, p := range inv.CodeBuildProjects {
		rate := rp.CodeBuildMinute[p.ComputeType]
		if rate == 0 {
			errs = append(errs, fmt.Errorf("CodeBuild project %s: no price for compute type %q in %s (cost/table.go prices CodeBuild in the US regions only)", p.Name, p.ComputeType, inv.Region))
			continue
		}
		minutes := a.RunnerMinutesPerMonth / float64(len(inv.CodeBuildProjects))
		monthly("codebuild/"+p.Name, ComputeCost, "CodeBuild runners "+p.Name,
			fmt.Sprintf("%s build-minutes/month (assumed) on %s", num(minutes), p.ComputeType), minutes*rate)
	}
	for _, ip := range inv.PublicIPv4s {
		hourly("ipv4/"+ip, NetworkCost, "public IPv4 "+ip, "Elastic IP", rp.PublicIPv4Hour, rp.PublicIPv4Hour)
	}
	for _, lb := range inv.LoadBalancers {
		base, lcu, unit := rp.NLBHour, rp.NLBLCUHour, "NLCU"
		if lb.Kind == ALB {
			base, lcu, unit = rp.ALBHour, rp.ALBLCUHour, "LCU"
		} else if lb.Kind != NLB {
			errs = append(errs, fmt.Errorf("load balancer %s: no price for kind %q (the table prices ALB and NLB)", lb.Name, lb.Kind))
			continue
		}
		rate := base + a.LCUsPerLoadBalancer*lcu
		scheme := "internal"
		if lb.Public {
			scheme = fmt.Sprintf("internet-facing, %d public IPv4", inv.AvailabilityZones)
			rate += float64(inv.AvailabilityZones) * rp.PublicIPv4Hour
		}
		hourly("lb/"+lb.Name, NetworkCost, string(lb.Kind)+" "+lb.Name,
			fmt.Sprintf("%s, %s %s assumed (%s)", scheme, num(a.LCUsPerLoadBalancer), unit, lb.Source), rate, rate)
	}
	for _, v := range inv.Volumes {
		if v.Type != "gp3" {
			errs = append(errs, fmt.Errorf("volume %s: no price for EBS volume type %q (the table prices gp3)", v.Name, v.Type))
			continue
		}
		monthly("pvc/"+v.Name, StorageCost, "volume "+v.Name,
			fmt.Sprintf("%d × %d GiB %s (%s)", v.Count, v.GiB, v.Type, v.Source), float64(v.Count*v.GiB)*rp.GP3GBMonth)
	}
	for _, b := range inv.Buckets {
		gb, ok := a.BucketGB[b.Role]
		if !ok {
			errs = append(errs, fmt.Errorf("bucket %s: no size assumption for bucket role %q (set bucketGB.%s)", b.Name, b.Role, b.Role))
			continue
		}
		monthly("s3/"+b.Name, StorageCost, "S3 bucket "+b.Name,
			fmt.Sprintf("S3 Standard, %s GB stored (assumed, %s)", num(gb), b.Role), gb*rp.S3StandardGBMonth)
	}
	for _, k := range inv.KMSKeys {
		monthly("kms/"+k, SecurityCost, "KMS key "+k, "customer managed key", rp.KMSKeyMonth)
	}
	if len(errs) > 0 {
		return Estimate{}, errors.Join(errs...)
	}

	// The render order, not the inventory's: the program registers some
	// resources concurrently, and the same stack must price to the same bytes.
	e.Lines = e.sortedLines()
	for _, l := range e.Lines {
		e.Totals.Hourly += l.Hourly
		e.Totals.Monthly += l.Monthly
		e.Totals.OnDemandMonthly += l.OnDemandMonthly
	}
	e.Totals.SpotSavingPercent = savingPercent(e.Totals.Monthly, e.Totals.OnDemandMonthly)
	e.Totals.SpotNodesSavingPercent = savingPercent(spotNodes, spotNodesOnDemand)
	e.Totals.WithExpectedGPUMonthly, e.Totals.WithGPUFloorMonthly = e.Totals.Monthly, e.Totals.Monthly
	for _, s := range e.GPU {
		e.Totals.WithExpectedGPUMonthly += s.ExpectedMonthly - s.DesiredMonthly
		e.Totals.WithGPUFloorMonthly += s.FloorMonthly - s.DesiredMonthly
	}
	e.Notes = notes(inv, e, rp)
	e.round()
	return e, nil
}

// nodeCost is what one node of a group costs per hour.
type nodeCost struct {
	hourly, onDemandHourly float64
	gpus                   int
	describe               string
}

// nodePrice prices one node. On-demand groups launch the first instance type
// that has capacity (EKS managed node groups fill On-Demand capacity in the
// order of instanceTypes, docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html);
// spot groups use the price-capacity-optimized strategy across all types,
// so a node is priced at the mean of the types' spot prices.
func (t Table) nodePrice(region string, ng NodeGroup) (nodeCost, error) {
	if len(ng.InstanceTypes) == 0 {
		return nodeCost{}, errors.New("no instance types")
	}
	row, _ := t.Instance(ng.InstanceTypes[0])
	switch ng.Capacity {
	case OnDemand:
		p, err := t.OnDemand(region, ng.InstanceTypes[0])
		if err != nil {
			return nodeCost{}, err
		}
		return nodeCost{hourly: p, onDemandHourly: p, gpus: row.GPUs, describe: ng.InstanceTypes[0] + " on-demand"}, nil
	case Spot:
		var spot, od float64
		var errs []error
		for _, it := range ng.InstanceTypes {
			s, err := t.SpotHourly(region, it)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			o, _ := t.OnDemand(region, it)
			spot += s
			od += o
		}
		if len(errs) > 0 {
			return nodeCost{}, errors.Join(errs...)
		}
		n := float64(len(ng.InstanceTypes))
		spot, od = spot/n, od/n
		return nodeCost{hourly: spot, onDemandHourly: od, gpus: row.GPUs,
			describe: fmt.Sprintf("spot (mean of %s, %.0f%% below on-demand)", strings.Join(ng.InstanceTypes, "/"), savingPercent(spot, od))}, nil
	}
	return nodeCost{}, fmt.Errorf("no price for capacity type %q (the table prices ON_DEMAND and SPOT)", ng.Capacity)
}

// gpuFloor is how many nodes of a GPU group the workloads keep running
// while idle, which workloads hold them up, and which scale to zero (they
// keep 0 replicas, so they add nothing to the floor).
func gpuFloor(workloads []GPUWorkload, gpusPerNode int, s GPUScenario) (nodes int, holders, toZero string) {
	gpus := 0
	var who, zero []string
	for _, w := range workloads {
		if w.ScalesToZero {
			zero = append(zero, fmt.Sprintf("%s (0 replicas after %s idle; %d × %d GPU while active)",
				w.Name, seconds(w.IdleSeconds), w.ActiveMinReplicas, w.GPUsPerPod))
			continue
		}
		gpus += w.MinReplicas * w.GPUsPerPod
		if w.MinReplicas*w.GPUsPerPod > 0 {
			from := w.FloorFrom
			if from == "" {
				from = "minReplicas"
			}
			who = append(who, fmt.Sprintf("%s (%s %d × %d GPU)", w.Name, from, w.MinReplicas, w.GPUsPerPod))
		}
	}
	toZero = strings.Join(zero, ", ")
	if gpus == 0 || gpusPerNode == 0 {
		return s.Desired, "", toZero
	}
	nodes = (gpus + gpusPerNode - 1) / gpusPerNode
	if nodes > s.Max {
		nodes = s.Max
	}
	if nodes < s.Desired {
		nodes = s.Desired
	}
	return nodes, strings.Join(who, ", "), toZero
}

// seconds says a duration in the largest whole unit: 30 minutes, 90 seconds.
func seconds(n int) string {
	switch {
	case n > 0 && n%3600 == 0:
		return plural(n/3600, "hour")
	case n > 0 && n%60 == 0:
		return plural(n/60, "minute")
	}
	return plural(n, "second")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func savingPercent(actual, onDemand float64) float64 {
	if onDemand <= 0 {
		return 0
	}
	return 100 * (1 - actual/onDemand)
}

func notes(inv Inventory, e Estimate, rp RegionPrices) []string {
	var out []string
	for _, cp := range inv.ControlPlanes {
		if cp.ExtendedSupport {
			out = append(out, fmt.Sprintf("EKS %s runs Kubernetes %s in extended support ($%.2f instead of $%.2f per hour): upgrading to a version in standard support saves %s/month.",
				cp.Name, cp.Version, rp.EKSExtendedHour, rp.EKSStandardHour, money((rp.EKSExtendedHour-rp.EKSStandardHour)*HoursPerMonth)))
		}
	}
	for _, s := range e.GPU {
		if s.FloorNodes > s.Desired {
			out = append(out, fmt.Sprintf("GPU group %s cannot scale to zero: the GPU pods of %s need %s around the clock, %s/month more than at desired size %d.",
				s.Group, s.FloorReason, plural(s.FloorNodes, "node"), money(s.FloorMonthly-s.DesiredMonthly), s.Desired))
		}
		switch {
		case s.ScalesToZero == "":
		case s.FloorNodes == 0:
			out = append(out, fmt.Sprintf("GPU group %s scales to zero: %s, so no GPU node runs while idle and the group costs its expected use, %s node-hours/day: %s/month instead of %s for one GPU node around the clock.",
				s.Group, s.ScalesToZero, num(s.GPUHoursPerDay), money(s.ExpectedMonthly), money(s.AlwaysOnMonthly)))
		case s.FloorNodes > s.Desired:
			out = append(out, fmt.Sprintf("GPU group %s: %s, but the other GPU workloads keep the group at %s while idle.",
				s.Group, s.ScalesToZero, plural(s.FloorNodes, "node")))
		default:
			out = append(out, fmt.Sprintf("GPU group %s: %s, but the group keeps its desired size of %s while idle.",
				s.Group, s.ScalesToZero, plural(s.Desired, "node")))
		}
	}
	return out
}

// round keeps cents (monthly) and 1/10,000 $ (hourly) so JSON and goldens
// are stable across platforms.
func (e *Estimate) round() {
	h := func(v float64) float64 { return math.Round(v*1e4) / 1e4 }
	m := func(v float64) float64 { return math.Round(v*100) / 100 }
	for i := range e.Lines {
		l := &e.Lines[i]
		l.Hourly, l.Monthly, l.OnDemandMonthly = h(l.Hourly), m(l.Monthly), m(l.OnDemandMonthly)
	}
	for i := range e.GPU {
		s := &e.GPU[i]
		s.NodeHourly = h(s.NodeHourly)
		s.MinMonthly, s.DesiredMonthly, s.MaxMonthly = m(s.MinMonthly), m(s.DesiredMonthly), m(s.MaxMonthly)
		s.ExpectedMonthly, s.AlwaysOnMonthly, s.FloorMonthly = m(s.ExpectedMonthly), m(s.AlwaysOnMonthly), m(s.FloorMonthly)
	}
	t := &e.Totals
	t.Hourly, t.Monthly, t.OnDemandMonthly = h(t.Hourly), m(t.Monthly), m(t.OnDemandMonthly)
	t.SpotSavingPercent, t.SpotNodesSavingPercent = m(t.SpotSavingPercent), m(t.SpotNodesSavingPercent)
	t.WithExpectedGPUMonthly, t.WithGPUFloorMonthly = m(t.WithExpectedGPUMonthly), m(t.WithGPUFloorMonthly)
}

// num prints an assumption without trailing zeros: 100, 0.5.
func num(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

// money prints dollars with thousands separators: $1,234.56.
func money(v float64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	s := fmt.Sprintf("%.2f", v)
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + "$" + b.String() + "." + frac
}

// sortedLines is the render order: by category, then resource.
func (e Estimate) sortedLines() []Line {
	order := map[Category]int{ControlPlaneCost: 0, ComputeCost: 1, StorageCost: 2, NetworkCost: 3, SecurityCost: 4, LoggingCost: 5}
	lines := append([]Line(nil), e.Lines...)
	sort.SliceStable(lines, func(i, j int) bool {
		if order[lines[i].Category] != order[lines[j].Category] {
			return order[lines[i].Category] < order[lines[j].Category]
		}
		return lines[i].ID < lines[j].ID
	})
	return lines
}
