package statebackend

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// RunnerKind is how the pipeline's runners are hosted.
type RunnerKind string

// RunnerCodeBuild: GitHub Actions runners hosted by AWS CodeBuild, one
// ephemeral build per job (CodeBuild User Guide, "Self-hosted GitHub Actions
// runners in AWS CodeBuild").
const RunnerCodeBuild RunnerKind = "codebuild"

// RunnerOptions is the aiplatform-bootstrap:runners key: the runner pools the
// pipeline's AWS jobs run on, created with the state backend because the
// first deploy needs them before any cluster exists. They run in a VPC of
// their own whose NAT gateway gives every job one egress address, the one
// the clusters' public endpoint admits (setup writes it into each stack's
// publicAccessCidrs).
type RunnerOptions struct {
	Kind RunnerKind `json:"kind"`
	// ComputeType is the CodeBuild compute type of both pools (default
	// BUILD_GENERAL1_MEDIUM: 4 vCPUs and 7 GB, what a preview of the
	// platform's Helm charts needs).
	ComputeType string `json:"computeType,omitempty"`
	// Image is the CodeBuild curated image the jobs run in.
	Image string `json:"image,omitempty"`
	// VPCCIDR is the runners' VPC (default 10.249.0.0/24), split into a
	// public and a private subnet. It is never peered, so it may overlap a
	// cluster's.
	VPCCIDR string `json:"vpcCidr,omitempty"`
	// ConnectionArn reuses a CodeConnections connection to GitHub that is
	// already available; empty creates one, which stays PENDING until an
	// administrator completes its handshake in the console (setup lists it).
	ConnectionArn string `json:"connectionArn,omitempty"`
	// BuildTimeoutMinutes bounds one job (default 120: a first deploy
	// creates a cluster, node groups and add-ons; CodeBuild allows 480).
	BuildTimeoutMinutes int `json:"buildTimeoutMinutes,omitempty"`
	// LogRetentionDays keeps the jobs' CloudWatch logs (default 30).
	LogRetentionDays int `json:"logRetentionDays,omitempty"`
}

// RunnerPool is one pool: a CodeBuild project with its own role, security
// group and log group, and the repository variable the workflows read its
// label from.
type RunnerPool struct {
	Name     string
	Variable string
	Purpose  string
}

// RunnerPools keeps pull requests' code and deploys on separate projects
// (docs/pipeline.md, Runners).
var RunnerPools = []RunnerPool{
	{Name: "pr", Variable: "PULUMI_PR_RUNNER", Purpose: "pull-request previews"},
	{Name: "deploy", Variable: "PULUMI_DEPLOY_RUNNER", Purpose: "deploys, the main-branch preview and the drift check"},
}

// RunnerProjectPrefix names the pools' CodeBuild projects.
const RunnerProjectPrefix = "aiplatform-ci-"

// RunnerProject is the CodeBuild project of a pool.
func RunnerProject(pool string) string { return RunnerProjectPrefix + pool }

// RunnerLabel is what the pool's repository variable holds: the workflows
// append "-<run id>-<run attempt>", the label CodeBuild requires
// (CodeBuild User Guide, "Label overrides supported with the
// CodeBuild-hosted GitHub Actions runner": codebuild-<project-name>-
// ${{ github.run_id }}-${{ github.run_attempt }}).
func RunnerLabel(pool string) string { return "codebuild-" + RunnerProject(pool) }

// CodeBuildComputeTypes are the compute types the runners may use: Linux
// containers on demand; cost/table.go prices each per minute.
var CodeBuildComputeTypes = []string{"BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"}

