package workloads

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aiplatform/infra/workloads/internal/wltest"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateChartRepository(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "argo-cd-8.3.0.tgz")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	cases := []struct {
		name, repo string
		want       []string
	}{
		{"unset: official repositories", "", nil},
		{"ECR OCI registry", "oci://123456789012.dkr.ecr.us-west-2.amazonaws.com/charts", nil},
		{"OCI registry root", "oci://ghcr.io", nil},
		{"HTTPS Helm repository", "https://charts.example.com/stable", nil},
		{"absolute directory", dir, nil},
		{"file URL", "file://" + dir, nil},
		{"plain HTTP is refused", "http://charts.example.com", []string{"aiplatform:chartRepository:", "fetched over TLS only"}},
		{"other scheme", "ftp://charts.example.com", []string{"fetched over TLS only"}},
		{"credentials in the URL", "https://bot:s3cret@charts.example.com", []string{"without credentials"}},
		{"OCI credentials", "oci://bot:s3cret@ghcr.io/acme", []string{"without credentials"}},
		{"query", "https://charts.example.com/?token=x", []string{"without credentials, query or fragment"}},
		{"no host", "https:///charts", []string{"is not a repository URL"}},
		{"relative directory", "charts/mirror", []string{"is not a repository URL"}},
		{"relative file URL", "file://charts", []string{"is not an absolute directory"}},
		{"missing directory", filepath.Join(dir, "missing"), []string{"does not exist on this machine"}},
		{"a file, not a directory", file, []string{"does not exist on this machine"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wltest.ExpectErrors(t, ValidateChartRepository("aiplatform:chartRepository", c.repo), c.want...)
		})
	}
}

// helmSource decides what the Helm v4 Chart resource is asked for: a chart
// name plus repositoryOpts, an oci:// reference plus version, or a packaged
// chart file (which carries its own version).
func TestHelmSource(t *testing.T) {
	dir := t.TempDir()
	argo := "argo-cd-" + ArgoCDChart.Version + ".tgz"
	require.NoError(t, os.WriteFile(filepath.Join(dir, argo), []byte("x"), 0o644))
	cases := []struct {
		name      string
		chart     Chart
		source    string
		version   string
		repo      string // repositoryOpts.repo; empty: none
		wantError string
	}{
		{"official HTTPS repository", ArgoCDChart, "argo-cd", ArgoCDChart.Version, "https://argoproj.github.io/argo-helm", ""},
		{"HTTPS mirror", ArgoCDChart.From("https://charts.example.com/stable"), "argo-cd", ArgoCDChart.Version, "https://charts.example.com/stable", ""},
		{"ECR path", ArgoCDChart.From("oci://123456789012.dkr.ecr.us-west-2.amazonaws.com/charts"),
			"oci://123456789012.dkr.ecr.us-west-2.amazonaws.com/charts/argo-cd", ArgoCDChart.Version, "", ""},
		{"OCI path with trailing slash", ArgoCDChart.From("oci://ghcr.io/acme/"), "oci://ghcr.io/acme/argo-cd", ArgoCDChart.Version, "", ""},
		{"OCI follows the version override", ArgoCDChart.WithVersion("8.3.0").From("oci://ghcr.io/acme"), "oci://ghcr.io/acme/argo-cd", "8.3.0", "", ""},
		{"local directory with the file", ArgoCDChart.From(dir), filepath.Join(dir, argo), "", "", ""},
		{"file URL with the file", ArgoCDChart.From("file://" + dir), filepath.Join(dir, argo), "", "", ""},
		{"local directory without the version", ArgoCDChart.WithVersion("8.3.0").From(dir), "", "", "",
			"chart argo-cd 8.3.0: argo-cd-8.3.0.tgz not found in the chart directory " + dir},
		{"local directory without the chart", MetricsServerChart.From(dir), "", "", "", "metrics-server-" + MetricsServerChart.Version + ".tgz not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			source, version, repo, err := c.chart.helmSource()
			if c.wantError != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.wantError)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.source, source)
			assert.Equal(t, c.version, version)
			if c.repo == "" {
				assert.Nil(t, repo, "no repositoryOpts for an OCI reference or a file")
			} else {
				require.NotNil(t, repo)
				assert.Equal(t, pulumi.String(c.repo), repo.Repo)
			}
		})
	}
	assert.Equal(t, ArgoCDChart, ArgoCDChart.From(""), "no mirror: the official repository")
}
