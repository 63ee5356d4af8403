package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiplatform/infra/stacks"
	"github.com/aiplatform/infra/tests/golden"
	"github.com/aiplatform/infra/tests/mocks"
	"github.com/aiplatform/infra/workloads"
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

func TestAddonsArePinnedOfficialCharts(t *testing.T) {
	rec := runProgram(t, with(wlFullConfig(), "aiplatform:chartVersions", `{"argoCd":"8.1.3"}`))
	want := map[string]struct{ repo, chart, version, namespace string }{
		"nvidia-device-plugin":         {"https://nvidia.github.io/k8s-device-plugin", "nvidia-device-plugin", workloads.DevicePluginChart.Version, "kube-system"},
		"metrics-server":               {"https://kubernetes-sigs.github.io/metrics-server/", "metrics-server", workloads.MetricsServerChart.Version, "kube-system"},
		"cluster-autoscaler":           {"https://kubernetes.github.io/autoscaler", "cluster-autoscaler", workloads.ClusterAutoscalerChart.Version, "kube-system"},
		"aws-load-balancer-controller": {"https://aws.github.io/eks-charts", "aws-load-balancer-controller", workloads.LoadBalancerControllerChart.Version, "kube-system"},
		"external-dns":                 {"https://kubernetes-sigs.github.io/external-dns/", "external-dns", workloads.ExternalDNSChart.Version, "kube-system"},
		"argocd":                       {"https://argoproj.github.io/argo-helm", "argo-cd", "8.1.3", "argocd"},
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
	assert.Equal(t, "v1.33.3", path(values, "image", "tag"), "the autoscaler matches the cluster's minor version")
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
	golden, err := os.ReadFile("../workloads/testdata/lb-controller-policy.json")
	require.NoError(t, err)
	var want map[string]any
	require.NoError(t, json.Unmarshal(golden, &want))
	assert.Equal(t, want, policy, "the role carries the complete controller policy (workloads/testdata/lb-controller-policy.json)")
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

	assert.Equal(t, workloads.DefaultTritonImage, c["image"])
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
	annotations := path(d, "spec", "template", "metadata", "annotations").(map[string]any)
	assert.Equal(t, map[string]any{"prometheus.io/scrape": "true", "prometheus.io/port": "8002", "prometheus.io/path": "/metrics"}, annotations)
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
	assert.Equal(t, []any{"s3:ListBucket"}, sts["ListModelPrefix"]["Action"])
	assert.Equal(t, []any{"arn:aws:s3:::models-0a1b2c"}, sts["ListModelPrefix"]["Resource"])
	assert.Equal(t, []any{"models", "models/*"}, path(sts["ListModelPrefix"], "Condition", "StringLike", "s3:prefix"))
	assert.Equal(t, []any{"kms:Decrypt"}, sts["DecryptModels"]["Action"])
	assert.Equal(t, []any{"arn:aws:kms:us-west-2:123456789012:key/key-models"}, sts["DecryptModels"]["Resource"])
	sa := plain(find(t, rec, "kubernetes:core/v1:ServiceAccount", "triton").Inputs)
	assert.Equal(t, "arn:aws:iam::123456789012:role/triton", path(sa, "metadata", "annotations", "eks.amazonaws.com/role-arn"))
}

func TestTritonServiceAutoscalingAndDisruption(t *testing.T) {
	rec := runProgram(t, wlFullConfig("aiplatform:triton", `{"minReplicas":2,"maxReplicas":6,"targetGpuUtilization":70,"scaleDownStabilizationSeconds":600}`))
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
	assert.Equal(t, 6.0, path(hpa, "spec", "maxReplicas"))
	assert.Equal(t, "triton", path(hpa, "spec", "scaleTargetRef", "name"))
	assert.Equal(t, 70.0, path(hpa, "spec", "metrics", 0, "resource", "target", "averageUtilization"))
	assert.Equal(t, "nv_gpu_utilization", path(hpa, "spec", "metrics", 1, "pods", "metric", "name"))
	assert.Equal(t, "700m", path(hpa, "spec", "metrics", 1, "pods", "target", "averageValue"))
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
	endpoint := func(spec workloads.TritonSpec) string {
		var got string
		_, err := mocks.Run(baseConfig(), func(ctx *pulumi.Context) error {
			tr, err := workloads.NewTriton(ctx, "triton", &workloads.TritonArgs{
				Spec: spec,
				Cluster: workloads.ClusterInfo{
					Name: pulumi.String("c"), OIDCProviderArn: pulumi.String("arn:aws:iam::123456789012:oidc-provider/x"),
					OIDCIssuer: pulumi.String(mocks.OIDCIssuer), Region: mocks.Region,
				},
				ModelBucket: workloads.BucketRef{Name: pulumi.String("b"), Arn: pulumi.String("arn:aws:s3:::b"), KMSKeyArn: pulumi.String("arn:aws:kms:us-west-2:123456789012:key/k")},
				VPCCIDR:     "10.0.0.0/16",
			})
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
	assert.Equal(t, "http://triton-0123.elb.us-west-2.amazonaws.com:8000", endpoint(workloads.TritonSpec{}), "no DNS name: the NLB's")
	assert.Equal(t, "https://triton.ai.example.com:8000", endpoint(workloads.TritonSpec{Host: "triton.ai.example.com", CertificateARN: wlCert}))
	assert.Equal(t, "http://triton.triton.svc.cluster.local:8000", endpoint(workloads.TritonSpec{Exposure: workloads.ClusterOnly}))
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
	assert.Equal(t, map[string]any{"LOG_LEVEL": "info", "MODEL_URL": "http://triton.triton.svc:8000"}, plain(cm.Inputs)["data"])
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
	assert.Equal(t, "/healthz", path(c, "readinessProbe", "httpGet", "path"))
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
	assert.Empty(t, plainHTTP.ByType("kubernetes:core/v1:Secret"), "no Docker Hub user, no pull secret")
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
		{[]string{"aiplatform:ldsService", `{"image":"acme/lds:latest"}`}, []string{"aiplatform:ldsService.image:", "pinned"}},
		{[]string{"aiplatform:domain", "ai.example.com", "aiplatform:hostedZoneIds", `["` + wlZone + `"]`, "aiplatform:triton", `{"host":"triton.other.org"}`},
			[]string{`aiplatform:triton.host: "triton.other.org" is outside aiplatform:domain`}},
		{[]string{"aiplatform:certificateArn", "arn:aws:acm:us-west-2:1:certificate/x"}, []string{"aiplatform:certificateArn:"}},
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
