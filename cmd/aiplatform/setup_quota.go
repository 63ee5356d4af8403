package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/aiplatform/infra/cost"
	"github.com/aiplatform/infra/infra"
	"github.com/aiplatform/infra/internal/setup"
	"github.com/aiplatform/infra/stacks"
	"github.com/aiplatform/infra/tests/mocks"
)

// gpuQuotaNeeds reads each stack's Pulumi.<stack>.yaml in dir and returns
// what its GPU node groups can launch at once, per EC2 quota: maxSize
// times the most vCPUs among the group's instance types (the Auto Scaling
// group may launch any of them), from the price table's vCPU column. A
// stack without its file yet has no need; a file the program would refuse
// is an error, before setup changes anything.
func gpuQuotaNeeds(dir string, names []string) ([]setup.GPUQuotaNeed, error) {
	var out []setup.GPUQuotaNeed
	for _, name := range names {
		file := filepath.Join(dir, "Pulumi."+name+".yaml")
		if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		raw, _, err := mocks.StackConfig(dir, name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		src := stacks.MapSource{}
		for k, v := range raw {
			src[strings.TrimPrefix(k, "aiplatform:")] = v
		}
		region := src["aws:region"]
		cfg, err := stacks.ParseConfig(name, region, src)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (the preview refuses it too: fix it, then run setup again)", file, err)
		}
		out = append(out, stackGPUNeeds(name, region, cfg.NodeGroups)...)
	}
	return out, nil
}

func stackGPUNeeds(stack, region string, groups []infra.NodeGroupSpec) []setup.GPUQuotaNeed {
	sums := map[setup.GPUQuota]int{}
	var out []setup.GPUQuotaNeed
	for _, g := range groups {
		if g.Kind != infra.GPUNodes || g.MaxSize == 0 {
			continue
		}
		most := 0
		for _, typ := range g.InstanceTypes {
			family, _, _ := strings.Cut(typ, ".")
			row, ok := cost.Prices.Instance(typ)
			switch {
			// ParseConfig admits only infra's GPU families in a GPU group;
			// the G and VT quotas count those that begin with g (g4dn, g5,
			// g6, g6e, gr6: docs/pipeline-guards.md), the rest are P.
			case !strings.HasPrefix(family, "g"):
				out = append(out, setup.GPUQuotaNeed{Stack: stack, Region: region,
					Unchecked: fmt.Sprintf("node group %s runs %s, and setup reads only the G and VT quotas", g.Name, typ)})
			case !ok || row.VCPUs == 0:
				out = append(out, setup.GPUQuotaNeed{Stack: stack, Region: region,
					Unchecked: fmt.Sprintf("node group %s runs %s, which the price table (cost/table.go) has no vCPU count for", g.Name, typ)})
			case row.VCPUs > most:
				most = row.VCPUs
			}
		}
		quota := setup.OnDemandGPUQuota
		if g.Capacity == infra.Spot {
			quota = setup.SpotGPUQuota
		}
		sums[quota] += g.MaxSize * most
	}
	for _, q := range []setup.GPUQuota{setup.SpotGPUQuota, setup.OnDemandGPUQuota} { // by code
		if sums[q] > 0 {
			out = append(out, setup.GPUQuotaNeed{Stack: stack, Region: region, Quota: q, VCPUs: sums[q]})
		}
	}
	return out
}
