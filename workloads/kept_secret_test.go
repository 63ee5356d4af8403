package workloads

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRandomPassword(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		pw, err := RandomPassword(32)
		require.NoError(t, err)
		assert.Len(t, pw, 32)
		assert.Empty(t, strings.Trim(pw, passwordAlphabet), "only letters and digits")
		assert.False(t, seen[pw], "drawn twice: %s", pw)
		seen[pw] = true
	}
}

// A preview draws nothing and leaves a new Secret's data unknown, like a
// random provider's output: a saved plan (preview --save-plan, up --plan)
// then accepts the value the update draws, where a value drawn in the
// preview would differ from the update's and violate the plan. For an
// existing Secret the engine puts back the kept input (ignoreChanges). The
// mock monitor cannot carry an unknown secret (the Secret's data always is
// one), so this is checked on the data input itself.
func TestKeptSecretDrawsOnlyInAnUpdate(t *testing.T) {
	draws := 0
	generate := func() (map[string]string, error) {
		draws++
		return map[string]string{"password": "drawn"}, nil
	}
	ctx := context.Background()

	planned, err := keptSecretData(true, generate)
	require.NoError(t, err)
	assert.Zero(t, draws, "a preview draws nothing")
	res, err := internals.UnsafeAwaitOutput(ctx, planned)
	require.NoError(t, err)
	assert.False(t, res.Known, "unknown in a preview")

	updated, err := keptSecretData(false, generate)
	require.NoError(t, err)
	assert.Equal(t, 1, draws)
	res, err = internals.UnsafeAwaitOutput(ctx, updated)
	require.NoError(t, err)
	assert.True(t, res.Known)
	assert.True(t, res.Secret)
	assert.Equal(t, map[string]string{"password": base64.StdEncoding.EncodeToString([]byte("drawn"))}, res.Value)

	_, err = keptSecretData(false, func() (map[string]string, error) { return nil, errors.New("no entropy") })
	assert.ErrorContains(t, err, "no entropy")
}
