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
	// With its ID, as setup prints it: every item, the conditional ones too.
	for _, s := range ItemSpecs {
		assert.Contains(t, plain, "["+string(s.ID)+"] "+s.Title, "docs/setup.md lists the checklist item with its ID")
	}
	assert.Contains(t, section, "go run ./cmd/aiplatform setup", "one action is the setup command")
}

// The permission hint points at a section of docs/setup.md that lists, per
// resource of the bootstrap (stacks/bootstrap/statebackend), the actions
// that create it.
func TestSetupDocListsAWSPermissions(t *testing.T) {
	file, anchor, ok := strings.Cut(awsPermissionsDoc, "#")
	require.True(t, ok)
	data, err := os.ReadFile("../../" + file)
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(data), "\n## AWS permissions\n")
	require.True(t, ok, "%s has the section the hint names", file)
	assert.Equal(t, "aws-permissions", anchor, "GitHub's anchor of \"## AWS permissions\"")
	section, _, _ = strings.Cut(section, "\n## ")
	for _, action := range []string{"s3:CreateBucket", "s3:PutBucketPolicy", "s3:PutEncryptionConfiguration", "kms:CreateKey", "kms:CreateAlias",
		"kms:GenerateDataKey", "iam:CreateOpenIDConnectProvider", "iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "sts:GetCallerIdentity"} {
		assert.Contains(t, section, "`"+action+"`")
	}
}
