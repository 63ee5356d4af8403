package cost

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A price snapshot older than a year is stale: refresh the table (see the
// comment on Prices) and both dates.
func TestPriceTableIsFresh(t *testing.T) {
	now := time.Now()
	for name, asOf := range map[string]time.Time{"OnDemandAsOf": Prices.OnDemandAsOf, "SpotAsOf": Prices.SpotAsOf} {
		assert.Falsef(t, asOf.After(now), "%s %s is in the future", name, asOf.Format(time.DateOnly))
		assert.Lessf(t, now.Sub(asOf), StaleAfter, "%s %s is more than a year old: refresh cost.Prices from its sources",
			name, asOf.Format(time.DateOnly))
	}
}

func TestPriceTableHasNoZeroPrices(t *testing.T) {
	require.NoError(t, Prices.Validate())
	assert.ElementsMatch(t, []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1"}, Prices.RegionNames())
	broken := Prices
	broken.Regions = append([]RegionPrices{{Region: "xx-test-1"}}, Prices.Regions...)
	assert.ErrorContains(t, broken.Validate(), "xx-test-1.NATGatewayHour: must be > 0, got 0")
}

// inventory is a small stack: one of everything, in us-east-1.
func inventory() Inventory {
	return Inventory{
		Stack: "unit", Region: "us-east-1", AvailabilityZones: 3,
		ControlPlanes: []ControlPlane{{Name: "cluster", Version: "1.35", LogTypes: []string{"api", "audit"}}},
		NodeGroups: []NodeGroup{
			{Name: "system", InstanceTypes: []string{"m6i.large"}, Capacity: OnDemand, Min: 2, Desired: 2, Max: 4, RootVolumeGiB: 50, RootVolumeType: "gp3"},
			{Name: "spot", InstanceTypes: []string{"m6i.xlarge", "m5.xlarge"}, Capacity: Spot, Min: 0, Desired: 2, Max: 10, RootVolumeGiB: 50, RootVolumeType: "gp3"},
			{Name: "gpu", InstanceTypes: []string{"g5.xlarge", "g6.xlarge"}, Capacity: OnDemand, Min: 0, Desired: 0, Max: 4, RootVolumeGiB: 200, RootVolumeType: "gp3"},
		},
		NATGateways:   []string{"nat-0"},
		PublicIPv4s:   []string{"nat-0"},
		LoadBalancers: []LoadBalancer{{Name: "api", Kind: NLB, Source: "Service a/api"}, {Name: "web", Kind: ALB, Public: true, Source: "Ingress a/web"}},
		Buckets:       []Bucket{{Name: "models", Role: "models"}},
		KMSKeys:       []string{"secrets"},
		GPUWorkloads:  []GPUWorkload{{Name: "triton", MinReplicas: 1, GPUsPerPod: 1}},
	}
}

func line(t *testing.T, e Estimate, id string) Line {
	t.Helper()
	for _, l := range e.Lines {
		if l.ID == id {
			return l
		}
	}
	t.Fatalf("no line %s in %v", id, e.Lines)
	return Line{}
}

// Expectations computed by hand from the AWS price pages (us-east-1).
func TestHandComputedLines(t *testing.T) {
	e, err := Prices.Price(inventory(), DefaultAssumptions())
	require.NoError(t, err)

	// NAT gateway: $0.045/h × 730 h = $32.85; 100 GB × $0.045 = $4.50.
	assert.Equal(t, Line{ID: "nat/nat-0", Category: NetworkCost, Resource: "NAT gateway nat-0", Detail: "fixed hourly charge",
		Hourly: 0.045, Monthly: 32.85, OnDemandMonthly: 32.85}, line(t, e, "nat/nat-0"))
	assert.Equal(t, 4.50, line(t, e, "nat-data").Monthly)
	// Two on-demand m6i.large: 2 × $0.096/h = $0.192/h, × 730 = $140.16.
	system := line(t, e, "nodes/system")
	assert.Equal(t, 0.192, system.Hourly)
	assert.Equal(t, 140.16, system.Monthly)
	assert.Equal(t, 140.16, system.OnDemandMonthly, "on-demand nodes cost the same all on-demand")
	// Their root volumes: 2 × 50 GiB × $0.08 = $8.00.
	assert.Equal(t, 8.0, line(t, e, "ebs/system").Monthly)
	// EKS 1.35 in standard support: $0.10/h × 730 = $73.00.
	assert.Equal(t, 73.0, line(t, e, "eks/cluster").Monthly)
	// Two spot nodes, mean of m6i.xlarge ($0.192 × (1 − 0.59)) and m5.xlarge
	// ($0.192 × (1 − 0.64)): 2 × 0.07392 = $0.14784/h; all on-demand 2 × $0.192.
	spot := line(t, e, "nodes/spot")
	assert.Equal(t, 0.1478, spot.Hourly)
	assert.Equal(t, 107.92, spot.Monthly)
	assert.Equal(t, 280.32, spot.OnDemandMonthly)
	assert.InDelta(t, 61.5, e.Totals.SpotNodesSavingPercent, 0.01)
	// Internal NLB: $0.0225 + 1 NLCU × $0.006 = $0.0285/h; public ALB adds
	// one IPv4 per AZ: $0.0225 + $0.008 + 3 × $0.005 = $0.0455/h.
	assert.Equal(t, 0.0285, line(t, e, "lb/api").Hourly)
	assert.Equal(t, 0.0455, line(t, e, "lb/web").Hourly)
	// 100 GB in S3 Standard × $0.023; one KMS key $1; 10 GB logs × $0.50.
	assert.Equal(t, 2.30, line(t, e, "s3/models").Monthly)
	assert.Equal(t, 1.0, line(t, e, "kms/secrets").Monthly)
	assert.Equal(t, 5.0, line(t, e, "logs/cluster").Monthly)

	var sum float64
	for _, l := range e.Lines {
		sum += l.Monthly
	}
	assert.InDelta(t, sum, e.Totals.Monthly, 0.05)
	assert.InDelta(t, 100*(1-e.Totals.Monthly/e.Totals.OnDemandMonthly), e.Totals.SpotSavingPercent, 0.01)
}

func TestExtendedSupportCostsSixTimesStandard(t *testing.T) {
	inv := inventory()
	inv.Region = "eu-central-1"
	inv.ControlPlanes[0].ExtendedSupport = true
	e, err := Prices.Price(inv, DefaultAssumptions())
	require.NoError(t, err)
	// $0.60/h × 730 = $438.00 in every region.
	assert.Equal(t, 438.0, line(t, e, "eks/cluster").Monthly)
	assert.Contains(t, line(t, e, "eks/cluster").Detail, "EXTENDED support")
	assert.Contains(t, strings.Join(e.Notes, "\n"), "saves $365.00/month")
	// eu-central-1 NAT gateway: $0.052/h × 730 = $37.96.
	assert.Equal(t, 37.96, line(t, e, "nat/nat-0").Monthly)
	// m6i.large in Frankfurt: 2 × $0.115 × 730 = $167.90.
	assert.Equal(t, 167.9, line(t, e, "nodes/system").Monthly)
}

func TestGPUScenarios(t *testing.T) {
	a := DefaultAssumptions()
	a.GPUHoursPerDay = 6
	e, err := Prices.Price(inventory(), a)
	require.NoError(t, err)
	require.Len(t, e.GPU, 1)
	s := e.GPU[0]
	// One node: g5.xlarge (first listed: on-demand groups launch in order)
	// $1.006/h + 200 GiB × $0.08 / 730 h.
	node := 1.006 + 200*0.08/730
	assert.InDelta(t, node, s.NodeHourly, 1e-4)
	assert.Equal(t, 0.0, s.MinMonthly)
	assert.Equal(t, 0.0, s.DesiredMonthly)
	assert.InDelta(t, 4*node*730, s.MaxMonthly, 0.01)
	assert.InDelta(t, 6*node*730/24, s.ExpectedMonthly, 0.01)
	assert.InDelta(t, node*730, s.AlwaysOnMonthly, 0.01)
	// triton's one replica holds one node up.
	assert.Equal(t, 1, s.FloorNodes)
	assert.InDelta(t, node*730, s.FloorMonthly, 0.01)
	assert.InDelta(t, e.Totals.Monthly+s.ExpectedMonthly, e.Totals.WithExpectedGPUMonthly, 0.01)
	assert.InDelta(t, e.Totals.Monthly+s.FloorMonthly, e.Totals.WithGPUFloorMonthly, 0.01)
	assert.Contains(t, strings.Join(e.Notes, "\n"), "GPU group gpu cannot scale to zero")
}

// Issue 20: the GPU floor follows what each workload keeps while idle. An
// HPA's minReplicas (and a ScaledObject without idleReplicaCount, at its
// minReplicaCount) holds nodes up around the clock; a KEDA ScaledObject with
// idleReplicaCount 0 holds none, so the group costs its expected use.
func TestGPUFloorFollowsIdleBehaviour(t *testing.T) {
	node := 1.006 + 200*0.08/730 // g5.xlarge + 200 GiB gp3, per hour (us-east-1)
	hpa := GPUWorkload{Name: "Deployment triton/triton", MinReplicas: 1, GPUsPerPod: 1}
	toZero := GPUWorkload{Name: "Deployment triton/triton", MinReplicas: 0, FloorFrom: "idleReplicaCount", GPUsPerPod: 1,
		ScalesToZero: true, IdleSeconds: 1800, ActiveMinReplicas: 1}
	for name, tc := range map[string]struct {
		workloads   []GPUWorkload
		desired     int
		floorNodes  int
		scaleToZero string
		note        string // the GPU note, exactly; "" for none
	}{
		"HPA minReplicas 1 holds one node": {workloads: []GPUWorkload{hpa}, floorNodes: 1,
			note: "GPU group gpu cannot scale to zero: the GPU pods of Deployment triton/triton (minReplicas 1 × 1 GPU) need 1 node around the clock, $750.38/month more than at desired size 0."},
		"ScaledObject idleReplicaCount 0 holds none": {workloads: []GPUWorkload{toZero}, floorNodes: 0,
			scaleToZero: "Deployment triton/triton (0 replicas after 30 minutes idle; 1 × 1 GPU while active)",
			note:        "GPU group gpu scales to zero: Deployment triton/triton (0 replicas after 30 minutes idle; 1 × 1 GPU while active), so no GPU node runs while idle and the group costs its expected use, 8 node-hours/day: $250.13/month instead of $750.38 for one GPU node around the clock."},
		"ScaledObject without idleReplicaCount idles at minReplicaCount": {
			workloads:  []GPUWorkload{{Name: "Deployment triton/triton", MinReplicas: 2, FloorFrom: "minReplicaCount", GPUsPerPod: 1, IdleSeconds: 300, ActiveMinReplicas: 2}},
			floorNodes: 2,
			note:       "GPU group gpu cannot scale to zero: the GPU pods of Deployment triton/triton (minReplicaCount 2 × 1 GPU) need 2 nodes around the clock, $1,500.76/month more than at desired size 0."},
		"scale to zero beside an HPA workload": {
			workloads:   []GPUWorkload{{Name: "Deployment ml/embed", MinReplicas: 1, GPUsPerPod: 1}, {Name: "Deployment triton/triton", GPUsPerPod: 1, ScalesToZero: true, IdleSeconds: 300, ActiveMinReplicas: 1}},
			floorNodes:  1,
			scaleToZero: "Deployment triton/triton (0 replicas after 5 minutes idle; 1 × 1 GPU while active)",
			note:        "GPU group gpu cannot scale to zero: the GPU pods of Deployment ml/embed (minReplicas 1 × 1 GPU) need 1 node around the clock, $750.38/month more than at desired size 0.\nGPU group gpu: Deployment triton/triton (0 replicas after 5 minutes idle; 1 × 1 GPU while active), but the other GPU workloads keep the group at 1 node while idle."},
		"scale to zero in a group kept at desired size": {workloads: []GPUWorkload{toZero}, desired: 1, floorNodes: 1,
			scaleToZero: "Deployment triton/triton (0 replicas after 30 minutes idle; 1 × 1 GPU while active)",
			note:        "GPU group gpu: Deployment triton/triton (0 replicas after 30 minutes idle; 1 × 1 GPU while active), but the group keeps its desired size of 1 node while idle."},
	} {
		t.Run(name, func(t *testing.T) {
			inv := inventory()
			inv.GPUWorkloads = tc.workloads
			inv.NodeGroups[2].Desired = tc.desired
			e, err := Prices.Price(inv, DefaultAssumptions())
			require.NoError(t, err)
			require.Len(t, e.GPU, 1)
			s := e.GPU[0]
			assert.Equal(t, tc.floorNodes, s.FloorNodes)
			assert.InDelta(t, float64(tc.floorNodes)*node*730, s.FloorMonthly, 0.01)
			assert.InDelta(t, e.Totals.Monthly+s.FloorMonthly-s.DesiredMonthly, e.Totals.WithGPUFloorMonthly, 0.01)
			assert.Equal(t, tc.scaleToZero, s.ScalesToZero)
			var gpuNotes []string
			for _, n := range e.Notes {
				if strings.Contains(n, "GPU group") {
					gpuNotes = append(gpuNotes, n)
				}
			}
			assert.Equal(t, tc.note, strings.Join(gpuNotes, "\n"))
		})
	}
}

func TestSecondsInWords(t *testing.T) {
	for n, want := range map[int]string{1800: "30 minutes", 300: "5 minutes", 60: "1 minute", 3600: "1 hour", 86400: "24 hours", 90: "90 seconds", 0: "0 seconds"} {
		assert.Equal(t, want, seconds(n), "%d", n)
	}
}

// Bad inputs fail with the missing thing named, never a zero price.
func TestMissingPricesAreErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(*Inventory, *Assumptions)
		want []string
	}{
		"unknown region": {func(i *Inventory, _ *Assumptions) { i.Region = "ap-south-1" },
			[]string{`no prices for region "ap-south-1"`, "us-east-1, us-west-2, eu-west-1, eu-central-1"}},
		"unknown instance type": {func(i *Inventory, _ *Assumptions) { i.NodeGroups[0].InstanceTypes = []string{"c7g.large"} },
			[]string{"node group system", `no on-demand price for instance type "c7g.large"`, "m6i.large"}},
		"type not offered in the region": {func(i *Inventory, _ *Assumptions) {
			i.Region = "eu-west-1"
			i.NodeGroups[2].InstanceTypes = []string{"g6.xlarge"}
		}, []string{`no on-demand price for instance type "g6.xlarge" in eu-west-1`}},
		"spot type without a price": {func(i *Inventory, _ *Assumptions) {
			i.NodeGroups[1].InstanceTypes = append(i.NodeGroups[1].InstanceTypes, "r7i.xlarge")
		},
			[]string{"node group spot", `"r7i.xlarge"`}},
		"unknown volume type": {func(i *Inventory, _ *Assumptions) { i.NodeGroups[0].RootVolumeType = "io2" },
			[]string{`no price for EBS root volume type "io2"`}},
		"bucket without a size": {func(i *Inventory, _ *Assumptions) {
			i.Buckets = append(i.Buckets, Bucket{Name: "datasets", Role: "datasets"})
		},
			[]string{`no size assumption for bucket role "datasets"`, "bucketGB.datasets"}},
		"negative assumption": {func(_ *Inventory, a *Assumptions) { a.NATDataGBPerMonth = -1 },
			[]string{"natDataGBPerMonth: must be a number >= 0"}},
		"unknown capacity type": {func(i *Inventory, _ *Assumptions) { i.NodeGroups[0].Capacity = "CAPACITY_BLOCK" },
			[]string{`no price for capacity type "CAPACITY_BLOCK"`}},
	} {
		t.Run(name, func(t *testing.T) {
			inv, a := inventory(), DefaultAssumptions()
			tc.edit(&inv, &a)
			_, err := Prices.Price(inv, a)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	// Spot family missing from the snapshot, with an on-demand price.
	table := Prices
	table.Spot = table.Spot[1:] // drop m5
	_, err := table.SpotHourly("us-east-1", "m5.xlarge")
	assert.ErrorContains(t, err, `no spot discount for instance family "m5" in us-east-1`)
}

func TestJSONRoundTripAndDiff(t *testing.T) {
	base, err := Prices.Price(inventory(), DefaultAssumptions())
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, base.WriteJSON(&buf))
	back, err := ReadJSON(&buf)
	require.NoError(t, err)
	assert.Equal(t, base, back)

	inv := inventory()
	inv.NodeGroups[0].Desired = 3                      // +1 m6i.large
	inv.NATGateways = append(inv.NATGateways, "nat-1") // new
	inv.KMSKeys = nil                                  // gone
	head, err := Prices.Price(inv, DefaultAssumptions())
	require.NoError(t, err)

	diff := Diff(base, head)
	ids := make([]string, len(diff))
	for i, d := range diff {
		ids[i] = d.ID
	}
	assert.Equal(t, []string{"nodes/system", "nat/nat-1", "ebs/system", "kms/secrets"}, ids, "biggest change first")
	assert.InDelta(t, 0.096*730, diff[0].Delta(), 0.01)
	assert.Nil(t, diff[1].Base)
	assert.Nil(t, diff[3].Head)

	var md bytes.Buffer
	require.NoError(t, WriteDiffMarkdown(&md, base, head))
	out := md.String()
	assert.Contains(t, out, "### Cost estimate: `unit` (us-east-1)")
	assert.Contains(t, out, "| node group system | $140.16 | $210.24 | +$70.08 |")
	assert.Contains(t, out, "| NAT gateway nat-1 | — | $32.85 | +$32.85 |")
	assert.Contains(t, out, "| KMS key secrets | $1.00 | — | -$1.00 |")
	assert.Contains(t, out, "| **total** |")

	md.Reset()
	require.NoError(t, WriteDiffMarkdown(&md, base, base))
	assert.Contains(t, md.String(), "No resource changes its monthly cost.")

	_, err = ReadJSON(strings.NewReader(`{"lines": []}`))
	assert.ErrorContains(t, err, "no stack or region")
}

func TestAssumptionsFromText(t *testing.T) {
	a := DefaultAssumptions()
	require.NoError(t, a.Set("natDataGBPerMonth", "250"))
	require.NoError(t, a.Set("bucketGB", "models=500, datasets=20"))
	require.NoError(t, a.Set("bucketGB", `{"state": 3}`))
	assert.Equal(t, 250.0, a.NATDataGBPerMonth)
	assert.Equal(t, map[string]float64{"models": 500, "datasets": 20, "state": 3}, a.BucketGB)
	assert.ErrorContains(t, a.Set("gpuHoursPerDay", "lots"), `gpuHoursPerDay: "lots" is not a number`)
	assert.ErrorContains(t, a.Set("bucketGB", "models"), `bucketGB: "models" is not role=GB`)
	assert.ErrorContains(t, a.Set("natGB", "1"), "natGB: unknown key; the cost assumptions are natDataGBPerMonth, lcusPerLoadBalancer, bucketGB, controlPlaneLogGBPerMonth, gpuHoursPerDay")
}

func TestMoney(t *testing.T) {
	for v, want := range map[float64]string{0: "$0.00", 1234.5: "$1,234.50", 1234567.891: "$1,234,567.89", -73: "-$73.00", 999.999: "$1,000.00"} {
		assert.Equal(t, want, money(v), "%v", v)
	}
	assert.False(t, math.IsNaN(savingPercent(1, 0)))
}

// Issue 21 item 9: claimed volumes (Prometheus's TSDB) are priced per
// replica at gp3; another volume type is an error, never $0.
func TestClaimedVolumes(t *testing.T) {
	inv := inventory()
	inv.Volumes = []Volume{{Name: "metrics/prometheus", Count: 2, GiB: 50, Type: "gp3", Source: "Helm chart metrics, values prometheus.prometheusSpec.storageSpec"}}
	e, err := Prices.Price(inv, DefaultAssumptions())
	require.NoError(t, err)
	// 2 × 50 GiB × $0.08 = $8.00 (us-east-1).
	v := line(t, e, "pvc/metrics/prometheus")
	assert.Equal(t, 8.0, v.Monthly)
	assert.Equal(t, StorageCost, v.Category)
	assert.Equal(t, "2 × 50 GiB gp3 (Helm chart metrics, values prometheus.prometheusSpec.storageSpec)", v.Detail)

	inv.Volumes[0].Type = "io2"
	_, err = Prices.Price(inv, DefaultAssumptions())
	assert.ErrorContains(t, err, `volume metrics/prometheus: no price for EBS volume type "io2" (the table prices gp3)`)
}

// Setup's GPU quota check counts vCPUs (cmd/aiplatform gpuQuotaNeeds), so
// every instance row has its count: Amazon EC2 instance types,
// "Specifications" (large 2, xlarge 4, 2xlarge 8, g5.12xlarge 48).
func TestEveryInstanceHasItsVCPUs(t *testing.T) {
	for _, i := range Prices.Instances {
		size := i.Type[strings.Index(i.Type, ".")+1:]
		want := map[string]int{"large": 2, "xlarge": 4, "2xlarge": 8, "12xlarge": 48}[size]
		if want == 0 {
			t.Errorf("%s: size %q has no expected vCPU count here; add it", i.Type, size)
		}
		if i.VCPUs != want {
			t.Errorf("%s: %d vCPUs, want %d", i.Type, i.VCPUs, want)
		}
	}
}
