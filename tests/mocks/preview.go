package mocks

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// previewMonitor serves the Recorder to the program over gRPC, as the
// engine's resource monitor does, for a preview. The SDK's own mock monitor
// cannot: it unmarshals registrations without KeepUnknowns
// (sdk/go/pulumi/mocks.go, RegisterResource), so an unknown secret input (a
// kept secret, the kubeconfig of a cluster not yet created) fails with
// "malformed RPC secret: missing value". Here unknowns travel both ways, and
// secrets and resource references as the engine carries them.
type previewMonitor struct {
	pulumirpc.UnimplementedResourceMonitorServer
	rec     *Recorder
	project string
	stack   string

	mu        sync.Mutex
	resources map[string]resource.PropertyMap
}

var previewOpts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true}

func (m *previewMonitor) SupportsFeature(_ context.Context, in *pulumirpc.SupportsFeatureRequest) (*pulumirpc.SupportsFeatureResponse, error) {
	// As the SDK's mock monitor: everything but output values, so inputs
	// arrive as plain values (and unknowns) rather than Output objects.
	return &pulumirpc.SupportsFeatureResponse{HasSupport: in.GetId() != "outputValues"}, nil
}

func (m *previewMonitor) RegisterResource(_ context.Context, in *pulumirpc.RegisterResourceRequest) (*pulumirpc.RegisterResourceResponse, error) {
	u := urn(in.GetParent(), in.GetType(), in.GetName())
	if in.GetType() == string(resource.RootStackType) && in.GetParent() == "" {
		return &pulumirpc.RegisterResourceResponse{Urn: u}, nil
	}
	inputs, err := plugin.UnmarshalProperties(in.GetObject(), previewOpts)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", in.GetType(), in.GetName(), err)
	}
	id, state, err := m.rec.NewResource(pulumi.MockResourceArgs{
		TypeToken: in.GetType(), Name: in.GetName(), Inputs: inputs, Provider: in.GetProvider(),
		ID: in.GetImportId(), Custom: in.GetCustom(), RegisterRPC: in,
	})
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.resources[u] = resource.PropertyMap{"urn": resource.NewProperty(u), "id": resource.NewProperty(id), "state": resource.NewProperty(state)}
	m.mu.Unlock()
	obj, err := plugin.MarshalProperties(state, previewOpts)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.RegisterResourceResponse{Urn: u, Id: id, Object: obj}, nil
}

func (m *previewMonitor) RegisterResourceOutputs(context.Context, *pulumirpc.RegisterResourceOutputsRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (m *previewMonitor) Invoke(_ context.Context, in *pulumirpc.ResourceInvokeRequest) (*pulumirpc.ResourceInvokeResponse, error) {
	args, err := plugin.UnmarshalProperties(in.GetArgs(), previewOpts)
	if err != nil {
		return nil, err
	}
	var out resource.PropertyMap
	if in.GetTok() == "pulumi:pulumi:getResource" {
		m.mu.Lock()
		r, ok := m.resources[args["urn"].StringValue()]
		m.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("unknown resource %s", args["urn"].StringValue())
		}
		out = r
	} else if out, err = m.rec.Call(pulumi.MockCallArgs{Token: in.GetTok(), Args: args, Provider: in.GetProvider()}); err != nil {
		return nil, err
	}
	ret, err := plugin.MarshalProperties(out, plugin.MarshalOptions{KeepSecrets: true, KeepResources: in.GetAcceptResources()})
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ResourceInvokeResponse{Return: ret}, nil
}

func (m *previewMonitor) SignalAndWaitForShutdown(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// previewEngine is the engine half: logs and the root resource.
type previewEngine struct {
	pulumirpc.UnimplementedEngineServer
	mu   sync.Mutex
	root string
}

func (e *previewEngine) Log(context.Context, *pulumirpc.LogRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (e *previewEngine) GetRootResource(context.Context, *pulumirpc.GetRootResourceRequest) (*pulumirpc.GetRootResourceResponse, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return &pulumirpc.GetRootResourceResponse{Urn: e.root}, nil
}

func (e *previewEngine) SetRootResource(_ context.Context, in *pulumirpc.SetRootResourceRequest) (*pulumirpc.SetRootResourceResponse, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.root = in.GetUrn()
	return &pulumirpc.SetRootResourceResponse{}, nil
}

// runPreview runs body as a preview (RunInfo.DryRun) against rec served
// over gRPC on loopback.
func runPreview(rec *Recorder, body pulumi.RunFunc) error {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(400 << 20))
	pulumirpc.RegisterResourceMonitorServer(srv, &previewMonitor{rec: rec, project: Project, stack: Stack, resources: map[string]resource.PropertyMap{}})
	pulumirpc.RegisterEngineServer(srv, &previewEngine{})
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	addr := lis.Addr().String()
	return pulumi.RunErr(body, func(info *pulumi.RunInfo) {
		info.Project, info.Stack, info.DryRun = Project, Stack, true
		info.MonitorAddr, info.EngineAddr = addr, addr
		info.Mocks = nil
	})
}
