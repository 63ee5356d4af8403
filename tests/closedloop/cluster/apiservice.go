package cluster

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

var certName = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)

// IssueServingCert writes a serving certificate and key for an extension
// API server (or any TLS server the cluster's components call) into the
// cluster's PKI directory, signed by the cluster CA, and returns their
// paths and the CA's PEM (the APIService caBundle). The certificate names
// hosts plus localhost, 127.0.0.1 and *.kube-system.svc: kube-apiserver
// verifies an aggregated server as <service>.<namespace>.svc
// (k8s.io/kube-aggregator v0.34.4 pkg/apiserver/handler_proxy.go, ServerName
// in updateAPIService) and RegisterAPIService's Services live in kube-system.
// name ([a-z0-9.-]) names the files.
func (c *Cluster) IssueServingCert(name string, hosts []string) (certFile, keyFile string, caPEM []byte, err error) {
	if !certName.MatchString(name) {
		return "", "", nil, fmt.Errorf("cluster.IssueServingCert: name %q: must be lower-case letters, digits, '.' or '-' (it names the files)", name)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range append([]string{"localhost", "127.0.0.1", "*." + apiServiceNamespace + ".svc"}, hosts...) {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	certFile = filepath.Join(c.pki.dir, "serving-"+name+".crt")
	keyFile = filepath.Join(c.pki.dir, "serving-"+name+".key")
	if _, _, err := c.pki.issue(c.pki.ca, tmpl, certFile, keyFile); err != nil {
		return "", "", nil, fmt.Errorf("cluster.IssueServingCert %s: %w", name, err)
	}
	return certFile, keyFile, append([]byte(nil), c.pki.caPEM...), nil
}

// apiServiceName is the ExternalName Service behind group's APIServices:
// one per group, so all its versions share it.
func apiServiceName(group string) string {
	n := "apiservice-" + strings.ReplaceAll(strings.ToLower(group), ".", "-")
	if len(n) > 63 {
		n = n[:63]
	}
	return strings.TrimRight(n, "-")
}

var groupName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// RegisterAPIService makes kube-apiserver proxy /apis/<group>/<version> to
// an extension server listening on port on this machine: a Service of type
// ExternalName "localhost" in kube-system and an APIService pointing at it
// with caBundle caPEM (from IssueServingCert). kube-apiserver resolves the
// Service to https://localhost:<port> (see --enable-aggregator-routing in
// apiserverArgs) and authenticates with the front-proxy client certificate,
// passing the user in X-Remote-User/-Group. It returns once the APIService
// is Available (kube-aggregator's availability check reached the server's
// discovery endpoint), or with the last condition when ctx ends or after a
// minute.
func (c *Cluster) RegisterAPIService(ctx context.Context, group, version string, port int, caPEM []byte) error {
	var errs []error
	if !groupName.MatchString(group) || !strings.Contains(group, ".") {
		errs = append(errs, fmt.Errorf("group %q: must be a DNS subdomain with a dot, e.g. custom.metrics.k8s.io", group))
	}
	if !certName.MatchString(version) || strings.Contains(version, ".") {
		errs = append(errs, fmt.Errorf("version %q: must be a DNS label, e.g. v1beta2", version))
	}
	if port < 1 || port > 65535 {
		errs = append(errs, fmt.Errorf("port %d: must be 1-65535", port))
	}
	if b, _ := pem.Decode(caPEM); b == nil || b.Type != "CERTIFICATE" {
		errs = append(errs, errors.New("caPEM: must be a PEM CERTIFICATE (the caPEM IssueServingCert returns)"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("cluster.RegisterAPIService: %w", errors.Join(errs...))
	}
	svc := apiServiceName(group)
	name := version + "." + group
	service := map[string]any{
		"apiVersion": "v1",
		"kind":       "Service",
		"metadata":   map[string]any{"name": svc, "namespace": apiServiceNamespace},
		"spec": map[string]any{
			"type":         "ExternalName",
			"externalName": "localhost",
			"ports":        []any{map[string]any{"name": "https", "port": port, "protocol": "TCP"}},
		},
	}
	if err := c.Apply(ctx, service); err != nil {
		return fmt.Errorf("cluster.RegisterAPIService %s: %w", name, err)
	}
	apiService := map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1",
		"kind":       "APIService",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"group":                group,
			"version":              version,
			"service":              map[string]any{"namespace": apiServiceNamespace, "name": svc, "port": port},
			"caBundle":             caPEM, // []byte: base64 in JSON, as the API wants
			"groupPriorityMinimum": 100,
			"versionPriority":      100,
		},
	}
	if err := c.Apply(ctx, apiService); err != nil {
		return fmt.Errorf("cluster.RegisterAPIService %s: %w", name, err)
	}

	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	last := "no Available condition yet"
	for {
		var obj struct {
			Status struct {
				Conditions []struct{ Type, Status, Reason, Message string }
			}
		}
		err := c.Do(ctx, http.MethodGet, "/apis/apiregistration.k8s.io/v1/apiservices/"+name, nil, &obj)
		if err != nil {
			last = err.Error()
		}
		for _, cond := range obj.Status.Conditions {
			if cond.Type == "Available" {
				if cond.Status == "True" {
					return nil
				}
				last = fmt.Sprintf("Available=%s %s: %s", cond.Status, cond.Reason, cond.Message)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster.RegisterAPIService %s: not Available: %s", name, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
