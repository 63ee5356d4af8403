package nodegroups

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

const gi = int64(1) << 30

var gpuTaint = Taint{Key: "nvidia.com/gpu", Value: "true", Effect: NoSchedule}

// gpuGroup is a GPU node group the way the platform labels and taints them.
func gpuGroup(name string, cpus, memGi, gpus int64, lo, hi int) Group {
	return Group{Name: name, Labels: map[string]string{"node-type": "gpu"}, Taints: []Taint{gpuTaint},
		Allocatable: Resources{MilliCPU: cpus * 1000, Memory: memGi * gi, GPU: gpus, Pods: 110}, Min: lo, Max: hi}
}

func cpuGroup(name string, cpus, memGi int64, lo, hi int) Group {
	return Group{Name: name, Labels: map[string]string{"node-type": "cpu"},
		Allocatable: Resources{MilliCPU: cpus * 1000, Memory: memGi * gi, Pods: 110}, Min: lo, Max: hi}
}

// tritonPod asks for one GPU, 3 CPUs and 12 GiB, selects GPU nodes and
// tolerates their taint; node "" makes it pending and unschedulable.
func tritonPod(name, node string) Pod {
	return Pod{Namespace: "inference", Name: name, Node: node, Unschedulable: node == "",
		Requests:     Resources{MilliCPU: 3000, Memory: 12 * gi, GPU: 1},
		NodeSelector: map[string]string{"node-type": "gpu"},
		Tolerations:  []Toleration{{Key: "nvidia.com/gpu", Effect: NoSchedule}}}
}

func pending(n int) []Pod {
	var pods []Pod
	for i := range n {
		pods = append(pods, tritonPod(fmt.Sprintf("triton-%d", i), ""))
	}
	return pods
}

func newAutoscaler(t *testing.T, p Params, groups ...Group) *Autoscaler {
	t.Helper()
	a, err := New(groups, p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func launch1(at time.Duration, group, node string) Action {
	return Action{At: at, Kind: Launch, Group: group, Node: node}
}

func check(t *testing.T, got, want []Action) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("actions:\n got %+v\nwant %+v", got, want)
	}
}

