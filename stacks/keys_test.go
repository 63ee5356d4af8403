package stacks

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"
)

// A misspelt key must fail with the key and the key it most likely meant,
// whatever kind of value the intended key holds.
func TestMisspeltKeyIsAnError(t *testing.T) {
	cases := []struct {
		name, key, value, want string
	}{
		{"string", "endpointAcess", "public-and-private", "aiplatform:endpointAcess: unknown key; did you mean aiplatform:endpointAccess?"},
		{"string (plural dropped)", "natGateway", "perAz", "aiplatform:natGateway: unknown key; did you mean aiplatform:natGateways?"},
		{"integer", "availabilityZoneCont", "2", "aiplatform:availabilityZoneCont: unknown key; did you mean aiplatform:availabilityZoneCount?"},
		{"list", "viewerRoleArn", `["arn:aws:iam::123456789012:role/ci-preview"]`, "aiplatform:viewerRoleArn: unknown key; did you mean aiplatform:viewerRoleArns?"},
		{"object", "tritn", `{"maxReplicas":4}`, "aiplatform:tritn: unknown key; did you mean aiplatform:triton?"},
		{"object (case)", "NodeGroups", `[]`, "aiplatform:NodeGroups: unknown key; did you mean aiplatform:nodeGroups?"},
		{"secret", "dockerHubTokn", "dckr_pat_x", "aiplatform:dockerHubTokn: unknown key; did you mean aiplatform:dockerHubToken?"},
		{"nothing close", "enableQuantumMode", "true", "aiplatform:enableQuantumMode: unknown key; it is not a setting of this program"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := valid()
			src[tc.key] = tc.value
			_, err := parse(src)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.Contains(t, err.Error(), "invalid stack config (1 problems)")
		})
	}
}

// Keys of other namespaces belong to their providers and the CLI.
func TestOtherNamespacesAreLeftToTheirOwners(t *testing.T) {
	src := valid()
	for _, k := range []string{"aws:profile", "aws:skipMetadataApiCheck", "kubernetes:context", "pulumi:tags", "aws:region"} {
		src[k] = "x"
	}
	src["aws:region"] = "us-west-2"
	_, err := parse(src)
	require.NoError(t, err)
}

// An unknown key is reported together with the other problems, parse errors
// and validation errors alike, all at once.
func TestUnknownKeysAreReportedWithEveryOtherProblem(t *testing.T) {
	src := valid()
	src["endpointAcess"] = "public-and-private"
	src["natGateways"] = "perAZ"
	_, err := parse(src)
	require.Error(t, err)
	require.Contains(t, err.Error(), "invalid stack config (2 problems)")
	require.Contains(t, err.Error(), "aiplatform:endpointAcess: unknown key")
	require.Contains(t, err.Error(), `aiplatform:natGateways: "perAZ" is not one of`)

	src = valid()
	src["tritn"] = "{}"
	src["availabilityZoneCount"] = "three"
	_, err = parse(src)
	require.Error(t, err)
	require.Contains(t, err.Error(), "invalid stack config (2 problems)")
	require.Contains(t, err.Error(), "aiplatform:tritn: unknown key")
	require.Contains(t, err.Error(), `aiplatform:availabilityZoneCount: "three" is not a whole number`)
}

// Every key the parser reads is known, and every secret key counts as known
// even though its value is only read by loadSecrets.
func TestKnownKeysAreWhatTheParserReads(t *testing.T) {
	known := KnownKeys()
	for _, k := range append([]string{"clusterName", "endpointAccess", "nodeGroups", "triton", "ldsService", "chartRepository"}, workloadSecretKeys...) {
		require.Contains(t, known, k)
	}
	require.True(t, slices.IsSorted(known))
	// Every known key, set to a valid value or not, is never "unknown".
	src := MapSource{}
	for _, k := range known {
		src[k] = ""
	}
	r := &reader{src: src}
	readConfig(r, &Config{})
	require.Empty(t, r.unknownKeys())
}

// The keys Pulumi.yaml declares are passed to every run with their defaults:
// each must be one the program reads.
func TestPulumiYAMLDeclaresOnlyKnownKeys(t *testing.T) {
	proj, err := workspace.LoadProject("../Pulumi.yaml")
	require.NoError(t, err)
	known := KnownKeys()
	for key := range proj.Config {
		name, ok := strings.CutPrefix(key, Project+":")
		if !ok {
			continue
		}
		require.Contains(t, known, name, "Pulumi.yaml declares %s, which the program never reads", key)
	}
}

