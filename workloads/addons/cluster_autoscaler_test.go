package addons

import (
	"testing"

	"github.com/aiplatform/infra/infra"
	"github.com/stretchr/testify/require"
)

// The image comes from the one compatibility table, so every accepted minor
// has the autoscaler built for it and no second list can drift.
func TestClusterAutoscalerImageComesFromTheKubernetesVersionsTable(t *testing.T) {
	for _, v := range infra.KubernetesVersions {
		require.Equal(t, v.ClusterAutoscalerImage, ClusterAutoscalerImageTag(v.Minor), v.Minor)
	}
	require.Equal(t, "v1.33.6", ClusterAutoscalerImageTag("1.33"), "newest 1.33 patch (issue #7)")
	require.Equal(t, "v1.36.1", ClusterAutoscalerImageTag("1.36"))
	require.Empty(t, ClusterAutoscalerImageTag("1.30"), "no row: the chart's appVersion is used")
}
