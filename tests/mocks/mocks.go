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
	// OIDCIssuer is the issuer URL of the fake EKS cluster.
	OIDCIssuer = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
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
		fill(args.TypeToken, args.Name, id, outs)
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
	switch args.Token {
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		return resource.NewPropertyMapFromMap(map[string]any{
			"names":   []any{Region + "a", Region + "b", Region + "c", Region + "d"},
			"zoneIds": []any{"usw2-az1", "usw2-az2", "usw2-az3", "usw2-az4"},
			"id":      Region,
		}), nil
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{
			"accountId": AccountID, "arn": DeployerSessionArn, "userId": "AROAEXAMPLE:GitHubActions", "id": AccountID,
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
		return resource.NewPropertyMapFromMap(map[string]any{"name": Region, "id": Region, "endpoint": "ec2." + Region + ".amazonaws.com"}), nil
	case "aws:index/getPartition:getPartition":
		return resource.NewPropertyMapFromMap(map[string]any{"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}), nil
	}
	return resource.PropertyMap{}, nil
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
func fill(typ, name, id string, outs resource.PropertyMap) {
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
		kubeconfig := Kubeconfig(name)
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
		set("endpoint", "https://EXAMPLE0123456789.gr7."+Region+".eks.amazonaws.com")
		set("certificateAuthority", map[string]any{"data": "LS0tLS1CRUdJTi1FWEFNUExFLS0tLS0K"})
		set("identities", []any{map[string]any{"oidcs": []any{map[string]any{"issuer": OIDCIssuer}}}})
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
		set("arn", "arn:aws:s3:::"+name+"-0a1b2c")
		set("bucketRegionalDomainName", name+"-0a1b2c.s3."+Region+".amazonaws.com")
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
		set("arn", "arn:aws:iam::"+AccountID+":role/"+name)
	case "aws:iam/policy:Policy":
		set("name", name)
		set("arn", "arn:aws:iam::"+AccountID+":policy/"+name)
	case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
		set("arn", "arn:aws:iam::"+AccountID+":oidc-provider/"+strings.TrimPrefix(OIDCIssuer, "https://"))
	case "aws:kms/key:Key":
		set("keyId", "key-"+name)
		set("arn", "arn:aws:kms:"+Region+":"+AccountID+":key/key-"+name)
	case "kubernetes:core/v1:Service":
		set("status", map[string]any{"loadBalancer": map[string]any{"ingress": []any{map[string]any{"hostname": name + "-0123.elb." + Region + ".amazonaws.com"}}}})
	case "kubernetes:networking.k8s.io/v1:Ingress":
		set("status", map[string]any{"loadBalancer": map[string]any{"ingress": []any{map[string]any{"hostname": "k8s-" + name + "-0123." + Region + ".elb.amazonaws.com"}}}})
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
		set("arn", fmt.Sprintf("arn:aws:%s:%s:%s:%s/%s", service, Region, AccountID, strings.ToLower(service), id))
		set("tagsAll", outs["tags"].Mappable())
	}
	set("id", id)
}

// Kubeconfig is a realistic kubeconfig for a cluster named name, as pulumi-eks renders it.
func Kubeconfig(name string) string {
	kc := map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"current-context": "aws",
		"clusters": []any{map[string]any{"name": "kubernetes", "cluster": map[string]any{
			"server": "https://EXAMPLE0123456789.gr7." + Region + ".eks.amazonaws.com", "certificate-authority-data": "LS0tLS1CRUdJTi1FWEFNUExFLS0tLS0K"}}},
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
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		// The fixture stands for the cluster the program creates, so it carries
		// the name the program gives it.
		name := config[Project+":clusterName"]
		if name == "" {
			name = Project + "-" + Stack
		}
		fixture, err := awseks.NewCluster(ctx, FixtureName, &awseks.ClusterArgs{
			Name:      pulumi.String(name),
			RoleArn:   pulumi.String("arn:aws:iam::" + AccountID + ":role/fixture"),
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
	}, pulumi.WithMocks(Project, Stack, rec))
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
