package stacks

import (
	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/addons"
	"github.com/aiplatform/infra/workloads/gitops"
	"github.com/aiplatform/infra/workloads/inference"
	"github.com/aiplatform/infra/workloads/observability"
	"github.com/aiplatform/infra/workloads/observability/signals"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// deployWorkloads installs add-ons and AI workloads on the platform and
// returns the stack outputs they contribute. Order matters:
//   - everything waits for the node groups (charts wait for their pods);
//   - the AWS Load Balancer Controller comes first and everything else that
//     creates Services or Ingresses depends on it, so its webhooks are
//     serving before they are called;
//   - destroy runs this backwards: Argo CD's apps Application (finalizer
//     resources-finalizer.argocd.argoproj.io) depends on the Argo CD chart
//     and its component on the controller, so the load balancers Argo CD's
//     apps made are deleted while the controller still runs.
func deployWorkloads(ctx *pulumi.Context, cfg Config, p *Platform) (pulumi.Map, error) {
	w := cfg.Workloads
	k8s := pulumi.Providers(p.Kubernetes)
	cluster := workloads.ClusterInfo{
		Name:            p.ClusterName,
		OIDCProviderArn: p.OIDCProviderArn,
		OIDCIssuer:      p.OIDCIssuer,
		VpcID:           p.VpcID,
		Region:          p.Region,
		Tags:            p.Tags,
	}
	// Dependencies name custom resources or remote components (a Helm v4
	// Chart, a pulumi-eks component), never this program's own components:
	// the Go SDK expands a component to the children it has registered so far
	// (sdk/go/pulumi/rpc.go addDependency; a child is added in getOpts, after
	// its inputs resolve), so during an update the list depends on timing,
	// and `up --plan` refuses it: "violates plan: dependencies changed"
	// (seen in TestPlatform with the metrics stack's dashboards, and in
	// TestRehearsal with the load balancer controller). tests/depscheck
	// finds any such list from the types.
	charts := w.ChartVersions
	capacity := make([]pulumi.Resource, 0, len(p.NodeGroups))
	for _, ng := range p.NodeGroups {
		capacity = append(capacity, ng.Group)
	}
	lb, err := addons.NewLoadBalancerController(ctx, "aws-load-balancer-controller", &addons.LoadBalancerControllerArgs{
		Cluster: cluster,
		Chart:   workloads.LoadBalancerControllerChart.WithVersion(charts.LoadBalancerController).From(w.ChartRepository),
	}, k8s, pulumi.DependsOn(capacity))
	if err != nil {
		return nil, err
	}
	afterLB := pulumi.DependsOn(append(append([]pulumi.Resource{}, capacity...), lb.Resources...))

	if _, err := addons.NewMetricsServer(ctx, "metrics-server", &addons.MetricsServerArgs{
		Chart: workloads.MetricsServerChart.WithVersion(charts.MetricsServer).From(w.ChartRepository),
	}, k8s, afterLB); err != nil {
		return nil, err
	}
	devicePlugin, err := addons.NewDevicePlugin(ctx, "nvidia-device-plugin", &addons.DevicePluginArgs{
		Chart: workloads.DevicePluginChart.WithVersion(charts.DevicePlugin).From(w.ChartRepository),
	}, k8s, afterLB)
	if err != nil {
		return nil, err
	}
	if _, err := addons.NewClusterAutoscaler(ctx, "cluster-autoscaler", &addons.ClusterAutoscalerArgs{
		Cluster:           cluster,
		KubernetesVersion: cfg.KubernetesVersion,
		Chart:             workloads.ClusterAutoscalerChart.WithVersion(charts.ClusterAutoscaler).From(w.ChartRepository),
	}, k8s, afterLB); err != nil {
		return nil, err
	}
	if w.ExternalDNSEnabled() {
		if _, err := addons.NewExternalDNS(ctx, "external-dns", &addons.ExternalDNSArgs{
			Cluster:       cluster,
			Domain:        w.Domain,
			HostedZoneIDs: w.HostedZoneIDs,
			Policy:        w.ExternalDNSPolicy,
			OwnerID:       cfg.ClusterName,
			Chart:         workloads.ExternalDNSChart.WithVersion(charts.ExternalDNS).From(w.ChartRepository),
		}, k8s, afterLB); err != nil {
			return nil, err
		}
	}

	outputs := pulumi.Map{}
	// The cluster's default StorageClass: encrypted gp3 volumes of the EBS
	// CSI add-on (infra), for Prometheus and any claim without a class.
	storageClass, err := workloads.NewDefaultStorageClass(ctx, "default-storage-class", p.EBSCSI.VolumeKeyArn,
		k8s, pulumi.DependsOn([]pulumi.Resource{p.EBSCSI.Addon}))
	if err != nil {
		return nil, err
	}
	// The metrics stack (nil when observability is off). Anything that
	// creates monitoring.coreos.com resources (ServiceMonitors) depends on
	// it: its chart installs the CRDs and the operator's webhooks.
	var metrics *observability.MetricsStack
	if o := w.Observability; o.On() {
		metric, _ := signals.LookupInferenceMetric(w.Triton.Autoscaling.Metric)
		args := &observability.MetricsStackArgs{
			Spec:   o.MetricsStackSpec,
			Alerts: signals.AlertParams{TritonNamespace: w.Triton.Namespace, Metric: metric, Target: w.Triton.Autoscaling.Target},
			Chart:  workloads.KubePrometheusStackChart.WithVersion(charts.KubePrometheusStack).From(w.ChartRepository),
		}
		if w.HasSecret(GrafanaAdminPasswordKey) {
			args.AdminPassword = cfg.Secrets.GrafanaAdminPassword
		}
		if w.HasSecret(AlertingSlackWebhookURLKey) {
			args.SlackWebhookURL = cfg.Secrets.AlertingSlackWebhookURL
		}
		if metrics, err = observability.NewMetricsStack(ctx, "metrics", args, k8s,
			pulumi.DependsOn(append(append(append([]pulumi.Resource{}, capacity...), lb.Resources...), storageClass.Class))); err != nil {
			return nil, err
		}
		afterMetrics := pulumi.DependsOn(append(append(append([]pulumi.Resource{}, capacity...), lb.Resources...), metrics.Chart))
		if _, err := observability.NewPrometheusAdapter(ctx, "prometheus-adapter", &observability.PrometheusAdapterArgs{
			PrometheusURL: metrics.PrometheusURL,
			Chart:         workloads.PrometheusAdapterChart.WithVersion(charts.PrometheusAdapter).From(w.ChartRepository),
			ExternalRules: adapterExternalRules(w),
		}, k8s, afterMetrics); err != nil {
			return nil, err
		}
		if _, err := observability.NewDCGMExporter(ctx, "dcgm-exporter", &observability.DCGMExporterArgs{
			Chart: workloads.DCGMExporterChart.WithVersion(charts.DCGMExporter).From(w.ChartRepository),
		}, k8s, afterMetrics); err != nil {
			return nil, err
		}
		outputs["grafanaUrl"] = metrics.GrafanaURL
		outputs["prometheusUrl"] = metrics.PrometheusUIURL
	}
	if w.ArgoCD.On() {
		args := &gitops.ArgoCDArgs{
			Spec:        w.ArgoCD.ArgoCDSpec,
			SaltContext: cfg.ClusterName,
			Chart:       workloads.ArgoCDChart.WithVersion(charts.ArgoCD).From(w.ChartRepository),
		}
		if w.HasSecret(ArgoCDAdminPasswordKey) {
			args.AdminPassword = cfg.Secrets.ArgoCDAdminPassword
		}
		if w.HasSecret(ArgoCDNotificationsTokenKey) {
			args.NotificationsToken = cfg.Secrets.ArgoCDNotificationsToken
		}
		argo, err := gitops.NewArgoCD(ctx, "argocd", args, k8s, afterLB)
		if err != nil {
			return nil, err
		}
		outputs["argocdUrl"] = argo.URL
	}

	for _, name := range w.AppNamespaces {
		if _, err := workloads.NewNamespace(ctx, "ns-"+name, &workloads.NamespaceArgs{Name: name}, k8s, pulumi.DependsOn(capacity)); err != nil {
			return nil, err
		}
	}

	// The lds-service calls Triton in-cluster: its egress names Triton's
	// pods and ports, and Triton admits the lds-service's namespace.
	var tritonPeer *workloads.PodPeer
	if w.Triton.On() {
		args := &inference.TritonArgs{
			Spec:    w.Triton.TritonSpec,
			Cluster: cluster,
			ModelBucket: inference.BucketRef{
				Name:      p.ModelBucket.Name,
				Arn:       p.ModelBucket.Arn,
				KMSKeyArn: p.ModelBucket.KMSKeyArn,
			},
			VPCCIDR: cfg.VPCCIDR,
		}
		if w.LDSService != nil {
			args.ClientNamespaces = []string{w.LDSService.Namespace}
		}
		withTritonMetrics(args, w.Triton.Autoscaling, metrics)
		if metrics != nil {
			args.HPAOffered = tritonOffered(w)
		}
		if w.Triton.ScaleToZero.Enabled {
			// KEDA only for Triton's scale to zero: nothing else uses it.
			keda, err := addons.NewKEDA(ctx, "keda", &addons.KEDAArgs{
				Chart: workloads.KEDAChart.WithVersion(charts.KEDA).From(w.ChartRepository),
			}, k8s, afterLB)
			if err != nil {
				return nil, err
			}
			if args.KEDA, err = tritonKEDA(w, metrics, keda.Chart); err != nil {
				return nil, err
			}
		}
		triton, err := inference.NewTriton(ctx, "triton", args,
			k8s, pulumi.DependsOn(append(append(append([]pulumi.Resource{}, capacity...), lb.Resources...), devicePlugin.Chart)))
		if err != nil {
			return nil, err
		}
		outputs["tritonEndpoint"] = triton.Endpoint
		outputs["tritonModelRepository"] = triton.ModelRepository // read by `aiplatform models push`
		tritonPeer = &triton.Peer
	}

	if spec := w.LDSService; spec != nil {
		args := &inference.ServiceArgs{Spec: *spec, VPCCIDR: cfg.VPCCIDR}
		if tritonPeer != nil {
			args.EgressTo = append(args.EgressTo, *tritonPeer)
		}
		// Scraped when the metrics stack is installed: its failed calls to
		// Triton (signals.LDSTritonErrors) are the only count of requests a
		// full Triton queue refuses (signals.AlertInferenceCallsFailing).
		if metrics != nil {
			args.Monitoring = &inference.ServiceMonitoring{
				Path:          signals.LDSMetricsPath,
				Interval:      signals.LDSScrapeInterval,
				FromNamespace: observability.MonitoringNamespace,
				DependsOn:     []pulumi.Resource{metrics.Chart}, // the chart, not the component, as for Triton
			}
		}
		if w.DockerHubUsername != "" {
			args.PullCredentials = &inference.RegistryCredentials{
				Server:   inference.DockerHubRegistry,
				Username: w.DockerHubUsername,
				Password: cfg.Secrets.DockerHubToken,
			}
		}
		svc, err := inference.NewService(ctx, "lds-service", args, k8s, afterLB)
		if err != nil {
			return nil, err
		}
		outputs["ldsServiceUrl"] = svc.URL
	}
	return outputs, nil
}
