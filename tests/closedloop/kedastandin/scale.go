package kedastandin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// QueryFunc runs an instant PromQL query against the trigger's Prometheus
// and returns the value of every series of the result.
type QueryFunc func(ctx context.Context, promql string) ([]float64, error)

// PromValue is what the prometheus scaler makes of a query's result
// (pkg/scalers/prometheus_scaler.go ExecutePromQuery): no series is 0 when
// ignoreNull (the default; an error otherwise), more than one series an
// error, NaN or an infinity 0 when ignoreNull.
func PromValue(values []float64, ignoreNull bool) (float64, error) {
	switch {
	case len(values) == 0 && ignoreNull:
		return 0, nil
	case len(values) == 0:
		return 0, errors.New("prometheus metrics 'prometheus' target may be lost, the result is empty (ignoreNullValues: false)")
	case len(values) > 1:
		return 0, fmt.Errorf("the query returned %d series; a KEDA prometheus trigger needs one (aggregate it, e.g. sum(...))", len(values))
	}
	v := values[0]
	if math.IsNaN(v) || math.IsInf(v, 0) {
		if ignoreNull {
			return 0, nil
		}
		return 0, fmt.Errorf("the query returned %v (ignoreNullValues: false)", v)
	}
	return v, nil
}

// Reading is one trigger's value at a poll.
type Reading struct {
	Trigger Trigger
	Value   float64
	Err     error
}

// Active: a prometheus trigger's value is above its activationThreshold
// (prometheus_scaler.go GetMetricsAndActivity: val > ActivationThreshold).
func (r Reading) Active() bool { return r.Err == nil && r.Value > r.Trigger.ActivationThreshold }

// Activity is getScaledObjectState (pkg/scaling/scale_handler.go) without
// fallback and scaling modifiers: the ScaledObject is active when any
// External trigger is; cpu and memory triggers are not read for it (their
// specs are not External); a ScaledObject of cpu and memory triggers only
// is always active (it could never wake again); any trigger's error makes
// isErr.
func Activity(so ScaledObject, readings []Reading) (active, isErr bool, activeTriggers []string) {
	cpuMem := 0
	for _, t := range so.Triggers {
		if t.Type == TypeCPU || t.Type == TypeMemory {
			cpuMem++
		}
	}
	for _, r := range readings {
		if r.Err != nil {
			isErr = true
			continue
		}
		if r.Active() {
			active = true
			activeTriggers = append(activeTriggers, r.Trigger.MetricName())
		}
	}
	if len(so.Triggers) <= cpuMem && !isErr {
		active = true
	}
	return active, isErr, activeTriggers
}

// Status is the part of the ScaledObject's status the scale loop keeps
// between polls, on the caller's clock.
type Status struct {
	// Created is when the ScaledObject was created.
	Created time.Duration
	// LastActive is status.lastActiveTime; HasLastActive false is nil.
	LastActive    time.Duration
	HasLastActive bool
}

// NoChange is Decide's scaleTo when the target keeps its replicas.
const NoChange = -1

