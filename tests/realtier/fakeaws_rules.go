package realtier

import (
	"fmt"
	"slices"
	"strings"
)

// The AWS rules the fake enforces, each with the error text of the AWS API
// (as the aws provider wraps it: "<action> ...: operation error <service>:
// <Operation>, https response error StatusCode: N, ..., <Code>: <message>").
// They are the rules the program broke against real AWS, and the ones that
// make the order of creates and deletes matter.

// awsError formats an AWS API error as the aws provider reports it.
func awsError(action, service, operation string, status int, code, message string) error {
	return fmt.Errorf("%s: operation error %s: %s, https response error StatusCode: %d, RequestID: 00000000-0000-0000-0000-000000000000, %s: %s",
		action, service, operation, status, code, message)
}

// checkCreate runs before a create (update false) or an in-place update of urn.
func (f *FakeAWS) checkCreate(urn, typ string, in map[string]any, update bool) error {
	switch typ {
	case "aws:eks/accessEntry:AccessEntry", "aws:eks/nodeGroup:NodeGroup", "aws:eks/addon:Addon", "aws:eks/accessPolicyAssociation:AccessPolicyAssociation":
		cluster := fmt.Sprint(in["clusterName"])
		if in["clusterName"] != nil && !f.clusterExists(cluster) {
			op := map[string]string{"aws:eks/accessEntry:AccessEntry": "CreateAccessEntry", "aws:eks/nodeGroup:NodeGroup": "CreateNodegroup",
				"aws:eks/addon:Addon": "CreateAddon", "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": "AssociateAccessPolicy"}[typ]
			return awsError("creating "+typ, "EKS", op, 404, "ResourceNotFoundException", "No cluster found for name: "+cluster+".")
		}
	}
	if !update {
		if err := f.checkUniqueName(typ, in); err != nil {
			return err
		}
	}
	switch typ {
	case "aws:eks/accessEntry:AccessEntry":
		// One access entry per principal and cluster (EKS User Guide,
		// "Create access entries": "An IAM principal can't be included in
		// more than one access entry"), counting those EKS made itself: the
		// cluster creator's (bootstrapClusterCreatorAdminPermissions, which
		// pulumi-eks v2 always sets: nodejs/eks/cluster.ts) and each managed
		// node group role's (created). A create clashes with every live
		// entry, the same URN's included: a replacement that creates first
		// meets the entry it replaces, as in AWS. Only an in-place update
		// leaves its own entry out. CreateAccessEntry: ResourceInUseException.
		cluster, principal := fmt.Sprint(in["clusterName"]), fmt.Sprint(in["principalArn"])
		taken := !update && slices.ContainsFunc(f.implicitEntries[cluster], func(p string) bool { return strings.EqualFold(p, principal) })
		for _, r := range f.live {
			if r.Type == typ && (!update || r.URN != urn) && fmt.Sprint(r.Inputs["clusterName"]) == cluster && strings.EqualFold(fmt.Sprint(r.Inputs["principalArn"]), principal) {
				taken = true
			}
		}
		if taken {
			return awsError(fmt.Sprintf("creating EKS Access Entry (%s:%s)", cluster, principal), "EKS", "CreateAccessEntry", 409,
				"ResourceInUseException", "The specified access entry resource is already in use on this cluster.")
		}
	case "aws:eks/nodeGroup:NodeGroup":
		// A launch template owns the disk: CreateNodegroup refuses diskSize
		// with one (EKS API reference, CreateNodegroup: "diskSize ... If you
		// specify launchTemplate, then don't specify diskSize").
		if in["launchTemplate"] != nil && in["diskSize"] != nil {
			return awsError(fmt.Sprintf("creating EKS Node Group (%v:%v)", in["clusterName"], in["nodeGroupName"]), "EKS", "CreateNodegroup", 400,
				"InvalidParameterException", "Disk size must be specified within the launch template.")
		}
	}
	return nil
}

// checkUniqueName refuses a create whose name is taken by a live resource,
// the same URN's included (a create-before-replace meets its predecessor):
// EKS cluster names per account and region (CreateCluster:
// ResourceInUseException), node-group names per cluster (CreateNodegroup:
// ResourceInUseException), IAM role names per account (CreateRole:
// EntityAlreadyExists).
func (f *FakeAWS) checkUniqueName(typ string, in map[string]any) error {
	same := func(keys ...string) bool {
		for _, r := range f.live {
			if r.Type != typ {
				continue
			}
			match := true
			for _, k := range keys {
				match = match && fmt.Sprint(r.Inputs[k]) == fmt.Sprint(in[k])
			}
			if match {
				return true
			}
		}
		return false
	}
	switch typ {
	case "aws:eks/cluster:Cluster":
		if in["name"] != nil && same("name") {
			return awsError(fmt.Sprintf("creating EKS Cluster (%v)", in["name"]), "EKS", "CreateCluster", 409,
				"ResourceInUseException", fmt.Sprintf("Cluster already exists with name: %v", in["name"]))
		}
	case "aws:eks/nodeGroup:NodeGroup":
		if in["nodeGroupName"] != nil && same("clusterName", "nodeGroupName") {
			return awsError(fmt.Sprintf("creating EKS Node Group (%v:%v)", in["clusterName"], in["nodeGroupName"]), "EKS", "CreateNodegroup", 409,
				"ResourceInUseException", fmt.Sprintf("NodeGroup already exists with name %v and cluster name %v", in["nodeGroupName"], in["clusterName"]))
		}
	case "aws:iam/role:Role":
		if in["name"] != nil && same("name") {
			return awsError(fmt.Sprintf("creating IAM Role (%v)", in["name"]), "IAM", "CreateRole", 409,
				"EntityAlreadyExists", fmt.Sprintf("Role with name %v already exists.", in["name"]))
		}
	}
	return nil
}

