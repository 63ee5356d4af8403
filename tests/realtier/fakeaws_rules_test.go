package realtier

import (
	"context"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

// These tests drive the fake AWS provider's handlers directly (no engine,
// no REALTIER): the rules it enforces and the way it diffs, each against
// the AWS or provider behaviour it stands in for.

const (
	clusterType = "aws:eks/cluster:Cluster"
	groupType   = "aws:eks/nodeGroup:NodeGroup"
	entryType   = "aws:eks/accessEntry:AccessEntry"
	roleType    = "aws:iam/role:Role"
	ltType      = "aws:ec2/launchTemplate:LaunchTemplate"
)

func newTestFake() *FakeAWS {
	return &FakeAWS{Version: "6.83.4", live: map[string]*FakeResource{}, region: "us-west-2", implicitEntries: map[string][]string{}}
}

func urnOf(typ, name string) string { return "urn:pulumi:dev::aiplatform::" + typ + "::" + name }

func pb(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeResource is one resource driven through the fake's handlers as the
// engine would: check, then create, diff and update against its state.
type fakeResource struct {
	t          *testing.T
	f          *FakeAWS
	typ, urn   string
	id         string
	inputs     map[string]any // checked inputs
	state      map[string]any // outputs
	createdErr error
}

// check runs the fake's Check on news (olds: the resource's checked inputs).
func (r *fakeResource) check(news map[string]any) map[string]any {
	r.t.Helper()
	req := &pulumirpc.CheckRequest{Urn: r.urn, Type: r.typ, News: pb(r.t, news), RandomSeed: []byte("0123456789abcdef")}
	if r.inputs != nil {
		req.Olds = pb(r.t, r.inputs)
	}
	resp, err := r.f.Check(context.Background(), req)
	if err != nil {
		r.t.Fatal(err)
	}
	return resp.GetInputs().AsMap()
}

// create checks and creates a resource; err is the fake's refusal.
func create(t *testing.T, f *FakeAWS, typ, name string, inputs map[string]any) (*fakeResource, error) {
	t.Helper()
	r := &fakeResource{t: t, f: f, typ: typ, urn: urnOf(typ, name)}
	return r, r.create(inputs)
}

func (r *fakeResource) create(inputs map[string]any) error {
	r.t.Helper()
	checked := r.check(inputs)
	resp, err := r.f.Create(context.Background(), &pulumirpc.CreateRequest{Urn: r.urn, Type: r.typ, Properties: pb(r.t, checked)})
	if err != nil {
		return err
	}
	r.id, r.inputs, r.state = resp.GetId(), checked, resp.GetProperties().AsMap()
	return nil
}

func mustCreate(t *testing.T, f *FakeAWS, typ, name string, inputs map[string]any) *fakeResource {
	t.Helper()
	r, err := create(t, f, typ, name, inputs)
	if err != nil {
		t.Fatalf("create %s %s: %v", typ, name, err)
	}
	return r
}

// diff is the fake's Diff of news against the resource's state.
func (r *fakeResource) diff(news map[string]any) (*pulumirpc.DiffResponse, Op) {
	r.t.Helper()
	resp, err := r.f.Diff(context.Background(), &pulumirpc.DiffRequest{Urn: r.urn, Type: r.typ, Id: r.id,
		Olds: pb(r.t, r.state), OldInputs: pb(r.t, r.inputs), News: pb(r.t, r.check(news))})
	if err != nil {
		r.t.Fatal(err)
	}
	ops := r.f.Ops()
	return resp, ops[len(ops)-1]
}

// update is the fake's Update to news (preview: the plan only).
func (r *fakeResource) update(news map[string]any, preview bool) (map[string]any, error) {
	r.t.Helper()
	checked := r.check(news)
	resp, err := r.f.Update(context.Background(), &pulumirpc.UpdateRequest{Urn: r.urn, Type: r.typ, Id: r.id,
		Olds: pb(r.t, r.state), OldInputs: pb(r.t, r.inputs), News: pb(r.t, checked), Preview: preview})
	if err != nil {
		return nil, err
	}
	if !preview {
		r.inputs, r.state = checked, resp.GetProperties().AsMap()
	}
	return resp.GetProperties().AsMap(), nil
}

func (r *fakeResource) delete() {
	r.t.Helper()
	if _, err := r.f.Delete(context.Background(), &pulumirpc.DeleteRequest{Urn: r.urn, Type: r.typ, Id: r.id, OldInputs: pb(r.t, r.inputs)}); err != nil {
		r.t.Fatal(err)
	}
}

func testCluster(name, mode string) map[string]any {
	return map[string]any{
		"name":    name,
		"roleArn": "arn:aws:iam::123456789012:role/" + name + "-eks",
		"vpcConfig": map[string]any{
			"subnetIds":             []any{"subnet-a", "subnet-b"},
			"endpointPrivateAccess": true,
			"endpointPublicAccess":  false,
		},
		"accessConfig": map[string]any{"authenticationMode": mode, "bootstrapClusterCreatorAdminPermissions": true},
		"tags":         map[string]any{"environment": "dev"},
	}
}

func testGroup(cluster, name, role string) map[string]any {
	g := map[string]any{
		"clusterName":   cluster,
		"nodeRoleArn":   role,
		"subnetIds":     []any{"subnet-a", "subnet-b", "subnet-c"},
		"instanceTypes": []any{"m6i.large"},
		"capacityType":  "ON_DEMAND",
		"scalingConfig": map[string]any{"minSize": 1.0, "desiredSize": 1.0, "maxSize": 2.0},
		"labels":        map[string]any{"kind": "system", "team": "ml"},
		"launchTemplate": map[string]any{
			"id": "lt-0123456789abcdef0", "version": "1",
		},
		"tags": map[string]any{"environment": "dev", "cost-center": "ml-platform"},
	}
	if name != "" {
		g["nodeGroupName"] = name
	}
	return g
}

func with(m map[string]any, path string, v any) map[string]any {
	out := deepCopy(m)
	keys := strings.Split(path, ".")
	cur := out
	for _, k := range keys[:len(keys)-1] {
		cur = cur[k].(map[string]any)
	}
	if v == nil {
		delete(cur, keys[len(keys)-1])
	} else {
		cur[keys[len(keys)-1]] = v
	}
	return out
}

func awsCode(err error) string {
	if err == nil {
		return ""
	}
	for _, code := range []string{"ResourceInUseException", "EntityAlreadyExists", "ResourceNotFoundException", "InvalidParameterException"} {
		if strings.Contains(err.Error(), code) {
			return code
		}
	}
	return err.Error()
}

// Item 1. pulumi-terraform-bridge pkg/tfbridge/schema.go
// nameRequiresDeleteBeforeReplace: a replacement deletes first when the
// name field (pulumi-aws: node_group_name is AutoName'd) was set by the
// program, not filled in by Check.
func TestFakeReplacesWithDeleteFirstWhenTheNameIsExplicit_BridgeNameRequiresDeleteBeforeReplace(t *testing.T) {
	f := newTestFake()
	mustCreate(t, f, clusterType, "cluster", testCluster("c1", "API"))
	named := mustCreate(t, f, groupType, "named", testGroup("c1", "system", "arn:aws:iam::123456789012:role/system-node"))
	resp, op := named.diff(with(testGroup("c1", "system", "arn:aws:iam::123456789012:role/system-node"), "capacityType", "SPOT"))
	if len(resp.GetReplaces()) == 0 || !resp.GetDeleteBeforeReplace() || !op.DeleteBeforeReplace {
		t.Errorf("capacityType change of a node group named by the program: replaces %v, deleteBeforeReplace %v; want a replacement that deletes first",
			resp.GetReplaces(), resp.GetDeleteBeforeReplace())
	}

	auto := mustCreate(t, f, groupType, "auto", testGroup("c1", "", "arn:aws:iam::123456789012:role/system-node"))
	if got, _ := auto.inputs[defaultsKey].([]any); len(got) != 1 || got[0] != "nodeGroupName" {
		t.Fatalf("Check's __defaults %v, want [nodeGroupName] (the bridge lists the autonamed field)", got)
	}
	resp, _ = auto.diff(with(testGroup("c1", "", "arn:aws:iam::123456789012:role/system-node"), "capacityType", "SPOT"))
	if len(resp.GetReplaces()) == 0 || resp.GetDeleteBeforeReplace() {
		t.Errorf("capacityType change of an autonamed node group: replaces %v, deleteBeforeReplace %v; want create-before-delete",
			resp.GetReplaces(), resp.GetDeleteBeforeReplace())
	}
}

// Item 1: names AWS keeps unique. EKS CreateCluster and CreateNodegroup:
// ResourceInUseException; IAM CreateRole: EntityAlreadyExists. A create with
// the same URN (a create-before-delete replacement) meets its predecessor.
func TestFakeRefusesTakenNamesOnCreate(t *testing.T) {
	f := newTestFake()
	c := mustCreate(t, f, clusterType, "cluster", testCluster("c1", "API"))
	if _, err := create(t, f, clusterType, "other", testCluster("c1", "API")); awsCode(err) != "ResourceInUseException" {
		t.Errorf("a second cluster named c1: %v, want ResourceInUseException", err)
	}
	mustCreate(t, f, clusterType, "cluster2", testCluster("c2", "API"))
	g := mustCreate(t, f, groupType, "system", testGroup("c1", "system", "arn:aws:iam::123456789012:role/n"))
	if _, err := create(t, f, groupType, "system-again", testGroup("c1", "system", "arn:aws:iam::123456789012:role/n")); awsCode(err) != "ResourceInUseException" {
		t.Errorf("a second node group system in c1: %v, want ResourceInUseException", err)
	}
	if err := g.create(with(testGroup("c1", "system", "arn:aws:iam::123456789012:role/n"), "capacityType", "SPOT")); awsCode(err) != "ResourceInUseException" {
		t.Errorf("create-before-delete replacement of node group system: %v, want ResourceInUseException", err)
	}
	if _, err := create(t, f, groupType, "system-c2", testGroup("c2", "system", "arn:aws:iam::123456789012:role/n")); err != nil {
		t.Errorf("node group system in another cluster: %v, want it created (names are per cluster)", err)
	}
	role := map[string]any{"name": "triton", "assumeRolePolicy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`}
	mustCreate(t, f, roleType, "triton", role)
	if _, err := create(t, f, roleType, "triton-again", role); awsCode(err) != "EntityAlreadyExists" {
		t.Errorf("a second role named triton: %v, want EntityAlreadyExists", err)
	}
	// Deleted first (as delete-before-replace does), the name is free again.
	g.delete()
	if err := g.create(testGroup("c1", "system", "arn:aws:iam::123456789012:role/n")); err != nil {
		t.Errorf("node group system after its predecessor was deleted: %v", err)
	}
	_ = c
}

// Item 2: one access entry per principal (EKS User Guide, "Create access
// entries"): a replacement that creates first clashes with the entry it
// replaces; an in-place update does not clash with itself.
func TestFakeAccessEntryClashesWithTheEntryItReplaces(t *testing.T) {
	f := newTestFake()
	mustCreate(t, f, clusterType, "cluster", testCluster("c1", "API"))
	entry := map[string]any{"clusterName": "c1", "principalArn": "arn:aws:iam::123456789012:role/viewer", "type": "STANDARD", "kubernetesGroups": []any{"view"}}
	e := mustCreate(t, f, entryType, "viewer", entry)
	if _, err := e.update(with(entry, "kubernetesGroups", []any{"view", "edit"}), false); err != nil {
		t.Errorf("in-place update of the entry: %v, want none", err)
	}
	if err := e.create(with(entry, "type", "EC2_LINUX")); awsCode(err) != "ResourceInUseException" {
		t.Errorf("create-before-delete replacement of the entry (type change): %v, want ResourceInUseException", err)
	}
	if _, err := create(t, f, entryType, "viewer-twice", entry); awsCode(err) != "ResourceInUseException" {
		t.Errorf("a second entry for the same principal: %v, want ResourceInUseException", err)
	}
}

// Item 3: in API (and API_AND_CONFIG_MAP) mode EKS creates the access entry
// of a managed node group's role itself (EKS User Guide, "Create access
// entries"), so an explicit one afterwards is a 409.
func TestFakeMakesTheNodeRoleAccessEntryInAPIMode(t *testing.T) {
	for _, tc := range []struct {
		mode     string
		implicit bool
	}{{"API", true}, {"API_AND_CONFIG_MAP", true}, {"CONFIG_MAP", false}} {
		t.Run(tc.mode, func(t *testing.T) {
			f := newTestFake()
			mustCreate(t, f, clusterType, "cluster", testCluster("c1", tc.mode))
			role := "arn:aws:iam::123456789012:role/gpu-node"
			mustCreate(t, f, groupType, "gpu", testGroup("c1", "gpu", role))
			_, err := create(t, f, entryType, "gpu-node", map[string]any{"clusterName": "c1", "principalArn": role, "type": "EC2_LINUX"})
			if tc.implicit && awsCode(err) != "ResourceInUseException" {
				t.Errorf("explicit entry for node role after its group: %v, want ResourceInUseException", err)
			}
			if !tc.implicit && err != nil {
				t.Errorf("explicit entry for node role in CONFIG_MAP mode: %v, want it created", err)
			}
			if got := f.ImplicitAccessEntries()["c1"]; (len(got) == 2) != tc.implicit {
				t.Errorf("entries EKS made itself: %v (implicit node-role entry expected: %v)", got, tc.implicit)
			}
		})
	}
	// The entry first: EKS finds it and makes none.
	f := newTestFake()
	mustCreate(t, f, clusterType, "cluster", testCluster("c1", "API"))
	role := "arn:aws:iam::123456789012:role/gpu-node"
	mustCreate(t, f, entryType, "gpu-node", map[string]any{"clusterName": "c1", "principalArn": role, "type": "EC2_LINUX"})
	mustCreate(t, f, groupType, "gpu", testGroup("c1", "gpu", role))
	if got := f.ImplicitAccessEntries()["c1"]; len(got) != 1 || got[0] != FakeCallerRole {
		t.Errorf("entries EKS made itself after an explicit node-role entry: %v, want only the creator's", got)
	}
}

// Items 4 and 5: the diff as the bridge's plan sees it.
func TestFakeDiffAsTheProviderSchemaHasIt(t *testing.T) {
	f := newTestFake()
	cluster := testCluster("c1", "API")
	c := mustCreate(t, f, clusterType, "cluster", cluster)
	group := testGroup("c1", "system", "arn:aws:iam::123456789012:role/n")
	g := mustCreate(t, f, groupType, "system", group)
	role := map[string]any{"namePrefix": "triton-", "assumeRolePolicy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`}
	r := mustCreate(t, f, roleType, "triton", role)

	for _, tc := range []struct {
		name    string
		res     *fakeResource
		news    map[string]any
		changes []string // top-level keys; nil: no change
		replace bool
	}{
		{"unchanged cluster (AWS's vpcId and clusterSecurityGroupId in vpcConfig are computed)", c, cluster, nil, false},
		{"unchanged node group", g, group, nil, false},
		{"a tag removed from aiplatform:tags", g, with(group, "tags.cost-center", nil), []string{"tags"}, false},
		{"a node label removed", g, with(group, "labels.team", nil), []string{"labels"}, false},
		{"all tags removed", c, with(cluster, "tags", nil), []string{"tags"}, false},
		{"subnetIds reordered (a set)", g, with(group, "subnetIds", []any{"subnet-c", "subnet-a", "subnet-b"}), nil, false},
		{"subnetIds changed", g, with(group, "subnetIds", []any{"subnet-a", "subnet-b", "subnet-d"}), []string{"subnetIds"}, true},
		{"a new launch template id", g, with(group, "launchTemplate.id", "lt-0fedcba9876543210"), []string{"launchTemplate"}, true},
		{"a new launch template version", g, with(group, "launchTemplate.version", "2"), []string{"launchTemplate"}, false},
		{"scaling changed", g, with(group, "scalingConfig.maxSize", 3.0), []string{"scalingConfig"}, false},
		{"cluster bootstrapSelfManagedAddons false", c, with(cluster, "bootstrapSelfManagedAddons", false), []string{"bootstrapSelfManagedAddons"}, true},
		{"cluster bootstrapSelfManagedAddons true, the default", c, with(cluster, "bootstrapSelfManagedAddons", true), nil, false},
		{"cluster creator admin permissions off", c, with(cluster, "accessConfig.bootstrapClusterCreatorAdminPermissions", false), []string{"accessConfig"}, true},
		{"authentication mode changed", c, with(cluster, "accessConfig.authenticationMode", "API_AND_CONFIG_MAP"), []string{"accessConfig"}, false},
		{"service CIDR set", c, with(cluster, "kubernetesNetworkConfig", map[string]any{"serviceIpv4Cidr": "172.20.0.0/16"}), []string{"kubernetesNetworkConfig"}, true},
		{"elastic load balancing set", c, with(cluster, "kubernetesNetworkConfig", map[string]any{"elasticLoadBalancing": map[string]any{"enabled": true}}), []string{"kubernetesNetworkConfig"}, false},
		{"endpoint made public", c, with(cluster, "vpcConfig.endpointPublicAccess", true), []string{"vpcConfig"}, false},
		{"role namePrefix changed", r, with(role, "namePrefix", "inference-"), []string{"namePrefix"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, op := tc.res.diff(tc.news)
			if !equalStrings(resp.GetDiffs(), tc.changes) || (len(resp.GetReplaces()) > 0) != tc.replace {
				t.Errorf("diff %v (paths %v), replaces %v; want changes %v, replace %v", resp.GetDiffs(), op.Paths, resp.GetReplaces(), tc.changes, tc.replace)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Item 8: an update's state is the new inputs plus what AWS computes, not
// the old state's copy of an input block.
func TestFakeUpdateStateHoldsTheUpdatedInputs(t *testing.T) {
	f := newTestFake()
	cluster := testCluster("c1", "API")
	c := mustCreate(t, f, clusterType, "cluster", cluster)
	out, err := c.update(with(cluster, "vpcConfig.endpointPublicAccess", true), false)
	if err != nil {
		t.Fatal(err)
	}
	vpc := out["vpcConfig"].(map[string]any)
	if vpc["endpointPublicAccess"] != true || vpc["vpcId"] == nil {
		t.Errorf("state vpcConfig after the update %v, want endpointPublicAccess true and AWS's vpcId kept", vpc)
	}
	if resp, _ := c.diff(with(cluster, "vpcConfig.endpointPublicAccess", true)); len(resp.GetDiffs()) != 0 {
		t.Errorf("diff right after the update: %v, want none", resp.GetDiffs())
	}
}

// Item 8: terraform-provider-aws ec2/ec2_launch_template.go: latest_version
// is unknown in the plan when anything but name, name_prefix, description,
// default_version or update_default_version changes (tags included), and
// the update creates a version only for data or description changes.
func TestFakeLaunchTemplateVersionAsTheProvider(t *testing.T) {
	f := newTestFake()
	lt := map[string]any{"namePrefix": "system-", "userData": "IyEvYmluL2Jhc2g=", "tags": map[string]any{"environment": "dev"}}
	r := mustCreate(t, f, ltType, "system", lt)
	if r.state["latestVersion"] != 1.0 {
		t.Fatalf("latestVersion after create %v, want 1", r.state["latestVersion"])
	}
	tagged := with(lt, "tags.team", "ml")
	plan, err := r.update(tagged, true)
	if err != nil {
		t.Fatal(err)
	}
	if plan["latestVersion"] != unknownValue {
		t.Errorf("preview of a tag change: latestVersion %v, want unknown (ComputedIf counts tags)", plan["latestVersion"])
	}
	out, err := r.update(tagged, false)
	if err != nil {
		t.Fatal(err)
	}
	if out["latestVersion"] != 1.0 {
		t.Errorf("after a tag-only update latestVersion %v, want 1 (no CreateLaunchTemplateVersion)", out["latestVersion"])
	}
	data := with(tagged, "userData", "IyEvYmluL3No")
	if plan, _ := r.update(data, true); plan["latestVersion"] != unknownValue {
		t.Errorf("preview of a user data change: latestVersion %v, want unknown", plan["latestVersion"])
	}
	if out, _ := r.update(data, false); out["latestVersion"] != 2.0 {
		t.Errorf("after a user data change latestVersion %v, want 2", out["latestVersion"])
	}
}

// Item 9: the state holds what the provider stores (policies normalised by
// the StateFunc, tagsAll with the provider's default tags), and the diff
// compares policies by equivalence, as SuppressEquivalentPolicyDiffs does.
func TestFakeStateIsTheProvidersCanonicalForm(t *testing.T) {
	f := newTestFake()
	if _, err := f.Configure(context.Background(), &pulumirpc.ConfigureRequest{Variables: map[string]string{
		"aws:config:region": "us-west-2", "aws:config:defaultTags": `{"tags":{"owner":"platform","environment":"default"}}`}}); err != nil {
		t.Fatal(err)
	}
	pretty := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Principal\": {\"Service\": \"ec2.amazonaws.com\"},\n      \"Action\": [\"sts:AssumeRole\"]\n    }\n  ]\n}"
	role := map[string]any{"name": "node", "assumeRolePolicy": pretty, "tags": map[string]any{"environment": "dev"}}
	r := mustCreate(t, f, roleType, "node", role)
	if got, want := r.state["assumeRolePolicy"], `{"Statement":[{"Action":["sts:AssumeRole"],"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"}}],"Version":"2012-10-17"}`; got != want {
		t.Errorf("state assumeRolePolicy %v, want the normalised %s", got, want)
	}
	tags, _ := r.state["tagsAll"].(map[string]any)
	if tags["owner"] != "platform" || tags["environment"] != "dev" {
		t.Errorf("tagsAll %v, want the default tags under the resource's own", tags)
	}
	equivalent := `{"Version":"2012-10-17","Statement":{"Action":"sts:AssumeRole","Principal":{"Service":["ec2.amazonaws.com"]},"Effect":"Allow"}}`
	if resp, _ := r.diff(with(role, "assumeRolePolicy", equivalent)); len(resp.GetDiffs()) != 0 {
		t.Errorf("an equivalent trust policy diffs: %v", resp.GetDiffs())
	}
	other := `{"Version":"2012-10-17","Statement":[{"Action":"sts:AssumeRole","Principal":{"Service":"eks.amazonaws.com"},"Effect":"Allow"}]}`
	if resp, _ := r.diff(with(role, "assumeRolePolicy", other)); !equalStrings(resp.GetDiffs(), []string{"assumeRolePolicy"}) {
		t.Errorf("another trust policy: diffs %v, want assumeRolePolicy", resp.GetDiffs())
	}
}
