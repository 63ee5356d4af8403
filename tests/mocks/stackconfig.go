package mocks

import (
	"io"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// SecretPlaceholder stands in for secure values, which cannot be decrypted offline.
const SecretPlaceholder = "offline-placeholder-secret"

// StackConfig reads Pulumi.yaml and Pulumi.<stack>.yaml in dir and returns the
// stack's config as the engine would pass it (keys "ns:name", objects as
// JSON), plus the keys that are secret. Secure values become SecretPlaceholder.
func StackConfig(dir, stack string) (map[string]string, []string, error) {
	proj, err := workspace.LoadProject(filepath.Join(dir, "Pulumi.yaml"))
	if err != nil {
		return nil, nil, err
	}
	sink := diag.DefaultSink(io.Discard, io.Discard, diag.FormatOptions{Color: colors.Never})
	ps, err := workspace.LoadProjectStack(sink, proj, filepath.Join(dir, "Pulumi."+stack+".yaml"))
	if err != nil {
		return nil, nil, err
	}
	out := map[string]string{}
	var secrets []string
	for k, v := range ps.Config {
		if v.Secure() {
			out[k.String()] = SecretPlaceholder
			secrets = append(secrets, k.String())
			continue
		}
		s, err := v.Value(config.NopDecrypter)
		if err != nil {
			return nil, nil, err
		}
		out[k.String()] = s
	}
	return out, secrets, nil
}
