// Package program renders the platform's own objects for the closed loop:
// it runs the whole program (stacks.Run) under the unit tests' mocks with
// the dev stack's config plus the scenario's overrides, and returns the
// objects the loop needs as plain JSON-shaped maps — the Triton Deployment,
// its HPA (or, with triton.scaleToZero, its KEDA ScaledObject) and
// PodMonitor, the lds-service's Deployment and PodMonitor,
// prometheus-adapter's rules, the GPU node groups and the Cluster
// Autoscaler's flags. Nothing the loop scales on is
// re-typed in the test: change the program and the loop runs the change.
package program

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/aiplatform/infra/infra"
	"github.com/aiplatform/infra/stacks"
	"github.com/aiplatform/infra/tests/estimate"
	"github.com/aiplatform/infra/tests/mocks"
)

// Resource types the loop reads.
const (
	TypeDeployment = "kubernetes:apps/v1:Deployment"
	TypeHPA        = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
	TypePodMonitor = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
	TypeHelmChart  = "kubernetes:helm.sh/v4:Chart"
	// TypePrometheusRule: the SDK's CustomResource registers under its
	// apiVersion and kind.
	TypePrometheusRule = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
	TypeScaledObject   = "kubernetes:keda.sh/v1alpha1:ScaledObject"
	// TypeNodeGroup is pulumi-eks's managed node group component (its
	// inputs are the aws:eks NodeGroup's: nodeGroupName, scalingConfig,
	// labels, taints, instanceTypes).
	TypeNodeGroup = "eks:index:ManagedNodeGroup"
)

// NodeGroup is one EKS managed node group as the program declares it.
type NodeGroup struct {
	Name          string
	InstanceTypes []string
	Labels        map[string]string
	Taints        []Taint
	Min, Max      int
	CapacityType  string
}

// Taint is a node group taint in Kubernetes' spelling (EKS spells effects
// NO_SCHEDULE; the API server's are NoSchedule).
type Taint struct{ Key, Value, Effect string }

// Objects are the program's objects for one configuration.
type Objects struct {
	Deployment map[string]any
	// HPA is Triton's HorizontalPodAutoscaler; nil when the program renders
	// a ScaledObject instead (triton.scaleToZero), whose HPA KEDA creates.
	HPA          map[string]any
	ScaledObject map[string]any
	PodMonitor   map[string]any
	// LDSDeployment and LDSPodMonitor are the lds-service's (the caller of
	// Triton); nil when the stack deploys none (ldsService unset) or does
	// not scrape it (observability off).
	LDSDeployment, LDSPodMonitor map[string]any
	// AdapterRules is prometheus-adapter's rules.custom as the chart gets it.
	AdapterRules []map[string]any
	// AutoscalerArgs are the Cluster Autoscaler chart's extraArgs.
	AutoscalerArgs map[string]any
	NodeGroups     []NodeGroup
	// AlertGroups are the platform's PrometheusRule spec.groups.
	AlertGroups []map[string]any
}

// RepoRoot is the repository root (the program's Pulumi.yaml).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// Options change the dev stack for a scenario.
type Options struct {
	// Overrides are config keys like "aiplatform:triton", objects as JSON; a
	// JSON object is merged key by key into the stack's object, so a
	// scenario names only what it changes.
	Overrides map[string]string
	// GPUMaxSize, when > 0, is the maxSize of the dev stack's gpu-kind node
	// groups (the dev stack allows 2 GPU nodes; a ×4 step needs more).
	GPUMaxSize int
	// ScaleToZero, when set, turns triton.scaleToZero on (keeping the
	// stack's idleSeconds) or off (the key without idleSeconds, as the
	// config requires). Applied after Overrides.
	ScaleToZero *bool
}

// renderMu serialises Render: the mocks hand the config to the program
// through the process's environment (PULUMI_CONFIG), so two renders at once
// could read each other's config.
var renderMu sync.Mutex

