// Command awsstub is the `aws` executable of the platform scenario: the
// kubeconfig pulumi-eks builds authenticates with
// `aws eks get-token --cluster-name <name> --output json` (pulumi-eks
// nodejs/eks/cluster.ts, generateKubeconfig), and pulumi-eks checks
// `aws --version` before it creates a cluster (dependencies.ts,
// assertCompatibleAWSCLIExists: v2 >= 2.7.0). It answers those two and
// nothing else, so the kubeconfig is used unchanged against the local
// kube-apiserver, which accepts the token from its --token-auth-file.
//
// Environment (set by the test):
//
//	AIPLATFORM_AWSSTUB_CLUSTER  the only cluster name it issues a token for
//	AIPLATFORM_AWSSTUB_TOKEN    the token
//	AIPLATFORM_AWSSTUB_LOG      a file each call appends its arguments to
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// Version is what `aws --version` prints: a v2 CLI, as CI's runners have.
const Version = "aws-cli/2.27.50 Python/3.13.4 Linux/6.1.0 exe/x86_64.debian.12 (aiplatform realtier stub)"

func main() {
	args := os.Args[1:]
	if log := os.Getenv("AIPLATFORM_AWSSTUB_LOG"); log != "" {
		if f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			fmt.Fprintln(f, strings.Join(args, " "))
			f.Close()
		}
	}
	switch {
	case len(args) == 1 && args[0] == "--version":
		fmt.Println(Version)
	case len(args) >= 2 && args[0] == "eks" && args[1] == "get-token":
		os.Exit(getToken(args[2:]))
	default:
		fmt.Fprintf(os.Stderr, "aws (realtier stub): only --version and eks get-token are answered, not %q\n", strings.Join(args, " "))
		os.Exit(252)
	}
}

func getToken(args []string) int {
	var cluster, output string
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "--cluster-name":
			cluster = args[i+1]
		case "--output":
			output = args[i+1]
		}
	}
	if cluster == "" {
		fmt.Fprintln(os.Stderr, "aws: error: the following arguments are required: --cluster-name")
		return 252
	}
	if output != "json" {
		fmt.Fprintf(os.Stderr, "aws (realtier stub): --output %q: only json is answered\n", output)
		return 252
	}
	// The real command presigns an STS request without calling EKS; an
	// unknown cluster name yields a token that EKS then refuses. Refusing it
	// here makes a wrong name visible at once.
	if want := os.Getenv("AIPLATFORM_AWSSTUB_CLUSTER"); cluster != want {
		fmt.Fprintf(os.Stderr, "aws (realtier stub): no token for cluster %q (the test's cluster is %q)\n", cluster, want)
		return 255
	}
	cred := map[string]any{
		"kind":       "ExecCredential",
		"apiVersion": "client.authentication.k8s.io/v1beta1",
		"spec":       map[string]any{},
		"status": map[string]any{
			"expirationTimestamp": time.Now().UTC().Add(14 * time.Minute).Format(time.RFC3339),
			"token":               os.Getenv("AIPLATFORM_AWSSTUB_TOKEN"),
		},
	}
	if err := json.NewEncoder(os.Stdout).Encode(cred); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 255
	}
	return 0
}