const (
	defaultRunnerComputeType = "BUILD_GENERAL1_MEDIUM"
	// Amazon Linux 2023 with Docker, Git and the AWS CLI (CodeBuild User
	// Guide, "Docker images provided by CodeBuild").
	defaultRunnerImage     = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
	defaultRunnerVPCCIDR   = "10.249.0.0/24"
	defaultRunnerTimeout   = 120
	defaultRunnerLogDays   = 30
	maxRunnerTimeout       = 480 // CodeBuild's build timeout maximum
	minRunnerSubnetPrefix  = 28  // the smallest VPC subnet AWS allows
	runnerSubnetSplitBits  = 1   // public and private halves
	codebuildCuratedPrefix = "aws/codebuild/"
)

var (
	connectionArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]+$`)
	// CloudWatch Logs' accepted retention periods (PutRetentionPolicy).
	logRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)

func (r RunnerOptions) withDefaults() RunnerOptions {
	if r.ComputeType == "" {
		r.ComputeType = defaultRunnerComputeType
	}
	if r.Image == "" {
		r.Image = defaultRunnerImage
	}
	if r.VPCCIDR == "" {
		r.VPCCIDR = defaultRunnerVPCCIDR
	}
	if r.BuildTimeoutMinutes == 0 {
		r.BuildTimeoutMinutes = defaultRunnerTimeout
	}
	if r.LogRetentionDays == 0 {
		r.LogRetentionDays = defaultRunnerLogDays
	}
	return r
}

func (r RunnerOptions) validate(path string) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, key, fmt.Sprintf(format, args...)))
	}
	if r.Kind != RunnerCodeBuild {
		bad("kind", "%q is not a runner kind: the one kind is %q (GitHub Actions runners hosted by AWS CodeBuild); remove the runners key to register runners yourself", r.Kind, RunnerCodeBuild)
	}
	if !slices.Contains(CodeBuildComputeTypes, r.ComputeType) {
		bad("computeType", "%q is not one of %s", r.ComputeType, strings.Join(CodeBuildComputeTypes, ", "))
	}
	if !strings.HasPrefix(r.Image, codebuildCuratedPrefix) {
		bad("image", "%q is not a CodeBuild curated image (%s…): the runner needs the agent and tools those images carry", r.Image, codebuildCuratedPrefix)
	}
	if _, _, err := RunnerSubnets(r.VPCCIDR); err != nil {
		bad("vpcCidr", "%v", err)
	}
	if r.ConnectionArn != "" && !connectionArnPattern.MatchString(r.ConnectionArn) {
		bad("connectionArn", "%q is not a CodeConnections connection ARN (arn:aws:codeconnections:<region>:<account>:connection/<id>); leave it out to create one", r.ConnectionArn)
	}
	if r.BuildTimeoutMinutes < 5 || r.BuildTimeoutMinutes > maxRunnerTimeout {
		bad("buildTimeoutMinutes", "must be between 5 and %d (CodeBuild's limits), got %d", maxRunnerTimeout, r.BuildTimeoutMinutes)
	}
	if !slices.Contains(logRetentionDays, r.LogRetentionDays) {
		bad("logRetentionDays", "%d is not a retention CloudWatch Logs accepts: one of %v", r.LogRetentionDays, logRetentionDays)
	}
	return errs
}

// RunnerSubnets splits the runners' VPC into its public half (the NAT
// gateway) and private half (the jobs).
func RunnerSubnets(cidr string) (public, private string, err error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p != p.Masked() {
		return "", "", fmt.Errorf("%q is not an IPv4 network address in CIDR notation, e.g. %s", cidr, defaultRunnerVPCCIDR)
	}
	if p.Bits() < 16 || p.Bits()+runnerSubnetSplitBits > minRunnerSubnetPrefix {
		return "", "", fmt.Errorf("%q must be between /16 and /%d (two subnets of at least /%d)", cidr, minRunnerSubnetPrefix-runnerSubnetSplitBits, minRunnerSubnetPrefix)
	}
	half := netip.PrefixFrom(p.Addr(), p.Bits()+runnerSubnetSplitBits)
	a := p.Addr().As4()
	size := uint32(1) << (32 - half.Bits())
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n += size
	second := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), half.Bits())
	return half.String(), second.String(), nil
}
