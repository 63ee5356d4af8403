package realtier

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// FakeAWS is an in-process stand-in for the aws resource provider, attached
// by the engine through PULUMI_DEBUG_PROVIDERS, so every aws: resource of the
// program reaches it: the Go program's and those pulumi-eks's Node provider
// registers inside its components. There is no AWS here. It
//   - answers with plausible outputs per resource type (fakeaws_types.go):
//     ids, ARNs in account FakeAccount, names, and for the EKS cluster the
//     endpoint and CA of the local kube-apiserver (SetEKSEndpoint) and an OIDC
//     issuer; computed outputs are unknown in a preview, as the real provider
//     leaves them;
//   - answers the invokes the program and pulumi-eks call (fakeaws_invokes.go);
//   - records every check, diff, create, update, read and delete with its
//     inputs and the options the engine sent (Ops);
//   - diffs as the aws provider plans (fakeaws_types.go: ForceNew,
//     Optional+Computed, default and set paths per type, policies by
//     equivalence, delete-before-replace for names the program sets);
//   - enforces AWS's rules on creates and deletes (fakeaws_rules.go), with
//     AWS's error text;
//   - evaluates IAM for IRSA: STS web identity, S3 and KMS
//     (fakeaws_iam.go), answering a refusal with an *AccessDeniedError.
//
// docs/testing-fake-aws.md lists every rule with its source.
type FakeAWS struct {
	pulumirpc.UnimplementedResourceProviderServer

	// Version is reported to the engine; it must match the SDK's pin.
	Version string

	server *grpc.Server
	port   int

	mu       sync.Mutex
	live     map[string]*FakeResource // URN -> resource
	ops      []Op
	region   string
	endpoint string // EKS clusters' endpoint: the local kube-apiserver
	caData   string // base64 PEM of its CA
	// implicit access entries EKS made itself: cluster name -> principal ARNs
	implicitEntries map[string][]string
	// defaultTags: the provider's defaultTags.tags, merged into every
	// tagged resource's tagsAll as the provider does.
	defaultTags map[string]any
}

// FakeResource is a resource the fake holds, as AWS would describe it.
type FakeResource struct {
	URN, Type, ID   string
	Inputs, Outputs map[string]any
}

// Op is one call the engine made, in order.
type Op struct {
	Seq  int
	Kind string // check, diff, create, update, read, delete
	URN  string
	Type string
	ID   string
	// Inputs are the news of check, diff, create and update; the old inputs
	// of delete.
	Inputs map[string]any
	// IgnoreChanges, Timeout: the resource options the engine passed on.
	IgnoreChanges []string
	Timeout       float64
	Preview       bool
	// Changes is diff's answer (the top-level keys that differ), Paths the
	// dotted paths that differ, ReplaceOn those that force a replacement,
	// DeleteBeforeReplace its order; Err is the error the fake returned.
	Changes             []string
	Paths               []string
	Replace             bool
	ReplaceOn           []string
	DeleteBeforeReplace bool
	Err                 string
}

// FakeAccount is the account of every ARN the fake makes.
const FakeAccount = "123456789012"

// FakeCallerRole is the role the deployment runs as: GetCallerIdentity
// answers an STS session of it, and EKS makes it admin of the clusters it
// creates (bootstrapClusterCreatorAdminPermissions).
const FakeCallerRole = "arn:aws:iam::" + FakeAccount + ":role/platform-admin"

// StartFakeAWS serves the fake provider on a loopback port.
func StartFakeAWS(version string) (*FakeAWS, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &FakeAWS{
		Version: version, server: grpc.NewServer(), port: l.Addr().(*net.TCPAddr).Port,
		live: map[string]*FakeResource{}, region: "us-west-2", implicitEntries: map[string][]string{},
	}
	pulumirpc.RegisterResourceProviderServer(f.server, f)
	go func() { _ = f.server.Serve(l) }()
	return f, nil
}

// DebugProviders is the PULUMI_DEBUG_PROVIDERS entry that routes aws here.
func (f *FakeAWS) DebugProviders() string { return fmt.Sprintf("aws:%d", f.port) }

