package infra

import (
	"errors"
	"fmt"
	"strings"
)

// CapacityType is the EC2 purchasing option of a node group.
type CapacityType string

const (
	OnDemand CapacityType = "ON_DEMAND"
	Spot     CapacityType = "SPOT"
)

// NodeGroupKind says what a node group is for; it decides the AMI, taints and labels.
type NodeGroupKind string

const (
	// SystemNodes run cluster add-ons on on-demand capacity.
	SystemNodes NodeGroupKind = "system"
	// CPUNodes run general workloads, usually on spot capacity.
	CPUNodes NodeGroupKind = "cpu"
	// GPUNodes run inference on NVIDIA GPUs and are tainted so only GPU pods land there.
	GPUNodes NodeGroupKind = "gpu"
)

// GPU taint and label every GPU node carries; workloads tolerate and select them.
const (
	GPUTaintKey                = "nvidia.com/gpu"
	GPUTaintValue              = "true"
	GPUTaintEffect             = "NO_SCHEDULE"
	NodeKindLabel              = "aiplatform.io/node-kind"
	CriticalAddonsOnlyTaintKey = "CriticalAddonsOnly"
	AcceleratorLabel           = "k8s.amazonaws.com/accelerator"
)

// AMI types of EKS managed node groups (Amazon Linux 2023).
const (
	amiStandard = "AL2023_x86_64_STANDARD"
	amiNVIDIA   = "AL2023_x86_64_NVIDIA"
)

// minSpotInstanceTypes keeps spot groups diversified so one reclaimed pool does not drain them.
const minSpotInstanceTypes = 3

