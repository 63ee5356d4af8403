package realtier

import (
	"strings"
	"testing"

	"github.com/aiplatform/infra/infra"
	"github.com/aiplatform/infra/workloads/addons"
	"github.com/aiplatform/infra/workloads/inference"
)

// irsaWorld is the fake holding what IRSA for Triton needs, built from the
// program's own policy builders: the cluster and its OIDC provider, the
// model bucket (SSE-KMS, TLS-only bucket policy), Triton's role (trust for
// triton/triton, ModelReadPolicy on the models/ prefix) and the Load
// Balancer Controller's role (trust for its own service account only).
type irsaWorld struct {
	f                             *FakeAWS
	issuer, bucket, keyArn        string
	triton, controller, unrelated string
}

func newIRSAWorld(t *testing.T, modelPolicy func(bucketArn, keyArn string) string) irsaWorld {
	t.Helper()
	f := newTestFake()
	mustCreate(t, f, clusterType, "cluster", testCluster("c1", "API"))
	issuer, err := f.OIDCIssuer("c1")
	if err != nil {
		t.Fatal(err)
	}
	provider := mustCreate(t, f, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "oidc",
		map[string]any{"url": issuer, "clientIdLists": []any{"sts.amazonaws.com"}, "thumbprintLists": []any{"9e99a48a9960b14926bb7f3b02e22da2b0ab7280"}})
	key := mustCreate(t, f, "aws:kms/key:Key", "models", map[string]any{"description": "models", "enableKeyRotation": true})
	keyArn := key.state["arn"].(string)
	bucket := mustCreate(t, f, "aws:s3/bucketV2:BucketV2", "models", map[string]any{"bucket": "aiplatform-models-0123"})
	bucketArn := bucket.state["arn"].(string)
	mustCreate(t, f, "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", "models", map[string]any{
		"bucket": "aiplatform-models-0123",
		"rules":  []any{map[string]any{"applyServerSideEncryptionByDefault": map[string]any{"sseAlgorithm": "aws:kms", "kmsMasterKeyId": keyArn}, "bucketKeyEnabled": true}},
	})
	mustCreate(t, f, "aws:s3/bucketPolicy:BucketPolicy", "models", map[string]any{"bucket": "aiplatform-models-0123", "policy": infra.TLSOnlyPolicy(bucketArn).JSON()})

	providerArn := provider.state["arn"].(string)
	role := func(name, ns, sa, policy string) string {
		r := mustCreate(t, f, roleType, name, map[string]any{"name": name, "assumeRolePolicy": infra.IRSATrustPolicy(providerArn, issuer, ns, sa).JSON()})
		mustCreate(t, f, "aws:iam/rolePolicy:RolePolicy", name, map[string]any{"name": name, "role": r.id, "policy": policy})
		return r.state["arn"].(string)
	}
	w := irsaWorld{f: f, issuer: issuer, bucket: "aiplatform-models-0123", keyArn: keyArn}
	w.triton = role("triton", "triton", "triton", modelPolicy(bucketArn, keyArn))
	w.controller = role("lb-controller", "kube-system", "aws-load-balancer-controller",
		infra.NewPolicy(infra.Allow("Describe", []string{"ec2:Describe*", "elasticloadbalancing:Describe*"}, []string{"*"})).JSON())
	return w
}

func tritonPolicy(bucketArn, keyArn string) string {
	return inference.ModelReadPolicy("us-west-2", bucketArn, "models", keyArn).JSON()
}

