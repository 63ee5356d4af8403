package modelrepo

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

// good is a valid repository: a python model and an ensemble over it.
func good() fstest.MapFS {
	return fstest.MapFS{
		"detect/config.pbtxt": file(`name: "detect"
backend: "python"
input [ { name: "IMAGE" data_type: TYPE_UINT8 dims: [ -1 ] } ]
output [ { name: "BOXES" data_type: TYPE_FP32 dims: [ -1, 4 ] } ]`),
		"detect/1/model.py": file("class TritonPythonModel: pass\n"),
		"pipe/config.pbtxt": file(`name: "pipe"  # the ensemble
platform: "ensemble"
input [ { name: "IMAGE" } ]
output [ { name: "BOXES" } ]
ensemble_scheduling { step [ { model_name: "detect" model_version: -1
  input_map { key: "IMAGE" value: "IMAGE" } output_map { key: "BOXES" value: "BOXES" } } ] }`),
		"pipe/1/README.txt": file("placeholder"),
	}
}

func TestGoodRepository(t *testing.T) {
	models, err := Check(good())
	require.NoError(t, err)
	require.Len(t, models, 2)
	assert.Equal(t, Model{Name: "detect", Backend: "python", Versions: []int{1}}, models[0])
	assert.Equal(t, []string{"detect"}, models[1].Steps)
}

// TestBrokenRepositories: each broken repository and the error it gets.
func TestBrokenRepositories(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(fstest.MapFS)
		error string
	}{
		{"empty", func(m fstest.MapFS) {
			for k := range m {
				delete(m, k)
			}
			m["README.md"] = file("no models")
		}, "repository: no model directories"},
		{"missing config", func(m fstest.MapFS) { delete(m, "detect/config.pbtxt") }, "detect/config.pbtxt: missing"},
		{"name differs from directory", func(m fstest.MapFS) {
			m["detect/config.pbtxt"] = file(`name: "detector" backend: "python"`)
		}, `detect/config.pbtxt: name "detector" does not match its directory "detect"`},
		{"no backend or platform", func(m fstest.MapFS) {
			m["detect/config.pbtxt"] = file(`name: "detect" max_batch_size: 0`)
		}, "detect/config.pbtxt: needs backend"},
		{"unparsable config", func(m fstest.MapFS) {
			m["detect/config.pbtxt"] = file("name: \"detect\"\nbackend: \"python\"\ninput [ { name: \"IMAGE\" ")
		}, "detect/config.pbtxt: line 3: missing \"}\""},
		{"unterminated string", func(m fstest.MapFS) {
			m["detect/config.pbtxt"] = file("name: \"detect\nbackend: \"python\"")
		}, "detect/config.pbtxt: line 1: unterminated string"},
		{"non-numeric version", func(m fstest.MapFS) { m["detect/v2/model.py"] = file("") }, "detect/v2: not a version directory"},
		{"zero version", func(m fstest.MapFS) { m["detect/0/model.py"] = file("") }, "detect/0: not a version directory"},
		{"no version directory", func(m fstest.MapFS) { delete(m, "pipe/1/README.txt") }, "pipe: no version directory like pipe/1"},
		{"python without model.py", func(m fstest.MapFS) {
			delete(m, "detect/1/model.py")
			m["detect/1/weights.txt"] = file("")
		}, "detect/1/model.py: missing"},
		{"step names a missing model", func(m fstest.MapFS) {
			m["pipe/config.pbtxt"] = file(`platform: "ensemble" output [ { name: "BOXES" } ]
ensemble_scheduling { step [ { model_name: "detectt" output_map { key: "BOXES" value: "BOXES" } } ] }`)
		}, `pipe/config.pbtxt: ensemble_scheduling.step[0].model_name: "detectt" is not a model of this repository`},
		{"step names a missing version", func(m fstest.MapFS) {
			m["pipe/config.pbtxt"] = file(`platform: "ensemble" output [ { name: "BOXES" } ]
ensemble_scheduling { step [ { model_name: "detect" model_version: 3 output_map { key: "BOXES" value: "BOXES" } } ] }`)
		}, "ensemble_scheduling.step[0].model_version: 3 is not a version directory of detect"},
		{"ensemble without steps", func(m fstest.MapFS) {
			m["pipe/config.pbtxt"] = file(`platform: "ensemble"`)
		}, "pipe/config.pbtxt: ensemble_scheduling has no step"},
		{"step input from nowhere", func(m fstest.MapFS) {
			m["pipe/config.pbtxt"] = file(`platform: "ensemble" input [ { name: "IMAGE" } ] output [ { name: "BOXES" } ]
ensemble_scheduling { step [ { model_name: "detect" input_map { key: "IMAGE" value: "PICTURE" } output_map { key: "BOXES" value: "BOXES" } } ] }`)
		}, `ensemble_scheduling.step[0].input_map: "PICTURE" is neither an input of the ensemble nor an output of a step`},
		{"ensemble output not produced", func(m fstest.MapFS) {
			m["pipe/config.pbtxt"] = file(`platform: "ensemble" input [ { name: "IMAGE" } ] output [ { name: "TEXT" } ]
ensemble_scheduling { step [ { model_name: "detect" input_map { key: "IMAGE" value: "IMAGE" } output_map { key: "BOXES" value: "BOXES" } } ] }`)
		}, `pipe/config.pbtxt: output "TEXT" is not produced by any step's output_map`},
		{"ensemble calls itself", func(m fstest.MapFS) {
			m["pipe/config.pbtxt"] = file(`platform: "ensemble" ensemble_scheduling { step [ { model_name: "pipe" } ] }`)
		}, `step[0].model_name: "pipe" is the ensemble itself`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := good()
			tc.edit(repo)
			_, err := Check(repo)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.error)
		})
	}
}

func TestParseTextFormsTritonAccepts(t *testing.T) {
	m, err := parseText(`# comment
name: 'single'  # trailing comment
dims: [ -1, 4 ]
parameters { key: "EXECUTION_ENV_PATH" value: { string_value: "$$TRITON_MODEL_DIRECTORY/env.tar.gz" } }
version_policy: < latest { num_versions: 2 } >
label: "a" "b"`)
	require.NoError(t, err)
	assert.Equal(t, "single", m.str("name"))
	assert.Equal(t, []string{"-1", "4"}, m.strs("dims"))
	assert.Equal(t, "ab", m.str("label"))
	require.Len(t, m.msgs("version_policy"), 1)
	assert.Equal(t, "2", m.msgs("version_policy")[0].msgs("latest")[0].str("num_versions"))
}
