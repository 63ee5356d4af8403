package realtier

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aiplatform/infra/workloads/inference"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// The platform scenario's names: the dev stack's cluster (clusterName empty:
// aiplatform-<stack>) and the node group the autoscaler resizes.
const (
	platformCluster = "aiplatform-dev"
	spotGroup       = "spot"
	// roleArnAnnotation is IRSA's ServiceAccount annotation (EKS pod identity webhook).
	roleArnAnnotation = "eks.amazonaws.com/role-arn"
)

// TestPlatform rehearses the whole program (issue #14): stacks.Run with the
// dev stack's config (Pulumi.dev.yaml) and the repository's Pulumi.yaml,
// through the real engine and CLI, the real pulumi-eks provider (npm
// @pulumi/eks, run by Node), the recording fake AWS provider, the stub aws
// CLI and the local kube-apiserver, driven by the pipeline's own scripts:
//
//	a. first deploy, the cluster not there yet: preflight, preview
//	   (partial: no chart can render before the cluster exists), apply of
//	   that summary; what the engine sent to AWS
//
// The drift script is TestRehearsal's (its scenario is the same here).
//
//	b. preview --expect-no-changes
//	c. the Cluster Autoscaler resizes a node group: refresh, then a clean
//	   preview (the ignoreChanges transform reached the nested node group)
//	d. a node-group change: preview, apply; the autoscaler's size survives
//	e. a stale approval: the approved property of the nested node group
//	   with another value; refused, nothing applied (issue 18)
//	f. between the fresh preview and the update, a change that replaces
//	   the nested node group: stopped by `up --plan`, no value changed
//	   (the other refusals run on smaller programs: TestApprovalBinding,
//	   TestRehearsal c)
//	g. destroy: order (workloads and load-balanced Services before the Load
//	   Balancer Controller, node groups before the cluster), nothing left
//	h. (after g) the first deploy under `up --plan`: the evidence for
//	   applying partial previews without a plan
func TestPlatform(t *testing.T) {
	chartsDir, err := FindCharts()
	RequireCharts(t, err, "platform scenario (it deploys the add-on charts)")
	repoRoot, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	repoYAML, err := os.ReadFile(filepath.Join(repoRoot, "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	total := time.Now()
	r := startProject(t, projectSpec{
		pkg:         "./platform",
		projectYAML: func(bin string) (string, error) { return PlatformProjectYAML(repoYAML, bin) },
		stackFile:   filepath.Join(repoRoot, "Pulumi."+stackName+".yaml"),
		eksCluster:  platformCluster,
		// The one key not in Pulumi.dev.yaml: the charts come from the
		// packaged directory (no network), as the chartRepository option
		// allows. Everything else is the dev stack as committed (no domain:
		// the endpoints come from load balancer status, which nothing fills
		// in here; they stay empty instead of failing the program).
		config:  map[string]string{"chartRepository": chartsDir},
		timeout: 25 * time.Minute,
	})
	ctx, fake, api := r.ctx, r.aws, r.cluster.API
	baseline, err := api.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}

	ok := timed(t, "a first deploy, no cluster yet", func(t *testing.T) {
		r.expect(t, 0, "pulumi-preflight.sh", nil)
		approved := r.preview(t)
		if approved.outputs["changes"] != "true" {
			t.Errorf("preview outputs %v, want changes=true", approved.outputs)
		}
		var types []string
		for _, res := range approved.summary.Resources {
			if res.Op != "create" {
				t.Errorf("first deploy: %s %s, want only creates", res.Op, res.URN)
			}
			types = append(types, urnType(res.URN))
		}
		for _, want := range []string{"aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup", "aws:eks/accessEntry:AccessEntry", "aws:ec2/vpc:Vpc"} {
			if !slices.Contains(types, want) {
				t.Errorf("the approved summary creates no %s", want)
			}
		}
		if live := fake.Live(); len(live) != 0 {
			t.Errorf("the preview created AWS resources: %v", live)
		}
		t.Logf("approved: %d creates, partial=%s", len(approved.summary.Resources), approved.outputs["partial"])
		code, _ := r.script(t, "pulumi-apply.sh", approved.applyEnv())
		type step struct{ Op, URN string }
		var report struct{ Unapproved, Unpreviewed, NotPerformed []step }
		r.readJSON(t, "update-report.json", &report)
		// The Kubernetes provider's kubeconfig is unknown until the cluster
		// exists, so no chart renders in the preview, without a warning; the
		// summary counts such charts as incomplete (found here: the apply
		// used to exit 5 after `pulumi up`), so the preview is partial and
		// apply accepts what is created under them.
		if code != 0 || len(report.Unapproved) != 0 {
			t.Fatalf("pulumi-apply.sh: exit %d, unapproved %v; want 0 and none", code, report.Unapproved)
		}
		if approved.outputs["partial"] != "true" || len(report.Unpreviewed) == 0 {
			t.Errorf("preview partial=%s, %d created under components it could not render; want partial=true and the charts' children created",
				approved.outputs["partial"], len(report.Unpreviewed))
		}
		if len(report.NotPerformed) != 0 {
			t.Errorf("approved but not performed: %v", report.NotPerformed)
		}
		r.checkFirstDeploy(t)
	})
	if !ok {
		r.platformDestroy(t, baseline)
		t.FailNow()
	}

	timed(t, "b preview is clean", func(t *testing.T) { r.expectNoChanges(t) })

	timed(t, "c the autoscaler resizes a node group", func(t *testing.T) {
		ng := r.nodeGroup(t, spotGroup)
		if err := fake.Mutate(ng.URN, func(in, out map[string]any) {
			in["scalingConfig"].(map[string]any)["desiredSize"] = 4.0
			out["scalingConfig"].(map[string]any)["desiredSize"] = 4.0
		}); err != nil {
			t.Fatal(err)
		}
		before := len(fake.Ops())
		r.cli(t, 0, "refresh", "--yes", "--skip-preview")
		if got := r.stateOf(t, ng.URN).Outputs["scalingConfig"].(map[string]any)["desiredSize"]; got != 4.0 {
			t.Fatalf("after refresh the state's desiredSize is %v, want the autoscaler's 4", got)
		}
		r.expectNoChanges(t)
		// The engine sent the option to the provider: proof the transform
		// reached the aws:eks NodeGroup pulumi-eks creates inside its component.
		var diffs int
		for _, op := range fake.Ops()[before:] {
			if op.Kind == "diff" && op.URN == ng.URN {
				diffs++
				if !slices.Contains(op.IgnoreChanges, "scalingConfig.desiredSize") {
					t.Errorf("diff of %s without ignoreChanges scalingConfig.desiredSize: %v", ng.URN, op.IgnoreChanges)
				}
				if op.Changes != nil {
					t.Errorf("diff of %s found changes %v", ng.URN, op.Changes)
				}
			}
		}
		if diffs == 0 {
			t.Errorf("the preview never diffed %s", ng.URN)
		}
	})

	timed(t, "d node group change: preview, apply", func(t *testing.T) {
		r.configSetPath(t, "nodeGroups[1].maxSize", "7")
		approved := r.preview(t)
		var ops []string
		for _, res := range approved.summary.Resources {
			ops = append(ops, res.Op+" "+urnType(res.URN)+" "+urnName(res.URN)+" "+strings.Join(res.Keys, ","))
		}
		// The remote component's inputs changed too (it has no keys).
		slices.Sort(ops)
		want := []string{"update aws:eks/nodeGroup:NodeGroup nodes-spot scalingConfig", "update eks:index:ManagedNodeGroup nodes-spot "}
		if !slices.Equal(ops, want) {
			t.Errorf("summary %q, want exactly %q", ops, want)
		}
		if approved.outputs["partial"] != "false" {
			t.Errorf("preview outputs %v, want partial=false", approved.outputs)
		}
		r.expect(t, 0, "pulumi-apply.sh", approved.applyEnv())
		r.checkReport(t)
		scaling := r.nodeGroup(t, spotGroup).Inputs["scalingConfig"].(map[string]any)
		if scaling["maxSize"] != 7.0 || scaling["desiredSize"] != 4.0 {
			t.Errorf("the spot node group's scalingConfig in AWS: %v, want maxSize 7 and the autoscaler's desiredSize 4 kept", scaling)
		}
		tm := r.timing(t)
		t.Logf("MEASURED: the fresh preview took %d s; the update started %d s after the fresh preview began (the window in which a change outside the state could slip in)", tm.PreviewSeconds, tm.GapSeconds)
	})

	// e and f are what only the whole program can show; the other refusals
	// (another resource changed, drift while apply sits between its fresh
	// preview and the update, the approved change applying under the plan)
	// are TestApprovalBinding's c, d and f and TestRehearsal's c, on smaller
	// programs, and d above applies under the plan here.
	timed(t, "e the approved property with another value is refused", func(t *testing.T) {
		// Issue 18 item 1, on the node group pulumi-eks nests in its
		// ManagedNodeGroup component: maxSize 7→8 approved, 7→9 previewed
		// afresh. The summary used to carry property names only, so this
		// applied 9.
		r.configSetPath(t, "nodeGroups[1].maxSize", "8")
		approved := r.preview(t)
		r.configSetPath(t, "nodeGroups[1].maxSize", "9")
		out := r.expectRefused(t, approved, "the approved property, another value", "in the fresh preview, not approved:")
		if !strings.Contains(out, "nodes-spot scalingConfig") || !(strings.Contains(out, `"maxSize":9`) || strings.Contains(out, "→ 9")) {
			t.Errorf("the refusal does not name the node group's scalingConfig and the fresh value 9:\n%s", out)
		}
		r.configSetPath(t, "nodeGroups[1].maxSize", "8")
	})

	timed(t, "f a replacement after the fresh preview is stopped by the plan", func(t *testing.T) {
		// Approved: maxSize 7→8 (config as e left it). The program changes
		// between pulumi-apply.sh's fresh preview and the update so that the
		// update would replace the nested node group (capacityType is
		// ForceNew in aws_eks_node_group): `up --plan` stops it before any
		// step of it runs.
		approved := r.preview(t)
		r.refusesReplacementAfterFreshPreview(t, approved, func() { r.configSetPath(t, "nodeGroups[1].capacityType", "ON_DEMAND") })
		r.configSetPath(t, "nodeGroups[1].capacityType", "SPOT")
	})

	timed(t, "g destroy", func(t *testing.T) { r.platformDestroy(t, baseline) })

	// pulumi-apply.sh updates without --plan after a partial preview (this
	// program's first deploy: no chart renders before the cluster exists).
	// The evidence, on an empty stack again: the first deploy under `up --plan`.
	timed(t, "h first deploy under up --plan (pulumi/pulumi#13765)", func(t *testing.T) {
		code, out, violations := r.upUnderSavedPlan(t)
		switch {
		case code == 0:
			t.Errorf("a partial first deploy under up --plan succeeded: pulumi-apply.sh should use the plan after partial previews too")
		case len(violations) > 0:
			t.Logf("FINDING: the partial first deploy under up --plan fails (exit %d), the engine refusing its own plan:\n%s",
				code, strings.Join(violations, "\n"))
		default:
			t.Errorf("a partial first deploy under up --plan failed (exit %d) without a plan violation:\n%s", code, out)
		}
		// What the stopped deploy created goes again (platformDestroy's
		// order checks need the whole platform).
		r.cli(t, 0, "destroy", "--yes", "--skip-preview")
		if left := r.stateResources(t); len(left) != 0 {
			t.Errorf("the state still holds %d resources", len(left))
		}
	})
	t.Logf("platform scenario took %s", time.Since(total).Round(time.Second))
}

// checkFirstDeploy: what the engine really sent to AWS on the first deploy,
// and what reached the API server through pulumi-eks's kubeconfig.
func (r *rehearsal) checkFirstDeploy(t *testing.T) {
	ctx, fake := r.ctx, r.aws
	ops := fake.Ops()
	for _, op := range ops {
		if op.Err != "" {
			t.Errorf("AWS refused %s %s: %s", op.Kind, op.URN, op.Err)
		}
	}
	first := map[string]int{} // type -> Seq of its first real create
	last := map[string]int{}
	created := map[string]int{} // add-on name -> Seq of its create
	for _, op := range ops {
		if op.Kind != "create" || op.Preview || op.Err != "" {
			continue
		}
		if first[op.Type] == 0 {
			first[op.Type] = op.Seq
		}
		last[op.Type] = op.Seq
		if op.Type == "aws:eks/addon:Addon" {
			created[fmt.Sprint(op.Inputs["addonName"])] = op.Seq
		}
	}
	// Order: the cluster before what lives in it, the CNI add-on before the
	// node groups (infra.NewNodeGroup waits for it).
	for _, typ := range []string{"aws:eks/nodeGroup:NodeGroup", "aws:eks/accessEntry:AccessEntry", "aws:eks/addon:Addon"} {
		if first[typ] == 0 || first[typ] < last["aws:eks/cluster:Cluster"] {
			t.Errorf("%s created at op %d, the cluster at %d", typ, first[typ], last["aws:eks/cluster:Cluster"])
		}
	}
	// The vpc-cni add-on before the node groups (their nodes need the CNI;
	// infra.NewNodeGroup's data dependencies), the EBS CSI driver after them
	// (EKS reports it active only once its pods run; infra.NewEBSCSIDriver).
	if cni := created["vpc-cni"]; cni == 0 || first["aws:eks/nodeGroup:NodeGroup"] < cni {
		t.Errorf("a node group was created (op %d) before the vpc-cni add-on (op %d)", first["aws:eks/nodeGroup:NodeGroup"], cni)
	}
	if ebs := created["aws-ebs-csi-driver"]; ebs == 0 || ebs < last["aws:eks/nodeGroup:NodeGroup"] {
		t.Errorf("the EBS CSI add-on was created (op %d) before the last node group (op %d)", ebs, last["aws:eks/nodeGroup:NodeGroup"])
	}

	clusters := fake.Resources("aws:eks/cluster:Cluster")
	if len(clusters) != 1 {
		t.Fatalf("want one EKS cluster in AWS, got %d", len(clusters))
	}
	c := clusters[0]
	access, _ := c.Inputs["accessConfig"].(map[string]any)
	if c.ID != platformCluster || access["authenticationMode"] != "API" || access["bootstrapClusterCreatorAdminPermissions"] != true {
		t.Errorf("cluster %s accessConfig %v, want %s with API and bootstrapClusterCreatorAdminPermissions true (pulumi-eks cluster.ts hard-codes it)", c.ID, access, platformCluster)
	}
	if vpc, _ := c.Inputs["vpcConfig"].(map[string]any); vpc["endpointPublicAccess"] != false || vpc["endpointPrivateAccess"] != true {
		t.Errorf("cluster vpcConfig %v, want a private endpoint only (dev: endpointAccess private)", vpc)
	}
	// Access entries: the dev admin is the creator, so none for it; pulumi-eks's
	// default instance role gets its EC2_LINUX entry.
	var principals []string
	for _, e := range fake.Resources("aws:eks/accessEntry:AccessEntry") {
		principals = append(principals, fmt.Sprintf("%v %v", e.Inputs["type"], e.Inputs["principalArn"]))
		if strings.EqualFold(fmt.Sprint(e.Inputs["principalArn"]), FakeCallerRole) {
			t.Errorf("an access entry for the cluster creator %s", FakeCallerRole)
		}
	}
	if !slices.ContainsFunc(principals, func(p string) bool { return strings.HasPrefix(p, "EC2_LINUX ") }) {
		t.Errorf("access entries %v: no EC2_LINUX entry for pulumi-eks's default instance role", principals)
	}
	t.Logf("access entries: %v; made by EKS itself: %v", principals, fake.ImplicitAccessEntries())

	groups := fake.Resources("aws:eks/nodeGroup:NodeGroup")
	if len(groups) != 3 {
		t.Errorf("%d node groups in AWS, want the dev stack's 3", len(groups))
	}
	for _, g := range groups {
		if g.Inputs["launchTemplate"] == nil || g.Inputs["diskSize"] != nil {
			t.Errorf("node group %s: launchTemplate %v diskSize %v, want the launch template and no diskSize", g.ID, g.Inputs["launchTemplate"], g.Inputs["diskSize"])
		}
	}

	// Everything in the state is in AWS, and only that.
	var inState []string
	for _, res := range r.stateResources(t) {
		if res.Custom && strings.HasPrefix(res.Type, "aws:") {
			inState = append(inState, res.URN)
		}
	}
	slices.Sort(inState)
	if live := fake.Live(); !slices.Equal(live, inState) {
		t.Errorf("AWS holds %d resources, the state %d aws resources", len(live), len(inState))
	}

	// The kubeconfig pulumi-eks built was used unchanged: its exec ran the
	// stub aws for this cluster.
	calls, _ := os.ReadFile(filepath.Join(r.dir, "awsstub.log"))
	if !strings.Contains(string(calls), "eks get-token --cluster-name "+platformCluster+" --output json") {
		t.Errorf("the stub aws was never asked for a token of %s; its calls:\n%s", platformCluster, calls)
	}

	// The workloads reached the API server, wired to the fake's outputs.
	lb, err := r.api.Get(ctx, apps("kube-system", "deployments", "aws-load-balancer-controller", "apps/v1"))
	if err != nil {
		t.Fatal(err)
	}
	args, _ := json.Marshal(lb.Path("spec", "template", "spec", "containers"))
	vpcs := fake.Resources("aws:ec2/vpc:Vpc")
	if len(vpcs) != 1 || !strings.Contains(string(args), "--cluster-name="+platformCluster) || !strings.Contains(string(args), "--aws-vpc-id="+vpcs[0].ID) {
		t.Errorf("the Load Balancer Controller's args %s lack --cluster-name=%s or the fake VPC's id", args, platformCluster)
	}

	// IRSA against the fake IAM: Triton's role may HeadBucket the model
	// bucket (its S3 filesystem's first call); the controller's may not.
	bucket := strings.TrimSpace(string(r.pulumi(t, "", "stack", "output", "modelBucketName", "--stack", stackName)))
	roles := r.irsaRoles(t)
	triton, controller := roles["triton/triton"], roles["kube-system/aws-load-balancer-controller"]
	if triton == "" || controller == "" {
		t.Fatalf("IRSA roles on ServiceAccounts: %v, want triton/triton and kube-system/aws-load-balancer-controller", roles)
	}
	if err := fake.HeadBucket(triton, bucket); err != nil {
		t.Errorf("Triton's role cannot HeadBucket its model bucket: %v", err)
	}
	// The refusal must be AWS's AccessDenied, not any error (issue 19, item 6).
	if err := fake.HeadBucket(controller, bucket); !IsAccessDenied(err) {
		t.Errorf("the Load Balancer Controller's role %s on HeadBucket of the model bucket: %v, want AccessDenied", controller, err)
	}
	// Issue 24: dev uploads the sample models under the real prefix, so
	// Triton never starts on an empty one; its role reads them, the
	// controller's does not.
	const prefix = "models" // Pulumi.dev.yaml's triton.modelPrefix
	held := map[string]bool{}
	for _, o := range fake.Resources("aws:s3/bucketObjectv2:BucketObjectv2") {
		if o.Inputs["bucket"] == bucket {
			held[fmt.Sprint(o.Inputs["key"])] = true
		}
	}
	// IRSA end to end: the pod's web identity (issuer, triton/triton) assumes
	// the role through its trust policy, then GetObject and the KMS decrypt
	// behind it (issue 19, item 6).
	issuer, err := fake.OIDCIssuer(platformCluster)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range inference.SampleModelKeys(prefix) {
		if !held[key] {
			t.Errorf("the fake holds no object %s in %s; it holds %v", key, bucket, held)
			continue
		}
		if err := fake.ReadObjectAsServiceAccount(issuer, "triton", "triton", triton, bucket, key); err != nil {
			t.Errorf("Triton's service account cannot read %s: %v", key, err)
		}
	}
	if err := fake.ReadObjectAsServiceAccount(issuer, "kube-system", "aws-load-balancer-controller", controller, bucket, prefix+"/id_card/config.pbtxt"); !IsAccessDenied(err) {
		t.Errorf("the Load Balancer Controller reading the models: %v, want AccessDenied", err)
	}
	// Triton's role, assumed from another service account, is refused by its trust policy.
	if err := fake.ReadObjectAsServiceAccount(issuer, "apps", "default", triton, bucket, prefix+"/id_card/config.pbtxt"); !IsAccessDenied(err) {
		t.Errorf("Triton's role assumed from apps/default: %v, want AccessDenied", err)
	}
}

// irsaRoles maps namespace/name of every ServiceAccount with an IRSA role to it.
func (r *rehearsal) irsaRoles(t *testing.T) map[string]string {
	t.Helper()
	sas, err := r.api.List(r.ctx, "/api/v1/serviceaccounts")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, sa := range sas {
		if arn := sa.String("metadata", "annotations", roleArnAnnotation); arn != "" {
			out[sa.String("metadata", "namespace")+"/"+sa.String("metadata", "name")] = arn
		}
	}
	return out
}

// nodeGroup is the fake's aws:eks NodeGroup named name.
func (r *rehearsal) nodeGroup(t *testing.T, name string) FakeResource {
	t.Helper()
	for _, g := range r.aws.Resources("aws:eks/nodeGroup:NodeGroup") {
		if g.Inputs["nodeGroupName"] == name {
			return g
		}
	}
	t.Fatalf("no node group %s in AWS", name)
	return FakeResource{}
}

// platformDestroy: `pulumi destroy`, then the order it deleted in and what is left.
func (r *rehearsal) platformDestroy(t *testing.T, baseline []string) {
	state := r.stateResources(t)
	ops := len(r.aws.Ops())
	events := r.cli(t, 0, "destroy", "--yes", "--skip-preview", "--json")

	// AWS: node groups and access entries before their cluster (AWS refuses
	// the cluster's delete otherwise: the fake says so as a failed delete).
	deleted := map[string]int{}
	for _, op := range r.aws.Ops()[ops:] {
		if op.Kind == "delete" {
			if op.Err != "" {
				t.Errorf("AWS refused to delete %s: %s", op.URN, op.Err)
			}
			deleted[op.URN] = op.Seq
		}
	}
	var clusterDeleted int
	for urn, seq := range deleted {
		if urnType(urn) == "aws:eks/cluster:Cluster" {
			clusterDeleted = seq
		}
	}
	for urn, seq := range deleted {
		switch urnType(urn) {
		case "aws:eks/nodeGroup:NodeGroup", "aws:eks/accessEntry:AccessEntry", "aws:eks/addon:Addon":
			if seq > clusterDeleted {
				t.Errorf("%s deleted after its cluster", urn)
			}
		}
	}
	// Nothing left in AWS but what the program retains on delete (the model
	// bucket, its key and guard rails: awsbase.NewBucket).
	var retained []string
	for _, res := range state {
		if res.Custom && strings.HasPrefix(res.Type, "aws:") && res.RetainOnDelete {
			retained = append(retained, res.URN)
		}
	}
	slices.Sort(retained)
	if live := r.aws.Live(); !slices.Equal(live, retained) {
		t.Errorf("left in AWS after destroy: %v\nwant only the retained: %v", live, retained)
	}
	t.Logf("retained in AWS, as the program asks: %d resources", len(retained))
	if left := r.stateResources(t); len(left) != 0 {
		t.Errorf("the state still holds %d resources", len(left))
	}

	// Kubernetes: the workloads and every load-balanced Service and Ingress
	// are gone before the Load Balancer Controller's Deployment is deleted,
	// so the controller can still delete their load balancers.
	started, done, err := deleteOrder(events)
	if err != nil {
		t.Fatal(err)
	}
	var controller string
	var dependents []string
	for _, res := range state {
		kind, _ := res.Outputs["kind"].(string)
		spec, _ := res.Outputs["spec"].(map[string]any)
		meta, _ := res.Outputs["metadata"].(map[string]any)
		switch {
		case kind == "Deployment" && meta["name"] == "aws-load-balancer-controller":
			controller = res.URN
		case kind == "Service" && spec["type"] == "LoadBalancer", kind == "Ingress",
			kind == "Deployment" && (meta["namespace"] == wlTritonNS || meta["namespace"] == wlServiceNS):
			dependents = append(dependents, res.URN)
		}
	}
	if controller == "" || len(dependents) == 0 {
		t.Fatalf("the state had no Load Balancer Controller Deployment (%q) or no load-balanced objects (%v)", controller, dependents)
	}
	for _, d := range dependents {
		if done[d] == 0 || done[d] > started[controller] {
			t.Errorf("%s deleted (event %d) after the Load Balancer Controller's delete began (event %d)", d, done[d], started[controller])
		}
	}
	t.Logf("destroy: %d dependents deleted before the Load Balancer Controller", len(dependents))
	left, removed, err := settledDiff(r.ctx, r.api, baseline)
	if err != nil {
		t.Error(err)
	}
	for _, o := range left {
		t.Errorf("left behind by destroy: %s", o)
	}
	for _, o := range removed {
		t.Errorf("deleted by the scenario although it existed before: %s", o)
	}
}

// deleteOrder reads the engine events of `pulumi destroy --json` (one JSON
// object a line): the sequence at which each resource's delete started and
// finished.
func deleteOrder(events string) (started, done map[string]int, err error) {
	started, done = map[string]int{}, map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(events))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if !bytes.HasPrefix(sc.Bytes(), []byte("{")) {
			continue // the CLI's own messages
		}
		var e apitype.EngineEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, nil, err
		}
		switch {
		case e.ResourcePreEvent != nil && e.ResourcePreEvent.Metadata.Op == apitype.OpDelete:
			started[e.ResourcePreEvent.Metadata.URN] = e.Sequence
		case e.ResOutputsEvent != nil && e.ResOutputsEvent.Metadata.Op == apitype.OpDelete:
			done[e.ResOutputsEvent.Metadata.URN] = e.Sequence
		}
	}
	return started, done, sc.Err()
}

