package loop

import (
	"strings"
	"testing"
	"time"
)

func hpaObject() map[string]any {
	return map[string]any{
		"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
		"metadata": map[string]any{"name": "triton", "namespace": "triton", "annotations": map[string]any{"pulumi.com/skipAwait": "true"}},
		"spec": map[string]any{"behavior": map[string]any{
			"scaleUp": map[string]any{"stabilizationWindowSeconds": 0.0, "policies": []any{
				map[string]any{"type": "Percent", "value": 100.0, "periodSeconds": 15.0},
				map[string]any{"type": "Pods", "value": 4.0, "periodSeconds": 15.0}}},
			"scaleDown": map[string]any{"stabilizationWindowSeconds": 300.0, "policies": []any{
				map[string]any{"type": "Pods", "value": 1.0, "periodSeconds": 120.0}}},
		}},
	}
}

// Every behaviour window and period of the program's HPA is divided by the
// factor, and nothing else changes but the namespace.
func TestHPAForCompressesEveryWindowAndPeriod(t *testing.T) {
	h, err := hpaFor(hpaObject(), "cl-1", Compression)
	if err != nil {
		t.Fatal(err)
	}
	b := h["spec"].(map[string]any)["behavior"].(map[string]any)
	up, down := b["scaleUp"].(map[string]any), b["scaleDown"].(map[string]any)
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"scaleUp window", up["stabilizationWindowSeconds"], 0.0},
		{"scaleUp period 0", up["policies"].([]any)[0].(map[string]any)["periodSeconds"], 1.0},
		{"scaleUp period 1", up["policies"].([]any)[1].(map[string]any)["periodSeconds"], 1.0},
		{"scaleUp value 1", up["policies"].([]any)[1].(map[string]any)["value"], 4.0},
		{"scaleDown window", down["stabilizationWindowSeconds"], 20.0},
		{"scaleDown period", down["policies"].([]any)[0].(map[string]any)["periodSeconds"], 8.0},
		{"namespace", h["metadata"].(map[string]any)["namespace"], "cl-1"},
		{"annotations dropped", h["metadata"].(map[string]any)["annotations"], nil},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// The program's object is not modified.
	if hpaObject()["spec"].(map[string]any)["behavior"].(map[string]any)["scaleDown"].(map[string]any)["stabilizationWindowSeconds"] != 300.0 {
		t.Error("the input changed")
	}
}

// A period the factor does not divide is an error, not a silent rounding.
func TestHPAForRefusesAPeriodTheFactorDoesNotDivide(t *testing.T) {
	_, err := hpaFor(hpaObject(), "cl-1", 20)
	if err == nil || !strings.Contains(err.Error(), "spec.behavior.scaleUp.policies[0].periodSeconds") {
		t.Fatalf("err = %v, want the period's path", err)
	}
}

func TestDeploymentForPinsPodsToTheScenarioNodes(t *testing.T) {
	prog := map[string]any{"metadata": map[string]any{"name": "triton", "namespace": "triton"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"nodeSelector": map[string]any{"aiplatform.io/node-kind": "gpu"},
			"containers": []any{map[string]any{"resources": map[string]any{"requests": map[string]any{"cpu": "2", "nvidia.com/gpu": "1"}}}}}}}}
	d := deploymentFor(prog, "cl-7")
	sel := d["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["nodeSelector"].(map[string]any)
	if sel[ScenarioLabel] != "cl-7" || sel["aiplatform.io/node-kind"] != "gpu" {
		t.Errorf("nodeSelector = %v", sel)
	}
	if got := milli(containerRequest(d, "cpu")); got != 2000 {
		t.Errorf("cpu request = %dm, want 2000m", got)
	}
	if got := gpuRequest(d); got != 1 {
		t.Errorf("gpu request = %d", got)
	}
}

func TestQuantities(t *testing.T) {
	for q, want := range map[string]int64{"250m": 250, "2": 2000, "1.5": 1500, "": 0} {
		if got := milli(q); got != want {
			t.Errorf("milli(%q) = %d, want %d", q, got, want)
		}
	}
	for q, want := range map[string]float64{"16Gi": 16 << 30, "512Mi": 512 << 20, "1G": 1e9, "1000": 1000} {
		if got := bytesOf(q); got != want {
			t.Errorf("bytesOf(%q) = %v, want %v", q, got, want)
		}
	}
}

// The CPU stand-in never reaches the HPA's 70% CPU target, so the
// inference signal alone drives the loop.
func TestCPUModelStaysUnderTheCPUTarget(t *testing.T) {
	if got := cpuModel(1000, 1); got >= 700 {
		t.Errorf("a saturated pod uses %dm of 1000m: the CPU metric would drive the loop", got)
	}
	if got := cpuModel(1000, 0); got != 100 {
		t.Errorf("idle = %dm, want 100m", got)
	}
}

func TestColdStartIsTheSumOfTheModelledDelays(t *testing.T) {
	var sum time.Duration
	for _, d := range DefaultDelays.All() {
		if d.Source == "" {
			t.Errorf("%s has no source", d.Name)
		}
		sum += d.D
	}
	if DefaultDelays.ColdStart() != sum {
		t.Errorf("cold start %v, delays sum to %v", DefaultDelays.ColdStart(), sum)
	}
}