// Render runs the program with the dev stack's config changed by o. It is
// safe for concurrent use (calls run one at a time).
func Render(o Options) (*Objects, error) {
	renderMu.Lock()
	defer renderMu.Unlock()
	cfg, _, err := mocks.StackConfig(RepoRoot(), "dev")
	if err != nil {
		return nil, fmt.Errorf("dev stack config: %w", err)
	}
	if o.GPUMaxSize > 0 {
		var groups []map[string]any
		if err := json.Unmarshal([]byte(cfg["aiplatform:nodeGroups"]), &groups); err != nil {
			return nil, fmt.Errorf("dev stack aiplatform:nodeGroups: %w", err)
		}
		for _, g := range groups {
			if g["kind"] == "gpu" {
				g["maxSize"] = o.GPUMaxSize
			}
		}
		raw, _ := json.Marshal(groups)
		cfg["aiplatform:nodeGroups"] = string(raw)
	}
	for k, v := range o.Overrides {
		merged, err := merge(cfg[k], v)
		if err != nil {
			return nil, fmt.Errorf("override %s: %w", k, err)
		}
		cfg[k] = merged
	}
	if o.ScaleToZero != nil {
		if err := setScaleToZero(cfg, *o.ScaleToZero); err != nil {
			return nil, err
		}
	}
	rec, err := mocks.Run(cfg, stacks.Run)
	if err != nil {
		return nil, fmt.Errorf("the program failed under the mocks: %w", err)
	}
	return extract(rec)
}

func extract(rec *mocks.Recorder) (*Objects, error) {
	var err error
	o := &Objects{}
	if o.Deployment, err = one(rec, TypeDeployment, isTriton); err != nil {
		return nil, err
	}
	if o.ScaledObject, err = optional(rec, TypeScaledObject, isTriton); err != nil {
		return nil, err
	}
	if o.ScaledObject == nil {
		if o.HPA, err = one(rec, TypeHPA, isTriton); err != nil {
			return nil, err
		}
	} else if hpa, _ := optional(rec, TypeHPA, isTriton); hpa != nil {
		return nil, fmt.Errorf("the program renders both a ScaledObject and an HPA for Triton: KEDA owns the HPA, and two would fight over the replicas")
	}
	if o.PodMonitor, err = one(rec, TypePodMonitor, isTriton); err != nil {
		return nil, err
	}
	if o.LDSDeployment, err = optional(rec, TypeDeployment, isLDS); err != nil {
		return nil, err
	}
	if o.LDSPodMonitor, err = optional(rec, TypePodMonitor, isLDS); err != nil {
		return nil, err
	}
	adapter, err := chartValues(rec, "prometheus-adapter")
	if err != nil {
		return nil, err
	}
	rules, _ := estimate.Path(adapter, "rules", "custom").([]any)
	for _, r := range rules {
		if m, ok := r.(map[string]any); ok {
			o.AdapterRules = append(o.AdapterRules, m)
		}
	}
	if len(o.AdapterRules) == 0 {
		return nil, fmt.Errorf("prometheus-adapter chart: no rules.custom in its values")
	}
	ca, err := chartValues(rec, "cluster-autoscaler")
	if err != nil {
		return nil, err
	}
	o.AutoscalerArgs, _ = estimate.Path(ca, "extraArgs").(map[string]any)
	for _, r := range rec.ByType(TypePrometheusRule) {
		in := estimate.Plain(r.Inputs)
		for _, g := range asSlice(estimate.Path(in, "spec", "groups")) {
			if m := asMap(g); m != nil {
				o.AlertGroups = append(o.AlertGroups, m)
			}
		}
	}
	if len(o.AlertGroups) == 0 {
		return nil, fmt.Errorf("no PrometheusRule groups in the program")
	}
	for _, r := range rec.ByType(TypeNodeGroup) {
		o.NodeGroups = append(o.NodeGroups, nodeGroup(estimate.Plain(r.Inputs)))
	}
	if len(o.NodeGroups) == 0 {
		return nil, fmt.Errorf("no %s in the program", TypeNodeGroup)
	}
	return o, nil
}

func isTriton(r mocks.Resource, obj map[string]any) bool {
	name, _ := estimate.Path(obj, "metadata", "name").(string)
	return name == "triton" || strings.HasSuffix(r.Name, "triton")
}

// isLDS: the stack registers the lds-service and its children under the
// resource name "lds-service" (stacks/workloads.go; the object names follow
// ldsService.name).
func isLDS(r mocks.Resource, _ map[string]any) bool { return r.Name == "lds-service" }