func TestScaleUpPicksTheFittingGroupAndCount(t *testing.T) {
	cpuPods := func(n int) []Pod {
		var pods []Pod
		for i := range n {
			pods = append(pods, Pod{Namespace: "default", Name: fmt.Sprintf("web-%d", i), Unschedulable: true,
				Requests: Resources{MilliCPU: 3000, Memory: gi}, NodeSelector: map[string]string{"node-type": "cpu"}})
		}
		return pods
	}
	for _, tc := range []struct {
		name   string
		groups []Group
		nodes  []Node
		pods   []Pod
		want   []Action
	}{
		{"GPU pods go to the GPU group, one node per GPU",
			[]Group{cpuGroup("cpu", 64, 256, 0, 10), gpuGroup("gpu-g5", 8, 32, 1, 0, 10)}, nil, pending(3),
			[]Action{launch1(0, "gpu-g5", "gpu-g5-ca-1"), launch1(0, "gpu-g5", "gpu-g5-ca-2"), launch1(0, "gpu-g5", "gpu-g5-ca-3")}},
		// gpu-big wastes (16-3)/16 + (64-12)/64 = 1.625, gpu-small
		// (4-3)/4 + (16-12)/16 = 0.5; by name alone gpu-big would win.
		{"least waste picks the smaller node that fits",
			[]Group{gpuGroup("gpu-big", 16, 64, 1, 0, 10), gpuGroup("gpu-small", 4, 16, 1, 0, 10)}, nil, pending(1),
			[]Action{launch1(0, "gpu-small", "gpu-small-ca-1")}},
		{"a group too small for the pod is not an option",
			[]Group{gpuGroup("gpu-a-tiny", 2, 8, 1, 0, 10), gpuGroup("gpu-b", 8, 32, 1, 0, 10)}, nil, pending(1),
			[]Action{launch1(0, "gpu-b", "gpu-b-ca-1")}},
		{"two GPUs per node take two pods each",
			[]Group{gpuGroup("gpu-x2", 16, 64, 2, 0, 10)}, nil, pending(3),
			[]Action{launch1(0, "gpu-x2", "gpu-x2-ca-1"), launch1(0, "gpu-x2", "gpu-x2-ca-2")}},
		{"CPU pods are packed first-fit: two of 3 CPUs on an 8-CPU node",
			[]Group{cpuGroup("cpu", 8, 32, 0, 10), gpuGroup("gpu", 8, 32, 1, 0, 10)}, nil, cpuPods(5),
			[]Action{launch1(0, "cpu", "cpu-ca-1"), launch1(0, "cpu", "cpu-ca-2"), launch1(0, "cpu", "cpu-ca-3")}},
		{"equal waste goes to the first group by name",
			[]Group{gpuGroup("gpu-b", 8, 32, 1, 0, 10), gpuGroup("gpu-a", 8, 32, 1, 0, 10)}, nil, pending(1),
			[]Action{launch1(0, "gpu-a", "gpu-a-ca-1")}},
		{"a pod that fits a registered node triggers nothing",
			[]Group{gpuGroup("gpu", 8, 32, 1, 0, 10)}, []Node{{Name: "n1", Group: "gpu", Ready: true}}, pending(1), nil},
		{"a pod that fits a registered node not ready yet triggers nothing",
			[]Group{gpuGroup("gpu", 8, 32, 1, 0, 10)}, []Node{{Name: "n1", Group: "gpu"}}, pending(1), nil},
		{"only the pods that do not fit existing nodes count",
			[]Group{gpuGroup("gpu", 8, 32, 1, 0, 10)}, []Node{{Name: "n1", Group: "gpu", Ready: true}}, pending(3),
			[]Action{launch1(0, "gpu", "gpu-ca-1"), launch1(0, "gpu", "gpu-ca-2")}},
		{"nodes of unknown groups are ignored",
			[]Group{gpuGroup("gpu", 8, 32, 1, 0, 10)}, []Node{{Name: "sys-1", Group: "system", Ready: true}}, pending(1),
			[]Action{launch1(0, "gpu", "gpu-ca-1")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAutoscaler(t, PlatformParams(), tc.groups...)
			check(t, a.Scan(0, tc.nodes, tc.pods), tc.want)
		})
	}
}

func TestNoSecondLaunchWhileOneIsInFlight(t *testing.T) {
	p := PlatformParams() // node boot 4m, max-node-provision-time 15m
	a := newAutoscaler(t, p, gpuGroup("gpu", 8, 32, 1, 0, 10))
	pods := pending(2)
	check(t, a.Scan(0, nil, pods), []Action{launch1(0, "gpu", "gpu-ca-1"), launch1(0, "gpu", "gpu-ca-2")})
	check(t, a.Scan(10*time.Second, nil, pods), nil)
	// One more pod: only one more node.
	check(t, a.Scan(20*time.Second, nil, pending(3)), []Action{launch1(20*time.Second, "gpu", "gpu-ca-3")})
	// Registered, not ready: still capacity for the same pods.
	booted := []Node{{Name: "gpu-ca-1", Group: "gpu"}, {Name: "gpu-ca-2", Group: "gpu"}}
	check(t, a.Scan(4*time.Minute, booted, pending(3)), nil)
	// gpu-ca-3 never registers: at 20s+15m it is given up and replaced.
	at := 20*time.Second + 15*time.Minute
	check(t, a.Scan(at-10*time.Second, booted, pending(3)), nil)
	check(t, a.Scan(at, booted, pending(3)), []Action{{At: at, Kind: Delete, Group: "gpu", Node: "gpu-ca-3"}, launch1(at, "gpu", "gpu-ca-4")})
}

func TestScaleUpRespectsMax(t *testing.T) {
	a := newAutoscaler(t, PlatformParams(), gpuGroup("gpu", 8, 32, 1, 0, 3))
	nodes := []Node{{Name: "n1", Group: "gpu", Ready: true}}
	pods := append(pending(5), tritonPod("busy", "n1"))
	check(t, a.Scan(0, nodes, pods), []Action{launch1(0, "gpu", "gpu-ca-1"), launch1(0, "gpu", "gpu-ca-2")})
	check(t, a.Scan(10*time.Second, nodes, pods), nil)
}