func (f *FakeAWS) Stop() { f.server.Stop() }

// SetEKSEndpoint makes every EKS cluster the fake creates answer with this
// endpoint and CA (base64 of the PEM), as DescribeCluster does.
func (f *FakeAWS) SetEKSEndpoint(endpoint, caData string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.endpoint, f.caData = endpoint, caData
}

// Live returns the URNs of the resources the fake currently holds.
func (f *FakeAWS) Live() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var urns []string
	for urn := range f.live {
		urns = append(urns, urn)
	}
	sort.Strings(urns)
	return urns
}

// Resources returns copies of the live resources of type typ ("" = all).
func (f *FakeAWS) Resources(typ string) []FakeResource {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []FakeResource
	for _, r := range f.live {
		if typ == "" || r.Type == typ {
			out = append(out, FakeResource{URN: r.URN, Type: r.Type, ID: r.ID, Inputs: deepCopy(r.Inputs), Outputs: deepCopy(r.Outputs)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URN < out[j].URN })
	return out
}

// Ops returns the calls recorded so far, in order.
func (f *FakeAWS) Ops() []Op {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ops)
}

// Mutate changes a live resource out of band, as someone acting on AWS
// directly would (the Cluster Autoscaler setting a desired size): edit gets
// its inputs and outputs; a later refresh reads them.
func (f *FakeAWS) Mutate(urn string, edit func(inputs, outputs map[string]any)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.live[urn]
	if !ok {
		return fmt.Errorf("the fake holds no %s", urn)
	}
	edit(r.Inputs, r.Outputs)
	return nil
}

func (f *FakeAWS) record(op Op) {
	op.Seq = len(f.ops) + 1
	f.ops = append(f.ops, op)
}

func (f *FakeAWS) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: f.Version}, nil
}

// Attach is how the engine hands an attached provider its address.
func (f *FakeAWS) Attach(context.Context, *pulumirpc.PluginAttach) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (f *FakeAWS) Handshake(context.Context, *pulumirpc.ProviderHandshakeRequest) (*pulumirpc.ProviderHandshakeResponse, error) {
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true}, nil
}

func (f *FakeAWS) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: fmt.Sprintf(`{"name":"aws","version":%q}`, f.Version)}, nil
}

func (f *FakeAWS) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (f *FakeAWS) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (f *FakeAWS) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	region := req.GetVariables()["aws:config:region"]
	if r := req.GetArgs().GetFields()["region"].GetStringValue(); r != "" {
		region = r
	}
	var defaults map[string]any
	if v := req.GetVariables()["aws:config:defaultTags"]; v != "" {
		var dt struct{ Tags map[string]any }
		if err := json.Unmarshal([]byte(v), &dt); err != nil {
			return nil, fmt.Errorf("aws:defaultTags %q: %w", v, err)
		}
		defaults = dt.Tags
	}
	if dt, ok := req.GetArgs().AsMap()["defaultTags"].(map[string]any); ok {
		defaults, _ = dt["tags"].(map[string]any)
	}
	f.mu.Lock()
	if region != "" && region != unknownValue {
		f.region = region
	}
	f.defaultTags = defaults
	f.mu.Unlock()
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

// Check names what the program left unnamed, as the real provider does in
// Check (autonaming from the engine's random seed), so a name is known in a
// preview, and lists the fields it filled in under __defaults, as the
// Terraform bridge does: Diff reads it to tell an explicit name (delete
// before replace) from an autoname.
func (f *FakeAWS) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news := req.GetNews().AsMap()
	typ := resourceType(req.GetType(), req.GetUrn())
	defaults := []any{}
	if field := fakeTypes[typ].autoname; field != "" {
		if _, set := news[field]; !set {
			if _, prefixed := news["namePrefix"]; !prefixed {
				if old, ok := req.GetOlds().AsMap()[field]; ok {
					news[field] = old
				} else {
					news[field] = urnName(req.GetUrn()) + "-" + hex.EncodeToString(req.GetRandomSeed())[:7]
				}
				defaults = append(defaults, field)
			}
		}
	}
	news[defaultsKey] = defaults
	out, err := structpb.NewStruct(news)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.record(Op{Kind: "check", URN: req.GetUrn(), Type: typ, Inputs: deepCopy(news)})
	f.mu.Unlock()
	return &pulumirpc.CheckResponse{Inputs: out}, nil
}

