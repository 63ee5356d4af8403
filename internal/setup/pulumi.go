package setup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/aiplatform/infra/stacks/bootstrap/statebackend"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"gopkg.in/yaml.v3"
)

// PulumiSteps is the AWS step through the Pulumi Automation API (the Pulumi
// CLI on PATH, AWS credentials in the environment): the bootstrap project
// (stacks/bootstrap, local state in its .pulumi-state directory) and the
// main project's stacks in the bootstrap's bucket.
type PulumiSteps struct {
	ProjectDir      string   // the main project (Pulumi.yaml)
	BootstrapStack  string   // the bootstrap's stack, one per AWS account
	ApplyPolicyArns []string // aiplatform-bootstrap:github.applyPolicyArns (required: no default)
	Progress        io.Writer
}

func (p *PulumiSteps) bootstrapDir() string {
	return filepath.Join(p.ProjectDir, "stacks", "bootstrap")
}

// bootstrapEnv: the bootstrap holds no secrets, so its passphrase is empty
// (docs/deploy.md, "Bootstrap, step by step").
var bootstrapEnv = map[string]string{"PULUMI_CONFIG_PASSPHRASE": ""}

// bootstrapConfig is the bootstrap's config for in, as `pulumi config set
// --path` keys (stacks/bootstrap/Pulumi.example.yaml).
func (p *PulumiSteps) bootstrapConfig(in BootstrapInput) auto.ConfigMap {
	c := auto.ConfigMap{
		"aws:region":                                {Value: in.Region},
		"aiplatform-bootstrap:github.repository":    {Value: in.Repository},
		"aiplatform-bootstrap:github.subjectPrefix": {Value: in.SubjectPrefix},
	}
	for i, e := range in.Environments {
		c[fmt.Sprintf("aiplatform-bootstrap:github.environments[%d]", i)] = auto.ConfigValue{Value: e}
	}
	for i, a := range p.ApplyPolicyArns {
		c[fmt.Sprintf("aiplatform-bootstrap:github.applyPolicyArns[%d]", i)] = auto.ConfigValue{Value: a}
	}
	if in.Runners != "" {
		c["aiplatform-bootstrap:runners.kind"] = auto.ConfigValue{Value: in.Runners}
	}
	return c
}

