package kedastandin

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// contractScaledObject is the ScaledObject of the contract (issue 20,
// "a dev GPU idles at $0"), as the program renders it: Triton's HPA
// behavior, minReplicas 1, maxReplicas 2, a load trigger summing the
// inference metric, a wake trigger on lds-service's failed calls, and the
// CPU target.
func contractScaledObject() map[string]any {
	return map[string]any{
		"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
		"metadata": map[string]any{"name": "triton", "namespace": "triton",
			"labels":      map[string]any{"app.kubernetes.io/name": "triton"},
			"annotations": map[string]any{"scaledobject.keda.sh/transfer-hpa-ownership": "true"}},
		"spec": map[string]any{
			"scaleTargetRef":   map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "triton"},
			"pollingInterval":  15.0,
			"cooldownPeriod":   1800.0,
			"idleReplicaCount": 0.0,
			"minReplicaCount":  1.0,
			"maxReplicaCount":  2.0,
			"advanced": map[string]any{"horizontalPodAutoscalerConfig": map[string]any{
				"name": "triton",
				"behavior": map[string]any{
					"scaleUp": map[string]any{"stabilizationWindowSeconds": 0.0, "selectPolicy": "Max", "policies": []any{
						map[string]any{"type": "Percent", "value": 100.0, "periodSeconds": 15.0},
						map[string]any{"type": "Pods", "value": 4.0, "periodSeconds": 15.0}}},
					"scaleDown": map[string]any{"stabilizationWindowSeconds": 300.0, "policies": []any{
						map[string]any{"type": "Pods", "value": 1.0, "periodSeconds": 120.0}}},
				},
			}},
			"triggers": []any{
				map[string]any{"type": "prometheus", "name": "load", "metricType": "AverageValue", "metadata": map[string]any{
					"serverAddress":       "http://kube-prometheus-stack-prometheus.monitoring.svc:9090",
					"query":               `sum(sum by (namespace,pod) (rate(nv_inference_request_duration_us{namespace="triton"}[1m])) / 1e6)`,
					"threshold":           "6",
					"activationThreshold": "0"}},
				map[string]any{"type": "prometheus", "name": "callers-waiting", "metricType": "AverageValue", "metadata": map[string]any{
					"serverAddress":       "http://kube-prometheus-stack-prometheus.monitoring.svc:9090",
					"query":               `sum(rate(lds_triton_errors_total{namespace="lds",reason=~"unreachable|model_not_ready"}[1m]))`,
					"threshold":           "1000000",
					"activationThreshold": "0"}},
				map[string]any{"type": "cpu", "metricType": "Utilization", "metadata": map[string]any{"value": "70"}},
			},
		},
	}
}

func mustParse(t *testing.T, obj map[string]any) ScaledObject {
	t.Helper()
	so, err := Parse(obj)
	if err != nil {
		t.Fatal(err)
	}
	return so
}

// The HPA KEDA's operator creates from the contract's ScaledObject
// (controllers/keda/hpa.go newHPAForScaledObject): the program's name and
// behavior, minReplicas max(minReplicaCount, 1), one External metric per
// prometheus trigger named by its index and selected by the ScaledObject's
// name, the CPU target as a Resource metric.
func TestHPAFromTheContractsScaledObject(t *testing.T) {
	so := mustParse(t, contractScaledObject())
	got := HPA(so)
	behavior := contractScaledObject()["spec"].(map[string]any)["advanced"].(map[string]any)["horizontalPodAutoscalerConfig"].(map[string]any)["behavior"]
	external := func(name, target string) map[string]any {
		return map[string]any{"type": "External", "external": map[string]any{
			"metric": map[string]any{"name": name, "selector": map[string]any{"matchLabels": map[string]any{"scaledobject.keda.sh/name": "triton"}}},
			"target": map[string]any{"type": "AverageValue", "averageValue": target}}}
	}
	want := map[string]any{
		"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
		"metadata": map[string]any{"name": "triton", "namespace": "triton",
			"labels": map[string]any{"app.kubernetes.io/name": "triton", "app.kubernetes.io/version": "2.20.2",
				"app.kubernetes.io/part-of": "triton", "app.kubernetes.io/managed-by": "keda-operator"},
			"annotations": map[string]any{"scaledobject.keda.sh/transfer-hpa-ownership": "true"}},
		"spec": map[string]any{
			"scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "triton"},
			"minReplicas":    1, "maxReplicas": 2,
			"behavior": behavior,
			"metrics": []any{
				external("s0-prometheus", "6"),
				external("s1-prometheus", "1M"),
				map[string]any{"type": "Resource", "resource": map[string]any{"name": "cpu", "target": map[string]any{"type": "Utilization", "averageUtilization": 70}}},
			},
		},
	}
	if !reflect.DeepEqual(jsonOf(t, got), jsonOf(t, want)) {
		t.Errorf("HPA:\n%s\nwant\n%s", jsonOf(t, got), jsonOf(t, want))
	}
	if so.PollingInterval != 15*time.Second || so.CooldownPeriod != 30*time.Minute || so.IdleReplicaCount == nil || *so.IdleReplicaCount != 0 {
		t.Errorf("parsed %+v", so)
	}
}

