package samplemodels

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/aiplatform/infra/internal/modelrepo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSampleRepositoryPassesModelsCheck(t *testing.T) {
	models, err := modelrepo.Check(Repository())
	require.NoError(t, err)
	names := map[string]modelrepo.Model{}
	for _, m := range models {
		names[m.Name] = m
	}
	require.Contains(t, names, EnsembleName)
	assert.Equal(t, "ensemble", names[EnsembleName].Platform)
	assert.Equal(t, []string{"detect", "recognise"}, names[EnsembleName].Steps, "detect, then recognise")
	assert.Equal(t, "python", names["detect"].Backend)
	assert.Equal(t, "python", names["recognise"].Backend)
}

// The issue asks for plain text and no binary weights.
func TestSampleRepositoryIsPlainText(t *testing.T) {
	require.NoError(t, fs.WalkDir(Repository(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Repository(), p)
		require.NoError(t, err)
		assert.NotContains(t, string(b), "\x00", p)
		assert.True(t, strings.HasSuffix(p, ".pbtxt") || strings.HasSuffix(p, ".py") || strings.HasSuffix(p, ".txt"), p)
		return nil
	}))
}
