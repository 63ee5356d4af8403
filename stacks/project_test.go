package stacks

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aiplatform/infra/tests/mocks"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/stretchr/testify/require"
)

// The CLI applies Pulumi.yaml defaults, the mocks and LoadConfig apply the Go
// ones: both must agree or `pulumi up` and `go test` would build different things.
func TestPulumiYAMLDefaultsMatchGo(t *testing.T) {
	proj, err := workspace.LoadProject("../Pulumi.yaml")
	require.NoError(t, err)
	require.NoError(t, proj.Validate())
	require.Equal(t, Project, proj.Name.String())
	require.Equal(t, "go", proj.Runtime.Name())

	goDefaults, err := ParseConfig("dev", "us-west-2", MapSource{"adminRoleArns": admin})
	require.NoError(t, err)
	want := map[string]any{
		"kubernetesVersion":     goDefaults.KubernetesVersion,
		"vpcCidr":               goDefaults.VPCCIDR,
		"availabilityZoneCount": goDefaults.AZCount,
		"natGateways":           string(goDefaults.NAT),
		"serviceCidr":           goDefaults.ServiceCIDR,
		"endpointAccess":        string(goDefaults.EndpointAccess),
		"domain":                goDefaults.Workloads.Domain,
		"certificateArn":        goDefaults.Workloads.CertificateARN,
		"dockerHubUsername":     goDefaults.Workloads.DockerHubUsername,
		"chartRepository":       goDefaults.Workloads.ChartRepository,
		"externalDnsPolicy":     string(goDefaults.Workloads.ExternalDNSPolicy),
		"appNamespaces":         goDefaults.Workloads.AppNamespaces,
		"publicAccessCidrs":     goDefaults.PublicAccessCIDRs,
		"viewerRoleArns":        goDefaults.ViewerRoleARNs,
		"hostedZoneIds":         goDefaults.Workloads.HostedZoneIDs,
	}
	want["endpointAccessSecurityGroupIds"] = goDefaults.EndpointAccessSecurityGroupIDs
	want["endpointAccessCidrs"] = goDefaults.EndpointAccessCIDRs
	want["clusterCreatorRoleArn"] = goDefaults.ClusterCreatorRoleARN
	for key, value := range want {
		declared, ok := proj.Config[Project+":"+key]
		require.True(t, ok, "Pulumi.yaml does not declare %s:%s", Project, key)
		require.NotEmpty(t, declared.Description, "%s needs a description", key)
		require.Equal(t, normalize(value), normalize(declared.Default), "default of %s", key)
	}
	for key, declared := range proj.Config {
		require.NotEmpty(t, declared.Description, "%s needs a description", key)
	}
}

// The committed dev stack must pass the same validation `pulumi up` runs.
func TestDevStackConfigIsValid(t *testing.T) {
	raw, secrets, err := mocks.StackConfig("..", "dev")
	require.NoError(t, err)
	src := MapSource{}
	for k, v := range raw {
		if name, ok := strings.CutPrefix(k, Project+":"); ok {
			src[name] = v
		}
	}
	for _, k := range secrets {
		delete(src, strings.TrimPrefix(k, Project+":"))
	}
	cfg, err := ParseConfig("dev", raw["aws:region"], src)
	require.NoError(t, err)
	require.Equal(t, "us-west-2", cfg.Region)
	require.Len(t, cfg.NodeGroups, 3)
	for k := range src {
		lower := strings.ToLower(k)
		require.False(t, strings.Contains(lower, "password") || strings.Contains(lower, "token"),
			"%s looks like a secret but is stored in plain text", k)
	}
}

// normalize prints nil and empty lists alike, and lists of any element type alike.
func normalize(v any) string {
	switch list := v.(type) {
	case nil:
		return "[]"
	case []string:
		if len(list) == 0 {
			return "[]"
		}
	case []any:
		if len(list) == 0 {
			return "[]"
		}
	}
	return fmt.Sprint(v)
}
