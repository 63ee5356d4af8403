package nodegroups

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Node is a registered node of one of the groups, as the API server shows
// it.
type Node struct {
	Name, Group string
	Ready       bool
}

// Pod is a pod as the scheduler left it.
type Pod struct {
	Namespace, Name string
	// Node is spec.nodeName, "" while the pod is not bound.
	Node string
	// Unschedulable: condition PodScheduled=False with reason Unschedulable,
	// which is how CA recognises pods it should help (FAQ.md, "How does
	// scale-up work?").
	Unschedulable bool
	Requests      Resources
	NodeSelector  map[string]string
	Tolerations   []Toleration
	// Terminating: metadata.deletionTimestamp is set.
	Terminating bool
}

// ActionKind is what the caller must do.
type ActionKind string

const (
	// Launch: create Node in Group (the group's labels, taints and
	// allocatable) NodeBoot after At.
	Launch ActionKind = "launch"
	// Drain: evict Node's pods (CA taints the node and evicts its pods;
	// their controllers recreate them elsewhere). A Delete of the same node
	// follows in the same Scan.
	Drain ActionKind = "drain"
	// Delete: remove Node. For a launched node that never registered, cancel
	// the launch. From then on Scan ignores the node (and the pods on it)
	// while the caller still lists it.
	Delete ActionKind = "delete"
)

// Action is one step for the caller, in the order Scan returns them.
type Action struct {
	At    time.Duration
	Kind  ActionKind
	Group string
	Node  string
}

// Autoscaler is the CA stand-in's state between scans: launches in flight,
// how long each node has been unneeded, and the last scale-up and deletion.
// It is not safe for concurrent use.
type Autoscaler struct {
	groups []*Group // by name
	byName map[string]*Group
	p      Params

	scanned  bool
	lastScan time.Duration

	scaledUp    bool
	lastScaleUp time.Duration
	deleted     bool
	lastDelete  time.Duration

	launches      map[string]launch        // node name -> launch not registered yet
	unneededSince map[string]time.Duration // node name -> first scan it was unneeded in a row
	removed       map[string]bool          // nodes this autoscaler deleted
	seq           int
}

type launch struct {
	group string
	at    time.Duration
}

// New checks the groups and params (zero params take CA's defaults) and
// returns an autoscaler with nothing in flight.
func New(groups []Group, p Params) (*Autoscaler, error) {
	p = p.withDefaults()
	if err := errors.Join(validateGroups(groups), p.validate()); err != nil {
		return nil, fmt.Errorf("nodegroups: %w", err)
	}
	a := &Autoscaler{byName: map[string]*Group{}, p: p, launches: map[string]launch{},
		unneededSince: map[string]time.Duration{}, removed: map[string]bool{}}
	for _, g := range groups {
		g.Labels = maps.Clone(g.Labels)
		g.Taints = slices.Clone(g.Taints)
		a.groups = append(a.groups, &g)
		a.byName[g.Name] = &g
	}
	slices.SortFunc(a.groups, func(x, y *Group) int { return cmp.Compare(x.Name, y.Name) })
	return a, nil
}

// Params are the params in use, defaults filled (NodeBoot among them).
func (a *Autoscaler) Params() Params { return a.p }

// Scan is one CA loop at simulated time now over the registered nodes and
// the pods. It does nothing when called sooner than ScanInterval after the
// previous scan that ran, so the caller may call it on every tick. As in CA
// (core/static_autoscaler.go RunOnce), a scan that scales up does not scale
// down.
func (a *Autoscaler) Scan(now time.Duration, nodes []Node, pods []Pod) []Action {
	if a.scanned && now < a.lastScan {
		panic(fmt.Sprintf("nodegroups: Scan at %v is before the previous scan at %v; the clock must not go back", now, a.lastScan))
	}
	if a.scanned && now < a.lastScan+a.p.ScanInterval {
		return nil
	}
	a.scanned, a.lastScan = true, now
	actions := a.expireLaunches(now, nodes)
	c := a.snapshot(nodes, pods)
	if up := a.scaleUp(now, c); len(up) > 0 {
		a.scaledUp, a.lastScaleUp = true, now
		return append(actions, up...)
	}
	return append(actions, a.scaleDown(now, c)...)
}

// expireLaunches forgets launches whose node registered, and gives up on
// those not registered within MaxNodeProvisionTime: CA stops counting them
// as upcoming and removes them (FAQ.md, "How does scale-up work?").
func (a *Autoscaler) expireLaunches(now time.Duration, nodes []Node) []Action {
	for _, n := range nodes {
		delete(a.launches, n.Name)
	}
	var actions []Action
	for _, name := range slices.Sorted(maps.Keys(a.launches)) {
		l := a.launches[name]
		if now >= l.at+a.p.MaxNodeProvisionTime {
			delete(a.launches, name)
			a.removed[name] = true
			actions = append(actions, Action{At: now, Kind: Delete, Group: l.group, Node: name})
		}
	}
	return actions
}

