package inference

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aiplatform/infra/workloads"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// serviceHTTPPortName names the service's container port, which the
// probes, the Service and the PodMonitor refer to.
const serviceHTTPPortName = "http"

// ServiceMonitoring is how the platform's Prometheus scrapes a Service's own
// metrics: Path on its HTTP port (the port the API serves on; lds-service
// has no separate metrics port), through a PodMonitor in the service's
// namespace that the platform's Prometheus selects like Triton's
// (TritonMonitoring).
type ServiceMonitoring struct {
	// Path is the metrics route, e.g. /metrics.
	Path string
	// Interval between scrapes, in whole seconds.
	Interval time.Duration
	// FromNamespace is the namespace the scraping Prometheus runs in; the
	// service's default-deny namespace admits it on the HTTP port.
	FromNamespace string
	// DependsOn installs the PodMonitor CRD (the kube-prometheus-stack
	// chart): the PodMonitor waits for it, the rest of the service does not.
	DependsOn []pulumi.Resource
}

func (m ServiceMonitoring) validate(path string) error {
	var errs []error
	if !strings.HasPrefix(m.Path, "/") || strings.ContainsAny(m.Path, " \t\n") {
		errs = append(errs, fmt.Errorf("%s.path: %q must be an absolute HTTP path like /metrics", path, m.Path))
	}
	if m.Interval < time.Second || m.Interval%time.Second != 0 {
		errs = append(errs, fmt.Errorf("%s.interval: must be whole seconds, at least 1s, got %s", path, m.Interval))
	}
	if !workloads.IsNamespaceName(m.FromNamespace) {
		errs = append(errs, fmt.Errorf("%s.fromNamespace: %q is not a namespace name (lowercase DNS label); set the scraping Prometheus's namespace", path, m.FromNamespace))
	}
	return errors.Join(errs...)
}

// newServiceMonitoring has the service scraped: a PodMonitor on the
// container port serviceHTTPPortName of the selected pods, and a NetworkPolicy admitting
// the scraper's namespace to that port. The VPC ingress rule does not cover
// it: Kubernetes leaves it to the implementation whether an ipBlock matches
// pod addresses (Kubernetes docs, Network Policies, "ipBlock"), so the
// scrape is admitted by namespace, as Triton's metrics port is.
func newServiceMonitoring(ctx *pulumi.Context, name, objectName string, namespace pulumi.StringInput, selector pulumi.StringMap, port int, m ServiceMonitoring, opts ...pulumi.ResourceOption) error {
	if err := workloads.AllowNamespaceIngress(ctx, name+"-metrics", "allow-metrics-scrape", namespace, selector,
		[]string{m.FromNamespace}, []int{port}, opts...); err != nil {
		return err
	}
	_, err := newPodMonitor(ctx, name, objectName, namespace, podMonitorSpec(selector, serviceHTTPPortName, m.Path, m.Interval),
		append(opts, pulumi.DependsOn(m.DependsOn))...)
	return err
}
