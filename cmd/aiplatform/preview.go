package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/aiplatform/infra/stacks"
	"github.com/aiplatform/infra/tests/mocks"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

const previewDoc = `
Prints the resources the program would create for a stack, grouped by
component: the whole program run as a preview (ctx.DryRun, as "pulumi
preview" runs it) against the Pulumi mocks (tests/mocks). It needs no AWS
account, no Pulumi CLI and no network: a newcomer's first look at the plan,
and the same validation as "pulumi preview" (a bad config key fails here
first, naming the key). Values decided during the update show as
"(known after apply)", secrets as "[secret]" (with -details). The children
of pulumi-eks components and of Helm charts are made by their providers at
deploy time and cannot be seen offline: the count says how many such
components there are.

Input:  <dir>/Pulumi.yaml and <dir>/Pulumi.<stack>.yaml (secret values are
        replaced by placeholders and listed).
Output: the resource tree on stdout (-details: with every input), last line
        "N resources to create, not counting the children of M components …".
Exit:   0 printed, 1 the config is invalid or the program failed, 2 usage.`

func init() {
	register("preview", "offline plan of a stack from the Pulumi mocks (no account needed)", runPreview)
}

func runPreview(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("preview", previewDoc, stderr)
	stack := fs.String("stack", "dev", "stack whose Pulumi.<stack>.yaml config to use")
	dir := fs.String("dir", ".", "project directory holding Pulumi.yaml")
	details := fs.Bool("details", false, "print every resource's inputs under it")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	if err := preview(stdout, *dir, *stack, *details); err != nil {
		return fail(stderr, "preview", err)
	}
	return exitOK
}

func preview(w io.Writer, dir, stack string, details bool) error {
	cfg, secrets, err := mocks.StackConfig(dir, stack)
	if err != nil {
		return err
	}
	rec, err := mocks.RunPreview(cfg, stacks.Run)
	if err != nil {
		return err
	}
	all := rec.All()
	children := map[string][]mocks.Resource{}
	known := map[string]bool{}
	for _, r := range all {
		known[r.URN] = true
	}
	for _, r := range all {
		parent := r.Parent
		if !known[parent] {
			parent = ""
		}
		children[parent] = append(children[parent], r)
	}
	for _, list := range children {
		sort.Slice(list, func(i, j int) bool {
			if list[i].Type != list[j].Type {
				return list[i].Type < list[j].Type
			}
			return list[i].Name < list[j].Name
		})
	}
	fmt.Fprintf(w, "Offline preview of stack %q: the program run as a preview against Pulumi mocks, no cloud calls;\nvalues decided during the update are (known after apply).\n", stack)
	if len(secrets) > 0 {
		fmt.Fprintf(w, "Secret config values replaced by placeholders: %s\n", strings.Join(secrets, ", "))
	}
	fmt.Fprintln(w)
	opaque := map[string]int{}
	var print func(parent string, depth int)
	print = func(parent string, depth int) {
		indent := strings.Repeat("    ", depth)
		for _, r := range children[parent] {
			suffix := ""
			if n := countBelow(children, r.URN); n > 0 {
				suffix = fmt.Sprintf("  (%d resources)", n)
			}
			if kind, ok := opaqueComponents[r.Type]; ok {
				opaque[kind]++
				suffix += "  [children made by " + kind + " at deploy: not visible offline]"
			}
			if r.Protect {
				suffix += "  [protected]"
			}
			fmt.Fprintf(w, "%s+ %-60s %s%s\n", indent, r.Type, r.Name, suffix)
			if details {
				printInputs(w, indent+"      ", r.Inputs)
			}
			print(r.URN, depth+1)
		}
	}
	print("", 0)
	names := make([]string, 0, len(opaque))
	for kind := range opaque {
		names = append(names, kind)
	}
	sort.Strings(names)
	var kinds []string
	total := 0
	for _, kind := range names {
		kinds = append(kinds, fmt.Sprintf("%d %s", opaque[kind], kind))
		total += opaque[kind]
	}
	fmt.Fprintf(w, "\n%d resources to create, not counting the children of %d components this offline preview cannot see (%s).\n",
		len(all), total, strings.Join(kinds, ", "))
	return nil
}

// opaqueComponents are the component types whose children their provider
// creates at deploy time (remote components: pulumi-eks's Construct, the
// Kubernetes provider rendering a Helm v4 Chart); the mocks answer them
// without children.
var opaqueComponents = map[string]string{
	"eks:index:Cluster":           "pulumi-eks",
	"eks:index:ManagedNodeGroup":  "pulumi-eks",
	"kubernetes:helm.sh/v4:Chart": "Helm charts",
}

// printInputs prints one input per line, sorted, with unknowns as
// "(known after apply)" and secrets as "[secret]".
func printInputs(w io.Writer, indent string, inputs resource.PropertyMap) {
	for _, k := range inputs.StableKeys() {
		fmt.Fprintf(w, "%s%s: %s\n", indent, k, renderValue(inputs[k]))
	}
}

func renderValue(v resource.PropertyValue) string {
	switch {
	case v.IsComputed(), v.IsOutput() && !v.OutputValue().Known:
		return "(known after apply)"
	case v.IsSecret():
		return "[secret]"
	case v.IsOutput():
		return renderValue(v.OutputValue().Element)
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	case v.IsArray():
		parts := make([]string, 0, len(v.ArrayValue()))
		for _, e := range v.ArrayValue() {
			parts = append(parts, renderValue(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case v.IsObject():
		m := v.ObjectValue()
		parts := make([]string, 0, len(m))
		for _, k := range m.StableKeys() {
			parts = append(parts, string(k)+": "+renderValue(m[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case v.IsString():
		return strconv.Quote(v.StringValue())
	}
	return fmt.Sprint(v.V)
}

func countBelow(children map[string][]mocks.Resource, urn string) int {
	n := 0
	for _, c := range children[urn] {
		n += 1 + countBelow(children, c.URN)
	}
	return n
}
