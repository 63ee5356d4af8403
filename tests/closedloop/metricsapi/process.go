package metricsapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aiplatform/infra/tests/closedloop/internal/proc"
)

// startProcess runs bin with args in dir (its log dir/<name>.log) and
// returns once url answers 200 through client; errors carry the end of the
// process's output.
func startProcess(ctx context.Context, name, bin, dir string, args []string, client *http.Client, url string) (*proc.Process, error) {
	p, err := proc.Start(proc.Spec{Name: name, Bin: bin, Args: args, Dir: dir})
	if err != nil {
		return nil, err
	}
	err = p.WaitReady(ctx, 2*time.Minute, func(ctx context.Context) error { return proc.HTTPOK(ctx, client, url) })
	if err != nil {
		p.Stop(5 * time.Second)
		return nil, fmt.Errorf("%s not ready at %s: %w; output:\n%s", name, url, err, p.Tail(8<<10))
	}
	return p, nil
}

// freePort asks the kernel for a free loopback port (see proc.FreePorts).
func freePort() (int, error) {
	ports, err := proc.FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// tlsClient trusts only caPEM.
func tlsClient(caPEM []byte) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no certificate in the CA PEM")
	}
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}, nil
}
