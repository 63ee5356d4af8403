package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aiplatform/infra/cost"
	"github.com/aiplatform/infra/tests/estimate"
)

// costFlags select and tune the cost estimate. The assumption flags
// (cost.AssumptionKeys) override the stack's aiplatform-cost config, which
// overrides cost.DefaultAssumptions.
type costFlags struct {
	cost, diff bool
	format     string
	at         string
	base, head string
	// overrides are the assumption flags given, in order: flag, key, value.
	overrides [][3]string
}

func registerCostFlags(fs *flag.FlagSet) *costFlags {
	c := &costFlags{}
	fs.BoolVar(&c.cost, "cost", false, "print the cost estimate of the stack instead of the plan")
	fs.StringVar(&c.format, "format", "text", "with -cost: text or json (the input of -cost-diff)")
	fs.StringVar(&c.at, "at", "", "with -cost: pricing date YYYY-MM-DD; decides standard or extended EKS support (default today)")
	fs.BoolVar(&c.diff, "cost-diff", false, "print the monthly difference per resource between -base and -head (-cost -format json files) as Markdown")
	fs.StringVar(&c.base, "base", "", "with -cost-diff: estimate JSON of the base commit")
	fs.StringVar(&c.head, "head", "", "with -cost-diff: estimate JSON of the head commit")
	for _, k := range cost.AssumptionKeys {
		fs.Func(k.Flag, "with -cost: "+k.Usage+" (config aiplatform-cost:"+k.Key+")", func(v string) error {
			c.overrides = append(c.overrides, [3]string{k.Flag, k.Key, v})
			return nil
		})
	}
	return c
}

func runCost(w io.Writer, dir, stack string, c *costFlags) error {
	at := time.Now().UTC()
	if c.at != "" {
		t, err := time.Parse(time.DateOnly, c.at)
		if err != nil {
			return fmt.Errorf("-at: %q is not a date like 2026-11-25", c.at)
		}
		at = t
	}
	if c.format != "text" && c.format != "json" {
		return fmt.Errorf("-format: %q is not text or json", c.format)
	}
	inv, assumptions, err := estimate.Stack(dir, stack, at)
	if err != nil {
		return err
	}
	for _, o := range c.overrides {
		if err := assumptions.Set(o[1], o[2]); err != nil {
			return fmt.Errorf("-%s: %w", o[0], err)
		}
	}
	e, err := cost.Prices.Price(inv, assumptions)
	if err != nil {
		return fmt.Errorf("pricing stack %s: %w", stack, err)
	}
	if c.format == "json" {
		return e.WriteJSON(w)
	}
	return e.WriteText(w)
}

func runCostDiff(w io.Writer, c *costFlags) error {
	if c.base == "" || c.head == "" {
		return fmt.Errorf("-cost-diff needs -base and -head (files written by -cost -format json)")
	}
	read := func(name string) (cost.Estimate, error) {
		f, err := os.Open(name)
		if err != nil {
			return cost.Estimate{}, err
		}
		defer f.Close()
		e, err := cost.ReadJSON(f)
		if err != nil {
			return cost.Estimate{}, fmt.Errorf("%s: %w", name, err)
		}
		return e, nil
	}
	base, err := read(c.base)
	if err != nil {
		return err
	}
	head, err := read(c.head)
	if err != nil {
		return err
	}
	return cost.WriteDiffMarkdown(w, base, head)
}
