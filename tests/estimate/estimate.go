// Package estimate runs the program (and the state-backend bootstrap) under
// the recording mocks and reads from what they register the inventory that
// package cost prices: the estimate comes from the program itself, not from
// a second description of it. cmd/aiplatform cost and tests/cost_test.go
// use it; it has no tests of its own so the program is linked into one test
// binary only.
package estimate

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aiplatform/infra/cost"
	"github.com/aiplatform/infra/infra"
	"github.com/aiplatform/infra/stacks"
	"github.com/aiplatform/infra/stacks/bootstrap/statebackend"
	"github.com/aiplatform/infra/tests/mocks"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ConfigNamespace holds the stack's cost assumptions in Pulumi.<stack>.yaml
// (aiplatform-cost:natDataGBPerMonth: 250). The program ignores other
// namespaces, so these keys never change what is deployed.
const ConfigNamespace = "aiplatform-cost"

// Stack loads Pulumi.<stack>.yaml from dir and prices it: a stack of the
// main project (see Config), or of the bootstrap project (stacks/bootstrap,
// see Bootstrap).
func Stack(dir, stack string, at time.Time) (cost.Inventory, cost.Assumptions, error) {
	cfg, _, err := mocks.StackConfig(dir, stack)
	if err != nil {
		return cost.Inventory{}, cost.Assumptions{}, err
	}
	if isBootstrapProject(dir) {
		return Bootstrap(cfg, stack, at)
	}
	return Config(cfg, stack, at)
}

// isBootstrapProject: dir's Pulumi.yaml is the bootstrap's.
func isBootstrapProject(dir string) bool {
	proj, err := workspace.LoadProject(filepath.Join(dir, "Pulumi.yaml"))
	return err == nil && string(proj.Name) == statebackend.Namespace
}

// Bootstrap prices one bootstrap stack: the state bucket and key and, with
// its runners option, the runner pools (their VPC's NAT gateway and address,
// and the build-minutes of aiplatform-cost:runnerMinutesPerMonth).
func Bootstrap(cfg map[string]string, stack string, at time.Time) (cost.Inventory, cost.Assumptions, error) {
	inv, assumptions, err := price(cfg, stack, at, "the state backend bootstrap", deployBootstrap)
	for i := range inv.Buckets {
		inv.Buckets[i].Role = "state"
	}
	return inv, assumptions, err
}

// Config runs the program with cfg (keys "ns:name", as mocks.Run takes
// them) and the state backend in the same region, and returns what they
// register and the assumptions of cfg's aiplatform-cost namespace over the
// defaults. at decides the EKS support phase of the Kubernetes version.
func Config(cfg map[string]string, stack string, at time.Time) (cost.Inventory, cost.Assumptions, error) {
	inv, assumptions, err := price(cfg, stack, at, "the program", stacks.Run)
	if err != nil {
		return cost.Inventory{}, cost.Assumptions{}, err
	}
	// The state bucket and its key are the bootstrap's, one per account; they
	// are priced with the stack so its estimate is what the platform costs.
	state, _, err := Bootstrap(map[string]string{"aws:region": inv.Region}, stack, at)
	if err != nil {
		return cost.Inventory{}, cost.Assumptions{}, err
	}
	inv.Buckets = append(inv.Buckets, state.Buckets...)
	inv.KMSKeys = append(inv.KMSKeys, state.KMSKeys...)
	inv.Unpriced = append(inv.Unpriced, state.Unpriced...)
	return inv, assumptions, nil
}

// price runs program (what names it in errors) under the mocks with cfg and
// reads its inventory, with cfg's assumptions.
func price(cfg map[string]string, stack string, at time.Time, what string, program pulumi.RunFunc) (cost.Inventory, cost.Assumptions, error) {
	assumptions, err := Assumptions(cfg)
	if err != nil {
		return cost.Inventory{}, cost.Assumptions{}, err
	}
	region := cfg["aws:region"]
	if region == "" {
		return cost.Inventory{}, cost.Assumptions{}, fmt.Errorf("aws:region is not set: the estimate is priced per region")
	}
	rec, err := mocks.Run(cfg, program)
	if err != nil {
		return cost.Inventory{}, cost.Assumptions{}, fmt.Errorf("running %s under the mocks: %w", what, err)
	}
	inv, err := Inventory(rec, at)
	if err != nil {
		return cost.Inventory{}, cost.Assumptions{}, err
	}
	inv.Stack, inv.Region = stack, region
	return inv, assumptions, nil
}

