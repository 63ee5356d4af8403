package tests

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiplatform/infra/stacks"
	"github.com/aiplatform/infra/tests/golden"
	"github.com/aiplatform/infra/tests/mocks"
	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/addons"
	"github.com/aiplatform/infra/workloads/inference"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

const (
	chartType      = "kubernetes:helm.sh/v4:Chart"
	deploymentType = "kubernetes:apps/v1:Deployment"
	k8sServiceType = "kubernetes:core/v1:Service"
	ingressType    = "kubernetes:networking.k8s.io/v1:Ingress"
	netpolType     = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
	namespaceType  = "kubernetes:core/v1:Namespace"
	hpaType        = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
	pdbType        = "kubernetes:policy/v1:PodDisruptionBudget"
	rolePolicyType = "aws:iam/rolePolicy:RolePolicy"
	wlCert         = "arn:aws:acm:us-west-2:123456789012:certificate/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f"
	wlZone         = "Z0123456789ABCDEFGHIJ"
	// clusterName is the name the program gives the EKS cluster by default.
	clusterName = mocks.Project + "-" + mocks.Stack
)

// wlFullConfig turns on every optional workload: DNS, TLS, Argo CD with an
// apps repo, notifications and an admin password, and the lds-service with a
// Docker Hub pull secret.
func wlFullConfig(kv ...string) map[string]string {
	cfg := with(baseConfig(),
		"aiplatform:domain", "ai.example.com",
		"aiplatform:hostedZoneIds", `["`+wlZone+`"]`,
		"aiplatform:certificateArn", wlCert,
		"aiplatform:dockerHubUsername", "acmebot",
		"aiplatform:dockerHubToken", "dckr_pat_SECRET",
		"aiplatform:argocdAdminPassword", "correct-horse-battery",
		"aiplatform:argocdNotificationsToken", "ghp_SECRET",
		"aiplatform:argocd", `{"exposure":"internal","apps":{"repoUrl":"https://github.com/acme/platform-apps.git","path":"clusters/dev"},
			"notifications":{"kind":"githubCommitStatus"}}`,
		"aiplatform:ldsService", `{"image":"docker.io/acme/lds-service:1.4.2","settings":{"LOG_LEVEL":"info","MODEL_URL":"http://triton.triton.svc:8000"}}`,
	)
	return with(cfg, kv...)
}

// chartInputs returns the plain inputs of the Helm chart registered by component name.
func chartInputs(t *testing.T, rec *mocks.Recorder, name string) map[string]any {
	t.Helper()
	return plain(find(t, rec, chartType, name).Inputs)
}

// isSecretAt reports whether the value at keys inside m is marked secret
// (either itself or any enclosing value).
func isSecretAt(m resource.PropertyMap, keys ...string) bool {
	v := resource.NewProperty(m)
	for _, k := range keys {
		if v.IsSecret() {
			return true
		}
		if !v.IsObject() {
			return false
		}
		v = v.ObjectValue()[resource.PropertyKey(k)]
	}
	return v.IsSecret()
}

// dependsOn reports whether r explicitly depends on the resource with URN urn.
func dependsOn(r mocks.Resource, urn string) bool {
	for _, d := range r.DependsOn {
		if d == urn {
			return true
		}
	}
	return false
}

// previousArgoCD is the argo-cd version kept usable for one release.
var previousArgoCD = workloads.ArgoCDChart.WithVersion(previousVersion("argo-cd"))

// previousVersion is the previous pin of a chart (workloads.AddonCharts).
func previousVersion(chart string) string {
	for _, row := range workloads.AddonCharts {
		if row.Chart.Name == chart {
			return row.Previous
		}
	}
	panic("no chart " + chart)
}

func TestAddonsArePinnedOfficialCharts(t *testing.T) {
	rec := runProgram(t, with(wlFullConfig(), "aiplatform:chartVersions", `{"argoCd":"`+previousArgoCD.Version+`"}`))
	want := map[string]struct{ repo, chart, version, namespace string }{
		"nvidia-device-plugin":         {"https://nvidia.github.io/k8s-device-plugin", "nvidia-device-plugin", workloads.DevicePluginChart.Version, "kube-system"},
		"metrics-server":               {"https://kubernetes-sigs.github.io/metrics-server/", "metrics-server", workloads.MetricsServerChart.Version, "kube-system"},
		"cluster-autoscaler":           {"https://kubernetes.github.io/autoscaler", "cluster-autoscaler", workloads.ClusterAutoscalerChart.Version, "kube-system"},
		"aws-load-balancer-controller": {"https://aws.github.io/eks-charts", "aws-load-balancer-controller", workloads.LoadBalancerControllerChart.Version, "kube-system"},
		"external-dns":                 {"https://kubernetes-sigs.github.io/external-dns/", "external-dns", workloads.ExternalDNSChart.Version, "kube-system"},
		"argocd":                       {"https://argoproj.github.io/argo-helm", "argo-cd", previousArgoCD.Version, "argocd"},
		"metrics":                      {"https://prometheus-community.github.io/helm-charts", "kube-prometheus-stack", workloads.KubePrometheusStackChart.Version, "monitoring"},
		"prometheus-adapter":           {"https://prometheus-community.github.io/helm-charts", "prometheus-adapter", workloads.PrometheusAdapterChart.Version, "monitoring"},
		"dcgm-exporter":                {"https://nvidia.github.io/dcgm-exporter/helm-charts", "dcgm-exporter", workloads.DCGMExporterChart.Version, "monitoring-agents"},
	}
	require.Len(t, rec.ByType(chartType), len(want))
	for name, w := range want {
		in := chartInputs(t, rec, name)
		assert.Equal(t, w.chart, in["chart"], name)
		assert.Equal(t, w.version, in["version"], name)
		assert.Regexp(t, `^\d+\.\d+\.\d+$`, in["version"], name)
		assert.Equal(t, w.repo, path(in, "repositoryOpts", "repo"), name)
		assert.Equal(t, w.namespace, in["namespace"], name)
	}
}

func TestWorkloadsUseTheClusterProvider(t *testing.T) {
	rec := runProgram(t, wlFullConfig())
	providers := rec.ByType("pulumi:providers:kubernetes")
	require.Len(t, providers, 1)
	for _, r := range rec.All() {
		if strings.HasPrefix(r.Type, "kubernetes:") && r.Type != "pulumi:providers:kubernetes" && r.Custom {
			assert.True(t, strings.HasPrefix(r.Provider, providers[0].URN+"::"), "%s %s uses provider %q", r.Type, r.Name, r.Provider)
		}
	}
}