// simNode is a node in the scan's simulation: its pods and what they
// request.
type simNode struct {
	name  string
	group *Group
	ready bool
	empty bool // no pods when the scan began
	used  Resources
	pods  []*Pod
}

// request is what a pod takes from a node: its requests and one pod slot.
func request(p *Pod) Resources {
	r := p.Requests
	r.Pods = 1
	return r
}

// fitsWith reports whether p fits n with extra already placed on it.
func (n *simNode) fitsWith(p *Pod, extra Resources) bool {
	if !schedulable(p, n.group) {
		return false
	}
	need, free := n.used.plus(extra).plus(request(p)), n.group.Allocatable
	return need.MilliCPU <= free.MilliCPU && need.Memory <= free.Memory && need.GPU <= free.GPU && need.Pods <= free.Pods
}

func (n *simNode) add(p *Pod) {
	n.used = n.used.plus(request(p))
	n.pods = append(n.pods, p)
}

// utilisation is CA's: on a GPU node the GPU share requested alone, on
// others the larger of the CPU and memory shares (simulator/utilization/
// info.go Calculate: "Skips cpu and memory utilization calculation for node
// with GPU").
func (n *simNode) utilisation() float64 {
	a := n.group.Allocatable
	if a.GPU > 0 {
		return float64(n.used.GPU) / float64(a.GPU)
	}
	return max(float64(n.used.MilliCPU)/float64(a.MilliCPU), float64(n.used.Memory)/float64(a.Memory))
}

func firstFit(p *Pod, nodes []*simNode) *simNode {
	for _, n := range nodes {
		if n.fitsWith(p, Resources{}) {
			n.add(p)
			return n
		}
	}
	return nil
}

// schedulable reports whether p may run on a node of g at all: its node
// selector matches the group's labels and it tolerates every NoSchedule and
// NoExecute taint (the scheduler's NodeSelector and TaintToleration
// filters; CA checks pods against a template node of each group).
func schedulable(p *Pod, g *Group) bool {
	for k, v := range p.NodeSelector {
		if got, ok := g.Labels[k]; !ok || got != v {
			return false
		}
	}
	for _, t := range g.Taints {
		if t.Effect == PreferNoSchedule {
			continue
		}
		if !slices.ContainsFunc(p.Tolerations, func(tol Toleration) bool { return tol.tolerates(t) }) {
			return false
		}
	}
	return true
}

// byDecreasingSize orders pods for first-fit-decreasing packing: GPU, then
// CPU, then memory, larger first; then by namespace and name.
func byDecreasingSize(x, y *Pod) int {
	return cmp.Or(cmp.Compare(y.Requests.GPU, x.Requests.GPU), cmp.Compare(y.Requests.MilliCPU, x.Requests.MilliCPU),
		cmp.Compare(y.Requests.Memory, x.Requests.Memory), cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.Name, y.Name))
}

// cluster is the scan's simulated view.
type cluster struct {
	nodes   []*simNode // registered nodes of the groups, not removed, by name
	pending []*Pod     // unschedulable pods, by decreasing size
	size    map[string]int
}

// snapshot builds the scan's view. A group's size is CA's target size: its
// registered nodes plus launches in flight.
func (a *Autoscaler) snapshot(nodes []Node, pods []Pod) *cluster {
	c := &cluster{size: map[string]int{}}
	byName := map[string]*simNode{}
	for _, n := range nodes {
		g := a.byName[n.Group]
		if g == nil || a.removed[n.Name] || byName[n.Name] != nil {
			continue
		}
		sn := &simNode{name: n.Name, group: g, ready: n.Ready}
		c.nodes = append(c.nodes, sn)
		byName[n.Name] = sn
		c.size[g.Name]++
	}
	slices.SortFunc(c.nodes, func(x, y *simNode) int { return cmp.Compare(x.name, y.name) })
	for _, l := range a.launches {
		c.size[l.group]++
	}
	for i := range pods {
		p := &pods[i]
		switch {
		case p.Terminating:
		case p.Node == "":
			if p.Unschedulable {
				c.pending = append(c.pending, p)
			}
		case byName[p.Node] != nil:
			byName[p.Node].add(p)
		}
	}
	for _, n := range c.nodes {
		n.empty = len(n.pods) == 0
	}
	slices.SortFunc(c.pending, byDecreasingSize)
	return c
}