// stateResource with the options the platform scenario reads.
type platformStateResource struct {
	stateResource
	RetainOnDelete bool `json:"retainOnDelete"`
}

func (r *rehearsal) stateResources(t *testing.T) []platformStateResource {
	t.Helper()
	var out []platformStateResource
	if b := r.state(t); len(b) == 0 {
		return nil // never updated
	} else if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	var kept []platformStateResource
	for _, res := range out {
		if res.Type != "pulumi:pulumi:Stack" && !strings.HasPrefix(res.Type, "pulumi:providers:") {
			kept = append(kept, res)
		}
	}
	return kept
}

func (r *rehearsal) stateOf(t *testing.T, urn string) platformStateResource {
	t.Helper()
	for _, res := range r.stateResources(t) {
		if res.URN == urn {
			return res
		}
	}
	t.Fatalf("%s is not in the state", urn)
	return platformStateResource{}
}

// expectNoChanges: `pulumi preview --expect-no-changes` exits 0.
func (r *rehearsal) expectNoChanges(t *testing.T) {
	t.Helper()
	r.cli(t, 0, "preview", "--expect-no-changes", "--diff")
}

// cli runs the CLI on the stack in the project directory and fails unless it
// exits with want; its output goes to the test log.
func (r *rehearsal) cli(t *testing.T, want int, args ...string) string {
	t.Helper()
	label := "pulumi " + strings.Join(args, " ")
	code, out := r.run(t, label, r.env, r.pulumiBin, append(args, "--stack", stackName, "--non-interactive")...)
	if code != want {
		t.Fatalf("%s: exit %d, want %d", label, code, want)
	}
	return out
}

// urnType is the resource type of a URN.
func urnType(urn string) string { return resourceType("", urn) }

// configSetPath sets a path in a structured config value (nodeGroups[1].maxSize).
func (r *rehearsal) configSetPath(t *testing.T, path, value string) {
	t.Helper()
	r.pulumi(t, "", "config", "set", "--stack", stackName, "--path", path, value)
}