func TestDevicePluginRunsOnlyOnGPUNodes(t *testing.T) {
	values := chartInputs(t, runProgram(t, baseConfig()), "nvidia-device-plugin")["values"].(map[string]any)
	assert.Equal(t, map[string]any{"aiplatform.io/node-kind": "gpu"}, values["nodeSelector"])
	assert.Equal(t, []any{map[string]any{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}}, values["tolerations"],
		"pods tolerate NoSchedule (the EKS API spells it NO_SCHEDULE)")
	assert.Equal(t, map[string]any{"enabled": false, "postDeleteCleanup": false}, values["nfd"],
		"no feature discovery, and none of NFD 0.19's post-delete hooks even if it is turned on")
	term := path(values, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
	assert.Equal(t, []any{map[string]any{"matchExpressions": []any{map[string]any{
		"key": "aiplatform.io/node-kind", "operator": "In", "values": []any{"gpu"},
	}}}}, term, "the chart's own affinity (NFD labels) is replaced")
}

func TestMetricsServer(t *testing.T) {
	values := chartInputs(t, runProgram(t, baseConfig()), "metrics-server")["values"].(map[string]any)
	assert.Equal(t, 2.0, values["replicas"])
	assert.Equal(t, true, path(values, "podDisruptionBudget", "enabled"))
	assert.Equal(t, map[string]any{"aiplatform.io/node-kind": "system"}, values["nodeSelector"])
	assert.Equal(t, "metrics-server", path(values, "tls", "type"), "the only TLS type that renders the same every time without cert-manager")
}

// irsaPolicy returns the inline policy and the trust policy of the IRSA role named name.
func irsaPolicy(t *testing.T, rec *mocks.Recorder, name string) (policy, trust map[string]any) {
	t.Helper()
	role := find(t, rec, roleType, name)
	require.Equal(t, find(t, rec, "aiplatform:infra:IRSARole", name).URN, role.Parent)
	return policyJSON(t, plain(find(t, rec, rolePolicyType, name).Inputs)["policy"]),
		policyJSON(t, plain(role.Inputs)["assumeRolePolicy"])
}

func trustedSubject(trust map[string]any) any {
	return path(trust, "Statement", 0, "Condition", "StringEquals", issuerHost+":sub")
}

func TestClusterAutoscaler(t *testing.T) {
	rec := runProgram(t, baseConfig())
	values := chartInputs(t, rec, "cluster-autoscaler")["values"].(map[string]any)
	assert.Equal(t, clusterName, path(values, "autoDiscovery", "clusterName"))
	assert.Equal(t, mocks.Region, values["awsRegion"])
	assert.Equal(t, "v1.36.1", path(values, "image", "tag"), "the autoscaler matches the cluster's minor version")
	args := values["extraArgs"].(map[string]any)
	assert.Equal(t, true, args["balance-similar-node-groups"])
	assert.Equal(t, true, args["scale-down-enabled"])
	assert.Equal(t, true, args["ignore-daemonsets-utilization"], "daemon sets must not keep empty GPU nodes alive")
	assert.Equal(t, false, args["skip-nodes-with-local-storage"], "Triton's emptyDir scratch must not pin GPU nodes")
	assert.Equal(t, "10m", args["scale-down-unneeded-time"])

	policy, trust := irsaPolicy(t, rec, "cluster-autoscaler")
	assert.Equal(t, "system:serviceaccount:kube-system:cluster-autoscaler", trustedSubject(trust))
	assert.Equal(t, "cluster-autoscaler", path(values, "rbac", "serviceAccount", "name"))
	assert.Equal(t, "arn:aws:iam::123456789012:role/cluster-autoscaler", path(values, "rbac", "serviceAccount", "annotations", "eks.amazonaws.com/role-arn"))
	sts := statementsBySid(t, policy)
	assert.Equal(t, map[string]any{"aws:ResourceTag/k8s.io/cluster-autoscaler/" + clusterName: "owned"},
		path(sts["ScaleClusterGroups"], "Condition", "StringEquals"), "only this cluster's groups can be resized")
}

func TestLoadBalancerController(t *testing.T) {
	rec := runProgram(t, baseConfig())
	values := chartInputs(t, rec, "aws-load-balancer-controller")["values"].(map[string]any)
	assert.Equal(t, clusterName, values["clusterName"])
	assert.Equal(t, mocks.Region, values["region"])
	assert.Equal(t, "network-id", values["vpcId"])
	assert.Equal(t, 2.0, values["replicaCount"])
	policy, trust := irsaPolicy(t, rec, "aws-load-balancer-controller")
	assert.Equal(t, "system:serviceaccount:kube-system:aws-load-balancer-controller", trustedSubject(trust))
	assert.Equal(t, "aws-load-balancer-controller", path(values, "serviceAccount", "name"))
	assert.NotEmpty(t, path(values, "serviceAccount", "annotations", "eks.amazonaws.com/role-arn"))
	golden, err := os.ReadFile("../workloads/addons/testdata/lb-controller-policy.json")
	require.NoError(t, err)
	var want map[string]any
	require.NoError(t, json.Unmarshal(golden, &want))
	assert.Equal(t, want, policy, "the role carries the complete controller policy (workloads/addons/testdata/lb-controller-policy.json)")
}

func TestLoadBalancerControllerIsInstalledBeforeAnythingWithServices(t *testing.T) {
	rec := runProgram(t, wlFullConfig())
	lbChart := find(t, rec, chartType, "aws-load-balancer-controller").URN
	for typ, name := range map[string]string{
		"aiplatform:workloads:MetricsServer":     "metrics-server",
		"aiplatform:workloads:DevicePlugin":      "nvidia-device-plugin",
		"aiplatform:workloads:ClusterAutoscaler": "cluster-autoscaler",
		"aiplatform:workloads:ExternalDNS":       "external-dns",
		"aiplatform:workloads:ArgoCD":            "argocd",
		"aiplatform:workloads:Triton":            "triton",
		"aiplatform:workloads:Service":           "lds-service",
	} {
		// Children register only after their component, whose registration
		// waits for its dependencies.
		assert.True(t, dependsOn(find(t, rec, typ, name), lbChart), "%s must wait for the load balancer controller chart", name)
	}
	components := map[string]mocks.Resource{}
	for _, r := range rec.All() {
		components[r.URN] = r
	}
	for _, typ := range []string{k8sServiceType, ingressType, chartType} {
		for _, r := range rec.ByType(typ) {
			if r.URN == lbChart {
				continue
			}
			parent := components[r.Parent]
			assert.True(t, dependsOn(parent, lbChart), "%s %s (in %s) is created before the controller's webhooks exist", typ, r.Name, parent.Name)
		}
	}
	// Charts wait for their pods, so the first one waits for the node groups.
	controller := find(t, rec, "aiplatform:workloads:LoadBalancerController", "aws-load-balancer-controller")
	groups := rec.ByType(mngType)
	require.Len(t, groups, 3)
	for _, ng := range groups {
		assert.True(t, dependsOn(controller, ng.URN), "the controller waits for node group %s", ng.Name)
	}
}

func TestExternalDNSOnlyWithHostedZones(t *testing.T) {
	assert.Empty(t, runProgram(t, baseConfig()).ByType("aiplatform:workloads:ExternalDNS"), "no zones, no ExternalDNS")

	rec := runProgram(t, wlFullConfig())
	values := chartInputs(t, rec, "external-dns")["values"].(map[string]any)
	assert.Equal(t, "upsert-only", values["policy"], "deleting records is opt-in")
	assert.Equal(t, "aiplatform-dev", values["txtOwnerId"], "the configured cluster name owns the records")
	assert.Equal(t, []any{"ai.example.com"}, values["domainFilters"])
	assert.Equal(t, []any{"--zone-id-filter=" + wlZone}, values["extraArgs"])
	assert.Equal(t, "aws", path(values, "provider", "name"))
	policy, trust := irsaPolicy(t, rec, "external-dns")
	assert.Equal(t, "system:serviceaccount:kube-system:external-dns", trustedSubject(trust))
	sts := statementsBySid(t, policy)
	assert.Equal(t, []any{"arn:aws:route53:::hostedzone/" + wlZone}, sts["ChangeRecordsInZones"]["Resource"])

	synced := chartInputs(t, runProgram(t, wlFullConfig("aiplatform:externalDnsPolicy", "sync")), "external-dns")
	assert.Equal(t, "sync", path(synced, "values", "policy"))
}

func TestArgoCDDefaultsArePrivate(t *testing.T) {
	rec := runProgram(t, baseConfig())
	ns := plain(find(t, rec, namespaceType, "argocd").Inputs)
	assert.Equal(t, "argocd", path(ns, "metadata", "name"))
	values := chartInputs(t, rec, "argocd")["values"].(map[string]any)
	assert.Nil(t, path(values, "server", "ingress"), "no ingress unless exposure is opted into")
	assert.Equal(t, "ClusterIP", path(values, "server", "service", "type"))
	assert.Equal(t, false, path(values, "configs", "params", "server.insecure"))
	assert.Equal(t, "sync", path(values, "configs", "params", "applicationsetcontroller.policy"),
		"the chart default up to 8.x, explicit since 9.0.0 dropped it")
	assert.Equal(t, false, path(values, "dex", "enabled"))
	assert.Equal(t, true, path(values, "notifications", "enabled"))
	assert.Equal(t, true, path(values, "global", "networkPolicy", "create"))
	assert.Empty(t, path(values, "configs", "secret"), "without a configured password Argo CD generates its own")
	assert.Empty(t, rec.ByType("kubernetes:argoproj.io/v1alpha1:Application"))
}

func TestArgoCD(t *testing.T) {
	rec := runProgram(t, wlFullConfig())
	chart := find(t, rec, chartType, "argocd")
	values := plain(chart.Inputs)["values"].(map[string]any)

	// Admin password: a bcrypt hash of the secret, itself secret, stable across runs.
	require.True(t, isSecretAt(chart.Inputs, "values", "configs", "secret", "argocdServerAdminPassword"), "the hash must be a secret")
	hash := path(values, "configs", "secret", "argocdServerAdminPassword").(string)
	assert.NoError(t, bcrypt.CompareHashAndPassword([]byte(hash), []byte("correct-horse-battery")))
	assert.NotContains(t, string(mustJSON(t, values)), "correct-horse-battery")
	assert.Equal(t, "2025-01-01T00:00:00Z", path(values, "configs", "secret", "argocdServerAdminPasswordMtime"),
		"a fixed mtime; the chart would otherwise stamp now() on every run")
	again := plain(find(t, runProgram(t, wlFullConfig()), chartType, "argocd").Inputs)
	assert.Equal(t, hash, path(again, "values", "configs", "secret", "argocdServerAdminPassword"), "no diff on the next pulumi up")

	// Exposure: internal ALB with TLS, server plain HTTP behind it.
	ingress := path(values, "server", "ingress").(map[string]any)
	assert.Equal(t, true, ingress["enabled"])
	assert.Equal(t, "alb", ingress["ingressClassName"])
	assert.Equal(t, "argocd.ai.example.com", ingress["hostname"])
	annotations := ingress["annotations"].(map[string]any)
	assert.Equal(t, "internal", annotations["alb.ingress.kubernetes.io/scheme"])
	assert.Equal(t, wlCert, annotations["alb.ingress.kubernetes.io/certificate-arn"])
	assert.Equal(t, `[{"HTTPS":443}]`, annotations["alb.ingress.kubernetes.io/listen-ports"])
	assert.Equal(t, true, path(values, "configs", "params", "server.insecure"))
	assert.Equal(t, "https://argocd.ai.example.com", path(values, "configs", "cm", "url"))

	// Notifications: three triggers to GitHub commit statuses, token secret.
	n := values["notifications"].(map[string]any)
	triggers := n["triggers"].(map[string]any)
	for _, trig := range []string{"on-sync-succeeded", "on-sync-failed", "on-health-degraded"} {
		assert.Contains(t, triggers, "trigger."+trig)
	}
	assert.Contains(t, n["notifiers"], "service.webhook.github")
	assert.Equal(t, []any{map[string]any{"recipients": []any{"github"}, "triggers": []any{"on-sync-succeeded", "on-sync-failed", "on-health-degraded"}}}, n["subscriptions"])
	assert.True(t, isSecretAt(chart.Inputs, "values", "notifications", "secret", "items", "notifications-token"))

	// The apps Application (app of apps) waits for the chart and its CRDs.
	app := find(t, rec, "kubernetes:argoproj.io/v1alpha1:Application", "argocd-apps")
	assert.True(t, dependsOn(app, chart.URN))
	spec := plain(app.Inputs)["spec"].(map[string]any)
	assert.Equal(t, "https://github.com/acme/platform-apps.git", path(spec, "source", "repoURL"))
	assert.Equal(t, "clusters/dev", path(spec, "source", "path"))
	assert.Equal(t, "HEAD", path(spec, "source", "targetRevision"))
	assert.Equal(t, "argocd", path(spec, "destination", "namespace"))
	assert.Equal(t, map[string]any{"prune": true, "selfHeal": true}, path(spec, "syncPolicy", "automated"))
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// tritonContainer returns the Triton Deployment's pod spec and first container.
func tritonPod(t *testing.T, rec *mocks.Recorder) (pod, container map[string]any) {
	t.Helper()
	d := plain(find(t, rec, deploymentType, "triton").Inputs)
	pod = path(d, "spec", "template", "spec").(map[string]any)
	return pod, path(pod, "containers", 0).(map[string]any)
}

func TestTritonDeployment(t *testing.T) {
	rec := runProgram(t, baseConfig())
	d := plain(find(t, rec, deploymentType, "triton").Inputs)
	assert.Equal(t, "triton", path(d, "metadata", "namespace"))
	assert.Nil(t, path(d, "spec", "replicas"), "the HPA owns the replica count")
	pod, c := tritonPod(t, rec)

	assert.Equal(t, inference.DefaultTritonImage, c["image"])
	assert.NotContains(t, c["image"], ":latest")
	assert.Equal(t, []any{"tritonserver"}, c["command"])
	args := c["args"].([]any)
	assert.Contains(t, args, "--model-repository=s3://models-0a1b2c/models")
	assert.Contains(t, args, "--model-control-mode=none")
	var ports []any
	for _, p := range c["ports"].([]any) {
		ports = append(ports, p.(map[string]any)["containerPort"])
	}
	assert.Equal(t, []any{8000.0, 8001.0, 8002.0}, ports)
	assert.Equal(t, "1", path(c, "resources", "limits", "nvidia.com/gpu"))
	assert.Equal(t, "1", path(c, "resources", "requests", "nvidia.com/gpu"))
	assert.NotEmpty(t, path(c, "resources", "limits", "memory"))
	assert.NotEmpty(t, path(c, "resources", "requests", "cpu"))

	assert.Equal(t, map[string]any{"aiplatform.io/node-kind": "gpu"}, pod["nodeSelector"])
	assert.Equal(t, []any{map[string]any{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}}, pod["tolerations"])
	assert.Equal(t, "triton", pod["serviceAccountName"])

	assert.Equal(t, "/v2/health/live", path(c, "livenessProbe", "httpGet", "path"))
	assert.Equal(t, "/v2/health/ready", path(c, "readinessProbe", "httpGet", "path"))
	assert.Equal(t, "/v2/health/live", path(c, "startupProbe", "httpGet", "path"))
	assert.GreaterOrEqual(t, path(c, "startupProbe", "failureThreshold").(float64)*path(c, "startupProbe", "periodSeconds").(float64), 600.0,
		"model loading gets at least 10 minutes")

	assert.Equal(t, true, path(pod, "securityContext", "runAsNonRoot"))
	assert.Equal(t, false, path(c, "securityContext", "allowPrivilegeEscalation"))
	assert.Equal(t, []any{"ALL"}, path(c, "securityContext", "capabilities", "drop"))
	assert.Equal(t, "RuntimeDefault", path(pod, "securityContext", "seccompProfile", "type"))

	volumes := map[string]any{}
	for _, v := range pod["volumes"].([]any) {
		volumes[v.(map[string]any)["name"].(string)] = v
	}
	assert.Equal(t, "Memory", path(volumes["dshm"], "emptyDir", "medium"))
	assert.Contains(t, c["volumeMounts"], map[string]any{"name": "dshm", "mountPath": "/dev/shm"})

	spread := pod["topologySpreadConstraints"].([]any)
	assert.Equal(t, "topology.kubernetes.io/zone", path(spread, 0, "topologyKey"))
	assert.Nil(t, path(d, "spec", "template", "metadata", "annotations"), "scraped through a PodMonitor, not prometheus.io annotations")
}

func TestTritonModelControlModes(t *testing.T) {
	rec := runProgram(t, with(baseConfig(), "aiplatform:triton", `{"modelControlMode":"explicit","models":["resnet50","bert"],"modelPrefix":"teams/vision"}`))
	_, c := tritonPod(t, rec)
	args := c["args"].([]any)
	assert.Contains(t, args, "--model-control-mode=explicit")
	assert.Contains(t, args, "--load-model=resnet50")
	assert.Contains(t, args, "--load-model=bert")
	assert.Contains(t, args, "--model-repository=s3://models-0a1b2c/teams/vision")

	_, c = tritonPod(t, runProgram(t, with(baseConfig(), "aiplatform:triton", `{"modelControlMode":"poll","repositoryPollSeconds":30}`)))
	assert.Contains(t, c["args"], "--repository-poll-secs=30")
}

func TestTritonIAMIsReadOnlyOnTheModelPrefix(t *testing.T) {
	rec := runProgram(t, baseConfig())
	policy, trust := irsaPolicy(t, rec, "triton")
	assert.Equal(t, "system:serviceaccount:triton:triton", trustedSubject(trust))
	sts := statementsBySid(t, policy)
	require.Len(t, sts, 3)
	assert.Equal(t, []any{"s3:GetObject"}, sts["ReadModels"]["Action"])
	assert.Equal(t, []any{"arn:aws:s3:::models-0a1b2c/models/*"}, sts["ReadModels"]["Resource"])
	assert.Equal(t, []any{"s3:ListBucket"}, sts["ListModelBucket"]["Action"])
	assert.Equal(t, []any{"arn:aws:s3:::models-0a1b2c"}, sts["ListModelBucket"]["Resource"])
	assert.Nil(t, sts["ListModelBucket"]["Condition"], "HeadBucket is authorised as s3:ListBucket without s3:prefix (inference.ModelReadPolicy)")
	assert.Equal(t, []any{"kms:Decrypt"}, sts["DecryptModels"]["Action"])
	assert.Equal(t, []any{"arn:aws:kms:us-west-2:123456789012:key/key-models"}, sts["DecryptModels"]["Resource"])
	sa := plain(find(t, rec, "kubernetes:core/v1:ServiceAccount", "triton").Inputs)
	assert.Equal(t, "arn:aws:iam::123456789012:role/triton", path(sa, "metadata", "annotations", "eks.amazonaws.com/role-arn"))
}

func TestTritonServiceAutoscalingAndDisruption(t *testing.T) {
	rec := runProgram(t, wlFullConfig("aiplatform:triton", `{"minReplicas":2,"maxReplicas":4,"targetCpuUtilization":80,"scaleDownStabilizationSeconds":600}`))
	svc := plain(find(t, rec, k8sServiceType, "triton").Inputs)
	assert.Equal(t, "LoadBalancer", path(svc, "spec", "type"))
	assert.Equal(t, "service.k8s.aws/nlb", path(svc, "spec", "loadBalancerClass"))
	a := path(svc, "metadata", "annotations").(map[string]any)
	const p = "service.beta.kubernetes.io/aws-load-balancer-"
	assert.Equal(t, "external", a[p+"type"])
	assert.Equal(t, "ip", a[p+"nlb-target-type"])
	assert.Equal(t, "internal", a[p+"scheme"], "internal unless public is opted into")
	assert.Equal(t, "/v2/health/ready", a[p+"healthcheck-path"])
	assert.Equal(t, wlCert, a[p+"ssl-cert"])
	assert.Equal(t, "triton.ai.example.com", a["external-dns.alpha.kubernetes.io/hostname"])
	var ports []any
	for _, port := range path(svc, "spec", "ports").([]any) {
		ports = append(ports, port.(map[string]any)["port"])
	}
	assert.Equal(t, []any{8000.0, 8001.0}, ports, "metrics stay off the load balancer")

	hpa := plain(find(t, rec, hpaType, "triton").Inputs)
	assert.Equal(t, 2.0, path(hpa, "spec", "minReplicas"))
	assert.Equal(t, 4.0, path(hpa, "spec", "maxReplicas"))
	assert.Equal(t, "triton", path(hpa, "spec", "scaleTargetRef", "name"))
	assert.Equal(t, 80.0, path(hpaMetric(t, hpa, "Resource"), "resource", "target", "averageUtilization"))
	assert.Equal(t, 600.0, path(hpa, "spec", "behavior", "scaleDown", "stabilizationWindowSeconds"))

	pdb := plain(find(t, rec, pdbType, "triton").Inputs)
	assert.Equal(t, 1.0, path(pdb, "spec", "maxUnavailable"))
	assert.Equal(t, "triton", path(pdb, "spec", "selector", "matchLabels", "app.kubernetes.io/name"))
}

func TestTritonExposure(t *testing.T) {
	rec := runProgram(t, wlFullConfig("aiplatform:triton", `{"exposure":"public","allowedCidrs":["203.0.113.0/24"]}`))
	svc := plain(find(t, rec, k8sServiceType, "triton").Inputs)
	assert.Equal(t, "internet-facing", path(svc, "metadata", "annotations", "service.beta.kubernetes.io/aws-load-balancer-scheme"))
	assert.Equal(t, []any{"203.0.113.0/24"}, path(svc, "spec", "loadBalancerSourceRanges"), "only the named networks reach a public NLB")

	internal := plain(find(t, runProgram(t, baseConfig()), k8sServiceType, "triton").Inputs)
	assert.Equal(t, "internal", path(internal, "metadata", "annotations", "service.beta.kubernetes.io/aws-load-balancer-scheme"))
	assert.Nil(t, path(internal, "metadata", "annotations", "service.beta.kubernetes.io/aws-load-balancer-ssl-cert"), "no certificate, no TLS listener")
	assert.Nil(t, path(internal, "metadata", "annotations", "external-dns.alpha.kubernetes.io/hostname"), "no domain, no DNS name")

	cluster := plain(find(t, runProgram(t, with(baseConfig(), "aiplatform:triton", `{"exposure":"cluster"}`)), k8sServiceType, "triton").Inputs)
	assert.Equal(t, "ClusterIP", path(cluster, "spec", "type"))
	assert.Nil(t, path(cluster, "spec", "loadBalancerClass"))
	assert.Empty(t, path(cluster, "metadata", "annotations"))
}

func TestArgoCDPublicExposureIsAnExplicitOptIn(t *testing.T) {
	rec := runProgram(t, wlFullConfig("aiplatform:argocd", `{"exposure":"public","allowedCidrs":["198.51.100.0/24"]}`))
	values := chartInputs(t, rec, "argocd")["values"].(map[string]any)
	annotations := path(values, "server", "ingress", "annotations").(map[string]any)
	assert.Equal(t, "internet-facing", annotations["alb.ingress.kubernetes.io/scheme"])
	assert.Equal(t, "198.51.100.0/24", annotations["alb.ingress.kubernetes.io/inbound-cidrs"])
	assert.Equal(t, wlCert, annotations["alb.ingress.kubernetes.io/certificate-arn"])
}

func TestTritonEndpoint(t *testing.T) {
	endpoint := func(spec inference.TritonSpec) string {
		var got string
		_, err := mocks.Run(baseConfig(), func(ctx *pulumi.Context) error {
			tr, err := inference.NewTriton(ctx, "triton", tritonArgs(spec))
			if err != nil {
				return err
			}
			res, err := internals.UnsafeAwaitOutput(ctx.Context(), tr.Endpoint)
			got, _ = res.Value.(string)
			return err
		})
		require.NoError(t, err)
		return got
	}
	assert.Equal(t, "http://triton-0123.elb.us-west-2.amazonaws.com:8000", endpoint(inference.TritonSpec{}), "no DNS name: the NLB's")
	assert.Equal(t, "https://triton.ai.example.com:8000", endpoint(inference.TritonSpec{Host: "triton.ai.example.com", CertificateARN: wlCert}))
	assert.Equal(t, "http://triton.triton.svc.cluster.local:8000", endpoint(inference.TritonSpec{Exposure: workloads.ClusterOnly}))
}

func TestTritonNeedsGPUNodes(t *testing.T) {
	noGPU := `[{"name":"system","kind":"system","instanceTypes":["m6i.large"],"minSize":2,"desiredSize":2,"maxSize":3}]`
	rec := runProgram(t, with(baseConfig(), "aiplatform:nodeGroups", noGPU))
	assert.Empty(t, rec.ByType("aiplatform:workloads:Triton"), "without GPU nodes Triton is off by default")
	_, err := mocks.Run(with(baseConfig(), "aiplatform:nodeGroups", noGPU, "aiplatform:triton", `{"enabled":true}`), stacks.Run)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aiplatform:triton.enabled: Triton needs GPU nodes")
}

func TestNamespacesAreDefaultDeny(t *testing.T) {
	rec := runProgram(t, with(baseConfig(), "aiplatform:appNamespaces", `["team-a","team-b"]`))
	policies := map[string]map[string]bool{}
	for _, r := range rec.ByType(netpolType) {
		in := plain(r.Inputs)
		ns := path(in, "metadata", "namespace").(string)
		if policies[ns] == nil {
			policies[ns] = map[string]bool{}
		}
		policies[ns][path(in, "metadata", "name").(string)] = true
		if path(in, "metadata", "name") == "default-deny" {
			assert.Equal(t, map[string]any{}, path(in, "spec", "podSelector"), "selects every pod")
			assert.Equal(t, []any{"Ingress", "Egress"}, path(in, "spec", "policyTypes"))
			assert.Nil(t, path(in, "spec", "ingress"))
			assert.Nil(t, path(in, "spec", "egress"))
		}
		if path(in, "metadata", "name") == "allow-dns" {
			assert.Equal(t, "kube-system", path(in, "spec", "egress", 0, "to", 0, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"))
		}
	}
	for _, ns := range []string{"team-a", "team-b", "triton"} {
		assert.True(t, policies[ns]["default-deny"], ns)
		assert.True(t, policies[ns]["allow-dns"], ns)
		resourceName := "ns-" + ns
		if ns == "triton" {
			resourceName = "triton"
		}
		n := plain(find(t, rec, namespaceType, resourceName).Inputs)
		assert.Equal(t, "restricted", path(n, "metadata", "labels", "pod-security.kubernetes.io/enforce"), ns)
	}
	assert.True(t, policies["triton"]["allow-vpc-ingress"])
	assert.True(t, policies["triton"]["allow-https-egress"])
	assert.Empty(t, rec.ByType("aiplatform:workloads:Service"), "no lds-service unless configured")
}

func TestLDSService(t *testing.T) {
	rec := runProgram(t, wlFullConfig())
	d := plain(find(t, rec, deploymentType, "lds-service").Inputs)
	pod := path(d, "spec", "template", "spec").(map[string]any)
	c := path(pod, "containers", 0).(map[string]any)
	assert.Equal(t, "docker.io/acme/lds-service:1.4.2", c["image"])
	assert.Equal(t, "lds", path(d, "metadata", "namespace"))

	cm := find(t, rec, "kubernetes:core/v1:ConfigMap", "lds-service")
	assert.Equal(t, map[string]any{"LOG_LEVEL": "info", "MODEL_URL": "http://triton.triton.svc:8000",
		"TRITON_URL": "http://triton.triton.svc.cluster.local:8000"}, plain(cm.Inputs)["data"], "TRITON_URL defaults to this stack's Triton (issue 24)")
	cmName := path(plain(cm.Outputs), "metadata", "name")
	assert.Equal(t, cmName, path(c, "envFrom", 0, "configMapRef", "name"), "settings reach the container as environment")

	secret := find(t, rec, "kubernetes:core/v1:Secret", "lds-service-registry")
	assert.Equal(t, "kubernetes.io/dockerconfigjson", plain(secret.Inputs)["type"])
	require.True(t, isSecretAt(secret.Inputs, "stringData", ".dockerconfigjson"), "the pull secret must be a Pulumi secret")
	var dockerConfig map[string]any
	require.NoError(t, json.Unmarshal([]byte(path(plain(secret.Inputs), "stringData", ".dockerconfigjson").(string)), &dockerConfig))
	assert.Equal(t, "acmebot", path(dockerConfig, "auths", "https://index.docker.io/v1/", "username"))
	assert.Equal(t, "dckr_pat_SECRET", path(dockerConfig, "auths", "https://index.docker.io/v1/", "password"))
	assert.Equal(t, path(plain(secret.Outputs), "metadata", "name"), path(pod, "imagePullSecrets", 0, "name"))
	for _, r := range rec.All() {
		if r.Type == "kubernetes:core/v1:Secret" {
			continue
		}
		for _, props := range []resource.PropertyMap{r.Inputs, r.Outputs} {
			raw := resource.NewProperty(props)
			if !raw.ContainsSecrets() {
				assert.NotContains(t, string(mustJSON(t, props.Mappable())), "dckr_pat_SECRET", "%s %s leaks the token", r.Type, r.Name)
			}
		}
	}

	assert.Equal(t, true, path(pod, "securityContext", "runAsNonRoot"))
	assert.Equal(t, false, path(c, "securityContext", "allowPrivilegeEscalation"))
	assert.Equal(t, "/readyz", path(c, "readinessProbe", "httpGet", "path"), "issue 24: readiness on /readyz (lds_test.go)")
	assert.NotNil(t, find(t, rec, hpaType, "lds-service"))
	assert.NotNil(t, find(t, rec, pdbType, "lds-service"))
	svc := plain(find(t, rec, k8sServiceType, "lds-service").Inputs)
	assert.Equal(t, "ClusterIP", path(svc, "spec", "type"))

	ing := plain(find(t, rec, ingressType, "lds-service").Inputs)
	assert.Equal(t, "alb", path(ing, "spec", "ingressClassName"))
	assert.Equal(t, "lds-service.ai.example.com", path(ing, "spec", "rules", 0, "host"))
	ann := path(ing, "metadata", "annotations").(map[string]any)
	assert.Equal(t, wlCert, ann["alb.ingress.kubernetes.io/certificate-arn"], "HTTPS with the configured certificate")
	assert.Equal(t, `[{"HTTPS":443}]`, ann["alb.ingress.kubernetes.io/listen-ports"])
	assert.Equal(t, "internal", ann["alb.ingress.kubernetes.io/scheme"])
	assert.Equal(t, "ip", ann["alb.ingress.kubernetes.io/target-type"])
	assert.Equal(t, "lds-service.ai.example.com", ann["external-dns.alpha.kubernetes.io/hostname"])

	plainHTTP := runProgram(t, with(baseConfig(), "aiplatform:ldsService", `{"image":"acme/lds-service:1.4.2"}`))
	ann = path(plain(find(t, plainHTTP, ingressType, "lds-service").Inputs), "metadata", "annotations").(map[string]any)
	assert.Equal(t, `[{"HTTP":80}]`, ann["alb.ingress.kubernetes.io/listen-ports"], "HTTP only when no certificate is configured")
	assert.NotContains(t, ann, "alb.ingress.kubernetes.io/certificate-arn")
	_, pull := plainHTTP.Find("kubernetes:core/v1:Secret", "lds-service-registry")
	assert.False(t, pull, "no Docker Hub user, no pull secret")
}

func TestWorkloadsConfigErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		kv   []string
		want []string
	}{
		{[]string{"aiplatform:hostedZoneIds", `["zone"]`}, []string{"aiplatform:domain: required with hostedZoneIds", `aiplatform:hostedZoneIds[0]: "zone" is not a Route 53 hosted zone id`}},
		{[]string{"aiplatform:externalDnsPolicy", "delete-all"}, []string{`aiplatform:externalDnsPolicy: "delete-all" is not one of upsert-only, sync`}},
		{[]string{"aiplatform:triton", `{"maxReplicas":2,"minReplicas":4}`}, []string{"aiplatform:triton.maxReplicas: must be >= minReplicas (4), got 2"}},
		{[]string{"aiplatform:triton", `{"maxReplica":3}`}, []string{"aiplatform:triton: cannot parse", "maxReplica"}},
		{[]string{"aiplatform:dockerHubUsername", "acmebot"}, []string{"aiplatform:dockerHubToken: required with dockerHubUsername", "pulumi config set --secret"}},
		{[]string{"aiplatform:argocd", `{"exposure":"public"}`}, []string{"aiplatform:argocd.certificateArn", "aiplatform:argocd.allowedCidrs", "aiplatform:argocd.host"}},
		{[]string{"aiplatform:argocd", `{"notifications":{"kind":"githubCommitStatus"}}`}, []string{"aiplatform:argocdNotificationsToken: GitHub commit statuses need a token"}},
		{[]string{"aiplatform:appNamespaces", `["kube-system","Apps"]`}, []string{`aiplatform:appNamespaces[0]: "kube-system" is reserved`, `aiplatform:appNamespaces[1]: "Apps" is not a namespace name`}},
		{[]string{"aiplatform:appNamespaces", `["triton"]`}, []string{`aiplatform:triton.namespace: namespace "triton" is already used by aiplatform:appNamespaces[0]`}},
		{[]string{"aiplatform:chartVersions", `{"argoCd":"~8"}`}, []string{`aiplatform:chartVersions.argoCd: "~8" must be an exact chart version`}},
		{[]string{"aiplatform:chartVersions", `{"argoCd":"9.0.0","metricsServer":"3.12.1"}`}, []string{
			`aiplatform:chartVersions.argoCd: "9.0.0" is not supported; supported: 8.3.0, 10.1.1`,
			`aiplatform:chartVersions.metricsServer: "3.12.1" is not supported; supported: 3.12.2, 3.13.1`}},
		{[]string{"aiplatform:ldsService", `{"image":"acme/lds:latest"}`}, []string{"aiplatform:ldsService.image:", "pinned"}},
		{[]string{"aiplatform:domain", "ai.example.com", "aiplatform:hostedZoneIds", `["` + wlZone + `"]`, "aiplatform:triton", `{"host":"triton.other.org"}`},
			[]string{`aiplatform:triton.host: "triton.other.org" is outside aiplatform:domain`}},
		{[]string{"aiplatform:certificateArn", "arn:aws:acm:us-west-2:1:certificate/x"}, []string{"aiplatform:certificateArn:"}},
		{[]string{"aiplatform:chartRepository", "http://charts.example.com"}, []string{`aiplatform:chartRepository: "http://charts.example.com" is not allowed (charts are fetched over TLS only)`}},
		{[]string{"aiplatform:chartRepository", "/no/such/chart/mirror"}, []string{`aiplatform:chartRepository: directory "/no/such/chart/mirror" does not exist`}},
		{[]string{"aiplatform:triton", `{"metricsNamespace":"Monitoring","modelCache":"lots"}`},
			[]string{`aiplatform:triton.metricsNamespace: "Monitoring" is not a namespace name`, `aiplatform:triton.modelCache: "lots" is not a size`}},
	}
	for _, c := range cases {
		t.Run(c.kv[0], func(t *testing.T) {
			rec, err := mocks.Run(with(baseConfig(), c.kv...), stacks.Run)
			require.Error(t, err)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Empty(t, rec.All(), "bad config registers nothing")
		})
	}
}

// redacted renders properties as indented JSON with every secret replaced by "[secret]".
func redacted(t *testing.T, m resource.PropertyMap) string {
	t.Helper()
	clean := m.MapRepl(nil, func(v resource.PropertyValue) (any, bool) {
		if v.IsSecret() {
			return "[secret]", true
		}
		return nil, false
	})
	b, err := json.MarshalIndent(clean, "", "  ")
	require.NoError(t, err)
	return string(b) + "\n"
}

// The rendered values of every chart, for the full config, are reviewed as
// golden files: a change of values shows up as a diff in review.
func TestHelmValuesGolden(t *testing.T) {
	rec := runProgram(t, wlFullConfig())
	for _, chart := range rec.ByType(chartType) {
		values := chart.Inputs["values"]
		require.True(t, values.IsObject() || values.IsSecret(), chart.Name)
		got := redacted(t, resource.PropertyMap{"values": values})
		golden.Assert(t, filepath.Join("..", "workloads", "testdata", "values", chart.Name+".json"), got)
		assert.NotContains(t, got, "SECRET", "secrets must not reach the golden files in clear")
		assert.NotContains(t, got, "correct-horse-battery")
	}
}

// offInFullConfig are the add-on charts (component names) wlFullConfig
// does not install: KEDA comes only with triton.scaleToZero
// (triton_scale_to_zero_test.go renders it with the dev stack).
var offInFullConfig = []string{"keda"}

// chartVersions keeps each chart's previous pin usable for one release:
// the whole program renders it, and the values leave out the keys that
// only the new version has, and only those (the goldens above are the new
// pins' values).
func TestPreviousChartVersionsStillRender(t *testing.T) {
	previous := map[string]string{}
	keys := map[string]string{}
	for _, row := range workloads.AddonCharts {
		// A chart without a previous pin (the metrics charts) stays at its pin.
		previous[row.Chart.Name] = row.Chart.Version
		if row.Previous != "" {
			previous[row.Chart.Name] = row.Previous
			keys[row.Key] = row.Previous
		}
	}
	b, err := json.Marshal(keys)
	require.NoError(t, err)
	old := runProgram(t, wlFullConfig("aiplatform:chartVersions", string(b)))
	current := runProgram(t, wlFullConfig())
	// Every chart but those wlFullConfig leaves off.
	require.Len(t, old.ByType(chartType), len(workloads.AddonCharts)-len(offInFullConfig))
	for _, name := range offInFullConfig {
		_, installed := old.Find(chartType, name)
		require.False(t, installed, name)
	}
	for _, r := range old.ByType(chartType) {
		in := plain(r.Inputs)
		assert.Equal(t, previous[in["chart"].(string)], in["version"], r.Name)
		oldValues := in["values"].(map[string]any)
		newValues := chartInputs(t, current, r.Name)["values"].(map[string]any)
		switch r.Name {
		case "nvidia-device-plugin":
			assert.Equal(t, map[string]any{"enabled": false}, oldValues["nfd"], "node-feature-discovery 0.15.3 has no postDeleteCleanup")
			delete(newValues["nfd"].(map[string]any), "postDeleteCleanup")
			assert.Equal(t, newValues, oldValues, "%s: the same values otherwise", r.Name)
		case "metrics-server":
			assert.NotContains(t, oldValues, "tls", "3.12.2 has no tls block")
			delete(newValues, "tls")
			assert.Equal(t, newValues, oldValues, "%s: the same values otherwise", r.Name)
		default:
			// Secrets (the kept webhook bundle) are drawn per run: compare redacted.
			newChart := find(t, current, chartType, r.Name)
			assert.Equal(t, redacted(t, resource.PropertyMap{"values": newChart.Inputs["values"]}),
				redacted(t, resource.PropertyMap{"values": r.Inputs["values"]}), "%s: the same values for both versions", r.Name)
		}
	}
}

// chartRepository replaces every add-on's repository with one mirror that
// serves the same names and versions.
func TestChartRepositoryMirrorReachesEveryChart(t *testing.T) {
	charts := map[string]workloads.Chart{
		"nvidia-device-plugin":         workloads.DevicePluginChart,
		"metrics-server":               workloads.MetricsServerChart,
		"cluster-autoscaler":           workloads.ClusterAutoscalerChart,
		"aws-load-balancer-controller": workloads.LoadBalancerControllerChart,
		"external-dns":                 workloads.ExternalDNSChart,
		"argocd":                       previousArgoCD,
		"metrics":                      workloads.KubePrometheusStackChart,
		"prometheus-adapter":           workloads.PrometheusAdapterChart,
		"dcgm-exporter":                workloads.DCGMExporterChart,
	}
	dir := t.TempDir()
	for _, c := range charts {
		require.NoError(t, os.WriteFile(filepath.Join(dir, c.Name+"-"+c.Version+".tgz"), []byte("packaged chart"), 0o644))
	}
	const ecr = "oci://123456789012.dkr.ecr.us-west-2.amazonaws.com/charts"
	cases := []struct {
		mirror string
		// want returns the chart input, the version input and repositoryOpts.repo for a chart.
		want func(c workloads.Chart) (chart, version, repo any)
	}{
		{ecr, func(c workloads.Chart) (any, any, any) { return ecr + "/" + c.Name, c.Version, nil }},
		{"https://charts.example.com/mirror", func(c workloads.Chart) (any, any, any) {
			return c.Name, c.Version, "https://charts.example.com/mirror"
		}},
		{dir, func(c workloads.Chart) (any, any, any) {
			return filepath.Join(dir, c.Name+"-"+c.Version+".tgz"), nil, nil
		}},
		{"file://" + dir, func(c workloads.Chart) (any, any, any) {
			return filepath.Join(dir, c.Name+"-"+c.Version+".tgz"), nil, nil
		}},
	}
	for _, c := range cases {
		t.Run(c.mirror, func(t *testing.T) {
			rec := runProgram(t, wlFullConfig("aiplatform:chartRepository", c.mirror, "aiplatform:chartVersions", `{"argoCd":"`+previousArgoCD.Version+`"}`))
			require.Len(t, rec.ByType(chartType), len(charts))
			for name, chart := range charts {
				in := chartInputs(t, rec, name)
				wantChart, wantVersion, wantRepo := c.want(chart)
				assert.Equal(t, wantChart, in["chart"], name)
				assert.Equal(t, wantVersion, in["version"], name)
				assert.Equal(t, wantRepo, path(in, "repositoryOpts", "repo"), name)
				assert.NotContains(t, fmt.Sprint(in), "github.io", "%s: nothing is fetched from the official repositories", name)
			}
		})
	}
	// A mirror that lacks a pinned chart fails the run, naming the file.
	require.NoError(t, os.Remove(filepath.Join(dir, "metrics-server-"+workloads.MetricsServerChart.Version+".tgz")))
	_, err := mocks.Run(wlFullConfig("aiplatform:chartRepository", dir, "aiplatform:chartVersions", `{"argoCd":"`+previousArgoCD.Version+`"}`), stacks.Run)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "metrics-server-"+workloads.MetricsServerChart.Version+".tgz not found in the chart directory")
}

// secretData decodes the data of a recorded Kubernetes Secret.
func secretData(t *testing.T, r mocks.Resource) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range path(plain(r.Outputs), "data").(map[string]any) {
		b, err := base64.StdEncoding.DecodeString(v.(string))
		require.NoError(t, err, k)
		out[k] = string(b)
	}
	return out
}

