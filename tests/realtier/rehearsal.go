package realtier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// RehearsalProject is the Pulumi project of the pipeline rehearsal: a real
// project directory (Pulumi.yaml, Pulumi.<stack>.yaml) whose program is the
// compiled binary of ./rehearsal, so .github/scripts run against it exactly as
// CI runs them against the repository root.
const RehearsalProject = "realtier-rehearsal"

// RehearsalProgram is the rehearsal's Pulumi program: the charts scenario's
// program (ChartsScenario: every add-on chart from the packaged charts, then
// the typed AI workloads, Triton and lds-service), configured from stack
// config so a change is a `pulumi config set`:
//
//	kubeconfig   (secret, required) the loopback API server's kubeconfig
//	chartsDir    (required) the packaged charts directory (FindCharts)
//	maxReplicas  Triton's HPA maximum (unset: the scenario's 3)
//	ldsLogLevel  lds-service's LOG_LEVEL setting (unset: the scenario's info)
//
// The charts scenario fixes the workloads' specs, so the two knobs reach them
// through RehearsalKnobs, a stack transform on the two objects they feed.
func RehearsalProgram(ctx *pulumi.Context) error {
	kubeconfig, err := kubeconfigString(ctx)
	if err != nil {
		return err
	}
	dir := rehearsalConfig(ctx, "chartsDir")
	if dir == "" {
		return errors.New("missing required configuration variable 'chartsDir' (pulumi config set chartsDir <packaged charts directory>)")
	}
	maxReplicas := 0
	if v := rehearsalConfig(ctx, "maxReplicas"); v != "" {
		if maxReplicas, err = strconv.Atoi(v); err != nil {
			return fmt.Errorf("maxReplicas: %w", err)
		}
	}
	if err := ctx.RegisterResourceTransform(RehearsalKnobs(maxReplicas, rehearsalConfig(ctx, "ldsLogLevel"))); err != nil {
		return err
	}
	return ChartsScenario(dir, nil).Program(kubeconfig, false, nil)(ctx)
}

// RehearsalKnobs is a stack transform that sets Triton's HPA spec.maxReplicas
// (when maxReplicas > 0) and lds-service's ConfigMap LOG_LEVEL (when logLevel
// is set). These are the only objects inference.TritonSpec.MaxReplicas and
// inference.ServiceSpec.Settings reach (triton.go: hpaSpec; service.go: the
// ConfigMap's data), so the inputs are the ones the typed specs would give.
// An input still unknown at preview is left alone.
func RehearsalKnobs(maxReplicas int, logLevel string) pulumi.ResourceTransform {
	return func(_ context.Context, args *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
		var key, field string
		var value pulumi.Input
		switch {
		case maxReplicas > 0 && args.Type == "kubernetes:autoscaling/v2:HorizontalPodAutoscaler" && args.Name == "triton":
			key, field, value = "spec", "maxReplicas", pulumi.Int(maxReplicas)
		case logLevel != "" && args.Type == "kubernetes:core/v1:ConfigMap" && args.Name == "lds":
			key, field, value = "data", "LOG_LEVEL", pulumi.String(logLevel)
		default:
			return nil
		}
		inner, ok := args.Props[key].(pulumi.Map)
		if !ok {
			return nil
		}
		edited := pulumi.Map{}
		for k, v := range inner {
			edited[k] = v
		}
		edited[field] = value
		props := pulumi.Map{}
		for k, v := range args.Props {
			props[k] = v
		}
		props[key] = edited
		return &pulumi.ResourceTransformResult{Props: props, Opts: args.Opts}
	}
}

// RehearsalProjectYAML is the rehearsal's Pulumi.yaml: runtime go with a
// prebuilt binary, so the CLI never compiles Go. No backend.url: like the
// repository's Pulumi.yaml, the backend comes from PULUMI_BACKEND_URL only.
func RehearsalProjectYAML(binary string) string {
	return fmt.Sprintf("name: %s\ndescription: pipeline rehearsal of the real-component tier\nruntime:\n  name: go\n  options:\n    binary: %s\n",
		RehearsalProject, strconv.Quote(binary))
}

// GoLanguageHost is an in-process stand-in for pulumi-language-go, attached
// through PULUMI_DEBUG_LANGUAGES (as FakeAWS is through
// PULUMI_DEBUG_PROVIDERS). The Go module proxy this project may use does not
// serve github.com/pulumi/pulumi/sdk/go/pulumi-language-go/v3, so .ci/tools.sh
// cannot build the real one; when a real pulumi-language-go is in the tools
// directory the rehearsal uses it instead. The stand-in implements only what
// the real host does for `runtime: {name: go, options: {binary: …}}`: run the
// prebuilt binary with the engine's run request in the PULUMI_* variables the
// Go SDK reads (sdk/go/pulumi/run.go), and report its failure. It compiles
// nothing and reports no required plugins (the engine then loads providers as
// the program registers resources, as for the tier's inline programs).
type GoLanguageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	// Env is the environment the program runs with (plus the PULUMI_* run
	// variables); Log receives its stdout and stderr.
	Env []string
	Log io.Writer

	server *grpc.Server
	port   int

	mu     sync.Mutex
	engine string // the engine address of the last handshake
	runs   int
}

