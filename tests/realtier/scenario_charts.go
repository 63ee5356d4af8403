package realtier

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aiplatform/infra/infra"
	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/addons"
	"github.com/aiplatform/infra/workloads/gitops"
	"github.com/aiplatform/infra/workloads/observability"
	"github.com/aiplatform/infra/workloads/observability/signals"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The charts scenario's fixed inputs.
const (
	chDomain     = "realtier.example.com"
	chZoneID     = "Z0REALTIER00000000001"
	chArgoCDHost = "argocd.realtier.example.com"
	chCertARN    = "arn:aws:acm:us-west-2:123456789012:certificate/00000000-0000-0000-0000-000000000000"
	chAppsRepo   = "https://github.com/acme/platform-apps.git"
	chWebhookURL = "https://hooks.realtier.example.com/argocd"
	chAppsNS     = "apps"
	// The platform's default Kubernetes version picks the autoscaler image.
	chKubernetesVersion = "1.33"
)

// ChartsScenario installs every add-on through the production components,
// each chart at its pin read from the packaged charts in chartsDir
// (workloads.Chart.From, the same path as the chartRepository stack
// setting), composed as stacks/workloads.go composes them: the AWS Load
// Balancer Controller first, everything else after it (KEDA too, which the
// stack installs only with triton.scaleToZero); Argo CD with an apps
// Application, webhook notifications with a token and an admin password; an
// app namespace; Triton (after the device plugin too) and lds-service. It
// runs up, preview and destroy; the lock is the other scenarios' business.
// unavailable is why the charts cannot be used (nil when they can).
func ChartsScenario(chartsDir string, unavailable error) Scenario {
	return ChartsScenarioFor(CurrentCharts, chartsDir, unavailable)
}

// ChartsScenarioFor is ChartsScenario with the charts at set's versions,
// named after set.
func ChartsScenarioFor(set ChartSet, chartsDir string, unavailable error) Scenario {
	from := func(c workloads.Chart) workloads.Chart { return set.Chart(c, chartsDir) }
	return Scenario{
		Name:        set.Name,
		Unavailable: unavailable,
		Phases:      []Phase{PhasePreview},
		Objects:     chartsObjects,
		Program: func(kubeconfig string, _ bool, gate func()) pulumi.RunFunc {
			return gatedProgram(kubeconfig, gate, func(ctx *pulumi.Context, k8s *kubernetes.Provider) error {
				providers := pulumi.Providers(k8s)
				lb, err := addons.NewLoadBalancerController(ctx, "aws-load-balancer-controller", &addons.LoadBalancerControllerArgs{
					Cluster: rtCluster,
					Chart:   from(workloads.LoadBalancerControllerChart),
				}, providers)
				if err != nil {
					return err
				}
				afterLB := pulumi.DependsOn(lb.Resources) // not lb: see tests/depscheck
				if _, err := addons.NewMetricsServer(ctx, "metrics-server", &addons.MetricsServerArgs{
					Chart: from(workloads.MetricsServerChart),
				}, providers, afterLB); err != nil {
					return err
				}
				devicePlugin, err := addons.NewDevicePlugin(ctx, "nvidia-device-plugin", &addons.DevicePluginArgs{
					Chart: from(workloads.DevicePluginChart),
				}, providers, afterLB)
				if err != nil {
					return err
				}
				if _, err := addons.NewClusterAutoscaler(ctx, "cluster-autoscaler", &addons.ClusterAutoscalerArgs{
					Cluster:           rtCluster,
					KubernetesVersion: chKubernetesVersion,
					Chart:             from(workloads.ClusterAutoscalerChart),
				}, providers, afterLB); err != nil {
					return err
				}
				if _, err := addons.NewExternalDNS(ctx, "external-dns", &addons.ExternalDNSArgs{
					Cluster:       rtCluster,
					Domain:        chDomain,
					HostedZoneIDs: []string{chZoneID},
					OwnerID:       rtClusterName,
					Chart:         from(workloads.ExternalDNSChart),
				}, providers, afterLB); err != nil {
					return err
				}
				// The stack installs KEDA only with triton.scaleToZero; here
				// it is installed like every other add-on.
				if _, err := addons.NewKEDA(ctx, "keda", &addons.KEDAArgs{
					Chart: from(workloads.KEDAChart),
				}, providers, afterLB); err != nil {
					return err
				}
				argo, err := gitops.NewArgoCD(ctx, "argocd", &gitops.ArgoCDArgs{
					Spec: gitops.ArgoCDSpec{
						Exposure:       workloads.Internal,
						Host:           chArgoCDHost,
						CertificateARN: chCertARN,
						Apps:           &gitops.ArgoCDApps{RepoURL: chAppsRepo, Path: "clusters/dev"},
						Notifications:  &gitops.ArgoCDNotifications{Kind: gitops.WebhookNotifications, URL: chWebhookURL},
					},
					AdminPassword:      pulumi.ToSecret(pulumi.String("realtier-admin-password")).(pulumi.StringOutput),
					NotificationsToken: pulumi.ToSecret(pulumi.String("realtier-webhook-token")).(pulumi.StringOutput),
					SaltContext:        rtClusterName,
					Chart:              from(workloads.ArgoCDChart),
				}, providers, afterLB)
				if err != nil {
					return err
				}
				ctx.Export("argocdUrl", argo.URL)
				if err := deployMetrics(ctx, providers, from, lb.Resources); err != nil {
					return err
				}
				if _, err := workloads.NewNamespace(ctx, "ns-"+chAppsNS, &workloads.NamespaceArgs{Name: chAppsNS}, providers); err != nil {
					return err
				}
				return deployAIWorkloads(ctx, k8s, 3, append(append([]pulumi.Resource{}, lb.Resources...), devicePlugin.Chart), lb.Resources)
			})
		},
	}
}

