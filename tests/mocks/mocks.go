// Package mocks is the one recording Pulumi mock of the project: it answers
// every resource registration and invoke with realistic outputs (including the
// remote components of pulumi-eks and Helm v4, which have no children under
// mocks) and stores what the program asked for, per type token, so tests can
// assert on inputs after pulumi.RunErr returns.
package mocks

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// Fixed identity of the fake AWS account the mocks pretend to be.
const (
	Project   = "aiplatform"
	Stack     = "dev"
	Region    = "us-west-2"
	AccountID = "123456789012"
	// OIDCIssuer is the issuer URL of the fake EKS cluster in Region
	// (IssuerFor gives it for another region).
	OIDCIssuer = "https://oidc.eks.us-west-2.amazonaws.com/id/" + oidcID
	oidcID     = "EXAMPLED539D4633E53DE1B71EXAMPLE"
	// FixtureName names the aws:eks/cluster:Cluster the harness registers so the
	// eks:index:Cluster mock can return a resource reference to it.
	FixtureName = "mock-fixture-eks-cluster"
	// DeployerRoleArn is the role the program runs as: getCallerIdentity
	// answers with an STS session of it (DeployerSessionArn), as it does for
	// CI's OIDC-assumed apply role, and getSessionContext resolves it back.
	DeployerRoleArn    = "arn:aws:iam::" + AccountID + ":role/ci-apply"
	DeployerSessionArn = "arn:aws:sts::" + AccountID + ":assumed-role/ci-apply/GitHubActions"
)

// Resource is one registration the program made.
type Resource struct {
	Type    string
	Name    string
	URN     string
	Parent  string
	Custom  bool
	Remote  bool
	Inputs  resource.PropertyMap
	Outputs resource.PropertyMap
	// Transforms declared on the resource; the mock monitor does not run them,
	// so tests call them directly.
	Transforms []pulumi.ResourceTransform
	// Options of the registration that tests assert on.
	Protect        bool
	RetainOnDelete bool
	IgnoreChanges  []string
	DependsOn      []string
	// PropertyDeps are the URNs each input property's value came from.
	PropertyDeps map[string][]string
	Provider     string
	// Aliases are the former names (alias specs) or URNs the resource answers to.
	Aliases []string
}

// Invoke is one data-source call the program made.
type Invoke struct {
	Token string
	Args  resource.PropertyMap
}

// Recorder implements pulumi.MockResourceMonitor and records every registration.
type Recorder struct {
	// LoadBalancersPending leaves Services and Ingresses without a load
	// balancer address, as after a skipped or timed-out await.
	LoadBalancersPending bool
	// Preview answers as the engine does in a preview (RunInfo.DryRun): a
	// resource being created has no id yet and every value its provider
	// computes is unknown; only its inputs are known.
	Preview bool
	// Region is the stack's aws:region (RunOn sets it from the config;
	// default Region): ARNs, the OIDC issuer, endpoints and the partition
	// follow it, as they do in AWS.
	Region string

	mu        sync.Mutex
	resources []Resource
	invokes   []Invoke
}

