package workloads

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRandomPassword(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		pw, err := randomPassword(argoCDRedisPasswordLength)
		require.NoError(t, err)
		assert.Len(t, pw, argoCDRedisPasswordLength)
		assert.Empty(t, strings.Trim(pw, passwordAlphabet), "only letters and digits")
		assert.False(t, seen[pw], "drawn twice: %s", pw)
		seen[pw] = true
	}
}

func parsePEMCert(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	block, rest := pem.Decode([]byte(s))
	require.NotNil(t, block)
	require.Equal(t, "CERTIFICATE", block.Type)
	require.Empty(t, strings.TrimSpace(string(rest)))
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return cert
}

// The API server dials the controller's webhook at
// aws-load-balancer-webhook-service.kube-system.svc (the Service of
// aws-load-balancer-controller templates/webhook.yaml) and checks the serving
// certificate against the caBundle, which the chart renders from webhookTLS.caCert.
func TestWebhookTLSVerifiesForTheServiceNames(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	names := serviceDNSNames(loadBalancerWebhookService, addonNamespace)
	assert.Equal(t, []string{
		"aws-load-balancer-webhook-service.kube-system",
		"aws-load-balancer-webhook-service.kube-system.svc",
		"aws-load-balancer-webhook-service.kube-system.svc.cluster.local",
	}, names)
	bundle, err := generateWebhookTLS(loadBalancerControllerRelease, names, now)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"ca.crt", "tls.crt", "tls.key"}, keys(bundle))

	ca := parsePEMCert(t, bundle[tlsCAKey])
	assert.True(t, ca.IsCA)
	cert := parsePEMCert(t, bundle[tlsCertKey])
	assert.False(t, cert.IsCA)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range []string{
		"aws-load-balancer-webhook-service.kube-system.svc",
		"aws-load-balancer-webhook-service.kube-system.svc.cluster.local",
		"aws-load-balancer-webhook-service.kube-system",
	} {
		_, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		assert.NoError(t, err, name)
	}
	_, err = cert.Verify(x509.VerifyOptions{DNSName: "aws-load-balancer-webhook-service.default.svc", Roots: roots, CurrentTime: now})
	assert.Error(t, err, "only the webhook Service's names")
	_, err = cert.Verify(x509.VerifyOptions{DNSName: names[1], Roots: roots, CurrentTime: now.Add(9 * 365 * 24 * time.Hour)})
	assert.NoError(t, err, "valid for 10 years, like the chart's genCA")
	_, err = cert.Verify(x509.VerifyOptions{DNSName: names[1], Roots: roots, CurrentTime: now.Add(11 * 365 * 24 * time.Hour)})
	assert.Error(t, err)

	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	require.True(t, ok, "ECDSA")
	assert.Equal(t, elliptic.P256(), pub.Curve)
	pair, err := tls.X509KeyPair([]byte(bundle[tlsCertKey]), []byte(bundle[tlsKeyKey]))
	require.NoError(t, err, "the key belongs to the certificate, as the controller's TLS server loads them")
	assert.NotNil(t, pair.PrivateKey)

	again, err := generateWebhookTLS(loadBalancerControllerRelease, names, now)
	require.NoError(t, err)
	assert.NotEqual(t, bundle[tlsKeyKey], again[tlsKeyKey], "a fresh key on every draw: only the kept Secret makes it stable")
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
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
