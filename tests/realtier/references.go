package realtier

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// A pod template names other objects that must exist before its pods can
// start. With no nodes and no controllers here, nothing would notice a
// missing one: the API server accepts a Deployment whose Secret is missing,
// and the failure (CreateContainerConfigError, FailedMount, a pod that is
// never admitted) only shows on a real cluster. CheckReferences finds them
// from the objects alone.

// workloadKind says where a workload kind keeps its pod template spec.
type workloadKind struct {
	Kind, GroupVersion, Resource string
	PodSpec                      []string
}

// WorkloadKinds are the kinds CheckReferences reads.
var WorkloadKinds = []workloadKind{
	{"Deployment", "apps/v1", "deployments", []string{"spec", "template", "spec"}},
	{"StatefulSet", "apps/v1", "statefulsets", []string{"spec", "template", "spec"}},
	{"DaemonSet", "apps/v1", "daemonsets", []string{"spec", "template", "spec"}},
	{"Job", "batch/v1", "jobs", []string{"spec", "template", "spec"}},
	{"CronJob", "batch/v1", "cronjobs", []string{"spec", "jobTemplate", "spec", "template", "spec"}},
}

// BuiltinPriorityClasses are created by kube-apiserver itself (the scheduling
// API's bootstrap, k8s.io/kubernetes pkg/apis/scheduling SystemPriorityClasses);
// it refuses any other name with the system- prefix.
var BuiltinPriorityClasses = map[string]bool{"system-node-critical": true, "system-cluster-critical": true}

// Reference is one object a pod template needs.
type Reference struct {
	Kind      string // Secret, ConfigMap, ServiceAccount, PriorityClass, PersistentVolumeClaim
	Namespace string // "" for PriorityClass
	Name      string
	Key       string // a key the Secret or ConfigMap must hold ("" for none)
	Field     string // where the pod spec names it
}

func (r Reference) path() string {
	switch r.Kind {
	case "PriorityClass":
		return "/apis/scheduling.k8s.io/v1/priorityclasses/" + r.Name
	case "PersistentVolumeClaim":
		return "/api/v1/namespaces/" + r.Namespace + "/persistentvolumeclaims/" + r.Name
	}
	return "/api/v1/namespaces/" + r.Namespace + "/" + strings.ToLower(r.Kind) + "s/" + r.Name
}

// PodReferences lists the objects a pod spec in namespace ns needs, leaving
// out those marked optional: true (the kubelet starts the pod without them).
//
// Decisions, all from what the kubelet and the control plane do on a real
// cluster:
//   - The ServiceAccount "default" (also when serviceAccountName is unset)
//     counts as present: kube-controller-manager's ServiceAccount controller
//     creates it in every namespace, and that controller does not run here.
//     Any other ServiceAccount must exist (the ServiceAccount admission plugin
//     refuses pods otherwise).
//   - imagePullSecrets are required: the kubelet only warns about a missing
//     one, but the private image it exists for then cannot be pulled.
//   - The built-in PriorityClasses need not be listed (BuiltinPriorityClasses).
func PodReferences(ns string, pod Object) []Reference {
	var refs []Reference
	add := func(kind, name, key, field string) {
		if name == "" {
			return
		}
		r := Reference{Kind: kind, Namespace: ns, Name: name, Key: key, Field: field}
		if kind == "PriorityClass" {
			r.Namespace = ""
		}
		refs = append(refs, r)
	}
	optional := func(o Object, keys ...string) bool {
		b, _ := o.Path(append(keys, "optional")...).(bool)
		return b
	}

	sa := pod.String("serviceAccountName")
	if sa == "" {
		sa = pod.String("serviceAccount") // deprecated alias
	}
	if sa != "" && sa != "default" {
		add("ServiceAccount", sa, "", "serviceAccountName")
	}
	if pc := pod.String("priorityClassName"); pc != "" && !BuiltinPriorityClasses[pc] {
		add("PriorityClass", pc, "", "priorityClassName")
	}
	for i, s := range items(pod, "imagePullSecrets") {
		add("Secret", s.String("name"), "", fmt.Sprintf("imagePullSecrets[%d]", i))
	}

	// keyedSource is a secret / configMap volume or projected source: the
	// object, and each key listed under items.
	keyedSource := func(kind string, src Object, nameField, field string) {
		if src == nil || optional(src) {
			return
		}
		name := src.String(nameField)
		keyed := items(src, "items")
		if len(keyed) == 0 {
			add(kind, name, "", field)
		}
		for j, it := range keyed {
			add(kind, name, it.String("key"), fmt.Sprintf("%s.items[%d]", field, j))
		}
	}
	for _, v := range items(pod, "volumes") {
		field := "volumes[" + v.String("name") + "]"
		keyedSource("Secret", object(v, "secret"), "secretName", field+".secret")
		keyedSource("ConfigMap", object(v, "configMap"), "name", field+".configMap")
		for j, src := range items(v, "projected", "sources") {
			f := fmt.Sprintf("%s.projected.sources[%d]", field, j)
			keyedSource("Secret", object(src, "secret"), "name", f+".secret")
			keyedSource("ConfigMap", object(src, "configMap"), "name", f+".configMap")
		}
		add("PersistentVolumeClaim", v.String("persistentVolumeClaim", "claimName"), "", field+".persistentVolumeClaim")
	}

	for _, list := range []string{"initContainers", "containers"} {
		for _, c := range items(pod, list) {
			field := list + "[" + c.String("name") + "]"
			for j, from := range items(c, "envFrom") {
				f := fmt.Sprintf("%s.envFrom[%d]", field, j)
				if ref := object(from, "secretRef"); ref != nil && !optional(ref) {
					add("Secret", ref.String("name"), "", f+".secretRef")
				}
				if ref := object(from, "configMapRef"); ref != nil && !optional(ref) {
					add("ConfigMap", ref.String("name"), "", f+".configMapRef")
				}
			}
			for _, env := range items(c, "env") {
				f := field + ".env[" + env.String("name") + "]"
				if ref := object(env, "valueFrom", "secretKeyRef"); ref != nil && !optional(ref) {
					add("Secret", ref.String("name"), ref.String("key"), f+".valueFrom.secretKeyRef")
				}
				if ref := object(env, "valueFrom", "configMapKeyRef"); ref != nil && !optional(ref) {
					add("ConfigMap", ref.String("name"), ref.String("key"), f+".valueFrom.configMapKeyRef")
				}
			}
		}
	}
	return refs
}