// NewResource answers a registration with outputs = inputs + realistic computed values.
func (r *Recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	outs := args.Inputs.Copy()
	id := args.Name + "-id"
	rpc := args.RegisterRPC
	rec := Resource{Type: args.TypeToken, Name: args.Name, Custom: args.Custom, Inputs: args.Inputs, Transforms: args.Transforms, Provider: args.Provider}
	if rpc != nil {
		rec.URN = urn(rpc.GetParent(), args.TypeToken, args.Name)
		rec.Parent = rpc.GetParent()
		rec.Remote = rpc.GetRemote()
		rec.Protect = rpc.GetProtect()
		rec.RetainOnDelete = rpc.GetRetainOnDelete()
		rec.IgnoreChanges = rpc.GetIgnoreChanges()
		rec.DependsOn = rpc.GetDependencies()
		for k, deps := range rpc.GetPropertyDependencies() {
			if rec.PropertyDeps == nil {
				rec.PropertyDeps = map[string][]string{}
			}
			rec.PropertyDeps[k] = deps.GetUrns()
		}
		rec.Aliases = append(rec.Aliases, rpc.GetAliasURNs()...)
		for _, a := range rpc.GetAliases() {
			if a.GetSpec() != nil {
				rec.Aliases = append(rec.Aliases, a.GetSpec().GetName())
			} else {
				rec.Aliases = append(rec.Aliases, a.GetUrn())
			}
		}
	}
	if args.ID != "" {
		id = args.ID
	}
	if !r.LoadBalancersPending || (args.TypeToken != "kubernetes:core/v1:Service" && args.TypeToken != "kubernetes:networking.k8s.io/v1:Ingress") {
		r.fill(args.TypeToken, args.Name, id, outs)
	}
	if r.Preview && args.ID == "" && args.Name != FixtureName {
		// Outputs the provider computes are unknown until the update; a value
		// the fill changed (a nested computed key) makes its whole property
		// unknown, which is what a preview shows for it (RunPreview serves
		// these over its own monitor, which carries unknowns).
		for k, v := range outs {
			if in, ok := args.Inputs[k]; !ok || !in.DeepEquals(v) {
				unknown := resource.MakeComputed(resource.NewProperty(""))
				if v.ContainsSecrets() {
					unknown = resource.MakeSecret(unknown)
				}
				outs[k] = unknown
			}
		}
		id = ""
	}
	if !args.Custom && !rec.Remote {
		id = ""
	}
	rec.Outputs = outs
	r.mu.Lock()
	r.resources = append(r.resources, rec)
	r.mu.Unlock()
	return id, outs, nil
}

// Call answers invokes of data sources with fixed account facts.
func (r *Recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	r.mu.Lock()
	r.invokes = append(r.invokes, Invoke{Token: args.Token, Args: args.Args})
	r.mu.Unlock()
	region, partition := r.region(), Partition(r.region())
	switch args.Token {
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		return resource.NewPropertyMapFromMap(map[string]any{
			"names":   []any{region + "a", region + "b", region + "c", region + "d"},
			"zoneIds": []any{"az1", "az2", "az3", "az4"},
			"id":      region,
		}), nil
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{
			"accountId": AccountID, "arn": strings.Replace(DeployerSessionArn, "arn:aws:", "arn:"+partition+":", 1),
			"userId": "AROAEXAMPLE:GitHubActions", "id": AccountID,
		}), nil
	case "aws:iam/getSessionContext:getSessionContext":
		arn := ""
		if v := args.Args["arn"]; v.IsString() {
			arn = v.StringValue()
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"arn": arn, "issuerArn": sessionIssuer(arn), "issuerId": "AROAEXAMPLE", "id": arn,
		}), nil
	case "aws:index/getRegion:getRegion":
		return resource.NewPropertyMapFromMap(map[string]any{"name": region, "id": region, "endpoint": "ec2." + region + "." + DNSSuffix(region)}), nil
	case "aws:index/getPartition:getPartition":
		return resource.NewPropertyMapFromMap(map[string]any{"partition": partition, "dnsSuffix": DNSSuffix(region), "id": partition}), nil
	}
	// An invoke nobody modelled must fail, as the fake AWS of the real tier
	// does: an empty answer would let the program run on zero values.
	return nil, fmt.Errorf("mocks: invoke %s is not modelled; answer it in tests/mocks (Recorder.Call)", args.Token)
}

func (r *Recorder) region() string {
	if r.Region != "" {
		return r.Region
	}
	return Region
}

// Partition is the AWS partition of region (arn:<partition>:…). Written
// here, not taken from infra.Partition: the mocks stand for AWS, so a mistake
// in the program's own rule must not be mirrored in what they answer.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	}
	return "aws"
}

// DNSSuffix is the domain of region's service endpoints.
func DNSSuffix(region string) string {
	if Partition(region) == "aws-cn" {
		return "amazonaws.com.cn"
	}
	return "amazonaws.com"
}

