package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func run(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = dispatch(args, &o, &e)
	return code, o.String(), e.String()
}

func TestDispatch(t *testing.T) {
	code, _, stderr := run()
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "Usage: aiplatform <command>")

	code, _, stderr = run("plan")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, `unknown command "plan"`)

	code, stdout, _ := run("-h")
	assert.Equal(t, exitOK, code)
	for _, name := range []string{"preview", "cost", "cost-diff"} {
		assert.Contains(t, stdout, "  "+name+" ", "help lists %s", name)
	}
}

// Every subcommand's -h names its inputs, outputs and exit codes (issue 23).
func TestEverySubcommandDocumentsInputsOutputsAndExitCodes(t *testing.T) {
	require.NotEmpty(t, subcommands)
	for name := range subcommands {
		code, _, stderr := run(name, "-h")
		assert.Equal(t, exitOK, code, name)
		for _, want := range []string{"Usage: aiplatform " + name, "Input", "Output", "Exit"} {
			assert.Contains(t, stderr, want, "%s -h", name)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"preview", "-nope"},
		{"preview", "extra"},
		{"cost-diff"},
		{"cost-diff", "-base", "b.json"},
	} {
		code, _, _ := run(args...)
		assert.Equal(t, exitUsage, code, "%v", args)
	}
	code, _, stderr := run("cost", "-dir", "../..", "-format", "xml")
	assert.Equal(t, exitFail, code)
	assert.Contains(t, stderr, `-format: "xml" is not text or json`)
}

// The committed dev stack, end to end through the CLI: the plan, its price
// and a difference of the price with itself.
func TestDevStack(t *testing.T) {
	code, stdout, stderr := run("preview", "-dir", "../..", "-stack", "dev")
	require.Equal(t, exitOK, code, stderr)
	assert.Regexp(t, `\n\d+ resources to create, not counting the children of \d+ components this offline preview cannot see \(\d+ Helm charts, \d+ pulumi-eks\)\.\n$`, stdout)
	assert.Contains(t, stdout, "aiplatform:infra:Cluster")
	assert.Contains(t, stdout, "[children made by pulumi-eks at deploy: not visible offline]")

	// A preview, not an update: values decided during the update are unknown
	// (issue 19, item 11).
	code, stdout, stderr = run("preview", "-dir", "../..", "-stack", "dev", "-details")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "(known after apply)")
	assert.Contains(t, stdout, "[secret]")

	code, stdout, stderr = run("cost", "-dir", "../..", "-stack", "dev", "-at", "2026-12-01")
	require.Equal(t, exitOK, code, stderr)
	assert.Regexp(t, `(?m)^TOTAL`, stdout)

	code, stdout, stderr = run("cost", "-dir", "../..", "-stack", "dev", "-at", "2026-12-01", "-format", "json")
	require.Equal(t, exitOK, code, stderr)
	f := filepath.Join(t.TempDir(), "e.json")
	require.NoError(t, os.WriteFile(f, []byte(stdout), 0o644))
	code, stdout, stderr = run("cost-diff", "-base", f, "-head", f)
	require.Equal(t, exitOK, code, stderr)
	assert.True(t, strings.HasPrefix(stdout, "###") || strings.Contains(stdout, "Cost"), stdout)

	code, _, stderr = run("preview", "-dir", "../..", "-stack", "nosuchstack")
	assert.Equal(t, exitFail, code)
	assert.Contains(t, stderr, "aiplatform preview:")
}

// The bootstrap project is priced as itself: the state bucket and key,
// and with the runners option the runner pools (stacks/bootstrap's example
// stack, with the commented runners key turned on).
func TestCostOfTheBootstrap(t *testing.T) {
	code, stdout, stderr := run("cost", "-dir", "../../stacks/bootstrap", "-stack", "example", "-at", "2026-12-01")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "KMS key aiplatform-pulumi-state")
	assert.NotContains(t, stdout, "CodeBuild runners aiplatform")

	dir := t.TempDir()
	project, err := os.ReadFile("../../stacks/bootstrap/Pulumi.yaml")
	require.NoError(t, err)
	example, err := os.ReadFile("../../stacks/bootstrap/Pulumi.example.yaml")
	require.NoError(t, err)
	on := strings.Replace(string(example), "  # aiplatform-bootstrap:runners:\n  #   kind: codebuild\n", "  aiplatform-bootstrap:runners:\n    kind: codebuild\n", 1)
	require.NotEqual(t, string(example), on, "the example stack names the runners key")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), project, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.runners.yaml"), []byte(on), 0o644))
	code, stdout, stderr = run("cost", "-dir", dir, "-stack", "runners", "-at", "2026-12-01", "-runner-minutes", "3000")
	require.Equal(t, exitOK, code, stderr)
	assert.Regexp(t, `CodeBuild runners aiplatform-ci-runners-deploy.*1500 build-minutes/month \(assumed\) on BUILD_GENERAL1_MEDIUM`, stdout)
	assert.Contains(t, stdout, "NAT gateway aiplatform-ci-runners-nat")
}