// chMetricsKeyArn stands in for the EBS CSI driver's volume key.
const chMetricsKeyArn = "arn:aws:kms:us-west-2:123456789012:key/00000000-0000-0000-0000-000000000000"

// deployMetrics composes the metrics stack as stacks/workloads.go does: the
// default StorageClass, kube-prometheus-stack with a persistent Prometheus
// and an exposed Grafana, then prometheus-adapter and dcgm-exporter after it.
func deployMetrics(ctx *pulumi.Context, providers pulumi.ResourceOption, from func(workloads.Chart) workloads.Chart, after []pulumi.Resource) error {
	sc, err := workloads.NewDefaultStorageClass(ctx, "default-storage-class", pulumi.String(chMetricsKeyArn), providers)
	if err != nil {
		return err
	}
	metrics, err := observability.NewMetricsStack(ctx, "metrics", &observability.MetricsStackArgs{
		Spec: observability.MetricsStackSpec{Grafana: observability.Endpoint{
			Exposure: workloads.Internal, Host: chGrafanaHost, CertificateARN: chCertARN,
		}},
		Alerts: signals.AlertParams{TritonNamespace: "triton"},
		Chart:  from(workloads.KubePrometheusStackChart),
	}, providers, pulumi.DependsOn(append(append([]pulumi.Resource{}, after...), sc.Class)))
	if err != nil {
		return err
	}
	afterMetrics := pulumi.DependsOn(append(append([]pulumi.Resource{}, after...), metrics.Chart))
	if _, err := observability.NewPrometheusAdapter(ctx, "prometheus-adapter", &observability.PrometheusAdapterArgs{
		PrometheusURL: metrics.PrometheusURL,
		Chart:         from(workloads.PrometheusAdapterChart),
	}, providers, afterMetrics); err != nil {
		return err
	}
	_, err = observability.NewDCGMExporter(ctx, "dcgm-exporter", &observability.DCGMExporterArgs{
		Chart: from(workloads.DCGMExporterChart),
	}, providers, afterMetrics)
	return err
}

const chGrafanaHost = "grafana.realtier.example.com"

