package gitops

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/blowfish"
)

// Argo CD stores its admin password as a bcrypt hash. bcrypt.GenerateFromPassword
// draws a random salt, so hashing on every `pulumi up` would change the chart
// values (and restart Argo CD's secret) on every run. Instead the salt is
// derived from a stable per-deployment context (the cluster name): the hash
// only changes when the password does, it is still a standard $2a$ hash that
// golang.org/x/crypto/bcrypt verifies (see the tests), and two clusters never
// share a salt. The hash is only ever handled as a Pulumi secret.

// adminPasswordCost is bcrypt's work factor; Argo CD itself uses 10.
const adminPasswordCost = 10

// maxBcryptPassword is bcrypt's input limit; longer passwords would be silently truncated.
const maxBcryptPassword = 72

const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

var bcryptEncoding = base64.NewEncoding(bcryptAlphabet).WithPadding(base64.NoPadding)

// "OrpheanBeholderScryDoubt", the block bcrypt encrypts.
var bcryptMagic = []byte("OrpheanBeholderScryDoubt")

// StableBcrypt returns the $2a$ bcrypt hash of password at cost, with a
// 16-byte salt derived from saltContext.
func StableBcrypt(password, saltContext string, cost int) (string, error) {
	if password == "" {
		return "", errors.New("password is empty")
	}
	if len(password) > maxBcryptPassword {
		return "", fmt.Errorf("password is %d bytes; bcrypt accepts at most %d", len(password), maxBcryptPassword)
	}
	if cost < 4 || cost > 31 {
		return "", fmt.Errorf("bcrypt cost %d is outside 4..31", cost)
	}
	sum := sha256.Sum256([]byte("aiplatform/bcrypt-salt/" + saltContext))
	salt := sum[:16]
	// bcrypt hashes the key with its terminating NUL, as the C implementation does.
	key := append([]byte(password), 0)
	c, err := blowfish.NewSaltedCipher(key, salt)
	if err != nil {
		return "", err
	}
	for i := uint64(0); i < 1<<uint(cost); i++ {
		blowfish.ExpandKey(key, c)
		blowfish.ExpandKey(salt, c)
	}
	data := append([]byte(nil), bcryptMagic...)
	for i := 0; i < len(data); i += blowfish.BlockSize {
		for j := 0; j < 64; j++ {
			c.Encrypt(data[i:i+blowfish.BlockSize], data[i:i+blowfish.BlockSize])
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "$2a$%02d$", cost)
	b.WriteString(bcryptEncoding.EncodeToString(salt))
	// Only 23 of the 24 bytes are encoded, for compatibility with the original implementation.
	b.WriteString(bcryptEncoding.EncodeToString(data[:23]))
	return b.String(), nil
}
