package workloads_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aiplatform/infra/infra"
	"github.com/aiplatform/infra/workloads"
	"github.com/aiplatform/infra/workloads/inference"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// renovateConfig is the part of renovate.json these tests read.
type renovateConfig struct {
	CustomManagers []renovateManager `json:"customManagers"`
}

// renovateManager is a Renovate regex manager (docs.renovatebot.com,
// "Custom managers": customType regex).
type renovateManager struct {
	CustomType          string   `json:"customType"`
	ManagerFilePatterns []string `json:"managerFilePatterns"`
	MatchStrings        []string `json:"matchStrings"`
	DepNameTemplate     string   `json:"depNameTemplate"`
	PackageNameTemplate string   `json:"packageNameTemplate"`
	DatasourceTemplate  string   `json:"datasourceTemplate"`
	VersioningTemplate  string   `json:"versioningTemplate"`
}

// renovateDep is what a manager extracts from one match.
type renovateDep struct {
	DepName, PackageName, CurrentValue, Datasource, RegistryURL string
}

func (d renovateDep) String() string {
	return fmt.Sprintf("%s %s (%s %s %s)", d.DepName, d.CurrentValue, d.Datasource, d.PackageName, d.RegistryURL)
}

func loadRenovate(t *testing.T) renovateConfig {
	t.Helper()
	b, err := os.ReadFile("../renovate.json")
	require.NoError(t, err)
	var cfg renovateConfig
	require.NoError(t, json.Unmarshal(b, &cfg))
	return cfg
}

// jsNamedGroup is JavaScript's named group, which Renovate's regexes use;
// Go spells it (?P<name>...).
var jsNamedGroup = regexp.MustCompile(`\(\?<([A-Za-z][A-Za-z0-9]*)>`)

// goRegexp converts one of Renovate's matchStrings to Go's syntax. The
// configuration keeps to the part of the syntax both engines share (no
// lookaround, no backreferences); Renovate matches without flags.
func goRegexp(t *testing.T, js string) *regexp.Regexp {
	t.Helper()
	re, err := regexp.Compile(jsNamedGroup.ReplaceAllString(js, "(?P<$1>"))
	require.NoError(t, err, "renovate.json matchString %q is not in the syntax Go and JavaScript share", js)
	return re
}

// matchesFile applies Renovate's managerFilePatterns: /regex/ or a glob,
// against the path from the repository root.
func (m renovateManager) matchesFile(t *testing.T, file string) bool {
	t.Helper()
	for _, p := range m.ManagerFilePatterns {
		if len(p) > 1 && strings.HasPrefix(p, "/") && strings.HasSuffix(p, "/") {
			if goRegexp(t, p[1:len(p)-1]).MatchString(file) {
				return true
			}
		} else if ok, _ := path.Match(p, file); ok {
			return true
		}
	}
	return false
}

// template fills a Renovate (Handlebars) template from the named groups:
// {{{name}}} and {{name}} only, which is all this configuration uses.
func template(tmpl string, groups map[string]string) string {
	for k, v := range groups {
		tmpl = strings.ReplaceAll(tmpl, "{{{"+k+"}}}", v)
		tmpl = strings.ReplaceAll(tmpl, "{{"+k+"}}", v)
	}
	return tmpl
}

// extract runs every regex manager of cfg whose file patterns take file over
// its content, as Renovate does: each matchString finds all its matches
// ("any" strategy), templates win over groups of the same field.
func (cfg renovateConfig) extract(t *testing.T, file string) []renovateDep {
	t.Helper()
	content, err := os.ReadFile(path.Join("..", file))
	require.NoError(t, err)
	var deps []renovateDep
	for _, m := range cfg.CustomManagers {
		if m.CustomType != "regex" || !m.matchesFile(t, file) {
			continue
		}
		for _, s := range m.MatchStrings {
			re := goRegexp(t, s)
			for _, match := range re.FindAllStringSubmatch(string(content), -1) {
				groups := map[string]string{}
				for i, name := range re.SubexpNames() {
					if name != "" {
						groups[name] = match[i]
					}
				}
				field := func(group, tmpl string) string {
					if tmpl != "" {
						return template(tmpl, groups)
					}
					return groups[group]
				}
				deps = append(deps, renovateDep{
					DepName:      field("depName", m.DepNameTemplate),
					PackageName:  field("packageName", m.PackageNameTemplate),
					CurrentValue: groups["currentValue"],
					Datasource:   field("datasource", m.DatasourceTemplate),
					RegistryURL:  groups["registryUrl"],
				})
			}
		}
	}
	return deps
}

