package metricsapi

import (
	"context"
	"errors"
	"fmt"
	"github.com/aiplatform/infra/tests/closedloop/internal/apijson"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aiplatform/infra/tests/closedloop/cluster"
	"github.com/aiplatform/infra/tests/closedloop/internal/proc"
)

// AdapterRelistInterval is prometheus-adapter's --metrics-relist-interval
// as the platform runs it: the prometheus-adapter chart's default
// metricsRelistInterval (values.yaml of chart 5.3.0, which the program does
// not override), compressed by StartAdapter.
const AdapterRelistInterval = time.Minute

// adapterConfig is prometheus-adapter v0.12.0's configuration file
// (pkg/config/config.go MetricsDiscoveryConfig; loaded with
// yaml.UnmarshalStrict, so unknown keys fail the adapter's start).
type adapterConfig struct {
	Rules []adapterRule `json:"rules"`
	// ExternalRules are served on external.metrics.k8s.io (the chart's
	// rules.external, rendered as `externalRules:`).
	ExternalRules []adapterRule `json:"externalRules,omitempty"`
}

type adapterRule struct {
	SeriesQuery   string          `json:"seriesQuery"`
	SeriesFilters []adapterFilter `json:"seriesFilters,omitempty"`
	Resources     struct {
		Template   string                     `json:"template,omitempty"`
		Overrides  map[string]adapterResource `json:"overrides,omitempty"`
		Namespaced *bool                      `json:"namespaced,omitempty"`
	} `json:"resources"`
	Name struct {
		Matches string `json:"matches"`
		As      string `json:"as"`
	} `json:"name"`
	MetricsQuery string `json:"metricsQuery,omitempty"`
}

type adapterFilter struct {
	Is    string `json:"is,omitempty"`
	IsNot string `json:"isNot,omitempty"`
}

type adapterResource struct {
	Group    string `json:"group,omitempty"`
	Resource string `json:"resource"`
}

// AdapterConfig writes prometheus-adapter's config.yaml from the rules the
// program gives the chart as values.rules.custom (signals.AdapterRules, as
// JSON-shaped maps). The chart (templates/configmap.yaml of
// prometheus-adapter 5.3.0) renders `rules:` followed by toYaml of
// rules.custom, with rules.default false as the program sets it; this is
// the same document, as JSON (which YAML reads). Every PromQL time window in
// a metricsQuery is divided by compression (CompressPromQL): the loop's
// rates span as many scrapes as the platform's.
func AdapterConfig(rules []map[string]any, compression float64) ([]byte, error) {
	return AdapterConfigWithExternal(rules, nil, compression)
}

