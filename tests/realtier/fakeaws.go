package realtier

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// FakeAWS is an in-process stand-in for the aws resource provider, attached
// by the engine through PULUMI_DEBUG_PROVIDERS. There is no AWS here and no
// IAM emulator; the workloads' only AWS resources are IRSA roles, and what the
// tier checks is that their ARNs reach the Kubernetes objects. It records
// every live resource by URN so the test can assert creates and deletes.
type FakeAWS struct {
	pulumirpc.UnimplementedResourceProviderServer

	// Version is reported to the engine; it must match the SDK's pin.
	Version string

	server *grpc.Server
	port   int

	mu   sync.Mutex
	live map[string]string // URN -> ID
}

// StartFakeAWS serves the fake provider on a loopback port.
func StartFakeAWS(version string) (*FakeAWS, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &FakeAWS{Version: version, server: grpc.NewServer(), port: l.Addr().(*net.TCPAddr).Port, live: map[string]string{}}
	pulumirpc.RegisterResourceProviderServer(f.server, f)
	go func() { _ = f.server.Serve(l) }()
	return f, nil
}

// DebugProviders is the PULUMI_DEBUG_PROVIDERS entry that routes aws here.
func (f *FakeAWS) DebugProviders() string { return fmt.Sprintf("aws:%d", f.port) }

func (f *FakeAWS) Stop() { f.server.Stop() }

// Live returns the URNs of the resources the fake currently holds.
func (f *FakeAWS) Live() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var urns []string
	for urn := range f.live {
		urns = append(urns, urn)
	}
	return urns
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

func (f *FakeAWS) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

func (f *FakeAWS) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (f *FakeAWS) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	if proto.Equal(req.GetOldInputs(), req.GetNews()) {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME}, nil
}

func (f *FakeAWS) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	id, props := fakeOutputs(req.GetUrn(), req.GetProperties())
	if req.GetPreview() {
		return &pulumirpc.CreateResponse{Properties: props}, nil
	}
	f.mu.Lock()
	f.live[req.GetUrn()] = id
	f.mu.Unlock()
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

func (f *FakeAWS) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	_, props := fakeOutputs(req.GetUrn(), req.GetNews())
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func (f *FakeAWS) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (f *FakeAWS) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	f.mu.Lock()
	delete(f.live, req.GetUrn())
	f.mu.Unlock()
	return &emptypb.Empty{}, nil
}

func (f *FakeAWS) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// fakeOutputs echoes the inputs and adds what AWS would compute: a name when
// none was given, the id and an ARN in a fixed test account.
func fakeOutputs(urn string, inputs *structpb.Struct) (string, *structpb.Struct) {
	out := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	for k, v := range inputs.GetFields() {
		out.Fields[k] = v
	}
	parts := strings.Split(urn, "::")
	name := parts[len(parts)-1]
	if n := out.Fields["name"].GetStringValue(); n != "" {
		name = n
	} else {
		out.Fields["name"] = structpb.NewStringValue(name)
	}
	kind := "resource"
	if len(parts) >= 2 {
		// ...::aws:iam/role:Role::name -> "role"
		typ := parts[len(parts)-2]
		if i := strings.LastIndex(typ, "$"); i >= 0 {
			typ = typ[i+1:]
		}
		if seg := strings.Split(typ, ":"); len(seg) == 3 {
			kind = strings.ToLower(seg[2])
		}
	}
	out.Fields["id"] = structpb.NewStringValue(name)
	out.Fields["arn"] = structpb.NewStringValue("arn:aws:iam::123456789012:" + kind + "/" + name)
	return name, out
}