// argo-cd (every supported version alike) creates Secret argocd-redis only in its
// redis-secret-init pre-install hook Job (templates/redis-secret-init/job.yaml),
// which the Helm v4 Chart never runs, while the redis Deployment requires it
// (templates/redis/deployment.yaml). The program creates it before the chart.
func TestArgoCDRedisSecretExistsBeforeTheChart(t *testing.T) {
	rec := runProgram(t, baseConfig())
	chart := find(t, rec, chartType, "argocd")
	values := plain(chart.Inputs)["values"].(map[string]any)
	assert.Equal(t, false, path(values, "redisSecretInit", "enabled"), "the hook Job would never run")

	secret := find(t, rec, "kubernetes:core/v1:Secret", "argocd-redis")
	in := plain(secret.Inputs)
	assert.Equal(t, "argocd-redis", path(in, "metadata", "name"), "the name the chart's redis Deployment reads")
	assert.Equal(t, "argocd", path(in, "metadata", "namespace"))
	assert.Equal(t, "argocd", path(in, "metadata", "labels", "app.kubernetes.io/part-of"))
	assert.Equal(t, "Opaque", in["type"])
	assert.True(t, dependsOn(chart, secret.URN), "the chart waits for the Secret")
	assert.Equal(t, find(t, rec, "aiplatform:workloads:ArgoCD", "argocd").URN, secret.Parent)

	require.True(t, isSecretAt(secret.Inputs, "data"), "the password is a Pulumi secret")
	require.True(t, isSecretAt(secret.Outputs, "data"))
	password := secretData(t, secret)["auth"]
	assert.Len(t, password, 32)
	assert.ElementsMatch(t, []string{"data", "stringData"}, secret.IgnoreChanges, "generated once, then kept in state")
	assert.NotContains(t, string(mustJSON(t, values)), password)

	other := secretData(t, find(t, runProgram(t, baseConfig()), "kubernetes:core/v1:Secret", "argocd-redis"))["auth"]
	assert.NotEqual(t, password, other, "drawn from crypto/rand: a new stack gets its own password")
}

