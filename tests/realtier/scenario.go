package realtier

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Expect is one Kubernetes object a scenario must create, by API path, with
// a check of the properties that prove it is the object the program meant
// (nil: existence is enough).
type Expect struct {
	Path  string
	Check func(Object) error
}

// Scenario is a program the tier runs through up / concurrent up / destroy.
type Scenario struct {
	Name string
	// Program builds the stack; changed=true must differ from changed=false in
	// exactly one resource (updated or replaced), visible in ChangedObject.
	// gate, when set, is called first: it holds the update (and its lock).
	Program func(kubeconfig string, changed bool, gate func()) pulumi.RunFunc
	// Objects lists what must exist after up and be gone after destroy; it
	// may read the cluster to resolve generated names.
	Objects func(ctx context.Context, api *KubeAPI) ([]Expect, error)
	// ChangedObject proves the changed=true update reached the API server.
	ChangedObject Expect
}

// SmokeScenario is a Namespace and a ConfigMap: the toolchain, nothing more.
func SmokeScenario() Scenario {
	const ns = "realtier-smoke"
	cm := "/api/v1/namespaces/" + ns + "/configmaps/smoke"
	return Scenario{
		Name: "smoke",
		Program: func(kubeconfig string, changed bool, gate func()) pulumi.RunFunc {
			extra := map[string]string{}
			if changed {
				extra["changed"] = "yes"
			}
			program := SmokeProgram(kubeconfig, extra)
			return func(ctx *pulumi.Context) error {
				if gate != nil {
					gate()
				}
				return program(ctx)
			}
		},
		Objects: func(context.Context, *KubeAPI) ([]Expect, error) {
			return []Expect{
				{Path: "/api/v1/namespaces/" + ns, Check: hasField("Active", "status", "phase")},
				{Path: cm, Check: hasField("hello", "data", "greeting")},
			}, nil
		},
		ChangedObject: Expect{Path: cm, Check: hasField("yes", "data", "changed")},
	}
}

// hasField checks a leaf: strings compare as is, numbers as JSON numbers.
func hasField(want any, keys ...string) func(Object) error {
	return func(o Object) error {
		got := o.Path(keys...)
		if n, ok := want.(int); ok {
			want = float64(n)
		}
		if got != want {
			return fmt.Errorf("%s = %#v, want %#v", strings.Join(keys, "."), got, want)
		}
		return nil
	}
}

// all combines checks.
func all(checks ...func(Object) error) func(Object) error {
	return func(o Object) error {
		var errs []error
		for _, c := range checks {
			errs = append(errs, c(o))
		}
		return errors.Join(errs...)
	}
}

// namespaceEmpty reports whether ns holds none of the kinds scenarios create,
// which is when the namespace controller would finalize it.
func namespaceEmpty(api *KubeAPI) func(ctx context.Context, ns string) bool {
	collections := []string{
		"/api/v1/namespaces/%s/configmaps",
		"/api/v1/namespaces/%s/secrets",
		"/api/v1/namespaces/%s/services",
		"/api/v1/namespaces/%s/serviceaccounts",
		"/apis/apps/v1/namespaces/%s/deployments",
		"/apis/autoscaling/v2/namespaces/%s/horizontalpodautoscalers",
		"/apis/policy/v1/namespaces/%s/poddisruptionbudgets",
		"/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies",
		"/apis/networking.k8s.io/v1/namespaces/%s/ingresses",
	}
	return func(ctx context.Context, ns string) bool {
		for _, c := range collections {
			items, err := api.List(ctx, fmt.Sprintf(c, ns))
			if err != nil {
				return false
			}
			for _, it := range items {
				// kube-root-ca.crt is published by a controller that does not run
				// here; tolerate it should it exist anyway.
				if it.String("metadata", "name") != "kube-root-ca.crt" {
					return false
				}
			}
		}
		return true
	}
}