// Bootstrap: the state directory, the stack, its config, `pulumi up`.
func (p *PulumiSteps) Bootstrap(ctx context.Context, in BootstrapInput, dryRun bool) (BootstrapOutputs, []Change, error) {
	var changes []Change
	if len(p.ApplyPolicyArns) == 0 {
		return BootstrapOutputs{}, nil, errors.New("-apply-policy-arns: empty: name the IAM policies a deploy may use (what a deploy may change is the account owner's decision, there is no default), e.g. -apply-policy-arns arn:aws:iam::aws:policy/AdministratorAccess")
	}
	if in.Region == "" {
		return BootstrapOutputs{}, nil, errors.New("-region: not set: name the AWS region of the state bucket and the stacks, e.g. -region us-west-2")
	}
	// Pulumi.yaml's backend.url is file://./.pulumi-state, relative to
	// where pulumi runs (the Automation API runs it in the project directory).
	stateDir := filepath.Join(p.bootstrapDir(), ".pulumi-state")
	if _, err := os.Stat(stateDir); errors.Is(err, os.ErrNotExist) {
		changes = append(changes, Change{Op: "create", What: "directory " + stateDir, Detail: "the bootstrap's local state"})
		if dryRun {
			return BootstrapOutputs{}, append(changes, Change{Op: "create", What: "bootstrap stack " + p.BootstrapStack, Detail: "state bucket, KMS key, GitHub OIDC roles"}), nil
		}
		if err := os.MkdirAll(stateDir, 0o700); err != nil {
			return BootstrapOutputs{}, changes, err
		}
	}
	if err := needPulumiCLI(); err != nil {
		return BootstrapOutputs{}, changes, err
	}
	opts := []auto.LocalWorkspaceOption{auto.EnvVars(bootstrapEnv)}
	st, err := auto.SelectStackLocalSource(ctx, p.BootstrapStack, p.bootstrapDir(), opts...)
	if auto.IsSelectStack404Error(err) {
		changes = append(changes, Change{Op: "create", What: "bootstrap stack " + p.BootstrapStack, Detail: "state bucket, KMS key, GitHub OIDC roles"})
		if dryRun {
			return BootstrapOutputs{}, changes, nil
		}
		st, err = auto.NewStackLocalSource(ctx, p.BootstrapStack, p.bootstrapDir(), opts...)
	}
	if err != nil {
		return BootstrapOutputs{}, changes, fmt.Errorf("bootstrap stack %s: %w", p.BootstrapStack, err)
	}
	cur, err := st.GetAllConfig(ctx)
	if err != nil {
		return BootstrapOutputs{}, changes, err
	}
	set := configDiff(flatten(cur), p.bootstrapConfig(in))
	for _, k := range sortedKeys(set) {
		changes = append(changes, Change{Op: "update", What: "bootstrap config " + k, Detail: set[k].Value})
	}
	if !dryRun && len(set) > 0 {
		if err := st.SetAllConfigWithOptions(ctx, set, &auto.ConfigOptions{Path: true}); err != nil {
			return BootstrapOutputs{}, changes, err
		}
	}
	var ops map[string]int
	if dryRun {
		res, err := st.Preview(ctx, optpreview.ProgressStreams(p.progress()))
		if err != nil {
			return BootstrapOutputs{}, changes, awsHint(fmt.Errorf("bootstrap preview: %w", err))
		}
		ops = map[string]int{}
		for k, v := range res.ChangeSummary {
			ops[string(k)] = v
		}
	} else {
		res, err := st.Up(ctx, optup.ProgressStreams(p.progress()))
		if err != nil {
			return BootstrapOutputs{}, changes, awsHint(fmt.Errorf("bootstrap up (run setup again to continue; the state is in %s): %w", stateDir, err))
		}
		if res.Summary.ResourceChanges != nil {
			ops = *res.Summary.ResourceChanges
		}
	}
	if d := opsDetail(ops); d != "" {
		changes = append(changes, Change{Op: "update", What: "bootstrap stack " + p.BootstrapStack, Detail: d})
	}
	outs, err := st.Outputs(ctx)
	if err != nil {
		return BootstrapOutputs{}, changes, err
	}
	str := func(k string) string { s, _ := outs[k].Value.(string); return s }
	return BootstrapOutputs{BackendURL: str("backendUrl"), SecretsProvider: str("secretsProvider"),
		PreviewRoleArn: str("previewRoleArn"), ApplyRoleArn: str("applyRoleArn"),
		Runners: runnerOutputs(outs)}, changes, nil
}

// runnerOutputs reads the runner pools' outputs (statebackend.Deploy's
// exports), nil when the bootstrap has none.
func runnerOutputs(outs auto.OutputMap) *RunnerOutputs {
	ip, _ := outs[statebackend.OutputRunnerEgressIP].Value.(string)
	if ip == "" {
		return nil
	}
	ro := &RunnerOutputs{EgressIP: ip}
	ro.ConnectionArn, _ = outs[statebackend.OutputRunnerConnectionArn].Value.(string)
	hooks, _ := outs[statebackend.OutputRunnerWebhooks].Value.(map[string]any)
	for _, pool := range statebackend.RunnerPools {
		h, _ := hooks[pool.Name].(map[string]any)
		url, _ := h["payloadUrl"].(string)
		secret, _ := h["secret"].(string)
		ro.Webhooks = append(ro.Webhooks, PoolWebhook{Pool: pool.Name, PayloadURL: url, Secret: secret})
	}
	return ro
}

func (p *PulumiSteps) progress() io.Writer {
	if p.Progress == nil {
		return io.Discard
	}
	return p.Progress
}