func TestPodsThatCannotRunOnTheGroupTriggerNothing(t *testing.T) {
	noToleration := tritonPod("p", "")
	noToleration.Tolerations = nil
	wrongSelector := tritonPod("p", "")
	wrongSelector.NodeSelector = map[string]string{"node-type": "inferentia"}
	wrongValue := tritonPod("p", "")
	wrongValue.Tolerations = []Toleration{{Key: "nvidia.com/gpu", Value: "false"}}
	wrongEffect := tritonPod("p", "")
	wrongEffect.Tolerations = []Toleration{{Key: "nvidia.com/gpu", Effect: NoExecute}}
	tolerateAll := tritonPod("p", "")
	tolerateAll.Tolerations = []Toleration{{}}
	noExecute := gpuGroup("gpu", 8, 32, 1, 0, 10)
	noExecute.Taints = append(noExecute.Taints, Taint{Key: "maintenance", Effect: NoExecute})
	soft := gpuGroup("gpu", 8, 32, 1, 0, 10)
	soft.Taints = []Taint{{Key: "nvidia.com/gpu", Value: "true", Effect: PreferNoSchedule}}
	for _, tc := range []struct {
		name  string
		group Group
		pod   Pod
		fits  bool
	}{
		{"untolerated NoSchedule taint", gpuGroup("gpu", 8, 32, 1, 0, 10), noToleration, false},
		{"toleration for another value", gpuGroup("gpu", 8, 32, 1, 0, 10), wrongValue, false},
		{"toleration for another effect", gpuGroup("gpu", 8, 32, 1, 0, 10), wrongEffect, false},
		{"node selector no group matches", gpuGroup("gpu", 8, 32, 1, 0, 10), wrongSelector, false},
		{"empty toleration tolerates every taint", gpuGroup("gpu", 8, 32, 1, 0, 10), tolerateAll, true},
		{"PreferNoSchedule does not keep the pod off", soft, noToleration, true},
		{"untolerated NoExecute taint", noExecute, tritonPod("p", ""), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAutoscaler(t, PlatformParams(), tc.group)
			got := a.Scan(0, nil, []Pod{tc.pod})
			if fits := len(got) == 1; fits != tc.fits {
				t.Errorf("launched %+v, want a launch: %v", got, tc.fits)
			}
		})
	}
}

// run scans every ScanInterval from 0 to end (inclusive) with the nodes and
// pods of each moment, leaving out nodes it was told to delete, and returns
// every action.
func run(a *Autoscaler, end time.Duration, world func(at time.Duration) ([]Node, []Pod)) []Action {
	var all []Action
	gone := map[string]bool{}
	for at := time.Duration(0); at <= end; at += a.Params().ScanInterval {
		nodes, pods := world(at)
		var live []Node
		for _, n := range nodes {
			if !gone[n.Name] {
				live = append(live, n)
			}
		}
		for _, act := range a.Scan(at, live, pods) {
			if act.Kind == Delete {
				gone[act.Node] = true
			}
			all = append(all, act)
		}
	}
	return all
}

func static(nodes []Node, pods []Pod) func(time.Duration) ([]Node, []Pod) {
	return func(time.Duration) ([]Node, []Pod) { return nodes, pods }
}

func readyNodes(group string, names ...string) []Node {
	var nodes []Node
	for _, n := range names {
		nodes = append(nodes, Node{Name: n, Group: group, Ready: true})
	}
	return nodes
}

func del(at time.Duration, group, node string) Action {
	return Action{At: at, Kind: Delete, Group: group, Node: node}
}

func drain(at time.Duration, group, node string) []Action {
	return []Action{{At: at, Kind: Drain, Group: group, Node: node}, del(at, group, node)}
}

