// Package wltest holds the helpers the workloads packages' tests share:
// error and IAM-statement assertions, and the packaged-chart fixture
// (charts.go). Only tests import it.
package wltest

import (
	"testing"

	"github.com/aiplatform/infra/infra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Statements indexes a policy's statements by Sid, which must be unique.
func Statements(t *testing.T, doc infra.PolicyDocument) map[string]infra.Statement {
	t.Helper()
	out := map[string]infra.Statement{}
	for _, s := range doc.Statement {
		require.NotEmpty(t, s.Sid)
		require.NotContains(t, out, s.Sid, "duplicate Sid")
		out[s.Sid] = s
	}
	return out
}

// TestCert is a well-formed ACM certificate ARN.
const TestCert = "arn:aws:acm:us-west-2:123456789012:certificate/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f"

// ExpectErrors asserts err mentions each want (all at once) or is nil when want is empty.
func ExpectErrors(t *testing.T, err error, want ...string) {
	t.Helper()
	if len(want) == 0 {
		require.NoError(t, err)
		return
	}
	require.Error(t, err)
	for _, w := range want {
		assert.Contains(t, err.Error(), w)
	}
}