// checkDelete runs before a delete of r.
func (f *FakeAWS) checkDelete(r *FakeResource) error {
	if r.Type != "aws:eks/cluster:Cluster" {
		return nil
	}
	// DeleteCluster: "If you have managed node groups or Fargate profiles
	// attached to the cluster, you must delete them first" (EKS API reference).
	var attached []string
	for _, o := range f.live {
		if (o.Type == "aws:eks/nodeGroup:NodeGroup" || o.Type == "aws:eks/fargateProfile:FargateProfile") && fmt.Sprint(o.Inputs["clusterName"]) == r.ID {
			attached = append(attached, o.ID)
		}
	}
	if len(attached) > 0 {
		slices.Sort(attached)
		return awsError("deleting EKS Cluster ("+r.ID+")", "EKS", "DeleteCluster", 409, "ResourceInUseException",
			"Cluster has nodegroups attached: "+strings.Join(attached, ", "))
	}
	return nil
}

func (f *FakeAWS) clusterExists(name string) bool {
	for _, r := range f.live {
		if r.Type == "aws:eks/cluster:Cluster" && r.ID == name {
			return true
		}
	}
	return false
}

// created: what AWS does by itself when a resource is created.
func (f *FakeAWS) created(r *FakeResource) {
	switch r.Type {
	case "aws:eks/cluster:Cluster":
		// bootstrapClusterCreatorAdminPermissions defaults to true.
		bootstrap := true
		if ac, ok := r.Inputs["accessConfig"].(map[string]any); ok {
			if b, ok := ac["bootstrapClusterCreatorAdminPermissions"].(bool); ok {
				bootstrap = b
			}
		}
		if bootstrap {
			f.implicitEntries[r.ID] = append(f.implicitEntries[r.ID], FakeCallerRole)
		}
	case "aws:eks/nodeGroup:NodeGroup":
		// In API and API_AND_CONFIG_MAP modes EKS creates the access entry
		// of a managed node group's role itself, unless one exists (EKS User
		// Guide, "Create access entries": access entries for managed node
		// groups and Fargate profiles are created by EKS). It stays with the
		// cluster: the fake does not remove it with the node group.
		cluster, role := fmt.Sprint(r.Inputs["clusterName"]), fmt.Sprint(r.Inputs["nodeRoleArn"])
		if !f.accessEntriesEnabled(cluster) || role == "" || f.hasAccessEntry(cluster, role) {
			return
		}
		f.implicitEntries[cluster] = append(f.implicitEntries[cluster], role)
	}
}

// accessEntriesEnabled: the cluster's authentication mode uses access
// entries (API or API_AND_CONFIG_MAP).
func (f *FakeAWS) accessEntriesEnabled(cluster string) bool {
	for _, r := range f.live {
		if r.Type == "aws:eks/cluster:Cluster" && r.ID == cluster {
			ac, _ := r.Inputs["accessConfig"].(map[string]any)
			mode := fmt.Sprint(ac["authenticationMode"])
			return mode == "API" || mode == "API_AND_CONFIG_MAP"
		}
	}
	return false
}

func (f *FakeAWS) hasAccessEntry(cluster, principal string) bool {
	if slices.ContainsFunc(f.implicitEntries[cluster], func(p string) bool { return strings.EqualFold(p, principal) }) {
		return true
	}
	for _, r := range f.live {
		if r.Type == "aws:eks/accessEntry:AccessEntry" && fmt.Sprint(r.Inputs["clusterName"]) == cluster && strings.EqualFold(fmt.Sprint(r.Inputs["principalArn"]), principal) {
			return true
		}
	}
	return false
}

// deleted: what goes with a resource.
func (f *FakeAWS) deleted(r *FakeResource) {
	if r.Type == "aws:eks/cluster:Cluster" {
		delete(f.implicitEntries, r.ID)
	}
}

// ImplicitAccessEntries are the access entries EKS made itself, per cluster.
func (f *FakeAWS) ImplicitAccessEntries() map[string][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]string{}
	for k, v := range f.implicitEntries {
		out[k] = slices.Clone(v)
	}
	return out
}