// scaleUp launches nodes for the pending pods that neither fit a node with
// room nor a node already launching. Like CA's filter-out-schedulable step,
// it places the pods that fit existing nodes in the simulation, so that
// scale-down sees them there.
func (a *Autoscaler) scaleUp(now time.Duration, c *cluster) []Action {
	var upcoming []*simNode
	for _, name := range slices.Sorted(maps.Keys(a.launches)) {
		upcoming = append(upcoming, &simNode{name: name, group: a.byName[a.launches[name].group]})
	}
	var remaining []*Pod
	for _, p := range c.pending {
		if firstFit(p, c.nodes) == nil && firstFit(p, upcoming) == nil {
			remaining = append(remaining, p)
		}
	}
	if len(remaining) == 0 {
		return nil
	}
	best := a.bestOption(c, remaining)
	if best == nil {
		return nil
	}
	// Balance only over groups that can host every pod of the option
	// (FAQ.md, "I'm running cluster with nodes in multiple zones").
	var set []*Group
	room := 0
	for _, h := range best.set {
		if !slices.ContainsFunc(best.pods, func(p *Pod) bool { return !schedulable(p, h) }) {
			set = append(set, h)
			room += max(0, h.Max-c.size[h.Name])
		}
	}
	added := balance(set, c.size, min(best.nodes, room))
	var actions []Action
	for _, h := range set {
		for range added[h.Name] {
			name := a.nodeName(h.Name)
			a.launches[name] = launch{group: h.Name, at: now}
			actions = append(actions, Action{At: now, Kind: Launch, Group: h.Name, Node: name})
		}
	}
	return actions
}

type option struct {
	group *Group
	set   []*Group // the group and the groups similar to it
	nodes int
	pods  []*Pod
	waste float64
}

// bestOption estimates, for every group, how many new nodes (first-fit
// decreasing over template nodes, like CA's binpacking estimator, capped by
// the room left below Max) would host which pods, and picks the group by
// least waste: the smallest sum of the idle CPU and idle memory fractions
// of the new nodes (expander/waste/waste.go BestOption, which uses node
// capacity; allocatable here). CA breaks ties at random; here by group name.
func (a *Autoscaler) bestOption(c *cluster, pods []*Pod) *option {
	var best *option
	for _, g := range a.groups {
		set := a.similar(g)
		room := 0
		for _, h := range set {
			room += max(0, h.Max-c.size[h.Name])
		}
		var bins []*simNode
		var helped []*Pod
		for _, p := range pods {
			if !(&simNode{group: g}).fitsWith(p, Resources{}) {
				continue
			}
			if firstFit(p, bins) == nil {
				if len(bins) == room {
					continue
				}
				n := &simNode{group: g}
				n.add(p)
				bins = append(bins, n)
			}
			helped = append(helped, p)
		}
		if len(bins) == 0 {
			continue
		}
		var cpu, mem int64
		for _, p := range helped {
			cpu += p.Requests.MilliCPU
			mem += p.Requests.Memory
		}
		availCPU := float64(len(bins)) * float64(g.Allocatable.MilliCPU)
		availMem := float64(len(bins)) * float64(g.Allocatable.Memory)
		waste := (availCPU-float64(cpu))/availCPU + (availMem-float64(mem))/availMem
		if best == nil || waste < best.waste {
			best = &option{group: g, set: set, nodes: len(bins), pods: helped, waste: waste}
		}
	}
	return best
}

// ignoredLabels differ between otherwise similar groups (zone, host, the
// EKS node group's name): CA's BasicIgnoredLabels and the AWS comparator's
// extra labels (processors/nodegroupset/compare_nodegroups.go,
// aws_nodegroups.go).
var ignoredLabels = map[string]bool{
	"kubernetes.io/hostname":                   true,
	"failure-domain.beta.kubernetes.io/zone":   true,
	"failure-domain.beta.kubernetes.io/region": true,
	"topology.kubernetes.io/zone":              true,
	"topology.kubernetes.io/region":            true,
	"topology.ebs.csi.aws.com/zone":            true,
	"beta.kubernetes.io/fluentd-ds-ready":      true,
	"kops.k8s.io/instancegroup":                true,
	"alpha.eksctl.io/instance-id":              true,
	"alpha.eksctl.io/nodegroup-name":           true,
	"eks.amazonaws.com/nodegroup":              true,
	"k8s.amazonaws.com/eniConfig":              true,
	"lifecycle":                                true,
}

// similar is g and, with BalanceSimilarNodeGroups, every group with the same
// allocatable resources and the same labels but for ignoredLabels (CA's
// IsCloudProviderNodeInfoSimilar allows a few percent of difference in
// allocatable; equal here).
func (a *Autoscaler) similar(g *Group) []*Group {
	if !a.p.BalanceSimilarNodeGroups {
		return []*Group{g}
	}
	relevant := func(labels map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range labels {
			if !ignoredLabels[k] {
				out[k] = v
			}
		}
		return out
	}
	var set []*Group
	for _, h := range a.groups {
		if h == g || h.Allocatable == g.Allocatable && maps.Equal(relevant(h.Labels), relevant(g.Labels)) {
			set = append(set, h)
		}
	}
	return set
}

