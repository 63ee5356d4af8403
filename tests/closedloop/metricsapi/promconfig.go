package metricsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/aiplatform/infra/tests/closedloop/internal/apijson"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aiplatform/infra/tests/closedloop/cluster"
)

// PromOptions say where Prometheus finds the pods and how fast time runs.
type PromOptions struct {
	// APIServer is the kube-apiserver URL kubernetes_sd watches pods on;
	// CAFile verifies it, CertFile/KeyFile authenticate (the admin cert).
	APIServer, CAFile, CertFile, KeyFile string
	// Compression divides every interval and timeout (cluster.Compress).
	Compression float64
	// RuleFiles are alerting/recording rule files to load (rule_files).
	RuleFiles []string
	// NamespaceOverride, when set, is the namespaces to discover pods in
	// instead of the ones the PodMonitor selects: the harness runs each
	// scenario in its own namespace with the one program PodMonitor.
	NamespaceOverride []string
}

// Defaults of prometheus-operator's Prometheus (CRD default scrapeInterval
// 30s and evaluationInterval 30s) and of Prometheus' global scrape_timeout
// (config/config.go DefaultGlobalConfig, 10s). Compressed like the rest.
const (
	operatorScrapeInterval     = 30 * time.Second
	operatorEvaluationInterval = 30 * time.Second
	prometheusScrapeTimeout    = 10 * time.Second
)

// PromConfig is the part of Prometheus' configuration file the loop writes.
// Marshalled as JSON, which Prometheus' YAML loader reads as YAML.
type PromConfig struct {
	Global        PromGlobal     `json:"global"`
	RuleFiles     []string       `json:"rule_files,omitempty"`
	ScrapeConfigs []ScrapeConfig `json:"scrape_configs"`
}

// PromGlobal is the config file's global section.
type PromGlobal struct {
	ScrapeInterval     string `json:"scrape_interval"`
	ScrapeTimeout      string `json:"scrape_timeout"`
	EvaluationInterval string `json:"evaluation_interval"`
}

// ScrapeConfig is one scrape job, in the key order prometheus-operator
// writes them.
type ScrapeConfig struct {
	JobName              string              `json:"job_name"`
	HonorLabels          bool                `json:"honor_labels"`
	HonorTimestamps      *bool               `json:"honor_timestamps,omitempty"`
	KubernetesSDConfigs  []KubernetesSD      `json:"kubernetes_sd_configs"`
	ScrapeInterval       string              `json:"scrape_interval,omitempty"`
	ScrapeTimeout        string              `json:"scrape_timeout,omitempty"`
	MetricsPath          string              `json:"metrics_path,omitempty"`
	Params               map[string][]string `json:"params,omitempty"`
	Scheme               string              `json:"scheme,omitempty"`
	RelabelConfigs       []RelabelConfig     `json:"relabel_configs"`
	MetricRelabelConfigs []RelabelConfig     `json:"metric_relabel_configs,omitempty"`
}

// KubernetesSD is one kubernetes_sd_configs entry.
type KubernetesSD struct {
	Role       string         `json:"role"`
	Namespaces *SDNamespaces  `json:"namespaces,omitempty"`
	APIServer  string         `json:"api_server,omitempty"`
	TLSConfig  *PromTLSConfig `json:"tls_config,omitempty"`
}

// SDNamespaces limits discovery to named namespaces.
type SDNamespaces struct {
	Names []string `json:"names"`
}

// PromTLSConfig is Prometheus' tls_config.
type PromTLSConfig struct {
	CAFile   string `json:"ca_file,omitempty"`
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
}

