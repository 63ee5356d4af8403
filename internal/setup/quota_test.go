package setup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeQuotas answers EC2Quota from a table keyed region/code; a missing key
// is an error, as AWS's NoSuchResourceException would be.
type fakeQuotas struct {
	values map[string]float64
	err    error
	reads  []string
}

func (f *fakeQuotas) EC2Quota(_ context.Context, region, code string) (float64, error) {
	f.reads = append(f.reads, region+"/"+code)
	if f.err != nil {
		return 0, f.err
	}
	v, ok := f.values[region+"/"+code]
	if !ok {
		return 0, errors.New("NoSuchResourceException")
	}
	return v, nil
}

// A quota below what the stacks need is a checklist item with the exact
// request, not a failure (issue 22: "a region without GPU quota", a clear
// message naming the fix): AWS raises quotas, setup cannot.
func TestGPUQuotaShortfallIsAChecklistItem(t *testing.T) {
	dev := GPUQuotaNeed{Stack: "dev", Region: "us-west-2", Quota: OnDemandGPUQuota, VCPUs: 8}
	prod := GPUQuotaNeed{Stack: "prod", Region: "us-west-2", Quota: OnDemandGPUQuota, VCPUs: 16}
	spot := GPUQuotaNeed{Stack: "dev", Region: "us-west-2", Quota: SpotGPUQuota, VCPUs: 4}
	for _, c := range []struct {
		name   string
		needs  []GPUQuotaNeed
		quotas *fakeQuotas
		what   string // "" when no item
		how    string
		reads  []string
	}{
		{name: "enough", needs: []GPUQuotaNeed{dev}, quotas: &fakeQuotas{values: map[string]float64{"us-west-2/L-DB2E81BA": 8}},
			reads: []string{"us-west-2/L-DB2E81BA"}},
		{name: "a new account's 0", needs: []GPUQuotaNeed{dev}, quotas: &fakeQuotas{values: map[string]float64{"us-west-2/L-DB2E81BA": 0}},
			what:  "Have AWS raise the GPU instance quota (dev needs 8 vCPUs of Running On-Demand G and VT instances (L-DB2E81BA) in us-west-2; the account has 0)",
			how:   "aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-DB2E81BA --desired-value 8 --region us-west-2 (",
			reads: []string{"us-west-2/L-DB2E81BA"}},
		{name: "two stacks in one region add up", needs: []GPUQuotaNeed{dev, prod}, quotas: &fakeQuotas{values: map[string]float64{"us-west-2/L-DB2E81BA": 16}},
			what:  "Have AWS raise the GPU instance quota (dev and prod need 24 vCPUs of Running On-Demand G and VT instances (L-DB2E81BA) in us-west-2; the account has 16)",
			how:   "--desired-value 24 --region us-west-2",
			reads: []string{"us-west-2/L-DB2E81BA"}},
		{name: "each quota on its own", needs: []GPUQuotaNeed{dev, spot}, quotas: &fakeQuotas{values: map[string]float64{"us-west-2/L-DB2E81BA": 8, "us-west-2/L-3819A6DF": 0}},
			what:  "(dev needs 4 vCPUs of All G and VT Spot Instance Requests (L-3819A6DF) in us-west-2; the account has 0)",
			how:   "--quota-code L-3819A6DF --desired-value 4",
			reads: []string{"us-west-2/L-3819A6DF", "us-west-2/L-DB2E81BA"}},
		{name: "unreadable", needs: []GPUQuotaNeed{dev}, quotas: &fakeQuotas{err: errors.New("AccessDeniedException: not authorized to perform servicequotas:GetServiceQuota")},
			what:  "dev needs 8 vCPUs of Running On-Demand G and VT instances (L-DB2E81BA) in us-west-2, and setup could not read the quota: AccessDeniedException",
			how:   "--desired-value 8",
			reads: []string{"us-west-2/L-DB2E81BA"}},
		{name: "not checked", needs: []GPUQuotaNeed{{Stack: "dev", Region: "us-west-2", Unchecked: "group gpu runs p5.48xlarge: setup reads only the G and VT quotas"}}, quotas: &fakeQuotas{},
			what: "(dev in us-west-2: group gpu runs p5.48xlarge: setup reads only the G and VT quotas)",
			how:  "aws service-quotas list-service-quotas --service-code ec2 --region us-west-2"},
		{name: "no GPU group", needs: []GPUQuotaNeed{{Stack: "dev", Region: "us-west-2", Quota: OnDemandGPUQuota}}, quotas: &fakeQuotas{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &run{Setup: &Setup{Config: testConfig().WithDefaults(), GPUNeeds: c.needs, Quotas: c.quotas}, ctx: context.Background(), owner: "acme", name: "infra"}
			r.gpuQuotas()
			assert.Equal(t, c.reads, c.quotas.reads, "quotas read")
			var item *Item
			for _, it := range checklist(r) {
				if it.ID == GPUQuotaRaise {
					item = &it
				}
			}
			if c.what == "" {
				assert.Nil(t, item)
				return
			}
			require.NotNil(t, item)
			assert.Contains(t, item.What, c.what)
			assert.Contains(t, item.How, c.how)
		})
	}
}

// The real reader runs the AWS CLI; here a stand-in `aws` that records its
// arguments and answers as the CLI does (`--query Quota.Value --output
// text` prints the number), or fails as it does without the permission.
func TestAWSCLIQuotasRunsGetServiceQuota(t *testing.T) {
	dir := t.TempDir()
	args := filepath.Join(dir, "args")
	stub := filepath.Join(dir, "aws")
	write := func(body string) {
		require.NoError(t, os.WriteFile(stub, []byte("#!/bin/sh\necho \"$@\" > "+args+"\n"+body), 0o755))
	}
	q := AWSCLIQuotas{Command: stub}

	write("echo 8.0\n")
	v, err := q.EC2Quota(context.Background(), "eu-west-1", "L-DB2E81BA")
	require.NoError(t, err)
	assert.Equal(t, 8.0, v)
	got, err := os.ReadFile(args)
	require.NoError(t, err)
	assert.Equal(t, "service-quotas get-service-quota --service-code ec2 --quota-code L-DB2E81BA --region eu-west-1 --query Quota.Value --output text", strings.TrimSpace(string(got)))

	write("echo 'An error occurred (AccessDeniedException) when calling the GetServiceQuota operation: not authorized' >&2\nexit 254\n")
	_, err = q.EC2Quota(context.Background(), "eu-west-1", "L-DB2E81BA")
	require.ErrorContains(t, err, "AccessDeniedException")

	write("echo None\n")
	_, err = q.EC2Quota(context.Background(), "eu-west-1", "L-DB2E81BA")
	require.ErrorContains(t, err, `answered "None", not a number`)

	_, err = AWSCLIQuotas{Command: filepath.Join(dir, "no-such-aws")}.EC2Quota(context.Background(), "eu-west-1", "L-DB2E81BA")
	require.ErrorContains(t, err, "install the AWS CLI v2")
}