// defaultsKey is the bridge's reserved input listing the fields its Check
// filled in (pulumi-terraform-bridge pkg/tfbridge: reservedkeys.Defaults).
const defaultsKey = "__defaults"

// Diff compares the new inputs with the resource's state (its outputs, as
// the Terraform bridge diffs the plan against the prior state, so a value
// changed in AWS and read by a refresh shows), leaving out the ignoreChanges
// paths the engine passes on. Maps are compared whole (a removed tag is a
// change) except the type's computed paths; set-typed paths ignore order;
// policies compare by equivalence (fakeType.diff). A change at or under a
// path of the type's replaceOn list replaces the resource, as a ForceNew
// attribute does; the replacement deletes first when the type's name field
// was set by the program (the bridge's nameRequiresDeleteBeforeReplace).
func (f *FakeAWS) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	typ := resourceType(req.GetType(), req.GetUrn())
	t := fakeTypes[typ]
	olds, news := compared(req.GetOlds().AsMap(), req.GetOldInputs().AsMap(), req.GetNews().AsMap(), req.GetIgnoreChanges())
	paths := t.diff(olds, news)
	var changed []string
	for _, p := range paths {
		top, _, _ := strings.Cut(p, ".")
		if !slices.Contains(changed, top) {
			changed = append(changed, top)
		}
	}
	replaces := t.replaces(olds, news, paths)
	dbr := len(replaces) > 0 && (t.deleteBeforeReplace || t.nameSetExplicitly(news))
	f.mu.Lock()
	f.record(Op{Kind: "diff", URN: req.GetUrn(), Type: typ, ID: req.GetId(), Inputs: deepCopy(news),
		IgnoreChanges: req.GetIgnoreChanges(), Changes: changed, Paths: paths, Replace: len(replaces) > 0, ReplaceOn: replaces, DeleteBeforeReplace: dbr})
	f.mu.Unlock()
	if len(changed) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: changed, Replaces: replaces, DeleteBeforeReplace: dbr}, nil
}

// compared are the state and the configuration a diff compares: the state's
// values of the keys the old or the new inputs set, and the new inputs,
// both without the ignoreChanges paths.
func compared(state, oldInputs, newInputs map[string]any, ignore []string) (olds, news map[string]any) {
	olds, news = map[string]any{}, deepCopy(newInputs)
	for k := range oldInputs {
		olds[k] = state[k]
	}
	for k := range news {
		olds[k] = state[k]
	}
	olds = deepCopy(olds)
	for _, p := range ignore {
		dropPath(olds, p)
		dropPath(news, p)
	}
	return olds, news
}

func (f *FakeAWS) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	typ := resourceType(req.GetType(), req.GetUrn())
	inputs := req.GetProperties().AsMap()
	f.mu.Lock()
	defer f.mu.Unlock()
	op := Op{Kind: "create", URN: req.GetUrn(), Type: typ, Inputs: deepCopy(inputs), Timeout: req.GetTimeout(), Preview: req.GetPreview()}
	// A preview does not call AWS: the rules apply to the real create.
	if err := f.checkCreate(req.GetUrn(), typ, inputs, false); err != nil && !req.GetPreview() {
		op.Err = err.Error()
		f.record(op)
		return nil, status.Error(codes.Unknown, err.Error())
	}
	r := &FakeResource{URN: req.GetUrn(), Type: typ, Inputs: inputs}
	r.ID, r.Outputs = f.outputs(r, nil, nil, req.GetPreview())
	op.ID = r.ID
	f.record(op)
	props, err := structpb.NewStruct(r.Outputs)
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		return &pulumirpc.CreateResponse{Properties: props}, nil
	}
	f.live[r.URN] = r
	f.created(r)
	return &pulumirpc.CreateResponse{Id: r.ID, Properties: props}, nil
}