// metricsObjects show the metrics stack's values reached the rendered charts.
func metricsObjects() []Expect {
	const mon, agents = observability.MonitoringNamespace, observability.AgentsNamespace
	pod := []string{"spec", "template", "spec"}
	established := hasCondition("Established", "True")
	return []Expect{
		{Path: "/api/v1/namespaces/" + mon, Check: hasField("baseline", "metadata", "labels", "pod-security.kubernetes.io/enforce")},
		{Path: "/api/v1/namespaces/" + agents, Check: hasField("privileged", "metadata", "labels", "pod-security.kubernetes.io/enforce")},
		{Path: "/apis/storage.k8s.io/v1/storageclasses/" + workloads.DefaultStorageClass, Check: all(
			hasField("true", "metadata", "annotations", "storageclass.kubernetes.io/is-default-class"),
			hasField("true", "parameters", "encrypted"),
		)},
		{Path: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/prometheuses.monitoring.coreos.com", Check: established},
		{Path: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/servicemonitors.monitoring.coreos.com", Check: established},
		{Path: apps(mon, "deployments", "kube-prometheus-stack-operator", "apps/v1"), Check: hasField(string(infra.SystemNodes), keyPath(pod, "nodeSelector", infra.NodeKindLabel)...)},
		{Path: apps(mon, "secrets", observability.AdmissionSecret, "v1"), Check: hasKeys("ca", "cert", "key")},
		{Path: apps(mon, "secrets", observability.GrafanaAdminSecret, "v1"), Check: hasKeys("admin-user", "admin-password")},
		{Path: apps(mon, "deployments", "kube-prometheus-stack-grafana", "apps/v1")},
		{Path: apps(mon, "ingresses", "kube-prometheus-stack-grafana", "networking.k8s.io/v1"), Check: hasField(chGrafanaHost, "spec", "rules", "0", "host")},
		{Path: "/apis/monitoring.coreos.com/v1/namespaces/" + mon + "/prometheuses/kube-prometheus-stack-prometheus", Check: all(
			hasField("15d", "spec", "retention"),
			hasField(workloads.DefaultStorageClass, "spec", "storage", "volumeClaimTemplate", "spec", "storageClassName"),
		)},
		{Path: "/apis/monitoring.coreos.com/v1/namespaces/" + mon + "/prometheusrules/aiplatform-alerts"},
		{Path: apps(mon, "configmaps", "dashboard-aiplatform-triton", "v1"), Check: hasField("1", "metadata", "labels", signals.GrafanaDashboardLabel)},
		{Path: apps(agents, "daemonsets", "kube-prometheus-stack-prometheus-node-exporter", "apps/v1")},
		{Path: apps(mon, "deployments", "prometheus-adapter", "apps/v1"), Check: hasField(2, "spec", "replicas")},
		{Path: "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.custom.metrics.k8s.io", Check: hasField("prometheus-adapter", "spec", "service", "name")},
		{Path: apps(agents, "daemonsets", "dcgm-exporter", "apps/v1"), Check: hasField(string(infra.GPUNodes), keyPath(pod, "nodeSelector", infra.NodeKindLabel)...)},
		{Path: "/apis/monitoring.coreos.com/v1/namespaces/" + agents + "/servicemonitors/dcgm-exporter", Check: hasField(true, "spec", "endpoints", "0", "honorLabels")},
	}
}

// chartsObjects are the add-ons' key objects with the properties that show
// the production values reached the rendered chart, plus the AI workloads.
func chartsObjects(ctx context.Context, api *KubeAPI) ([]Expect, error) {
	const ks = "kube-system"
	pod := []string{"spec", "template", "spec"}
	container := keyPath(pod, "containers", "0")
	roleArn := hasPrefix("arn:aws:iam::123456789012:role/", "metadata", "annotations", "eks.amazonaws.com/role-arn")
	established := hasCondition("Established", "True")
	disarmed := hasField(LabelWebhookDisarmed, "webhooks", "0", "objectSelector", "matchExpressions", "0", "key")
	onSystemNodes := hasField(string(infra.SystemNodes), keyPath(pod, "nodeSelector", infra.NodeKindLabel)...)

	out := []Expect{
		// AWS Load Balancer Controller
		{Path: apps(ks, "deployments", "aws-load-balancer-controller", "apps/v1"), Check: all(
			hasField(2, "spec", "replicas"),
			hasItem("--cluster-name="+rtClusterName, keyPath(container, "args")...),
			hasItem("--aws-vpc-id="+rtVpcID, keyPath(container, "args")...),
			hasItem("--aws-region=us-west-2", keyPath(container, "args")...),
			hasField(string(infra.SystemNodes), keyPath(pod, "nodeSelector", infra.NodeKindLabel)...),
		)},
		{Path: apps(ks, "serviceaccounts", "aws-load-balancer-controller", "v1"), Check: roleArn},
		{Path: apps(ks, "secrets", "aws-load-balancer-tls", "v1"), Check: hasField("kubernetes.io/tls", "type")},
		{Path: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/targetgroupbindings.elbv2.k8s.aws", Check: established},
		{Path: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ingressclassparams.elbv2.k8s.aws", Check: established},
		{Path: "/apis/networking.k8s.io/v1/ingressclasses/alb", Check: hasField("ingress.k8s.aws/alb", "spec", "controller")},
		{Path: "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/aws-load-balancer-webhook", Check: all(
			disarmed, hasField("aws-load-balancer-webhook-service", "webhooks", "0", "clientConfig", "service", "name"),
		)},
		{Path: "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/aws-load-balancer-webhook", Check: disarmed},

		// metrics-server
		{Path: apps(ks, "deployments", "metrics-server", "apps/v1"), Check: hasField(2, "spec", "replicas")},
		{Path: apps(ks, "poddisruptionbudgets", "metrics-server", "policy/v1"), Check: hasField(1, "spec", "maxUnavailable")},
		{Path: "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io", Check: hasField("metrics-server", "spec", "service", "name")},

		// NVIDIA device plugin: GPU nodes only
		{Path: apps(ks, "daemonsets", "nvidia-device-plugin", "apps/v1"), Check: all(
			hasField(string(infra.GPUNodes), keyPath(pod, "nodeSelector", infra.NodeKindLabel)...),
			hasField("system-node-critical", keyPath(pod, "priorityClassName")...),
		)},

		// Cluster Autoscaler: image for the cluster's minor, discovery by this cluster's tag
		{Path: apps(ks, "deployments", "cluster-autoscaler-aws-cluster-autoscaler", "apps/v1"), Check: all(
			hasSuffix(":"+addons.ClusterAutoscalerImageTag(chKubernetesVersion), keyPath(container, "image")...),
			hasItemContaining("k8s.io/cluster-autoscaler/"+rtClusterName, keyPath(container, "command")...),
			hasItem("--expander=least-waste", keyPath(container, "command")...),
		)},
		{Path: apps(ks, "serviceaccounts", "cluster-autoscaler", "v1"), Check: roleArn},

		// ExternalDNS: only this zone and domain, upsert-only, owned by this cluster
		{Path: apps(ks, "deployments", "external-dns", "apps/v1"), Check: all(
			hasItem("--domain-filter="+chDomain, keyPath(container, "args")...),
			hasItem("--zone-id-filter="+chZoneID, keyPath(container, "args")...),
			hasItem("--policy=upsert-only", keyPath(container, "args")...),
			hasItem("--txt-owner-id="+rtClusterName, keyPath(container, "args")...),
		)},
		{Path: apps(ks, "serviceaccounts", "external-dns", "v1"), Check: roleArn},

		// KEDA: every pod on the system nodes; the external metrics API and
		// the webhooks (failurePolicy Ignore) registered, with no pod behind
		// them here (the Secret their pods mount comes from the operator:
		// CreatedAtRunTime)
		{Path: "/api/v1/namespaces/" + addons.KEDANamespace, Check: hasField("restricted", "metadata", "labels", "pod-security.kubernetes.io/enforce")},
		{Path: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/scaledobjects.keda.sh", Check: established},
		{Path: apps(addons.KEDANamespace, "deployments", "keda-operator", "apps/v1"), Check: onSystemNodes},
		{Path: apps(addons.KEDANamespace, "deployments", "keda-operator-metrics-apiserver", "apps/v1"), Check: onSystemNodes},
		{Path: apps(addons.KEDANamespace, "deployments", "keda-admission-webhooks", "apps/v1"), Check: onSystemNodes},
		{Path: "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.external.metrics.k8s.io", Check: all(
			hasField("keda-operator-metrics-apiserver", "spec", "service", "name"),
			hasField(addons.KEDANamespace, "spec", "service", "namespace"),
		)},
		{Path: "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/keda-admission", Check: all(
			disarmed, hasField("vscaledobject.kb.io", "webhooks", "0", "name"), hasField("Ignore", "webhooks", "0", "failurePolicy"),
		)},

		// Argo CD
		{Path: "/api/v1/namespaces/" + workloads.ArgoCDNamespace, Check: hasField("baseline", "metadata", "labels", "pod-security.kubernetes.io/enforce")},
		{Path: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/applications.argoproj.io", Check: established},
		{Path: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/appprojects.argoproj.io", Check: established},
		{Path: apps(workloads.ArgoCDNamespace, "deployments", "argocd-server", "apps/v1")},
		{Path: apps(workloads.ArgoCDNamespace, "deployments", "argocd-repo-server", "apps/v1")},
		{Path: apps(workloads.ArgoCDNamespace, "deployments", "argocd-redis", "apps/v1")},
		{Path: apps(workloads.ArgoCDNamespace, "deployments", "argocd-notifications-controller", "apps/v1")},
		{Path: apps(workloads.ArgoCDNamespace, "statefulsets", "argocd-application-controller", "apps/v1")},
		{Path: apps(workloads.ArgoCDNamespace, "configmaps", "argocd-cm", "v1"), Check: all(
			hasField("https://"+chArgoCDHost, "data", "url"),
			hasField("false", "data", "users.anonymous.enabled"),
			hasField("false", "data", "exec.enabled"),
		)},
		{Path: apps(workloads.ArgoCDNamespace, "configmaps", "argocd-cmd-params-cm", "v1"), Check: hasField("true", "data", "server.insecure")},
		{Path: apps(workloads.ArgoCDNamespace, "secrets", "argocd-secret", "v1"), Check: hasKeys("admin.password", "admin.passwordMtime")},
		{Path: apps(workloads.ArgoCDNamespace, "configmaps", "argocd-notifications-cm", "v1"), Check: hasKeys("trigger.on-sync-failed", "service.webhook.aiplatform")},
		{Path: apps(workloads.ArgoCDNamespace, "secrets", "argocd-notifications-secret", "v1"), Check: hasKeys("notifications-token")},
		{Path: apps(workloads.ArgoCDNamespace, "ingresses", "argocd-server", "networking.k8s.io/v1"), Check: all(
			hasField("alb", "spec", "ingressClassName"),
			hasField(chArgoCDHost, "spec", "rules", "0", "host"),
		)},
		{Path: "/apis/argoproj.io/v1alpha1/namespaces/" + workloads.ArgoCDNamespace + "/applications/" + gitops.AppsApplicationName, Check: all(
			hasField(chAppsRepo, "spec", "source", "repoURL"),
			hasField(true, "spec", "syncPolicy", "automated", "prune"),
		)},

		// an app namespace
		{Path: "/api/v1/namespaces/" + chAppsNS, Check: hasField("restricted", "metadata", "labels", "pod-security.kubernetes.io/enforce")},
		{Path: apps(chAppsNS, "networkpolicies", "default-deny", "networking.k8s.io/v1")},
	}
	out = append(out, metricsObjects()...)
	ai, err := workloadsObjects(ctx, api)
	if err != nil {
		return nil, err
	}
	return append(out, ai...), nil
}

func hasSuffix(suffix string, keys ...string) func(Object) error {
	return func(o Object) error {
		if got := o.String(keys...); !strings.HasSuffix(got, suffix) {
			return fmt.Errorf("%s = %q, want suffix %q", strings.Join(keys, "."), got, suffix)
		}
		return nil
	}
}

// hasItem checks that the string list at keys holds want.
func hasItem(want string, keys ...string) func(Object) error {
	return func(o Object) error {
		if list := stringList(o, keys...); !slices.Contains(list, want) {
			return fmt.Errorf("%s = %q, want it to hold %q", strings.Join(keys, "."), list, want)
		}
		return nil
	}
}

// hasItemContaining checks that an item of the string list at keys contains part.
func hasItemContaining(part string, keys ...string) func(Object) error {
	return func(o Object) error {
		list := stringList(o, keys...)
		if !slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, part) }) {
			return fmt.Errorf("%s = %q, want an item containing %q", strings.Join(keys, "."), list, part)
		}
		return nil
	}
}

func stringList(o Object, keys ...string) []string {
	raw, _ := o.Path(keys...).([]any)
	var out []string
	for _, v := range raw {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// hasKeys checks that a ConfigMap or Secret holds every key.
func hasKeys(keys ...string) func(Object) error {
	return func(o Object) error {
		var missing []string
		for _, k := range keys {
			if !hasKey(o, k) {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("data lacks %q", missing)
		}
		return nil
	}
}

// hasCondition checks status.conditions[type=typ].status.
func hasCondition(typ, status string) func(Object) error {
	return func(o Object) error {
		for _, c := range items(o, "status", "conditions") {
			if c.String("type") == typ {
				if got := c.String("status"); got != status {
					return fmt.Errorf("condition %s = %s, want %s", typ, got, status)
				}
				return nil
			}
		}
		return fmt.Errorf("no condition %s", typ)
	}
}

// keyPath is base followed by more, in a new slice (checks keep their keys,
// so two paths must never share a backing array).
func keyPath(base []string, more ...string) []string {
	return append(slices.Clip(base), more...)
}
