// Command platform is the platform scenario's Pulumi program: the whole
// program (stacks.Run: VPC, EKS through pulumi-eks, node groups, IRSA,
// buckets, every add-on and the AI workloads) under the tier's test
// transforms. See realtier.PlatformProgram.
package main

import (
	realtier "github.com/aiplatform/infra/tests/realtier"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() { pulumi.Run(realtier.PlatformProgram) }