// RelabelConfig is one Prometheus relabel rule; empty fields take
// Prometheus' defaults (regex (.*), replacement $1, action replace).
type RelabelConfig struct {
	SourceLabels []string `json:"source_labels,omitempty"`
	Separator    *string  `json:"separator,omitempty"`
	TargetLabel  string   `json:"target_label,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	Modulus      uint64   `json:"modulus,omitempty"`
	Replacement  *string  `json:"replacement,omitempty"`
	Action       string   `json:"action,omitempty"`
}

// The PodMonitor fields the translation understands (monitoring.coreos.com/v1,
// pkg/apis/monitoring/v1/podmonitor_types.go). Anything else is an error
// rather than silently ignored: a scrape the loop does not reproduce would
// make the loop measure something the platform does not do.
type podMonitorSpec struct {
	Selector            labelSelector        `json:"selector"`
	NamespaceSelector   *namespaceSelector   `json:"namespaceSelector"`
	PodMetricsEndpoints []podMetricsEndpoint `json:"podMetricsEndpoints"`
	PodTargetLabels     []string             `json:"podTargetLabels"`
	JobLabel            string               `json:"jobLabel"`
}

type labelSelector struct {
	MatchLabels      map[string]string `json:"matchLabels"`
	MatchExpressions []struct {
		Key      string   `json:"key"`
		Operator string   `json:"operator"`
		Values   []string `json:"values"`
	} `json:"matchExpressions"`
}

type namespaceSelector struct {
	Any        bool     `json:"any"`
	MatchNames []string `json:"matchNames"`
}

type podMetricsEndpoint struct {
	Port              *string             `json:"port"`
	PortNumber        *int32              `json:"portNumber"`
	Path              string              `json:"path"`
	Scheme            string              `json:"scheme"`
	Params            map[string][]string `json:"params"`
	Interval          string              `json:"interval"`
	ScrapeTimeout     string              `json:"scrapeTimeout"`
	HonorLabels       bool                `json:"honorLabels"`
	HonorTimestamps   *bool               `json:"honorTimestamps"`
	FilterRunning     *bool               `json:"filterRunning"`
	Relabelings       []operatorRelabel   `json:"relabelings"`
	MetricRelabelings []operatorRelabel   `json:"metricRelabelings"`
}

// operatorRelabel is monitoringv1.RelabelConfig (camelCase keys): the
// fields of RelabelConfig, which it converts to, under the operator's keys.
type operatorRelabel struct {
	SourceLabels []string `json:"sourceLabels"`
	Separator    *string  `json:"separator"`
	TargetLabel  string   `json:"targetLabel"`
	Regex        string   `json:"regex"`
	Modulus      uint64   `json:"modulus"`
	Replacement  *string  `json:"replacement"`
	Action       string   `json:"action"`
}

// PrometheusConfig translates the program's PodMonitor (a JSON-decoded
// monitoring.coreos.com/v1 object), and any more, into a Prometheus
// configuration file with one scrape job per podMetricsEndpoint, as
// prometheus-operator does.
func PrometheusConfig(pm map[string]any, o PromOptions, more ...map[string]any) ([]byte, error) {
	var jobs []ScrapeConfig
	for _, m := range append([]map[string]any{pm}, more...) {
		j, err := PodMonitorScrapeConfigs(m, o)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j...)
	}
	cfg := PromConfig{
		Global: PromGlobal{
			ScrapeInterval:     cluster.FormatPromDuration(cluster.Compress(operatorScrapeInterval, o.Compression)),
			ScrapeTimeout:      cluster.FormatPromDuration(cluster.Compress(prometheusScrapeTimeout, o.Compression)),
			EvaluationInterval: cluster.FormatPromDuration(cluster.Compress(operatorEvaluationInterval, o.Compression)),
		},
		RuleFiles:     o.RuleFiles,
		ScrapeConfigs: jobs,
	}
	return marshalConfig(cfg)
}

// marshalConfig writes JSON (a subset of YAML) without HTML escaping, so
// regexes and templates stay readable in the file.
func marshalConfig(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (o PromOptions) validate() error {
	var errs []error
	if o.APIServer == "" {
		errs = append(errs, errors.New("PromOptions.APIServer: required (the kube-apiserver URL, cluster.Cluster.URL)"))
	}
	if err := checkFactor("PromOptions.Compression", o.Compression); err != nil {
		errs = append(errs, err)
	}
	for i, ns := range o.NamespaceOverride {
		if ns == "" {
			errs = append(errs, fmt.Errorf("PromOptions.NamespaceOverride[%d]: empty namespace name", i))
		}
	}
	return errors.Join(errs...)
}

// PodMonitorScrapeConfigs is PrometheusConfig's scrape jobs.
//
// The relabel rules are those of prometheus-operator v0.93.0
// pkg/prometheus/promcfg.go, (*ConfigGenerator).generatePodMonitorConfig
// (with initRelabelings, generateRunningFilter, generateK8SSDConfig,
// getNamespacesFromNamespaceSelector, sanitizeLabelName and
// generateRelabelConfig of the same file), in the same order:
//
//	__tmp_prometheus_job_name from job; drop pods in phase Failed|Succeeded
//	(unless filterRunning: false); keep on each selector label and
//	expression; keep on the container port name (or number); the target
//	labels namespace, container, pod; podTargetLabels; job =
//	<namespace>/<name> (then jobLabel); endpoint = the port name; the
//	endpoint's relabelings. metricRelabelings become metric_relabel_configs.
//
// Left out because the loop has none of them: scrape classes, the enforced
// namespace label, attach_metadata, and the sharding rules (hashmod of
// __address__ modulo the shard count, which keep every target with one
// shard). Fields of the PodMonitor beyond these are rejected.
func PodMonitorScrapeConfigs(pm map[string]any, o PromOptions) ([]ScrapeConfig, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if pm["apiVersion"] != "monitoring.coreos.com/v1" || pm["kind"] != "PodMonitor" {
		return nil, fmt.Errorf("podMonitor: apiVersion/kind must be monitoring.coreos.com/v1 PodMonitor, got %v %v", pm["apiVersion"], pm["kind"])
	}
	meta, _ := pm["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	namespace, _ := meta["namespace"].(string)
	if name == "" || namespace == "" {
		return nil, fmt.Errorf("podMonitor metadata.name and metadata.namespace: both required (the job is podMonitor/<namespace>/<name>), got %q and %q", name, namespace)
	}
	var spec podMonitorSpec
	if err := apijson.DecodeStrict(pm["spec"], &spec); err != nil {
		return nil, fmt.Errorf("podMonitor %s/%s spec: %w (supported: selector, namespaceSelector, podMetricsEndpoints[].{port, portNumber, path, scheme, params, interval, scrapeTimeout, honorLabels, honorTimestamps, filterRunning, relabelings, metricRelabelings}, podTargetLabels, jobLabel)", namespace, name, err)
	}
	if len(spec.PodMetricsEndpoints) == 0 {
		return nil, fmt.Errorf("podMonitor %s/%s spec.podMetricsEndpoints: empty, nothing to scrape", namespace, name)
	}
	selectorRules, err := selectorRelabelings(spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("podMonitor %s/%s spec.selector: %w", namespace, name, err)
	}

	sd := KubernetesSD{Role: "pod", APIServer: o.APIServer, TLSConfig: &PromTLSConfig{CAFile: o.CAFile, CertFile: o.CertFile, KeyFile: o.KeyFile}}
	if names := discoveryNamespaces(spec.NamespaceSelector, namespace, o.NamespaceOverride); len(names) > 0 {
		sd.Namespaces = &SDNamespaces{Names: names}
	}

	var jobs []ScrapeConfig
	for i, ep := range spec.PodMetricsEndpoints {
		path := fmt.Sprintf("podMonitor %s/%s spec.podMetricsEndpoints[%d]", namespace, name, i)
		job := ScrapeConfig{
			JobName:             fmt.Sprintf("podMonitor/%s/%s/%d", namespace, name, i),
			HonorLabels:         ep.HonorLabels,
			HonorTimestamps:     ep.HonorTimestamps,
			KubernetesSDConfigs: []KubernetesSD{sd},
			MetricsPath:         ep.Path,
			Params:              ep.Params,
			Scheme:              ep.Scheme,
		}
		if job.ScrapeInterval, err = compressField(ep.Interval, o.Compression); err != nil {
			return nil, fmt.Errorf("%s.interval: %w", path, err)
		}
		if job.ScrapeTimeout, err = compressField(ep.ScrapeTimeout, o.Compression); err != nil {
			return nil, fmt.Errorf("%s.scrapeTimeout: %w", path, err)
		}

		rules := []RelabelConfig{{SourceLabels: []string{"job"}, TargetLabel: "__tmp_prometheus_job_name"}}
		if ep.FilterRunning == nil || *ep.FilterRunning {
			rules = append(rules, RelabelConfig{Action: "drop", SourceLabels: []string{"__meta_kubernetes_pod_phase"}, Regex: "(Failed|Succeeded)"})
		}
		rules = append(rules, selectorRules...)
		port := ""
		switch {
		case ep.Port != nil && *ep.Port != "":
			port = *ep.Port
			rules = append(rules, RelabelConfig{Action: "keep", SourceLabels: []string{"__meta_kubernetes_pod_container_port_name"}, Regex: port})
		case ep.PortNumber != nil && *ep.PortNumber != 0:
			rules = append(rules, RelabelConfig{Action: "keep", SourceLabels: []string{"__meta_kubernetes_pod_container_port_number"}, Regex: strconv.Itoa(int(*ep.PortNumber))})
		}
		rules = append(rules,
			RelabelConfig{SourceLabels: []string{"__meta_kubernetes_namespace"}, TargetLabel: "namespace"},
			RelabelConfig{SourceLabels: []string{"__meta_kubernetes_pod_container_name"}, TargetLabel: "container"},
			RelabelConfig{SourceLabels: []string{"__meta_kubernetes_pod_name"}, TargetLabel: "pod"},
		)
		for _, l := range spec.PodTargetLabels {
			rules = append(rules, RelabelConfig{SourceLabels: []string{"__meta_kubernetes_pod_label_" + sanitizeLabelName(l)}, TargetLabel: sanitizeLabelName(l), Regex: "(.+)", Replacement: ptr("${1}")})
		}
		rules = append(rules, RelabelConfig{TargetLabel: "job", Replacement: ptr(namespace + "/" + name)})
		if spec.JobLabel != "" {
			rules = append(rules, RelabelConfig{SourceLabels: []string{"__meta_kubernetes_pod_label_" + sanitizeLabelName(spec.JobLabel)}, TargetLabel: "job", Regex: "(.+)", Replacement: ptr("${1}")})
		}
		if port != "" {
			rules = append(rules, RelabelConfig{TargetLabel: "endpoint", Replacement: ptr(port)})
		}
		user, err := userRelabelings(path+".relabelings", ep.Relabelings)
		if err != nil {
			return nil, err
		}
		job.RelabelConfigs = append(rules, user...)
		if job.MetricRelabelConfigs, err = userRelabelings(path+".metricRelabelings", ep.MetricRelabelings); err != nil {
			return nil, err
		}
		jobs = append(jobs, job)
	}
	return jobs, nil
}

// discoveryNamespaces: getNamespacesFromNamespaceSelector (no selector or
// no matchNames: the monitor's own namespace; any: all, i.e. no list),
// unless the harness overrides it.
func discoveryNamespaces(sel *namespaceSelector, own string, override []string) []string {
	switch {
	case len(override) > 0:
		return override
	case sel == nil || (!sel.Any && len(sel.MatchNames) == 0):
		return []string{own}
	case sel.Any:
		return nil
	default:
		return sel.MatchNames
	}
}

// selectorRelabelings: matchLabels in sorted key order, then
// matchExpressions in order, as the operator writes them.
func selectorRelabelings(sel labelSelector) ([]RelabelConfig, error) {
	var rules []RelabelConfig
	keys := make([]string, 0, len(sel.MatchLabels))
	for k := range sel.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rules = append(rules, RelabelConfig{
			Action:       "keep",
			SourceLabels: []string{"__meta_kubernetes_pod_label_" + sanitizeLabelName(k), "__meta_kubernetes_pod_labelpresent_" + sanitizeLabelName(k)},
			Regex:        fmt.Sprintf("(%s);true", sel.MatchLabels[k]),
		})
	}
	var errs []error
	for i, e := range sel.MatchExpressions {
		label, present := "__meta_kubernetes_pod_label_"+sanitizeLabelName(e.Key), "__meta_kubernetes_pod_labelpresent_"+sanitizeLabelName(e.Key)
		values := fmt.Sprintf("(%s);true", strings.Join(e.Values, "|"))
		switch e.Operator {
		case "In":
			rules = append(rules, RelabelConfig{Action: "keep", SourceLabels: []string{label, present}, Regex: values})
		case "NotIn":
			rules = append(rules, RelabelConfig{Action: "drop", SourceLabels: []string{label, present}, Regex: values})
		case "Exists":
			rules = append(rules, RelabelConfig{Action: "keep", SourceLabels: []string{present}, Regex: "true"})
		case "DoesNotExist":
			rules = append(rules, RelabelConfig{Action: "drop", SourceLabels: []string{present}, Regex: "true"})
		default:
			errs = append(errs, fmt.Errorf("matchExpressions[%d].operator: %q is not one of In, NotIn, Exists, DoesNotExist", i, e.Operator))
		}
	}
	return rules, errors.Join(errs...)
}

// relabelActions are Prometheus' relabel actions (model/relabel/relabel.go);
// the operator lower-cases what the PodMonitor says.
var relabelActions = map[string]bool{
	"replace": true, "keep": true, "drop": true, "keepequal": true, "dropequal": true, "hashmod": true,
	"labelmap": true, "labeldrop": true, "labelkeep": true, "lowercase": true, "uppercase": true,
}

// userRelabelings is generateRelabelConfig, checking what Prometheus would
// refuse to load; path names the field in errors.
func userRelabelings(path string, in []operatorRelabel) ([]RelabelConfig, error) {
	var out []RelabelConfig
	var errs []error
	for i, r := range in {
		action := strings.ToLower(r.Action)
		if action != "" && !relabelActions[action] {
			errs = append(errs, fmt.Errorf("%s[%d].action: %q is not a Prometheus relabel action (replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase)", path, i, r.Action))
			continue
		}
		if r.Regex != "" {
			if _, err := regexp.Compile("^(?s:" + r.Regex + ")$"); err != nil {
				errs = append(errs, fmt.Errorf("%s[%d].regex: %w", path, i, err))
				continue
			}
		}
		rc := RelabelConfig(r) // the same fields, in Prometheus' spelling
		rc.Action = action
		out = append(out, rc)
	}
	return out, errors.Join(errs...)
}

var invalidLabelChar = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// sanitizeLabelName is the operator's: every invalid character becomes _.
func sanitizeLabelName(name string) string { return invalidLabelChar.ReplaceAllString(name, "_") }

// compressField compresses a PodMonitor duration field; empty stays empty
// (the global value applies).
func compressField(s string, f float64) (string, error) {
	if s == "" {
		return "", nil
	}
	d, err := ParsePromDuration(s)
	if err != nil {
		return "", err
	}
	return cluster.FormatPromDuration(cluster.Compress(d, f)), nil
}

// decodeStrict re-decodes a JSON-shaped value into a typed one, rejecting
// unknown keys.

func ptr[T any](v T) *T { return &v }