// minReplicaCount 0 still gives the HPA one replica (GetHPAMinReplicas),
// metrics keep trigger order within a type (cpu first in the list, External
// first in the HPA), and without a name the HPA is keda-hpa-<name>.
func TestHPADefaultsAndOrder(t *testing.T) {
	obj := contractScaledObject()
	spec := obj["spec"].(map[string]any)
	spec["minReplicaCount"] = 0.0
	delete(spec, "idleReplicaCount")
	delete(spec, "maxReplicaCount")
	delete(spec, "advanced")
	tr := spec["triggers"].([]any)
	spec["triggers"] = []any{tr[2], tr[0], tr[1]}
	h := HPA(mustParse(t, obj))
	s := h["spec"].(map[string]any)
	if s["minReplicas"] != 1 || s["maxReplicas"] != DefaultMaxReplicaCount || h["metadata"].(map[string]any)["name"] != "keda-hpa-triton" {
		t.Errorf("spec %v, name %v", s, h["metadata"])
	}
	if _, ok := s["behavior"]; ok {
		t.Error("behavior without advanced.horizontalPodAutoscalerConfig")
	}
	var names []string
	for _, m := range s["metrics"].([]any) {
		mm := m.(map[string]any)
		if e, ok := mm["external"].(map[string]any); ok {
			names = append(names, e["metric"].(map[string]any)["name"].(string))
		} else {
			names = append(names, mm["resource"].(map[string]any)["name"].(string))
		}
	}
	if strings.Join(names, " ") != "s1-prometheus s2-prometheus cpu" {
		t.Errorf("metrics %v, want the External metrics by trigger index, then cpu", names)
	}
}