// keptStateMock is the shared recording mock plus what the engine does with
// ignoreChanges on a resource that exists in the state: it keeps the old
// value of each ignored input (processIgnoreChanges in pulumi/pkg
// resource/deploy/step_generator.go), so the outputs stay those of the run
// that created it. prior holds the inputs the previous run recorded.
type keptStateMock struct {
	*mocks.Recorder
	prior map[string]resource.PropertyMap
}

func (m keptStateMock) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	if old, ok := m.prior[args.TypeToken+"::"+args.Name]; ok && args.RegisterRPC != nil {
		inputs := args.Inputs.Copy()
		for _, p := range args.RegisterRPC.GetIgnoreChanges() {
			if v, ok := old[resource.PropertyKey(p)]; ok {
				inputs[resource.PropertyKey(p)] = v
			}
		}
		args.Inputs = inputs
	}
	return m.Recorder.NewResource(args)
}

// state is what a run leaves in the stack for the next one: inputs per resource.
func state(rec *mocks.Recorder) map[string]resource.PropertyMap {
	out := map[string]resource.PropertyMap{}
	for _, r := range rec.All() {
		out[r.Type+"::"+r.Name] = r.Inputs
	}
	return out
}

// runLoadBalancerController runs the controller component alone on top of prior state.
func runLoadBalancerController(t *testing.T, prior map[string]resource.PropertyMap) *mocks.Recorder {
	t.Helper()
	rec := &mocks.Recorder{}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := addons.NewLoadBalancerController(ctx, "aws-load-balancer-controller", &addons.LoadBalancerControllerArgs{
			Cluster: workloads.ClusterInfo{
				Name: pulumi.String(clusterName), OIDCProviderArn: pulumi.String("arn:aws:iam::123456789012:oidc-provider/x"),
				OIDCIssuer: pulumi.String(mocks.OIDCIssuer), VpcID: pulumi.String("vpc-0123"), Region: mocks.Region,
			},
		})
		return err
	}, pulumi.WithMocks(mocks.Project, mocks.Stack, keptStateMock{rec, prior}))
	require.NoError(t, err)
	return rec
}