// Renovate keeps every pin current, so none may escape it: each chart of
// workloads.AddonCharts, each image and EKS add-on version of
// infra.KubernetesVersions and the Triton image must be matched by a regex
// manager of renovate.json on its source line, with the right depName and
// version, and so must the docs/configure.md rows that repeat them (the docs tests
// then keep passing on a bot's PR). A pin added in a shape the regexes do
// not match fails here.
func TestRenovateTracksEveryPin(t *testing.T) {
	cfg := loadRenovate(t)
	require.NotEmpty(t, cfg.CustomManagers)

	var charts []renovateDep
	for _, row := range workloads.AddonCharts {
		charts = append(charts, renovateDep{DepName: row.Chart.Name, CurrentValue: row.Chart.Version, Datasource: "helm", RegistryURL: row.Chart.Repo})
	}
	var autoscalers, vpcCNI, ebsCSI []renovateDep
	for _, v := range infra.KubernetesVersions {
		ebsCSI = append(ebsCSI, renovateDep{DepName: infra.EBSCSIAddonName, CurrentValue: v.EBSCSIAddon, Datasource: "aws-eks-addon",
			PackageName: fmt.Sprintf(`{"kubernetesVersion":%q,"addonName":%q}`, v.Minor, infra.EBSCSIAddonName)})
		autoscalers = append(autoscalers, renovateDep{DepName: "registry.k8s.io/autoscaling/cluster-autoscaler", CurrentValue: v.ClusterAutoscalerImage, Datasource: "docker"})
		vpcCNI = append(vpcCNI, renovateDep{DepName: "vpc-cni", CurrentValue: v.VpcCniAddon, Datasource: "aws-eks-addon",
			PackageName: fmt.Sprintf(`{"kubernetesVersion":%q,"addonName":"vpc-cni"}`, v.Minor)})
	}
	image, tag, ok := strings.Cut(inference.DefaultTritonImage, ":")
	require.True(t, ok)
	triton := renovateDep{DepName: image, CurrentValue: tag, Datasource: "docker"}

	// Every other string field of a row (a future EBS CSI add-on version,
	// another image) is a pin too: some regex must read it, or the new
	// column would escape the bot.
	tableDeps := cfg.extract(t, "infra/kubernetes_versions.go")
	rowType := reflect.TypeFor[infra.KubernetesVersion]()
	for _, v := range infra.KubernetesVersions {
		row := reflect.ValueOf(v)
		for i := range rowType.NumField() {
			f := rowType.Field(i)
			if f.Type.Kind() != reflect.String || f.Name == "Minor" {
				continue
			}
			value := row.Field(i).String()
			assert.True(t, slices.ContainsFunc(tableDeps, func(d renovateDep) bool { return d.CurrentValue == value }),
				"infra.KubernetesVersions %s.%s = %q: no regex manager of renovate.json reads it", v.Minor, f.Name, value)
		}
	}

	// The Go tables: exactly their pins, nothing else (the previous chart
	// pins, for one, are not bumped).
	assert.ElementsMatch(t, charts, cfg.extract(t, "workloads/chart.go"), "workloads/chart.go")
	assert.ElementsMatch(t, append(append(append([]renovateDep{}, autoscalers...), vpcCNI...), ebsCSI...), tableDeps, "infra/kubernetes_versions.go")
	assert.Equal(t, []renovateDep{triton}, cfg.extract(t, "workloads/inference/triton_spec.go"), "workloads/inference/triton_spec.go")

	// docs/configure.md repeats them in tables (tested against the Go tables).
	readme := cfg.extract(t, "docs/configure.md")
	for _, want := range append(append(append(append(charts, autoscalers...), vpcCNI...), ebsCSI...), triton) {
		assert.Contains(t, readme, want, "docs/configure.md")
	}
	for _, d := range readme {
		if d.DepName == image {
			assert.Equal(t, triton, d, "every docs/configure.md mention of the Triton image is the pin")
		}
	}
}

// The extraction above is Renovate's: a regex written in the shared syntax
// means the same in both engines, and templates are filled from the groups.
func TestRenovateRegexConversion(t *testing.T) {
	re := goRegexp(t, `Minor: "(?<minor>1\.\d+)"[^\n]*VpcCniAddon: "(?<currentValue>v[^"]+)"`)
	m := re.FindStringSubmatch(`{Minor: "1.33", X: 1, VpcCniAddon: "v1.22.4-eksbuild.3"},`)
	require.NotNil(t, m)
	assert.Equal(t, []string{"", "minor", "currentValue"}, re.SubexpNames())
	assert.Equal(t, `{"kubernetesVersion":"1.33"}`, template(`{"kubernetesVersion":"{{{minor}}}"}`, map[string]string{"minor": m[1]}))
	assert.True(t, renovateManager{ManagerFilePatterns: []string{`/^infra/kubernetes_versions\.go$/`}}.matchesFile(t, "infra/kubernetes_versions.go"))
	assert.False(t, renovateManager{ManagerFilePatterns: []string{`/^infra/kubernetes_versions\.go$/`}}.matchesFile(t, "infra/kubernetes_versions_test.go"))
	assert.True(t, renovateManager{ManagerFilePatterns: []string{"workloads/*.go"}}.matchesFile(t, "workloads/chart.go"))
}