func TestParseRefusesWhatItDoesNotModel(t *testing.T) {
	obj := contractScaledObject()
	spec := obj["spec"].(map[string]any)
	spec["fallback"] = map[string]any{"replicas": 1.0}
	if _, err := Parse(obj); err == nil || !strings.Contains(err.Error(), "fallback") || !strings.Contains(err.Error(), "supported:") {
		t.Errorf("fallback: err = %v, want it named with the supported fields", err)
	}
	obj = contractScaledObject()
	spec = obj["spec"].(map[string]any)
	spec["idleReplicaCount"] = 1.0
	tr := spec["triggers"].([]any)
	tr[0].(map[string]any)["type"] = "kafka"
	tr[1].(map[string]any)["metadata"].(map[string]any)["unsafeSsl"] = "true"
	tr[2].(map[string]any)["metadata"].(map[string]any)["value"] = "seventy"
	_, err := Parse(obj)
	for _, want := range []string{
		"spec.idleReplicaCount: 1 must be >= 0 and less than minReplicaCount (1)",
		`spec.triggers[0].type: "kafka" is not modelled`,
		"spec.triggers[1].metadata.unsafeSsl: not modelled for a prometheus trigger",
		`spec.triggers[2].metadata.value: "seventy"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

func TestQuantity(t *testing.T) {
	for v, want := range map[float64]string{6: "6", 2.5: "2500m", 1e6: "1M", 1500: "1500", 0.0004: "0", -1: "0", math.NaN(): "0", 12000: "12k"} {
		if got := Quantity(v); got != want {
			t.Errorf("Quantity(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestPromValue(t *testing.T) {
	for _, c := range []struct {
		name       string
		values     []float64
		ignoreNull bool
		want       float64
		err        string
	}{
		{"one series", []float64{2.5}, true, 2.5, ""},
		{"empty is 0 (ignoreNullValues default)", nil, true, 0, ""},
		{"empty without ignoreNullValues", nil, false, 0, "result is empty"},
		{"two series", []float64{1, 2}, true, 0, "returned 2 series"},
		{"NaN is 0", []float64{math.NaN()}, true, 0, ""},
		{"NaN without ignoreNullValues", []float64{math.NaN()}, false, 0, "NaN"},
	} {
		got, err := PromValue(c.values, c.ignoreNull)
		if c.err == "" && (err != nil || got != c.want) || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %v, %v; want %v, %q", c.name, got, err, c.want, c.err)
		}
	}
}

// Activation (scale_handler.go getScaledObjectState): a prometheus trigger
// is active above its activationThreshold; cpu never activates; a
// ScaledObject of cpu triggers only is always active.
func TestActivity(t *testing.T) {
	so := mustParse(t, contractScaledObject())
	load, wake := so.Triggers[0], so.Triggers[1]
	for _, c := range []struct {
		name          string
		readings      []Reading
		active, isErr bool
	}{
		{"idle", []Reading{{Trigger: load}, {Trigger: wake}}, false, false},
		{"load", []Reading{{Trigger: load, Value: 0.2}, {Trigger: wake}}, true, false},
		{"callers waiting", []Reading{{Trigger: load}, {Trigger: wake, Value: 0.01}}, true, false},
		{"at the activation threshold is not above it", []Reading{{Trigger: load, Value: 0}, {Trigger: wake, Value: 0}}, false, false},
		{"an error", []Reading{{Trigger: load, Err: errors.New("down")}, {Trigger: wake}}, false, true},
		{"an error and an active trigger", []Reading{{Trigger: load, Err: errors.New("down")}, {Trigger: wake, Value: 3}}, true, true},
	} {
		active, isErr, _ := Activity(so, c.readings)
		if active != c.active || isErr != c.isErr {
			t.Errorf("%s: active %v isErr %v, want %v %v", c.name, active, isErr, c.active, c.isErr)
		}
	}
	cpuOnly := so
	cpuOnly.Triggers = so.Triggers[2:]
	if active, _, _ := Activity(cpuOnly, nil); !active {
		t.Error("a cpu-only ScaledObject must always be active (it could never wake)")
	}
}

// Decide is RequestScale, case by case (scale_scaledobjects.go).
func TestDecide(t *testing.T) {
	so := mustParse(t, contractScaledObject()) // idle 0, min 1, cooldown 30 m
	noIdle := so
	noIdle.IdleReplicaCount = nil
	minZero := noIdle
	minZero.MinReplicaCount = 0
	minThree := so
	minThree.MinReplicaCount = 3
	const now = time.Hour
	active := Status{LastActive: now - time.Minute, HasLastActive: true}
	cooled := Status{LastActive: now - 31*time.Minute, HasLastActive: true}
	for _, c := range []struct {
		name          string
		so            ScaledObject
		st            Status
		replicas      int
		active, isErr bool
		want          int
		lastActive    bool // lastActiveTime set to now
	}{
		{"active at 0 wakes to minReplicaCount", so, cooled, 0, true, false, 1, true},
		{"active at 0 with min 3 wakes to 3", minThree, cooled, 0, true, false, 3, true},
		{"active at 0 with min 0 wakes to 1", minZero, Status{}, 0, true, false, 1, true},
		{"active at 0 with a failing trigger still wakes", so, cooled, 0, true, true, 1, true},
		{"active with replicas: the HPA scales, lastActiveTime moves", so, cooled, 2, true, false, NoChange, true},
		{"active with replicas and a failing trigger: nothing", so, cooled, 2, true, true, NoChange, false},
		{"idle mode, below min with replicas: back to min", minThree, cooled, 1, true, false, 3, true},
		{"inactive within the cooldown: cooling down", so, active, 2, false, false, NoChange, false},
		{"inactive past the cooldown: to idleReplicaCount", so, cooled, 2, false, false, 0, false},
		{"inactive past the cooldown, a failing trigger: nothing", so, cooled, 2, false, true, NoChange, false},
		{"inactive at 0: nothing", so, cooled, 0, false, false, NoChange, false},
		{"never active, initialCooldownPeriod 0 passed: to idle", so, Status{Created: now - time.Second}, 1, false, false, 0, false},
		{"never active, created this instant: waits", so, Status{Created: now}, 1, false, false, NoChange, false},
		{"no idle mode, min 1: the HPA's floor stays", noIdle, cooled, 1, false, false, NoChange, false},
		{"no idle mode, min 0: to zero past the cooldown", minZero, cooled, 1, false, false, 0, false},
		{"no idle mode, below min: to min", noIdle, cooled, 0, false, false, 1, false},
	} {
		got, next, what := Decide(c.so, c.st, now, c.replicas, c.active, c.isErr)
		if got != c.want {
			t.Errorf("%s: scale to %d (%s), want %d", c.name, got, what, c.want)
		}
		if moved := next.HasLastActive && next.LastActive == now; moved != c.lastActive {
			t.Errorf("%s: lastActiveTime moved to now: %v, want %v", c.name, moved, c.lastActive)
		}
	}
}

// The loop the harness runs: a poll at once, then every pollingInterval;
// callers waiting wake the target from 0; the load keeps it; with neither
// for the cooldown it goes back to 0.
func TestOperatorWakesAndCoolsDown(t *testing.T) {
	so := mustParse(t, contractScaledObject())
	values := map[string]float64{}
	query := func(_ context.Context, q string) ([]float64, error) {
		for k, v := range values {
			if strings.Contains(q, k) {
				return []float64{v}, nil
			}
		}
		return nil, nil // no series: 0
	}
	op := NewOperator(so, query, 0)
	replicas := 0
	step := func(at time.Duration) Poll {
		t.Helper()
		if !op.Due(at) {
			t.Fatalf("not due at %v", at)
		}
		p := op.Poll(context.Background(), at, replicas)
		if p.ScaleTo != NoChange {
			replicas = p.ScaleTo
		}
		return p
	}
	if p := step(0); p.ScaleTo != NoChange || p.Active {
		t.Fatalf("idle at 0: %v", p)
	}
	if op.Due(14 * time.Second) {
		t.Error("due before pollingInterval")
	}
	values["lds_triton_errors_total"] = 0.4
	if p := step(15 * time.Second); replicas != 1 || !p.Active {
		t.Fatalf("callers waiting did not wake it: %v", p)
	}
	delete(values, "lds_triton_errors_total")
	values["nv_inference_request_duration_us"] = 3
	step(30 * time.Second)
	delete(values, "nv_inference_request_duration_us")
	at := 45 * time.Second
	for ; at <= 30*time.Second+30*time.Minute; at += 15 * time.Second {
		if p := step(at); replicas != 1 {
			t.Fatalf("scaled in at %v, within the cooldown: %v", at, p)
		}
	}
	if p := step(at); replicas != 0 {
		t.Fatalf("still %d replicas at %v, past the cooldown: %v", replicas, at, p)
	}
	if got := op.Status().LastActive; got != 30*time.Second {
		t.Errorf("lastActiveTime %v, want the last poll with load (30s)", got)
	}
}

// The HPA's request for an External metric is answered by the trigger's
// query at that moment; empty is 0.
func TestMetricsServer(t *testing.T) {
	so := mustParse(t, contractScaledObject())
	var asked []string
	s := NewMetricsServer(func(_ context.Context, q string) ([]float64, error) {
		asked = append(asked, q)
		if strings.Contains(q, "lds_triton_errors_total") {
			return nil, nil
		}
		return []float64{12.5}, nil
	})
	s.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	s.Register(so)
	get := func(path string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body
	}
	sel := "?labelSelector=scaledobject.keda.sh%2Fname%3Dtriton"
	code, body := get("/apis/external.metrics.k8s.io/v1beta1/namespaces/triton/s0-prometheus" + sel)
	item := body["items"].([]any)[0].(map[string]any)
	if code != 200 || item["value"] != "12500m" || item["metricName"] != "s0-prometheus" || item["timestamp"] != "2026-01-02T03:04:05Z" {
		t.Errorf("s0: %d %v", code, body)
	}
	if len(asked) != 1 || asked[0] != so.Triggers[0].Query {
		t.Errorf("queries %v, want the load trigger's", asked)
	}
	if code, body := get("/apis/external.metrics.k8s.io/v1beta1/namespaces/triton/s1-prometheus" + sel); code != 200 || body["items"].([]any)[0].(map[string]any)["value"] != "0" {
		t.Errorf("s1 (no series): %d %v, want 0", code, body)
	}
	for path, wantCode := range map[string]int{
		"/apis/external.metrics.k8s.io/v1beta1/namespaces/triton/s2-cpu" + sel:                       404,
		"/apis/external.metrics.k8s.io/v1beta1/namespaces/other/s0-prometheus" + sel:                 500,
		"/apis/external.metrics.k8s.io/v1beta1/namespaces/triton/s0-prometheus":                      500,
		"/apis/external.metrics.k8s.io/v1beta1/namespaces/triton/s0-prometheus?labelSelector=a!%3Db": 400,
		"/apis/external.metrics.k8s.io/v1beta1":                                                      200,
	} {
		if code, body := get(path); code != wantCode {
			t.Errorf("%s: %d %v, want %d", path, code, body, wantCode)
		}
	}
	s.Unregister("triton", "triton")
	if code, _ := get("/apis/external.metrics.k8s.io/v1beta1/namespaces/triton/s0-prometheus" + sel); code != 500 {
		t.Errorf("after Unregister: %d", code)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var norm any
	_ = json.Unmarshal(raw, &norm)
	raw, _ = json.MarshalIndent(norm, "", "  ")
	return string(raw)
}