func webhookTLS(t *testing.T, rec *mocks.Recorder) map[string]any {
	t.Helper()
	chart := find(t, rec, chartType, "aws-load-balancer-controller")
	for _, key := range []string{"caCert", "cert", "key"} {
		require.True(t, isSecretAt(chart.Inputs, "values", "webhookTLS", key), "webhookTLS.%s must be a secret", key)
	}
	return path(plain(chart.Inputs), "values", "webhookTLS").(map[string]any)
}

// The AWS Load Balancer Controller chart makes a new webhook CA and
// certificate with genCA on every render unless webhookTLS is set or a
// `lookup` finds its Secret with keepTLSSecret (templates/_helpers.tpl
// webhookCerts; keepTLSSecret defaults to false from 3.x). The program
// generates them once, keeps them in a Secret and passes them as values.
func TestLoadBalancerControllerWebhookTLSIsKeptInState(t *testing.T) {
	first := runLoadBalancerController(t, nil)
	tls := webhookTLS(t, first)
	assert.Equal(t, true, path(plain(find(t, first, chartType, "aws-load-balancer-controller").Inputs), "values", "keepTLSSecret"))

	kept := find(t, first, "kubernetes:core/v1:Secret", "aws-load-balancer-controller-webhook-tls")
	assert.Equal(t, addons.LoadBalancerControllerTLSSecret, path(plain(kept.Inputs), "metadata", "name"))
	assert.Equal(t, "kube-system", path(plain(kept.Inputs), "metadata", "namespace"))
	assert.NotEqual(t, "aws-load-balancer-tls", addons.LoadBalancerControllerTLSSecret, "the chart renders that one itself")
	assert.ElementsMatch(t, []string{"data", "stringData"}, kept.IgnoreChanges)
	require.True(t, isSecretAt(kept.Inputs, "data"))
	data := secretData(t, kept)
	assert.Equal(t, map[string]any{"caCert": data["ca.crt"], "cert": data["tls.crt"], "key": data["tls.key"]}, tls,
		"the values are read back from the kept Secret")

	// The certificate serves the chart's webhook Service.
	block, _ := pem.Decode([]byte(tls["cert"].(string)))
	require.NotNil(t, block)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM([]byte(tls["caCert"].(string))))
	_, err = cert.Verify(x509.VerifyOptions{DNSName: "aws-load-balancer-webhook-service.kube-system.svc", Roots: roots})
	assert.NoError(t, err)

	// The next run sees the same state: same values, so the chart renders
	// the same webhooks and Secret and a preview shows no change.
	assert.Equal(t, tls, webhookTLS(t, runLoadBalancerController(t, state(first))))
	// Only the state keeps them: a run without it draws a new CA.
	assert.NotEqual(t, tls["caCert"], webhookTLS(t, runLoadBalancerController(t, nil))["caCert"])
}

