package realtier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
)

// APIResource is one resource type the API server serves, from discovery.
type APIResource struct {
	GroupVersion string // "v1", "apps/v1"
	Kind         string
	Name         string // plural, e.g. "deployments"
	Namespaced   bool
	Verbs        []string
}

// Path is the API path of one object of this type (ns ignored when
// cluster-scoped), or of the collection when name is empty.
func (r APIResource) Path(ns, name string) string {
	p := "/apis/" + r.GroupVersion
	if r.GroupVersion == "v1" {
		p = "/api/v1"
	}
	if r.Namespaced && ns != "" {
		p += "/namespaces/" + ns
	}
	p += "/" + r.Name
	if name != "" {
		p += "/" + name
	}
	return p
}

func (r APIResource) can(verb string) bool { return slices.Contains(r.Verbs, verb) }

// Discovery is what the API server serves: every group version (for mapping
// objects of any version to paths) and the preferred version of each group
// (for listing everything once).
type Discovery struct {
	byKind    map[string]APIResource // "apps/v1 Deployment"
	Preferred []APIResource
	// Failed holds group versions whose discovery failed, e.g. an aggregated
	// API whose backing service cannot answer (503).
	Failed map[string]error
}

// Resource maps apiVersion and kind to the resource type.
func (d *Discovery) Resource(apiVersion, kind string) (APIResource, bool) {
	r, ok := d.byKind[apiVersion+" "+kind]
	return r, ok
}

// Discover reads /api and /apis and the resource list of every group version.
// A group version that fails is recorded in Failed, not returned as an error:
// the namespace controller and client-go tolerate such partial discovery too.
func (k *KubeAPI) Discover(ctx context.Context) (*Discovery, error) {
	var groups struct {
		Groups []struct {
			Name     string `json:"name"`
			Versions []struct {
				GroupVersion string `json:"groupVersion"`
			} `json:"versions"`
			PreferredVersion struct {
				GroupVersion string `json:"groupVersion"`
			} `json:"preferredVersion"`
		} `json:"groups"`
	}
	if err := k.do(ctx, "GET", "/apis", nil, &groups); err != nil {
		return nil, err
	}
	d := &Discovery{byKind: map[string]APIResource{}, Failed: map[string]error{}}
	type gv struct {
		name      string
		preferred bool
	}
	all := []gv{{"v1", true}}
	for _, g := range groups.Groups {
		for _, v := range g.Versions {
			all = append(all, gv{v.GroupVersion, v.GroupVersion == g.PreferredVersion.GroupVersion})
		}
	}
	for _, v := range all {
		path := "/apis/" + v.name
		if v.name == "v1" {
			path = "/api/v1"
		}
		var list struct {
			Resources []struct {
				Name       string   `json:"name"`
				Kind       string   `json:"kind"`
				Namespaced bool     `json:"namespaced"`
				Verbs      []string `json:"verbs"`
			} `json:"resources"`
		}
		if err := k.do(ctx, "GET", path, nil, &list); err != nil {
			d.Failed[v.name] = err
			continue
		}
		for _, r := range list.Resources {
			if strings.Contains(r.Name, "/") { // subresource
				continue
			}
			res := APIResource{GroupVersion: v.name, Kind: r.Kind, Name: r.Name, Namespaced: r.Namespaced, Verbs: r.Verbs}
			d.byKind[v.name+" "+r.Kind] = res
			if v.preferred {
				d.Preferred = append(d.Preferred, res)
			}
		}
	}
	return d, nil
}

// notInventory are resource types that say nothing about what a program
// created and change on their own: events, leases (the API server's identity
// heartbeat) and the legacy componentstatuses.
var notInventory = map[string]bool{
	"v1 events":                          true,
	"events.k8s.io/v1 events":            true,
	"coordination.k8s.io/v1 leases":      true,
	"v1 componentstatuses":               true,
	"coordination.k8s.io/v1beta1 leases": true,
}

// Inventory lists every object the API server holds, as
// "groupVersion/resource namespace/name" (namespace "-" for cluster-scoped
// objects), except the types in notInventory. Comparing the inventory before
// up and after destroy shows what destroy left behind (CRDs, cluster roles,
// webhooks, objects in kube-system) and what it deleted that it never owned.
func (k *KubeAPI) Inventory(ctx context.Context) ([]string, error) {
	d, err := k.Discover(ctx)
	if err != nil {
		return nil, err
	}
	var errs []error
	for gv, err := range d.Failed {
		errs = append(errs, fmt.Errorf("discovery of %s: %w", gv, err))
	}
	var out []string
	for _, r := range d.Preferred {
		if !r.can("list") || notInventory[r.GroupVersion+" "+r.Name] {
			continue
		}
		items, err := k.List(ctx, r.Path("", ""))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, it := range items {
			ns := it.String("metadata", "namespace")
			if ns == "" {
				ns = "-"
			}
			out = append(out, r.GroupVersion+"/"+r.Name+" "+ns+"/"+it.String("metadata", "name"))
		}
	}
	sort.Strings(out)
	return out, errors.Join(errs...)
}

// namespaceEmpty reports whether ns holds no objects of any listable
// namespaced type (events aside; kube-root-ca.crt tolerated), which is when
// the namespace controller would finalize it. Types whose discovery fails are
// skipped, as the namespace controller skips them after reporting.
func namespaceEmpty(api *KubeAPI) func(ctx context.Context, ns string) bool {
	return func(ctx context.Context, ns string) bool {
		d, err := api.Discover(ctx)
		if err != nil {
			return false
		}
		for _, r := range d.Preferred {
			if !r.Namespaced || !r.can("list") || notInventory[r.GroupVersion+" "+r.Name] {
				continue
			}
			items, err := api.List(ctx, r.Path(ns, ""))
			if err != nil {
				return false
			}
			for _, it := range items {
				// kube-root-ca.crt is published by a controller that does not run
				// here; tolerate it should it exist anyway.
				if !(r.Name == "configmaps" && it.String("metadata", "name") == "kube-root-ca.crt") {
					return false
				}
			}
		}
		return true
	}
}

// diffSorted returns what is only in a and what is only in b (both sorted).
func diffSorted(a, b []string) (onlyA, onlyB []string) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			onlyA = append(onlyA, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			onlyB = append(onlyB, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return onlyA, onlyB
}

// inventoryPath is the API path of an Inventory entry.
func inventoryPath(entry string) (string, error) {
	typ, obj, ok := strings.Cut(entry, " ")
	ns, name, ok2 := strings.Cut(obj, "/")
	i := strings.LastIndex(typ, "/")
	if !ok || !ok2 || i < 0 {
		return "", fmt.Errorf("not an inventory entry: %q", entry)
	}
	r := APIResource{GroupVersion: typ[:i], Name: typ[i+1:], Namespaced: ns != "-"}
	return r.Path(ns, name), nil
}

// DeleteInventory deletes the objects of Inventory entries, e.g. what a
// destroy left behind, so that the next scenario starts from a clean API
// server. Already gone is fine.
func (k *KubeAPI) DeleteInventory(ctx context.Context, entries []string) error {
	var errs []error
	for _, e := range entries {
		path, err := inventoryPath(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := k.do(ctx, http.MethodDelete, path, nil, nil); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
