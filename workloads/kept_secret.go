package workloads

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math/big"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// A kept secret is a value the program generates once (a password, a private
// key) and then keeps in the Pulumi state, as the random and tls providers
// would; neither provider plugin can be installed here. The value lives in a
// Kubernetes Secret created with ignoreChanges on its data: every run draws a
// fresh value, but for an existing Secret the engine keeps the old input
// (processIgnoreChanges in pulumi/pkg resource/deploy/step_generator.go), so
// the first value stays in the state and in the cluster, and the Secret's
// outputs (read back, never the fresh draw) are stable across runs. Rotation
// is an explicit `pulumi up --replace <urn of the Secret>`.

// keptSecretIgnoreChanges are the Secret properties the first value is kept in.
var keptSecretIgnoreChanges = []string{"data", "stringData"}

// KeptSecretArgs configures a kept secret.
type KeptSecretArgs struct {
	// Name and Namespace of the Kubernetes Secret.
	Name      string
	Namespace pulumi.StringInput
	Labels    pulumi.StringMap
	// Generate draws fresh values (key -> plain value). It is called on every
	// update, but only the value of the run that creates the Secret is kept.
	Generate func() (map[string]string, error)
}

// NewKeptSecret creates the Secret and returns it with its kept data
// (decoded, marked secret), read from the Secret's outputs.
//
// In a preview nothing is drawn: the data is unknown, like a random
// provider's output. A saved plan (`preview --save-plan`, `up --plan`) then
// accepts whatever the update draws; a known value drawn in the preview would
// differ from the update's and be refused as a plan violation. For an
// existing Secret the engine substitutes the kept input, so a preview of an
// unchanged stack is fully known and shows no change.
func NewKeptSecret(ctx *pulumi.Context, name string, args KeptSecretArgs, opts ...pulumi.ResourceOption) (*corev1.Secret, pulumi.StringMapOutput, error) {
	data, err := keptSecretData(ctx.DryRun(), args.Generate)
	if err != nil {
		return nil, pulumi.StringMapOutput{}, fmt.Errorf("secret %s: %w", args.Name, err)
	}
	secret, err := corev1.NewSecret(ctx, name, &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(args.Name),
			Namespace: args.Namespace,
			Labels:    args.Labels,
		},
		Type: pulumi.String("Opaque"),
		Data: data,
	}, append(opts, pulumi.IgnoreChanges(keptSecretIgnoreChanges))...)
	if err != nil {
		return nil, pulumi.StringMapOutput{}, err
	}
	kept := secret.Data.ApplyT(func(encoded map[string]string) (map[string]string, error) {
		out := make(map[string]string, len(encoded))
		for k, v := range encoded {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, fmt.Errorf("secret %s: key %s is not base64: %w", args.Name, k, err)
			}
			out[k] = string(b)
		}
		return out, nil
	}).(pulumi.StringMapOutput)
	return secret, pulumi.ToSecret(kept).(pulumi.StringMapOutput), nil
}

// keptSecretData is the Secret's data input: in a preview unknown (nothing
// drawn), in an update freshly drawn values, base64 encoded and secret.
func keptSecretData(dryRun bool, generate func() (map[string]string, error)) (pulumi.StringMapOutput, error) {
	if dryRun {
		return pulumi.UnsafeUnknownOutput(nil).ApplyT(func(any) map[string]string { return nil }).(pulumi.StringMapOutput), nil
	}
	values, err := generate()
	if err != nil {
		return pulumi.StringMapOutput{}, err
	}
	encoded := pulumi.StringMap{}
	for k, v := range values {
		encoded[k] = pulumi.String(base64.StdEncoding.EncodeToString([]byte(v)))
	}
	return pulumi.ToSecret(encoded).(pulumi.StringMapOutput), nil
}

// KeptValue is one key of a kept secret's data, still secret.
func KeptValue(data pulumi.StringMapOutput, key string) pulumi.StringOutput {
	return pulumi.ToSecret(data.MapIndex(pulumi.String(key))).(pulumi.StringOutput)
}

// passwordAlphabet has no characters a shell, URL or redis.conf would need quoted.
const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// RandomPassword draws n characters from passwordAlphabet with crypto/rand.
func RandomPassword(n int) (string, error) {
	max := big.NewInt(int64(len(passwordAlphabet)))
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		b[i] = passwordAlphabet[k.Int64()]
	}
	return string(b), nil
}