// ObjectGetter reads one object by API path; a missing object is an error
// wrapping ErrNotFound. *KubeAPI is one.
type ObjectGetter interface {
	Get(ctx context.Context, path string) (Object, error)
}

// Dangling is a reference whose object (or key) does not exist.
type Dangling struct {
	Workload string // "Deployment argocd/argocd-redis"
	Ref      Reference
	Problem  string
}

func (d Dangling) String() string {
	target := d.Ref.Kind + " " + d.Ref.Name
	if d.Ref.Namespace != "" {
		target = d.Ref.Kind + " " + d.Ref.Namespace + "/" + d.Ref.Name
	}
	if d.Ref.Key != "" {
		target = "key " + d.Ref.Key + " of " + target
	}
	return fmt.Sprintf("%s: %s needs %s: %s", d.Workload, d.Ref.Field, target, d.Problem)
}

// CheckReferences returns every dangling reference of the workloads: each
// object must carry its kind (ListWorkloads sets it) and be one of
// WorkloadKinds. A Secret or ConfigMap must also hold every key a
// non-optional reference names.
func CheckReferences(ctx context.Context, store ObjectGetter, workloads []Object) ([]Dangling, error) {
	var out []Dangling
	cache := map[string]Object{}
	missing := map[string]bool{}
	for _, w := range workloads {
		kind := w.String("kind")
		var podSpec []string
		for _, k := range WorkloadKinds {
			if k.Kind == kind {
				podSpec = k.PodSpec
			}
		}
		if podSpec == nil {
			return nil, fmt.Errorf("%s %s: not a workload kind", kind, w.String("metadata", "name"))
		}
		ns := w.String("metadata", "namespace")
		name := kind + " " + ns + "/" + w.String("metadata", "name")
		pod, _ := w.Path(podSpec...).(map[string]any)
		for _, ref := range PodReferences(ns, pod) {
			path := ref.path()
			obj, seen := cache[path]
			if !seen && !missing[path] {
				var err error
				obj, err = store.Get(ctx, path)
				switch {
				case errors.Is(err, ErrNotFound):
					missing[path] = true
				case err != nil:
					return nil, err
				default:
					cache[path] = obj
				}
			}
			switch {
			case missing[path]:
				out = append(out, Dangling{Workload: name, Ref: ref, Problem: ref.Kind + " not found"})
			case ref.Key != "" && !hasKey(obj, ref.Key):
				out = append(out, Dangling{Workload: name, Ref: ref, Problem: "no such key"})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

// hasKey reports whether a Secret or ConfigMap holds key (data, or a
// ConfigMap's binaryData; the API returns a Secret's stringData as data).
func hasKey(o Object, key string) bool {
	for _, field := range []string{"data", "binaryData"} {
		if m, ok := o[field].(map[string]any); ok {
			if _, ok := m[key]; ok {
				return true
			}
		}
	}
	return false
}

// ListWorkloads returns every object of WorkloadKinds in the API server,
// each with its kind set (list items carry none).
func (k *KubeAPI) ListWorkloads(ctx context.Context) ([]Object, error) {
	var out []Object
	for _, wk := range WorkloadKinds {
		list, err := k.List(ctx, "/apis/"+wk.GroupVersion+"/"+wk.Resource)
		if err != nil {
			return nil, err
		}
		for _, o := range list {
			o["kind"] = wk.Kind
			out = append(out, o)
		}
	}
	return out, nil
}

func object(o Object, keys ...string) Object {
	m, _ := o.Path(keys...).(map[string]any)
	return m
}

func items(o Object, keys ...string) []Object {
	list, _ := o.Path(keys...).([]any)
	out := make([]Object, 0, len(list))
	for _, it := range list {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}
