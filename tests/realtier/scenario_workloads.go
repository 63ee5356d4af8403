package realtier

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/inference"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The workloads scenario's fixed inputs; everything else is the components'
// defaults.
const (
	wlVPCCIDR     = "10.40.0.0/16"
	wlTritonNS    = "triton"
	wlServiceNS   = "lds"
	wlServiceName = "lds-service"
	wlServiceImg  = "docker.io/acme/lds-service:1.4.2"
	wlRegistryPw  = "dckr_pat_realtier"
)

// WorkloadsScenario deploys the typed AI workloads exactly as the platform
// composes them: Triton (namespace with default-deny policies, IRSA service
// account, GPU Deployment, NLB Service, HPA, PDB, NetworkPolicies) and the
// reusable Service as lds-service (namespace, settings ConfigMap, image-pull
// Secret, Deployment, Service, HPA, PDB, ALB Ingress, NetworkPolicies).
// The Helm-chart add-ons are the charts scenario's.
func WorkloadsScenario() Scenario {
	return Scenario{
		Name: "workloads",
		Program: func(kubeconfig string, changed bool, gate func()) pulumi.RunFunc {
			return gatedProgram(kubeconfig, gate, func(ctx *pulumi.Context, k8s *kubernetes.Provider) error {
				maxReplicas := 3
				if changed {
					maxReplicas = 4
				}
				return deployAIWorkloads(ctx, k8s, maxReplicas, nil, nil)
			})
		},
		Objects:       workloadsObjects,
		ChangedObject: Expect{Path: apps(wlTritonNS, "horizontalpodautoscalers", "triton", "autoscaling/v2"), Check: hasField(4, "spec", "maxReplicas")},
		Phases:        []Phase{PhaseLock},
	}
}

// The fixed stand-ins for what the infra layer would pass in.
var (
	rtCluster = workloads.ClusterInfo{
		Name:            pulumi.String(rtClusterName),
		OIDCProviderArn: pulumi.String("arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/REALTIER"),
		OIDCIssuer:      pulumi.String("https://oidc.eks.us-west-2.amazonaws.com/id/REALTIER"),
		VpcID:           pulumi.String(rtVpcID),
		Region:          "us-west-2",
		Tags:            map[string]string{"project": "realtier"},
	}
	rtModelBucket = inference.BucketRef{
		Name:      pulumi.String("realtier-models"),
		Arn:       pulumi.String("arn:aws:s3:::realtier-models"),
		KMSKeyArn: pulumi.String("arn:aws:kms:us-west-2:123456789012:key/00000000-0000-0000-0000-000000000000"),
	}
)

const (
	rtClusterName = "realtier"
	rtVpcID       = "vpc-0123456789abcdef0"
)

// deployAIWorkloads installs Triton and lds-service; tritonAfter and
// serviceAfter are what each waits for (in the platform: the Load Balancer
// Controller, and for Triton the device plugin too).
func deployAIWorkloads(ctx *pulumi.Context, k8s pulumi.ProviderResource, maxReplicas int, tritonAfter, serviceAfter []pulumi.Resource) error {
	triton, err := inference.NewTriton(ctx, "triton", &inference.TritonArgs{
		Spec: inference.TritonSpec{
			Namespace:   wlTritonNS,
			MaxReplicas: maxReplicas,
			Exposure:    workloads.Internal,
			Host:        "triton.realtier.example.com",
		},
		Cluster:     rtCluster,
		ModelBucket: rtModelBucket,
		VPCCIDR:     wlVPCCIDR,
	}, pulumi.Providers(k8s), pulumi.DependsOn(tritonAfter))
	if err != nil {
		return err
	}
	lds, err := inference.NewService(ctx, "lds", &inference.ServiceArgs{
		Spec: inference.ServiceSpec{
			Name:      wlServiceName,
			Namespace: wlServiceNS,
			Image:     wlServiceImg,
			Exposure:  workloads.Internal,
			Host:      "lds.realtier.example.com",
			Settings:  map[string]string{"LOG_LEVEL": "info"},
		},
		PullCredentials: &inference.RegistryCredentials{
			Username: "acme",
			Password: pulumi.ToSecret(pulumi.String(wlRegistryPw)).(pulumi.StringOutput),
		},
		VPCCIDR: wlVPCCIDR,
	}, pulumi.Providers(k8s), pulumi.DependsOn(serviceAfter))
	if err != nil {
		return err
	}
	ctx.Export("tritonEndpoint", triton.Endpoint)
	ctx.Export("tritonRoleArn", triton.RoleArn)
	ctx.Export("ldsURL", lds.URL)
	return nil
}

func apps(ns, resource, name, groupVersion string) string {
	if groupVersion == "v1" {
		return "/api/v1/namespaces/" + ns + "/" + resource + "/" + name
	}
	return "/apis/" + groupVersion + "/namespaces/" + ns + "/" + resource + "/" + name
}

