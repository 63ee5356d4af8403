package infra

import (
	"strings"
	"time"
)

// KubernetesVersion is one Kubernetes minor version the platform accepts, with
// everything that has to match it. It is the single compatibility table:
// validation, defaults, the docs/configure.md table and the add-on pins all derive from
// KubernetesVersions, so supporting a new minor is adding one row.
type KubernetesVersion struct {
	// Minor is the EKS cluster version, "1.36".
	Minor string
	// StandardSupportEnd and ExtendedSupportEnd are the EKS dates (UTC) after
	// which the version costs the extended-support fee, and after which EKS
	// upgrades the control plane by itself.
	StandardSupportEnd time.Time
	ExtendedSupportEnd time.Time
	// VpcCniAddon is the version of the vpc-cni EKS add-on pinned for this minor.
	VpcCniAddon string
	// EBSCSIAddon is the version of the aws-ebs-csi-driver EKS add-on pinned
	// for this minor (the default StorageClass's provisioner).
	EBSCSIAddon string
	// ClusterAutoscalerImage is the image tag of the Cluster Autoscaler release
	// built for this minor: the autoscaler simulates the scheduler of its own
	// minor version, so it must match the cluster.
	ClusterAutoscalerImage string
}

func utcDay(year int, month time.Month, day int) time.Time {
	return time.Date(year, month, day, 0, 0, 0, 0, time.UTC)
}

// KubernetesVersions are the accepted minors, oldest first. 1.30 and 1.31 are
// left out: their EKS extended support ended on 2026-07-23 and 2026-11-26.
//
// Support dates: the "Amazon EKS Kubernetes release calendar" in
// docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html (1.32 to
// 1.35 as printed there; 1.36, released on EKS on 2026-06-02, follows the
// documented rule of 14 months standard plus 12 months extended support).
// vpc-cni: the newest build EKS offers, the same for every minor from 1.30 to
// 1.36; check with `aws eks describe-addon-versions --addon-name vpc-cni
// --kubernetes-version <minor>` when adding a row. aws-ebs-csi-driver:
// v1.66.0-eksbuild.1, the version EKS marked default for 1.36 in September
// 2026 (a public upgrade note; NOT verified here against
// DescribeAddonVersions for each minor, which needs AWS credentials: check
// with `aws eks describe-addon-versions --addon-name aws-ebs-csi-driver
// --kubernetes-version <minor>` before relying on it). Cluster Autoscaler: the
// newest patch release of each minor (registry.k8s.io/autoscaling/cluster-autoscaler).
//
// Renovate bumps VpcCniAddon, EBSCSIAddon and ClusterAutoscalerImage in place (regex
// managers in renovate.json, patch releases only for the autoscaler): keep
// one row per line with the fields named as they are. A new string column
// (another EKS add-on, another image) needs its own regex manager;
// workloads/renovate_test.go fails until it has one.
var KubernetesVersions = []KubernetesVersion{
	{Minor: "1.32", StandardSupportEnd: utcDay(2026, time.March, 23), ExtendedSupportEnd: utcDay(2027, time.March, 23), VpcCniAddon: "v1.22.4-eksbuild.3", EBSCSIAddon: "v1.66.0-eksbuild.1", ClusterAutoscalerImage: "v1.32.7"},
	{Minor: "1.33", StandardSupportEnd: utcDay(2026, time.July, 29), ExtendedSupportEnd: utcDay(2027, time.July, 29), VpcCniAddon: "v1.22.4-eksbuild.3", EBSCSIAddon: "v1.66.0-eksbuild.1", ClusterAutoscalerImage: "v1.33.6"},
	{Minor: "1.34", StandardSupportEnd: utcDay(2026, time.December, 2), ExtendedSupportEnd: utcDay(2027, time.December, 2), VpcCniAddon: "v1.22.4-eksbuild.3", EBSCSIAddon: "v1.66.0-eksbuild.1", ClusterAutoscalerImage: "v1.34.5"},
	{Minor: "1.35", StandardSupportEnd: utcDay(2027, time.March, 27), ExtendedSupportEnd: utcDay(2028, time.March, 27), VpcCniAddon: "v1.22.4-eksbuild.3", EBSCSIAddon: "v1.66.0-eksbuild.1", ClusterAutoscalerImage: "v1.35.2"},
	{Minor: "1.36", StandardSupportEnd: utcDay(2027, time.August, 2), ExtendedSupportEnd: utcDay(2028, time.August, 2), VpcCniAddon: "v1.22.4-eksbuild.3", EBSCSIAddon: "v1.66.0-eksbuild.1", ClusterAutoscalerImage: "v1.36.1"},
}

// LookupKubernetesVersion returns the row of a minor version ("1.36").
func LookupKubernetesVersion(minor string) (KubernetesVersion, bool) {
	for _, v := range KubernetesVersions {
		if v.Minor == minor {
			return v, true
		}
	}
	return KubernetesVersion{}, false
}

// AcceptedKubernetesMinors lists the minors that have a row, oldest first,
// for error messages and docs.
func AcceptedKubernetesMinors() string {
	minors := make([]string, len(KubernetesVersions))
	for i, v := range KubernetesVersions {
		minors[i] = v.Minor
	}
	return strings.Join(minors, ", ")
}

// InStandardSupport reports whether the version is in EKS standard support at t.
func (v KubernetesVersion) InStandardSupport(t time.Time) bool {
	return t.Before(v.StandardSupportEnd)
}

// NewestInStandardSupport is the newest minor with a row that is in standard
// support at t; false when every row is past it (the table needs a new row).
func NewestInStandardSupport(t time.Time) (KubernetesVersion, bool) {
	for i := len(KubernetesVersions) - 1; i >= 0; i-- {
		if v := KubernetesVersions[i]; v.InStandardSupport(t) {
			return v, true
		}
	}
	return KubernetesVersion{}, false
}
