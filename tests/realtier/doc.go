// Package realtier is the real-component test tier: it runs the project's
// typed workloads and its add-on Helm charts (read from a directory of
// packaged charts) through the real pulumi CLI (Automation API, inline
// program) and the real pulumi-kubernetes provider against a real
// kube-apiserver + etcd on loopback, with stack state in an S3-compatible
// bucket (gofakes3, in-process) and AWS resources in an in-process fake
// provider.
//
// It is its own Go module so that `go test ./...` at the repository root never
// builds it; run it with `bash .ci/tools.sh` and then
// `cd tests/realtier && REALTIER=1 go test -v ./...` (see README).
package realtier