// Decide is RequestScale (pkg/scaling/executor/scale_scaledobjects.go,
// KEDA v2.20.2) without paused annotations and fallback, on the caller's
// clock: the replica count to set (NoChange for none), the status after
// the poll, and what happened, for the log.
//
//   - active, and idle mode on with replicas below minReplicaCount, or 0
//     replicas: scaleFromZeroOrIdle, to minReplicaCount if > 0 else 1;
//     lastActiveTime = now.
//   - active, a trigger failed: nothing (PartialTriggerError).
//   - active otherwise: lastActiveTime = now (the HPA scales).
//   - inactive, a trigger failed (no fallback): nothing (TriggerError).
//   - inactive, idle mode on with replicas above idleReplicaCount, or
//     replicas > 0 with minReplicaCount 0: scaleToZeroOrIdle, once
//     lastActiveTime + cooldownPeriod has passed (or, never active,
//     creation + initialCooldownPeriod), to idleReplicaCount, else
//     minReplicaCount; cooling down until then.
//   - inactive, idle mode off, replicas below minReplicaCount: to
//     minReplicaCount.
func Decide(so ScaledObject, st Status, now time.Duration, replicas int, active, isErr bool) (scaleTo int, next Status, what string) {
	next = st
	minReplicas := so.MinReplicaCount
	idle := so.IdleReplicaCount
	if active {
		switch {
		case idle != nil && replicas < minReplicas, replicas == 0:
			to := 1
			if minReplicas > 0 {
				to = minReplicas
			}
			next.LastActive, next.HasLastActive = now, true
			return to, next, fmt.Sprintf("activated: %d → %d replicas", replicas, to)
		case isErr:
			return NoChange, next, "active, a trigger failed: no change"
		default:
			next.LastActive, next.HasLastActive = now, true
			return NoChange, next, "active"
		}
	}
	switch {
	case isErr:
		return NoChange, next, "inactive, a trigger failed: no change"
	case idle != nil && replicas > *idle, replicas > 0 && minReplicas == 0:
		expired := !st.HasLastActive && st.Created+so.InitialCooldownPeriod < now ||
			st.HasLastActive && st.LastActive+so.CooldownPeriod < now
		if !expired {
			return NoChange, next, "cooling down"
		}
		to := minReplicas
		if idle != nil {
			to = *idle
		}
		return to, next, fmt.Sprintf("deactivated: %d → %d replicas", replicas, to)
	case idle == nil && replicas < minReplicas:
		return minReplicas, next, fmt.Sprintf("below minReplicaCount: %d → %d replicas", replicas, minReplicas)
	}
	return NoChange, next, "inactive"
}

// Operator is KEDA's scale loop for one ScaledObject on the caller's clock
// (scale_handler.go startScaleLoop: a poll at once, then every
// pollingInterval).
type Operator struct {
	so     ScaledObject
	query  QueryFunc
	status Status
	last   time.Duration
	polled bool
}

// NewOperator starts the loop for so, created at now.
func NewOperator(so ScaledObject, query QueryFunc, now time.Duration) *Operator {
	return &Operator{so: so, query: query, status: Status{Created: now}}
}

// ScaledObject is the object the operator runs.
func (o *Operator) ScaledObject() ScaledObject { return o.so }

// Status is the operator's status now.
func (o *Operator) Status() Status { return o.status }

// MarkActive sets lastActiveTime: a ScaledObject that has been serving
// load when the clock starts (a warm start) cools down from then, not from
// its creation.
func (o *Operator) MarkActive(at time.Duration) {
	o.status.LastActive, o.status.HasLastActive = at, true
}

// Due: a pollingInterval has passed since the last poll (or none was made).
func (o *Operator) Due(now time.Duration) bool {
	return !o.polled || now-o.last >= o.so.PollingInterval
}

// Poll is one checkScalers: it reads every External trigger and decides
// with the target's current replicas. The caller sets the replicas when
// scaleTo is not NoChange.
type Poll struct {
	At       time.Duration
	Readings []Reading
	Active   bool
	IsErr    bool
	ScaleTo  int
	What     string
}

// String is one log line.
func (p Poll) String() string {
	var parts []string
	for _, r := range p.Readings {
		if r.Err != nil {
			parts = append(parts, fmt.Sprintf("%s=error(%v)", r.Trigger.Name, r.Err))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%.3g", r.Trigger.Name, r.Value))
	}
	return fmt.Sprintf("keda: %s (%s)", p.What, strings.Join(parts, " "))
}

// Poll runs one poll at now with the target's current replicas.
func (o *Operator) Poll(ctx context.Context, now time.Duration, replicas int) Poll {
	o.last, o.polled = now, true
	p := Poll{At: now}
	for _, t := range o.so.Triggers {
		if !t.External() {
			continue
		}
		values, err := o.query(ctx, t.Query)
		r := Reading{Trigger: t, Err: err}
		if err == nil {
			r.Value, r.Err = PromValue(values, t.IgnoreNullValues)
		}
		p.Readings = append(p.Readings, r)
	}
	p.Active, p.IsErr, _ = Activity(o.so, p.Readings)
	p.ScaleTo, o.status, p.What = Decide(o.so, o.status, now, replicas, p.Active, p.IsErr)
	return p
}
