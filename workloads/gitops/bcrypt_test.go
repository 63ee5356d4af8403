package gitops

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

func TestStableBcryptVerifiesWithTheStandardLibrary(t *testing.T) {
	for _, pw := range []string{"s3cret-Passw0rd", "x", "ünïcødé and spaces", strings.Repeat("a", 72)} {
		hash, err := StableBcrypt(pw, "aiplatform-dev", 4)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(hash, "$2a$04$"), hash)
		assert.Len(t, hash, 60)
		assert.NoError(t, bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)), "x/crypto/bcrypt must accept the hash of %q", pw)
		assert.Error(t, bcrypt.CompareHashAndPassword([]byte(hash), []byte("!"+pw[1:])), "another password must not match")
		cost, err := bcrypt.Cost([]byte(hash))
		require.NoError(t, err)
		assert.Equal(t, 4, cost)
	}
}

func TestStableBcryptIsStableAndSaltedPerContext(t *testing.T) {
	a1, err := StableBcrypt("password-1", "cluster-a", 4)
	require.NoError(t, err)
	a2, _ := StableBcrypt("password-1", "cluster-a", 4)
	b, _ := StableBcrypt("password-1", "cluster-b", 4)
	c, _ := StableBcrypt("password-2", "cluster-a", 4)
	assert.Equal(t, a1, a2, "same password and context: no diff between runs")
	assert.NotEqual(t, a1[7:29], b[7:29], "another cluster gets another salt")
	assert.NotEqual(t, a1, c, "a new password changes the hash")
	assert.Equal(t, a1[:29], c[:29], "the salt depends on the context only")
}

func TestStableBcryptRejectsBadInput(t *testing.T) {
	_, err := StableBcrypt("", "c", 10)
	assert.ErrorContains(t, err, "empty")
	_, err = StableBcrypt(strings.Repeat("a", 73), "c", 10)
	assert.ErrorContains(t, err, "at most 72")
	_, err = StableBcrypt("pw", "c", 3)
	assert.ErrorContains(t, err, "cost")
}

func BenchmarkStableBcryptAdminCost(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := StableBcrypt("benchmark-password", "cluster", adminPasswordCost); err != nil {
			b.Fatal(err)
		}
	}
}
