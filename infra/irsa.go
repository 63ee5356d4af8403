package infra

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const irsaRoleType = "aiplatform:infra:IRSARole"

// IRSARoleArgs scopes an IAM role to exactly one Kubernetes service account.
type IRSARoleArgs struct {
	// OIDCProviderArn is the ARN of the cluster's IAM OIDC provider.
	OIDCProviderArn pulumi.StringInput
	// OIDCIssuer is the cluster's issuer URL, with or without the https:// scheme.
	OIDCIssuer     pulumi.StringInput
	Namespace      string
	ServiceAccount string
	// Policy is the JSON of the role's inline permissions policy, usually
	// PolicyDocument.JSON() applied over resource ARNs.
	Policy pulumi.StringInput
	// ManagedPolicyArns are AWS managed policies attached in addition.
	ManagedPolicyArns []string
	Tags              map[string]string
}

// Validate reports every missing field of the args at once.
func (a IRSARoleArgs) Validate() error {
	var errs []error
	if a.OIDCProviderArn == nil {
		errs = append(errs, errors.New("oidcProviderArn: required"))
	}
	if a.OIDCIssuer == nil {
		errs = append(errs, errors.New("oidcIssuer: required"))
	}
	if !IsDNSLabel(a.Namespace) {
		errs = append(errs, fmt.Errorf("namespace: %q is not a DNS-1123 label", a.Namespace))
	}
	if a.ServiceAccount == "" || strings.ContainsAny(a.ServiceAccount, ":*") {
		errs = append(errs, fmt.Errorf("serviceAccount: %q must be a service account name without wildcards", a.ServiceAccount))
	}
	if a.Policy == nil && len(a.ManagedPolicyArns) == 0 {
		errs = append(errs, errors.New("policy: a role without permissions is useless; set policy or managedPolicyArns"))
	}
	return errors.Join(errs...)
}

// IRSARole is an IAM role assumable only by one service account in one namespace.
type IRSARole struct {
	pulumi.ResourceState

	Role *iam.Role
	Arn  pulumi.StringOutput
	// Resources are the role and its policies: what a dependent names to
	// wait for the role's permissions (and to be deleted before them),
	// instead of this component, whose expansion depends on timing.
	Resources []pulumi.Resource
}

// IRSATrustPolicy is the web-identity trust policy for namespace/serviceAccount.
// StringEquals (not StringLike) so that no other service account can match.
func IRSATrustPolicy(providerArn, issuer, namespace, serviceAccount string) PolicyDocument {
	host := strings.TrimPrefix(issuer, "https://")
	return NewPolicy(Statement{
		Effect:    "Allow",
		Principal: map[string]any{"Federated": providerArn},
		Action:    []string{"sts:AssumeRoleWithWebIdentity"},
		Condition: map[string]map[string]any{
			"StringEquals": {
				host + ":sub": "system:serviceaccount:" + namespace + ":" + serviceAccount,
				host + ":aud": "sts.amazonaws.com",
			},
		},
	})
}

// NewIRSARole creates the role, its trust policy and its permissions.
func NewIRSARole(ctx *pulumi.Context, name string, args *IRSARoleArgs, opts ...pulumi.ResourceOption) (*IRSARole, error) {
	if args == nil {
		return nil, errors.New("irsa role " + name + ": args are required")
	}
	if err := args.Validate(); err != nil {
		return nil, fmt.Errorf("irsa role %s: %w", name, err)
	}
	r := &IRSARole{}
	if err := ctx.RegisterComponentResource(irsaRoleType, name, r, opts...); err != nil {
		return nil, err
	}
	trust := pulumi.All(args.OIDCProviderArn, args.OIDCIssuer).ApplyT(func(v []any) string {
		return IRSATrustPolicy(v[0].(string), v[1].(string), args.Namespace, args.ServiceAccount).JSON()
	}).(pulumi.StringOutput)

	roleArgs := &iam.RoleArgs{
		AssumeRolePolicy: trust,
		Description:      pulumi.Sprintf("IRSA role for %s/%s", args.Namespace, args.ServiceAccount),
		Tags:             pulumi.ToStringMap(args.Tags),
	}
	role, err := iam.NewRole(ctx, name, roleArgs, pulumi.Parent(r))
	if err != nil {
		return nil, err
	}
	r.Resources = []pulumi.Resource{role}
	if args.Policy != nil {
		policy, err := iam.NewRolePolicy(ctx, name, &iam.RolePolicyArgs{
			Role:   role.Name,
			Policy: args.Policy,
		}, pulumi.Parent(r))
		if err != nil {
			return nil, err
		}
		r.Resources = append(r.Resources, policy)
	}
	for i, arn := range args.ManagedPolicyArns {
		attachment, err := iam.NewRolePolicyAttachment(ctx, fmt.Sprintf("%s-%d", name, i), &iam.RolePolicyAttachmentArgs{
			Role:      role.Name,
			PolicyArn: pulumi.String(arn),
		}, pulumi.Parent(r))
		if err != nil {
			return nil, err
		}
		r.Resources = append(r.Resources, attachment)
	}
	r.Role = role
	r.Arn = role.Arn
	return r, ctx.RegisterResourceOutputs(r, pulumi.Map{"arn": role.Arn})
}
