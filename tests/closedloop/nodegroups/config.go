// Package nodegroups is a small stand-in for the Kubernetes Cluster
// Autoscaler (CA) over the GPU node groups of the closed-loop tier. The real
// CA cannot be built here (its module is refused by the Go module proxy), so
// this package follows CA's documented behaviour (kubernetes/autoscaler
// cluster-autoscaler/FAQ.md, "How does scale-up work?", "How does
// scale-down work?", "What are Expanders?", "What are the parameters to
// CA?") and a few of its source files, cited where used, with the flags the
// platform sets (workloads/addons/cluster_autoscaler.go). It is pure logic:
// Scan reads the nodes and pods the caller passes and returns the actions to
// take; the caller creates, drains and deletes nodes.
//
// Simplifications, all deliberate:
//   - Only nodes of the groups given to New exist for it: a node of another
//     group is neither removed nor a place for pods.
//   - DaemonSet and mirror pods are not modelled: pass workload pods only
//     (the platform sets ignore-daemonsets-utilization=true, so DaemonSet
//     pods would not count towards utilisation anyway).
//   - skip-nodes-with-local-storage and skip-nodes-with-system-pods are
//     false on the platform and the Triton pods are controller-managed, so
//     every pod may be moved; PodDisruptionBudgets are not modelled.
//   - Terminating pods are ignored (CA ignores long-terminating pods in
//     utilisation, simulator/utilization/info.go).
//   - Scale-down never fails here, so scale-down-delay-after-failure (3m)
//     never applies.
//   - new-pod-scale-up-delay is CA's default, 0: a pod is considered as soon
//     as it is unschedulable.
package nodegroups

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Resources are a node's allocatable resources or a pod's requests. Memory
// is in bytes, GPU in devices (nvidia.com/gpu). Pods is a node's pod slots
// (kubelet's max-pods); a pod's Pods request is ignored: every pod takes one
// slot.
type Resources struct {
	MilliCPU, Memory, GPU, Pods int64
}

func (r Resources) plus(o Resources) Resources {
	return Resources{r.MilliCPU + o.MilliCPU, r.Memory + o.Memory, r.GPU + o.GPU, r.Pods + o.Pods}
}

// TaintEffect is a taint's effect; only NoSchedule and NoExecute keep a pod
// off a node, as in the scheduler's TaintToleration filter.
type TaintEffect string

const (
	NoSchedule       TaintEffect = "NoSchedule"
	PreferNoSchedule TaintEffect = "PreferNoSchedule"
	NoExecute        TaintEffect = "NoExecute"
)

// Taint is a node group's taint; every node of the group carries it.
type Taint struct {
	Key, Value string
	Effect     TaintEffect
}

// Toleration is a pod's toleration, simplified: an empty Key tolerates every
// key (operator Exists without a key), an empty Value tolerates any value
// (operator Exists), an empty Effect every effect; otherwise the fields must
// equal the taint's (operator Equal).
type Toleration struct {
	Key, Value string
	Effect     TaintEffect
}

func (t Toleration) tolerates(taint Taint) bool {
	return (t.Key == "" || t.Key == taint.Key) &&
		(t.Value == "" || t.Value == taint.Value) &&
		(t.Effect == "" || t.Effect == taint.Effect)
}

// Group is a node group (an Auto Scaling group behind an EKS managed node
// group): every node of it has these labels, taints and allocatable
// resources. CA sizes the group between Min and Max.
type Group struct {
	Name        string
	Labels      map[string]string
	Taints      []Taint
	Allocatable Resources
	Min, Max    int
}

// Expander picks the group to grow when several could host the pending pods.
type Expander string

// LeastWaste is the only expander modelled: the platform sets
// expander=least-waste.
const LeastWaste Expander = "least-waste"