func TestLoadBalancerControllerWebhookTLSInTheProgram(t *testing.T) {
	rec := runProgram(t, baseConfig())
	chart := find(t, rec, chartType, "aws-load-balancer-controller")
	kept := find(t, rec, "kubernetes:core/v1:Secret", "aws-load-balancer-controller-webhook-tls")
	assert.Equal(t, find(t, rec, "aiplatform:workloads:LoadBalancerController", "aws-load-balancer-controller").URN, kept.Parent)
	assert.Equal(t, secretData(t, kept)["ca.crt"], path(plain(chart.Inputs), "values", "webhookTLS", "caCert"))
	assert.True(t, dependsOn(chart, kept.URN), "the chart renders after the Secret exists")
}

// Deleting the apps Application must delete what Argo CD synced (the
// finalizer) while Argo CD and the Load Balancer Controller still run, or
// the load balancers of Argo CD's apps outlive the stack. The engine deletes
// a resource only after everything depending on it, and a parent after its
// children (DependenciesOf in pulumi/pkg resource/graph/dependency_graph.go,
// which also expands a component dependency to its children).
func TestArgoCDApplicationIsDeletedFirstWithItsResources(t *testing.T) {
	rec := runProgram(t, wlFullConfig())
	app := find(t, rec, "kubernetes:argoproj.io/v1alpha1:Application", "argocd-apps")
	assert.Equal(t, []any{"resources-finalizer.argocd.argoproj.io"}, path(plain(app.Inputs), "metadata", "finalizers"))
	argo := find(t, rec, "aiplatform:workloads:ArgoCD", "argocd")
	assert.Equal(t, argo.URN, app.Parent, "the Application goes before its component")
	assert.True(t, dependsOn(app, find(t, rec, chartType, "argocd").URN), "...and before Argo CD's controller")
	assert.True(t, dependsOn(argo, find(t, rec, chartType, "aws-load-balancer-controller").URN),
		"the component goes before the Load Balancer Controller")
}

