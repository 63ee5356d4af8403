package stacks

import (
	"strings"
	"testing"

	"github.com/aiplatform/infra/tests/mocks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 18 item 9: a placeholder argocd.apps.repoUrl is a config error naming
// the key and how to fix it (the committed dev stack's made the deploy's Argo
// CD wait fail); a real repository, or no apps at all, passes.
func TestArgoCDAppsPlaceholderRepoIsAConfigError(t *testing.T) {
	apps := func(repo string) MapSource {
		src := valid()
		src["argocd"] = `{"apps":{"repoUrl":"` + repo + `","path":"clusters/dev"}}`
		return src
	}
	cases := []struct {
		name string
		src  MapSource
		why  string // "" = valid
	}{
		{"the former dev stack's example", apps("https://github.com/aiplatform/platform-apps.git"), "the example this repository's dev stack used to carry"},
		{"the same without .git, other case", apps("https://GitHub.com/aiplatform/platform-apps"), "the example this repository's dev stack used to carry"},
		{"a template to fill in", apps("https://github.com/<org>/<apps-repo>.git"), "it has <…> to fill in"},
		{"a reserved example host", apps("https://git.example.com/platform/apps.git"), "host git.example.com is reserved for examples"},
		{"a reserved host over ssh", apps("git@example.org:platform/apps.git"), "host example.org is reserved for examples"},
		{"a real repository", apps("https://github.com/acme/platform-apps.git"), ""},
		{"no apps", valid(), ""},
		{"a placeholder with Argo CD off", MapSource{"adminRoleArns": admin, "argocd": `{"enabled":false,"apps":{"repoUrl":"https://github.com/aiplatform/platform-apps.git","path":"x"}}`}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(c.src)
			if c.why == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "aiplatform:argocd.apps.repoUrl:")
			assert.Contains(t, err.Error(), "is a placeholder ("+c.why+")")
			assert.Contains(t, err.Error(), "pulumi config set --path 'aiplatform:argocd.apps.repoUrl'", "says how to fix it")
			assert.Equal(t, 1, strings.Count(err.Error(), "argocd.apps.repoUrl:"), "one problem, not also a Git URL complaint")
		})
	}
}

// The committed dev stack carries no placeholder: its Argo CD installs
// without Applications until someone names their repository.
func TestDevStackHasNoPlaceholderApps(t *testing.T) {
	raw, _, err := mocks.StackConfig("..", "dev")
	require.NoError(t, err)
	assert.NotContains(t, raw[Project+":argocd"], "repoUrl", "the dev stack must not commit an apps repository that is not yours")
}