// StartGoLanguageHost serves the stand-in on a loopback port.
func StartGoLanguageHost(env []string, log io.Writer) (*GoLanguageHost, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &GoLanguageHost{Env: env, Log: log, server: grpc.NewServer(), port: l.Addr().(*net.TCPAddr).Port}
	pulumirpc.RegisterLanguageRuntimeServer(h.server, h)
	go func() { _ = h.server.Serve(l) }()
	return h, nil
}

// DebugLanguages is the PULUMI_DEBUG_LANGUAGES entry that routes go here.
func (h *GoLanguageHost) DebugLanguages() string { return fmt.Sprintf("go:%d", h.port) }

func (h *GoLanguageHost) Stop() { h.server.Stop() }

// Runs counts the programs the host has run.
func (h *GoLanguageHost) Runs() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.runs
}

func (h *GoLanguageHost) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	h.engine = req.GetEngineAddress()
	h.mu.Unlock()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *GoLanguageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: "3.274.1"}, nil
}

func (h *GoLanguageHost) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *GoLanguageHost) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *GoLanguageHost) GetProgramDependencies(context.Context, *pulumirpc.GetProgramDependenciesRequest) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return &pulumirpc.GetProgramDependenciesResponse{}, nil
}

func (h *GoLanguageHost) InstallDependencies(*pulumirpc.InstallDependenciesRequest, grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse]) error {
	return nil
}

// Run executes the `binary` runtime option. Exit status 32 is the Go SDK's
// "error already reported to the engine" (pulumi.Run), which the real host
// turns into a bail.
func (h *GoLanguageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	binary := info.GetOptions().GetFields()["binary"].GetStringValue()
	if binary == "" {
		return nil, errors.New("the stand-in Go language host runs prebuilt programs only: set runtime.options.binary in Pulumi.yaml")
	}
	if !filepath.IsAbs(binary) {
		binary = filepath.Join(info.GetProgramDirectory(), binary)
	}
	configJSON, err := jsonString(req.GetConfig())
	if err != nil {
		return nil, err
	}
	secretKeys, err := jsonString(req.GetConfigSecretKeys())
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	engine := h.engine
	h.runs++
	h.mu.Unlock()
	if len(req.GetArgs()) > 0 && engine == "" {
		engine = req.GetArgs()[0]
	}
	cmd := exec.CommandContext(ctx, binary)
	cmd.Dir = info.GetProgramDirectory()
	if req.GetPwd() != "" {
		cmd.Dir = req.GetPwd()
	}
	cmd.Env = append(append([]string{}, h.Env...),
		pulumi.EnvProject+"="+req.GetProject(),
		pulumi.EnvStack+"="+req.GetStack(),
		pulumi.EnvOrganization+"="+req.GetOrganization(),
		pulumi.EnvPulumiRootDirectory+"="+info.GetRootDirectory(),
		pulumi.EnvConfig+"="+configJSON,
		pulumi.EnvConfigSecretKeys+"="+secretKeys,
		pulumi.EnvParallel+"="+strconv.Itoa(int(req.GetParallel())),
		pulumi.EnvDryRun+"="+strconv.FormatBool(req.GetDryRun()),
		pulumi.EnvMonitor+"="+req.GetMonitorAddress(),
		pulumi.EnvEngine+"="+engine,
	)
	var stderr tailBuffer
	cmd.Stdout = h.Log
	cmd.Stderr = io.MultiWriter(h.Log, &stderr)
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exit) && exit.ExitCode() == 32:
		return &pulumirpc.RunResponse{Bail: true}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("program %s failed: %v\n%s", binary, err, stderr.String())}, nil
	}
}

// tailBuffer keeps the last 4 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 4096 {
		b.buf = b.buf[len(b.buf)-4096:]
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// EnvList turns an environment map into os/exec's form, after base.
func EnvList(base []string, env map[string]string) []string {
	out := append([]string{}, base...)
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// ReadGitHubOutput parses a GITHUB_OUTPUT file's key=value lines (the scripts
// write no multi-line values); a key written twice keeps its last value.
func ReadGitHubOutput(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out, nil
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// rehearsalConfig is the project's config value key ("" when unset).
func rehearsalConfig(ctx *pulumi.Context, key string) string {
	v, _ := ctx.GetConfig(ctx.Project() + ":" + key)
	return v
}

// kubeconfigString reads the secret kubeconfig as plain text; every program
// wraps it in a secret (NewLocalProvider).
func kubeconfigString(ctx *pulumi.Context) (string, error) {
	v := rehearsalConfig(ctx, "kubeconfig")
	if v == "" {
		return "", errors.New("missing required configuration variable 'kubeconfig' (pulumi config set --secret kubeconfig < file)")
	}
	return v, nil
}
