package metricsapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// tritonPodMonitor is the shape the program renders
// (workloads/inference/triton_monitoring.go tritonPodMonitorSpec), plus a
// relabeling and a metric relabeling to show where user rules go.
func tritonPodMonitor() map[string]any {
	return map[string]any{
		"apiVersion": "monitoring.coreos.com/v1",
		"kind":       "PodMonitor",
		"metadata":   map[string]any{"name": "triton", "namespace": "inference", "labels": map[string]any{"app.kubernetes.io/name": "triton"}},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "triton", "app.kubernetes.io/instance": "triton"}},
			"podMetricsEndpoints": []any{map[string]any{
				"port":     "metrics",
				"path":     "/metrics",
				"interval": "15s",
				"relabelings": []any{map[string]any{
					"sourceLabels": []any{"__meta_kubernetes_pod_node_name"}, "targetLabel": "node", "action": "Replace",
				}},
				"metricRelabelings": []any{map[string]any{
					"sourceLabels": []any{"__name__"}, "regex": "nv_energy_.*", "action": "drop",
				}},
			}},
		},
	}
}

var testPromOptions = PromOptions{
	APIServer: "https://127.0.0.1:6443", CAFile: "/pki/ca.crt", CertFile: "/pki/admin.crt", KeyFile: "/pki/admin.key",
	Compression: 20,
}

// The relabel rules are prometheus-operator v0.93.0's for this PodMonitor
// (pkg/prometheus/promcfg.go generatePodMonitorConfig), in its order; the
// interval is 15s/20.
func TestPodMonitorScrapeConfigsLikePrometheusOperator(t *testing.T) {
	jobs, err := PodMonitorScrapeConfigs(tritonPodMonitor(), testPromOptions)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 {
		t.Fatalf("got %d jobs, want one per podMetricsEndpoint (1)", len(jobs))
	}
	job := jobs[0]
	if job.JobName != "podMonitor/inference/triton/0" {
		t.Errorf("job_name = %q, want podMonitor/<namespace>/<name>/<endpoint index>", job.JobName)
	}
	if job.ScrapeInterval != "750ms" || job.ScrapeTimeout != "" || job.MetricsPath != "/metrics" || job.HonorLabels {
		t.Errorf("scrape_interval %q (want 750ms), scrape_timeout %q (want unset), metrics_path %q, honor_labels %v",
			job.ScrapeInterval, job.ScrapeTimeout, job.MetricsPath, job.HonorLabels)
	}
	wantSD := []KubernetesSD{{
		Role: "pod", Namespaces: &SDNamespaces{Names: []string{"inference"}}, APIServer: "https://127.0.0.1:6443",
		TLSConfig: &PromTLSConfig{CAFile: "/pki/ca.crt", CertFile: "/pki/admin.crt", KeyFile: "/pki/admin.key"},
	}}
	if !reflect.DeepEqual(job.KubernetesSDConfigs, wantSD) {
		t.Errorf("kubernetes_sd_configs = %s\nwant %s", js(job.KubernetesSDConfigs), js(wantSD))
	}
	want := []RelabelConfig{
		{SourceLabels: []string{"job"}, TargetLabel: "__tmp_prometheus_job_name"},
		{Action: "drop", SourceLabels: []string{"__meta_kubernetes_pod_phase"}, Regex: "(Failed|Succeeded)"},
		// matchLabels in sorted key order, names sanitized.
		{Action: "keep", SourceLabels: []string{"__meta_kubernetes_pod_label_app_kubernetes_io_instance", "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_instance"}, Regex: "(triton);true"},
		{Action: "keep", SourceLabels: []string{"__meta_kubernetes_pod_label_app_kubernetes_io_name", "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name"}, Regex: "(triton);true"},
		{Action: "keep", SourceLabels: []string{"__meta_kubernetes_pod_container_port_name"}, Regex: "metrics"},
		{SourceLabels: []string{"__meta_kubernetes_namespace"}, TargetLabel: "namespace"},
		{SourceLabels: []string{"__meta_kubernetes_pod_container_name"}, TargetLabel: "container"},
		{SourceLabels: []string{"__meta_kubernetes_pod_name"}, TargetLabel: "pod"},
		{TargetLabel: "job", Replacement: ptr("inference/triton")},
		{TargetLabel: "endpoint", Replacement: ptr("metrics")},
		// The endpoint's relabelings last, action lower-cased.
		{SourceLabels: []string{"__meta_kubernetes_pod_node_name"}, TargetLabel: "node", Action: "replace"},
	}
	if !reflect.DeepEqual(job.RelabelConfigs, want) {
		t.Errorf("relabel_configs =\n%s\nwant\n%s", js(job.RelabelConfigs), js(want))
	}
	wantMetric := []RelabelConfig{{SourceLabels: []string{"__name__"}, Regex: "nv_energy_.*", Action: "drop"}}
	if !reflect.DeepEqual(job.MetricRelabelConfigs, wantMetric) {
		t.Errorf("metric_relabel_configs = %s, want %s", js(job.MetricRelabelConfigs), js(wantMetric))
	}
}