// At maxReplicas, or with the GPU group full, a surge pod would wait for a
// GPU node the group may not be allowed to add.
func TestTritonRolloutNeedsNoSpareGPU(t *testing.T) {
	d := plain(find(t, runProgram(t, baseConfig()), deploymentType, "triton").Inputs)
	assert.Equal(t, map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxSurge": 0.0, "maxUnavailable": 1.0}},
		path(d, "spec", "strategy"))
}

// The root filesystem is read-only: the downloaded repository and HOME are
// on the model-cache emptyDir, and the pod requests that much node disk.
func TestTritonScratchSpace(t *testing.T) {
	for cache, limit := range map[string]string{"": "51Gi", "120Gi": "121Gi"} {
		cfg := baseConfig()
		if cache != "" {
			cfg = with(cfg, "aiplatform:triton", `{"modelCache":"`+cache+`"}`)
		}
		pod, c := tritonPod(t, runProgram(t, cfg))
		want := cache
		if want == "" {
			want = "50Gi"
		}
		assert.Contains(t, c["env"], map[string]any{"name": "HOME", "value": "/tmp"})
		assert.Contains(t, c["volumeMounts"], map[string]any{"name": "model-cache", "mountPath": "/tmp"})
		assert.Equal(t, true, path(c, "securityContext", "readOnlyRootFilesystem"))
		for _, v := range pod["volumes"].([]any) {
			if path(v, "name") == "model-cache" {
				assert.Equal(t, want, path(v, "emptyDir", "sizeLimit"))
			}
		}
		assert.Equal(t, want, path(c, "resources", "requests", "ephemeral-storage"))
		assert.Equal(t, limit, path(c, "resources", "limits", "ephemeral-storage"), "room for the logs on top of the cache")
	}
}