// gpuFamilies are the x86_64 NVIDIA instance families the AL2023 NVIDIA AMI supports.
var gpuFamilies = []string{"g4dn", "g5", "g6", "g6e", "gr6", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en"}

// NodeGroupSpec is one managed node group as configured by the stack.
type NodeGroupSpec struct {
	Name          string            `json:"name"`
	Kind          NodeGroupKind     `json:"kind"`
	Capacity      CapacityType      `json:"capacityType"`
	InstanceTypes []string          `json:"instanceTypes"`
	MinSize       int               `json:"minSize"`
	DesiredSize   int               `json:"desiredSize"`
	MaxSize       int               `json:"maxSize"`
	DiskSizeGiB   int               `json:"diskSizeGiB"`
	Labels        map[string]string `json:"labels,omitempty"`
	// CriticalAddonsOnly taints a system group so that only add-ons tolerating it run there.
	CriticalAddonsOnly bool `json:"criticalAddonsOnly,omitempty"`
	// IMDSHopLimit is 1 so pods cannot reach the node's instance credentials;
	// 2 only for groups whose pods must call IMDS themselves (rare with IRSA).
	IMDSHopLimit int `json:"imdsHopLimit,omitempty"`
	// GPUsPerNode is advertised to the Cluster Autoscaler so it can scale a GPU group up from zero.
	GPUsPerNode int `json:"gpusPerNode,omitempty"`
}

// DefaultNodeGroups are the three groups of the platform: system, spot CPU and GPU.
func DefaultNodeGroups() []NodeGroupSpec {
	return []NodeGroupSpec{
		{Name: "system", Kind: SystemNodes, Capacity: OnDemand, InstanceTypes: []string{"m6i.large"}, MinSize: 2, DesiredSize: 2, MaxSize: 4},
		{Name: "spot", Kind: CPUNodes, Capacity: Spot, InstanceTypes: []string{"m6i.xlarge", "m6a.xlarge", "m5.xlarge", "m7i.xlarge"}, MinSize: 0, DesiredSize: 1, MaxSize: 10},
		{Name: "gpu", Kind: GPUNodes, Capacity: OnDemand, InstanceTypes: []string{"g5.xlarge", "g6.xlarge"}, MinSize: 0, DesiredSize: 0, MaxSize: 4, GPUsPerNode: 1},
	}
}

// WithDefaults fills only what is unset.
func (s NodeGroupSpec) WithDefaults() NodeGroupSpec {
	if s.Capacity == "" {
		s.Capacity = OnDemand
	}
	if s.DiskSizeGiB == 0 {
		s.DiskSizeGiB = 50
		if s.Kind == GPUNodes {
			s.DiskSizeGiB = 200 // CUDA images and model caches are large
		}
	}
	if s.IMDSHopLimit == 0 {
		s.IMDSHopLimit = 1
	}
	if s.Kind == GPUNodes && s.GPUsPerNode == 0 {
		s.GPUsPerNode = 1
	}
	return s
}

// AMIType is the EKS AMI type for the group's kind.
func (s NodeGroupSpec) AMIType() string {
	if s.Kind == GPUNodes {
		return amiNVIDIA
	}
	return amiStandard
}

// NodeLabels are the Kubernetes labels of the group's nodes.
func (s NodeGroupSpec) NodeLabels() map[string]string {
	labels := mergeTags(s.Labels, map[string]string{NodeKindLabel: string(s.Kind)})
	if s.Kind == GPUNodes {
		labels["nvidia.com/gpu.present"] = "true"
		// The Cluster Autoscaler's AWS provider recognises GPU nodes by this
		// label, so it waits for the device plugin instead of scaling up again.
		labels[AcceleratorLabel] = "nvidia"
	}
	return labels
}

// Taint is a node taint in the EKS API's spelling (effect NO_SCHEDULE, not NoSchedule).
type Taint struct{ Key, Value, Effect string }

// NodeTaints are the taints of the group's nodes.
func (s NodeGroupSpec) NodeTaints() []Taint {
	switch {
	case s.Kind == GPUNodes:
		return []Taint{{GPUTaintKey, GPUTaintValue, GPUTaintEffect}}
	case s.Kind == SystemNodes && s.CriticalAddonsOnly:
		return []Taint{{CriticalAddonsOnlyTaintKey, "true", "NO_SCHEDULE"}}
	}
	return nil
}

// Validate returns every problem of the spec, each prefixed by path (e.g. "nodeGroups[1]").
func (s NodeGroupSpec) Validate(path string) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, field, fmt.Sprintf(format, args...)))
	}
	if !IsDNSLabel(s.Name) || len(s.Name) > 40 {
		bad("name", "%q must be a lowercase DNS label of at most 40 characters", s.Name)
	}
	switch s.Kind {
	case SystemNodes, CPUNodes, GPUNodes:
	default:
		bad("kind", "%q is not one of system, cpu, gpu", s.Kind)
	}
	switch s.Capacity {
	case OnDemand, Spot:
	default:
		bad("capacityType", "%q is not one of ON_DEMAND, SPOT", s.Capacity)
	}
	if s.Kind == SystemNodes && s.Capacity == Spot {
		bad("capacityType", "system nodes must be ON_DEMAND so add-ons are not evicted by spot reclaims")
	}
	if len(s.InstanceTypes) == 0 {
		bad("instanceTypes", "at least one instance type is required")
	}
	seen := map[string]bool{}
	for i, t := range s.InstanceTypes {
		if !validInstanceType(t) {
			bad(fmt.Sprintf("instanceTypes[%d]", i), "%q is not an EC2 instance type like m6i.large", t)
		} else if s.Kind == GPUNodes && !isGPUInstanceType(t) {
			bad(fmt.Sprintf("instanceTypes[%d]", i), "%q is not an NVIDIA GPU type; allowed families: %s", t, strings.Join(gpuFamilies, ", "))
		}
		if seen[t] {
			bad(fmt.Sprintf("instanceTypes[%d]", i), "%q is listed twice", t)
		}
		seen[t] = true
	}
	if s.Capacity == Spot && len(s.InstanceTypes) < minSpotInstanceTypes {
		bad("instanceTypes", "a SPOT group needs at least %d instance types to survive capacity reclaims, got %d", minSpotInstanceTypes, len(s.InstanceTypes))
	}
	if s.MinSize < 0 {
		bad("minSize", "must be >= 0, got %d", s.MinSize)
	}
	if s.Kind == SystemNodes && s.MinSize < 1 {
		bad("minSize", "the system group must keep at least 1 node for cluster add-ons, got %d", s.MinSize)
	}
	if s.MaxSize < 1 {
		bad("maxSize", "must be >= 1, got %d", s.MaxSize)
	}
	if s.DesiredSize < s.MinSize {
		bad("desiredSize", "must be >= minSize (%d), got %d", s.MinSize, s.DesiredSize)
	}
	if s.MaxSize < s.DesiredSize {
		bad("maxSize", "must be >= desiredSize (%d), got %d", s.DesiredSize, s.MaxSize)
	}
	if s.MaxSize < s.MinSize {
		bad("maxSize", "must be >= minSize (%d), got %d", s.MinSize, s.MaxSize)
	}
	if s.DiskSizeGiB < 20 || s.DiskSizeGiB > 16384 {
		bad("diskSizeGiB", "must be between 20 and 16384, got %d", s.DiskSizeGiB)
	}
	if s.IMDSHopLimit != 1 && s.IMDSHopLimit != 2 {
		bad("imdsHopLimit", "must be 1 (pods cannot reach IMDS) or 2 (pods need IMDS), got %d", s.IMDSHopLimit)
	}
	if s.Kind != GPUNodes && s.GPUsPerNode != 0 {
		bad("gpusPerNode", "only gpu groups have GPUs")
	}
	if s.Kind == GPUNodes && (s.GPUsPerNode < 1 || s.GPUsPerNode > 16) {
		bad("gpusPerNode", "must be between 1 and 16, got %d", s.GPUsPerNode)
	}
	if s.CriticalAddonsOnly && s.Kind != SystemNodes {
		bad("criticalAddonsOnly", "only the system group can be reserved for critical add-ons")
	}
	for k := range s.Labels {
		if k == NodeKindLabel {
			bad("labels", "%q is set by the platform", k)
		}
	}
	return errors.Join(errs...)
}

// ValidateNodeGroups checks the set: unique names, exactly one system group.
func ValidateNodeGroups(path string, groups []NodeGroupSpec) error {
	var errs []error
	names := map[string]int{}
	systems := 0
	for i, g := range groups {
		p := fmt.Sprintf("%s[%d]", path, i)
		errs = append(errs, g.Validate(p))
		if j, dup := names[g.Name]; dup {
			errs = append(errs, fmt.Errorf("%s.name: %q is already used by %s[%d]", p, g.Name, path, j))
		}
		names[g.Name] = i
		if g.Kind == SystemNodes {
			systems++
		}
	}
	if systems != 1 {
		errs = append(errs, fmt.Errorf("%s: exactly one group of kind system is required, got %d", path, systems))
	}
	return errors.Join(errs...)
}

func validInstanceType(t string) bool {
	family, size, ok := strings.Cut(t, ".")
	return ok && family != "" && size != "" && dnsLabel.MatchString(family) && dnsLabel.MatchString(size)
}

func isGPUInstanceType(t string) bool {
	family, _, _ := strings.Cut(t, ".")
	for _, f := range gpuFamilies {
		if family == f {
			return true
		}
	}
	return false
}
