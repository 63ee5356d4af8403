package realtier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The fake's IAM: it evaluates the policies the program created against one
// request at a time, as IAM's policy evaluation logic does for a principal in
// the same account as the resource (IAM User Guide, "Policy evaluation
// logic": an explicit Deny in any policy wins; otherwise an Allow in an
// identity-based policy or in a resource-based policy naming the principal
// allows; otherwise the request is implicitly denied). What it does not model
// (AWS managed policies, permissions boundaries, NotPrincipal, numeric, date
// and IP operators, policy variables, a policy it cannot parse) is an error,
// never a silent allow or deny: a test must not pass on what the fake cannot
// read.

// AccessDeniedError is AWS's refusal of a request the policies do not allow:
// S3's 403 (HeadBucket has no body, so its code is Forbidden; GetObject's is
// AccessDenied), STS's AccessDenied and KMS's AccessDeniedException.
type AccessDeniedError struct {
	Service, Operation string
	Code               string
	Principal          string
	Action, Resource   string
	Why                string
}

func (e *AccessDeniedError) Error() string {
	return fmt.Sprintf("operation error %s: %s, https response error StatusCode: 403, RequestID: 0000000000000000, api error %s: %s is not authorized to perform: %s on resource: %s (%s)",
		e.Service, e.Operation, e.Code, e.Principal, e.Action, e.Resource, e.Why)
}

// IsAccessDenied reports whether err is AWS refusing the request on its
// policies, as opposed to the fake failing to evaluate them.
func IsAccessDenied(err error) bool {
	var denied *AccessDeniedError
	return errors.As(err, &denied)
}

// policyKind is where a policy is attached; IAM validates each differently.
type policyKind int

const (
	// identityPolicy: inline or customer-managed, attached to the role; no Principal.
	identityPolicy policyKind = iota
	// resourcePolicy: a bucket or key policy; Principal required.
	resourcePolicy
	// trustPolicy: a role's assumeRolePolicy; Principal required, no Resource.
	trustPolicy
)

type iamRequest struct {
	// PrincipalType is the Principal element's key that names the caller:
	// AWS for a role session, Federated for a web identity.
	PrincipalType, Principal string
	Action, Resource         string
	// Context holds the request's condition keys, lower-case.
	Context map[string]string
}

type policyDoc struct {
	Version   string
	Statement []policyStatement
}

type policyStatement struct {
	Sid, Effect           string
	Action, NotAction     stringOrList
	Resource, NotResource stringOrList
	Principal             json.RawMessage
	NotPrincipal          json.RawMessage
	Condition             map[string]map[string]stringOrList
}

// stringOrList is an IAM policy element that may be one value or a list.
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one any
	if err := json.Unmarshal(b, &one); err != nil {
		return err
	}
	switch v := one.(type) {
	case string, bool, float64:
		*s = []string{fmt.Sprint(v)}
	case []any:
		for _, e := range v {
			switch e.(type) {
			case string, bool, float64:
				*s = append(*s, fmt.Sprint(e))
			default:
				return fmt.Errorf("policy element value %s is not a string", b)
			}
		}
	default:
		return fmt.Errorf("policy element %s is neither a string nor a list of strings", b)
	}
	return nil
}

// conditionOperators are the operators the fake evaluates (IAM User Guide,
// "IAM JSON policy elements: Condition operators"); any other is an error.
var conditionOperators = []string{
	"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
	"StringLike", "StringNotLike", "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike", "Bool", "Null",
}

// parsePolicy reads a policy input (a JSON string) strictly: what IAM would
// reject (MalformedPolicyDocument) or the fake does not model is an error.
func parsePolicy(v any, kind policyKind) (policyDoc, error) {
	s, ok := v.(string)
	if !ok || strings.TrimSpace(s) == "" {
		return policyDoc{}, fmt.Errorf("policy %v is not a JSON string", v)
	}
	var raw struct {
		Version   string
		Id        string
		Statement json.RawMessage
	}
	if err := strictUnmarshal([]byte(s), &raw); err != nil {
		return policyDoc{}, fmt.Errorf("policy cannot be parsed (IAM: MalformedPolicyDocument): %w", err)
	}
	if raw.Version != "2012-10-17" && raw.Version != "2008-10-17" {
		return policyDoc{}, fmt.Errorf("policy Version %q is not 2012-10-17 or 2008-10-17", raw.Version)
	}
	if strings.Contains(s, "${") {
		return policyDoc{}, errors.New("policy variables (${...}) are not modelled by the fake")
	}
	doc := policyDoc{Version: raw.Version}
	var one policyStatement
	if err := strictUnmarshal(raw.Statement, &doc.Statement); err != nil {
		if err2 := strictUnmarshal(raw.Statement, &one); err2 != nil {
			return policyDoc{}, fmt.Errorf("policy Statement cannot be parsed: %w", err)
		}
		doc.Statement = []policyStatement{one}
	}
	if len(doc.Statement) == 0 {
		return policyDoc{}, errors.New("policy has no Statement")
	}
	for i, st := range doc.Statement {
		if err := st.validate(kind); err != nil {
			return policyDoc{}, fmt.Errorf("policy Statement[%d] (Sid %q): %w", i, st.Sid, err)
		}
	}
	return doc, nil
}

