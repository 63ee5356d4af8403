package signals

import (
	"encoding/json"
	"fmt"
	"strings"
)

// GrafanaDashboardLabel is the label (value "1") the Grafana sidecar of
// kube-prometheus-stack looks for on dashboard ConfigMaps (chart value
// grafana.sidecar.dashboards.label, default grafana_dashboard).
const GrafanaDashboardLabel = "grafana_dashboard"

// Dashboard is one Grafana dashboard, to be shipped as FileName in a
// ConfigMap carrying GrafanaDashboardLabel.
type Dashboard struct {
	UID, Title, FileName string
	JSON                 []byte
}

// Grafana's dashboard JSON model, only the fields these dashboards use
// (grafana docs, "JSON model").
type (
	grafanaDashboard struct {
		UID           string         `json:"uid"`
		Title         string         `json:"title"`
		Tags          []string       `json:"tags"`
		Editable      bool           `json:"editable"`
		SchemaVersion int            `json:"schemaVersion"`
		Refresh       string         `json:"refresh"`
		Time          grafanaTime    `json:"time"`
		Templating    grafanaVarList `json:"templating"`
		Panels        []grafanaPanel `json:"panels"`
	}
	grafanaTime    struct{ From, To string }
	grafanaVarList struct {
		List []grafanaVar `json:"list"`
	}
	grafanaVar struct {
		Name       string             `json:"name"`
		Label      string             `json:"label,omitempty"`
		Type       string             `json:"type"`
		Query      any                `json:"query"`
		Datasource *grafanaDatasource `json:"datasource,omitempty"`
		Multi      bool               `json:"multi,omitempty"`
		IncludeAll bool               `json:"includeAll,omitempty"`
		AllValue   string             `json:"allValue,omitempty"`
		Refresh    int                `json:"refresh,omitempty"`
	}
	grafanaDatasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	grafanaPanel struct {
		ID          int                `json:"id"`
		Title       string             `json:"title"`
		Description string             `json:"description,omitempty"`
		Type        string             `json:"type"`
		Datasource  *grafanaDatasource `json:"datasource,omitempty"`
		GridPos     grafanaGridPos     `json:"gridPos"`
		FieldConfig grafanaFieldConfig `json:"fieldConfig"`
		Targets     []grafanaTarget    `json:"targets"`
	}
	grafanaGridPos     struct{ H, W, X, Y int }
	grafanaFieldConfig struct {
		Defaults struct {
			Unit string `json:"unit,omitempty"`
		} `json:"defaults"`
	}
	grafanaTarget struct {
		RefID        string `json:"refId"`
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat,omitempty"`
	}
)

func (t grafanaTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"from": t.From, "to": t.To})
}

func (g grafanaGridPos) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]int{"h": g.H, "w": g.W, "x": g.X, "y": g.Y})
}

// promDatasource is the dashboard's datasource variable, so the dashboards
// work with whatever the Prometheus datasource is called.
var promDatasource = &grafanaDatasource{Type: "prometheus", UID: "${datasource}"}

// panel is a time series panel with its queries; legend and expr alternate.
type panel struct {
	title, description, unit string
	targets                  []grafanaTarget
}

func target(legend, expr string) grafanaTarget {
	return grafanaTarget{Expr: expr, LegendFormat: legend}
}

// dashboardSpec is one dashboard: its identity, variables and panels, laid
// out two to a row.
type dashboardSpec struct {
	uid, title, fileName string
	vars                 []grafanaVar
	panels               []panel
}

func (s dashboardSpec) build() Dashboard {
	d := grafanaDashboard{
		UID: s.uid, Title: s.title, Tags: []string{"aiplatform"}, SchemaVersion: 39, Refresh: "30s",
		Time: grafanaTime{From: "now-3h", To: "now"},
		Templating: grafanaVarList{List: append([]grafanaVar{{
			Name: "datasource", Label: "Data source", Type: "datasource", Query: "prometheus",
		}}, s.vars...)},
	}
	for i, p := range s.panels {
		gp := grafanaPanel{
			ID: i + 1, Title: p.title, Description: p.description, Type: "timeseries", Datasource: promDatasource,
			GridPos: grafanaGridPos{H: 8, W: 12, X: 12 * (i % 2), Y: 8 * (i / 2)},
			Targets: p.targets,
		}
		gp.FieldConfig.Defaults.Unit = p.unit
		for j := range gp.Targets {
			gp.Targets[j].RefID = string(rune('A' + j))
		}
		d.Panels = append(d.Panels, gp)
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		panic(err) // only plain data above
	}
	return Dashboard{UID: s.uid, Title: s.title, FileName: s.fileName, JSON: append(b, '\n')}
}