// Params are CA's timing and scale-down flags. A zero field takes CA's
// documented default (FAQ.md, "What are the parameters to CA?"), except
// NodeBoot (0: a node appears at once) and BalanceSimilarNodeGroups (CA's
// default is false too). Because zero means default, an explicit 0 cannot
// be set: a utilisation threshold of 0 (CA's way to keep non-empty nodes)
// is not expressible, and the platform does not use it.
type Params struct {
	// ScanInterval: how often CA re-evaluates the cluster (scan-interval,
	// default 10s). Scan does nothing when called sooner.
	ScanInterval time.Duration
	// UnneededTime: how long a node must be unneeded before it is removed
	// (scale-down-unneeded-time, default 10m; the platform's default too,
	// from its config).
	UnneededTime time.Duration
	// UnreadyTime: the same for a node that is not Ready
	// (scale-down-unready-time, default 20m).
	UnreadyTime time.Duration
	// DelayAfterAdd: no scale-down this long after a scale-up
	// (scale-down-delay-after-add, default 10m; the platform sets 5m).
	DelayAfterAdd time.Duration
	// DelayAfterDelete: no scale-down this long after a node deletion
	// (scale-down-delay-after-delete, default scan-interval).
	DelayAfterDelete time.Duration
	// NodeBoot is how long after a launch the caller makes the node appear
	// (the cloud provider's provisioning time; not a CA flag). It must be
	// shorter than MaxNodeProvisionTime.
	NodeBoot time.Duration
	// MaxNodeProvisionTime: a launched node that has not registered this
	// long after the launch stops counting as upcoming, is deleted, and the
	// pods it was for may trigger another launch (max-node-provision-time,
	// default 15m; FAQ.md "How does scale-up work?").
	MaxNodeProvisionTime time.Duration
	// UtilizationThreshold: a node whose requested share of its
	// allocatable is below this may be unneeded
	// (scale-down-utilization-threshold, default 0.5).
	UtilizationThreshold float64
	// MaxEmptyBulkDelete: empty nodes removed at the same time
	// (max-empty-bulk-delete, default 10).
	MaxEmptyBulkDelete int
	// Expander: default and only value LeastWaste (CA's default is random;
	// the platform sets least-waste).
	Expander Expander
	// BalanceSimilarNodeGroups spreads a scale-up over similar groups
	// (balance-similar-node-groups; the platform sets true).
	BalanceSimilarNodeGroups bool
}

// CA's documented defaults (FAQ.md, "What are the parameters to CA?").
const (
	DefaultScanInterval         = 10 * time.Second
	DefaultUnneededTime         = 10 * time.Minute
	DefaultUnreadyTime          = 20 * time.Minute
	DefaultDelayAfterAdd        = 10 * time.Minute
	DefaultMaxNodeProvisionTime = 15 * time.Minute
	DefaultUtilizationThreshold = 0.5
	DefaultMaxEmptyBulkDelete   = 10
)

// PlatformParams are the flags the platform gives CA
// (workloads/addons/cluster_autoscaler.go clusterAutoscalerValues:
// expander least-waste, balance-similar-node-groups, scale-down-delay-after-add
// 5m, scale-down-unneeded-time from config, default 10m), CA's defaults for
// the rest, and a GPU node boot time of 4m (the FAQ's "3 to 4 minutes from
// CA request to when pods can be scheduled", "How fast is HPA when combined
// with CA?"). Every duration is set, so Scale compresses all of them.
func PlatformParams() Params {
	return Params{
		ScanInterval:             DefaultScanInterval,
		UnneededTime:             DefaultUnneededTime,
		UnreadyTime:              DefaultUnreadyTime,
		DelayAfterAdd:            5 * time.Minute,
		DelayAfterDelete:         DefaultScanInterval,
		NodeBoot:                 4 * time.Minute,
		MaxNodeProvisionTime:     DefaultMaxNodeProvisionTime,
		UtilizationThreshold:     DefaultUtilizationThreshold,
		MaxEmptyBulkDelete:       DefaultMaxEmptyBulkDelete,
		Expander:                 LeastWaste,
		BalanceSimilarNodeGroups: true,
	}
}

// Scale divides every duration (defaults filled first) by f, the tier's
// time compression factor, so that none is forgotten.
func (p Params) Scale(f float64) (Params, error) {
	if !(f > 0) {
		return Params{}, fmt.Errorf("scale factor: %v must be > 0 (the time compression factor, e.g. 20)", f)
	}
	p = p.withDefaults()
	for _, d := range []*time.Duration{&p.ScanInterval, &p.UnneededTime, &p.UnreadyTime, &p.DelayAfterAdd,
		&p.DelayAfterDelete, &p.NodeBoot, &p.MaxNodeProvisionTime} {
		*d = time.Duration(float64(*d) / f)
	}
	return p, nil
}

