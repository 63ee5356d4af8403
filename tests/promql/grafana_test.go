package promqltests

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aiplatform/infra/workloads/observability/signals"
)

// grafanaVariable is a dashboard variable as Grafana reads it from the
// dashboard's templating list.
type grafanaVariable struct {
	Name       string `json:"name"`
	Multi      bool   `json:"multi"`
	IncludeAll bool   `json:"includeAll"`
	AllValue   string `json:"allValue"`
}

// all selects a variable's "All" option.
var all []string

// grafanaRef is Grafana's variable syntax (templating/template_srv.ts,
// variableRegex): $name, [[name]], ${name}, ${name:format}.
var grafanaRef = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}`)

// rateInterval is Grafana's $__rate_interval for Triton's 15 s scrapes:
// max($__interval + scrape interval, 4 * scrape interval) at a small
// $__interval (Grafana docs, "Prometheus template variables").
var rateInterval = signals.PromDuration(4 * signals.TritonScrapeInterval)

// grafanaInterpolate replaces the variables of expr the way Grafana's
// Prometheus data source does before it sends a query (datasource.ts
// interpolateQueryExpr): a variable selected as "All" becomes its custom
// allValue verbatim; a multi-value or include-all variable becomes its one
// value regex-escaped (prometheusSpecialRegexEscape), or its values
// escaped and joined as (a|b). selected maps each variable to its values,
// nil meaning "All".
func grafanaInterpolate(t *testing.T, d signals.Dashboard, expr string, selected map[string][]string) string {
	t.Helper()
	var model struct {
		Templating struct {
			List []grafanaVariable `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(d.JSON, &model); err != nil {
		t.Fatal(err)
	}
	vars := map[string]grafanaVariable{}
	for _, v := range model.Templating.List {
		vars[v.Name] = v
	}
	return grafanaRef.ReplaceAllStringFunc(expr, func(ref string) string {
		m := grafanaRef.FindStringSubmatch(ref)
		name := m[1] + m[2] + m[4]
		switch name {
		case "__rate_interval", "__interval":
			return rateInterval
		}
		v, ok := vars[name]
		if !ok {
			t.Fatalf("%s: $%s is not a variable of the dashboard", d.UID, name)
		}
		values, chosen := selected[name]
		if !chosen {
			t.Fatalf("%s: no selection for $%s", d.UID, name)
		}
		if values == nil {
			if !v.IncludeAll || v.AllValue == "" {
				t.Fatalf("%s: $%s has no custom All value", d.UID, name)
			}
			return v.AllValue
		}
		if !v.Multi && !v.IncludeAll {
			return prometheusRegularEscape(values[0])
		}
		escaped := make([]string, len(values))
		for i, s := range values {
			escaped[i] = prometheusSpecialRegexEscape(s)
		}
		if len(escaped) == 1 {
			return escaped[0]
		}
		return "(" + strings.Join(escaped, "|") + ")"
	})
}

// Grafana's escapes (public/app/plugins/datasource/prometheus, classic
// behaviour): a backslash doubled, quotes escaped; for regexes each
// metacharacter gets an escaped backslash (two in the PromQL string).
var regexMeta = regexp.MustCompile(`[$^*{}\[\]+?.()|]`)

func prometheusRegularEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `'`, `\\'`)
}

