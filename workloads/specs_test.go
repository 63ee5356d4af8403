package workloads

import (
	"strings"
	"testing"

	"github.com/aiplatform/infra/workloads/internal/wltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChartVersions(t *testing.T) {
	v := ChartVersions{ArgoCD: "8.3.0"}.WithDefaults()
	assert.Equal(t, "8.3.0", v.ArgoCD)
	assert.Equal(t, DevicePluginChart.Version, v.DevicePlugin)
	assert.NoError(t, v.Validate("chartVersions"))
	v.ExternalDNS = "^1.18"
	v.MetricsServer = "latest"
	err := v.Validate("aiplatform:chartVersions")
	wltest.ExpectErrors(t, err, `aiplatform:chartVersions.externalDns: "^1.18" must be an exact chart version`, "aiplatform:chartVersions.metricsServer")
	for _, c := range []Chart{DevicePluginChart, MetricsServerChart, ClusterAutoscalerChart, LoadBalancerControllerChart, ExternalDNSChart, ArgoCDChart} {
		assert.NoError(t, c.Validate(), c.Name)
		assert.True(t, strings.HasPrefix(c.Repo, "https://"), c.Name)
	}
	assert.Equal(t, "9.9.9", ArgoCDChart.WithVersion("9.9.9").Version)
	assert.Equal(t, ArgoCDChart, ArgoCDChart.WithVersion(""))
}

func TestPodPeerValidate(t *testing.T) {
	good := PodPeer{Namespace: "triton", PodLabels: map[string]string{"app.kubernetes.io/name": "triton"}, Ports: []int{8000, 8001}}
	require.NoError(t, good.Validate("egressTo[0]"))
	cases := []struct {
		name string
		f    func(*PodPeer)
		want []string
	}{
		{"namespace", func(p *PodPeer) { p.Namespace = "Triton" }, []string{`egressTo[0].namespace: "Triton"`}},
		{"every pod", func(p *PodPeer) { p.PodLabels = nil }, []string{"egressTo[0].podLabels: name the pods"}},
		{"no ports", func(p *PodPeer) { p.Ports = nil }, []string{"egressTo[0].ports: at least one port"}},
		{"bad port", func(p *PodPeer) { p.Ports = []int{8000, 70000} }, []string{"egressTo[0].ports[1]: 70000 is not a TCP port"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := good
			c.f(&p)
			wltest.ExpectErrors(t, p.Validate("egressTo[0]"), c.want...)
		})
	}
}
