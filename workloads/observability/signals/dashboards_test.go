package signals

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDashboards(t *testing.T) {
	uids, files := map[string]bool{}, map[string]bool{}
	for _, d := range Dashboards() {
		if uids[d.UID] || files[d.FileName] || d.Title == "" || !strings.HasSuffix(d.FileName, ".json") {
			t.Errorf("dashboard %q: repeated or incomplete identity (%s)", d.UID, d.FileName)
		}
		uids[d.UID], files[d.FileName] = true, true
		var model struct {
			UID    string `json:"uid"`
			Title  string `json:"title"`
			Panels []struct {
				Targets []json.RawMessage `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(d.JSON, &model); err != nil {
			t.Fatalf("%s: %v", d.UID, err)
		}
		if model.UID != d.UID || model.Title != d.Title {
			t.Errorf("%s: JSON says uid %q title %q", d.UID, model.UID, model.Title)
		}
		if len(model.Panels) < 4 {
			t.Errorf("%s: %d panels", d.UID, len(model.Panels))
		}
		for i, p := range model.Panels {
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %d has no queries", d.UID, i)
			}
		}
		exprs, err := d.Expressions()
		if err != nil || len(exprs) < len(model.Panels) {
			t.Errorf("%s: %d expressions, %v", d.UID, len(exprs), err)
		}
	}
	if _, err := (Dashboard{UID: "x", JSON: []byte("{")}).Expressions(); err == nil {
		t.Error("Expressions accepted broken JSON")
	}
}

// The HPA's signals appear on the Triton dashboard exactly as the adapter runs them.
func TestTritonDashboardShowsAdapterQueries(t *testing.T) {
	exprs, _ := Dashboards()[0].Expressions()
	all := strings.Join(exprs, "\n")
	for _, m := range InferenceMetrics() {
		if q := m.Rule.Render(m.Rule.Series(), `namespace="$namespace"`, LabelPod); !strings.Contains(all, q) {
			t.Errorf("%s: dashboard lacks %s", m.Key, q)
		}
	}
}
