// Command rehearsal is the Pulumi program of the real tier's pipeline
// rehearsal (rehearsal_test.go): realtier.RehearsalProgram, compiled once by
// the test and named as runtime.options.binary in a generated Pulumi.yaml, so
// the .github/scripts drive it through the real CLI like the repository's
// main.go.
package main

import (
	realtier "github.com/aiplatform/infra/tests/realtier"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() { pulumi.Run(realtier.RehearsalProgram) }
