package realtier

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// HeadBucket evaluates an S3 HeadBucket of bucket by roleArn against the
// policies the fake holds, as IAM does: S3 authorises HeadBucket as
// s3:ListBucket on the bucket ARN, with no s3:prefix in the request context
// (S3 API reference, HeadBucket: "you must have permissions to perform the
// s3:ListBucket action"), over TLS. An explicit Deny in the role's policies or
// the bucket policy wins; otherwise an Allow in the role's inline or
// customer-managed policies (AWS-managed ones are not modelled and grant
// nothing here). The error is S3's 403, plus why.
func (f *FakeAWS) HeadBucket(roleArn, bucket string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	req := iamRequest{Action: "s3:ListBucket", Resource: "arn:aws:s3:::" + bucket,
		Context: map[string]string{"aws:securetransport": "true"}}
	role := f.findRole(roleArn)
	if role == nil {
		return fmt.Errorf("HeadBucket %s as %s: the fake holds no such role", bucket, roleArn)
	}
	var identity, resource []policyDoc
	for _, r := range f.live {
		switch r.Type {
		case "aws:iam/rolePolicy:RolePolicy":
			if fmt.Sprint(r.Inputs["role"]) == role.ID {
				identity = append(identity, parsePolicy(r.Inputs["policy"]))
			}
		case "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
			if fmt.Sprint(r.Inputs["role"]) == role.ID {
				for _, p := range f.live {
					if p.Type == "aws:iam/policy:Policy" && p.Outputs["arn"] == r.Inputs["policyArn"] {
						identity = append(identity, parsePolicy(p.Inputs["policy"]))
					}
				}
			}
		case "aws:s3/bucketPolicy:BucketPolicy":
			if r.Inputs["bucket"] == bucket {
				resource = append(resource, parsePolicy(r.Inputs["policy"]))
			}
		}
	}
	if inline, ok := role.Inputs["inlinePolicies"].([]any); ok {
		for _, p := range inline {
			if m, ok := p.(map[string]any); ok {
				identity = append(identity, parsePolicy(m["policy"]))
			}
		}
	}
	allowed := ""
	for _, doc := range append(identity, resource...) {
		for _, s := range doc.Statement {
			if !s.matches(req) {
				continue
			}
			if strings.EqualFold(s.Effect, "Deny") {
				return forbidden(bucket, roleArn, "explicit deny in statement "+s.Sid)
			}
		}
	}
	for _, doc := range identity {
		for _, s := range doc.Statement {
			if strings.EqualFold(s.Effect, "Allow") && s.matches(req) {
				allowed = s.Sid
			}
		}
	}
	if allowed == "" {
		return forbidden(bucket, roleArn, "no statement of the role's policies allows s3:ListBucket on arn:aws:s3:::"+bucket+" without s3:prefix")
	}
	return nil
}

func forbidden(bucket, role, why string) error {
	return fmt.Errorf("operation error S3: HeadBucket, https response error StatusCode: 403, RequestID: 0000000000000000, api error Forbidden: Forbidden (bucket %s, role %s: %s)", bucket, role, why)
}

func (f *FakeAWS) findRole(arn string) *FakeResource {
	for _, r := range f.live {
		if r.Type == "aws:iam/role:Role" && r.Outputs["arn"] == arn {
			return r
		}
	}
	return nil
}

type iamRequest struct {
	Action, Resource string
	Context          map[string]string // lower-case keys
}

type policyDoc struct {
	Statement []policyStatement
}

type policyStatement struct {
	Sid       string
	Effect    string
	Action    stringOrList
	Resource  stringOrList
	Condition map[string]map[string]stringOrList
}

// stringOrList is an IAM policy element that may be one string or a list.
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []any
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	for _, v := range many {
		*s = append(*s, fmt.Sprint(v))
	}
	return nil
}

// parsePolicy reads a policy input (a JSON string); an unreadable one allows
// nothing.
func parsePolicy(v any) policyDoc {
	var doc policyDoc
	s, _ := v.(string)
	_ = json.Unmarshal([]byte(s), &doc)
	if doc.Statement == nil {
		// a single statement object
		var one struct{ Statement policyStatement }
		if json.Unmarshal([]byte(s), &one) == nil && one.Statement.Effect != "" {
			doc.Statement = []policyStatement{one.Statement}
		}
	}
	return doc
}

func (s policyStatement) matches(req iamRequest) bool {
	return globAny(s.Action, req.Action, true) && globAny(s.Resource, req.Resource, false) && s.conditionsHold(req.Context)
}

func globAny(patterns []string, value string, foldCase bool) bool {
	for _, p := range patterns {
		if foldCase {
			p, value = strings.ToLower(p), strings.ToLower(value)
		}
		if ok, _ := path.Match(strings.ReplaceAll(p, "/", "\x00"), strings.ReplaceAll(value, "/", "\x00")); ok {
			return true
		}
	}
	return false
}

// conditionsHold evaluates the condition block: every operator and key must
// hold. A key missing from the request holds only for ...IfExists and the
// negated operators (IAM: "Condition keys that are not present").
func (s policyStatement) conditionsHold(ctx map[string]string) bool {
	for op, keys := range s.Condition {
		base, ifExists := strings.CutSuffix(op, "IfExists")
		for key, values := range keys {
			got, present := ctx[strings.ToLower(key)]
			if !present {
				if !ifExists && !strings.Contains(base, "Not") {
					return false
				}
				continue
			}
			match := false
			for _, want := range values {
				switch strings.TrimPrefix(strings.TrimPrefix(base, "ForAnyValue:"), "ForAllValues:") {
				case "StringEquals", "ArnEquals", "Bool", "StringNotEquals", "ArnNotEquals":
					match = match || got == want
				case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
					match = match || strings.EqualFold(got, want)
				case "StringLike", "ArnLike", "StringNotLike", "ArnNotLike":
					match = match || globAny([]string{want}, got, false)
				default:
					return false // an operator the fake does not model never holds
				}
			}
			if strings.Contains(base, "Not") {
				match = !match
			}
			if !match {
				return false
			}
		}
	}
	return true
}
