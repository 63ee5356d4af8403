package workloads

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Exposure says who can reach a workload.
type Exposure string

const (
	// ClusterOnly: a ClusterIP Service; reachable from inside the cluster (or kubectl port-forward).
	ClusterOnly Exposure = "cluster"
	// Internal: an internal AWS load balancer, reachable from the VPC and peered networks / VPN.
	Internal Exposure = "internal"
	// Public: an internet-facing load balancer; needs TLS and the named CIDRs allowed to reach it.
	Public Exposure = "public"
)

func (e Exposure) LoadBalanced() bool { return e == Internal || e == Public }

// scheme is the AWS load balancer scheme of the exposure.
func (e Exposure) Scheme() string {
	if e == Public {
		return "internet-facing"
	}
	return "internal"
}

var (
	hostnamePattern = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	certARNPattern  = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$`)
)

// IsHostname reports whether s is a lowercase fully qualified DNS name like api.example.com.
func IsHostname(s string) bool { return len(s) <= 253 && hostnamePattern.MatchString(s) }

// IsCertificateARN reports whether s is an ACM certificate ARN.
func IsCertificateARN(s string) bool { return certARNPattern.MatchString(s) }

// ExposureSpec is the part of a workload spec that decides how it is reached.
type ExposureSpec struct {
	Exposure       Exposure
	Host           string
	AllowedCIDRs   []string
	CertificateARN string
}

// validate returns every problem of the exposure; tlsAlways demands a
// certificate for internal exposure too (for UIs that take credentials).
func (e ExposureSpec) Validate(path string, tlsAlways bool) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, key, fmt.Sprintf(format, args...)))
	}
	switch e.Exposure {
	case ClusterOnly, Internal, Public:
	default:
		bad("exposure", "%q is not one of %s, %s, %s", e.Exposure, ClusterOnly, Internal, Public)
		return errs
	}
	if e.CertificateARN != "" && !IsCertificateARN(e.CertificateARN) {
		bad("certificateArn", "%q is not an ACM certificate ARN like arn:aws:acm:us-west-2:123456789012:certificate/<uuid>", e.CertificateARN)
	}
	if e.Host != "" && !IsHostname(e.Host) {
		bad("host", "%q is not a lowercase DNS name like api.example.com", e.Host)
	}
	if e.Exposure == ClusterOnly {
		if e.Host != "" {
			bad("host", "only used with exposure %s or %s; exposure is %s", Internal, Public, ClusterOnly)
		}
		if len(e.AllowedCIDRs) > 0 {
			bad("allowedCidrs", "only used with exposure %s or %s; exposure is %s", Internal, Public, ClusterOnly)
		}
		return errs
	}
	if e.CertificateARN == "" && (e.Exposure == Public || tlsAlways) {
		bad("certificateArn", "exposure %s needs TLS: set certificateArn (or the stack-wide aiplatform:certificateArn)", e.Exposure)
	}
	if e.Exposure == Public && len(e.AllowedCIDRs) == 0 {
		bad("allowedCidrs", "a public endpoint needs the named CIDRs allowed to reach it (e.g. your office or VPN egress)")
	}
	for i, s := range e.AllowedCIDRs {
		key := fmt.Sprintf("allowedCidrs[%d]", i)
		p, err := netip.ParsePrefix(s)
		switch {
		case err != nil || !p.Addr().Is4():
			bad(key, "%q is not an IPv4 CIDR like 203.0.113.0/24", s)
		case p.Bits() == 0:
			bad(key, "%q opens the endpoint to the whole internet; name the networks that need access", s)
		case p.Masked() != p:
			bad(key, "%q has host bits set; did you mean %s?", s, p.Masked())
		}
	}
	return errs
}

// ALBAnnotations configure the AWS Load Balancer Controller for an Ingress:
// IP targets (pods behind the ALB directly), HTTPS only when a certificate is
// given, and the client CIDRs allowed at the load balancer.
func ALBAnnotations(e ExposureSpec, healthPath string) pulumi.StringMap {
	a := pulumi.StringMap{
		"alb.ingress.kubernetes.io/scheme":           pulumi.String(e.Exposure.Scheme()),
		"alb.ingress.kubernetes.io/target-type":      pulumi.String("ip"),
		"alb.ingress.kubernetes.io/healthcheck-path": pulumi.String(healthPath),
	}
	if e.CertificateARN != "" {
		a["alb.ingress.kubernetes.io/listen-ports"] = pulumi.String(listenPorts("HTTPS", 443))
		a["alb.ingress.kubernetes.io/certificate-arn"] = pulumi.String(e.CertificateARN)
		a["alb.ingress.kubernetes.io/ssl-policy"] = pulumi.String(tlsPolicy)
	} else {
		a["alb.ingress.kubernetes.io/listen-ports"] = pulumi.String(listenPorts("HTTP", 80))
	}
	if len(e.AllowedCIDRs) > 0 {
		a["alb.ingress.kubernetes.io/inbound-cidrs"] = pulumi.String(strings.Join(e.AllowedCIDRs, ","))
	}
	if e.Host != "" {
		a[externalDNSHostname] = pulumi.String(e.Host)
	}
	return a
}

// ALBAnnotationValues are ALBAnnotations as chart values (an Ingress's
// annotations map in a chart's values).
func ALBAnnotationValues(e ExposureSpec, healthPath string) pulumi.Map {
	out := pulumi.Map{}
	for k, v := range ALBAnnotations(e, healthPath) {
		out[k] = v
	}
	return out
}

// tlsPolicy is the ELB security policy for TLS listeners: TLS 1.2 and 1.3 only.
const tlsPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"

// externalDNSHostname tells ExternalDNS which record to create for a Service or Ingress.
const externalDNSHostname = "external-dns.alpha.kubernetes.io/hostname"

func listenPorts(protocol string, port int) string {
	b, _ := json.Marshal([]map[string]int{{protocol: port}})
	return string(b)
}

// NLBAnnotations configure the AWS Load Balancer Controller for a Service of
// type LoadBalancer: an NLB with IP targets, health checked over HTTP, TLS on
// tlsPorts when a certificate is given (ALPN lets gRPC negotiate HTTP/2).
func NLBAnnotations(e ExposureSpec, healthPort int, healthPath string, tlsPorts []string) pulumi.StringMap {
	const p = "service.beta.kubernetes.io/aws-load-balancer-"
	a := pulumi.StringMap{
		p + "type":                 pulumi.String("external"),
		p + "nlb-target-type":      pulumi.String("ip"),
		p + "scheme":               pulumi.String(e.Exposure.Scheme()),
		p + "healthcheck-protocol": pulumi.String("http"),
		p + "healthcheck-port":     pulumi.String(fmt.Sprint(healthPort)),
		p + "healthcheck-path":     pulumi.String(healthPath),
		p + "attributes":           pulumi.String("load_balancing.cross_zone.enabled=true"),
	}
	if e.CertificateARN != "" {
		a[p+"ssl-cert"] = pulumi.String(e.CertificateARN)
		a[p+"ssl-ports"] = pulumi.String(strings.Join(tlsPorts, ","))
		a[p+"ssl-negotiation-policy"] = pulumi.String(tlsPolicy)
		a[p+"alpn-policy"] = pulumi.String("HTTP2Preferred")
	}
	if e.Host != "" {
		a[externalDNSHostname] = pulumi.String(e.Host)
	}
	return a
}

// Defaults are the stack-wide settings workload specs inherit.
type Defaults struct {
	// Domain names hosts: <app>.<domain>.
	Domain string
	// CertificateARN is the ACM certificate (e.g. *.<domain>) for TLS listeners.
	CertificateARN string
}

// HostFor is the default host of an app exposed through a load balancer.
func (d Defaults) HostFor(app string, e Exposure) string {
	if !e.LoadBalanced() || d.Domain == "" {
		return ""
	}
	return app + "." + d.Domain
}