// The file is Prometheus' YAML keys, JSON-encoded, with the global
// defaults compressed too (a job without an interval gets 30s/F).
func TestPrometheusConfigFile(t *testing.T) {
	raw, err := PrometheusConfig(tritonPodMonitor(), testPromOptions)
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]any
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, raw)
	}
	global := file["global"].(map[string]any)
	for key, want := range map[string]string{"scrape_interval": "1s500ms", "scrape_timeout": "500ms", "evaluation_interval": "1s500ms"} {
		if global[key] != want {
			t.Errorf("global.%s = %v, want %s", key, global[key], want)
		}
	}
	job := file["scrape_configs"].([]any)[0].(map[string]any)
	for _, key := range []string{"job_name", "honor_labels", "kubernetes_sd_configs", "scrape_interval", "metrics_path", "relabel_configs", "metric_relabel_configs"} {
		if _, ok := job[key]; !ok {
			t.Errorf("scrape config lacks %s: %s", key, raw)
		}
	}
	if strings.Contains(string(raw), `\u003c`) || strings.Contains(string(raw), "sourceLabels") {
		t.Errorf("HTML-escaped or operator (camelCase) keys in the file:\n%s", raw)
	}
}

// namespaceSelector as getNamespacesFromNamespaceSelector reads it, and the
// harness' override.
func TestPodMonitorNamespaces(t *testing.T) {
	for _, tc := range []struct {
		name     string
		selector any
		override []string
		want     *SDNamespaces
	}{
		{"absent: the monitor's own", nil, nil, &SDNamespaces{Names: []string{"inference"}}},
		{"any: every namespace", map[string]any{"any": true}, nil, nil},
		{"matchNames", map[string]any{"matchNames": []any{"a", "b"}}, nil, &SDNamespaces{Names: []string{"a", "b"}}},
		{"empty matchNames: own", map[string]any{"matchNames": []any{}}, nil, &SDNamespaces{Names: []string{"inference"}}},
		{"override wins", map[string]any{"any": true}, []string{"scenario-1", "scenario-2"}, &SDNamespaces{Names: []string{"scenario-1", "scenario-2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pm := tritonPodMonitor()
			if tc.selector != nil {
				pm["spec"].(map[string]any)["namespaceSelector"] = tc.selector
			}
			o := testPromOptions
			o.NamespaceOverride = tc.override
			jobs, err := PodMonitorScrapeConfigs(pm, o)
			if err != nil {
				t.Fatal(err)
			}
			if got := jobs[0].KubernetesSDConfigs[0].Namespaces; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("namespaces = %s, want %s", js(got), js(tc.want))
			}
			if jobs[0].JobName != "podMonitor/inference/triton/0" {
				t.Errorf("job_name %q: the job keeps the monitor's namespace/name", jobs[0].JobName)
			}
		})
	}
}

