package signals

import (
	"encoding/json"
	"regexp"
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
		if q := m.PerPodQuery(`=~"$namespace"`); !strings.Contains(all, q) {
			t.Errorf("%s: dashboard lacks %s", m.Key, q)
		}
	}
}

// Issue 21 item 1: every multi-valued variable is matched with =~ (Grafana
// sends "All" as .* and two values as (a|b)), in panels and in the
// variables' own queries. tests/promql evaluates the interpolated queries.
func TestMultiValueVariablesAreMatchedAsRegex(t *testing.T) {
	for _, d := range Dashboards() {
		var model struct {
			Templating struct {
				List []struct {
					Name  string `json:"name"`
					Multi bool   `json:"multi"`
					Query any    `json:"query"`
				} `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(d.JSON, &model); err != nil {
			t.Fatal(err)
		}
		exprs, _ := d.Expressions()
		for _, v := range model.Templating.List {
			if q, ok := v.Query.(map[string]any); ok {
				exprs = append(exprs, q["query"].(string))
			}
		}
		for _, v := range model.Templating.List {
			if !v.Multi {
				continue
			}
			exact := regexp.MustCompile(`[a-zA-Z_]+(=|!=)"\$\{?` + v.Name + `\b`)
			for _, e := range exprs {
				if m := exact.FindString(e); m != "" {
					t.Errorf("%s: $%s matched with %q in %s", d.UID, v.Name, m, e)
				}
			}
		}
	}
}

// Issue 21 items 5 and 6: the per-pod GPU panels leave out the exporter's
// own namespace (idle GPUs carry the exporter pod's target labels), and the
// latency panel says why it is empty with the response cache.
func TestGPUPerPodPanelsAndLatencyDescription(t *testing.T) {
	gpu, _ := Dashboards()[1].Expressions()
	perPod := 0
	for _, e := range gpu {
		if strings.Contains(e, "by (namespace, pod)") && strings.Contains(e, "DCGM_") {
			perPod++
			if !strings.Contains(e, `namespace!="`+AgentsNamespace+`"`) {
				t.Errorf("per-pod GPU query keeps the exporter's namespace: %s", e)
			}
		}
	}
	if perPod < 2 {
		t.Errorf("%d per-pod GPU queries", perPod)
	}
	if !strings.Contains(string(Dashboards()[0].JSON), "response cache") {
		t.Error("the latency panel does not mention the response cache")
	}
}
