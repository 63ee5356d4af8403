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

// checkCreate runs before a create or an update of urn.
func (f *FakeAWS) checkCreate(urn, typ string, in map[string]any) error {
	switch typ {
	case "aws:eks/accessEntry:AccessEntry", "aws:eks/nodeGroup:NodeGroup", "aws:eks/addon:Addon", "aws:eks/accessPolicyAssociation:AccessPolicyAssociation":
		cluster := fmt.Sprint(in["clusterName"])
		if in["clusterName"] != nil && !f.clusterExists(cluster) {
			op := map[string]string{"aws:eks/accessEntry:AccessEntry": "CreateAccessEntry", "aws:eks/nodeGroup:NodeGroup": "CreateNodegroup",
				"aws:eks/addon:Addon": "CreateAddon", "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": "AssociateAccessPolicy"}[typ]
			return awsError("creating "+typ, "EKS", op, 404, "ResourceNotFoundException", "No cluster found for name: "+cluster+".")
		}
	}
	switch typ {
	case "aws:eks/accessEntry:AccessEntry":
		// One access entry per principal and cluster; EKS made one for the
		// cluster's creator itself when bootstrapClusterCreatorAdminPermissions
		// is true, which pulumi-eks v2 always sets (nodejs/eks/cluster.ts).
		// CreateAccessEntry, EKS API reference: ResourceInUseException.
		cluster, principal := fmt.Sprint(in["clusterName"]), fmt.Sprint(in["principalArn"])
		taken := slices.ContainsFunc(f.implicitEntries[cluster], func(p string) bool { return strings.EqualFold(p, principal) })
		for _, r := range f.live {
			if r.Type == typ && r.URN != urn && fmt.Sprint(r.Inputs["clusterName"]) == cluster && strings.EqualFold(fmt.Sprint(r.Inputs["principalArn"]), principal) {
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
	if r.Type != "aws:eks/cluster:Cluster" {
		return
	}
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
