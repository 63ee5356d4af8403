//go:build ignore

// buildsplit prints where `go test ./...` spent its time, from the action
// graph the go command writes with -debug-actiongraph: compiling (ours and
// dependencies'), linking each test binary, and running each package's
// tests. Wall seconds per action; actions overlap on several cores, so the
// columns add up to more than the wall time of the run.
//
//	go test -debug-actiongraph=/tmp/ag.json ./... && go run .ci/buildsplit.go /tmp/ag.json
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

type action struct {
	Mode      string
	Package   string
	TimeStart time.Time
	TimeDone  time.Time
}

const module = "github.com/aiplatform/infra"

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run .ci/buildsplit.go ACTIONGRAPH.json")
		os.Exit(2)
	}
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildsplit:", err)
		os.Exit(1)
	}
	var actions []action
	if err := json.Unmarshal(b, &actions); err != nil {
		fmt.Fprintln(os.Stderr, "buildsplit:", err)
		os.Exit(1)
	}
	var compileOurs, compileDeps, vet float64
	type row struct {
		pkg       string
		link, run float64
	}
	rows := map[string]*row{}
	get := func(p string) *row {
		p = strings.TrimSuffix(p, ".test")
		if rows[p] == nil {
			rows[p] = &row{pkg: p}
		}
		return rows[p]
	}
	for _, a := range actions {
		if a.TimeStart.IsZero() || a.TimeDone.IsZero() {
			continue
		}
		d := a.TimeDone.Sub(a.TimeStart).Seconds()
		switch a.Mode {
		case "build":
			if strings.HasPrefix(a.Package, module) {
				compileOurs += d
			} else {
				compileDeps += d
			}
		case "vet":
			vet += d
		case "link":
			get(a.Package).link += d
		case "test run":
			get(a.Package).run += d
		}
	}
	list := make([]*row, 0, len(rows))
	for _, r := range rows {
		if r.link > 0.05 || r.run > 0.05 {
			list = append(list, r)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].link+list[i].run > list[j].link+list[j].run })
	fmt.Printf("compile: dependencies %.0fs, this module %.0fs; vet (go test's) %.0fs\n", compileDeps, compileOurs, vet)
	fmt.Printf("%8s %8s  %s\n", "link s", "run s", "package")
	var link, run float64
	for _, r := range list {
		fmt.Printf("%8.1f %8.1f  %s\n", r.link, r.run, strings.TrimPrefix(strings.TrimPrefix(r.pkg, module), "/"))
		link += r.link
		run += r.run
	}
	fmt.Printf("%8.1f %8.1f  total\n", link, run)
}
