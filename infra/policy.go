package infra

import "github.com/aiplatform/infra/infra/awsbase"

// The IAM policy documents live in package awsbase, which the state-backend
// bootstrap imports without the cluster's SDKs; these names keep infra's
// callers (workloads, tests) unchanged.

// PolicyDocument is an IAM policy built as Go values; see awsbase.PolicyDocument.
type PolicyDocument = awsbase.PolicyDocument

// Statement is one IAM policy statement; see awsbase.Statement.
type Statement = awsbase.Statement

// NewPolicy returns a policy document with the current IAM policy language version.
func NewPolicy(statements ...Statement) PolicyDocument { return awsbase.NewPolicy(statements...) }

// Allow is an Allow statement on actions and resources.
func Allow(sid string, actions, resources []string) Statement {
	return awsbase.Allow(sid, actions, resources)
}

// TLSOnlyPolicy denies every request to the bucket that is not over TLS.
func TLSOnlyPolicy(bucketArn string) PolicyDocument { return awsbase.TLSOnlyPolicy(bucketArn) }