// Item 6: IRSA end to end, as Triton's pod reads a model: STS
// AssumeRoleWithWebIdentity against the role's trust policy (sub and aud
// of the service account's token), then S3 GetObject under the model
// prefix and the kms:Decrypt S3 makes for it (kms:ViaService). Every
// refusal must be AWS's AccessDenied, not any error.
func TestFakeIRSAReadsTheModelOnlyAsTritonsServiceAccount(t *testing.T) {
	w := newIRSAWorld(t, tritonPolicy)
	if err := w.f.ReadObjectAsServiceAccount(w.issuer, "triton", "triton", w.triton, w.bucket, "models/resnet/1/model.onnx"); err != nil {
		t.Fatalf("Triton's service account cannot read its model: %v", err)
	}
	if err := w.f.HeadBucket(w.triton, w.bucket); err != nil {
		t.Errorf("Triton's role cannot HeadBucket (s3:ListBucket, no s3:prefix): %v", err)
	}
	for _, tc := range []struct {
		name                    string
		ns, sa, role, bucketKey string
		deniedBy                string
	}{
		{"another service account in Triton's namespace", "triton", "default", w.triton, "models/resnet/1/model.onnx", "AssumeRoleWithWebIdentity"},
		{"Triton's name in another namespace", "apps", "triton", w.triton, "models/resnet/1/model.onnx", "AssumeRoleWithWebIdentity"},
		{"the controller's service account with Triton's role", "kube-system", "aws-load-balancer-controller", w.triton, "models/resnet/1/model.onnx", "AssumeRoleWithWebIdentity"},
		{"the controller's own role on the models", "kube-system", "aws-load-balancer-controller", w.controller, "models/resnet/1/model.onnx", "GetObject"},
		{"Triton outside the model prefix", "triton", "triton", w.triton, "state/.pulumi/stacks/dev.json", "GetObject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := w.f.ReadObjectAsServiceAccount(w.issuer, tc.ns, tc.sa, tc.role, w.bucket, tc.bucketKey)
			if !IsAccessDenied(err) || !strings.Contains(err.Error(), tc.deniedBy) {
				t.Errorf("got %v; want AccessDenied from %s", err, tc.deniedBy)
			}
		})
	}
	if err := w.f.HeadBucket(w.controller, w.bucket); !IsAccessDenied(err) {
		t.Errorf("the controller's HeadBucket of the model bucket: %v, want AccessDenied", err)
	}
}

// Item 6: the decrypt is checked on its own: a policy without kms:Decrypt,
// or with a kms:ViaService of another region, can fetch nothing from an
// SSE-KMS bucket.
func TestFakeIRSAGetObjectNeedsKMSDecryptViaS3(t *testing.T) {
	for name, policy := range map[string]func(bucketArn, keyArn string) string{
		"no kms:Decrypt": func(bucketArn, _ string) string {
			return infra.NewPolicy(infra.Allow("ReadModels", []string{"s3:GetObject"}, []string{bucketArn + "/models/*"})).JSON()
		},
		"ViaService of another region": func(bucketArn, keyArn string) string {
			return inference.ModelReadPolicy("eu-west-1", bucketArn, "models", keyArn).JSON()
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := newIRSAWorld(t, policy)
			err := w.f.ReadObjectAsServiceAccount(w.issuer, "triton", "triton", w.triton, w.bucket, "models/resnet/1/model.onnx")
			if !IsAccessDenied(err) || !strings.Contains(err.Error(), "kms:Decrypt") {
				t.Errorf("got %v; want KMS AccessDenied for kms:Decrypt", err)
			}
		})
	}
}

