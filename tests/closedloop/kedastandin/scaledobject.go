package kedastandin

import (
	"errors"
	"fmt"
	"github.com/aiplatform/infra/tests/closedloop/internal/apijson"
	"slices"
	"strconv"
	"strings"
	"time"
)

// KEDA's defaults (apis/keda/v1alpha1/withtriggers_types.go
// defaultPollingInterval; pkg/scaling/executor/scale_executor.go
// defaultCooldownPeriod and defaultInitialCooldownPeriod;
// scaledobject_types.go defaultHPAMaxReplicas).
const (
	DefaultPollingInterval       = 30 * time.Second
	DefaultCooldownPeriod        = 5 * time.Minute
	DefaultInitialCooldownPeriod = 0
	DefaultMaxReplicaCount       = 100
)

// OwnerLabel selects a ScaledObject's External metrics
// (apis/keda/v1alpha1/scaledobject_types.go ScaledObjectOwnerAnnotation).
const OwnerLabel = "scaledobject.keda.sh/name"

// Trigger types the stand-in models.
const (
	TypePrometheus = "prometheus"
	TypeCPU        = "cpu"
	TypeMemory     = "memory"
)

// ScaledObject is a keda.sh/v1alpha1 ScaledObject with KEDA's defaults
// filled in.
type ScaledObject struct {
	Name, Namespace     string
	Labels, Annotations map[string]string
	Target              Target
	// PollingInterval, CooldownPeriod and InitialCooldownPeriod are the
	// spec's seconds.
	PollingInterval, CooldownPeriod, InitialCooldownPeriod time.Duration
	// IdleReplicaCount is nil when unset (idle mode off).
	IdleReplicaCount                 *int
	MinReplicaCount, MaxReplicaCount int
	// HPAName is the HPA KEDA creates: advanced.horizontalPodAutoscalerConfig.name,
	// else keda-hpa-<name> (controllers/keda/hpa.go getHPAName).
	HPAName string
	// Behavior is advanced.horizontalPodAutoscalerConfig.behavior, as given.
	Behavior map[string]any
	Triggers []Trigger
}

// TriggerNamed is the trigger whose name is name.
func (so ScaledObject) TriggerNamed(name string) (Trigger, bool) {
	for _, t := range so.Triggers {
		if t.Name == name {
			return t, true
		}
	}
	return Trigger{}, false
}

// Target is spec.scaleTargetRef.
type Target struct{ APIVersion, Kind, Name string }

// Trigger is one spec.triggers entry.
type Trigger struct {
	// Index is the position in spec.triggers, which names the metric.
	Index      int
	Type, Name string
	// MetricType: AverageValue (the prometheus default), Value or
	// Utilization.
	MetricType string
	// Prometheus triggers.
	ServerAddress, Query           string
	Threshold, ActivationThreshold float64
	IgnoreNullValues               bool
	// Value of a cpu or memory trigger (a percentage with Utilization).
	Value string
}

// External: the trigger is an External metric with an activation (cpu and
// memory triggers are the HPA's Resource metrics and never activate).
func (t Trigger) External() bool { return t.Type == TypePrometheus }

// MetricName is the External metric's name, s<index>-prometheus; "" for a
// Resource metric.
func (t Trigger) MetricName() string {
	if !t.External() {
		return ""
	}
	return fmt.Sprintf("s%d-%s", t.Index, t.Type)
}

// The parts of a ScaledObject Parse understands; anything else is an
// error (a field the stand-in ignored would make the loop measure
// something KEDA does not do).
type (
	soSpec struct {
		ScaleTargetRef *struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		PollingInterval       *int `json:"pollingInterval"`
		CooldownPeriod        *int `json:"cooldownPeriod"`
		InitialCooldownPeriod *int `json:"initialCooldownPeriod"`
		IdleReplicaCount      *int `json:"idleReplicaCount"`
		MinReplicaCount       *int `json:"minReplicaCount"`
		MaxReplicaCount       *int `json:"maxReplicaCount"`
		Advanced              *struct {
			HorizontalPodAutoscalerConfig *struct {
				Name     string         `json:"name"`
				Behavior map[string]any `json:"behavior"`
			} `json:"horizontalPodAutoscalerConfig"`
		} `json:"advanced"`
		Triggers []soTrigger `json:"triggers"`
	}
	soTrigger struct {
		Type       string            `json:"type"`
		Name       string            `json:"name"`
		MetricType string            `json:"metricType"`
		Metadata   map[string]string `json:"metadata"`
	}
)

