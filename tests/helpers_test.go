package tests

import (
	"encoding/json"
	"testing"

	"github.com/aiplatform/infra/stacks"
	"github.com/aiplatform/infra/tests/mocks"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/require"
)

const adminRole = "arn:aws:iam::123456789012:role/platform-admin"

// baseConfig is the smallest valid stack config; tests override keys.
func baseConfig() map[string]string {
	return map[string]string{
		"aws:region":               mocks.Region,
		"aiplatform:adminRoleArns": `["` + adminRole + `"]`,
	}
}

// with returns cfg overlaid with key/value pairs.
func with(cfg map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range cfg {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// runProgram runs the whole program under the mocks and fails the test on error.
func runProgram(t testing.TB, cfg map[string]string) *mocks.Recorder {
	t.Helper()
	rec, err := mocks.Run(cfg, stacks.Run)
	require.NoError(t, err)
	return rec
}

// find returns the one resource of type typ named name.
func find(t testing.TB, rec *mocks.Recorder, typ, name string) mocks.Resource {
	t.Helper()
	r, ok := rec.Find(typ, name)
	if !ok {
		var names []string
		for _, x := range rec.ByType(typ) {
			names = append(names, x.Name)
		}
		t.Fatalf("no %s named %q; have %v", typ, name, names)
	}
	return r
}

// plain converts recorded properties to plain Go values (secrets unwrapped).
func plain(m resource.PropertyMap) map[string]any {
	return m.MapRepl(nil, func(v resource.PropertyValue) (any, bool) {
		if v.IsSecret() {
			return plainValue(v.SecretValue().Element), true
		}
		return nil, false
	})
}

func plainValue(v resource.PropertyValue) any {
	return resource.PropertyMap{"v": v}.MapRepl(nil, nil)["v"]
}

// path walks nested maps/slices: path(m, "scalingConfig", "minSize").
func path(v any, keys ...any) any {
	for _, k := range keys {
		switch key := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[key]
		case int:
			s, ok := v.([]any)
			if !ok || key >= len(s) {
				return nil
			}
			v = s[key]
		}
	}
	return v
}

// policyJSON decodes an IAM policy document input.
func policyJSON(t testing.TB, v any) map[string]any {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "policy is not a string: %#v", v)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &doc))
	return doc
}