// IssuerFor is the OIDC issuer URL EKS gives a cluster in region
// (https://oidc.eks.<region>.<dns suffix>/id/<id>).
func IssuerFor(region string) string {
	return "https://oidc.eks." + region + "." + DNSSuffix(region) + "/id/" + oidcID
}

// sessionIssuer is what getSessionContext answers: the role of an STS
// assumed-role session ARN (arn:aws:sts::<acct>:assumed-role/<role>/<session>
// becomes arn:aws:iam::<acct>:role/<role>), any other ARN unchanged.
func sessionIssuer(arn string) string {
	prefix, rest, ok := strings.Cut(arn, ":assumed-role/")
	role, _, hasSession := strings.Cut(rest, "/")
	if !ok || !hasSession || !strings.Contains(prefix, ":sts::") {
		return arn
	}
	return strings.Replace(prefix, ":sts::", ":iam::", 1) + ":role/" + role
}

// fill adds the outputs a real provider would compute for type typ.
func (r *Recorder) fill(typ, name, id string, outs resource.PropertyMap) {
	region, partition := r.region(), Partition(r.region())
	issuer := IssuerFor(region)
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:%s:%s:%s:%s:%s", partition, service, region, AccountID, resource)
	}
	global := func(service, resource string) string {
		return fmt.Sprintf("arn:%s:%s::%s:%s", partition, service, AccountID, resource)
	}
	set := func(k string, v any) {
		if _, ok := outs[resource.PropertyKey(k)]; !ok {
			outs[resource.PropertyKey(k)] = resource.NewPropertyValue(v)
		}
	}
	service := ""
	if parts := strings.Split(typ, ":"); len(parts) == 3 && parts[0] == "aws" {
		service = strings.Split(parts[1], "/")[0]
	}
	switch typ {
	case "eks:index:Cluster":
		kubeconfig := kubeconfigIn(name, region)
		var kc map[string]any
		_ = json.Unmarshal([]byte(kubeconfig), &kc)
		outs["kubeconfigJson"] = resource.MakeSecret(resource.NewProperty(kubeconfig))
		outs["kubeconfig"] = resource.MakeSecret(resource.NewPropertyValue(kc))
		outs["eksCluster"] = resource.MakeCustomResourceReference(FixtureURN(), resource.ID(FixtureName+"-id"), "")
		return
	case "eks:index:ManagedNodeGroup", "kubernetes:helm.sh/v4:Chart":
		set("resources", []any{})
		return
	case "aws:eks/cluster:Cluster":
		set("name", name)
		set("endpoint", "https://EXAMPLE0123456789.gr7."+region+".eks."+DNSSuffix(region))
		set("certificateAuthority", map[string]any{"data": "LS0tLS1CRUdJTi1FWEFNUExFLS0tLS0K"})
		set("identities", []any{map[string]any{"oidcs": []any{map[string]any{"issuer": issuer}}}})
		set("arn", arn("eks", "cluster/"+name))
		// The provider computes these two inside the configured vpcConfig.
		vpcConfig := resource.PropertyMap{}
		if v, ok := outs["vpcConfig"]; ok && v.IsObject() {
			vpcConfig = v.ObjectValue().Copy()
		}
		for k, v := range map[resource.PropertyKey]string{"clusterSecurityGroupId": "sg-cluster0123", "vpcId": "vpc-0123"} {
			if _, ok := vpcConfig[k]; !ok {
				vpcConfig[k] = resource.NewProperty(v)
			}
		}
		outs["vpcConfig"] = resource.NewProperty(vpcConfig)
	case "aws:s3/bucketV2:BucketV2", "aws:s3/bucket:Bucket":
		set("bucket", name+"-0a1b2c")
		set("arn", "arn:"+partition+":s3:::"+name+"-0a1b2c")
		set("bucketRegionalDomainName", name+"-0a1b2c.s3."+region+"."+DNSSuffix(region))
	case "aws:ec2/launchTemplate:LaunchTemplate":
		set("latestVersion", 1)
	case "aws:ec2/vpc:Vpc":
		set("defaultSecurityGroupId", "sg-default0123")
		set("mainRouteTableId", "rtb-main0123")
	case "aws:ec2/eip:Eip":
		set("publicIp", "203.0.113.10")
		set("allocationId", "eipalloc-"+name)
	case "aws:iam/role:Role":
		set("name", name)
		set("arn", global("iam", "role/"+name))
	case "aws:iam/policy:Policy":
		set("name", name)
		set("arn", global("iam", "policy/"+name))
	case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
		set("arn", global("iam", "oidc-provider/"+strings.TrimPrefix(issuer, "https://")))
	case "aws:kms/key:Key":
		set("keyId", "key-"+name)
		set("arn", arn("kms", "key/key-"+name))
	case "aws:eks/addon:Addon":
		// arn:<partition>:eks:<region>:<account>:addon/<cluster>/<addon>/<uuid> (EKS API Addon.addonArn).
		set("arn", arn("eks", "addon/"+str(outs, "clusterName")+"/"+str(outs, "addonName")+"/0ac9b1d2-0000-4000-8000-"+fakeUUIDTail(name)))
	case "aws:eks/accessEntry:AccessEntry":
		// arn:<partition>:eks:<region>:<account>:access-entry/<cluster>/<principal type>/<account>/<role name>/<uuid>
		// (EKS API AccessEntry.accessEntryArn; the principal type is "role" for IAM roles).
		role := str(outs, "principalArn")
		role = role[strings.LastIndex(role, "/")+1:]
		set("accessEntryArn", arn("eks", "access-entry/"+str(outs, "clusterName")+"/role/"+AccountID+"/"+role+"/0ac9b1d2-0000-4000-8000-"+fakeUUIDTail(name)))
	case "kubernetes:core/v1:Service":
		set("status", map[string]any{"loadBalancer": map[string]any{"ingress": []any{map[string]any{"hostname": name + "-0123.elb." + region + "." + DNSSuffix(region)}}}})
	case "kubernetes:networking.k8s.io/v1:Ingress":
		set("status", map[string]any{"loadBalancer": map[string]any{"ingress": []any{map[string]any{"hostname": "k8s-" + name + "-0123." + region + ".elb." + DNSSuffix(region)}}}})
	case "kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Secret":
		// The Kubernetes provider auto-names objects without metadata.name.
		if meta, ok := outs["metadata"]; ok && meta.IsObject() {
			m := meta.ObjectValue().Copy()
			if _, named := m["name"]; !named {
				m["name"] = resource.NewProperty(name + "-5f3k2a")
			}
			outs["metadata"] = resource.NewProperty(m)
		}
	}
	if service != "" {
		set("arn", arn(service, strings.ToLower(service)+"/"+id))
		set("tagsAll", outs["tags"].Mappable())
	}
	set("id", id)
}