const supportedSpec = "scaleTargetRef.{apiVersion, kind, name}, pollingInterval, cooldownPeriod, initialCooldownPeriod, idleReplicaCount, " +
	"minReplicaCount, maxReplicaCount, advanced.horizontalPodAutoscalerConfig.{name, behavior}, triggers[].{type, name, metricType, metadata}"

// metadataKeys are the trigger metadata keys each type takes here
// (prometheus_scaler.go prometheusMetadata; cpu_memory_scaler.go
// cpuMemoryMetadata without containerName).
var metadataKeys = map[string][]string{
	TypePrometheus: {"serverAddress", "query", "threshold", "activationThreshold", "ignoreNullValues"},
	TypeCPU:        {"value"},
	TypeMemory:     {"value"},
}

// Parse reads a JSON-shaped keda.sh/v1alpha1 ScaledObject (the program's
// render) and fills KEDA's defaults. It reports every problem at once,
// each with its path.
func Parse(obj map[string]any) (ScaledObject, error) {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if obj["apiVersion"] != "keda.sh/v1alpha1" || obj["kind"] != "ScaledObject" {
		bad("apiVersion/kind", "must be keda.sh/v1alpha1 ScaledObject, got %v %v", obj["apiVersion"], obj["kind"])
	}
	var so ScaledObject
	meta, _ := obj["metadata"].(map[string]any)
	so.Name, _ = meta["name"].(string)
	so.Namespace, _ = meta["namespace"].(string)
	so.Labels, so.Annotations = stringMap(meta["labels"]), stringMap(meta["annotations"])
	if so.Name == "" {
		bad("metadata.name", "required")
	}
	var spec soSpec
	if err := apijson.DecodeStrict(obj["spec"], &spec); err != nil {
		bad("spec", "%v (supported: %s)", err, supportedSpec)
		return ScaledObject{}, errors.Join(errs...)
	}
	if r := spec.ScaleTargetRef; r == nil || r.Name == "" {
		bad("spec.scaleTargetRef.name", "required (the Deployment KEDA scales)")
	} else {
		so.Target = Target{APIVersion: r.APIVersion, Kind: r.Kind, Name: r.Name}
		if so.Target.APIVersion == "" {
			so.Target.APIVersion = "apps/v1"
		}
		if so.Target.Kind == "" {
			so.Target.Kind = "Deployment"
		}
	}
	seconds := func(v *int, def time.Duration, path string, min int) time.Duration {
		if v == nil {
			return def
		}
		if *v < min {
			bad(path, "must be >= %d seconds, got %d", min, *v)
		}
		return time.Duration(*v) * time.Second
	}
	so.PollingInterval = seconds(spec.PollingInterval, DefaultPollingInterval, "spec.pollingInterval", 1)
	so.CooldownPeriod = seconds(spec.CooldownPeriod, DefaultCooldownPeriod, "spec.cooldownPeriod", 0)
	so.InitialCooldownPeriod = seconds(spec.InitialCooldownPeriod, DefaultInitialCooldownPeriod, "spec.initialCooldownPeriod", 0)
	so.IdleReplicaCount = spec.IdleReplicaCount
	if spec.MinReplicaCount != nil {
		so.MinReplicaCount = *spec.MinReplicaCount
	}
	so.MaxReplicaCount = DefaultMaxReplicaCount
	if spec.MaxReplicaCount != nil {
		so.MaxReplicaCount = *spec.MaxReplicaCount
	}
	// KEDA's admission webhook (apis/keda/v1alpha1/scaledobject_types.go
	// CheckReplicaCountBoundsAreValid).
	if so.MinReplicaCount < 0 || so.MinReplicaCount > so.MaxReplicaCount {
		bad("spec.minReplicaCount", "%d must be between 0 and maxReplicaCount (%d)", so.MinReplicaCount, so.MaxReplicaCount)
	}
	if i := so.IdleReplicaCount; i != nil && (*i < 0 || *i >= so.MinReplicaCount) {
		bad("spec.idleReplicaCount", "%d must be >= 0 and less than minReplicaCount (%d)", *i, so.MinReplicaCount)
	}
	so.HPAName = "keda-hpa-" + so.Name
	if a := spec.Advanced; a != nil && a.HorizontalPodAutoscalerConfig != nil {
		if n := a.HorizontalPodAutoscalerConfig.Name; n != "" {
			so.HPAName = n
		}
		so.Behavior = a.HorizontalPodAutoscalerConfig.Behavior
	}
	if len(spec.Triggers) == 0 {
		bad("spec.triggers", "at least one trigger is required")
	}
	for i, raw := range spec.Triggers {
		so.Triggers = append(so.Triggers, parseTrigger(i, raw, bad))
	}
	return so, errors.Join(errs...)
}