func (f *FakeAWS) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	typ := resourceType(req.GetType(), req.GetUrn())
	news := req.GetNews().AsMap()
	f.mu.Lock()
	defer f.mu.Unlock()
	op := Op{Kind: "update", URN: req.GetUrn(), Type: typ, ID: req.GetId(), Inputs: deepCopy(news),
		IgnoreChanges: req.GetIgnoreChanges(), Timeout: req.GetTimeout(), Preview: req.GetPreview()}
	if err := f.checkCreate(req.GetUrn(), typ, news, true); err != nil && !req.GetPreview() {
		op.Err = err.Error()
		f.record(op)
		return nil, status.Error(codes.Unknown, err.Error())
	}
	f.record(op)
	r := &FakeResource{URN: req.GetUrn(), Type: typ, ID: req.GetId(), Inputs: news}
	olds, compare := compared(req.GetOlds().AsMap(), req.GetOldInputs().AsMap(), news, req.GetIgnoreChanges())
	_, r.Outputs = f.outputs(r, req.GetOlds().AsMap(), fakeTypes[typ].diff(olds, compare), req.GetPreview())
	props, err := structpb.NewStruct(r.Outputs)
	if err != nil {
		return nil, err
	}
	if !req.GetPreview() {
		f.live[r.URN] = r
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

// Read answers a refresh with what the fake holds now (Mutate included);
// a resource it does not hold is gone (empty id).
func (f *FakeAWS) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.live[req.GetUrn()]
	f.record(Op{Kind: "read", URN: req.GetUrn(), Type: resourceType(req.GetType(), req.GetUrn()), ID: req.GetId()})
	if !ok || r.ID != req.GetId() {
		return &pulumirpc.ReadResponse{}, nil
	}
	props, err := structpb.NewStruct(r.Outputs)
	if err != nil {
		return nil, err
	}
	inputs, err := structpb.NewStruct(r.Inputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: r.ID, Properties: props, Inputs: inputs}, nil
}

func (f *FakeAWS) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	typ := resourceType(req.GetType(), req.GetUrn())
	f.mu.Lock()
	defer f.mu.Unlock()
	op := Op{Kind: "delete", URN: req.GetUrn(), Type: typ, ID: req.GetId(), Inputs: req.GetOldInputs().AsMap(), Timeout: req.GetTimeout()}
	if r, ok := f.live[req.GetUrn()]; ok {
		if err := f.checkDelete(r); err != nil {
			op.Err = err.Error()
			f.record(op)
			return nil, status.Error(codes.Unknown, err.Error())
		}
		f.deleted(r)
	}
	f.record(op)
	delete(f.live, req.GetUrn())
	return &emptypb.Empty{}, nil
}

func (f *FakeAWS) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// resourceType is the request's type, or the URN's for older engines.
func resourceType(typ, urn string) string {
	if typ != "" {
		return typ
	}
	parts := strings.Split(urn, "::")
	if len(parts) < 2 {
		return ""
	}
	t := parts[len(parts)-2]
	return t[strings.LastIndex(t, "$")+1:]
}

// urnName is the resource name part of a URN.
func urnName(urn string) string {
	return urn[strings.LastIndex(urn, "::")+2:]
}

// dropPath removes a dotted property path (scalingConfig.desiredSize).
func dropPath(m map[string]any, path string) {
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
	delete(m, keys[len(keys)-1])
}

// shortHash is a stable hex string of n characters derived from s.
func shortHash(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

func unionKeys(a, b map[string]any) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// deepCopy copies a JSON-like value through structpb's types.
func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	s, err := structpb.NewStruct(m)
	if err != nil {
		return m
	}
	return s.AsMap()
}

// unknownValue is how the engine marks a value unknown in a preview.
const unknownValue = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

// forget drops a live resource as if someone deleted it outside Pulumi.
func (f *FakeAWS) forget(urn string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.live, urn)
}
