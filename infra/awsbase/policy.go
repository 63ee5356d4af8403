// Package awsbase holds the AWS building blocks that need no cluster or
// network: IAM policy documents, the arguments of the platform's KMS keys,
// and the retained, encrypted S3 bucket. Of the Pulumi provider SDKs it
// imports only pulumi-aws's s3 and kms packages, so the state-backend
// bootstrap (stacks/bootstrap) links without pulumi-eks, pulumi-kubernetes and
// pulumi-aws's ec2 and eks packages, which package infra needs for the
// cluster (tests/deps_test.go holds it to that).
package awsbase

import "encoding/json"

// PolicyDocument is an IAM policy built as Go values and marshalled, so that
// policies are type-checked and diffable instead of hand-edited JSON strings.
type PolicyDocument struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one IAM policy statement.
type Statement struct {
	Sid       string                    `json:"Sid,omitempty"`
	Effect    string                    `json:"Effect"`
	Principal map[string]any            `json:"Principal,omitempty"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource,omitempty"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

const policyVersion = "2012-10-17"

// NewPolicy returns a policy document with the current IAM policy language version.
func NewPolicy(statements ...Statement) PolicyDocument {
	return PolicyDocument{Version: policyVersion, Statement: statements}
}

// Allow is an Allow statement on actions and resources.
func Allow(sid string, actions, resources []string) Statement {
	return Statement{Sid: sid, Effect: "Allow", Action: actions, Resource: resources}
}

// JSON marshals the document. Marshalling plain Go values cannot fail, so a
// failure is a programming error and panics.
func (p PolicyDocument) JSON() string {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(b)
}
