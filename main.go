package main

import (
	"github.com/aiplatform/infra/stacks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() { pulumi.Run(stacks.Run) }
