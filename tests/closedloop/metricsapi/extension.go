package metricsapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aiplatform/infra/tests/closedloop/cluster"
)

// Extension is an extension API server the harness runs in-process behind
// kube-apiserver's aggregator: the metrics-server stand-in
// (StartResourceMetrics) and KEDA's external metrics stand-in
// (kedastandin).
type Extension struct {
	// URL is its HTTPS endpoint, https://127.0.0.1:<port>.
	URL string
	srv *http.Server
}

// ServeExtension serves h on a free loopback port with a serving
// certificate from the cluster CA (named name), accepting only clients with
// a certificate from the front-proxy CA (kube-apiserver's aggregator, which
// also uses it for its availability checks, kube-aggregator
// pkg/controllers/status/remote/remote_available_controller.go), and
// registers group/version for it, waiting until the APIService is
// Available. h must answer the group's discovery paths
// (/apis/<group>/<version>), which the availability check reads.
func ServeExtension(ctx context.Context, c *cluster.Cluster, name, group, version string, h http.Handler) (*Extension, error) {
	if c == nil || h == nil {
		return nil, errors.New("ServeExtension: a cluster and a handler are required")
	}
	frontProxyCA, err := os.ReadFile(c.FrontProxyCAFile)
	if err != nil {
		return nil, fmt.Errorf("front-proxy CA: %w", err)
	}
	clients := x509.NewCertPool()
	if !clients.AppendCertsFromPEM(frontProxyCA) {
		return nil, fmt.Errorf("front-proxy CA %s: no certificate", c.FrontProxyCAFile)
	}
	certFile, keyFile, caPEM, err := c.IssueServingCert(name, nil)
	if err != nil {
		return nil, fmt.Errorf("%s serving certificate: %w", name, err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e := &Extension{
		URL: "https://" + ln.Addr().String(),
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			TLSConfig: &tls.Config{
				Certificates: []tls.Certificate{cert},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    clients,
				MinVersion:   tls.VersionTLS12,
			},
		},
	}
	go func() { _ = e.srv.ServeTLS(ln, "", "") }()
	port := ln.Addr().(*net.TCPAddr).Port
	if err := c.RegisterAPIService(ctx, group, version, port, caPEM); err != nil {
		e.Stop()
		return nil, fmt.Errorf("register %s/%s: %w", group, version, err)
	}
	return e, nil
}

// Stop closes the server. The APIService stays; it turns unavailable.
func (e *Extension) Stop() { _ = e.srv.Close() }
