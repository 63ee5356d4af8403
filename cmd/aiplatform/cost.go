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

const costDoc = `
Prices what the program registers for a stack (run under the Pulumi mocks,
as "preview" does) from the dated price table in cost/: the monthly cost per
resource and in total. The assumption flags override the stack's
aiplatform-cost: config, which overrides the defaults (docs/cost.md).

Input:  <dir>/Pulumi.yaml and <dir>/Pulumi.<stack>.yaml.
Output: a table on stdout (last line "TOTAL …"), or with -format json the
        estimate that "cost-diff" reads.
Exit:   0 printed, 1 the config is invalid, an assumption is not a number or
        a resource has no price row, 2 usage.`

const costDiffDoc = `
Prints the monthly difference per resource between two estimates as
Markdown, for the PR comment (.github/scripts/cost-diff.sh).

Input:  -base and -head, files written by "cost -format json".
Output: Markdown on stdout.
Exit:   0 printed, 1 a file is missing or not an estimate, 2 usage.`

func init() {
	register("cost", "monthly cost estimate of a stack, priced from the program itself", runCostCommand)
	register("cost-diff", "monthly cost difference between two estimates, as Markdown", runCostDiffCommand)
}

// costFlags tune the cost estimate. The assumption flags
// (cost.AssumptionKeys) override the stack's aiplatform-cost config, which
// overrides cost.DefaultAssumptions.
type costFlags struct {
	format string
	at     string
	// overrides are the assumption flags given, in order: flag, key, value.
	overrides [][3]string
}

func registerCostFlags(fs *flag.FlagSet) *costFlags {
	c := &costFlags{}
	fs.StringVar(&c.format, "format", "text", "text or json (the input of cost-diff)")
	fs.StringVar(&c.at, "at", "", "pricing date YYYY-MM-DD; decides standard or extended EKS support (default today)")
	for _, k := range cost.AssumptionKeys {
		fs.Func(k.Flag, k.Usage+" (config aiplatform-cost:"+k.Key+")", func(v string) error {
			c.overrides = append(c.overrides, [3]string{k.Flag, k.Key, v})
			return nil
		})
	}
	return c
}

func runCostCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("cost", costDoc, stderr)
	stack := fs.String("stack", "dev", "stack whose Pulumi.<stack>.yaml config to use")
	dir := fs.String("dir", ".", "project directory holding Pulumi.yaml")
	c := registerCostFlags(fs)
	if code := parse(fs, args); code >= 0 {
		return code
	}
	if err := runCost(stdout, *dir, *stack, c); err != nil {
		return fail(stderr, "cost", err)
	}
	return exitOK
}

func runCostDiffCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("cost-diff", costDiffDoc, stderr)
	base := fs.String("base", "", "estimate JSON of the base commit (required)")
	head := fs.String("head", "", "estimate JSON of the head commit (required)")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	if *base == "" || *head == "" {
		fmt.Fprintln(stderr, "aiplatform cost-diff: needs -base and -head (files written by cost -format json)")
		return exitUsage
	}
	if err := runCostDiff(stdout, *base, *head); err != nil {
		return fail(stderr, "cost-diff", err)
	}
	return exitOK
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

func runCostDiff(w io.Writer, baseFile, headFile string) error {
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
	base, err := read(baseFile)
	if err != nil {
		return err
	}
	head, err := read(headFile)
	if err != nil {
		return err
	}
	return cost.WriteDiffMarkdown(w, base, head)
}