// matchExpressions become keep/drop rules after the matchLabels ones;
// portNumber keeps on the port number and sets no endpoint label;
// podTargetLabels, jobLabel and the endpoint fields land where the
// operator puts them.
func TestPodMonitorExpressionsAndOptionalFields(t *testing.T) {
	pm := map[string]any{
		"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
		"metadata": map[string]any{"name": "m", "namespace": "ns"},
		"spec": map[string]any{
			"selector": map[string]any{"matchExpressions": []any{
				map[string]any{"key": "tier", "operator": "In", "values": []any{"gpu", "cpu"}},
				map[string]any{"key": "canary", "operator": "NotIn", "values": []any{"true"}},
				map[string]any{"key": "team", "operator": "Exists"},
				map[string]any{"key": "legacy", "operator": "DoesNotExist"},
			}},
			"podTargetLabels": []any{"model.io/name"},
			"jobLabel":        "app",
			"podMetricsEndpoints": []any{map[string]any{
				"portNumber": 8002, "interval": "1m", "scrapeTimeout": "10s", "honorLabels": true,
				"filterRunning": false, "scheme": "http", "params": map[string]any{"format": []any{"prometheus"}},
			}},
		},
	}
	jobs, err := PodMonitorScrapeConfigs(pm, testPromOptions)
	if err != nil {
		t.Fatal(err)
	}
	job := jobs[0]
	if job.ScrapeInterval != "3s" || job.ScrapeTimeout != "500ms" || !job.HonorLabels || job.Scheme != "http" || job.Params["format"][0] != "prometheus" {
		t.Errorf("endpoint fields: %s", js(job))
	}
	want := []RelabelConfig{
		{SourceLabels: []string{"job"}, TargetLabel: "__tmp_prometheus_job_name"},
		// filterRunning: false drops the phase filter.
		{Action: "keep", SourceLabels: []string{"__meta_kubernetes_pod_label_tier", "__meta_kubernetes_pod_labelpresent_tier"}, Regex: "(gpu|cpu);true"},
		{Action: "drop", SourceLabels: []string{"__meta_kubernetes_pod_label_canary", "__meta_kubernetes_pod_labelpresent_canary"}, Regex: "(true);true"},
		{Action: "keep", SourceLabels: []string{"__meta_kubernetes_pod_labelpresent_team"}, Regex: "true"},
		{Action: "drop", SourceLabels: []string{"__meta_kubernetes_pod_labelpresent_legacy"}, Regex: "true"},
		{Action: "keep", SourceLabels: []string{"__meta_kubernetes_pod_container_port_number"}, Regex: "8002"},
		{SourceLabels: []string{"__meta_kubernetes_namespace"}, TargetLabel: "namespace"},
		{SourceLabels: []string{"__meta_kubernetes_pod_container_name"}, TargetLabel: "container"},
		{SourceLabels: []string{"__meta_kubernetes_pod_name"}, TargetLabel: "pod"},
		{SourceLabels: []string{"__meta_kubernetes_pod_label_model_io_name"}, TargetLabel: "model_io_name", Regex: "(.+)", Replacement: ptr("${1}")},
		{TargetLabel: "job", Replacement: ptr("ns/m")},
		{SourceLabels: []string{"__meta_kubernetes_pod_label_app"}, TargetLabel: "job", Regex: "(.+)", Replacement: ptr("${1}")},
	}
	if !reflect.DeepEqual(job.RelabelConfigs, want) {
		t.Errorf("relabel_configs =\n%s\nwant\n%s", js(job.RelabelConfigs), js(want))
	}
}

// Bad input names the field and what is allowed.
func TestPodMonitorErrors(t *testing.T) {
	edit := func(f func(pm map[string]any)) map[string]any {
		pm := tritonPodMonitor()
		f(pm)
		return pm
	}
	endpoint := func(pm map[string]any) map[string]any {
		return pm["spec"].(map[string]any)["podMetricsEndpoints"].([]any)[0].(map[string]any)
	}
	for _, tc := range []struct {
		name string
		pm   map[string]any
		o    PromOptions
		want string
	}{
		{"kind", edit(func(pm map[string]any) { pm["kind"] = "ServiceMonitor" }), testPromOptions, "apiVersion/kind must be monitoring.coreos.com/v1 PodMonitor"},
		{"namespace", edit(func(pm map[string]any) { delete(pm["metadata"].(map[string]any), "namespace") }), testPromOptions, "metadata.namespace: both required"},
		{"unsupported field", edit(func(pm map[string]any) { endpoint(pm)["tlsConfig"] = map[string]any{} }), testPromOptions, `unknown field "tlsConfig"`},
		{"interval", edit(func(pm map[string]any) { endpoint(pm)["interval"] = "15 seconds" }), testPromOptions, "spec.podMetricsEndpoints[0].interval: \"15 seconds\" is not a Prometheus duration"},
		{"operator", edit(func(pm map[string]any) {
			pm["spec"].(map[string]any)["selector"] = map[string]any{"matchExpressions": []any{map[string]any{"key": "a", "operator": "Equals"}}}
		}), testPromOptions, "matchExpressions[0].operator: \"Equals\" is not one of In, NotIn, Exists, DoesNotExist"},
		{"action", edit(func(pm map[string]any) {
			endpoint(pm)["relabelings"] = []any{map[string]any{"action": "rename"}}
		}), testPromOptions, "podMetricsEndpoints[0].relabelings[0].action: \"rename\" is not a Prometheus relabel action"},
		{"regex", edit(func(pm map[string]any) {
			endpoint(pm)["metricRelabelings"] = []any{map[string]any{"regex": "(", "action": "drop"}}
		}), testPromOptions, "podMetricsEndpoints[0].metricRelabelings[0].regex"},
		{"no endpoints", edit(func(pm map[string]any) { pm["spec"].(map[string]any)["podMetricsEndpoints"] = []any{} }), testPromOptions, "spec.podMetricsEndpoints: empty"},
		{"options", tritonPodMonitor(), PromOptions{Compression: 0}, "PromOptions.APIServer: required"},
		{"compression", tritonPodMonitor(), PromOptions{APIServer: "https://x", Compression: -1}, "PromOptions.Compression: must be a finite number > 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PrometheusConfig(tc.pm, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
