package loop

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"time"

	"github.com/aiplatform/infra/tests/closedloop/kedastandin"
	"github.com/aiplatform/infra/tests/closedloop/metricsapi"
)

// ScenarioLabel pins a scenario's pods to its own nodes: the scenarios run
// side by side in one cluster, each in its own namespace with its own GPU
// node group. It is the one change made to the program's Deployment
// besides its namespace.
const ScenarioLabel = "closedloop.aiplatform.io/scenario"

// clone deep-copies a JSON-shaped object.
func clone(obj map[string]any) map[string]any {
	raw, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(err)
	}
	return out
}

func child(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	return m
}

// deploymentFor is the program's Triton Deployment in namespace ns, its pods
// held to the scenario's nodes.
func deploymentFor(program map[string]any, ns string) map[string]any {
	d := clone(program)
	child(d, "metadata")["namespace"] = ns
	delete(child(d, "metadata"), "annotations") // pulumi.com/skipAwait and the like
	child(d, "spec", "template", "spec", "nodeSelector")[ScenarioLabel] = ns
	return d
}

// hpaFor is the program's HPA in namespace ns with every behaviour window
// and period divided by the compression factor. Periods are whole seconds
// in the API; Compression is chosen so that they stay whole, and a period
// that would not is an error rather than a silent rounding.
func hpaFor(program map[string]any, ns string, f float64) (map[string]any, error) {
	h := clone(program)
	child(h, "metadata")["namespace"] = ns
	delete(child(h, "metadata"), "annotations")
	behavior := child(h, "spec", "behavior")
	for _, dir := range []string{"scaleUp", "scaleDown"} {
		rules, ok := behavior[dir].(map[string]any)
		if !ok {
			continue
		}
		if w, ok := rules["stabilizationWindowSeconds"].(float64); ok {
			c, err := compressSeconds(w, f, "spec.behavior."+dir+".stabilizationWindowSeconds")
			if err != nil {
				return nil, err
			}
			rules["stabilizationWindowSeconds"] = c
		}
		policies, _ := rules["policies"].([]any)
		for i, p := range policies {
			pm, _ := p.(map[string]any)
			if s, ok := pm["periodSeconds"].(float64); ok {
				c, err := compressSeconds(s, f, fmt.Sprintf("spec.behavior.%s.policies[%d].periodSeconds", dir, i))
				if err != nil {
					return nil, err
				}
				pm["periodSeconds"] = c
			}
		}
	}
	return h, nil
}

func compressSeconds(s, f float64, path string) (float64, error) {
	c := s / f
	if c != math.Trunc(c) || (s > 0 && c < 1) {
		return 0, fmt.Errorf("%s: %vs / %v is not a whole number of seconds; choose a compression factor that divides it", path, s, f)
	}
	return c, nil
}

// namespaceMatcher is a PromQL equality matcher on the namespace label.
var namespaceMatcher = regexp.MustCompile(`\bnamespace="([^"]*)"`)

// scaledObjectFor is the program's ScaledObject in namespace ns, as the
// harness re-namespaces the program's other objects: every namespace
// matcher of a trigger's query that names one of the program's namespaces
// (Triton's, the lds-service's) names ns instead, and every PromQL window
// is divided by the factor, as for the adapter rules and the alerts
// (alertRules). pollingInterval and cooldownPeriod stay: the stand-in's
// operator runs on the loop's simulated clock. A query that names none of
// the program's namespaces is an error: it would read every scenario's
// series. It returns the program's object parsed, and the loop's.
func scaledObjectFor(prog map[string]any, ns string, f float64, programNamespaces ...string) (orig, inLoop kedastandin.ScaledObject, err error) {
	if orig, err = kedastandin.Parse(prog); err != nil {
		return orig, inLoop, fmt.Errorf("the program's ScaledObject: %w", err)
	}
	inLoop = orig
	inLoop.Namespace = ns
	inLoop.Triggers = slices.Clone(orig.Triggers)
	for i, t := range inLoop.Triggers {
		if !t.External() {
			continue
		}
		renamed := 0
		q := namespaceMatcher.ReplaceAllStringFunc(t.Query, func(m string) string {
			if !slices.Contains(programNamespaces, namespaceMatcher.FindStringSubmatch(m)[1]) {
				return m
			}
			renamed++
			return fmt.Sprintf("namespace=%q", ns)
		})
		if renamed == 0 {
			return orig, inLoop, fmt.Errorf("the program's ScaledObject trigger %q: its query selects none of the namespaces %v, so in the loop it would read every scenario's series: %s",
				t.Name, programNamespaces, t.Query)
		}
		if q, err = metricsapi.CompressPromQL(q, f); err != nil {
			return orig, inLoop, fmt.Errorf("the program's ScaledObject trigger %q: %w", t.Name, err)
		}
		inLoop.Triggers[i].Query = q
	}
	return orig, inLoop, nil
}

// compress divides a duration by the factor.
func compress(d time.Duration, f float64) time.Duration { return time.Duration(float64(d) / f) }

// containerRequest reads the first container's request for a resource.
func containerRequest(deployment map[string]any, resource string) string {
	spec := child(clone(deployment), "spec", "template", "spec")
	containers, _ := spec["containers"].([]any)
	if len(containers) == 0 {
		return ""
	}
	c, _ := containers[0].(map[string]any)
	v, _ := child(c, "resources", "requests")[resource].(string)
	return v
}
