package stacks

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"

	"github.com/aiplatform/infra/infra"
)

var (
	versionPattern = regexp.MustCompile(`^1\.\d{2}$`)
	roleARNPattern = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}$`)
	clusterPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,99}$`)
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-\d$`)
)

// Validate returns every problem of the config, each naming its key and what is allowed.
func (c Config) Validate() error {
	if errs := c.problems(); len(errs) > 0 {
		return configError(errs)
	}
	return nil
}

// problems lists every problem of the config.
func (c Config) problems() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%s: %s", Project, key, fmt.Sprintf(format, args...)))
	}
	if c.Region == "" {
		errs = append(errs, fmt.Errorf("aws:region: required; set it with `pulumi config set aws:region us-west-2`"))
	} else if !regionPattern.MatchString(c.Region) {
		errs = append(errs, fmt.Errorf("aws:region: %q is not an AWS region like us-west-2", c.Region))
	}
	if !clusterPattern.MatchString(c.ClusterName) {
		bad("clusterName", "%q must be 1-100 letters, digits, - or _, starting with a letter or digit", c.ClusterName)
	}
	if !versionPattern.MatchString(c.KubernetesVersion) {
		bad("kubernetesVersion", "%q must look like %s (major.minor, no patch)", c.KubernetesVersion, DefaultKubernetesVersion)
	} else if _, ok := infra.LookupKubernetesVersion(c.KubernetesVersion); !ok {
		bad("kubernetesVersion", "%q is not a supported EKS version; allowed: %s", c.KubernetesVersion, infra.AcceptedKubernetesMinors())
	}
	if c.AZCount < 2 || c.AZCount > 3 {
		bad("availabilityZoneCount", "must be 2 or 3, got %d", c.AZCount)
	}
	switch c.NAT {
	case infra.SingleNAT, infra.NATPerAZ:
	default:
		bad("natGateways", "%q is not one of %s, %s", c.NAT, infra.SingleNAT, infra.NATPerAZ)
	}
	vpc, vpcErr := netip.ParsePrefix(c.VPCCIDR)
	switch {
	case vpcErr != nil || !vpc.Addr().Is4():
		bad("vpcCidr", "%q is not an IPv4 CIDR like 10.0.0.0/16", c.VPCCIDR)
	case vpc.Masked() != vpc:
		bad("vpcCidr", "%q has host bits set; did you mean %s?", c.VPCCIDR, vpc.Masked())
	case vpc.Bits() < 16 || vpc.Bits() > 20:
		bad("vpcCidr", "prefix /%d is not allowed; use /16 to /20 so every AZ gets room for pods", vpc.Bits())
	case !isPrivateRange(vpc):
		bad("vpcCidr", "%s is not in an RFC 1918 private range (10/8, 172.16/12, 192.168/16)", vpc)
	}
	svc, svcErr := netip.ParsePrefix(c.ServiceCIDR)
	switch {
	case svcErr != nil || !svc.Addr().Is4():
		bad("serviceCidr", "%q is not an IPv4 CIDR like 172.20.0.0/16", c.ServiceCIDR)
	case svc.Bits() < 12 || svc.Bits() > 24:
		bad("serviceCidr", "prefix /%d is not allowed; EKS accepts /12 to /24", svc.Bits())
	case vpcErr == nil && svc.Overlaps(vpc):
		bad("serviceCidr", "%s overlaps vpcCidr %s; Service IPs must not collide with node and pod IPs", svc, vpc)
	}
	errs = append(errs, c.validateEndpoint()...)
	if len(c.AdminRoleARNs) == 0 {
		bad("adminRoleArns", "at least one IAM role ARN is required, or nobody can administer the cluster")
	}
	admins := map[string]bool{}
	for i, arn := range c.AdminRoleARNs {
		admins[arn] = true
		if !roleARNPattern.MatchString(arn) {
			bad(fmt.Sprintf("adminRoleArns[%d]", i), "%q is not an IAM role ARN like arn:aws:iam::123456789012:role/admin", arn)
		}
	}
	if c.ClusterCreatorRoleARN != "" && !roleARNPattern.MatchString(c.ClusterCreatorRoleARN) {
		bad("clusterCreatorRoleArn", "%q is not an IAM role ARN like arn:aws:iam::123456789012:role/ci-apply (the role that creates the cluster)", c.ClusterCreatorRoleARN)
	}
	for i, arn := range c.ViewerRoleARNs {
		switch {
		case !roleARNPattern.MatchString(arn):
			bad(fmt.Sprintf("viewerRoleArns[%d]", i), "%q is not an IAM role ARN like arn:aws:iam::123456789012:role/ci-preview", arn)
		case admins[arn]:
			bad(fmt.Sprintf("viewerRoleArns[%d]", i), "%q is already in adminRoleArns; a role has one access entry", arn)
		case strings.EqualFold(arn, c.ClusterCreatorRoleARN):
			bad(fmt.Sprintf("viewerRoleArns[%d]", i), "%q is clusterCreatorRoleArn, which EKS makes cluster admin; it cannot be a viewer", arn)
		}
	}
	errs = append(errs, joinErrors(infra.ValidateNodeGroups(Project+":nodeGroups", c.NodeGroups))...)
	for k := range c.Tags {
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			bad("tags", "key %q uses the reserved aws: prefix", k)
		}
	}
	errs = append(errs, c.Workloads.validate(c)...)
	if a := c.Workloads.ArgoCD; a.On() && a.Apps != nil {
		if why := placeholderRepoURL(a.Apps.RepoURL); why != "" {
			bad("argocd.apps.repoUrl", "%q is a placeholder (%s), not the Git repository of your Argo CD Applications: Argo CD would never sync it and the deploy's "+
				"Argo CD wait would fail. Set your repository with `pulumi config set --path 'aiplatform:argocd.apps.repoUrl' https://github.com/<org>/<repo>.git`, "+
				"or remove argocd.apps to install Argo CD without Applications", a.Apps.RepoURL, why)
		}
	}
	return errs
}

