package addons

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aiplatform/infra/workloads"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
	names := workloads.ServiceDNSNames(loadBalancerWebhookService, workloads.AddonNamespace)
	assert.Equal(t, []string{
		"aws-load-balancer-webhook-service.kube-system",
		"aws-load-balancer-webhook-service.kube-system.svc",
		"aws-load-balancer-webhook-service.kube-system.svc.cluster.local",
	}, names)
	bundle, err := workloads.GenerateWebhookTLS(loadBalancerControllerRelease, names, now)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"ca.crt", "tls.crt", "tls.key"}, slices.Collect(maps.Keys(bundle)))

	ca := parsePEMCert(t, bundle[workloads.TLSCAKey])
	assert.True(t, ca.IsCA)
	cert := parsePEMCert(t, bundle[workloads.TLSCertKey])
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
	pair, err := tls.X509KeyPair([]byte(bundle[workloads.TLSCertKey]), []byte(bundle[workloads.TLSKeyKey]))
	require.NoError(t, err, "the key belongs to the certificate, as the controller's TLS server loads them")
	assert.NotNil(t, pair.PrivateKey)

	again, err := workloads.GenerateWebhookTLS(loadBalancerControllerRelease, names, now)
	require.NoError(t, err)
	assert.NotEqual(t, bundle[workloads.TLSKeyKey], again[workloads.TLSKeyKey], "a fresh key on every draw: only the kept Secret makes it stable")
}