func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

func (s policyStatement) validate(kind policyKind) error {
	if s.Effect != "Allow" && s.Effect != "Deny" {
		return fmt.Errorf("Effect %q is not Allow or Deny", s.Effect)
	}
	if (s.Action == nil) == (s.NotAction == nil) {
		return errors.New("exactly one of Action and NotAction is required")
	}
	if s.NotPrincipal != nil {
		return errors.New("NotPrincipal is not modelled by the fake")
	}
	switch kind {
	case identityPolicy:
		if s.Principal != nil {
			return errors.New("an identity-based policy cannot name a Principal (IAM: MalformedPolicyDocument)")
		}
		if (s.Resource == nil) == (s.NotResource == nil) {
			return errors.New("exactly one of Resource and NotResource is required")
		}
	case resourcePolicy, trustPolicy:
		if s.Principal == nil {
			return errors.New("a resource-based policy needs a Principal")
		}
		if _, err := parsePrincipal(s.Principal); err != nil {
			return err
		}
		if kind == trustPolicy && (s.Resource != nil || s.NotResource != nil) {
			return errors.New("a trust policy has no Resource (IAM: MalformedPolicyDocument)")
		}
		if kind == resourcePolicy && (s.Resource == nil) == (s.NotResource == nil) {
			return errors.New("exactly one of Resource and NotResource is required")
		}
	}
	for op, keys := range s.Condition {
		base, _ := splitOperator(op)
		if !slices.Contains(conditionOperators, base) {
			return fmt.Errorf("condition operator %s is not modelled by the fake", op)
		}
		for key, values := range keys {
			if base == "Null" {
				for _, v := range values {
					if v != "true" && v != "false" {
						return fmt.Errorf("Null condition on %s: %q is not true or false", key, v)
					}
				}
			}
		}
	}
	return nil
}

// splitOperator strips the set qualifier and IfExists from a condition operator.
func splitOperator(op string) (base, qualifier string) {
	for _, q := range []string{"ForAnyValue:", "ForAllValues:"} {
		if rest, ok := strings.CutPrefix(op, q); ok {
			op, qualifier = rest, q
		}
	}
	if rest, ok := strings.CutSuffix(op, "IfExists"); ok && op != "Null" {
		op = rest
		if qualifier == "" {
			qualifier = "IfExists"
		} else {
			qualifier += "IfExists"
		}
	}
	return op, qualifier
}

// parsePrincipal reads "*" or {"AWS"|"Federated"|"Service": value or list}.
func parsePrincipal(raw json.RawMessage) (map[string][]string, error) {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star != "*" {
			return nil, fmt.Errorf("Principal %q: a string principal must be *", star)
		}
		return map[string][]string{"*": {"*"}}, nil
	}
	var m map[string]stringOrList
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("Principal %s cannot be parsed: %w", raw, err)
	}
	out := map[string][]string{}
	for k, v := range m {
		switch k {
		case "AWS", "Federated", "Service":
			out[k] = v
		default:
			return nil, fmt.Errorf("Principal type %q is not modelled by the fake", k)
		}
	}
	return out, nil
}

// principalMatch reports whether the statement's Principal covers the
// caller, and whether directly: a statement naming the account (its root
// ARN or id) delegates to the account's IAM policies and grants nothing by
// itself (IAM User Guide, "Specifying a principal": AWS account principals).
func (s policyStatement) principalMatch(req iamRequest) (matches, direct bool) {
	p, err := parsePrincipal(s.Principal)
	if err != nil {
		return false, false
	}
	if _, ok := p["*"]; ok {
		return true, true
	}
	for _, v := range p[req.PrincipalType] {
		switch {
		case v == "*", v == req.Principal:
			return true, true
		case req.PrincipalType == "AWS" && (v == FakeAccount || v == "arn:aws:iam::"+FakeAccount+":root") && strings.Contains(req.Principal, ":"+FakeAccount+":"):
			matches = true
		}
	}
	return matches, false
}

