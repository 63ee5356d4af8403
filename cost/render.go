package cost

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteText renders the estimate as the table the preview prints.
func (e Estimate) WriteText(w io.Writer) error {
	p := &printer{w: w}
	p.f("Cost estimate of stack %q in %s: the program run against Pulumi mocks, priced with the embedded table\n", e.Stack, e.Region)
	p.f("(on-demand and service prices as of %s, spot snapshot %s). Node groups at desired size, %.0f h/month, USD.\n\n", e.PricesAsOf, e.SpotAsOf, e.HoursInMonth)

	rows := [][]string{{"CATEGORY", "RESOURCE", "DETAIL", "HOURLY", "MONTHLY", "ALL ON-DEMAND"}}
	for _, l := range e.sortedLines() {
		rows = append(rows, []string{string(l.Category), l.Resource, l.Detail, fmt.Sprintf("%.4f", l.Hourly), money(l.Monthly), money(l.OnDemandMonthly)})
	}
	rows = append(rows, []string{"TOTAL", "", "", fmt.Sprintf("%.4f", e.Totals.Hourly), money(e.Totals.Monthly), money(e.Totals.OnDemandMonthly)})
	p.table(rows, 3)

	t := e.Totals
	p.f("\nSpot: the stack costs %.1f%% less than the same stack all on-demand (%s/month saved); the spot node groups' instances cost %.1f%% less than on-demand.\n",
		t.SpotSavingPercent, money(t.OnDemandMonthly-t.Monthly), t.SpotNodesSavingPercent)

	if len(e.GPU) > 0 {
		p.f("\nGPU node groups (a node is its instance and its root volume):\n")
		rows := [][]string{{"GROUP", "NODE-HOUR", "MIN", "DESIRED", "MAX", "EXPECTED", "ONE NODE 24/7", "WORKLOAD FLOOR"}}
		for _, s := range e.GPU {
			rows = append(rows, []string{s.Group, fmt.Sprintf("%.4f", s.NodeHourly),
				fmt.Sprintf("%d: %s", s.Min, money(s.MinMonthly)),
				fmt.Sprintf("%d: %s", s.Desired, money(s.DesiredMonthly)),
				fmt.Sprintf("%d: %s", s.Max, money(s.MaxMonthly)),
				fmt.Sprintf("%s h/day: %s", num(s.GPUHoursPerDay), money(s.ExpectedMonthly)),
				money(s.AlwaysOnMonthly),
				fmt.Sprintf("%d: %s", s.FloorNodes, money(s.FloorMonthly))})
		}
		p.table(rows, 1)
		for _, s := range e.GPU {
			if s.Min > 0 {
				p.f("%s does not scale to zero (min %d).\n", s.Group, s.Min)
				continue
			}
			p.f("Scale to zero: at %s node-hours/day %s costs %s/month instead of %s for one node always on (%.1f%% less).\n",
				num(s.GPUHoursPerDay), s.Group, money(s.ExpectedMonthly), money(s.AlwaysOnMonthly), savingPercent(s.ExpectedMonthly, s.AlwaysOnMonthly))
		}
		p.f("Stack total with GPU groups at expected use: %s/month; at the workload floor: %s/month.\n",
			money(t.WithExpectedGPUMonthly), money(t.WithGPUFloorMonthly))
	}

	p.f("\nAssumptions: %s.\n", e.Assumptions.describe())
	if len(e.Notes) > 0 {
		p.f("\nNotes:\n")
		for _, n := range e.Notes {
			p.f("- %s\n", n)
		}
	}
	if len(e.Unpriced) > 0 {
		p.f("\nNot priced (cost money, but the estimate cannot see how much):\n")
		for _, u := range e.Unpriced {
			p.f("- %s: %s\n", u.Name, u.Reason)
		}
	}
	return p.err
}

// WriteJSON renders the estimate for tools and for WriteDiffMarkdown.
func (e Estimate) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(e)
}

// ReadJSON reads an estimate written by WriteJSON.
func ReadJSON(r io.Reader) (Estimate, error) {
	var e Estimate
	// Unknown fields are allowed: the base commit's JSON may come from an
	// older or newer version of this tool.
	if err := json.NewDecoder(r).Decode(&e); err != nil {
		return Estimate{}, fmt.Errorf("reading cost estimate JSON: %w", err)
	}
	if e.Stack == "" || e.Region == "" {
		return Estimate{}, fmt.Errorf("reading cost estimate JSON: no stack or region; is this the output of -cost -format json?")
	}
	return e, nil
}

func (a Assumptions) describe() string {
	roles := make([]string, 0, len(a.BucketGB))
	for role := range a.BucketGB {
		roles = append(roles, role)
	}
	sort.Strings(roles)
	var buckets []string
	for _, role := range roles {
		buckets = append(buckets, fmt.Sprintf("%s %s GB", role, num(a.BucketGB[role])))
	}
	return fmt.Sprintf("NAT data %s GB/month; %s LCU per load balancer; buckets %s; control-plane logs %s GB/month per cluster; GPU groups %s node-hours/day expected; CodeBuild runners %s build-minutes/month",
		num(a.NATDataGBPerMonth), num(a.LCUsPerLoadBalancer), strings.Join(buckets, ", "), num(a.ControlPlaneLogGBPerMonth), num(a.GPUHoursPerDay), num(a.RunnerMinutesPerMonth))
}

