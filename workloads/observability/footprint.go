package observability

import "fmt"

// Container is one container of the metrics stack with its requests and
// limits: the one table the chart values, the docs' footprint table and
// its test derive from.
type Container struct {
	// Name as the docs show it; Replicas as a phrase ("1", "2", "each node").
	Name, Replicas string
	// OnSystemNodes is false for the per-node agents.
	OnSystemNodes bool
	Count         int // replicas on the system nodes (0 for per-node agents)
	resources
}

// The containers. Sized for a small cluster (tens of nodes, a few Triton
// pods); Prometheus's memory grows with active series, raise its limit first.
var (
	prometheusContainer     = Container{"Prometheus", "1", true, 1, resources{"200m", "1Gi", "1", "2Gi"}}
	configReloaderContainer = Container{"config-reloader (Prometheus, Alertmanager)", "2", true, 2, resources{"10m", "32Mi", "100m", "64Mi"}}
	operatorContainer       = Container{"Prometheus Operator", "1", true, 1, resources{"50m", "64Mi", "200m", "256Mi"}}
	alertmanagerContainer   = Container{"Alertmanager", "1", true, 1, resources{"20m", "48Mi", "100m", "128Mi"}}
	grafanaContainer        = Container{"Grafana", "1", true, 1, resources{"50m", "192Mi", "500m", "512Mi"}}
	grafanaSidecarContainer = Container{"Grafana sidecars (dashboards, datasources)", "2", true, 2, resources{"10m", "64Mi", "100m", "128Mi"}}
	kubeStateMetrics        = Container{"kube-state-metrics", "1", true, 1, resources{"20m", "64Mi", "100m", "256Mi"}}
	adapterContainer        = Container{"prometheus-adapter", "2", true, 2, resources{"20m", "64Mi", "200m", "256Mi"}}
	nodeExporterContainer   = Container{"node-exporter", "each node", false, 0, resources{"20m", "32Mi", "200m", "64Mi"}}
	dcgmExporterContainer   = Container{"dcgm-exporter", "each GPU node", false, 0, resources{"100m", "256Mi", "200m", "512Mi"}}
)

// Footprint lists every container of the metrics stack.
func Footprint() []Container {
	return []Container{prometheusContainer, configReloaderContainer, operatorContainer, alertmanagerContainer, grafanaContainer,
		grafanaSidecarContainer, kubeStateMetrics, adapterContainer, nodeExporterContainer, dcgmExporterContainer}
}

// Requests returns the container's CPU and memory requests.
func (c Container) Requests() (cpu, memory string) { return c.cpu, c.memory }

// Limits returns the container's CPU and memory limits.
func (c Container) Limits() (cpu, memory string) { return c.cpuLimit, c.memoryLimit }

// readmeRow is the container's row of the docs' footprint table.
func (c Container) readmeRow() string {
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %s |", c.Name, c.Replicas, c.cpu, c.memory, c.cpuLimit, c.memoryLimit)
}
