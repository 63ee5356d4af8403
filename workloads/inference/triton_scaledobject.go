package inference

import (
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Triton scales to zero through KEDA (triton.scaleToZero): a Kubernetes HPA
// cannot go below one replica (minReplicas >= 1 unless the alpha
// HPAScaleToZero gate is on, which EKS does not enable), so KEDA's operator
// does the 1 <-> 0 step and owns the HPA that does the rest. KEDA v2.20.2,
// pkg/scaling/executor/scale_scaledobjects.go (RequestScale): while any
// trigger is active (value > activationThreshold) and the Deployment has 0
// replicas it scales it to max(minReplicaCount, 1); when none has been
// active for cooldownPeriod it scales it to idleReplicaCount. cpu and
// memory triggers never count as active (they cannot wake anything).
// controllers/keda/hpa.go builds the HPA: minReplicas max(minReplicaCount,
// 1), one External metric per trigger, and advanced.horizontalPodAutoscalerConfig's
// name and behavior.

// scaledObjectTransferHPAAnnotation lets the ScaledObject adopt the HPA an
// earlier update created under the same name instead of being refused by
// KEDA's admission webhook ("the workload ... is already managed by the
// hpa"): apis/keda/v1alpha1/scaledobject_webhook.go, verifyHpas, KEDA
// v2.20.2. The update then deletes the program's HPA, and KEDA recreates
// it: the ScaledObject controller Owns its HPAs with predicates that filter
// only updates, so a delete reconciles the ScaledObject, and
// ensureHPAForScaledObjectExists creates the missing HPA
// (controllers/keda/scaledobject_controller.go, SetupWithManager, v2.20.2).
const scaledObjectTransferHPAAnnotation = "scaledobject.keda.sh/transfer-hpa-ownership"

// kedaPollingSeconds is how often KEDA's operator checks activation: the
// delay it adds to a wake-up, next to a cold start of minutes. KEDA's
// default.
const kedaPollingSeconds = 15

// kedaWakeThreshold is the wake trigger's per-replica target: far above
// any error rate, so the trigger wakes Triton (activationThreshold 0) but
// never asks the HPA for more than one replica; the load trigger sizes it.
const kedaWakeThreshold = 1e6

// Trigger names of the ScaledObject, in the order KEDA numbers the HPA's
// External metrics (s0-prometheus, s1-prometheus and, with
// triton.autoscaling.callsPerPod, s2-prometheus; the cpu trigger is a
// Resource metric).
const (
	KEDALoadTrigger    = "load"
	KEDAWakeTrigger    = "callers-waiting"
	KEDAOfferedTrigger = "offered-load"
)

// tritonScaledObjectSpec is the ScaledObject that replaces the HPA when
// Triton scales to zero: the same replica bounds, behavior and CPU target
// as hpaSpec, the inference metric as a prometheus trigger summed over the
// pods (AverageValue: the HPA asks for ceil(sum / threshold), the Pods
// metric's ceil(n × mean / target)), and a wake trigger on the callers'
// failed calls.
func tritonScaledObjectSpec(s TritonSpec, k TritonKEDA) pulumi.Map {
	prometheus := func(name, query string, threshold float64) pulumi.Map {
		return pulumi.Map{
			"type":       pulumi.String("prometheus"),
			"name":       pulumi.String(name),
			"metricType": pulumi.String("AverageValue"),
			"metadata": pulumi.StringMap{
				"serverAddress":       pulumi.String(k.PrometheusAddress),
				"query":               pulumi.String(query),
				"threshold":           pulumi.String(strconv.FormatFloat(threshold, 'f', -1, 64)),
				"activationThreshold": pulumi.String("0"),
			},
		}
	}
	up, down := tritonBehavior(s.ScaleDownStabilizationSeconds)
	triggers := pulumi.Array{
		prometheus(KEDALoadTrigger, k.LoadQuery, k.LoadThreshold),
		prometheus(KEDAWakeTrigger, k.WakeQuery, kedaWakeThreshold),
	}
	if k.OfferedQuery != "" {
		triggers = append(triggers, prometheus(KEDAOfferedTrigger, k.OfferedQuery, k.OfferedThreshold))
	}
	triggers = append(triggers, pulumi.Map{
		"type":       pulumi.String("cpu"),
		"metricType": pulumi.String("Utilization"),
		"metadata":   pulumi.StringMap{"value": pulumi.String(strconv.Itoa(s.TargetCPUUtilization))},
	})
	return pulumi.Map{
		"scaleTargetRef": pulumi.Map{
			"apiVersion": pulumi.String("apps/v1"), "kind": pulumi.String("Deployment"), "name": pulumi.String(tritonName),
		},
		"pollingInterval":  pulumi.Int(kedaPollingSeconds),
		"cooldownPeriod":   pulumi.Int(s.ScaleToZero.IdleSeconds),
		"idleReplicaCount": pulumi.Int(0),
		"minReplicaCount":  pulumi.Int(s.MinReplicas),
		"maxReplicaCount":  pulumi.Int(s.MaxReplicas),
		"advanced": pulumi.Map{
			"horizontalPodAutoscalerConfig": pulumi.Map{
				"name": pulumi.String(tritonName),
				"behavior": pulumi.Map{
					"scaleUp":   up.untyped(),
					"scaleDown": down.untyped(),
				},
			},
		},
		"triggers": triggers,
	}
}

// scalingRules is one direction of an HPA's behavior, as plain data so the
// HPA and the ScaledObject render the same rules.
type scalingRules struct {
	StabilizationWindowSeconds int
	SelectPolicy               string // "" leaves the API default (Max)
	Policies                   []scalingPolicy
}

type scalingPolicy struct {
	Type          string
	Value         int
	PeriodSeconds int
}

// tritonBehavior: up at once, by 100 % or 4 pods per 15 s, whichever is
// more; down after stabilizeDown seconds, one pod per 2 minutes (a GPU node
// is minutes away, so give nothing back in a hurry).
func tritonBehavior(stabilizeDown int) (up, down scalingRules) {
	up = scalingRules{StabilizationWindowSeconds: 0, SelectPolicy: "Max",
		Policies: []scalingPolicy{{"Percent", 100, 15}, {"Pods", 4, 15}}}
	down = scalingRules{StabilizationWindowSeconds: stabilizeDown,
		Policies: []scalingPolicy{{"Pods", 1, 120}}}
	return up, down
}

func (r scalingRules) untyped() pulumi.Map {
	policies := pulumi.Array{}
	for _, p := range r.Policies {
		policies = append(policies, pulumi.Map{
			"type": pulumi.String(p.Type), "value": pulumi.Int(p.Value), "periodSeconds": pulumi.Int(p.PeriodSeconds),
		})
	}
	m := pulumi.Map{"stabilizationWindowSeconds": pulumi.Int(r.StabilizationWindowSeconds), "policies": policies}
	if r.SelectPolicy != "" {
		m["selectPolicy"] = pulumi.String(r.SelectPolicy)
	}
	return m
}
