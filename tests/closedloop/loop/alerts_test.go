package loop

import (
	"strings"
	"testing"
)

// The program's rules keep their meaning: windows and holds are divided
// by the factor and Triton's namespace becomes the scenarios'.
func TestAlertRulesCompressWindowsAndHolds(t *testing.T) {
	groups := []map[string]any{{"name": "g", "rules": []any{map[string]any{
		"alert": "A", "for": "5m", "expr": `sum by (namespace) (rate(x{namespace="triton"}[5m])) > 0`,
	}}}}
	out, err := alertRules(groups, Compression)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"for": "20s"`, `rate(x{namespace=~\"cl-.*\"}[20s])`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rules lack %s:\n%s", want, out)
		}
	}
	if groups[0]["rules"].([]any)[0].(map[string]any)["for"] != "5m" {
		t.Error("the program's groups were modified")
	}
}
