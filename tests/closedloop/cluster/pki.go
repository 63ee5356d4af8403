package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

const (
	// AdminUser is the common name of the admin client certificate; it is in
	// system:masters, which RBAC authorizes for everything. Aggregated API
	// servers see it in X-Remote-User for requests made with Do.
	AdminUser = "closedloop-admin"
	// frontProxyClientName is the CN kube-apiserver's proxy client
	// certificate carries and --requestheader-allowed-names accepts.
	frontProxyClientName = "front-proxy-client"
	// apiServiceNamespace holds the ExternalName Services behind
	// RegisterAPIService's APIServices.
	apiServiceNamespace = "kube-system"
)

// pki is a throwaway PKI for one cluster, written under dir:
//   - the cluster CA: kube-apiserver's serving certificate, the admin
//     client certificate (--client-ca-file) and the extension servers'
//     serving certificates (IssueServingCert);
//   - the service-account key pair;
//   - the front-proxy CA and its client certificate, which kube-apiserver
//     presents to aggregated API servers (--proxy-client-cert-file) and which
//     they verify with --requestheader-client-ca-file.
type pki struct {
	dir string

	caFile, servingCertFile, servingKeyFile string
	adminCertFile, adminKeyFile             string
	saKeyFile, saPubFile                    string
	frontProxyCAFile                        string
	proxyClientCertFile, proxyClientKeyFile string

	caPEM, adminCertPEM, adminKeyPEM []byte

	ca  *authority
	mu  sync.Mutex // guards ser, the last serial number issued
	ser int64
}

type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newPKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pki{
		dir:                 dir,
		caFile:              filepath.Join(dir, "ca.crt"),
		servingCertFile:     filepath.Join(dir, "apiserver.crt"),
		servingKeyFile:      filepath.Join(dir, "apiserver.key"),
		adminCertFile:       filepath.Join(dir, "admin.crt"),
		adminKeyFile:        filepath.Join(dir, "admin.key"),
		saKeyFile:           filepath.Join(dir, "sa.key"),
		saPubFile:           filepath.Join(dir, "sa.pub"),
		frontProxyCAFile:    filepath.Join(dir, "front-proxy-ca.crt"),
		proxyClientCertFile: filepath.Join(dir, "front-proxy-client.crt"),
		proxyClientKeyFile:  filepath.Join(dir, "front-proxy-client.key"),
	}
	var err error
	if p.ca, p.caPEM, err = p.newAuthority("closedloop-ca", p.caFile); err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	serving := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(serviceIP)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if _, _, err := p.issue(p.ca, serving, p.servingCertFile, p.servingKeyFile); err != nil {
		return nil, fmt.Errorf("apiserver serving certificate: %w", err)
	}
	admin := &x509.Certificate{
		Subject:     pkix.Name{CommonName: AdminUser, Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if p.adminCertPEM, p.adminKeyPEM, err = p.issue(p.ca, admin, p.adminCertFile, p.adminKeyFile); err != nil {
		return nil, fmt.Errorf("admin client certificate: %w", err)
	}
	frontProxy, _, err := p.newAuthority("closedloop-front-proxy-ca", p.frontProxyCAFile)
	if err != nil {
		return nil, fmt.Errorf("front-proxy CA: %w", err)
	}
	proxyClient := &x509.Certificate{
		Subject:     pkix.Name{CommonName: frontProxyClientName},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if _, _, err := p.issue(frontProxy, proxyClient, p.proxyClientCertFile, p.proxyClientKeyFile); err != nil {
		return nil, fmt.Errorf("front-proxy client certificate: %w", err)
	}
	if err := writeServiceAccountKeys(p.saKeyFile, p.saPubFile); err != nil {
		return nil, fmt.Errorf("service-account keys: %w", err)
	}
	return p, nil
}

func (p *pki) serial() *big.Int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ser++
	return big.NewInt(p.ser)
}

func (p *pki) newAuthority(cn, certFile string) (*authority, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          p.serial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	certPEM := pemBlock("CERTIFICATE", der)
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		return nil, nil, err
	}
	return &authority{cert: cert, key: key}, certPEM, nil
}

// issue signs tmpl with ca and writes the certificate and its new key.
func (p *pki) issue(ca *authority, tmpl *x509.Certificate, certFile, keyFile string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = p.serial()
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(7 * 24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM, keyPEM = pemBlock("CERTIFICATE", der), pemBlock("EC PRIVATE KEY", keyDER)
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

func writeServiceAccountKeys(keyFile, pubFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pemBlock("EC PRIVATE KEY", der), 0o600); err != nil {
		return err
	}
	return os.WriteFile(pubFile, pemBlock("PUBLIC KEY", pubDER), 0o600)
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}