// policies returns the NetworkPolicies by namespace and name.
func policies(rec *mocks.Recorder) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range rec.ByType(netpolType) {
		in := plain(r.Inputs)
		out[path(in, "metadata", "namespace").(string)+"/"+path(in, "metadata", "name").(string)] = in
	}
	return out
}

func tcpPorts(ports ...float64) []any {
	var out []any
	for _, p := range ports {
		out = append(out, map[string]any{"protocol": "TCP", "port": p})
	}
	return out
}

// The lds-service's namespace allows egress only to DNS, itself and 443;
// it reaches Triton through its own narrow egress and Triton's ingress.
func TestLDSServiceReachesTritonOnlyOnItsPorts(t *testing.T) {
	rec := runProgram(t, wlFullConfig())
	pol := policies(rec)
	tritonPods := map[string]any{"app.kubernetes.io/name": "triton", "app.kubernetes.io/instance": "triton"}
	svc := plain(find(t, rec, k8sServiceType, "triton").Inputs)
	assert.Equal(t, tritonPods, path(svc, "spec", "selector"), "the egress names the Service's pods")

	egress := pol["lds/allow-peer-egress"]
	require.NotNil(t, egress, "have %v", keysOf(pol))
	assert.Equal(t, map[string]any{"app.kubernetes.io/name": "lds-service", "app.kubernetes.io/instance": "lds-service"}, path(egress, "spec", "podSelector", "matchLabels"))
	assert.Equal(t, []any{"Egress"}, path(egress, "spec", "policyTypes"))
	assert.Equal(t, []any{map[string]any{
		"to": []any{map[string]any{
			"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "triton"}},
			"podSelector":       map[string]any{"matchLabels": tritonPods},
		}},
		"ports": tcpPorts(8000, 8001),
	}}, path(egress, "spec", "egress"))

	clients := pol["triton/allow-client-ingress"]
	require.NotNil(t, clients)
	assert.Equal(t, tritonPods, path(clients, "spec", "podSelector", "matchLabels"))
	assert.Equal(t, []any{map[string]any{
		"from":  []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "lds"}}}},
		"ports": tcpPorts(8000, 8001),
	}}, path(clients, "spec", "ingress"))

	vpc := pol["triton/allow-vpc-ingress"]
	assert.Equal(t, "10.0.0.0/16", path(vpc, "spec", "ingress", 0, "from", 0, "ipBlock", "cidr"))
	assert.Equal(t, tcpPorts(8000, 8001), path(vpc, "spec", "ingress", 0, "ports"), "metrics are not open to the VPC")

	metrics := pol["triton/allow-metrics-scrape"]
	require.NotNil(t, metrics)
	assert.Equal(t, []any{map[string]any{
		"from":  []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "monitoring"}}}},
		"ports": tcpPorts(8002),
	}}, path(metrics, "spec", "ingress"))
	other := policies(runProgram(t, wlFullConfig("aiplatform:triton", `{"metricsNamespace":"prometheus"}`, "aiplatform:observability", `{"enabled":false}`)))["triton/allow-metrics-scrape"]
	assert.Equal(t, "prometheus", path(other, "spec", "ingress", 0, "from", 0, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"))

	alone := policies(runProgram(t, baseConfig()))
	assert.NotContains(t, alone, "triton/allow-client-ingress", "no lds-service, no client namespace")
	assert.Contains(t, alone, "triton/allow-metrics-scrape")
	noGPU := `[{"name":"system","kind":"system","instanceTypes":["m6i.large"],"minSize":2,"desiredSize":2,"maxSize":3}]`
	noTriton := policies(runProgram(t, wlFullConfig("aiplatform:nodeGroups", noGPU)))
	assert.NotContains(t, noTriton, "lds/allow-peer-egress", "no Triton, nothing to reach")
	assert.Contains(t, noTriton, "lds/allow-https-egress")
}

func keysOf(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Until the load balancer controller has given a Service or Ingress an
// address, its status is empty (or the await was skipped): the stack's URLs
// must then be empty strings, not a panic in an apply (the whole-program
// real tier ran into Index(0) on an empty status).
func TestURLsWithoutALoadBalancerAddress(t *testing.T) {
	cfg := with(baseConfig(), "aiplatform:ldsService", `{"image":"docker.io/acme/lds-service:1.4.2"}`,
		"aiplatform:triton", `{"exposure":"internal"}`)
	rec, err := mocks.RunOn(&mocks.Recorder{LoadBalancersPending: true}, cfg, stacks.Run)
	require.NoError(t, err)
	svc := find(t, rec, k8sServiceType, "triton")
	assert.NotContains(t, svc.Outputs, resource.PropertyKey("status"))
}
