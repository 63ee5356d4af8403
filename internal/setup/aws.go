package setup

import "context"

// AWSSteps is the AWS and Pulumi part of setup, behind an interface so that
// the GitHub part is tested without AWS (the real one is PulumiSteps).
// Both methods are idempotent and, with dryRun, change nothing.
type AWSSteps interface {
	// Bootstrap makes the state bucket, the KMS key and the CI roles exist
	// (stacks/bootstrap) and returns its outputs.
	Bootstrap(ctx context.Context, in BootstrapInput, dryRun bool) (BootstrapOutputs, []Change, error)
	// Stack makes the stack exist in the backend with the KMS secrets
	// provider, its secretsprovider:/encryptedkey: lines in
	// Pulumi.<stack>.yaml, and the CI roles in its config.
	Stack(ctx context.Context, in StackInput, dryRun bool) ([]Change, error)
}

// BootstrapInput is the bootstrap's config (stacks/bootstrap/Pulumi.example.yaml).
type BootstrapInput struct {
	Region        string
	Repository    string // owner/name as GitHub spells it
	SubjectPrefix string // read from GitHub
	Environments  []string
	Runners       string // Config.Runners
}

// BootstrapOutputs are the bootstrap's stack outputs.
type BootstrapOutputs struct {
	BackendURL      string // backendUrl
	SecretsProvider string // secretsProvider
	PreviewRoleArn  string // previewRoleArn
	ApplyRoleArn    string // applyRoleArn
	// Runners is the runner pools' outputs; nil without them.
	Runners *RunnerOutputs
}

// RunnerOutputs are the bootstrap's outputs about its runner pools
// (statebackend.OutputRunner*).
type RunnerOutputs struct {
	EgressIP      string
	ConnectionArn string
	Webhooks      []PoolWebhook
}

// PoolWebhook is where GitHub sends a pool's queued jobs.
type PoolWebhook struct {
	Pool, PayloadURL, Secret string
}

// StackInput is what a stack of the main project needs from the bootstrap.
type StackInput struct {
	Stack, Region, BackendURL, SecretsProvider string
	PreviewRoleArn, ApplyRoleArn               string
	// RunnerEgressIP, when set, is the runners' one address, which the
	// stack's public API endpoint must admit.
	RunnerEgressIP string
}

// ConnectionReader reads the status of a CodeConnections connection
// (PENDING until its handshake, then AVAILABLE).
type ConnectionReader interface {
	ConnectionStatus(ctx context.Context, region, arn string) (string, error)
}
