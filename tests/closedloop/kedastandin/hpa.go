package kedastandin

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Version is the KEDA release the stand-in follows; it labels the HPA as
// the operator's version does (app.kubernetes.io/version).
const Version = "2.20.2"

// HPA is the autoscaling/v2 HorizontalPodAutoscaler KEDA's operator creates
// for so (controllers/keda/hpa.go newHPAForScaledObject): named HPAName in
// the ScaledObject's namespace, labelled like the operator labels it and
// carrying the ScaledObject's own labels and annotations; minReplicas
// max(minReplicaCount, 1) (GetHPAMinReplicas), maxReplicas
// maxReplicaCount, the behavior as given, and the metrics of
// getScaledObjectMetricSpecs: one External metric per prometheus trigger,
// selected by OwnerLabel, one Resource metric per cpu or memory trigger,
// sorted by type (External before Resource; KEDA sorts with sort.Slice,
// which does not promise to keep trigger order among equal types; this
// keeps it). No ownerReference: the loop has no ScaledObject object in the
// API server.
func HPA(so ScaledObject) map[string]any {
	labels := map[string]any{
		"app.kubernetes.io/name":       truncateLabel(so.HPAName),
		"app.kubernetes.io/version":    Version,
		"app.kubernetes.io/part-of":    so.Name,
		"app.kubernetes.io/managed-by": "keda-operator",
	}
	for k, v := range so.Labels {
		labels[k] = v
	}
	meta := map[string]any{"name": so.HPAName, "namespace": so.Namespace, "labels": labels}
	if len(so.Annotations) > 0 {
		ann := map[string]any{}
		for k, v := range so.Annotations {
			ann[k] = v
		}
		meta["annotations"] = ann
	}
	var metrics []map[string]any
	for _, t := range so.Triggers {
		metrics = append(metrics, metricSpec(so, t))
	}
	sort.SliceStable(metrics, func(i, j int) bool { return metrics[i]["type"].(string) < metrics[j]["type"].(string) })
	spec := map[string]any{
		"scaleTargetRef": map[string]any{"apiVersion": so.Target.APIVersion, "kind": so.Target.Kind, "name": so.Target.Name},
		"minReplicas":    max(so.MinReplicaCount, 1),
		"maxReplicas":    so.MaxReplicaCount,
		"metrics":        toAny(metrics),
	}
	if so.Behavior != nil {
		spec["behavior"] = cloneJSON(so.Behavior)
	}
	return map[string]any{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta, "spec": spec}
}

// metricSpec is one trigger's HPA metric.
func metricSpec(so ScaledObject, t Trigger) map[string]any {
	if t.External() {
		target := map[string]any{"type": t.MetricType}
		if t.MetricType == "Value" {
			target["value"] = Quantity(t.Threshold)
		} else {
			target["averageValue"] = Quantity(t.Threshold)
		}
		return map[string]any{"type": "External", "external": map[string]any{
			"metric": map[string]any{"name": t.MetricName(), "selector": map[string]any{"matchLabels": map[string]any{OwnerLabel: so.Name}}},
			"target": target,
		}}
	}
	target := map[string]any{"type": t.MetricType}
	if t.MetricType == "Utilization" {
		n, _ := strconv.Atoi(t.Value)
		target["averageUtilization"] = n
	} else {
		target["averageValue"] = t.Value
	}
	return map[string]any{"type": "Resource", "resource": map[string]any{"name": t.Type, "target": target}}
}

// Quantity is KEDA's quantityFromFloat64 (pkg/scalers/scaler.go): the
// value with milli precision, NaN, infinities and negatives as 0, in the
// canonical form the API server echoes ("6", "2500m", "1M").
func Quantity(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return "0"
	}
	milli := int64(math.Round(v * 1000))
	if milli%1000 != 0 {
		return strconv.FormatInt(milli, 10) + "m"
	}
	n, suffix := milli/1000, ""
	for _, s := range []string{"k", "M", "G", "T", "P", "E"} {
		if n == 0 || n%1000 != 0 {
			break
		}
		n, suffix = n/1000, s
	}
	return strconv.FormatInt(n, 10) + suffix
}

// truncateLabel: a label value has at most 63 characters; KEDA cuts the
// HPA name and trims what is not a letter or digit from the end.
func truncateLabel(s string) string {
	if len(s) <= 63 {
		return s
	}
	s = s[:63]
	for len(s) > 0 && !isAlnum(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func toAny(ms []map[string]any) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

func cloneJSON(m map[string]any) map[string]any {
	raw, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("kedastandin: behavior is not JSON: %v", err))
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(err)
	}
	return out
}