func TestScaleDownOnlyAfterUnneededTime(t *testing.T) {
	gpu := gpuGroup("gpu", 8, 32, 1, 0, 10)
	for _, tc := range []struct {
		name  string
		p     func(Params) Params
		world func(time.Duration) ([]Node, []Pod)
		want  []Action
	}{
		{"an empty node goes once unneeded for 10m", nil,
			static(readyNodes("gpu", "n1"), nil), []Action{del(10*time.Minute, "gpu", "n1")}},
		{"the clock starts when the node becomes empty", nil,
			func(at time.Duration) ([]Node, []Pod) {
				if at < 3*time.Minute {
					return readyNodes("gpu", "n1"), []Pod{tritonPod("p", "n1")}
				}
				return readyNodes("gpu", "n1"), nil
			}, []Action{del(13*time.Minute, "gpu", "n1")}},
		{"a node needed again in between restarts the clock", nil,
			func(at time.Duration) ([]Node, []Pod) {
				if at >= 5*time.Minute && at < 6*time.Minute {
					return readyNodes("gpu", "n1"), []Pod{tritonPod("p", "n1")}
				}
				return readyNodes("gpu", "n1"), nil
			}, []Action{del(16*time.Minute, "gpu", "n1")}},
		{"the platform's unneeded time from config", func(p Params) Params { p.UnneededTime = 3 * time.Minute; return p },
			static(readyNodes("gpu", "n1"), nil), []Action{del(3*time.Minute, "gpu", "n1")}},
		{"an unready node waits scale-down-unready-time (20m)", nil,
			static([]Node{{Name: "n1", Group: "gpu"}}, nil), []Action{del(20*time.Minute, "gpu", "n1")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PlatformParams()
			if tc.p != nil {
				p = tc.p(p)
			}
			check(t, run(newAutoscaler(t, p, gpu), 30*time.Minute, tc.world), tc.want)
		})
	}
}

func TestScaleDownWaitsDelayAfterAdd(t *testing.T) {
	// At 0 a pod that only group gpu-b can host makes it scale up while
	// n1 (gpu-a) is empty; the pod is gone by the next scan and the launch
	// never registers.
	b := gpuGroup("gpu-b", 8, 32, 1, 0, 10)
	b.Labels = map[string]string{"node-type": "gpu", "model": "llm"}
	onlyB := tritonPod("llm", "")
	onlyB.NodeSelector = map[string]string{"model": "llm"}
	world := func(at time.Duration) ([]Node, []Pod) {
		if at == 0 {
			return readyNodes("gpu-a", "n1"), []Pod{onlyB}
		}
		return readyNodes("gpu-a", "n1"), nil
	}
	for _, tc := range []struct {
		name     string
		delay    time.Duration
		deleteAt time.Duration
	}{
		// The scan that scales up does not scale down, so n1 is unneeded
		// from the next scan, 10s.
		{"the platform's 5m is shorter than the unneeded time", 5 * time.Minute, 10*time.Minute + 10*time.Second},
		{"a delay of 12m holds the unneeded node longer", 12 * time.Minute, 12 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PlatformParams()
			p.DelayAfterAdd = tc.delay
			got := run(newAutoscaler(t, p, gpuGroup("gpu-a", 8, 32, 1, 0, 10), b), 14*time.Minute, world)
			check(t, got, []Action{launch1(0, "gpu-b", "gpu-b-ca-1"), del(tc.deleteAt, "gpu-a", "n1")})
		})
	}
}

func TestScaleDownKeepsMin(t *testing.T) {
	a := newAutoscaler(t, PlatformParams(), gpuGroup("gpu", 8, 32, 1, 2, 10))
	got := run(a, 40*time.Minute, static(readyNodes("gpu", "n1", "n2", "n3"), nil))
	check(t, got, []Action{del(10*time.Minute, "gpu", "n1")})
}