// str is the string input k of outs, or "".
func str(outs resource.PropertyMap, k resource.PropertyKey) string {
	if v, ok := outs[k]; ok && v.IsString() {
		return v.StringValue()
	}
	return ""
}

// fakeUUIDTail is 12 hex digits derived from name, so ARNs are stable.
func fakeUUIDTail(name string) string {
	h := uint64(14695981039346656037)
	for _, c := range []byte(name) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return fmt.Sprintf("%012x", h&0xffffffffffff)
}

// Kubeconfig is a realistic kubeconfig for a cluster named name in Region, as pulumi-eks renders it.
func Kubeconfig(name string) string { return kubeconfigIn(name, Region) }

func kubeconfigIn(name, region string) string {
	kc := map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"current-context": "aws",
		"clusters": []any{map[string]any{"name": "kubernetes", "cluster": map[string]any{
			"server": "https://EXAMPLE0123456789.gr7." + region + ".eks." + DNSSuffix(region), "certificate-authority-data": "LS0tLS1CRUdJTi1FWEFNUExFLS0tLS0K"}}},
		"contexts": []any{map[string]any{"name": "aws", "context": map[string]any{"cluster": "kubernetes", "user": "aws"}}},
		"users": []any{map[string]any{"name": "aws", "user": map[string]any{"exec": map[string]any{
			"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
			"args": []any{"eks", "get-token", "--cluster-name", name, "--output", "json"}}}}},
	}
	b, _ := json.Marshal(kc)
	return string(b)
}

