package setup

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
)

// GPUQuota is an EC2 service quota the GPU node groups' instances count
// against, in vCPUs (docs/pipeline-guards.md, "GPU instance quota"; Amazon
// EC2 User Guide, "Amazon EC2 instance quotas" and "Spot Instance quotas").
type GPUQuota struct {
	Code string // service ec2
	Name string
}

var (
	OnDemandGPUQuota = GPUQuota{Code: "L-DB2E81BA", Name: "Running On-Demand G and VT instances"}
	SpotGPUQuota     = GPUQuota{Code: "L-3819A6DF", Name: "All G and VT Spot Instance Requests"}
)

// GPUQuotaNeed is the vCPUs one stack's GPU node groups may run at once
// against one quota: each group's maxSize times the most vCPUs among its
// instance types (cmd/aiplatform computes it from Pulumi.<stack>.yaml).
type GPUQuotaNeed struct {
	Stack  string
	Region string
	Quota  GPUQuota
	VCPUs  int
	// Unchecked, when set, is why setup cannot tell the quota or the vCPUs
	// (an instance family outside G and VT, a type without a vCPU count):
	// listed as it is, nothing read.
	Unchecked string
}

// QuotaReader reads the applied value of an EC2 service quota in a region.
type QuotaReader interface {
	EC2Quota(ctx context.Context, region, code string) (float64, error)
}

// AWSCLIQuotas reads quotas (and the runners' connection status) with the
// AWS CLI v2, a prerequisite of setup
// (docs/setup.md): `aws service-quotas get-service-quota`, which needs
// servicequotas:GetServiceQuota.
type AWSCLIQuotas struct {
	// Command is the CLI; default "aws" on PATH.
	Command string
}

// EC2Quota implements QuotaReader.
func (q AWSCLIQuotas) EC2Quota(ctx context.Context, region, code string) (float64, error) {
	cmd := q.Command
	if cmd == "" {
		cmd = "aws"
	}
	if _, err := exec.LookPath(cmd); err != nil {
		return 0, fmt.Errorf("%s: not found: install the AWS CLI v2 (a prerequisite, docs/setup.md)", cmd)
	}
	out, err := exec.CommandContext(ctx, cmd, getQuotaArgs(region, code)...).CombinedOutput()
	text := strings.TrimSpace(string(out))
	if err != nil {
		return 0, fmt.Errorf("%s %s: %v: %s", cmd, strings.Join(getQuotaArgs(region, code), " "), err, lastLine(text))
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, fmt.Errorf("%s service-quotas get-service-quota answered %q, not a number", cmd, lastLine(text))
	}
	return v, nil
}

// ConnectionStatus implements ConnectionReader with `aws codeconnections
// get-connection`, which needs codeconnections:GetConnection (the
// connection's status: PENDING, AVAILABLE, ERROR; CodeConnections API,
// GetConnection).
func (q AWSCLIQuotas) ConnectionStatus(ctx context.Context, region, arn string) (string, error) {
	cmd := q.Command
	if cmd == "" {
		cmd = "aws"
	}
	if _, err := exec.LookPath(cmd); err != nil {
		return "", fmt.Errorf("%s: not found: install the AWS CLI v2 (a prerequisite, docs/setup.md)", cmd)
	}
	args := []string{"codeconnections", "get-connection", "--connection-arn", arn, "--region", region,
		"--query", "Connection.ConnectionStatus", "--output", "text"}
	out, err := exec.CommandContext(ctx, cmd, args...).CombinedOutput()
	text := strings.TrimSpace(string(out))
	if err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", cmd, strings.Join(args, " "), err, lastLine(text))
	}
	return lastLine(text), nil
}

func getQuotaArgs(region, code string) []string {
	return []string{"service-quotas", "get-service-quota", "--service-code", "ec2", "--quota-code", code,
		"--region", region, "--query", "Quota.Value", "--output", "text"}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// gpuQuotaShortfall is one quota in one region below what the stacks there
// need together, or a quota that could not be read.
type gpuQuotaShortfall struct {
	Region string
	Quota  GPUQuota
	Stacks []string
	Need   int
	Have   float64
	Err    error
}

func (s gpuQuotaShortfall) String() string {
	who := strings.Join(s.Stacks, " and ")
	if s.Quota == (GPUQuota{}) {
		return fmt.Sprintf("%s in %s: %v", who, s.Region, s.Err)
	}
	if len(s.Stacks) > 1 {
		who += " need"
	} else {
		who += " needs"
	}
	if s.Err != nil {
		return fmt.Sprintf("%s %d vCPUs of %s (%s) in %s, and setup could not read the quota: %v", who, s.Need, s.Quota.Name, s.Quota.Code, s.Region, s.Err)
	}
	return fmt.Sprintf("%s %d vCPUs of %s (%s) in %s; the account has %s", who, s.Need, s.Quota.Name, s.Quota.Code, s.Region, strconv.FormatFloat(s.Have, 'f', -1, 64))
}

// request is the command that asks AWS for the quota the stacks need.
func (s gpuQuotaShortfall) request() string {
	if s.Quota == (GPUQuota{}) {
		return fmt.Sprintf("aws service-quotas list-service-quotas --service-code ec2 --region %s (find the instance family's quota, then request-service-quota-increase)", s.Region)
	}
	return fmt.Sprintf("aws service-quotas request-service-quota-increase --service-code ec2 --quota-code %s --desired-value %d --region %s",
		s.Quota.Code, s.Need, s.Region)
}

// gpuQuotas reads each quota the stacks need, once per region, and keeps
// those below the sum of the stacks' needs there (the stacks' clusters may
// scale up at the same time). It never fails the run: a quota it cannot
// read is a shortfall that says why, and the run goes on.
func (r *run) gpuQuotas() {
	if r.Quotas == nil || len(r.GPUNeeds) == 0 {
		return
	}
	type key struct {
		region string
		quota  GPUQuota
	}
	sums := map[key]*gpuQuotaShortfall{}
	var keys []key
	for _, n := range r.GPUNeeds {
		if n.Unchecked != "" {
			r.gpuShortfalls = append(r.gpuShortfalls, gpuQuotaShortfall{Region: n.Region, Stacks: []string{n.Stack}, Err: errors.New(n.Unchecked)})
			continue
		}
		if n.VCPUs <= 0 {
			continue
		}
		k := key{n.Region, n.Quota}
		s, ok := sums[k]
		if !ok {
			s = &gpuQuotaShortfall{Region: n.Region, Quota: n.Quota}
			sums[k] = s
			keys = append(keys, k)
		}
		s.Need += n.VCPUs
		s.Stacks = append(s.Stacks, n.Stack)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].region != keys[j].region {
			return keys[i].region < keys[j].region
		}
		return keys[i].quota.Code < keys[j].quota.Code
	})
	for _, k := range keys {
		s := sums[k]
		have, err := r.Quotas.EC2Quota(r.ctx, k.region, k.quota.Code)
		switch {
		case err != nil && errors.Is(err, context.Canceled):
			return
		case err != nil:
			s.Err = err
		case have >= float64(s.Need):
			continue
		default:
			s.Have = have
		}
		r.gpuShortfalls = append(r.gpuShortfalls, *s)
	}
}