func deployBootstrap(ctx *pulumi.Context) error {
	_, err := statebackend.Deploy(ctx)
	return err
}

// How each AWS resource type the program registers is priced. "free" types
// cost nothing themselves (a launch template is paid through the volumes of
// its node group's instances); "priced" ones become lines; any type not in
// this table is listed as not priced, so a new paid resource never passes
// silently as free.
var awsTypes = map[string]string{
	"aws:ec2/vpc:Vpc":                                                      "free",
	"aws:ec2/subnet:Subnet":                                                "free",
	"aws:ec2/routeTable:RouteTable":                                        "free",
	"aws:ec2/routeTableAssociation:RouteTableAssociation":                  "free",
	"aws:ec2/internetGateway:InternetGateway":                              "free",
	"aws:ec2/defaultSecurityGroup:DefaultSecurityGroup":                    "free",
	"aws:ec2/securityGroup:SecurityGroup":                                  "free",
	"aws:ec2/securityGroupRule:SecurityGroupRule":                          "free",
	"aws:ec2/launchTemplate:LaunchTemplate":                                "free",
	"aws:ec2/vpcEndpoint:VpcEndpoint":                                      "free", // Gateway endpoints only; Interface ones are listed as not priced
	"aws:ec2/eip:Eip":                                                      "priced",
	"aws:ec2/natGateway:NatGateway":                                        "priced",
	"aws:eks/addon:Addon":                                                  "free",
	"aws:eks/accessEntry:AccessEntry":                                      "free",
	"aws:eks/accessPolicyAssociation:AccessPolicyAssociation":              "free",
	"aws:iam/role:Role":                                                    "free",
	"aws:iam/policy:Policy":                                                "free",
	"aws:iam/rolePolicy:RolePolicy":                                        "free",
	"aws:iam/rolePolicyAttachment:RolePolicyAttachment":                    "free",
	"aws:iam/instanceProfile:InstanceProfile":                              "free",
	"aws:iam/openIdConnectProvider:OpenIdConnectProvider":                  "free",
	"aws:kms/key:Key":                                                      "priced",
	"aws:kms/alias:Alias":                                                  "free",
	"aws:s3/bucketV2:BucketV2":                                             "priced",
	"aws:s3/bucket:Bucket":                                                 "priced",
	"aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2": "free",
	"aws:s3/bucketOwnershipControls:BucketOwnershipControls":               "free",
	"aws:s3/bucketPolicy:BucketPolicy":                                     "free",
	"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":               "free",
	"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": "free",
	"aws:s3/bucketVersioningV2:BucketVersioningV2":                                               "free",
	// The runner pools: CodeBuild bills build-minutes (priced from the
	// projects); a connection and a webhook cost nothing; a job's log is
	// well under a MB, cents a month at the runner minutes' scale.
	"aws:codebuild/project:Project":             "priced",
	"aws:codebuild/webhook:Webhook":             "free",
	"aws:codeconnections/connection:Connection": "free",
	"aws:cloudwatch/logGroup:LogGroup":          "free",
	// The sample model files (a few KB): their storage is in the bucket's own
	// line (aiplatform-cost:bucketGB), and the PUTs are a one-off.
	"aws:s3/bucketObjectv2:BucketObjectv2": "free",
}

