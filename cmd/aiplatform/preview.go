package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/aiplatform/infra/stacks"
	"github.com/aiplatform/infra/tests/mocks"
)

const previewDoc = `
Prints the resources the program would create for a stack, grouped by
component: the whole program run against the Pulumi mocks (tests/mocks). It
needs no AWS account, no Pulumi CLI and no network: a newcomer's first look
at the plan, and the same validation as "pulumi preview" (a bad config key
fails here first, naming the key).

Input:  <dir>/Pulumi.yaml and <dir>/Pulumi.<stack>.yaml (secret values are
        replaced by placeholders and listed).
Output: the resource tree on stdout, last line "N resources to create."
Exit:   0 printed, 1 the config is invalid or the program failed, 2 usage.`

func init() {
	register("preview", "offline plan of a stack from the Pulumi mocks (no account needed)", runPreview)
}

func runPreview(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("preview", previewDoc, stderr)
	stack := fs.String("stack", "dev", "stack whose Pulumi.<stack>.yaml config to use")
	dir := fs.String("dir", ".", "project directory holding Pulumi.yaml")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	if err := preview(stdout, *dir, *stack); err != nil {
		return fail(stderr, "preview", err)
	}
	return exitOK
}

func preview(w io.Writer, dir, stack string) error {
	cfg, secrets, err := mocks.StackConfig(dir, stack)
	if err != nil {
		return err
	}
	rec, err := mocks.Run(cfg, stacks.Run)
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
	fmt.Fprintf(w, "Offline plan of stack %q: the program run against Pulumi mocks, no cloud calls.\n", stack)
	if len(secrets) > 0 {
		fmt.Fprintf(w, "Secret config values replaced by placeholders: %s\n", strings.Join(secrets, ", "))
	}
	fmt.Fprintln(w)
	var print func(parent string, depth int)
	print = func(parent string, depth int) {
		for _, r := range children[parent] {
			suffix := ""
			if n := countBelow(children, r.URN); n > 0 {
				suffix = fmt.Sprintf("  (%d resources)", n)
			}
			if r.Protect {
				suffix += "  [protected]"
			}
			fmt.Fprintf(w, "%s+ %-60s %s%s\n", strings.Repeat("    ", depth), r.Type, r.Name, suffix)
			print(r.URN, depth+1)
		}
	}
	print("", 0)
	fmt.Fprintf(w, "\n%d resources to create.\n", len(all))
	return nil
}

func countBelow(children map[string][]mocks.Resource, urn string) int {
	n := 0
	for _, c := range children[urn] {
		n += 1 + countBelow(children, c.URN)
	}
	return n
}
