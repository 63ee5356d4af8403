// Command preview runs the whole program against the Pulumi mocks and prints
// the resources it would create, grouped by component. It needs no AWS
// account, no Pulumi CLI and no network: a newcomer's first look at the plan.
// With -cost it prices what the program registers instead (see cost.go).
//
//	go run ./tests/preview -stack dev
//	go run ./tests/preview -stack dev -cost [-format json]
//	go run ./tests/preview -cost-diff -base base.json -head head.json
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/aiplatform/infra/stacks"
	"github.com/aiplatform/infra/tests/mocks"
)

func main() {
	stack := flag.String("stack", "dev", "stack whose Pulumi.<stack>.yaml config to use")
	dir := flag.String("dir", ".", "project directory holding Pulumi.yaml")
	costFlags := registerCostFlags(flag.CommandLine)
	flag.Parse()
	var err error
	switch {
	case costFlags.diff:
		err = runCostDiff(os.Stdout, costFlags)
	case costFlags.cost:
		err = runCost(os.Stdout, *dir, *stack, costFlags)
	default:
		err = run(os.Stdout, *dir, *stack)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "preview:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, dir, stack string) error {
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
