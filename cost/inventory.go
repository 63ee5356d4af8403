// Package cost prices what a Pulumi program registers: it turns an Inventory
// (control planes, node groups, NAT gateways, load balancers, volumes and
// claimed volumes,
// buckets, keys, logs, read from the recorded resources by tests/estimate)
// into an Estimate using the embedded, dated price Table, renders it as a
// text table or JSON, and diffs two estimates as Markdown for pull requests.
//
// It is pure: no Pulumi, no network, no clock (callers pass the date). It
// never prices anything it has no row for: a missing region, instance type
// or spot family is an error naming what is missing.
package cost

// CapacityType is the EC2 purchasing option of a node group, spelled as the
// EKS API does.
type CapacityType string

const (
	OnDemand CapacityType = "ON_DEMAND"
	Spot     CapacityType = "SPOT"
)

// LoadBalancerKind is what the AWS Load Balancer Controller provisions.
type LoadBalancerKind string

const (
	ALB LoadBalancerKind = "ALB"
	NLB LoadBalancerKind = "NLB"
)

// Inventory is every priced thing a stack registers.
type Inventory struct {
	Stack  string `json:"stack"`
	Region string `json:"region"`
	// AvailabilityZones is how many AZs the VPC spans (internet-facing load
	// balancers hold one public IPv4 address per AZ).
	AvailabilityZones int            `json:"availabilityZones"`
	ControlPlanes     []ControlPlane `json:"controlPlanes"`
	NodeGroups        []NodeGroup    `json:"nodeGroups"`
	NATGateways       []string       `json:"natGateways"`
	PublicIPv4s       []string       `json:"publicIpv4s"`
	LoadBalancers     []LoadBalancer `json:"loadBalancers"`
	Volumes           []Volume       `json:"volumes,omitempty"`
	Buckets           []Bucket       `json:"buckets"`
	KMSKeys           []string       `json:"kmsKeys"`
	GPUWorkloads      []GPUWorkload  `json:"gpuWorkloads"`
	// CodeBuildProjects are the pipeline's runner pools (the bootstrap's
	// runners option), paid per build-minute.
	CodeBuildProjects []CodeBuildProject `json:"codeBuildProjects,omitempty"`
	Unpriced          []UnpricedThing    `json:"unpriced,omitempty"`
}

// CodeBuildProject is one CodeBuild project and its compute type.
type CodeBuildProject struct {
	Name        string `json:"name"`
	ComputeType string `json:"computeType"`
}

// ControlPlane is one EKS cluster.
type ControlPlane struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// ExtendedSupport is true when the version is past its EKS standard
	// support end on the pricing date; SupportNote says why, with the date.
	ExtendedSupport bool   `json:"extendedSupport"`
	SupportNote     string `json:"supportNote"`
	// LogTypes are the control-plane log types shipped to CloudWatch.
	LogTypes []string `json:"logTypes"`
}

// NodeGroup is one EKS managed node group.
type NodeGroup struct {
	Name          string       `json:"name"`
	InstanceTypes []string     `json:"instanceTypes"`
	Capacity      CapacityType `json:"capacityType"`
	Min           int          `json:"min"`
	Desired       int          `json:"desired"`
	Max           int          `json:"max"`
	// RootVolumeGiB and RootVolumeType come from the group's launch template.
	RootVolumeGiB  int    `json:"rootVolumeGiB"`
	RootVolumeType string `json:"rootVolumeType"`
}

// LoadBalancer is one AWS load balancer a workload asks the controller for.
type LoadBalancer struct {
	Name   string           `json:"name"`
	Kind   LoadBalancerKind `json:"kind"`
	Public bool             `json:"public"`
	// Source says which recorded resource asks for it.
	Source string `json:"source"`
}

// Volume is a set of EBS volumes a workload claims (a StatefulSet's
// volumeClaimTemplate, one volume per replica), e.g. Prometheus's TSDB.
type Volume struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	GiB   int    `json:"gib"`
	// Type is the EBS volume type of the claim's StorageClass.
	Type string `json:"type"`
	// Source says which recorded resource asks for it.
	Source string `json:"source"`
}

// Bucket is one S3 bucket; Role picks its size assumption ("models", "state").
type Bucket struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// GPUWorkload is a workload whose pods request GPUs: what it keeps running
// while idle decides whether its GPU nodes can go away.
type GPUWorkload struct {
	Name string `json:"name"`
	// MinReplicas is what the workload keeps while idle: its
	// HorizontalPodAutoscaler's minReplicas (or spec.replicas), or under a
	// KEDA ScaledObject its idleReplicaCount when set, else its
	// minReplicaCount (0 for a workload that scales to zero).
	MinReplicas int `json:"minReplicas"`
	// FloorFrom names the ScaledObject field MinReplicas comes from
	// ("idleReplicaCount", "minReplicaCount"); empty for an HPA or a
	// Deployment's replicas.
	FloorFrom  string `json:"floorFrom,omitempty"`
	GPUsPerPod int    `json:"gpusPerPod"`
	// ScalesToZero: a KEDA ScaledObject takes the workload to 0 replicas once
	// no trigger has been active for IdleSeconds (its cooldownPeriod) and
	// wakes it to ActiveMinReplicas when one is.
	ScalesToZero      bool `json:"scalesToZero,omitempty"`
	IdleSeconds       int  `json:"idleSeconds,omitempty"`
	ActiveMinReplicas int  `json:"activeMinReplicas,omitempty"`
}

// UnpricedThing is a recorded resource that costs money but that the
// estimate cannot see into, listed so the total is not read as complete.
type UnpricedThing struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}
