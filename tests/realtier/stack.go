package realtier

import (
	"context"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ProjectName is the Pulumi project of the tier's stacks.
const ProjectName = "realtier"

// Backend is everything a workspace needs to reach the state bucket and the
// locally built CLI and provider, and nothing from the user's environment.
type Backend struct {
	Tools      Tools
	URL        string // the DIY backend URL, s3://...
	PulumiHome string
	// DebugProviders routes providers to in-process fakes (PULUMI_DEBUG_PROVIDERS).
	DebugProviders string
}

// Env is the CLI's environment: S3 credentials are dummies (gofakes3 does not
// check signatures), plugins resolve from PATH only, nothing is downloaded.
func (b Backend) Env() map[string]string {
	env := map[string]string{
		"PULUMI_BACKEND_URL":       b.URL,
		"PULUMI_CONFIG_PASSPHRASE": "realtier-passphrase",
		"PULUMI_HOME":              b.PulumiHome,
		"PATH":                     filepath.Dir(b.Tools.KubernetesProvider) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"PULUMI_SKIP_UPDATE_CHECK": "true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		"PULUMI_DIY_BACKEND_NO_LEGACY_WARNING":        "true",
		"AWS_ACCESS_KEY_ID":                           "realtier",
		"AWS_SECRET_ACCESS_KEY":                       "realtier",
		"AWS_EC2_METADATA_DISABLED":                   "true",
		"AWS_CONFIG_FILE":                             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE":                 os.DevNull,
		"KUBECONFIG":                                  os.DevNull,
		// The DIY backend otherwise writes the whole checkpoint to the
		// bucket after every step (backend/snapshot.go defaultServiceLoop),
		// which is quadratic in the stack's size: the charts program's up
		// of 337 resources took 2m49s with it and 36 s without, its destroy
		// 3m19s and 31 s. With it the snapshot is written once, when the
		// operation ends, failed or not (unsafeServiceLoop saves on close),
		// which is all the tier reads. What it gives up is the state of a
		// CLI that crashes mid-update, which no test here exercises.
		"PULUMI_SKIP_CHECKPOINTS": "true",
	}
	if b.DebugProviders != "" {
		env["PULUMI_DEBUG_PROVIDERS"] = b.DebugProviders
	}
	return env
}

// Stack opens (or creates) stackName with an inline program, in its own
// workspace directory so several can run at once.
func (b Backend) Stack(ctx context.Context, stackName, workDir string, program pulumi.RunFunc) (auto.Stack, error) {
	cli, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: filepath.Dir(filepath.Dir(b.Tools.Pulumi))})
	if err != nil {
		return auto.Stack{}, err
	}
	return auto.UpsertStackInlineSource(ctx, stackName, ProjectName, program,
		auto.Pulumi(cli),
		auto.WorkDir(workDir),
		auto.PulumiHome(b.PulumiHome),
		auto.EnvVars(b.Env()),
		auto.SecretsProvider("passphrase"),
		auto.Project(workspace.Project{
			Name:    ProjectName,
			Runtime: workspace.NewProjectRuntimeInfo("go", nil),
			Backend: &workspace.ProjectBackend{URL: b.URL},
		}),
	)
}
