package loop

import "time"

// Compression is the one factor every time constant of the loop is divided
// by (docs/autoscaling-and-observability.md, "Closed loop"): controller
// periods, the scrape interval, PromQL windows, HPA behaviour windows and
// periods, the autoscaler's intervals and the modelled delays below. 15
// keeps every HPA behaviour period a whole number of seconds (the API takes
// integers): 15 s → 1 s, 120 s → 8 s, 300 s → 20 s.
const Compression = 15

// Delay is one modelled delay, uncompressed, with where its figure comes from.
type Delay struct {
	Name   string
	D      time.Duration
	Source string
}

// Delays are the cold-start steps the loop models; everything else is the
// real controllers' own timing.
type Delays struct {
	// NodeBoot: the autoscaler's launch until the node is Ready with
	// nvidia.com/gpu allocatable (EC2 launch, boot, join, device plugin).
	NodeBoot Delay
	// ImagePull: Triton's image on a node that has not pulled it yet.
	ImagePull Delay
	// ModelLoad: container start to ready (model repository download and
	// load; --strict-readiness).
	ModelLoad Delay
}

// DefaultDelays are the figures the scenarios use.
var DefaultDelays = Delays{
	NodeBoot: Delay{"GPU node boot, join and device plugin", 110 * time.Second,
		"EKS managed node group launch and join 1–2 min (assumption, docs/autoscaling-and-observability.md) + NVIDIA device plugin 10–30 s"},
	ImagePull: Delay{"Triton image pull on a new node", 334 * time.Second,
		"a 9.5 GB inference image took ~334 s uncached (aws-ia terraform-aws-eks-blueprints, ml-container-cache pattern)"},
	ModelLoad: Delay{"model repository download and load", 20 * time.Second,
		"the sample repository (a few MB) from S3 plus Python backend start; assumption"},
}

// ColdStart is a new replica's time to ready on a new node.
func (d Delays) ColdStart() time.Duration { return d.NodeBoot.D + d.ImagePull.D + d.ModelLoad.D }

// All lists the delays for the report.
func (d Delays) All() []Delay { return []Delay{d.NodeBoot, d.ImagePull, d.ModelLoad} }