func prometheusSpecialRegexEscape(s string) string {
	return regexMeta.ReplaceAllString(strings.ReplaceAll(s, `\`, `\\\\`), `\\$0`)
}

func TestGrafanaEscapes(t *testing.T) {
	for in, want := range map[string]string{"triton": "triton", "bert.base": `bert\\.base`, "a|b": `a\\|b`} {
		if got := prometheusSpecialRegexEscape(in); got != want {
			t.Errorf("prometheusSpecialRegexEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

// Two Triton namespaces, each with its HPA, and a model whose name has a
// regex metacharacter.
const tritonTwoNamespaces = `
load 15s
  nv_inference_request_success{namespace="triton",pod="a",model="resnet50",version="1"} 0+100x40
  nv_inference_request_success{namespace="triton-b",pod="b",model="bert.base",version="1"} 0+50x40
  nv_inference_request_failure{namespace="triton",pod="a",model="resnet50",version="1",reason="REJECTED"} 0+1x40
  nv_inference_request_failure{namespace="triton-b",pod="b",model="bert.base",version="1",reason="REJECTED"} 0+1x40
  nv_inference_request_duration_us{namespace="triton",pod="a",model="resnet50",version="1"} 0+500000x40
  nv_inference_request_duration_us{namespace="triton-b",pod="b",model="bert.base",version="1"} 0+900000x40
  nv_inference_queue_duration_us{namespace="triton",pod="a",model="resnet50",version="1"} 0+10000x40
  nv_inference_queue_duration_us{namespace="triton-b",pod="b",model="bert.base",version="1"} 0+20000x40
  nv_inference_compute_infer_duration_us{namespace="triton",pod="a",model="resnet50",version="1"} 0+400000x40
  nv_inference_compute_infer_duration_us{namespace="triton-b",pod="b",model="bert.base",version="1"} 0+800000x40
  nv_gpu_utilization{namespace="triton",pod="a",gpu_uuid="GPU-a"} 0.5x40
  nv_gpu_utilization{namespace="triton-b",pod="b",gpu_uuid="GPU-b"} 0.3x40
  nv_inference_pending_request_count{namespace="triton",pod="a",model="resnet50",version="1"} 2x40
  nv_inference_pending_request_count{namespace="triton-b",pod="b",model="bert.base",version="1"} 1x40
  nv_inference_request_summary_us{namespace="triton",pod="a",model="resnet50",version="1",quantile="0.5"} 4000x40
  nv_inference_request_summary_us{namespace="triton",pod="a",model="resnet50",version="1",quantile="0.95"} 9000x40
  nv_inference_request_summary_us{namespace="triton",pod="a",model="resnet50",version="1",quantile="0.99"} 12000x40
  nv_inference_request_summary_us{namespace="triton-b",pod="b",model="bert.base",version="1",quantile="0.5"} 15000x40
  nv_inference_request_summary_us{namespace="triton-b",pod="b",model="bert.base",version="1",quantile="0.95"} 19000x40
  nv_inference_request_summary_us{namespace="triton-b",pod="b",model="bert.base",version="1",quantile="0.99"} 25000x40
  kube_horizontalpodautoscaler_status_current_replicas{namespace="triton",horizontalpodautoscaler="triton"} 2x40
  kube_horizontalpodautoscaler_status_desired_replicas{namespace="triton",horizontalpodautoscaler="triton"} 2x40
  kube_horizontalpodautoscaler_spec_max_replicas{namespace="triton",horizontalpodautoscaler="triton"} 4x40
  kube_horizontalpodautoscaler_status_current_replicas{namespace="triton-b",horizontalpodautoscaler="triton"} 1x40
  kube_horizontalpodautoscaler_status_desired_replicas{namespace="triton-b",horizontalpodautoscaler="triton"} 1x40
  kube_horizontalpodautoscaler_spec_max_replicas{namespace="triton-b",horizontalpodautoscaler="triton"} 2x40
`

// Issue 21 item 1: every panel of the Triton dashboard shows data with the
// variables as Grafana sends them: "All" (.*), two values ((a|b)) and one
// value, and only the selected namespaces' data. With namespace="$namespace"
// the first two match nothing.
func TestTritonDashboardWithGrafanaVariables(t *testing.T) {
	d := dashboard(t, "aiplatform-triton")
	st := loadSeries(t, tritonTwoNamespaces)
	engine := newEngine(t)
	at := epoch.Add(5 * time.Minute)
	exprs, err := d.Expressions()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name           string
		selected       map[string][]string
		wantNamespaces []string
	}{
		{"All", map[string][]string{"namespace": all, "model": all}, []string{"triton", "triton-b"}},
		{"two namespaces, All models", map[string][]string{"namespace": {"triton", "triton-b"}, "model": all}, []string{"triton", "triton-b"}},
		{"two namespaces, two models", map[string][]string{"namespace": {"triton", "triton-b"}, "model": {"resnet50", "bert.base"}}, []string{"triton", "triton-b"}},
		{"one namespace", map[string][]string{"namespace": {"triton-b"}, "model": all}, []string{"triton-b"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, e := range exprs {
				q := grafanaInterpolate(t, d, e, c.selected)
				got := instantSeries(t, engine, st, q, at)
				if len(got) == 0 {
					t.Errorf("no data for %s", q)
					continue
				}
				// A query that keeps the namespace label shows only the selected ones.
				if ns := labelValues(got, "namespace"); len(ns) > 0 && strings.Join(ns, ",") != strings.Join(c.wantNamespaces, ",") {
					t.Errorf("namespaces %v, want %v: %s", ns, c.wantNamespaces, q)
				}
			}
		})
	}
	// The model variable's own query, as Grafana runs it for the picker.
	var model struct {
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(d.JSON, &model); err != nil {
		t.Fatal(err)
	}
	for _, v := range model.Templating.List {
		if v.Name != "model" {
			continue
		}
		// label_values(selector, label) lists label's values over the
		// selector's series (Grafana's metricFindQuery): the selector must match.
		q := grafanaInterpolate(t, d, v.Query.(map[string]any)["query"].(string), map[string][]string{"namespace": {"triton", "triton-b"}})
		sel := regexp.MustCompile(`^label_values\((.+), model\)$`).FindStringSubmatch(q)
		if sel == nil {
			t.Fatalf("model variable query %q", q)
		}
		got := instantSeries(t, engine, st, sel[1], at)
		if ms := labelValues(got, "model"); strings.Join(ms, ",") != "bert.base,resnet50" {
			t.Errorf("model picker over %s lists %v", sel[1], ms)
		}
	}
}

// dcgm-exporter on one node with two GPUs: GPU 0 runs triton-x, GPU 1 is
// idle. The idle GPU's series has no pod label of the exporter's own, so
// with honorLabels the target's (the exporter pod in monitoring-agents)
// fill in (dcgm-exporter 4.8.2 internal/pkg/transformation/kubernetes.go
// sets pod and namespace only for GPUs assigned to a pod).
const dcgmTwoGPUs = `
load 15s
  DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-0",Hostname="ip-10-0-1-5",pod="triton-x",namespace="triton",container="triton"} 80x40
  DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-1",Hostname="ip-10-0-1-5",pod="dcgm-exporter-abcde",namespace="monitoring-agents"} 0x40
  DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-0",Hostname="ip-10-0-1-5",pod="triton-x",namespace="triton",container="triton"} 12000x40
  DCGM_FI_DEV_FB_USED{gpu="1",UUID="GPU-1",Hostname="ip-10-0-1-5",pod="dcgm-exporter-abcde",namespace="monitoring-agents"} 300x40
  DCGM_FI_DEV_FB_FREE{gpu="0",UUID="GPU-0",Hostname="ip-10-0-1-5",pod="triton-x",namespace="triton",container="triton"} 10000x40
  DCGM_FI_DEV_FB_FREE{gpu="1",UUID="GPU-1",Hostname="ip-10-0-1-5",pod="dcgm-exporter-abcde",namespace="monitoring-agents"} 21700x40
  DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-0",Hostname="ip-10-0-1-5",pod="triton-x",namespace="triton",container="triton"} 210x40
  DCGM_FI_DEV_POWER_USAGE{gpu="1",UUID="GPU-1",Hostname="ip-10-0-1-5",pod="dcgm-exporter-abcde",namespace="monitoring-agents"} 30x40
  kube_pod_status_phase{namespace="triton",pod="triton-z",uid="u9",phase="Pending"} 1x40
  kube_pod_container_resource_requests{namespace="triton",pod="triton-z",uid="u9",container="triton",node="",resource="nvidia_com_gpu",unit="integer"} 1x40
`

// Issue 21 item 5: the per-pod GPU panels show the pod that holds a GPU,
// never the exporter pod for an idle one; the per-GPU panels show both GPUs.
func TestGPUDashboardPerPodPanels(t *testing.T) {
	d := dashboard(t, "aiplatform-gpus")
	st := loadSeries(t, dcgmTwoGPUs)
	engine := newEngine(t)
	exprs, err := d.Expressions()
	if err != nil {
		t.Fatal(err)
	}
	for _, nodes := range [][]string{all, {"ip-10-0-1-5", "ip-10-0-2-7"}} {
		perPod := 0
		for _, e := range exprs {
			q := grafanaInterpolate(t, d, e, map[string][]string{"node": nodes})
			got := instantSeries(t, engine, st, q, epoch.Add(5*time.Minute))
			if len(got) == 0 {
				t.Errorf("no data for %s", q)
			}
			switch {
			case strings.Contains(e, "by (namespace, pod) (DCGM_"):
				perPod++
				if pods := labelValues(got, "pod"); strings.Join(pods, ",") != "triton-x" {
					t.Errorf("per-pod panel shows pods %v: %s", pods, q)
				}
			case strings.Contains(e, "by (Hostname, gpu)"):
				if gpus := labelValues(got, "gpu"); strings.Join(gpus, ",") != "0,1" {
					t.Errorf("per-GPU panel shows GPUs %v: %s", gpus, q)
				}
			}
		}
		if perPod < 2 {
			t.Errorf("%d per-pod panels", perPod)
		}
	}
}

func dashboard(t *testing.T, uid string) signals.Dashboard {
	t.Helper()
	for _, d := range signals.Dashboards() {
		if d.UID == uid {
			return d
		}
	}
	t.Fatalf("no dashboard %s", uid)
	return signals.Dashboard{}
}

// labelValues lists the distinct values of a label over a result, sorted.
func labelValues(series []map[string]string, label string) []string {
	seen := map[string]bool{}
	for _, s := range series {
		if v, ok := s[label]; ok {
			seen[v] = true
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}
