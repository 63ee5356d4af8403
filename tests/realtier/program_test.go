package realtier

import (
	"context"
	"reflect"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The webhook transform keeps each webhook as rendered but for its
// objectSelector, and leaves every other type alone.
func TestDisarmAdmissionWebhooks(t *testing.T) {
	hook := pulumi.Map{
		"name":           pulumi.String("mservice.elbv2.k8s.aws"),
		"failurePolicy":  pulumi.String("Fail"),
		"objectSelector": pulumi.Map{"matchLabels": pulumi.Map{"app": pulumi.String("x")}},
	}
	args := &pulumi.ResourceTransformArgs{
		Custom: true,
		Type:   "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration",
		Props:  pulumi.Map{"webhooks": pulumi.Array{hook}, "metadata": pulumi.Map{"name": pulumi.String("w")}},
	}
	res := DisarmAdmissionWebhooks(context.Background(), args)
	if res == nil {
		t.Fatal("webhook configuration not transformed")
	}
	got := res.Props["webhooks"].(pulumi.Array)[0].(pulumi.Map)
	want := pulumi.Map{"matchExpressions": pulumi.Array{pulumi.Map{
		"key": pulumi.String(LabelWebhookDisarmed), "operator": pulumi.String("Exists"),
	}}}
	if !reflect.DeepEqual(got["objectSelector"], want) {
		t.Errorf("objectSelector = %v, want %v", got["objectSelector"], want)
	}
	if got["failurePolicy"] != pulumi.String("Fail") || got["name"] != pulumi.String("mservice.elbv2.k8s.aws") {
		t.Errorf("other webhook fields changed: %v", got)
	}
	if _, ok := hook["objectSelector"].(pulumi.Map)["matchLabels"]; !ok {
		t.Error("the transform changed its input")
	}

	args.Type = "kubernetes:core/v1:Service"
	if DisarmAdmissionWebhooks(context.Background(), args) != nil {
		t.Error("a Service was transformed")
	}
}

func TestDiffSorted(t *testing.T) {
	onlyA, onlyB := diffSorted([]string{"a", "b", "d"}, []string{"b", "c", "d", "e"})
	if !reflect.DeepEqual(onlyA, []string{"a"}) || !reflect.DeepEqual(onlyB, []string{"c", "e"}) {
		t.Errorf("diffSorted = %v, %v", onlyA, onlyB)
	}
}

func TestInventoryPath(t *testing.T) {
	for entry, want := range map[string]string{
		"apiextensions.k8s.io/v1/customresourcedefinitions -/applications.argoproj.io": "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/applications.argoproj.io",
		"v1/configmaps kube-system/settings":                                           "/api/v1/namespaces/kube-system/configmaps/settings",
	} {
		if got, err := inventoryPath(entry); err != nil || got != want {
			t.Errorf("inventoryPath(%q) = %q, %v; want %q", entry, got, err, want)
		}
	}
}