// balance spreads n new nodes over the groups, each to the smallest group
// with room (ties by name), as CA's BalanceScaleUpBetweenGroups does
// (processors/nodegroupset/balancing_processor.go).
func balance(set []*Group, size map[string]int, n int) map[string]int {
	added := map[string]int{}
	for range n {
		var pick *Group
		for _, h := range set {
			s := size[h.Name] + added[h.Name]
			if s < h.Max && (pick == nil || s < size[pick.Name]+added[pick.Name]) {
				pick = h
			}
		}
		if pick == nil {
			break
		}
		added[pick.Name]++
	}
	return added
}

func (a *Autoscaler) nodeName(group string) string {
	for {
		a.seq++
		name := fmt.Sprintf("%s-ca-%d", group, a.seq)
		if _, launching := a.launches[name]; !launching && !a.removed[name] {
			return name
		}
	}
}

// scaleDown tracks which nodes are unneeded and removes those unneeded long
// enough (FAQ.md, "How does scale-down work?"). A node is unneeded when its
// utilisation is below the threshold and every pod on it fits on another
// ready node that is not itself being removed in the simulation; pods moved
// in the simulation stay on their new node for the later candidates, as in
// CA. Empty nodes are considered first. The unneeded clock runs during the
// cooldowns, as in CA (core/static_autoscaler.go: UpdateClusterState before
// isScaleDownInCooldown).
func (a *Autoscaler) scaleDown(now time.Duration, c *cluster) []Action {
	candidates := slices.Clone(c.nodes)
	slices.SortStableFunc(candidates, func(x, y *simNode) int {
		if x.empty == y.empty {
			return 0
		}
		if x.empty {
			return -1
		}
		return 1
	})
	leaving := map[*simNode]bool{}
	for _, n := range candidates {
		if n.utilisation() < a.p.UtilizationThreshold && movePods(n, c.nodes, leaving) {
			leaving[n] = true
		}
	}
	unneeded := map[string]bool{}
	for n := range leaving {
		unneeded[n.name] = true
		if _, ok := a.unneededSince[n.name]; !ok {
			a.unneededSince[n.name] = now
		}
	}
	maps.DeleteFunc(a.unneededSince, func(name string, _ time.Duration) bool { return !unneeded[name] })
	if a.scaledUp && now < a.lastScaleUp+a.p.DelayAfterAdd || a.deleted && now < a.lastDelete+a.p.DelayAfterDelete {
		return nil
	}
	size := maps.Clone(c.size)
	var actions []Action
	empties, drained := 0, false
	for _, n := range candidates {
		wait := a.p.UnneededTime
		if !n.ready {
			wait = a.p.UnreadyTime
		}
		if !leaving[n] || now < a.unneededSince[n.name]+wait || size[n.group.Name] <= n.group.Min {
			continue
		}
		if n.empty {
			// Empty nodes go in bulk, up to max-empty-bulk-delete.
			if empties == a.p.MaxEmptyBulkDelete {
				continue
			}
			empties++
			actions = append(actions, Action{At: now, Kind: Delete, Group: n.group.Name, Node: n.name})
		} else {
			// Non-empty nodes go one at a time.
			if drained {
				continue
			}
			drained = true
			actions = append(actions, Action{At: now, Kind: Drain, Group: n.group.Name, Node: n.name},
				Action{At: now, Kind: Delete, Group: n.group.Name, Node: n.name})
		}
		size[n.group.Name]--
		a.removed[n.name] = true
		delete(a.unneededSince, n.name)
	}
	if len(actions) > 0 {
		a.deleted, a.lastDelete = true, now
	}
	return actions
}

// movePods places n's pods (largest first) on other ready nodes not
// leaving; only if all fit does it commit the moves and report true.
func movePods(n *simNode, nodes []*simNode, leaving map[*simNode]bool) bool {
	pods := slices.Clone(n.pods)
	slices.SortFunc(pods, byDecreasingSize)
	extra := map[*simNode]Resources{}
	dest := make([]*simNode, len(pods))
	for i, p := range pods {
		for _, d := range nodes {
			if d != n && d.ready && !leaving[d] && d.fitsWith(p, extra[d]) {
				extra[d] = extra[d].plus(request(p))
				dest[i] = d
				break
			}
		}
		if dest[i] == nil {
			return false
		}
	}
	for i, p := range pods {
		dest[i].add(p)
	}
	return true
}