// placeholderRepos are repository URLs that only stand in for the user's
// own: the one the committed dev stack carried until issue 18 (no such
// repository exists, so Argo CD never synced and the deploy's wait failed).
var placeholderRepos = map[string]string{
	"https://github.com/aiplatform/platform-apps.git": "the example this repository's dev stack used to carry",
	"https://github.com/aiplatform/platform-apps":     "the example this repository's dev stack used to carry",
}

// placeholderHosts are domain names reserved for documentation and tests
// (RFC 2606 section 2 and 3, RFC 6761 section 6): no real repository lives there.
var placeholderHosts = []string{"example.com", "example.net", "example.org", "example", "invalid", "test", "localhost"}

// placeholderRepoURL says why a repository URL is a placeholder, or "".
func placeholderRepoURL(repo string) string {
	if why, ok := placeholderRepos[strings.TrimSuffix(strings.ToLower(repo), "/")]; ok {
		return why
	}
	if strings.ContainsAny(repo, "<>") {
		return "it has <…> to fill in"
	}
	host := repo
	if rest, ok := strings.CutPrefix(repo, "git@"); ok {
		host, _, _ = strings.Cut(rest, ":")
	} else if u, err := url.Parse(repo); err == nil {
		host = u.Hostname()
	}
	host = strings.ToLower(host)
	for _, reserved := range placeholderHosts {
		if host == reserved || strings.HasSuffix(host, "."+reserved) {
			return "host " + host + " is reserved for examples"
		}
	}
	return ""
}

func (c Config) validateEndpoint() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%s: %s", Project, key, fmt.Sprintf(format, args...)))
	}
	switch c.EndpointAccess {
	case PrivateEndpoint:
		if len(c.PublicAccessCIDRs) > 0 {
			bad("publicAccessCidrs", "only used with endpointAccess %q; the endpoint is private", PublicAndPrivateEndpoint)
		}
	case PublicAndPrivateEndpoint:
		if len(c.PublicAccessCIDRs) == 0 {
			bad("publicAccessCidrs", "a public endpoint needs the named CIDRs allowed to reach it (e.g. your VPN egress)")
		}
		for i, s := range c.PublicAccessCIDRs {
			key := fmt.Sprintf("publicAccessCidrs[%d]", i)
			p, problem := apiSourceCIDR(s, "203.0.113.0/24", "opens the API server to the whole internet; name the networks that need access", "name the networks that need access")
			switch {
			case problem != "":
				bad(key, "%s", problem)
			case isPrivateRange(p):
				bad(key, "%q is private; the public endpoint is reached from public addresses", s)
			}
		}
	default:
		bad("endpointAccess", "%q is not one of %s, %s", c.EndpointAccess, PrivateEndpoint, PublicAndPrivateEndpoint)
	}
	// Sources of the private endpoint (both modes): networks that reach the
	// VPC, so private ranges or named public ones, never the whole internet.
	seen := map[string]string{}
	dup := func(key, v string) {
		if first, ok := seen[v]; ok {
			bad(key, "%q is already listed as %s", v, first)
			return
		}
		seen[v] = key
	}
	for i, id := range c.EndpointAccessSecurityGroupIDs {
		key := fmt.Sprintf("endpointAccessSecurityGroupIds[%d]", i)
		if !infra.IsSecurityGroupID(id) {
			bad(key, "%q is not a security group id like sg-0123456789abcdef0 (of the runner, VPN or bastion that calls the API)", id)
			continue
		}
		dup(key, id)
	}
	for i, s := range c.EndpointAccessCIDRs {
		key := fmt.Sprintf("endpointAccessCidrs[%d]", i)
		const name = "name the networks that need access (RFC 1918 ranges or named public ones)"
		if _, problem := apiSourceCIDR(s, "10.20.0.0/16", "opens the API server to every address; "+name, name); problem != "" {
			bad(key, "%s", problem)
			continue
		}
		dup(key, s)
	}
	return errs
}

// apiSourceCIDR parses a CIDR allowed to reach the API server and says what
// is wrong with it, if anything: not IPv4 (example shows the form), the
// whole address space (everything), wider than /8 (tooWide), host bits set.
func apiSourceCIDR(s, example, everything, tooWide string) (netip.Prefix, string) {
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil || !p.Addr().Is4():
		return p, fmt.Sprintf("%q is not an IPv4 CIDR like %s", s, example)
	case p.Bits() == 0:
		return p, fmt.Sprintf("%q %s", s, everything)
	case p.Bits() < 8:
		return p, fmt.Sprintf("%q is wider than /8; %s", s, tooWide)
	case p.Masked() != p:
		return p, fmt.Sprintf("%q has host bits set; did you mean %s?", s, p.Masked())
	}
	return p, ""
}

var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
}

func isPrivateRange(p netip.Prefix) bool {
	for _, r := range privateRanges {
		if r.Bits() <= p.Bits() && r.Contains(p.Addr()) {
			return true
		}
	}
	return false
}