// Recorded types the inventory reads.
const (
	clusterType        = "eks:index:Cluster"
	nodeGroupType      = "eks:index:ManagedNodeGroup"
	launchTemplateType = "aws:ec2/launchTemplate:LaunchTemplate"
	subnetType         = "aws:ec2/subnet:Subnet"
	serviceType        = "kubernetes:core/v1:Service"
	ingressType        = "kubernetes:networking.k8s.io/v1:Ingress"
	chartType          = "kubernetes:helm.sh/v4:Chart"
	deploymentType     = "kubernetes:apps/v1:Deployment"
	hpaType            = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
	scaledObjectType   = "kubernetes:keda.sh/v1alpha1:ScaledObject"
	storageClassType   = "kubernetes:storage.k8s.io/v1:StorageClass"
)

// What the AWS Load Balancer Controller answers to (its docs: "Network Load
// Balancer" and "Ingress annotations", kubernetes-sigs/aws-load-balancer-controller).
const (
	nlbClass             = "service.k8s.aws/nlb"
	albIngressClass      = "alb"
	serviceTypeAnno      = "service.beta.kubernetes.io/aws-load-balancer-type"
	serviceSchemeAnno    = "service.beta.kubernetes.io/aws-load-balancer-scheme"
	ingressSchemeAnno    = "alb.ingress.kubernetes.io/scheme"
	ingressGroupAnno     = "alb.ingress.kubernetes.io/group.name"
	legacyIngressClass   = "kubernetes.io/ingress.class"
	internetFacingScheme = "internet-facing"
	gpuResource          = "nvidia.com/gpu"
)