func (p Params) withDefaults() Params {
	if p.ScanInterval == 0 {
		p.ScanInterval = DefaultScanInterval
	}
	if p.UnneededTime == 0 {
		p.UnneededTime = DefaultUnneededTime
	}
	if p.UnreadyTime == 0 {
		p.UnreadyTime = DefaultUnreadyTime
	}
	if p.DelayAfterAdd == 0 {
		p.DelayAfterAdd = DefaultDelayAfterAdd
	}
	if p.DelayAfterDelete == 0 {
		p.DelayAfterDelete = p.ScanInterval
	}
	if p.MaxNodeProvisionTime == 0 {
		p.MaxNodeProvisionTime = DefaultMaxNodeProvisionTime
	}
	if p.UtilizationThreshold == 0 {
		p.UtilizationThreshold = DefaultUtilizationThreshold
	}
	if p.MaxEmptyBulkDelete == 0 {
		p.MaxEmptyBulkDelete = DefaultMaxEmptyBulkDelete
	}
	if p.Expander == "" {
		p.Expander = LeastWaste
	}
	return p
}

// validate reports every problem at once; call it on defaulted Params.
func (p Params) validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"scanInterval", p.ScanInterval}, {"unneededTime", p.UnneededTime}, {"unreadyTime", p.UnreadyTime},
		{"delayAfterAdd", p.DelayAfterAdd}, {"delayAfterDelete", p.DelayAfterDelete}, {"nodeBoot", p.NodeBoot},
		{"maxNodeProvisionTime", p.MaxNodeProvisionTime},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("params.%s: %v must not be negative (0 takes CA's default)", d.name, d.v))
		}
	}
	if p.NodeBoot >= p.MaxNodeProvisionTime {
		errs = append(errs, fmt.Errorf("params.nodeBoot: %v must be shorter than maxNodeProvisionTime (%v), or every launch expires before its node appears",
			p.NodeBoot, p.MaxNodeProvisionTime))
	}
	if p.UtilizationThreshold <= 0 || p.UtilizationThreshold > 1 {
		errs = append(errs, fmt.Errorf("params.utilizationThreshold: %v must be in (0, 1] (0 takes CA's default 0.5)", p.UtilizationThreshold))
	}
	if p.MaxEmptyBulkDelete < 1 {
		errs = append(errs, fmt.Errorf("params.maxEmptyBulkDelete: %d must be >= 1 (0 takes CA's default 10)", p.MaxEmptyBulkDelete))
	}
	if p.Expander != LeastWaste {
		errs = append(errs, fmt.Errorf("params.expander: %q is not modelled; allowed: %q (what the platform sets)", p.Expander, LeastWaste))
	}
	return errors.Join(errs...)
}

// groupName becomes part of node names, so it must be a DNS label.
var groupName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

var taintEffects = []TaintEffect{NoSchedule, PreferNoSchedule, NoExecute}

func validateGroups(groups []Group) error {
	if len(groups) == 0 {
		return errors.New("groups: none given; pass at least one node group")
	}
	var errs []error
	seen := map[string]int{}
	for i, g := range groups {
		path := fmt.Sprintf("groups[%d]", i)
		if g.Name != "" {
			path = fmt.Sprintf("groups[%d] (%s)", i, g.Name)
		}
		switch {
		case !groupName.MatchString(g.Name) || len(g.Name) > 50:
			errs = append(errs, fmt.Errorf("%s.name: %q must be a lowercase DNS label of at most 50 characters (it prefixes node names)", path, g.Name))
		case seen[g.Name] > 0:
			errs = append(errs, fmt.Errorf("%s.name: %q is also groups[%d]; names must be unique", path, g.Name, seen[g.Name]-1))
		}
		seen[g.Name] = i + 1
		a := g.Allocatable
		if a.MilliCPU <= 0 || a.Memory <= 0 || a.Pods <= 0 || a.GPU < 0 {
			errs = append(errs, fmt.Errorf("%s.allocatable: %+v needs milliCPU, memory and pods > 0 and GPU >= 0 (kubelet's default max-pods is 110)", path, a))
		}
		if g.Min < 0 {
			errs = append(errs, fmt.Errorf("%s.min: %d must be >= 0", path, g.Min))
		}
		if g.Max < 1 || g.Max < g.Min {
			errs = append(errs, fmt.Errorf("%s.max: %d must be >= 1 and >= min (%d)", path, g.Max, g.Min))
		}
		for j, t := range g.Taints {
			if t.Key == "" {
				errs = append(errs, fmt.Errorf("%s.taints[%d].key: must not be empty", path, j))
			}
			if !slices.Contains(taintEffects, t.Effect) {
				errs = append(errs, fmt.Errorf("%s.taints[%d].effect: %q is not one of %v", path, j, t.Effect, taintEffects))
			}
		}
	}
	return errors.Join(errs...)
}
