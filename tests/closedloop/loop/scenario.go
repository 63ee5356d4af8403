package loop

import (
	"time"

	"github.com/aiplatform/infra/tests/closedloop/tritonsim"
)

// Scenario is one closed-loop run: a load on the program's Triton
// Deployment and HPA with one scaling signal.
type Scenario struct {
	Name string
	// Signal is triton.autoscaling.metric; Target its target (0: default).
	Signal string
	Target float64
	// Duration is simulated time.
	Duration time.Duration
	// Settle: replica direction changes are counted after it.
	Settle time.Duration
	// StepAt is when the load changes; recovery is measured from it.
	StepAt time.Duration
	Models []tritonsim.Model
	Load   []tritonsim.Stream
	// MinReplicas, MaxReplicas and GPUMax change the dev stack
	// (triton.minReplicas/maxReplicas, the gpu group's maxSize).
	MinReplicas, MaxReplicas, GPUMax int
	// WarmReplicas are ready, on nodes with Triton's image, when the clock
	// starts (0: MinReplicas): the replicas a deployed platform would have
	// settled at for the starting load.
	WarmReplicas int
	// InterruptAt, when set, drains and removes one GPU node that runs a
	// Triton pod (a spot interruption: two minutes' notice, the node
	// termination handler drains it).
	InterruptAt time.Duration
	// Objective is the queue time a request may wait; the share of
	// requests over it is a figure, and "the objective holds" means under
	// 5% of the requests of a minute are over it.
	Objective time.Duration
	// Capacity is one pod's throughput for the oracle (requests/s).
	Capacity float64
	Seed     uint64
	// ScaleToZero runs the program with triton.scaleToZero on: its KEDA
	// ScaledObject (run by the kedastandin stand-in) instead of the HPA,
	// and an lds-service stand-in whose failed calls wake Triton from zero.
	ScaleToZero bool
	// StartIdle starts the clock at 0 replicas and no GPU node, where a
	// platform that scaled to zero is (ScaleToZero only).
	StartIdle bool
	// ZeroRun marks ScaleToZeroScenarios' runs, checked for reaching and
	// leaving zero (ScaleToZero alone also marks the offered-load runs).
	ZeroRun bool
	// CallsPerPod is triton.autoscaling.callsPerPod: Triton also scales on
	// the load lds-service offers (its calls as they arrive), this many
	// requests per second per pod. 0: off.
	CallsPerPod float64
}

// scaleToZeroRun: one of ScaleToZeroScenarios, whose checks are about
// reaching and leaving zero. The offered-load runs of other scenarios, and
// their baselines, also go through KEDA without being about zero.
func (sc Scenario) scaleToZeroRun() bool { return sc.ScaleToZero && sc.ZeroRun }

// SignalLabel names the run's signals in the report: the inference metric,
// "+offered" with the offered load, and " (KEDA)" for a run through the
// ScaledObject that is not about zero (a baseline of the offered runs).
func (sc Scenario) SignalLabel() string {
	switch {
	case sc.CallsPerPod > 0:
		return sc.Signal + "+offered"
	case sc.ScaleToZero && !sc.ZeroRun:
		return sc.Signal + " (KEDA)"
	}
	return sc.Signal
}