func TestUnneededByUtilisation(t *testing.T) {
	gpu4 := gpuGroup("gpu4", 64, 256, 4, 0, 10)
	pod := func(name, node string, cpus, gpus int64) Pod {
		p := tritonPod(name, node)
		p.Requests = Resources{MilliCPU: cpus * 1000, Memory: gi, GPU: gpus}
		return p
	}
	webPod := func(name, node string, cpus int64) Pod {
		return Pod{Namespace: "default", Name: name, Node: node, Requests: Resources{MilliCPU: cpus * 1000, Memory: gi},
			NodeSelector: map[string]string{"node-type": "cpu"}}
	}
	at := 10 * time.Minute
	for _, tc := range []struct {
		name   string
		groups []Group
		nodes  []Node
		pods   []Pod
		want   []Action
	}{
		{"a GPU node counts its GPU share only: 1 of 4 GPUs with 90% of the CPU is unneeded",
			[]Group{gpu4}, readyNodes("gpu4", "n1", "n2"),
			[]Pod{pod("a", "n1", 58, 1), pod("b", "n2", 1, 3)}, drain(at, "gpu4", "n1")},
		{"a GPU node with all its GPUs requested stays; the empty one goes",
			[]Group{gpuGroup("gpu", 8, 32, 1, 0, 10)}, readyNodes("gpu", "n1", "n2"),
			[]Pod{pod("a", "n1", 1, 1)}, []Action{del(at, "gpu", "n2")}},
		{"at the threshold (2 of 4 GPUs) a node is needed",
			[]Group{gpu4}, readyNodes("gpu4", "n1", "n2"),
			[]Pod{pod("a", "n1", 1, 2), pod("b", "n2", 1, 1)}, drain(at, "gpu4", "n2")},
		{"a CPU node at 40% whose pods fit elsewhere is unneeded",
			[]Group{cpuGroup("cpu", 10, 64, 0, 10)}, readyNodes("cpu", "n1", "n2"),
			[]Pod{webPod("a", "n1", 4), webPod("b", "n2", 6)}, drain(at, "cpu", "n1")},
		{"a CPU node at 60% is needed",
			[]Group{cpuGroup("cpu", 10, 64, 0, 10)}, readyNodes("cpu", "n1", "n2"),
			[]Pod{webPod("a", "n1", 6), webPod("b", "n2", 6)}, nil},
		{"a node whose pods fit nowhere else stays",
			[]Group{gpu4}, readyNodes("gpu4", "n1", "n2"),
			[]Pod{pod("a", "n1", 1, 1), pod("b", "n2", 1, 4)}, nil},
		{"pods do not move to a node they cannot run on",
			[]Group{gpu4, cpuGroup("cpu", 64, 256, 0, 10)}, append(readyNodes("gpu4", "n1"), readyNodes("cpu", "c1")...),
			[]Pod{pod("a", "n1", 1, 1), webPod("web", "c1", 40)}, nil},
		{"pods do not move to an unready node",
			[]Group{gpu4}, append(readyNodes("gpu4", "n1"), Node{Name: "n2", Group: "gpu4"}),
			[]Pod{pod("a", "n1", 1, 1), pod("b", "n2", 1, 2)}, nil},
		// n1's pod takes n0's last GPU in the simulation, so n2's pod
		// fits nowhere: n2 is needed, and becomes unneeded only once n1
		// is gone (10m10s), so it is not drained then.
		{"two nodes cannot both rely on the same room",
			[]Group{gpu4}, readyNodes("gpu4", "n0", "n1", "n2"),
			[]Pod{pod("c", "n0", 1, 3), pod("a", "n1", 1, 1), pod("b", "n2", 1, 1)}, drain(at, "gpu4", "n1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(newAutoscaler(t, PlatformParams(), tc.groups...), at+10*time.Second, static(tc.nodes, tc.pods))
			check(t, got, tc.want)
		})
	}
}

func TestNonEmptyNodesGoOneAtATime(t *testing.T) {
	g := gpuGroup("gpu4", 64, 256, 4, 0, 10)
	one := func(name, node string) Pod {
		p := tritonPod(name, node)
		p.Requests = Resources{MilliCPU: 1000, Memory: gi, GPU: 1}
		return p
	}
	world := static(readyNodes("gpu4", "n1", "n2", "n3"), []Pod{one("a", "n1"), one("b", "n2")})
	got := run(newAutoscaler(t, PlatformParams(), g), 11*time.Minute, world)
	// n3 is empty and goes with n1's drain (n1's pod moves to n2, which
	// is then half used); n2 is the last node and stays.
	want := append([]Action{del(10*time.Minute, "gpu4", "n3")}, drain(10*time.Minute, "gpu4", "n1")...)
	check(t, got, want)

	// Both n1 and n2 can move to big, but the second drain waits for the
	// next scan (scale-down-delay-after-delete is the scan interval).
	nodes := readyNodes("gpu4", "n1", "n2", "big")
	two := one("c", "big")
	two.Requests.GPU = 2
	pods := []Pod{one("a", "n1"), one("b", "n2"), two}
	got = run(newAutoscaler(t, PlatformParams(), g), 11*time.Minute, static(nodes, pods))
	want = append(drain(10*time.Minute, "gpu4", "n1"), drain(10*time.Minute+10*time.Second, "gpu4", "n2")...)
	check(t, got, want)
}

