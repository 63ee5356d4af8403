package program

import (
	"testing"

	"github.com/aiplatform/infra/tests/estimate"
)

// The dev stack renders the objects the loop needs, with their real values.
func TestRenderDevStack(t *testing.T) {
	off := false
	o, err := Render(Options{Overrides: map[string]string{"aiplatform:triton": `{"maxReplicas":6}`}, GPUMaxSize: 6, ScaleToZero: &off})
	if err != nil {
		t.Fatal(err)
	}
	if got := estimate.Path(o.HPA, "spec", "maxReplicas"); got != 6.0 {
		t.Errorf("HPA maxReplicas = %v, want the override 6", got)
	}
	if got := estimate.Path(o.HPA, "spec", "minReplicas"); got != 1.0 {
		t.Errorf("HPA minReplicas = %v, want the dev stack's 1 (Pulumi.dev.yaml)", got)
	}
	if estimate.Path(o.Deployment, "spec", "template", "spec") == nil {
		t.Errorf("Deployment without a pod template: %v", o.Deployment)
	}
	if o.ScaledObject != nil {
		t.Errorf("scaleToZero off renders a ScaledObject: %v", o.ScaledObject)
	}
	if o.Deployment["kind"] != "Deployment" || o.HPA["kind"] != "HorizontalPodAutoscaler" {
		t.Errorf("kinds: %v %v", o.Deployment["kind"], o.HPA["kind"])
	}
	if len(o.AdapterRules) < 2 {
		t.Errorf("adapter rules: %v", o.AdapterRules)
	}
	if len(o.AlertGroups) == 0 || o.AlertGroups[0]["name"] != "aiplatform-triton" {
		t.Errorf("alert groups: %v", o.AlertGroups)
	}
	if o.AutoscalerArgs["expander"] != "least-waste" {
		t.Errorf("autoscaler args: %v", o.AutoscalerArgs)
	}
	var gpu *NodeGroup
	for i, g := range o.NodeGroups {
		if len(g.Taints) > 0 && g.Max == 6 {
			gpu = &o.NodeGroups[i]
		}
	}
	if gpu == nil {
		t.Fatalf("no tainted GPU group of max 6 (Options.GPUMaxSize): %+v", o.NodeGroups)
	}
	// EKS spells the effect NO_SCHEDULE; the kwok nodes need the API's.
	if eff := gpu.Taints[0].Effect; eff != "NoSchedule" {
		t.Errorf("GPU group taint effect %q, want Kubernetes' NoSchedule", eff)
	}
	t.Logf("gpu group %+v", *gpu)
}

// With triton.scaleToZero (the dev stack's setting), KEDA's ScaledObject
// replaces the HPA, and the caller whose failed calls wake Triton, the
// lds-service, is rendered with its PodMonitor.
func TestRenderScaleToZero(t *testing.T) {
	on := true
	o, err := Render(Options{ScaleToZero: &on})
	if err != nil {
		t.Fatal(err)
	}
	if o.HPA != nil || o.ScaledObject == nil {
		t.Fatalf("HPA %v, ScaledObject %v: want the ScaledObject alone", o.HPA != nil, o.ScaledObject != nil)
	}
	if got := estimate.Path(o.ScaledObject, "spec", "idleReplicaCount"); got != 0.0 {
		t.Errorf("idleReplicaCount = %v, want 0", got)
	}
	if o.LDSDeployment == nil || o.LDSPodMonitor == nil {
		t.Fatalf("lds-service Deployment %v, PodMonitor %v: both wanted", o.LDSDeployment != nil, o.LDSPodMonitor != nil)
	}
	if ns := estimate.Path(o.LDSPodMonitor, "metadata", "namespace"); ns != "lds" {
		t.Errorf("lds-service PodMonitor namespace %v, want lds (the dev stack's default)", ns)
	}
}