func (s policyStatement) actionResourceMatch(req iamRequest) bool {
	if s.Action != nil && !globAny(s.Action, req.Action, true) {
		return false
	}
	if s.NotAction != nil && globAny(s.NotAction, req.Action, true) {
		return false
	}
	if s.Resource != nil && !globAny(s.Resource, req.Resource, false) {
		return false
	}
	if s.NotResource != nil && globAny(s.NotResource, req.Resource, false) {
		return false
	}
	return s.conditionsHold(req.Context)
}

// globAny matches value against IAM wildcards (* any run, ? one character).
func globAny(patterns []string, value string, foldCase bool) bool {
	for _, p := range patterns {
		if foldCase {
			p, value = strings.ToLower(p), strings.ToLower(value)
		}
		if wildcardMatch(p, value) {
			return true
		}
	}
	return false
}

func wildcardMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if wildcardMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && wildcardMatch(pattern[1:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && wildcardMatch(pattern[1:], s[1:])
}

// conditionsHold evaluates the Condition block: every operator and key must
// hold. A key missing from the request (IAM User Guide, "Condition
// operators" and "Single-valued vs. multivalued context keys"): ...IfExists
// holds; ForAllValues holds (no value fails it); the negated operators hold;
// Null compares presence; everything else fails.
func (s policyStatement) conditionsHold(ctx map[string]string) bool {
	for op, keys := range s.Condition {
		base, qualifier := splitOperator(op)
		for key, values := range keys {
			got, present := ctx[strings.ToLower(key)]
			negated := strings.Contains(base, "Not")
			if base == "Null" {
				if (values[0] == "true") == present {
					return false
				}
				continue
			}
			if !present {
				switch {
				case strings.Contains(qualifier, "IfExists"), strings.HasPrefix(qualifier, "ForAllValues:"), negated:
					continue
				default:
					return false
				}
			}
			match := false
			for _, want := range values {
				switch base {
				case "StringEquals", "StringNotEquals":
					match = match || got == want
				case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
					match = match || strings.EqualFold(got, want)
				case "Bool":
					match = match || strings.EqualFold(got, want)
				case "StringLike", "StringNotLike", "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike":
					// ArnEquals and ArnLike both take wildcards (IAM: ARN condition operators).
					match = match || wildcardMatch(want, got)
				}
			}
			if negated {
				match = !match
			}
			if !match {
				return false
			}
		}
	}
	return true
}

// evaluate decides req against the identity and resource policies: "" when
// allowed, else why not.
func evaluate(identity, resource []policyDoc, req iamRequest) (why string) {
	for _, doc := range identity {
		for _, s := range doc.Statement {
			if s.Effect == "Deny" && s.actionResourceMatch(req) {
				return "explicit deny in an identity-based policy, statement " + s.Sid
			}
		}
	}
	for _, doc := range resource {
		for _, s := range doc.Statement {
			if m, _ := s.principalMatch(req); m && s.Effect == "Deny" && s.actionResourceMatch(req) {
				return "explicit deny in a resource-based policy, statement " + s.Sid
			}
		}
	}
	for _, doc := range identity {
		for _, s := range doc.Statement {
			if s.Effect == "Allow" && s.actionResourceMatch(req) {
				return ""
			}
		}
	}
	for _, doc := range resource {
		for _, s := range doc.Statement {
			if _, direct := s.principalMatch(req); direct && s.Effect == "Allow" && s.actionResourceMatch(req) {
				return ""
			}
		}
	}
	return "no statement allows it (implicit deny)"
}

func (f *FakeAWS) findRole(arn string) *FakeResource {
	for _, r := range f.live {
		if r.Type == "aws:iam/role:Role" && r.Outputs["arn"] == arn {
			return r
		}
	}
	return nil
}

// roleIdentityPolicies are the role's inline and customer-managed policies.
// An AWS managed policy or a permissions boundary is an error: the fake does
// not know what they allow.
func (f *FakeAWS) roleIdentityPolicies(role *FakeResource) ([]policyDoc, error) {
	var docs []policyDoc
	add := func(where string, v any) error {
		doc, err := parsePolicy(v, identityPolicy)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		docs = append(docs, doc)
		return nil
	}
	if role.Inputs["permissionsBoundary"] != nil {
		return nil, fmt.Errorf("role %s has a permissions boundary, which the fake does not model", role.ID)
	}
	if inline, ok := role.Inputs["inlinePolicies"].([]any); ok {
		for _, p := range inline {
			if m, ok := p.(map[string]any); ok {
				if err := add("inline policy of role "+role.ID, m["policy"]); err != nil {
					return nil, err
				}
			}
		}
	}
	if arns, ok := role.Inputs["managedPolicyArns"].([]any); ok && len(arns) > 0 {
		return nil, fmt.Errorf("role %s has managedPolicyArns %v, which the fake does not model", role.ID, arns)
	}
	for _, urn := range sortedURNs(f.live) {
		r := f.live[urn]
		if fmt.Sprint(r.Inputs["role"]) != role.ID {
			continue
		}
		switch r.Type {
		case "aws:iam/rolePolicy:RolePolicy":
			if err := add("role policy "+r.ID, r.Inputs["policy"]); err != nil {
				return nil, err
			}
		case "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
			var found *FakeResource
			for _, p := range f.live {
				if p.Type == "aws:iam/policy:Policy" && p.Outputs["arn"] == r.Inputs["policyArn"] {
					found = p
				}
			}
			if found == nil {
				return nil, fmt.Errorf("role %s has policy %v attached, which the fake does not hold (AWS managed policies are not modelled)", role.ID, r.Inputs["policyArn"])
			}
			if err := add("policy "+found.ID, found.Inputs["policy"]); err != nil {
				return nil, err
			}
		}
	}
	return docs, nil
}

func (f *FakeAWS) bucketPolicies(bucket string) ([]policyDoc, error) {
	var docs []policyDoc
	for _, r := range f.live {
		if r.Type == "aws:s3/bucketPolicy:BucketPolicy" && r.Inputs["bucket"] == bucket {
			doc, err := parsePolicy(r.Inputs["policy"], resourcePolicy)
			if err != nil {
				return nil, fmt.Errorf("bucket policy of %s: %w", bucket, err)
			}
			docs = append(docs, doc)
		}
	}
	return docs, nil
}

func (f *FakeAWS) authorize(service, operation, code, roleArn string, req iamRequest, resource func() ([]policyDoc, error)) error {
	role := f.findRole(roleArn)
	if role == nil {
		return fmt.Errorf("%s %s as %s: the fake holds no such role", service, operation, roleArn)
	}
	identity, err := f.roleIdentityPolicies(role)
	if err != nil {
		return fmt.Errorf("%s %s as %s: %w", service, operation, roleArn, err)
	}
	var res []policyDoc
	if resource != nil {
		if res, err = resource(); err != nil {
			return fmt.Errorf("%s %s as %s: %w", service, operation, roleArn, err)
		}
	}
	req.PrincipalType, req.Principal = "AWS", roleArn
	if why := evaluate(identity, res, req); why != "" {
		return &AccessDeniedError{Service: service, Operation: operation, Code: code, Principal: roleArn, Action: req.Action, Resource: req.Resource, Why: why}
	}
	return nil
}

// HeadBucket evaluates an S3 HeadBucket of bucket by roleArn: S3 authorises
// it as s3:ListBucket on the bucket ARN (S3 API reference, HeadBucket: "you
// must have permissions to perform the s3:ListBucket action"), over TLS, with
// no s3:prefix. Denied: an *AccessDeniedError with S3's code Forbidden.
func (f *FakeAWS) HeadBucket(roleArn, bucket string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	req := iamRequest{Action: "s3:ListBucket", Resource: "arn:aws:s3:::" + bucket,
		Context: map[string]string{"aws:securetransport": "true"}}
	return f.authorize("S3", "HeadBucket", "Forbidden", roleArn, req, func() ([]policyDoc, error) { return f.bucketPolicies(bucket) })
}

// GetObject evaluates an S3 GetObject of bucket/key by roleArn over TLS:
// s3:GetObject on the object ARN; when the bucket's default encryption is
// SSE-KMS, S3 then calls kms:Decrypt on the key for the caller, with
// kms:ViaService s3.<region>.amazonaws.com (S3 User Guide, "Using SSE-KMS":
// "you need kms:Decrypt permission ... to download"; KMS Developer Guide,
// "kms:ViaService"), which the key policy must allow, directly or through
// the account (KMS Developer Guide, "Default key policy").
func (f *FakeAWS) GetObject(roleArn, bucket, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	req := iamRequest{Action: "s3:GetObject", Resource: "arn:aws:s3:::" + bucket + "/" + key,
		Context: map[string]string{"aws:securetransport": "true"}}
	if err := f.authorize("S3", "GetObject", "AccessDenied", roleArn, req, func() ([]policyDoc, error) { return f.bucketPolicies(bucket) }); err != nil {
		return err
	}
	keyArn, err := f.bucketKMSKey(bucket)
	if err != nil || keyArn == "" {
		return err
	}
	suffix := "amazonaws.com"
	if strings.HasPrefix(f.region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	decrypt := iamRequest{Action: "kms:Decrypt", Resource: keyArn, Context: map[string]string{
		"aws:securetransport": "true", "kms:viaservice": "s3." + f.region + "." + suffix, "kms:calleraccount": FakeAccount}}
	return f.authorizeKMS(roleArn, keyArn, decrypt)
}

// authorizeKMS: a KMS request needs the key policy to allow it, directly or
// by allowing the account (which enables IAM policies), and no Deny.
func (f *FakeAWS) authorizeKMS(roleArn, keyArn string, req iamRequest) error {
	var keyPolicy any
	for _, r := range f.live {
		if r.Type == "aws:kms/key:Key" && r.Outputs["arn"] == keyArn {
			keyPolicy = r.Inputs["policy"]
		}
	}
	if keyPolicy == nil {
		// The default key policy: the account's IAM policies decide
		// (KMS Developer Guide, "Default key policy").
		keyPolicy = fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"}]}`, FakeAccount)
	}
	doc, err := parsePolicy(keyPolicy, resourcePolicy)
	if err != nil {
		return fmt.Errorf("KMS Decrypt as %s: key policy of %s: %w", roleArn, keyArn, err)
	}
	req.PrincipalType, req.Principal = "AWS", roleArn
	delegates := false
	for _, s := range doc.Statement {
		if m, direct := s.principalMatch(req); m && !direct && s.Effect == "Allow" && s.actionResourceMatch(req) {
			delegates = true
		}
	}
	if !delegates {
		// Only the key policy can allow: evaluate it alone (identity Denies still apply).
		role := f.findRole(roleArn)
		if role == nil {
			return fmt.Errorf("KMS Decrypt as %s: the fake holds no such role", roleArn)
		}
		identity, err := f.roleIdentityPolicies(role)
		if err != nil {
			return fmt.Errorf("KMS Decrypt as %s: %w", roleArn, err)
		}
		var denies []policyDoc
		for _, d := range identity {
			var ss []policyStatement
			for _, s := range d.Statement {
				if s.Effect == "Deny" {
					ss = append(ss, s)
				}
			}
			denies = append(denies, policyDoc{Statement: ss})
		}
		if why := evaluate(denies, []policyDoc{doc}, req); why != "" {
			return &AccessDeniedError{Service: "KMS", Operation: "Decrypt", Code: "AccessDeniedException", Principal: roleArn, Action: req.Action, Resource: keyArn, Why: why}
		}
		return nil
	}
	return f.authorize("KMS", "Decrypt", "AccessDeniedException", roleArn, req, func() ([]policyDoc, error) { return []policyDoc{doc}, nil })
}

// bucketKMSKey is the ARN of the KMS key of the bucket's default encryption,
// "" when it has none or SSE-S3.
func (f *FakeAWS) bucketKMSKey(bucket string) (string, error) {
	for _, r := range f.live {
		if r.Type != "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2" || r.Inputs["bucket"] != bucket {
			continue
		}
		rules, _ := r.Inputs["rules"].([]any)
		for _, rule := range rules {
			m, _ := rule.(map[string]any)
			def, _ := m["applyServerSideEncryptionByDefault"].(map[string]any)
			if def["sseAlgorithm"] != "aws:kms" && def["sseAlgorithm"] != "aws:kms:dsse" {
				continue
			}
			id := fmt.Sprint(def["kmsMasterKeyId"])
			for _, k := range f.live {
				if k.Type == "aws:kms/key:Key" && (k.Outputs["arn"] == id || k.ID == id) {
					return fmt.Sprint(k.Outputs["arn"]), nil
				}
				if k.Type == "aws:kms/alias:Alias" && (k.Outputs["arn"] == id || k.ID == id) {
					return fmt.Sprint(k.Outputs["targetKeyArn"]), nil
				}
			}
			if def["kmsMasterKeyId"] == nil {
				return "", fmt.Errorf("bucket %s uses the AWS managed key aws/s3, which the fake does not model", bucket)
			}
			return "", fmt.Errorf("bucket %s encrypts with key %s, which the fake does not hold", bucket, id)
		}
	}
	return "", nil
}

// AssumeRoleWithWebIdentity evaluates STS AssumeRoleWithWebIdentity of
// roleArn with a token the cluster's OIDC issuer signed for the service
// account namespace/serviceAccount, audience sts.amazonaws.com (EKS User
// Guide, "IAM roles for service accounts"; the token's sub is
// system:serviceaccount:<namespace>:<name>). The account must hold an IAM
// OIDC provider for the issuer that lists the audience (else STS answers
// InvalidIdentityToken), and the role's trust policy must allow the
// provider as a Federated principal with the token's sub and aud as
// condition keys <issuer host/path>:sub and :aud (IAM User Guide, "Available
// keys for AWS web identity federation").
func (f *FakeAWS) AssumeRoleWithWebIdentity(roleArn, issuer, namespace, serviceAccount string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	host := strings.TrimPrefix(issuer, "https://")
	const audience = "sts.amazonaws.com"
	var provider string
	for _, r := range f.live {
		if r.Type == "aws:iam/openIdConnectProvider:OpenIdConnectProvider" && strings.TrimPrefix(fmt.Sprint(r.Inputs["url"]), "https://") == host {
			clients, _ := r.Inputs["clientIdLists"].([]any)
			if slices.Contains(clients, any(audience)) {
				provider = fmt.Sprint(r.Outputs["arn"])
			}
		}
	}
	if provider == "" {
		return fmt.Errorf("operation error STS: AssumeRoleWithWebIdentity, https response error StatusCode: 400, InvalidIdentityToken: No OpenIDConnect provider found in your account for https://%s with client id %s", host, audience)
	}
	role := f.findRole(roleArn)
	if role == nil {
		return fmt.Errorf("STS AssumeRoleWithWebIdentity: the fake holds no role %s", roleArn)
	}
	trust, err := parsePolicy(role.Inputs["assumeRolePolicy"], trustPolicy)
	if err != nil {
		return fmt.Errorf("STS AssumeRoleWithWebIdentity: trust policy of %s: %w", roleArn, err)
	}
	req := iamRequest{PrincipalType: "Federated", Principal: provider, Action: "sts:AssumeRoleWithWebIdentity", Resource: roleArn,
		Context: map[string]string{
			strings.ToLower(host + ":sub"): "system:serviceaccount:" + namespace + ":" + serviceAccount,
			strings.ToLower(host + ":aud"): audience,
			"aws:federatedprovider":        provider,
		}}
	if why := evaluate(nil, []policyDoc{trust}, req); why != "" {
		return &AccessDeniedError{Service: "STS", Operation: "AssumeRoleWithWebIdentity", Code: "AccessDenied",
			Principal: "system:serviceaccount:" + namespace + ":" + serviceAccount + " via " + provider, Action: req.Action, Resource: roleArn, Why: "trust policy: " + why}
	}
	return nil
}

// ReadObjectAsServiceAccount is IRSA end to end, as a pod of
// namespace/serviceAccount reading bucket/key: assume roleArn with the web
// identity token, then GetObject (and the KMS decrypt behind it).
func (f *FakeAWS) ReadObjectAsServiceAccount(issuer, namespace, serviceAccount, roleArn, bucket, key string) error {
	if err := f.AssumeRoleWithWebIdentity(roleArn, issuer, namespace, serviceAccount); err != nil {
		return err
	}
	return f.GetObject(roleArn, bucket, key)
}

// OIDCIssuer is the OIDC issuer URL of the EKS cluster the fake holds by that name.
func (f *FakeAWS) OIDCIssuer(cluster string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.live {
		if r.Type == "aws:eks/cluster:Cluster" && r.ID == cluster {
			ids, _ := r.Outputs["identities"].([]any)
			if len(ids) > 0 {
				oidcs, _ := ids[0].(map[string]any)["oidcs"].([]any)
				if len(oidcs) > 0 {
					return fmt.Sprint(oidcs[0].(map[string]any)["issuer"]), nil
				}
			}
		}
	}
	return "", fmt.Errorf("the fake holds no EKS cluster %s with an OIDC issuer", cluster)
}

// sortedURNs are the keys of live in order, so that evaluation is deterministic.
func sortedURNs(live map[string]*FakeResource) []string {
	urns := make([]string, 0, len(live))
	for urn := range live {
		urns = append(urns, urn)
	}
	slices.Sort(urns)
	return urns
}