// Every known key is in the configuration reference, docs/configure.md.
func TestEveryKnownKeyIsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../docs/configure.md")
	require.NoError(t, err)
	ref := string(readme)
	start := strings.Index(ref, "## Configuration reference")
	require.GreaterOrEqual(t, start, 0)
	ref = ref[start:]
	if end := strings.Index(ref[3:], "\n## "); end >= 0 {
		ref = ref[:end+3]
	}
	for _, k := range KnownKeys() {
		require.Contains(t, ref, "`"+k+"`", "docs/configure.md's configuration reference does not document %s", k)
	}
}

func TestClosestKey(t *testing.T) {
	known := []string{"natGateways", "nodeGroups", "tags", "triton", "domain"}
	cases := map[string]string{
		"natGateway":  "natGateways",
		"NATGATEWAYS": "natGateways",
		"nodegroup":   "nodeGroups",
		"tag":         "tags",
		"tritin":      "triton",
		"domian":      "domain",
		"zz":          "",     // two edits from nothing useful: too short to guess
		"gpu":         "",     // not a typo of anything
		"":            "",     // empty key
		"tgas":        "tags", // transposition: 2 edits, allowed
	}
	for key, want := range cases {
		require.Equal(t, want, closestKey(key, known), "closestKey(%q)", key)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"endpointAcess", "endpointAccess", 1}, {"ü", "u", 1}} {
		require.Equal(t, tc.d, editDistance(tc.a, tc.b), "%q/%q", tc.a, tc.b)
		require.Equal(t, tc.d, editDistance(tc.b, tc.a), "%q/%q", tc.b, tc.a)
	}
}

// FuzzUnknownKeyErrors drives the key scanner with arbitrary keys: it never
// panics, reports exactly the keys that are not known (once each), names the
// key in each message and only ever suggests a known key.
func FuzzUnknownKeyErrors(f *testing.F) {
	f.Add("endpointAcess", "natGateways")
	f.Add("natGateway", "natGateway")
	f.Add("", "tritón")
	f.Add("a:b", "\x00\xff")
	known := KnownKeys()
	f.Fuzz(func(t *testing.T, a, b string) {
		errs := unknownKeyErrors([]string{a, b}, known)
		want := map[string]bool{}
		for _, k := range []string{a, b} {
			if !slices.Contains(known, k) {
				want[k] = true
			}
		}
		if len(errs) != len(want) {
			t.Fatalf("keys %q %q: %d errors, want %d: %v", a, b, len(errs), len(want), errs)
		}
		for _, e := range errs {
			msg := e.Error()
			named := false
			for k := range want {
				if strings.HasPrefix(msg, Project+":"+k+": unknown key") {
					named = true
				}
			}
			if !named {
				t.Fatalf("%q names none of %v", msg, want)
			}
			if _, s, ok := strings.Cut(msg, "did you mean "+Project+":"); ok {
				if !slices.Contains(known, strings.TrimSuffix(s, "?")) {
					t.Fatalf("suggests unknown key: %q", msg)
				}
			}
		}
	})
}

// engineConfigKeys reads the keys from the SDK's run context; if an SDK
// upgrade moves them, this fails here instead of every typo passing silently.
func TestEngineConfigKeys(t *testing.T) {
	cfg := map[string]string{"aiplatform:clusterName": "x", "aiplatform:endpointAcess": "private", "aws:region": "us-west-2"}
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	t.Setenv("PULUMI_CONFIG", string(raw))
	var keys, projectKeys []string
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		keys = engineConfigKeys(ctx)
		projectKeys = ctxSource{ctx}.Keys()
		return nil
	}, pulumi.WithMocks(Project, "dev", noResources{}))
	require.NoError(t, err)
	slices.Sort(keys)
	slices.Sort(projectKeys)
	require.Equal(t, []string{"aiplatform:clusterName", "aiplatform:endpointAcess", "aws:region"}, keys)
	require.Equal(t, []string{"clusterName", "endpointAcess"}, projectKeys)
}

// noResources is a mock monitor for programs that register nothing.
type noResources struct{}

func (noResources) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	return args.Name, args.Inputs, nil
}

func (noResources) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}