// Inventory reads one recording. at decides standard or extended EKS support.
func Inventory(rec *mocks.Recorder, at time.Time) (cost.Inventory, error) {
	var inv cost.Inventory
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }

	for _, r := range rec.ByType(clusterType) {
		in := Plain(r.Inputs)
		cp := cost.ControlPlane{Name: r.Name, Version: str(in["version"])}
		for _, t := range list(in["enabledClusterLogTypes"]) {
			cp.LogTypes = append(cp.LogTypes, str(t))
		}
		row, ok := infra.LookupKubernetesVersion(cp.Version)
		if !ok {
			fail("cluster %s: Kubernetes version %q has no row in infra.KubernetesVersions (accepted: %s), so its EKS support phase and price are unknown",
				r.Name, cp.Version, infra.AcceptedKubernetesMinors())
			continue
		}
		cp.ExtendedSupport = !row.InStandardSupport(at)
		if cp.ExtendedSupport {
			cp.SupportNote = fmt.Sprintf("standard support ended %s; extended support ends %s",
				row.StandardSupportEnd.Format(time.DateOnly), row.ExtendedSupportEnd.Format(time.DateOnly))
			if !at.Before(row.ExtendedSupportEnd) {
				cp.SupportNote += "; EKS upgrades the control plane on its own"
			}
		} else {
			cp.SupportNote = "until " + row.StandardSupportEnd.Format(time.DateOnly)
		}
		inv.ControlPlanes = append(inv.ControlPlanes, cp)
	}

	templates := map[string]map[string]any{}
	for _, r := range rec.ByType(launchTemplateType) {
		templates[str(Plain(r.Outputs)["id"])] = Plain(r.Inputs)
	}
	for _, r := range rec.ByType(nodeGroupType) {
		in := Plain(r.Inputs)
		ng := cost.NodeGroup{Name: r.Name, Capacity: cost.CapacityType(str(in["capacityType"]))}
		if ng.Capacity == "" {
			ng.Capacity = cost.OnDemand // the EKS API default
		}
		for _, t := range list(in["instanceTypes"]) {
			ng.InstanceTypes = append(ng.InstanceTypes, str(t))
		}
		scaling, _ := in["scalingConfig"].(map[string]any)
		ng.Min, ng.Desired, ng.Max = Integer(scaling["minSize"]), Integer(scaling["desiredSize"]), Integer(scaling["maxSize"])
		lt, _ := in["launchTemplate"].(map[string]any)
		tmpl, ok := templates[str(lt["id"])]
		if !ok {
			fail("node group %s: no launch template recorded with id %q, so its root volume size is unknown", r.Name, str(lt["id"]))
			continue
		}
		root, _ := first(list(tmpl["blockDeviceMappings"])).(map[string]any)
		ebs, _ := root["ebs"].(map[string]any)
		ng.RootVolumeGiB, ng.RootVolumeType = Integer(ebs["volumeSize"]), str(ebs["volumeType"])
		if ng.RootVolumeGiB == 0 || ng.RootVolumeType == "" {
			fail("node group %s: launch template has no EBS root volume size and type", r.Name)
			continue
		}
		inv.NodeGroups = append(inv.NodeGroups, ng)
	}

	zones := map[string]bool{}
	for _, r := range rec.ByType(subnetType) {
		zones[str(Plain(r.Inputs)["availabilityZone"])] = true
	}
	inv.AvailabilityZones = len(zones)

	for _, r := range rec.All() {
		switch r.Type {
		case "aws:ec2/natGateway:NatGateway":
			inv.NATGateways = append(inv.NATGateways, r.Name)
		case "aws:ec2/eip:Eip":
			inv.PublicIPv4s = append(inv.PublicIPv4s, r.Name)
		case "aws:kms/key:Key":
			inv.KMSKeys = append(inv.KMSKeys, r.Name)
		case "aws:codebuild/project:Project":
			env, _ := Plain(r.Inputs)["environment"].(map[string]any)
			inv.CodeBuildProjects = append(inv.CodeBuildProjects, cost.CodeBuildProject{Name: r.Name, ComputeType: str(env["computeType"])})
		case "aws:s3/bucketV2:BucketV2", "aws:s3/bucket:Bucket":
			inv.Buckets = append(inv.Buckets, cost.Bucket{Name: r.Name, Role: r.Name})
		case "aws:ec2/vpcEndpoint:VpcEndpoint":
			if t := str(Plain(r.Inputs)["vpcEndpointType"]); t != "Gateway" {
				inv.Unpriced = append(inv.Unpriced, cost.UnpricedThing{Name: r.Type + " " + r.Name,
					Reason: fmt.Sprintf("a %s VPC endpoint is billed per AZ-hour and GB; only Gateway endpoints are free", t)})
			}
		default:
			if strings.HasPrefix(r.Type, "aws:") && awsTypes[r.Type] == "" {
				inv.Unpriced = append(inv.Unpriced, cost.UnpricedThing{Name: r.Type + " " + r.Name,
					Reason: "not in tests/estimate's table of free and priced AWS types; add it there"})
			}
		}
	}

	lbs, lbErrs := loadBalancers(rec)
	inv.LoadBalancers = lbs
	errs = append(errs, lbErrs...)
	vols, volErrs := claimedVolumes(rec)
	inv.Volumes = vols
	errs = append(errs, volErrs...)
	inv.GPUWorkloads = gpuWorkloads(rec)
	for _, c := range rec.ByType(chartType) {
		inv.Unpriced = append(inv.Unpriced, chartServices(c)...)
	}
	if len(errs) > 0 {
		return cost.Inventory{}, fmt.Errorf("reading the recorded resources:\n  %s", strings.Join(errs, "\n  "))
	}
	return inv, nil
}