// DiffLine is one resource whose monthly cost differs between two estimates.
type DiffLine struct {
	ID       string
	Resource string
	Base     *float64 // nil: the resource is new
	Head     *float64 // nil: the resource is gone
}

// Delta is head − base, counting a missing side as zero.
func (d DiffLine) Delta() float64 {
	var b, h float64
	if d.Base != nil {
		b = *d.Base
	}
	if d.Head != nil {
		h = *d.Head
	}
	return h - b
}

// Diff lists the resources whose monthly cost changed, biggest change first.
func Diff(base, head Estimate) []DiffLine {
	byID := map[string]*DiffLine{}
	var order []string
	for _, side := range []struct {
		lines []Line
		head  bool
	}{{base.Lines, false}, {head.Lines, true}} {
		for _, l := range side.lines {
			d, ok := byID[l.ID]
			if !ok {
				d = &DiffLine{ID: l.ID, Resource: l.Resource}
				byID[l.ID] = d
				order = append(order, l.ID)
			}
			v := l.Monthly
			if side.head {
				d.Head, d.Resource = &v, l.Resource
			} else {
				d.Base = &v
			}
		}
	}
	var out []DiffLine
	for _, id := range order {
		d := *byID[id]
		if d.Base == nil || d.Head == nil || *d.Base != *d.Head {
			out = append(out, d)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		di, dj := abs(out[i].Delta()), abs(out[j].Delta())
		if di != dj {
			return di > dj
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// WriteDiffMarkdown renders the monthly difference per resource for a pull
// request comment.
func WriteDiffMarkdown(w io.Writer, base, head Estimate) error {
	p := &printer{w: w}
	name := head.Stack
	if base.Stack != head.Stack {
		name = base.Stack + " → " + head.Stack
	}
	p.f("### Cost estimate: `%s` (%s)\n\n", name, head.Region)
	bt, ht := base.Totals, head.Totals
	p.f("Monthly, node groups at desired size: **%s → %s** (%s%s).\n", money(bt.Monthly), money(ht.Monthly), signedMoney(ht.Monthly-bt.Monthly), pct(bt.Monthly, ht.Monthly))
	diff := Diff(base, head)
	if len(diff) == 0 {
		p.f("\nNo resource changes its monthly cost.\n")
	} else {
		p.f("\n| resource | base $/month | head $/month | change |\n|---|---:|---:|---:|\n")
		for _, d := range diff {
			p.f("| %s | %s | %s | %s |\n", d.Resource, opt(d.Base), opt(d.Head), signedMoney(d.Delta()))
		}
		p.f("| **total** | **%s** | **%s** | **%s** |\n", money(bt.Monthly), money(ht.Monthly), signedMoney(ht.Monthly-bt.Monthly))
	}
	p.f("\n| also | base | head | change |\n|---|---:|---:|---:|\n")
	p.f("| all on-demand | %s | %s | %s |\n", money(bt.OnDemandMonthly), money(ht.OnDemandMonthly), signedMoney(ht.OnDemandMonthly-bt.OnDemandMonthly))
	p.f("| GPU groups at expected use | %s | %s | %s |\n", money(bt.WithExpectedGPUMonthly), money(ht.WithExpectedGPUMonthly), signedMoney(ht.WithExpectedGPUMonthly-bt.WithExpectedGPUMonthly))
	p.f("| GPU groups at workload floor | %s | %s | %s |\n", money(bt.WithGPUFloorMonthly), money(ht.WithGPUFloorMonthly), signedMoney(ht.WithGPUFloorMonthly-bt.WithGPUFloorMonthly))
	if len(head.Notes) > 0 || len(head.Unpriced) > 0 {
		p.f("\n")
		for _, n := range head.Notes {
			p.f("- %s\n", n)
		}
		for _, u := range head.Unpriced {
			p.f("- Not priced: %s (%s)\n", u.Name, u.Reason)
		}
	}
	p.f("\n<sub>Offline estimate from `go run ./cmd/aiplatform cost` (prices as of %s, spot %s; assumptions: %s). Not a bill: usage-based charges use assumed volumes.</sub>\n",
		head.PricesAsOf, head.SpotAsOf, head.Assumptions.describe())
	return p.err
}

func opt(v *float64) string {
	if v == nil {
		return "—"
	}
	return money(*v)
}

func signedMoney(v float64) string {
	if v > 0 {
		return "+" + money(v)
	}
	if v == 0 {
		return money(0)
	}
	return money(v)
}

func pct(base, head float64) string {
	if base == 0 {
		return ""
	}
	return fmt.Sprintf(", %+.1f%%", 100*(head-base)/base)
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// printer remembers the first write error so renderers stay linear.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.w.Write(b)
	p.err = err
	return n, err
}

func (p *printer) f(format string, args ...any) { fmt.Fprintf(p, format, args...) }

// table prints rows with padded columns; columns from firstNumeric on are
// right-aligned.
func (p *printer) table(rows [][]string, firstNumeric int) {
	widths := map[int]int{}
	for _, r := range rows {
		for i, c := range r {
			if n := len([]rune(c)); n > widths[i] {
				widths[i] = n
			}
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-len([]rune(c)))
			if i > 0 {
				b.WriteString("  ")
			}
			if i >= firstNumeric {
				b.WriteString(pad + c)
			} else if i < len(r)-1 {
				b.WriteString(c + pad)
			} else {
				b.WriteString(c)
			}
		}
		p.f("%s\n", strings.TrimRight(b.String(), " "))
	}
}