func TestEmptyNodesGoInBulk(t *testing.T) {
	var names []string
	for i := range 12 {
		names = append(names, fmt.Sprintf("n%02d", i))
	}
	for _, tc := range []struct {
		name      string
		bulk      int
		perScan   []int
		scanTimes []time.Duration
	}{
		{"max-empty-bulk-delete 10 (default)", 0, []int{10, 2}, []time.Duration{10 * time.Minute, 10*time.Minute + 10*time.Second}},
		{"max-empty-bulk-delete 5", 5, []int{5, 5, 2}, []time.Duration{10 * time.Minute, 10*time.Minute + 10*time.Second, 10*time.Minute + 20*time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PlatformParams()
			p.MaxEmptyBulkDelete = tc.bulk
			got := run(newAutoscaler(t, p, gpuGroup("gpu", 8, 32, 1, 0, 20)), 12*time.Minute, static(readyNodes("gpu", names...), nil))
			var want []Action
			next := 0
			for i, n := range tc.perScan {
				for range n {
					want = append(want, del(tc.scanTimes[i], "gpu", names[next]))
					next++
				}
			}
			check(t, got, want)
		})
	}
}

func TestBalanceSimilarNodeGroups(t *testing.T) {
	zone := func(name, z string, hi int) Group {
		g := gpuGroup(name, 8, 32, 1, 0, hi)
		g.Labels = map[string]string{"node-type": "gpu", "topology.kubernetes.io/zone": z, "eks.amazonaws.com/nodegroup": name}
		return g
	}
	inZoneB := tritonPod("zonal", "")
	inZoneB.NodeSelector = map[string]string{"node-type": "gpu", "topology.kubernetes.io/zone": "b"}
	for _, tc := range []struct {
		name    string
		balance bool
		groups  []Group
		nodes   []Node
		pods    []Pod
		want    []Action
	}{
		{"four nodes split two and two", true, []Group{zone("gpu-a", "a", 10), zone("gpu-b", "b", 10)}, nil, pending(4),
			[]Action{launch1(0, "gpu-a", "gpu-a-ca-1"), launch1(0, "gpu-a", "gpu-a-ca-2"), launch1(0, "gpu-b", "gpu-b-ca-3"), launch1(0, "gpu-b", "gpu-b-ca-4")}},
		{"the smaller group grows first", true, []Group{zone("gpu-a", "a", 10), zone("gpu-b", "b", 10)},
			readyNodes("gpu-a", "a1"), append(pending(3), tritonPod("busy", "a1")),
			[]Action{launch1(0, "gpu-a", "gpu-a-ca-1"), launch1(0, "gpu-b", "gpu-b-ca-2"), launch1(0, "gpu-b", "gpu-b-ca-3")}},
		{"a full group leaves the rest to the other", true, []Group{zone("gpu-a", "a", 1), zone("gpu-b", "b", 10)}, nil, pending(3),
			[]Action{launch1(0, "gpu-a", "gpu-a-ca-1"), launch1(0, "gpu-b", "gpu-b-ca-2"), launch1(0, "gpu-b", "gpu-b-ca-3")}},
		{"a pod for one zone grows only that zone", true, []Group{zone("gpu-a", "a", 10), zone("gpu-b", "b", 10)}, nil, []Pod{inZoneB},
			[]Action{launch1(0, "gpu-b", "gpu-b-ca-1")}},
		{"without balancing one group takes all", false, []Group{zone("gpu-a", "a", 10), zone("gpu-b", "b", 10)}, nil, pending(2),
			[]Action{launch1(0, "gpu-a", "gpu-a-ca-1"), launch1(0, "gpu-a", "gpu-a-ca-2")}},
		{"groups with other labels are not similar", true,
			[]Group{zone("gpu-a", "a", 10), func() Group { g := zone("gpu-b", "b", 10); g.Labels["model"] = "llm"; return g }()}, nil, pending(2),
			[]Action{launch1(0, "gpu-a", "gpu-a-ca-1"), launch1(0, "gpu-a", "gpu-a-ca-2")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PlatformParams()
			p.BalanceSimilarNodeGroups = tc.balance
			check(t, newAutoscaler(t, p, tc.groups...).Scan(0, tc.nodes, tc.pods), tc.want)
		})
	}
}

