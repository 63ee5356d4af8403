package realtier

import (
	"context"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AnnotationSkipAwait tells pulumi-kubernetes not to wait for readiness.
const AnnotationSkipAwait = "pulumi.com/skipAwait"

// SkipAwait is a stack transform that annotates every Kubernetes object except
// Namespaces with pulumi.com/skipAwait: with no nodes, scheduler or
// controllers, Deployments never become available and Services never get
// endpoints or load balancers, so Pulumi's await logic would wait forever.
// Namespaces keep the real await (the test finalizes them on delete).
func SkipAwait(_ context.Context, args *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
	if !args.Custom || !strings.HasPrefix(args.Type, "kubernetes:") || args.Type == "kubernetes:core/v1:Namespace" {
		return nil
	}
	props := pulumi.Map{}
	for k, v := range args.Props {
		props[k] = v
	}
	meta := pulumi.Map{}
	if existing, ok := props["metadata"].(pulumi.Map); ok {
		for k, v := range existing {
			meta[k] = v
		}
	} else if props["metadata"] != nil {
		return nil // an unknown metadata value cannot be edited; leave it alone
	}
	annotations := pulumi.Map{}
	if existing, ok := meta["annotations"].(pulumi.Map); ok {
		for k, v := range existing {
			annotations[k] = v
		}
	}
	annotations[AnnotationSkipAwait] = pulumi.String("true")
	meta["annotations"] = annotations
	props["metadata"] = meta
	return &pulumi.ResourceTransformResult{Props: props, Opts: args.Opts}
}

// LabelWebhookDisarmed is the label a disarmed admission webhook requires of
// an object before it is called; nothing carries it.
const LabelWebhookDisarmed = "realtier.aiplatform.io/admission-webhook-disarmed"

// DisarmAdmissionWebhooks is a stack transform that keeps every
// Mutating/ValidatingWebhookConfiguration (charts' included) but makes each of
// its webhooks match no object, by replacing its objectSelector with one that
// requires LabelWebhookDisarmed. No controller runs here, so the webhooks'
// services have no endpoints: with failurePolicy Fail (the AWS Load Balancer
// Controller's pod, Service, Ingress and TargetGroupBinding webhooks) the API
// server would refuse every object they match. The configurations themselves
// are still created, validated by the API server and deleted by destroy;
// only the admission calls are skipped. A transform cannot drop a resource,
// so this is the nearest to dropping the webhooks.
func DisarmAdmissionWebhooks(_ context.Context, args *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
	switch args.Type {
	case "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration",
		"kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration":
	default:
		return nil
	}
	hooks, ok := args.Props["webhooks"].(pulumi.Array)
	if !ok {
		return nil
	}
	disarmed := make(pulumi.Array, 0, len(hooks))
	for _, h := range hooks {
		hook, ok := h.(pulumi.Map)
		if !ok {
			return nil // unknown at preview: leave it; up sees the real value
		}
		copied := pulumi.Map{}
		for k, v := range hook {
			copied[k] = v
		}
		copied["objectSelector"] = pulumi.Map{"matchExpressions": pulumi.Array{pulumi.Map{
			"key":      pulumi.String(LabelWebhookDisarmed),
			"operator": pulumi.String("Exists"),
		}}}
		disarmed = append(disarmed, copied)
	}
	props := pulumi.Map{}
	for k, v := range args.Props {
		props[k] = v
	}
	props["webhooks"] = disarmed
	return &pulumi.ResourceTransformResult{Props: props, Opts: args.Opts}
}

// RegisterTestTransforms registers the tier's stack transforms (SkipAwait,
// DisarmAdmissionWebhooks). Registered first, they reach every resource of
// the program, including the children of remote components such as Helm v4
// Charts, which the kubernetes provider registers on the program's behalf.
func RegisterTestTransforms(ctx *pulumi.Context) error {
	for _, t := range []pulumi.ResourceTransform{SkipAwait, DisarmAdmissionWebhooks} {
		if err := ctx.RegisterResourceTransform(t); err != nil {
			return err
		}
	}
	return nil
}

// NewLocalProvider registers the explicit provider every resource uses, so
// nothing can fall back to an ambient kubeconfig.
func NewLocalProvider(ctx *pulumi.Context, kubeconfig string) (*kubernetes.Provider, error) {
	return kubernetes.NewProvider(ctx, "loopback", &kubernetes.ProviderArgs{
		Kubeconfig: pulumi.ToSecret(pulumi.String(kubeconfig)).(pulumi.StringOutput),
	})
}

// SmokeProgram is the smallest program that proves the toolchain: one
// Namespace and one ConfigMap in it. extra adds ConfigMap keys so a second
// run can make a change.
func SmokeProgram(kubeconfig string, extra map[string]string) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		if err := RegisterTestTransforms(ctx); err != nil {
			return err
		}
		k8s, err := NewLocalProvider(ctx, kubeconfig)
		if err != nil {
			return err
		}
		ns, err := corev1.NewNamespace(ctx, "smoke", &corev1.NamespaceArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("realtier-smoke")},
		}, pulumi.Provider(k8s))
		if err != nil {
			return err
		}
		data := pulumi.StringMap{"greeting": pulumi.String("hello")}
		for k, v := range extra {
			data[k] = pulumi.String(v)
		}
		_, err = corev1.NewConfigMap(ctx, "smoke", &corev1.ConfigMapArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Name:      pulumi.String("smoke"),
				Namespace: ns.Metadata.Name(),
			},
			Data: data,
		}, pulumi.Provider(k8s))
		return err
	}
}

// gatedProgram is the frame of the scenario programs: it waits at gate (when
// set: a test holding the update and its lock), registers the test-only
// transforms and the loopback provider, then runs body with that provider.
func gatedProgram(kubeconfig string, gate func(), body func(ctx *pulumi.Context, k8s *kubernetes.Provider) error) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		if gate != nil {
			gate()
		}
		if err := RegisterTestTransforms(ctx); err != nil {
			return err
		}
		k8s, err := NewLocalProvider(ctx, kubeconfig)
		if err != nil {
			return err
		}
		return body(ctx, k8s)
	}
}