// Item 7: what the evaluator cannot read is an error, not an empty policy;
// what it models follows IAM (IAM User Guide, "Policy evaluation logic" and
// "Condition operators").
func TestFakeIAMEvaluatorIsStrict(t *testing.T) {
	bucketPolicy := func(statements string) string {
		return `{"Version":"2012-10-17","Statement":[` + statements + `]}`
	}
	allowList := `{"Sid":"List","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::aiplatform-models-0123"}`
	for _, tc := range []struct {
		name   string
		policy string // Triton's identity policy
		bucket string // extra bucket policy statement ("" none)
		want   string // "" allowed, "denied", or an error text
	}{
		{"plain allow", bucketPolicy(allowList), "", ""},
		{"unparseable policy", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny",`, "", "cannot be parsed"},
		{"unparseable Deny does not disappear", bucketPolicy(allowList + `,{"Effect":"Deny","Action":"s3:*","Resource":"*","Conditions":{}}`), "", "cannot be parsed"},
		{"unknown condition operator", bucketPolicy(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":"10"}}}`), "", "NumericLessThan is not modelled"},
		{"Principal in an identity policy", bucketPolicy(`{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"*"}`), "", "cannot name a Principal"},
		{"NotPrincipal", bucketPolicy(allowList), `{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:role/x"},"Action":"s3:*","Resource":"*"}`, "NotPrincipal is not modelled"},
		{"lower-case effect", bucketPolicy(`{"Effect":"allow","Action":"s3:ListBucket","Resource":"*"}`), "", "is not Allow or Deny"},
		{"NotAction allows what it does not name", bucketPolicy(`{"Effect":"Allow","NotAction":["iam:*","kms:*"],"Resource":"arn:aws:s3:::aiplatform-models-0123"}`), "", ""},
		{"NotAction naming the action", bucketPolicy(`{"Effect":"Allow","NotAction":"s3:List*","Resource":"*"}`), "", "denied"},
		{"NotResource excludes the bucket", bucketPolicy(`{"Effect":"Allow","Action":"s3:ListBucket","NotResource":"arn:aws:s3:::aiplatform-models-*"}`), "", "denied"},
		{"ForAllValues on a missing key holds", bucketPolicy(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}}`), "", ""},
		{"ForAnyValue on a missing key fails", bucketPolicy(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["team"]}}}`), "", "denied"},
		{"StringNotEquals on a missing key holds", bucketPolicy(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringNotEquals":{"s3:prefix":"secret/"}}}`), "", ""},
		{"Null true on a missing key holds", bucketPolicy(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"Null":{"s3:prefix":"true"}}}`), "", ""},
		{"bucket policy Deny for the role", bucketPolicy(allowList), `{"Sid":"NoRole","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:role/triton"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::aiplatform-models-0123"}`, "denied"},
		{"bucket policy Allow to the account grants nothing by itself", bucketPolicy(`{"Effect":"Allow","Action":"ec2:DescribeVpcs","Resource":"*"}`), `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::aiplatform-models-0123"}`, "denied"},
		{"bucket policy Allow to the role", bucketPolicy(`{"Effect":"Allow","Action":"ec2:DescribeVpcs","Resource":"*"}`), `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/triton"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::aiplatform-models-0123"}`, ""},
		{"policy variables", bucketPolicy(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::${aws:username}"}`), "", "policy variables"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newIRSAWorld(t, func(string, string) string { return tc.policy })
			if tc.bucket != "" {
				bucketArn := "arn:aws:s3:::" + w.bucket
				extra := strings.TrimSuffix(infra.TLSOnlyPolicy(bucketArn).JSON(), "}")
				extra = extra[:strings.LastIndex(extra, "]")] + "," + tc.bucket + "]}"
				mustCreate(t, w.f, "aws:s3/bucketPolicy:BucketPolicy", "extra", map[string]any{"bucket": w.bucket, "policy": extra})
			}
			err := w.f.HeadBucket(w.triton, w.bucket)
			switch tc.want {
			case "":
				if err != nil {
					t.Errorf("HeadBucket: %v, want allowed", err)
				}
			case "denied":
				if !IsAccessDenied(err) {
					t.Errorf("HeadBucket: %v, want AccessDenied", err)
				}
			default:
				if err == nil || IsAccessDenied(err) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("HeadBucket: %v, want an evaluation error containing %q (not AccessDenied)", err, tc.want)
				}
			}
		})
	}
}

// Every policy the program builds is one the fake can evaluate: otherwise a
// real-tier IAM check on it would be an evaluation error, not AWS's answer.
func TestFakeIAMReadsEveryPolicyTheProgramBuilds(t *testing.T) {
	const (
		bucketArn   = "arn:aws:s3:::aiplatform-models-0123"
		keyArn      = "arn:aws:kms:us-west-2:123456789012:key/0a1b2c3d-0000-0000-0000-000000000000"
		providerArn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC"
	)
	for name, tc := range map[string]struct {
		doc  infra.PolicyDocument
		kind policyKind
	}{
		"LoadBalancerControllerPolicy": {addons.LoadBalancerControllerPolicy("aws"), identityPolicy},
		"ClusterAutoscalerPolicy":      {addons.ClusterAutoscalerPolicy("aws", "us-west-2", "aiplatform-dev"), identityPolicy},
		"ExternalDNSPolicy":            {addons.ExternalDNSPolicy("aws", []string{"Z0123456789ABCDEFGHIJ"}), identityPolicy},
		"ModelReadPolicy":              {inference.ModelReadPolicy("us-west-2", bucketArn, "models", keyArn), identityPolicy},
		"EBSCSIKMSPolicy":              {infra.EBSCSIKMSPolicy(keyArn), identityPolicy},
		"TLSOnlyPolicy":                {infra.TLSOnlyPolicy(bucketArn), resourcePolicy},
		"IRSATrustPolicy":              {infra.IRSATrustPolicy(providerArn, "https://oidc.eks.us-west-2.amazonaws.com/id/ABC", "triton", "triton"), trustPolicy},
	} {
		if _, err := parsePolicy(tc.doc.JSON(), tc.kind); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