// opsDetail summarises an engine change summary without the unchanged.
func opsDetail(ops map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(ops) {
		if k != "same" && ops[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, ops[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// Stack creates the stack with the KMS secrets provider (`pulumi stack init
// --secrets-provider`, which writes secretsprovider: and encryptedkey: into
// Pulumi.<stack>.yaml; docs/deploy.md says why they must be committed) and
// points its config at the CI roles.
func (p *PulumiSteps) Stack(ctx context.Context, in StackInput, dryRun bool) ([]Change, error) {
	var changes []Change
	file := filepath.Join(p.ProjectDir, "Pulumi."+in.Stack+".yaml")
	has, err := readSecretsProvider(file)
	if err != nil {
		return nil, err
	}
	if has.Provider != "" && has.Provider != in.SecretsProvider {
		return nil, fmt.Errorf("%s: secretsprovider is %s, not the bootstrap's %s: its encryptedkey belongs to another key; delete the secretsprovider: and encryptedkey: lines (and any secure: values, which that key encrypted) and run setup again", file, has.Provider, in.SecretsProvider)
	}
	if in.BackendURL == "" || in.BackendURL == Placeholder {
		// A dry run before the bootstrap exists: its key is not known yet.
		provider := in.SecretsProvider
		if provider == "" {
			provider = Placeholder
		}
		return []Change{{Op: "create", What: "stack " + in.Stack, Detail: "secrets provider " + provider}}, nil
	}
	if err := needPulumiCLI(); err != nil {
		return nil, err
	}
	opts := []auto.LocalWorkspaceOption{auto.EnvVars(map[string]string{"PULUMI_BACKEND_URL": in.BackendURL}), auto.SecretsProvider(in.SecretsProvider)}
	st, err := auto.SelectStackLocalSource(ctx, in.Stack, p.ProjectDir, opts...)
	if auto.IsSelectStack404Error(err) {
		changes = append(changes, Change{Op: "create", What: "stack " + in.Stack, Detail: "in " + in.BackendURL + ", secrets provider " + in.SecretsProvider + " (secretsprovider:/encryptedkey: in " + file + ")"})
		if dryRun {
			return changes, nil
		}
		st, err = auto.NewStackLocalSource(ctx, in.Stack, p.ProjectDir, opts...)
	}
	if err != nil {
		return changes, awsHint(fmt.Errorf("stack %s: %w", in.Stack, err))
	}
	if has.Provider == "" || !has.EncryptedKey {
		if len(changes) == 0 { // an existing stack without the lines
			changes = append(changes, Change{Op: "update", What: "stack " + in.Stack + " secrets provider", Detail: in.SecretsProvider})
			if !dryRun {
				if err := st.ChangeSecretsProvider(ctx, in.SecretsProvider, nil); err != nil {
					return changes, err
				}
			}
		}
	}
	cur, err := st.GetAllConfig(ctx)
	if err != nil {
		return changes, err
	}
	set := stackConfig(cur, in)
	for _, k := range sortedKeys(set) {
		changes = append(changes, Change{Op: "update", What: "stack " + in.Stack + " config " + k, Detail: set[k].Value})
	}
	if !dryRun && len(set) > 0 {
		if err := st.SetAllConfigWithOptions(ctx, set, &auto.ConfigOptions{Path: true}); err != nil {
			return changes, err
		}
	}
	return changes, nil
}

// stackConfig is what Stack sets in the stack's config: the region, the
// apply role as the cluster's creator, and the preview role appended to
// viewerRoleArns (docs/deploy.md, setup step 4); with the CodeBuild
// runners, the API endpoint public and private with the runners' address
// appended to publicAccessCidrs (they run in a VPC of their own); nothing
// already there.
func stackConfig(cur auto.ConfigMap, in StackInput) auto.ConfigMap {
	want := auto.ConfigMap{
		"aws:region":                       {Value: in.Region},
		"aiplatform:clusterCreatorRoleArn": {Value: in.ApplyRoleArn},
	}
	if in.RunnerEgressIP != "" {
		// The committed stacks are private; the runners reach the API from
		// outside the VPC, so -runners codebuild opens the public endpoint
		// to their one address. The change is in Pulumi.<stack>.yaml, which
		// the user commits and a second person reviews (docs/setup.md).
		want["aiplatform:endpointAccess"] = auto.ConfigValue{Value: publicAndPrivate}
	}
	set := configDiff(flatten(cur), want)
	appendTo := func(key, value string) {
		var list []string
		if v, ok := cur[key]; ok {
			_ = json.Unmarshal([]byte(v.Value), &list)
		}
		if !slices.Contains(list, value) {
			set[fmt.Sprintf("%s[%d]", key, len(list))] = auto.ConfigValue{Value: value}
		}
	}
	appendTo("aiplatform:viewerRoleArns", in.PreviewRoleArn)
	if in.RunnerEgressIP != "" {
		appendTo("aiplatform:publicAccessCidrs", in.RunnerEgressIP+"/32")
	}
	return set
}

// publicAndPrivate is the stacks' endpointAccess that admits
// publicAccessCidrs (stacks/config.go).
const publicAndPrivate = "public-and-private"

// secretsProviderLines is what Pulumi.<stack>.yaml says about its secrets.
type secretsProviderLines struct {
	Provider     string
	EncryptedKey bool
}

func readSecretsProvider(file string) (secretsProviderLines, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return secretsProviderLines{}, nil
	}
	if err != nil {
		return secretsProviderLines{}, err
	}
	var y struct {
		SecretsProvider string `yaml:"secretsprovider"`
		EncryptedKey    string `yaml:"encryptedkey"`
	}
	if err := yaml.Unmarshal(data, &y); err != nil {
		return secretsProviderLines{}, fmt.Errorf("%s: %w", file, err)
	}
	return secretsProviderLines{Provider: y.SecretsProvider, EncryptedKey: y.EncryptedKey != ""}, nil
}

// flatten turns `pulumi config --json` values (objects and lists as JSON)
// into --path keys, so they compare with what setup sets.
func flatten(cur auto.ConfigMap) map[string]string {
	out := map[string]string{}
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(key+"."+k, e)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", key, i), e)
			}
		case string:
			out[key] = x
		default:
			b, _ := json.Marshal(x)
			out[key] = string(b)
		}
	}
	for k, v := range cur {
		var parsed any
		if v.Secret || json.Unmarshal([]byte(v.Value), &parsed) != nil {
			out[k] = v.Value
			continue
		}
		switch parsed.(type) {
		case map[string]any, []any:
			walk(k, parsed)
		default:
			out[k] = v.Value
		}
	}
	return out
}

