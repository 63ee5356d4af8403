package workloads

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// Keys of a webhook TLS bundle, as in the kubernetes.io/tls Secrets charts
// render (ca.crt, tls.crt, tls.key).
const (
	TLSCAKey   = "ca.crt"
	TLSCertKey = "tls.crt"
	TLSKeyKey  = "tls.key"
)

// webhookCertValidity matches the 3650 days the charts' genCA/genSignedCert use.
const webhookCertValidity = 10 * 365 * 24 * time.Hour

// ServiceDNSNames are the names the API server may dial a webhook Service
// by: <svc>.<ns>, <svc>.<ns>.svc (what it uses) and the fully qualified
// <svc>.<ns>.svc.cluster.local, the same list as the altNames in
// aws-load-balancer-controller templates/_helpers.tpl (webhookCerts).
func ServiceDNSNames(service, namespace string) []string {
	return []string{
		service + "." + namespace,
		service + "." + namespace + ".svc",
		service + "." + namespace + ".svc.cluster.local",
	}
}

// GenerateWebhookTLS makes a self-signed CA and a serving certificate for
// dnsNames signed by it (ECDSA P-256, valid from now for 10 years), PEM
// encoded under TLSCAKey, TLSCertKey and TLSKeyKey.
func GenerateWebhookTLS(commonName string, dnsNames []string, now time.Time) (map[string]string, error) {
	serial := func() (*big.Int, error) { return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128)) }
	notBefore := now.Add(-time.Hour) // tolerate clock skew between nodes
	notAfter := now.Add(webhookCertValidity)

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caSerial, err := serial()
	if err != nil {
		return nil, err
	}
	caTemplate := &x509.Certificate{
		SerialNumber:          caSerial,
		Subject:               pkix.Name{CommonName: commonName + "-ca"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("webhook CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	certSerial, err := serial()
	if err != nil {
		return nil, err
	}
	certDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: certSerial,
		Subject:      pkix.Name{CommonName: dnsNames[0]},
		DNSNames:     dnsNames,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("webhook serving certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	encode := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	return map[string]string{
		TLSCAKey:   encode("CERTIFICATE", caDER),
		TLSCertKey: encode("CERTIFICATE", certDER),
		TLSKeyKey:  encode("PRIVATE KEY", keyDER),
	}, nil
}
