package infra

import (
	"testing"

	"github.com/aiplatform/infra/tests/golden"
	"github.com/stretchr/testify/require"
)

const (
	testIssuer   = "https://oidc.eks.us-west-2.amazonaws.com/id/ABC123"
	testProvider = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC123"
)

func TestIRSATrustPolicyGolden(t *testing.T) {
	golden.Assert(t, "testdata/irsa-trust.json", IRSATrustPolicy(testProvider, testIssuer, "triton", "triton").JSON())
}

func TestIRSATrustPolicyIsScopedToOneServiceAccount(t *testing.T) {
	for _, issuer := range []string{testIssuer, "oidc.eks.us-west-2.amazonaws.com/id/ABC123"} {
		doc := IRSATrustPolicy(testProvider, issuer, "kube-system", "cluster-autoscaler")
		require.Len(t, doc.Statement, 1)
		st := doc.Statement[0]
		require.Equal(t, "Allow", st.Effect)
		require.Equal(t, []string{"sts:AssumeRoleWithWebIdentity"}, st.Action)
		require.Equal(t, testProvider, st.Principal["Federated"])
		require.NotContains(t, st.Condition, "StringLike", "wildcards would let other service accounts assume the role")
		eq := st.Condition["StringEquals"]
		require.Equal(t, "system:serviceaccount:kube-system:cluster-autoscaler", eq["oidc.eks.us-west-2.amazonaws.com/id/ABC123:sub"])
		require.Equal(t, "sts.amazonaws.com", eq["oidc.eks.us-west-2.amazonaws.com/id/ABC123:aud"])
	}
}

func TestIRSARoleArgsValidate(t *testing.T) {
	cases := []struct {
		name string
		args IRSARoleArgs
		want []string
	}{
		{"missing everything", IRSARoleArgs{}, []string{"oidcProviderArn: required", "oidcIssuer: required", "namespace:", "serviceAccount:", "policy:"}},
		{"wildcard service account", IRSARoleArgs{Namespace: "ns", ServiceAccount: "*"}, []string{"serviceAccount: \"*\""}},
		{"bad namespace", IRSARoleArgs{Namespace: "Bad_NS", ServiceAccount: "sa"}, []string{"namespace: \"Bad_NS\""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.args.Validate()
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}
