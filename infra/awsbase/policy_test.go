package awsbase

import (
	"encoding/json"
	"testing"

	"github.com/aiplatform/infra/tests/golden"
	"github.com/stretchr/testify/require"
)

func TestTLSOnlyPolicyGolden(t *testing.T) {
	golden.Assert(t, "testdata/tls-only-bucket-policy.json", TLSOnlyPolicy("arn:aws:s3:::models").JSON())
}

func TestPolicyJSONOmitsEmptyFields(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(NewPolicy(Allow("", []string{"s3:GetObject"}, []string{"*"})).JSON()), &doc))
	st := doc["Statement"].([]any)[0].(map[string]any)
	require.Equal(t, "2012-10-17", doc["Version"])
	require.NotContains(t, st, "Sid")
	require.NotContains(t, st, "Condition")
	require.NotContains(t, st, "Principal")
}