// FixtureURN is the URN of the aws:eks/cluster:Cluster registered by Run.
func FixtureURN() resource.URN {
	return resource.URN(urn("", "aws:eks/cluster:Cluster", FixtureName))
}

func urn(parent, typ, name string) string {
	parentType := ""
	if p := resource.URN(parent); p != "" && p.IsValid() && p.QualifiedType() != resource.RootStackType {
		parentType = string(p.QualifiedType()) + "$"
	}
	return fmt.Sprintf("urn:pulumi:%s::%s::%s%s::%s", Stack, Project, parentType, typ, name)
}

// Run executes program under the mocks with the given stack config
// (keys like "aiplatform:vpcCidr"; objects as JSON strings) and returns the recording.
func Run(config map[string]string, program pulumi.RunFunc) (*Recorder, error) {
	return RunOn(&Recorder{}, config, program)
}

// RunPreview is Run as a preview: ctx.DryRun() is true and whatever a
// provider computes is unknown (Recorder.Preview).
func RunPreview(config map[string]string, program pulumi.RunFunc) (*Recorder, error) {
	return RunOn(&Recorder{Preview: true}, config, program)
}

// RunOn is Run with a recorder the caller configured.
func RunOn(rec *Recorder, config map[string]string, program pulumi.RunFunc) (*Recorder, error) {
	raw, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	// Config reaches a mocked program only through this variable.
	if err := os.Setenv("PULUMI_CONFIG", string(raw)); err != nil {
		return nil, err
	}
	defer os.Unsetenv("PULUMI_CONFIG")
	if rec.Region == "" {
		rec.Region = config["aws:region"]
	}
	body := func(ctx *pulumi.Context) error {
		// The fixture stands for the cluster the program creates, so it carries
		// the name the program gives it.
		name := config[Project+":clusterName"]
		if name == "" {
			name = Project + "-" + Stack
		}
		fixture, err := awseks.NewCluster(ctx, FixtureName, &awseks.ClusterArgs{
			Name:      pulumi.String(name),
			RoleArn:   pulumi.String("arn:" + Partition(rec.region()) + ":iam::" + AccountID + ":role/fixture"),
			VpcConfig: &awseks.ClusterVpcConfigArgs{},
		})
		if err != nil {
			return err
		}
		// The reference returned for eksCluster is resolved by URN, so the
		// fixture must be registered before the program asks for it.
		if _, err := internals.UnsafeAwaitOutput(ctx.Context(), fixture.URN()); err != nil {
			return err
		}
		return program(ctx)
	}
	if rec.Preview {
		err = runPreview(rec, body)
	} else {
		err = pulumi.RunErr(body, pulumi.WithMocks(Project, Stack, rec))
	}
	return rec, err
}

// All returns every recorded resource except the harness fixture, in registration order.
func (r *Recorder) All() []Resource {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Resource, 0, len(r.resources))
	for _, res := range r.resources {
		if res.Name != FixtureName {
			out = append(out, res)
		}
	}
	return out
}

// ByType returns the recorded resources of one type token, sorted by name.
func (r *Recorder) ByType(typ string) []Resource {
	var out []Resource
	for _, res := range r.All() {
		if res.Type == typ {
			out = append(out, res)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Find returns the resource of type typ named name.
func (r *Recorder) Find(typ, name string) (Resource, bool) {
	for _, res := range r.ByType(typ) {
		if res.Name == name {
			return res, true
		}
	}
	return Resource{}, false
}

// Invokes lists the data-source tokens the program called.
func (r *Recorder) Invokes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	tokens := make([]string, len(r.invokes))
	for i, in := range r.invokes {
		tokens[i] = in.Token
	}
	return tokens
}

// InvokesOf returns the calls of one data source, with their arguments, in call order.
func (r *Recorder) InvokesOf(token string) []Invoke {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Invoke
	for _, in := range r.invokes {
		if in.Token == token {
			out = append(out, in)
		}
	}
	return out
}