func TestScanRunsOncePerScanInterval(t *testing.T) {
	a := newAutoscaler(t, PlatformParams(), gpuGroup("gpu", 8, 32, 1, 0, 10))
	check(t, a.Scan(0, nil, nil), nil)
	check(t, a.Scan(5*time.Second, nil, pending(1)), nil)
	check(t, a.Scan(10*time.Second, nil, pending(1)), []Action{launch1(10*time.Second, "gpu", "gpu-ca-1")})
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "must not go back") {
			t.Errorf("a scan back in time: recovered %v, want a panic about the clock", r)
		}
	}()
	a.Scan(time.Second, nil, nil)
}

func TestNewRejectsBadInput(t *testing.T) {
	good := gpuGroup("gpu", 8, 32, 1, 0, 10)
	for _, tc := range []struct {
		name   string
		groups []Group
		p      Params
		want   []string
	}{
		{"no groups", nil, Params{}, []string{"groups: none given"}},
		{"bad name, duplicate, sizes, taint", []Group{
			{Name: "GPU_1", Allocatable: Resources{MilliCPU: 1, Memory: 1, Pods: 1}, Max: 1},
			good, good,
			{Name: "x", Min: 3, Max: 2, Taints: []Taint{{Effect: "NoRun"}}},
		}, Params{}, []string{
			`groups[0] (GPU_1).name: "GPU_1" must be a lowercase DNS label`,
			`groups[2] (gpu).name: "gpu" is also groups[1]`,
			"groups[3] (x).allocatable:", "groups[3] (x).max: 2 must be >= 1 and >= min (3)",
			"groups[3] (x).taints[0].key: must not be empty", `groups[3] (x).taints[0].effect: "NoRun" is not one of`,
		}},
		{"bad params", []Group{good}, Params{ScanInterval: -time.Second, UtilizationThreshold: 1.5, Expander: "random",
			NodeBoot: 20 * time.Minute, MaxEmptyBulkDelete: -1}, []string{
			"params.scanInterval: -1s must not be negative", "params.utilizationThreshold: 1.5 must be in (0, 1]",
			`params.expander: "random" is not modelled; allowed: "least-waste"`,
			"params.nodeBoot: 20m0s must be shorter than maxNodeProvisionTime (15m0s)",
			"params.maxEmptyBulkDelete: -1 must be >= 1",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.groups, tc.p)
			if err == nil {
				t.Fatal("New accepted bad input")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

func TestParamsDefaultsAndScale(t *testing.T) {
	a := newAutoscaler(t, Params{}, gpuGroup("gpu", 8, 32, 1, 0, 10))
	want := Params{ScanInterval: 10 * time.Second, UnneededTime: 10 * time.Minute, UnreadyTime: 20 * time.Minute,
		DelayAfterAdd: 10 * time.Minute, DelayAfterDelete: 10 * time.Second, MaxNodeProvisionTime: 15 * time.Minute,
		UtilizationThreshold: 0.5, MaxEmptyBulkDelete: 10, Expander: LeastWaste}
	if got := a.Params(); got != want {
		t.Errorf("defaults: got %+v\nwant %+v", got, want)
	}
	scaled, err := PlatformParams().Scale(20)
	if err != nil {
		t.Fatal(err)
	}
	want = Params{ScanInterval: 500 * time.Millisecond, UnneededTime: 30 * time.Second, UnreadyTime: time.Minute,
		DelayAfterAdd: 15 * time.Second, DelayAfterDelete: 500 * time.Millisecond, NodeBoot: 12 * time.Second,
		MaxNodeProvisionTime: 45 * time.Second, UtilizationThreshold: 0.5, MaxEmptyBulkDelete: 10, Expander: LeastWaste,
		BalanceSimilarNodeGroups: true}
	if scaled != want {
		t.Errorf("scaled by 20: got %+v\nwant %+v", scaled, want)
	}
	if _, err := PlatformParams().Scale(0); err == nil || !strings.Contains(err.Error(), "scale factor: 0 must be > 0") {
		t.Errorf("Scale(0): %v", err)
	}
}