// queryVar is a Prometheus label_values variable; multi-valued with "All"
// meaning any value (".*"), so every selector on it must use =~: Grafana
// sends "All" as .* and two values as (a|b) (Prometheus data source,
// interpolateQueryExpr), which = matches literally, i.e. never.
func queryVar(name, label, query string) grafanaVar {
	return grafanaVar{
		Name: name, Label: label, Type: "query", Datasource: promDatasource,
		Query: map[string]any{"query": query, "refId": name}, Refresh: 2,
		Multi: true, IncludeAll: true, AllValue: ".*",
	}
}

// LatencyPanelDescription explains the latency panel, and why it can be
// empty: Triton creates no request_duration summary for a model with the
// response cache on (core src/metric_model_reporter.cc,
// MetricModelReporter::InitializeSummaries, "disabled when cache is enabled
// to avoid publishing misleading metrics").
const LatencyPanelDescription = "From Triton's latency summaries (--metrics-config=summary_latencies=true); worst pod per model. " +
	"Empty for a model with Triton's response cache on: Triton exports no request latency summary for it; " +
	"the mean request and queue times below still work."

// Dashboards returns the Triton and GPU dashboards.
func Dashboards() []Dashboard {
	return []Dashboard{tritonDashboard().build(), gpuDashboard().build()}
}

// Expressions returns every panel target's PromQL, Grafana variables
// ($namespace, $__rate_interval) unsubstituted.
func (d Dashboard) Expressions() ([]string, error) {
	var parsed struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(d.JSON, &parsed); err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", d.UID, err)
	}
	var exprs []string
	for _, p := range parsed.Panels {
		for _, t := range p.Targets {
			if strings.TrimSpace(t.Expr) == "" {
				return nil, fmt.Errorf("dashboard %s: panel %q has an empty query", d.UID, p.Title)
			}
			exprs = append(exprs, t.Expr)
		}
	}
	return exprs, nil
}

// tritonDashboard answers "is Triton keeping up?": traffic, errors, latency,
// queueing, the HPA's own signal and the replica count.
func tritonDashboard() dashboardSpec {
	sel := func(series string) string {
		return fmt.Sprintf(`%s{namespace=~"$namespace",model=~"$model"}`, series)
	}
	rateBy := func(by, series string) string {
		return fmt.Sprintf("sum by (%s) (rate(%s[$__rate_interval]))", by, sel(series))
	}
	perRequest := func(series string) string {
		return fmt.Sprintf("%s / 1e6 / (%s > 0)", rateBy("model", series), rateBy("model", TritonRequestSuccess))
	}
	var latency []grafanaTarget
	for _, q := range LatencyQuantiles {
		// Quantiles of different pods cannot be averaged; the worst pod's is shown.
		latency = append(latency, target("p"+strings.TrimPrefix(q, "0.")+" {{model}}",
			fmt.Sprintf(`max by (model) (%s{namespace=~"$namespace",model=~"$model",quantile="%s"}) / 1e6`, TritonRequestSummary, q)))
	}
	var signals []grafanaTarget
	for _, m := range inferenceMetrics {
		signals = append(signals, target(m.Key+" {{namespace}}/{{pod}}", m.PerPodQuery(`=~"$namespace"`)))
	}
	hpa := func(series string) string {
		return fmt.Sprintf(`max by (namespace) (kube_horizontalpodautoscaler_%s{namespace=~"$namespace"})`, series)
	}
	return dashboardSpec{
		uid: "aiplatform-triton", title: "Triton: is it keeping up?", fileName: "aiplatform-triton.json",
		vars: []grafanaVar{
			queryVar("namespace", "Namespace", "label_values("+TritonRequestSuccess+", namespace)"),
			queryVar("model", "Model", `label_values(`+TritonRequestSuccess+`{namespace=~"$namespace"}, model)`),
		},
		panels: []panel{
			{title: "Requests per second", unit: "reqps", targets: []grafanaTarget{
				target("{{model}}", rateBy("model", TritonRequestSuccess)),
			}},
			{title: "Failures per second", unit: "reqps", targets: []grafanaTarget{
				target("{{model}} {{reason}}", rateBy("model, reason", TritonRequestFailure)),
			}},
			{title: "Success ratio", unit: "percentunit", targets: []grafanaTarget{
				target("{{model}}", fmt.Sprintf("%s / (%s + %s > 0)", rateBy("model", TritonRequestSuccess),
					rateBy("model", TritonRequestSuccess), rateBy("model", TritonRequestFailure))),
			}},
			{title: "Request latency p50 / p95 / p99", unit: "s", targets: latency,
				description: LatencyPanelDescription},
			{title: "Mean request and queue time", unit: "s", targets: []grafanaTarget{
				target("request {{model}}", perRequest(TritonRequestDuration)),
				target("queue {{model}}", perRequest(TritonQueueDuration)),
				target("compute {{model}}", perRequest(TritonComputeInferDuration)),
			}},
			{title: "Pending requests", unit: "short", targets: []grafanaTarget{
				target("{{model}}", fmt.Sprintf("sum by (model) (%s)", sel(TritonPendingRequests))),
			}},
			{title: "Autoscaling signals per pod", unit: "short", targets: signals,
				description: "The prometheus-adapter queries behind the HPA's custom metrics."},
			{title: "Replicas", unit: "short", targets: []grafanaTarget{
				target("current {{namespace}}", hpa("status_current_replicas")),
				target("desired {{namespace}}", hpa("status_desired_replicas")),
				target("max {{namespace}}", hpa("spec_max_replicas")),
			}},
		},
	}
}

