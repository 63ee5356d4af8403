// Command bootstrap creates the Pulumi state backend of the aiplatform project
// (S3 bucket, KMS secrets key, CI roles). It is its own Pulumi project with a
// local backend, run once per AWS account before any stack of the main project.
package main

import (
	"github.com/aiplatform/infra/stacks/bootstrap/statebackend"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() { pulumi.Run(statebackend.Run) }