// AdapterConfigWithExternal is AdapterConfig with the chart's
// rules.external too (`externalRules:`, templates/configmap.yaml), whose
// windows are compressed the same way. An external rule that is not
// namespaced (resources.namespaced false) needs no resource mapping.
func AdapterConfigWithExternal(rules, external []map[string]any, compression float64) ([]byte, error) {
	if err := checkFactor("compression", compression); err != nil {
		return nil, err
	}
	if len(rules) == 0 {
		return nil, errors.New("adapter rules: empty; the program's prometheus-adapter has at least one rule (rules.custom)")
	}
	var cfg adapterConfig
	var errs []error
	decode := func(key string, i int, raw map[string]any, external bool) (adapterRule, bool) {
		var r adapterRule
		if err := apijson.DecodeStrict(raw, &r); err != nil {
			errs = append(errs, fmt.Errorf("%s[%d]: %w (allowed keys: seriesQuery, seriesFilters[].{is, isNot}, resources.{template, overrides.<label>.{group, resource}, namespaced}, name.{matches, as}, metricsQuery)", key, i, err))
			return r, false
		}
		if r.SeriesQuery == "" {
			errs = append(errs, fmt.Errorf("%s[%d].seriesQuery: required (the series the rule discovers)", key, i))
		}
		unmapped := r.Resources.Template == "" && len(r.Resources.Overrides) == 0
		if notNamespaced := r.Resources.Namespaced != nil && !*r.Resources.Namespaced; unmapped && !(external && notNamespaced) {
			errs = append(errs, fmt.Errorf("%s[%d].resources: needs a template or overrides mapping labels to resources (an external rule may instead set namespaced: false)", key, i))
		}
		q, err := CompressPromQL(r.MetricsQuery, compression)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s[%d].metricsQuery: %w", key, i, err))
		}
		r.MetricsQuery = q
		return r, true
	}
	for i, raw := range rules {
		if r, ok := decode("rules", i, raw, false); ok {
			cfg.Rules = append(cfg.Rules, r)
		}
	}
	for i, raw := range external {
		if r, ok := decode("externalRules", i, raw, true); ok {
			cfg.ExternalRules = append(cfg.ExternalRules, r)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return marshalConfig(cfg)
}

// AdapterOptions configure StartAdapter.
type AdapterOptions struct {
	// Cluster is the API server the adapter lists pods from, authenticates
	// and authorizes callers with, and registers its APIService in.
	Cluster *cluster.Cluster
	// PrometheusURL is the Prometheus it queries (Prometheus.URL).
	PrometheusURL string
	// Compression divides the relist interval.
	Compression float64
	// APIVersions of custom.metrics.k8s.io to register; default v1beta1
	// only, as the chart does (templates/custom-metrics-apiservice.yaml).
	// The adapter serves v1beta2 too, and an HPA would use it if it were
	// registered and preferred: kube-controller-manager v1.34
	// (cmd/kube-controller-manager/app/autoscaling.go) builds its client
	// with k8s.io/metrics custom_metrics.NewAvailableAPIsGetter, which
	// picks the group's preferred version from discovery (discovery.go
	// chooseVersion), falling back to the first known one.
	APIVersions []string
	// External registers external.metrics.k8s.io/v1beta1 with the adapter
	// too, as the chart does when rules.external is set
	// (templates/external-metrics-apiservice.yaml). Nothing else may serve
	// that group in the cluster (KEDA's metrics server registers it too).
	External bool
	// Verbosity is the adapter's --v; 0 means 2 (the chart runs 4, which
	// logs every request).
	Verbosity int
	// ExtraArgs are appended to the flags.
	ExtraArgs []string
	Logf      func(string, ...any)
}

// Adapter is a running prometheus-adapter.
type Adapter struct {
	// URL is its own HTTPS endpoint, https://127.0.0.1:<port>.
	URL  string
	proc *proc.Process
}

// StartAdapter runs bin (prometheus-adapter v0.12.0) with cfg as its
// config file on a free loopback port with a serving certificate from the
// cluster CA, waits for /readyz and registers custom.metrics.k8s.io with
// the API server (waiting until the APIService is Available).
//
// Flags, from cmd/adapter/adapter.go and custom-metrics-apiserver v1.30.0
// pkg/cmd (builder.go, options/options.go): --config, --prometheus-url,
// --metrics-relist-interval (--metrics-max-age defaults to it, as in the
// chart), --secure-port/--bind-address with --tls-cert-file and
// --tls-private-key-file (so --cert-dir stays unused), and the admin
// kubeconfig for --lister-kubeconfig (pod listing: the provider lists
// matching pods on every request, pkg/custom-provider/provider.go),
// --authentication-kubeconfig (reads kube-system/extension-apiserver-
// authentication for the front-proxy CA) and --authorization-kubeconfig
// (SubjectAccessReviews for the HPA controller's requests).
func StartAdapter(ctx context.Context, bin, dir string, cfg []byte, o AdapterOptions) (*Adapter, error) {
	if o.Cluster == nil {
		return nil, errors.New("AdapterOptions.Cluster: required")
	}
	if o.PrometheusURL == "" {
		return nil, errors.New("AdapterOptions.PrometheusURL: required (Prometheus.URL)")
	}
	if err := checkFactor("AdapterOptions.Compression", o.Compression); err != nil {
		return nil, err
	}
	versions := o.APIVersions
	if len(versions) == 0 {
		versions = []string{"v1beta1"}
	}
	for i, v := range versions {
		if v != "v1beta1" && v != "v1beta2" {
			return nil, fmt.Errorf("AdapterOptions.APIVersions[%d]: %q is not a custom.metrics.k8s.io version the adapter serves (v1beta1, v1beta2)", i, v)
		}
	}
	verbosity := o.Verbosity
	if verbosity == 0 {
		verbosity = 2
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return nil, err
	}
	certFile, keyFile, caPEM, err := o.Cluster.IssueServingCert("prometheus-adapter", nil)
	if err != nil {
		return nil, fmt.Errorf("adapter serving certificate: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{
		fmt.Sprintf("--secure-port=%d", port),
		"--bind-address=127.0.0.1",
		"--tls-cert-file=" + certFile,
		"--tls-private-key-file=" + keyFile,
		"--cert-dir=" + filepath.Join(dir, "cert"),
		"--prometheus-url=" + o.PrometheusURL,
		"--metrics-relist-interval=" + cluster.Compress(AdapterRelistInterval, o.Compression).String(),
		"--config=" + cfgPath,
		"--lister-kubeconfig=" + o.Cluster.Kubeconfig,
		"--authentication-kubeconfig=" + o.Cluster.Kubeconfig,
		"--authorization-kubeconfig=" + o.Cluster.Kubeconfig,
		fmt.Sprintf("--v=%d", verbosity),
	}, o.ExtraArgs...)
	client, err := tlsClient(caPEM)
	if err != nil {
		return nil, err
	}
	url := fmt.Sprintf("https://127.0.0.1:%d", port)
	p, err := startProcess(ctx, "prometheus-adapter", bin, dir, args, client, url+"/readyz")
	if err != nil {
		return nil, err
	}
	a := &Adapter{URL: url, proc: p}
	for _, v := range versions {
		if err := o.Cluster.RegisterAPIService(ctx, "custom.metrics.k8s.io", v, port, caPEM); err != nil {
			err = fmt.Errorf("register custom.metrics.k8s.io/%s: %w; adapter output:\n%s", v, err, a.Logs(8<<10))
			a.Stop()
			return nil, err
		}
	}
	if o.External {
		if err := o.Cluster.RegisterAPIService(ctx, "external.metrics.k8s.io", "v1beta1", port, caPEM); err != nil {
			err = fmt.Errorf("register external.metrics.k8s.io/v1beta1: %w; adapter output:\n%s", err, a.Logs(8<<10))
			a.Stop()
			return nil, err
		}
	}
	logf("prometheus-adapter ready at %s, serving custom.metrics.k8s.io %s (external metrics: %t)", a.URL, strings.Join(versions, ", "), o.External)
	return a, nil
}

// Stop ends the process (SIGTERM, then SIGKILL after 10s). The APIService
// stays; it turns unavailable.
func (a *Adapter) Stop() { a.proc.Stop(10 * time.Second) }

// Logs is the newest maxBytes of its output (all when maxBytes <= 0).
func (a *Adapter) Logs(maxBytes int) string { return a.proc.Tail(maxBytes) }