// gpuDashboard shows GPU use per node and per pod from dcgm-exporter
// (etc/default-counters.csv: utilisation in %, framebuffer in MiB).
func gpuDashboard() dashboardSpec {
	sel := func(series string) string { return series + `{Hostname=~"$node"}` }
	// Only GPUs assigned to a pod carry dcgm-exporter's own pod and
	// namespace labels (4.8.2 internal/pkg/transformation/kubernetes.go);
	// an idle GPU's series keeps the target's, which honorLabels fills
	// with the exporter pod in AgentsNamespace. That namespace runs no GPU
	// workloads, so excluding it leaves exactly the assigned GPUs.
	podSel := func(series string) string {
		return series + fmt.Sprintf(`{Hostname=~"$node",namespace!=%q}`, AgentsNamespace)
	}
	const mib = " * 1048576"
	return dashboardSpec{
		uid: "aiplatform-gpus", title: "GPUs", fileName: "aiplatform-gpus.json",
		vars: []grafanaVar{queryVar("node", "Node", "label_values(DCGM_FI_DEV_GPU_UTIL, Hostname)")},
		panels: []panel{
			{title: "GPU utilisation per GPU", unit: "percent", targets: []grafanaTarget{
				target("{{Hostname}} gpu {{gpu}}", "avg by (Hostname, gpu) ("+sel("DCGM_FI_DEV_GPU_UTIL")+")"),
			}},
			{title: "GPU utilisation per pod", unit: "percent", targets: []grafanaTarget{
				target("{{namespace}}/{{pod}}", "avg by (namespace, pod) ("+podSel("DCGM_FI_DEV_GPU_UTIL")+")"),
			}},
			{title: "GPU memory used per GPU", unit: "bytes", targets: []grafanaTarget{
				target("{{Hostname}} gpu {{gpu}}", "sum by (Hostname, gpu) ("+sel("DCGM_FI_DEV_FB_USED")+")"+mib),
			}},
			{title: "GPU memory used per pod", unit: "bytes", targets: []grafanaTarget{
				target("{{namespace}}/{{pod}}", "sum by (namespace, pod) ("+podSel("DCGM_FI_DEV_FB_USED")+")"+mib),
			}},
			{title: "GPU memory used fraction per GPU", unit: "percentunit", targets: []grafanaTarget{
				target("{{Hostname}} gpu {{gpu}}", fmt.Sprintf("sum by (Hostname, gpu) (%s) / (sum by (Hostname, gpu) (%s) + sum by (Hostname, gpu) (%s))",
					sel("DCGM_FI_DEV_FB_USED"), sel("DCGM_FI_DEV_FB_USED"), sel("DCGM_FI_DEV_FB_FREE"))),
			}},
			{title: "GPU power per GPU", unit: "watt", targets: []grafanaTarget{
				target("{{Hostname}} gpu {{gpu}}", "avg by (Hostname, gpu) ("+sel("DCGM_FI_DEV_POWER_USAGE")+")"),
			}},
			{title: "GPUs requested by pending pods", unit: "short", targets: []grafanaTarget{
				target("pending", fmt.Sprintf(`sum(kube_pod_container_resource_requests{resource=%q} * on (namespace, pod) group_left () `+
					`(max by (namespace, pod) (kube_pod_status_phase{phase="Pending"}) == 1))`, GPUResourceLabel)),
			}},
		},
	}
}