// loadBalancers are the LoadBalancer Services, the ALB Ingresses (one ALB per
// IngressGroup) and the ALB Ingresses that Helm charts are asked to create.
func loadBalancers(rec *mocks.Recorder) ([]cost.LoadBalancer, []string) {
	var out []cost.LoadBalancer
	var errs []string
	for _, r := range rec.ByType(serviceType) {
		in := Plain(r.Inputs)
		spec, _ := in["spec"].(map[string]any)
		if str(spec["type"]) != "LoadBalancer" {
			continue
		}
		annotations := stringMap(Path(in, "metadata", "annotations"))
		class := str(spec["loadBalancerClass"])
		switch t := annotations[serviceTypeAnno]; {
		case class == nlbClass, class == "" && (t == "external" || t == "nlb-ip"):
		default:
			errs = append(errs, fmt.Sprintf("Service %s is type LoadBalancer without loadBalancerClass %s (class %q, %s %q): the in-tree cloud provider would create a Classic Load Balancer, which the price table does not have",
				r.Name, nlbClass, class, serviceTypeAnno, t))
			continue
		}
		out = append(out, cost.LoadBalancer{Name: r.Name, Kind: cost.NLB,
			Public: annotations[serviceSchemeAnno] == internetFacingScheme, Source: "Service " + qualified(in)})
	}
	groups := map[string]int{}
	for _, r := range rec.ByType(ingressType) {
		in := Plain(r.Inputs)
		annotations := stringMap(Path(in, "metadata", "annotations"))
		class := str(Path(in, "spec", "ingressClassName"))
		if class == "" {
			class = annotations[legacyIngressClass]
		}
		if class != albIngressClass {
			continue // another controller's Ingress, not an AWS load balancer
		}
		lb := cost.LoadBalancer{Name: r.Name, Kind: cost.ALB,
			Public: annotations[ingressSchemeAnno] == internetFacingScheme, Source: "Ingress " + qualified(in)}
		// Ingresses of one IngressGroup share one ALB.
		if g := annotations[ingressGroupAnno]; g != "" {
			if i, ok := groups[g]; ok {
				out[i].Source += ", Ingress " + qualified(in)
				out[i].Public = out[i].Public || lb.Public
				continue
			}
			lb.Name = "group " + g
			groups[g] = len(out)
		}
		out = append(out, lb)
	}
	for _, r := range rec.ByType(chartType) {
		in := Plain(r.Inputs)
		// Charts' Ingress values follow one convention: {enabled: true,
		// ingressClassName: alb, annotations: {...}} (argo-cd server.ingress).
		walk(in["values"], nil, func(p []string, m map[string]any) {
			if str(m["ingressClassName"]) != albIngressClass || m["enabled"] != true {
				return
			}
			annotations := stringMap(m["annotations"])
			// Named for the chart and the component whose Ingress it is
			// (argocd/server, metrics/grafana): one chart may ask for several.
			out = append(out, cost.LoadBalancer{Name: r.Name + "/" + strings.Join(slices.DeleteFunc(slices.Clone(p), func(k string) bool { return k == "ingress" }), "."), Kind: cost.ALB,
				Public: annotations[ingressSchemeAnno] == internetFacingScheme,
				Source: fmt.Sprintf("Helm chart %s, values %s", r.Name, strings.Join(p, "."))})
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, errs
}

// claimedVolumes are the EBS volumes charts' values claim through a
// StatefulSet volumeClaimTemplate (kube-prometheus-stack's
// prometheus.prometheusSpec.storageSpec), one per replica of the spec that
// holds it (its replicas, default 1), typed by the recorded StorageClass
// the claim names (parameters.type).
func claimedVolumes(rec *mocks.Recorder) ([]cost.Volume, []string) {
	classes := map[string]string{}
	for _, r := range rec.ByType(storageClassType) {
		in := Plain(r.Inputs)
		classes[str(Path(in, "metadata", "name"))] = str(Path(in, "parameters", "type"))
	}
	var out []cost.Volume
	var errs []string
	for _, r := range rec.ByType(chartType) {
		values := Plain(r.Inputs)["values"]
		walk(values, nil, func(p []string, m map[string]any) {
			claim, ok := m["volumeClaimTemplate"].(map[string]any)
			if !ok || len(p) < 2 {
				return
			}
			where := strings.Join(p, ".")
			class := str(Path(claim, "spec", "storageClassName"))
			typ, ok := classes[class]
			if !ok || typ == "" {
				errs = append(errs, fmt.Sprintf("chart %s, values %s: the claim's StorageClass %q is not one the program creates, so its volume type is unknown", r.Name, where, class))
				return
			}
			gib, ok := gibibytes(str(Path(claim, "spec", "resources", "requests", "storage")))
			if !ok {
				errs = append(errs, fmt.Sprintf("chart %s, values %s: storage request %q is not whole Gi or Ti", r.Name, where, str(Path(claim, "spec", "resources", "requests", "storage"))))
				return
			}
			owner, _ := Path(values, p[:len(p)-1]...).(map[string]any)
			replicas := Integer(owner["replicas"])
			if replicas == 0 {
				replicas = 1 // the operator's default for Prometheus and Alertmanager
			}
			out = append(out, cost.Volume{Name: r.Name + "/" + p[0], Count: replicas, GiB: gib, Type: typ,
				Source: fmt.Sprintf("Helm chart %s, values %s", r.Name, where)})
		})
	}
	return out, errs
}

// gibibytes reads a Kubernetes quantity in Gi or Ti.
func gibibytes(q string) (int, bool) {
	for suffix, factor := range map[string]int{"Gi": 1, "Ti": 1024} {
		if n, ok := strings.CutSuffix(q, suffix); ok {
			v, err := strconv.Atoi(n)
			return v * factor, err == nil && v > 0
		}
	}
	return 0, false
}

// chartServices lists LoadBalancer Services a chart's values ask for: under
// the mocks charts are not rendered, so their load balancers cannot be
// classified and are named instead of priced.
func chartServices(r mocks.Resource) []cost.UnpricedThing {
	var out []cost.UnpricedThing
	in := Plain(r.Inputs)
	walk(in["values"], nil, func(p []string, m map[string]any) {
		if str(m["type"]) == "LoadBalancer" {
			out = append(out, cost.UnpricedThing{Name: "chart " + r.Name + " " + strings.Join(p, "."),
				Reason: "a LoadBalancer Service inside a Helm chart; the mocks do not render charts"})
		}
	})
	return out
}

// KEDA v2.20.2 defaults, read from its sources because the mocks cannot show
// them: an unset minReplicaCount is 0 and an unset idleReplicaCount means
// "idle at minReplicaCount" (pkg/scaling/executor/scale_scaledobjects.go,
// RequestScale and getIdleOrMinimumReplicaCount); an unset cooldownPeriod is
// 300 s (pkg/scaling/executor/scale_executor.go, defaultCooldownPeriod); a
// target woken from idle gets max(minReplicaCount, 1) replicas
// (scaleFromZeroOrIdle; the HPA KEDA owns has the same minimum,
// apis/keda/v1alpha1/scaledobject_types.go GetHPAMinReplicas); an unset
// scaleTargetRef.kind is a Deployment (apis/keda/v1alpha1/gvkr.go).
const (
	kedaDefaultMinReplicaCount = 0
	kedaDefaultCooldownSeconds = 300
	kedaDefaultTargetKind      = "Deployment"
)

// gpuWorkloads are the Deployments whose pods request GPUs, with what they
// keep while idle: the minimum replicas of their HorizontalPodAutoscaler
// (or spec.replicas), or, when a KEDA ScaledObject scales them (it owns
// the HPA then, so it wins over a recorded one), its idleReplicaCount when
// set, else its minReplicaCount.
func gpuWorkloads(rec *mocks.Recorder) []cost.GPUWorkload {
	minReplicas := map[string]int{}
	for _, r := range rec.ByType(hpaType) {
		in := Plain(r.Inputs)
		ref, _ := Path(in, "spec", "scaleTargetRef").(map[string]any)
		if str(ref["kind"]) != "Deployment" {
			continue
		}
		n := 1 // the HPA default
		if v, ok := Path(in, "spec", "minReplicas").(float64); ok {
			n = int(v)
		}
		minReplicas[str(Path(in, "metadata", "namespace"))+"/"+str(ref["name"])] = n
	}
	scaled := map[string]cost.GPUWorkload{}
	for _, r := range rec.ByType(scaledObjectType) {
		in := Plain(r.Inputs)
		ref, _ := Path(in, "spec", "scaleTargetRef").(map[string]any)
		if kind := str(ref["kind"]); kind != "" && kind != kedaDefaultTargetKind {
			continue
		}
		spec, _ := in["spec"].(map[string]any)
		count := func(key string, def int) (int, bool) {
			if v, ok := spec[key]; ok && v != nil {
				return Integer(v), true
			}
			return def, false
		}
		w := cost.GPUWorkload{FloorFrom: "minReplicaCount"}
		minCount, _ := count("minReplicaCount", kedaDefaultMinReplicaCount)
		w.MinReplicas = minCount
		if idle, set := count("idleReplicaCount", 0); set {
			w.MinReplicas, w.FloorFrom = idle, "idleReplicaCount"
		}
		w.ScalesToZero = w.MinReplicas == 0
		w.IdleSeconds, _ = count("cooldownPeriod", kedaDefaultCooldownSeconds)
		w.ActiveMinReplicas = max(minCount, 1)
		scaled[str(Path(in, "metadata", "namespace"))+"/"+str(ref["name"])] = w
	}
	var out []cost.GPUWorkload
	for _, r := range rec.ByType(deploymentType) {
		in := Plain(r.Inputs)
		gpus := 0
		for _, c := range list(Path(in, "spec", "template", "spec", "containers")) {
			limits := stringMap(Path(c, "resources", "limits"))
			n, _ := strconv.Atoi(limits[gpuResource])
			gpus += n
		}
		if gpus == 0 {
			continue
		}
		key := str(Path(in, "metadata", "namespace")) + "/" + str(Path(in, "metadata", "name"))
		if w, ok := scaled[key]; ok {
			w.Name, w.GPUsPerPod = "Deployment "+qualified(in), gpus
			out = append(out, w)
			continue
		}
		replicas, ok := minReplicas[qualified(in)]
		if !ok {
			replicas = 1 // the Deployment default
			if v, set := Path(in, "spec", "replicas").(float64); set {
				replicas = int(v)
			}
		}
		out = append(out, cost.GPUWorkload{Name: "Deployment " + qualified(in), MinReplicas: replicas, GPUsPerPod: gpus})
	}
	return out
}

// Assumptions are the defaults overlaid with the aiplatform-cost keys of
// cfg (cost.AssumptionKeys). A key that is not an assumption is an error
// naming the known ones.
func Assumptions(cfg map[string]string) (cost.Assumptions, error) {
	a := cost.DefaultAssumptions()
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []string
	for _, k := range keys {
		if name, ok := strings.CutPrefix(k, ConfigNamespace+":"); ok {
			if err := a.Set(name, cfg[k]); err != nil {
				errs = append(errs, ConfigNamespace+":"+err.Error())
			}
		}
	}
	if len(errs) > 0 {
		return a, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return a, a.Validate()
}

// Plain converts recorded properties to plain Go values, secrets unwrapped
// (JSON-shaped: maps, slices, strings, float64s, bools).
func Plain(m resource.PropertyMap) map[string]any {
	return m.MapRepl(nil, func(v resource.PropertyValue) (any, bool) {
		if v.IsSecret() {
			return resource.PropertyMap{"v": v.SecretValue().Element}.MapRepl(nil, nil)["v"], true
		}
		return nil, false
	})
}

// Path is the value under keys in nested maps, nil where one is missing.
func Path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func qualified(obj map[string]any) string {
	ns, name := str(Path(obj, "metadata", "namespace")), str(Path(obj, "metadata", "name"))
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// Integer reads a JSON number, an int or a decimal string; 0 otherwise.
func Integer(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case int:
		return x
	case string:
		n, _ := strconv.Atoi(x)
		return n
	}
	return 0
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func first(l []any) any {
	if len(l) == 0 {
		return nil
	}
	return l[0]
}

func stringMap(v any) map[string]string {
	out := map[string]string{}
	m, _ := v.(map[string]any)
	for k, x := range m {
		out[k] = str(x)
	}
	return out
}

// walk calls fn for every object in v, depth first, with its key path.
func walk(v any, p []string, fn func([]string, map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(p, x)
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			walk(x[k], append(append([]string(nil), p...), k), fn)
		}
	case []any:
		for i, e := range x {
			walk(e, append(append([]string(nil), p...), strconv.Itoa(i)), fn)
		}
	}
}
