package depscheck

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fixture marks with "// want" each line that holds a component of
// this module in a []pulumi.Resource; Check must report exactly those.
func TestCheckFindsComponentsOfThisModuleInResourceLists(t *testing.T) {
	findings, lists, err := Check(".", "./testdata/lists")
	require.NoError(t, err)
	assert.Equal(t, 7, lists, "resource lists in the fixture")
	file, err := filepath.Abs("testdata/lists/lists.go")
	require.NoError(t, err)
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	var want []int
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.HasSuffix(strings.TrimSpace(sc.Text()), "// want") {
			want = append(want, n)
		}
	}
	require.Len(t, want, 3)
	var got []int
	for _, x := range findings {
		assert.Equal(t, file, x.Pos.Filename)
		assert.Equal(t, "*lists.Addon", x.Component)
		got = append(got, x.Pos.Line)
	}
	assert.Equal(t, want, got)
	require.NotEmpty(t, findings)
	assert.Contains(t, findings[0].String(), "name its chart or Resources instead")
}

func TestCheckFailsOnAPackageThatDoesNotLoad(t *testing.T) {
	_, _, err := Check(".", "./testdata/missing")
	require.Error(t, err)
}
