package realtier

import (
	"fmt"
	"regexp"

	"github.com/aiplatform/infra/stacks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PlatformProgram is the whole program, stacks.Run, as main.go runs it, with
// the tier's stack transforms registered first (SkipAwait: no nodes run
// here; DisarmAdmissionWebhooks: no webhook has a pod behind it). Nothing
// else is test-only: the infra layer goes through the real pulumi-eks
// provider to the fake AWS provider, and the workloads reach the local
// kube-apiserver through the kubeconfig pulumi-eks builds from the fake
// cluster's endpoint and CA, which authenticates with `aws eks get-token`
// (the awsstub command).
func PlatformProgram(ctx *pulumi.Context) error {
	if err := RegisterTestTransforms(ctx); err != nil {
		return err
	}
	return stacks.Run(ctx)
}

var runtimeLine = regexp.MustCompile(`(?m)^runtime: go[ \t]*$`)

// PlatformProjectYAML is the repository's Pulumi.yaml (name, config
// declarations and their defaults) with `runtime: go` given a prebuilt
// binary, so the CLI runs the program without compiling it.
func PlatformProjectYAML(repoPulumiYAML []byte, binary string) (string, error) {
	if !runtimeLine.Match(repoPulumiYAML) {
		return "", fmt.Errorf("Pulumi.yaml has no line `runtime: go` to give a binary")
	}
	return runtimeLine.ReplaceAllString(string(repoPulumiYAML), fmt.Sprintf("runtime:\n  name: go\n  options:\n    binary: %q", binary)), nil
}