// workloadsObjects lists the objects the workloads scenario must have made,
// resolving the generated ConfigMap and Secret names through the Deployment
// that references them (which also proves the references are wired).
func workloadsObjects(ctx context.Context, api *KubeAPI) ([]Expect, error) {
	deployPath := apps(wlServiceNS, "deployments", wlServiceName, "apps/v1")
	deploy, err := api.Get(ctx, deployPath)
	if err != nil {
		return nil, err
	}
	pod := []string{"spec", "template", "spec"}
	configMap := deploy.String(append(pod, "containers", "0", "envFrom", "0", "configMapRef", "name")...)
	pullSecret := deploy.String(append(pod, "imagePullSecrets", "0", "name")...)
	if configMap == "" || pullSecret == "" {
		return nil, fmt.Errorf("%s: no ConfigMap (%q) or image-pull Secret (%q) referenced", deployPath, configMap, pullSecret)
	}

	var out []Expect
	for _, ns := range []string{wlTritonNS, wlServiceNS} {
		out = append(out, Expect{Path: "/api/v1/namespaces/" + ns, Check: all(
			hasField("Active", "status", "phase"),
			hasField("restricted", "metadata", "labels", "pod-security.kubernetes.io/enforce"),
		)})
		for _, policy := range []string{"default-deny", "allow-dns", "allow-same-namespace", "allow-https-egress"} {
			out = append(out, Expect{Path: apps(ns, "networkpolicies", policy, "networking.k8s.io/v1")})
		}
		out = append(out, Expect{
			Path:  apps(ns, "networkpolicies", "allow-vpc-ingress", "networking.k8s.io/v1"),
			Check: hasField(wlVPCCIDR, "spec", "ingress", "0", "from", "0", "ipBlock", "cidr"),
		})
	}
	out = append(out,
		Expect{Path: apps(wlTritonNS, "serviceaccounts", "triton", "v1"), Check: hasPrefix("arn:aws:iam::123456789012:role/", "metadata", "annotations", "eks.amazonaws.com/role-arn")},
		Expect{Path: apps(wlTritonNS, "deployments", "triton", "apps/v1"), Check: all(
			hasField(inference.DefaultTritonImage, append(pod, "containers", "0", "image")...),
			hasField("1", append(pod, "containers", "0", "resources", "limits", "nvidia.com/gpu")...),
			hasField(true, append(pod, "securityContext", "runAsNonRoot")...),
			hasField("true", "metadata", "annotations", AnnotationSkipAwait),
		)},
		Expect{Path: apps(wlTritonNS, "services", "triton", "v1"), Check: all(
			hasField("LoadBalancer", "spec", "type"),
			hasField("service.k8s.aws/nlb", "spec", "loadBalancerClass"),
		)},
		Expect{Path: apps(wlTritonNS, "horizontalpodautoscalers", "triton", "autoscaling/v2"), Check: all(
			hasField(1, "spec", "minReplicas"),
			hasField(3, "spec", "maxReplicas"),
			hasField("triton", "spec", "scaleTargetRef", "name"),
		)},
		Expect{Path: apps(wlTritonNS, "poddisruptionbudgets", "triton", "policy/v1"), Check: hasField(1, "spec", "maxUnavailable")},

		Expect{Path: apps(wlServiceNS, "serviceaccounts", wlServiceName, "v1")},
		Expect{Path: apps(wlServiceNS, "configmaps", configMap, "v1"), Check: hasField("info", "data", "LOG_LEVEL")},
		Expect{Path: apps(wlServiceNS, "secrets", pullSecret, "v1"), Check: all(
			hasField("kubernetes.io/dockerconfigjson", "type"),
			dockerConfigHas(inference.DockerHubRegistry, "acme", wlRegistryPw),
		)},
		Expect{Path: deployPath, Check: all(
			hasField(wlServiceImg, append(pod, "containers", "0", "image")...),
			hasField(false, append(pod, "automountServiceAccountToken")...),
		)},
		Expect{Path: apps(wlServiceNS, "services", wlServiceName, "v1"), Check: hasField("ClusterIP", "spec", "type")},
		Expect{Path: apps(wlServiceNS, "horizontalpodautoscalers", wlServiceName, "autoscaling/v2"), Check: all(
			hasField(2, "spec", "minReplicas"),
			hasField(6, "spec", "maxReplicas"),
		)},
		Expect{Path: apps(wlServiceNS, "poddisruptionbudgets", wlServiceName, "policy/v1"), Check: hasField(1, "spec", "maxUnavailable")},
		Expect{Path: apps(wlServiceNS, "ingresses", wlServiceName, "networking.k8s.io/v1"), Check: all(
			hasField("alb", "spec", "ingressClassName"),
			hasField("lds.realtier.example.com", "spec", "rules", "0", "host"),
		)},
	)
	return out, nil
}

func hasPrefix(prefix string, keys ...string) func(Object) error {
	return func(o Object) error {
		if got := o.String(keys...); !strings.HasPrefix(got, prefix) {
			return fmt.Errorf("%s = %q, want prefix %q", strings.Join(keys, "."), got, prefix)
		}
		return nil
	}
}

// dockerConfigHas checks the image-pull secret really carries the
// credentials (the API returns data base64-encoded).
func dockerConfigHas(server, user, password string) func(Object) error {
	return func(o Object) error {
		raw, err := base64.StdEncoding.DecodeString(o.String("data", ".dockerconfigjson"))
		if err != nil {
			return fmt.Errorf("data..dockerconfigjson: %v", err)
		}
		want := inference.DockerConfigJSON(server, user, password)
		if string(raw) != want {
			return fmt.Errorf(".dockerconfigjson = %s, want %s", raw, want)
		}
		return nil
	}
}