// configDiff is the part of want that cur does not already hold.
func configDiff(cur map[string]string, want auto.ConfigMap) auto.ConfigMap {
	out := auto.ConfigMap{}
	for k, v := range want {
		if cur[k] != v.Value {
			out[k] = v
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// needPulumiCLI: the Automation API runs the Pulumi CLI.
func needPulumiCLI() error {
	if _, err := exec.LookPath("pulumi"); err != nil {
		return errors.New("the Pulumi CLI is not on PATH, and the bootstrap needs it: install v3.274.1 (PULUMI_VERSION=3.274.1 bash .github/scripts/install-pulumi.sh, or https://www.pulumi.com/docs/iac/download-install/) and run setup again, or run the bootstrap yourself and pass -backend-url, -preview-role-arn and -apply-role-arn")
	}
	return nil
}

// awsPermissionsDoc is the section of docs/setup.md that lists what the
// bootstrap and the stacks' creation need from AWS.
const awsPermissionsDoc = "docs/setup.md#aws-permissions"

// awsHint adds the fix to the AWS answers setup can meet: missing or
// expired credentials (the messages of aws-sdk-go-v2's credential chain,
// which the AWS provider and the S3 backend use), and a permission the
// credentials lack (deniedHint).
func awsHint(err error) error {
	m := err.Error()
	for _, s := range []string{"no valid credential sources", "NoCredentialProviders", "failed to refresh cached credentials", "ExpiredToken", "InvalidClientTokenId", "get identity: get credentials"} {
		if strings.Contains(m, s) {
			return fmt.Errorf("%w\nAWS credentials are missing or expired: log in as an administrator of the account (aws sso login --profile <profile>; export AWS_PROFILE=<profile>) and run setup again", err)
		}
	}
	if h := deniedHint(m); h != "" {
		return fmt.Errorf("%w\n%s", err, h)
	}
	return err
}

var (
	// AWS's text for a request no policy allows (IAM User Guide,
	// "Troubleshoot access denied error messages"): `User: <arn> is not
	// authorized to perform: <action> [on resource: <arn>] [because …|with an
	// explicit deny in …]`. S3 quotes the resource; KMS's CreateKey names `*`.
	notAuthorizedRE = regexp.MustCompile(`(?:User: (arn:\S+) )?is not authorized to perform: ([A-Za-z0-9-]+:[A-Za-z0-9*]+)(?: on resource: "?([^"\s]+)"?)?(?: (because [^.\n]*|with an explicit deny [^.\n]*))?`)
	// KMS when tags come with CreateKey: "You don't have the kms:TagResource
	// permission that is required to add tags during key creation."
	missingPermissionRE = regexp.MustCompile(`You don't have the ([A-Za-z0-9-]+:[A-Za-z0-9*]+) permission`)
	// aws-sdk-go-v2's operation error, for a denial that names no action
	// (S3's plain "Access Denied" outside the enhanced messages, EC2's
	// encoded UnauthorizedOperation): "operation error S3: CreateBucket, …".
	operationRE = regexp.MustCompile(`operation error ([A-Za-z0-9 ]+): ([A-Za-z0-9]+),`)
)

// deniedHint reads an AWS permission error (AccessDenied,
// AccessDeniedException, UnauthorizedOperation) in m: the actions denied,
// to whom, and the fix; "" when m is none.
func deniedHint(m string) string {
	if !strings.Contains(m, "AccessDenied") && !strings.Contains(m, "UnauthorizedOperation") && !strings.Contains(m, "is not authorized to perform") {
		return ""
	}
	var denied []string
	principal, why := "", ""
	add := func(s string) {
		if !slices.Contains(denied, s) {
			denied = append(denied, s)
		}
	}
	for _, g := range notAuthorizedRE.FindAllStringSubmatch(m, -1) {
		d := g[2]
		if r := strings.TrimRight(g[3], ".,"); r != "" && r != "*" {
			d += " on " + r
		}
		add(d)
		if principal == "" {
			principal = g[1]
		}
		// An explicit deny decides the fix, whichever denial says it.
		if why == "" || strings.HasPrefix(g[4], "with an explicit deny") {
			why = g[4]
		}
	}
	for _, g := range missingPermissionRE.FindAllStringSubmatch(m, -1) {
		add(g[1])
	}
	if len(denied) == 0 {
		for _, g := range operationRE.FindAllStringSubmatch(m, -1) {
			add("the call " + g[1] + " " + g[2] + " (AWS's message names no IAM action)")
		}
	}
	what := "AWS denied a request"
	if len(denied) > 0 {
		what = "AWS denied " + strings.Join(denied, ", ")
	}
	if principal != "" {
		what += " to " + principal
	}
	explicit := strings.HasPrefix(why, "with an explicit deny")
	if why != "" && (len(denied) == 1 || explicit) { // the reason of one denial, not of all
		what += " (" + why + ")"
	}
	if explicit {
		// No grant overrides an explicit deny (IAM User Guide, "Policy
		// evaluation logic"), so more permissions would not help.
		return what + ": a policy denies it explicitly, which no permission granted to these credentials overrides: ask whoever owns that policy (for a service control policy, your AWS Organizations administrator) to allow it, or run setup in an account it does not restrict, and run setup again"
	}
	return what + ": run setup as an administrator of the account (the AdministratorAccess policy), or grant these credentials the permissions " + awsPermissionsDoc + " lists, and run setup again"
}
