package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/aiplatform/infra/internal/modelrepo"
)

const modelsDoc = `Check a Triton model repository, or upload it to the stack's model bucket.

  aiplatform models check DIR
  aiplatform models push [-stack NAME] [-delete] [-dry-run] [-prefix P] DIR

Input: DIR, a Triton model repository: one directory per model holding a
config.pbtxt (its backend or platform) and numeric version directories
(1/, 2/, ...). push also reads the stack output tritonModelRepository
(s3://<bucket>/<prefix>; while Triton is off, modelBucketName and -prefix)
with ` + "`pulumi stack output --json`" + ` and uploads
with ` + "`aws s3 sync`" + `; both CLIs must be on PATH and logged in.

Output: check prints the models it found, or every problem with the path it
concerns. push prints the commands it runs and what Triton does next in
each model-control mode (docs/inference.md).

Exit codes: 0 the repository is valid (and uploaded), 1 it is not, or a
command failed, 2 usage error.`

// commandRunner runs an external command; tests replace it.
type commandRunner func(ctx context.Context, stdout, stderr io.Writer, name string, args ...string) error

func execRunner(ctx context.Context, stdout, stderr io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("%s is not on PATH; install it (docs/deploy.md, prerequisites)", name)
		}
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

// runModelsCommand is how models push runs pulumi and aws.
var runModelsCommand commandRunner = execRunner

func modelsUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: aiplatform models check|push [flags] DIR\n\n%s\n\nFlags (push):\n", modelsDoc)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func init() {
	register("models", "check a Triton model repository, or push it to the stack's bucket", runModels)
}

func runModels(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("models", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	stack := fs.String("stack", "", "stack whose outputs name the bucket and prefix (default: the selected stack)")
	del := fs.Bool("delete", false, "also delete objects under the prefix that DIR does not have (e.g. the sample models)")
	dryRun := fs.Bool("dry-run", false, "print the upload without changing the bucket (aws s3 sync --dryrun)")
	prefix := fs.String("prefix", "models", "the model prefix (triton.modelPrefix), used only while Triton is off and the stack has no tritonModelRepository output")
	action, code, ok := parseAction("models", args, fs, func() { modelsUsage(stderr, fs) }, stderr, "check", "push")
	if !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "aiplatform models %s: give exactly one DIR (the model repository), got %d arguments\n", action, fs.NArg())
		return exitUsage
	}
	if action == "check" && (*stack != "" || *del || *dryRun || *prefix != "models") {
		fmt.Fprintf(stderr, "aiplatform models check: -stack, -delete, -dry-run and -prefix are push flags\n")
		return exitUsage
	}
	dir := fs.Arg(0)
	if !checkModels(dir, stdout, stderr) {
		return exitFail
	}
	if action == "check" {
		return exitOK
	}
	if err := pushModels(context.Background(), dir, *stack, *prefix, *del, *dryRun, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "aiplatform models push: %v\n", err)
		return exitFail
	}
	return exitOK
}

// checkModels prints the repository's models or its problems.
func checkModels(dir string, stdout, stderr io.Writer) bool {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "aiplatform models: %s is not a directory\n", dir)
		return false
	}
	models, err := modelrepo.Check(os.DirFS(dir))
	if err != nil {
		fmt.Fprintf(stderr, "aiplatform models: %s is not a valid Triton model repository:\n", dir)
		for _, e := range flatten(err) {
			fmt.Fprintf(stderr, "  - %v\n", e)
		}
		return false
	}
	for _, m := range models {
		kind := "backend " + m.Backend
		if m.Platform != "" {
			kind = "platform " + m.Platform
		}
		line := fmt.Sprintf("%s (%s, versions %v)", m.Name, kind, m.Versions)
		if len(m.Steps) > 0 {
			line += ": " + strings.Join(m.Steps, " → ")
		}
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintf(stdout, "ok: %d models\n", len(models))
	return true
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// pushModels syncs dir to the stack's model repository (the
// tritonModelRepository output).
func pushModels(ctx context.Context, dir, stack, prefix string, del, dryRun bool, stdout, stderr io.Writer) error {
	args := []string{"stack", "output", "--json"}
	if stack != "" {
		args = append(args, "--stack", stack)
	}
	var out bytes.Buffer
	if err := runModelsCommand(ctx, &out, stderr, "pulumi", args...); err != nil {
		return fmt.Errorf("reading the stack outputs: %w", err)
	}
	var outputs map[string]any
	if err := json.Unmarshal(out.Bytes(), &outputs); err != nil {
		return fmt.Errorf("`pulumi %s` did not print JSON: %w", strings.Join(args, " "), err)
	}
	repo, _ := outputs["tritonModelRepository"].(string)
	if !strings.HasPrefix(repo, "s3://") || len(repo) <= len("s3://") {
		// Triton off (e.g. to fill the prefix before its first start): the bucket and -prefix.
		bucket, _ := outputs["modelBucketName"].(string)
		if bucket == "" {
			return errors.New("the stack has neither a tritonModelRepository nor a modelBucketName output: it was never deployed; run `pulumi up` first")
		}
		if prefix == "" || strings.HasPrefix(prefix, "/") || strings.HasSuffix(prefix, "/") {
			return fmt.Errorf("-prefix %q must be a folder like models (triton.modelPrefix)", prefix)
		}
		repo = "s3://" + bucket + "/" + prefix
		fmt.Fprintf(stdout, "Triton is off in this stack: uploading to %s (-prefix); it must equal triton.modelPrefix\n", repo)
	}
	sync := []string{"s3", "sync", dir, strings.TrimSuffix(repo, "/") + "/", "--only-show-errors", "--no-progress"}
	if del {
		sync = append(sync, "--delete")
	}
	if dryRun {
		sync = append(sync, "--dryrun")
	}
	// No --sse: the bucket's default encryption applies its own KMS key
	// (`--sse aws:kms` without a key id would use the AWS-managed aws/s3 key).
	fmt.Fprintf(stdout, "aws %s\n", strings.Join(sync, " "))
	if err := runModelsCommand(ctx, stdout, stderr, "aws", sync...); err != nil {
		return fmt.Errorf("uploading: %w", err)
	}
	if dryRun {
		return nil
	}
	fmt.Fprintf(stdout, "uploaded to %s. Triton picks it up by its model-control mode (triton.modelControlMode):\n"+
		"  poll:     within repositoryPollSeconds\n"+
		"  none:     at the next start: kubectl -n triton rollout restart deployment/triton\n"+
		"  explicit: when loaded: POST /v2/repository/models/<name>/load (and listed in triton.models for restarts)\n", repo)
	return nil
}
