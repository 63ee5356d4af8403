package setup

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 22: from an empty account and repository to the first approved
// deploy in at most 12 manual actions, each listed in docs/setup.md; and
// every item of the checklist setup prints is one of them.
func TestSetupDocCountsAtMostTwelveManualActions(t *testing.T) {
	data, err := os.ReadFile("../../docs/setup.md")
	require.NoError(t, err)
	doc := string(data)
	_, section, ok := strings.Cut(doc, "\n## Manual actions\n")
	require.True(t, ok, "docs/setup.md has a section \"Manual actions\"")
	section, _, _ = strings.Cut(section, "\n## ")

	items := regexp.MustCompile(`(?m)^(\d+)\. `).FindAllStringSubmatch(section, -1)
	require.NotEmpty(t, items)
	for i, m := range items {
		assert.Equal(t, strconv.Itoa(i+1), m[1], "actions are numbered 1, 2, … without gaps")
	}
	assert.LessOrEqual(t, len(items), 12, "manual actions from nothing to the first approved deploy")
	t.Logf("docs/setup.md lists %d manual actions", len(items))

	plain := strings.ReplaceAll(section, "`", "")
	r := &run{Setup: &Setup{Config: testConfig().WithDefaults()}, owner: "acme", name: "infra"}
	for _, it := range checklist(r) {
		assert.Contains(t, plain, it.What, "the checklist item is a manual action of docs/setup.md")
	}
	assert.Contains(t, section, "go run ./cmd/aiplatform setup", "one action is the setup command")
}