func one(rec *mocks.Recorder, typ string, match func(mocks.Resource, map[string]any) bool) (map[string]any, error) {
	obj, err := optional(rec, typ, match)
	if err == nil && obj == nil {
		err = fmt.Errorf("want one Triton %s in the program, found none", typ)
	}
	return obj, err
}

// optional is the one matching object, nil for none; more is an error.
func optional(rec *mocks.Recorder, typ string, match func(mocks.Resource, map[string]any) bool) (map[string]any, error) {
	var found []map[string]any
	for _, r := range rec.ByType(typ) {
		obj := estimate.Plain(r.Inputs)
		if match(r, obj) {
			found = append(found, obj)
		}
	}
	if len(found) > 1 {
		return nil, fmt.Errorf("want at most one matching %s in the program, found %d", typ, len(found))
	}
	if len(found) == 0 {
		return nil, nil
	}
	obj := found[0]
	if _, ok := obj["apiVersion"]; !ok {
		parts := strings.SplitN(strings.TrimPrefix(typ, "kubernetes:"), ":", 2)
		obj["apiVersion"], obj["kind"] = strings.TrimPrefix(parts[0], "core/"), parts[1]
	}
	return obj, nil
}

// chartValues finds a Helm chart by the chart name it installs.
func chartValues(rec *mocks.Recorder, chart string) (map[string]any, error) {
	for _, r := range rec.ByType(TypeHelmChart) {
		in := estimate.Plain(r.Inputs)
		if c, _ := in["chart"].(string); strings.HasSuffix(c, "/"+chart) || c == chart || strings.Contains(c, "/"+chart+"-") || strings.HasPrefix(c, chart+"-") {
			v, _ := in["values"].(map[string]any)
			return v, nil
		}
	}
	return nil, fmt.Errorf("no %s chart in the program", chart)
}

func nodeGroup(in map[string]any) NodeGroup {
	g := NodeGroup{Labels: map[string]string{}}
	g.Name, _ = in["nodeGroupName"].(string)
	g.CapacityType, _ = in["capacityType"].(string)
	for _, t := range asSlice(in["instanceTypes"]) {
		s, _ := t.(string)
		g.InstanceTypes = append(g.InstanceTypes, s)
	}
	for k, v := range asMap(in["labels"]) {
		g.Labels[k] = fmt.Sprint(v)
	}
	for _, t := range asSlice(in["taints"]) {
		m := asMap(t)
		key, _ := m["key"].(string)
		val, _ := m["value"].(string)
		eff, _ := m["effect"].(string)
		g.Taints = append(g.Taints, Taint{Key: key, Value: val, Effect: infra.KubernetesEffect(eff)})
	}
	g.Min = estimate.Integer(estimate.Path(in, "scalingConfig", "minSize"))
	g.Max = estimate.Integer(estimate.Path(in, "scalingConfig", "maxSize"))
	return g
}

// setScaleToZero sets triton.scaleToZero.enabled in the stack's config.
// Off on a stack that does not set the key changes nothing (off is the
// default).
func setScaleToZero(cfg map[string]string, on bool) error {
	const key = "aiplatform:triton"
	var triton map[string]any
	if err := json.Unmarshal([]byte(cfg[key]), &triton); err != nil {
		return fmt.Errorf("ScaleToZero: the stack's %s is not a JSON object: %w", key, err)
	}
	z, _ := triton["scaleToZero"].(map[string]any)
	switch {
	case on && z == nil:
		triton["scaleToZero"] = map[string]any{"enabled": true}
	case on:
		z["enabled"] = true
	case z == nil:
		return nil
	default:
		triton["scaleToZero"] = map[string]any{"enabled": false}
	}
	raw, err := json.Marshal(triton)
	cfg[key] = string(raw)
	return err
}

func merge(base, override string) (string, error) {
	var b, o map[string]any
	if base == "" || json.Unmarshal([]byte(base), &b) != nil || json.Unmarshal([]byte(override), &o) != nil {
		return override, nil
	}
	for k, v := range o {
		b[k] = v
	}
	out, err := json.Marshal(b)
	return string(out), err
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func asSlice(v any) []any        { s, _ := v.([]any); return s }
