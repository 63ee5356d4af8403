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

// Phase is a step a scenario runs between up and destroy.
type Phase string

const (
	// PhaseLock: a second up racing a held lock is refused, nothing is lost,
	// and preview --expect-no-changes is clean afterwards. Needs ChangedObject.
	PhaseLock Phase = "concurrent up is refused by the lock"
	// PhasePreview: preview --expect-no-changes right after up.
	PhasePreview Phase = "preview is clean"
)

// Scenario is a program the tier runs through up, its Phases, and destroy.
type Scenario struct {
	Name string
	// Program builds the stack; changed=true must differ from changed=false in
	// exactly one resource (updated or replaced), visible in ChangedObject.
	// gate, when set, is called first: it holds the update (and its lock).
	Program func(kubeconfig string, changed bool, gate func()) pulumi.RunFunc
	// Objects lists what must exist after up and be gone after destroy, with
	// their key properties; it may read the cluster to resolve generated
	// names. (Every Kubernetes object in the state is checked as well.)
	Objects func(ctx context.Context, api *KubeAPI) ([]Expect, error)
	// ChangedObject proves the changed=true update reached the API server.
	ChangedObject Expect
	// Phases run in order after up; destroy always runs last.
	Phases []Phase
	// Unavailable says why the scenario cannot run here (e.g. its charts are
	// missing): it is skipped, or fails with REALTIER=1.
	Unavailable error
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
		Phases:        []Phase{PhaseLock},
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
