package loop

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/aiplatform/infra/tests/closedloop/cluster"
	"github.com/aiplatform/infra/tests/closedloop/metricsapi"
)

// tritonNamespaceMatcher is how the program's alerts select Triton's
// namespace; the scenarios run in their own namespaces (cl-…).
var tritonNamespaceMatcher = regexp.MustCompile(`namespace="triton"`)

// ScenarioNamespaces matches every scenario's namespace.
const ScenarioNamespaces = `namespace=~"cl-.*"`

// alertRules is the program's PrometheusRule groups as a Prometheus rule
// file, with every PromQL window and every `for` divided by the factor and
// the Triton namespace widened to the scenarios' namespaces (the only
// changes).
func alertRules(groups []map[string]any, f float64) ([]byte, error) {
	var out []map[string]any
	for _, g := range groups {
		g = clone(g)
		rules, _ := g["rules"].([]any)
		for i, r := range rules {
			rule, _ := r.(map[string]any)
			expr, _ := rule["expr"].(string)
			c, err := metricsapi.CompressPromQL(expr, f)
			if err != nil {
				return nil, fmt.Errorf("group %v rule %d: %w", g["name"], i, err)
			}
			rule["expr"] = tritonNamespaceMatcher.ReplaceAllString(c, ScenarioNamespaces)
			if hold, ok := rule["for"].(string); ok {
				d, err := metricsapi.ParsePromDuration(hold)
				if err != nil {
					return nil, fmt.Errorf("group %v rule %d for: %w", g["name"], i, err)
				}
				rule["for"] = cluster.FormatPromDuration(cluster.Compress(d, f))
			}
		}
		out = append(out, g)
	}
	return json.MarshalIndent(map[string]any{"groups": out}, "", "  ")
}