func parseTrigger(i int, raw soTrigger, bad func(string, string, ...any)) Trigger {
	path := fmt.Sprintf("spec.triggers[%d]", i)
	t := Trigger{Index: i, Type: raw.Type, Name: raw.Name, MetricType: raw.MetricType}
	allowed, ok := metadataKeys[raw.Type]
	if !ok {
		bad(path+".type", "%q is not modelled by the KEDA stand-in (prometheus, cpu, memory)", raw.Type)
		return t
	}
	for k := range raw.Metadata {
		if !slices.Contains(allowed, k) {
			bad(path+".metadata."+k, "not modelled for a %s trigger (allowed: %s)", raw.Type, strings.Join(allowed, ", "))
		}
	}
	number := func(key string, required bool) float64 {
		s, ok := raw.Metadata[key]
		if !ok {
			if required {
				bad(path+".metadata."+key, "required")
			}
			return 0
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			bad(path+".metadata."+key, "%q is not a number", s)
		}
		return f
	}
	switch raw.Type {
	case TypePrometheus:
		if t.MetricType == "" {
			t.MetricType = "AverageValue"
		}
		if t.MetricType != "AverageValue" && t.MetricType != "Value" {
			bad(path+".metricType", "%q: a prometheus trigger takes AverageValue (default) or Value", t.MetricType)
		}
		t.ServerAddress, t.Query = raw.Metadata["serverAddress"], raw.Metadata["query"]
		if t.ServerAddress == "" || t.Query == "" {
			bad(path+".metadata", "serverAddress and query are required")
		}
		t.Threshold = number("threshold", true)
		t.ActivationThreshold = number("activationThreshold", false)
		t.IgnoreNullValues = true
		if s, ok := raw.Metadata["ignoreNullValues"]; ok {
			v, err := strconv.ParseBool(s)
			if err != nil {
				bad(path+".metadata.ignoreNullValues", "%q is not true or false", s)
			}
			t.IgnoreNullValues = v
		}
	case TypeCPU, TypeMemory:
		if t.MetricType != "Utilization" && t.MetricType != "AverageValue" {
			bad(path+".metricType", "%q: a %s trigger takes Utilization or AverageValue", t.MetricType, raw.Type)
		}
		t.Value = raw.Metadata["value"]
		if t.Value == "" {
			bad(path+".metadata.value", "required")
		} else if t.MetricType == "Utilization" {
			if n, err := strconv.Atoi(t.Value); err != nil || n <= 0 {
				bad(path+".metadata.value", "%q: a Utilization is a whole percentage > 0", t.Value)
			}
		}
	}
	return t
}

func stringMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	if len(m) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// decodeStrict re-decodes a JSON-shaped value into a typed one, rejecting
// unknown keys.
