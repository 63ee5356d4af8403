package report

import (
	"fmt"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

type column struct {
	header string
	cell   func(Result) string
}

// columns is the one list both tables print, in order.
var columns = []column{
	{"scenario", func(r Result) string { return r.Name }},
	{"signal", func(r Result) string { return r.Signal }},
	{"objective", func(r Result) string { return latency(r.Objective) }},
	{"p50", func(r Result) string { return latency(r.P50) }},
	{"p95", func(r Result) string { return latency(r.P95) }},
	{"p99", func(r Result) string { return latency(r.P99) }},
	{"over", func(r Result) string { return fmt.Sprintf("%.1f%%", 100*r.ShareOver) }},
	{"requests", func(r Result) string { return fmt.Sprint(r.Requests) }},
	{"failed", func(r Result) string { return fmt.Sprint(r.Requests - r.Served) }},
	{"max replicas", func(r Result) string { return fmt.Sprint(peak(r.Replicas)) }},
	{"dir changes", func(r Result) string { return fmt.Sprint(r.DirectionChanges) }},
	{"recovery", func(r Result) string {
		switch {
		case r.Held:
			return "held"
		case !r.Recovered:
			return "never"
		}
		return r.Recovery.Round(time.Second).String()
	}},
	{"max nodes", func(r Result) string { return fmt.Sprint(peak(r.Nodes)) }},
	{"node-h", func(r Result) string { return fmt.Sprintf("%.2f", r.NodeHours) }},
	{"oracle node-h", func(r Result) string { return fmt.Sprintf("%.2f", r.OracleNodeHours) }},
	{"ratio", func(r Result) string {
		if math.IsNaN(r.NodeHoursRatio) {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", r.NodeHoursRatio)
	}},
	{"cost", func(r Result) string { return fmt.Sprintf("$%.2f", r.Cost) }},
	{"nodes at end", func(r Result) string { return fmt.Sprint(r.NodesAtEnd) }},
}

// latency rounds to 0.1 ms below a second and to 10 ms above.
func latency(d time.Duration) string {
	if d >= time.Second {
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(100 * time.Microsecond).String()
}

func peak(points []Point) int {
	m := 0
	for _, p := range points {
		m = max(m, p.Value)
	}
	return m
}

// wakeColumns are the scale-to-zero figures, for results with a Wake.
var wakeColumns = []column{
	{"scenario", func(r Result) string { return r.Name }},
	{"signal", func(r Result) string { return r.Signal }},
	{"replicas at end", func(r Result) string { return fmt.Sprint(r.ReplicasAtEnd) }},
	{"nodes at end", func(r Result) string { return fmt.Sprint(r.NodesAtEnd) }},
	{"first call after idle", func(r Result) string { return wakeCell(r, func(w Wake) string { return minutes(w.From) }) }},
	{"first served", func(r Result) string {
		return wakeCell(r, func(w Wake) string {
			if !w.Served {
				return "never"
			}
			return minutes(w.To)
		})
	}},
	{"wake", func(r Result) string {
		return wakeCell(r, func(w Wake) string {
			if !w.Served {
				return "never"
			}
			return w.Latency.Round(time.Second).String()
		})
	}},
	{"bound", func(r Result) string {
		return wakeCell(r, func(w Wake) string { return w.Bound.Round(time.Second).String() })
	}},
	{"within", func(r Result) string {
		return wakeCell(r, func(w Wake) string {
			if w.Within() {
				return "yes"
			}
			return "no"
		})
	}},
	{"answered 503 meanwhile", func(r Result) string { return wakeCell(r, func(w Wake) string { return fmt.Sprint(w.Answered) }) }},
}

// wakeCell is "-" for a run that never refused a request (nothing to wake).
func wakeCell(r Result, f func(Wake) string) string {
	if r.Wake == nil || !r.Wake.Refused {
		return "-"
	}
	return f(*r.Wake)
}

func minutes(d time.Duration) string { return fmt.Sprintf("%.1fm", d.Minutes()) }

func rows(cols []column, results []Result) [][]string {
	out := [][]string{make([]string, len(cols))}
	for i, c := range cols {
		out[0][i] = c.header
	}
	for _, r := range results {
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = c.cell(r)
		}
		out = append(out, row)
	}
	return out
}

// Table is a fixed-width text table, one row per result in the order given
// (one scenario with one signal each).
func Table(results []Result) string { return table(columns, results) }

// WakeTable is the scale-to-zero figures of the results with a Wake
// (Scenario.WakeBound), as a fixed-width text table; "" for none.
func WakeTable(results []Result) string {
	if w := withWake(results); len(w) > 0 {
		return table(wakeColumns, w)
	}
	return ""
}

// WakeMarkdown is WakeTable in Markdown.
func WakeMarkdown(results []Result) string {
	if w := withWake(results); len(w) > 0 {
		return markdown(wakeColumns, w)
	}
	return ""
}

func withWake(results []Result) []Result {
	var out []Result
	for _, r := range results {
		if r.Wake != nil {
			out = append(out, r)
		}
	}
	return out
}

func table(cols []column, results []Result) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, row := range rows(cols, results) {
		fmt.Fprintln(w, strings.Join(row, "\t"))
	}
	w.Flush()
	// tabwriter pads the last column too; trim trailing blanks.
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n") + "\n"
}

// Markdown is the same table in Markdown, for docs.
func Markdown(results []Result) string { return markdown(columns, results) }

func markdown(cols []column, results []Result) string {
	var b strings.Builder
	for i, row := range rows(cols, results) {
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
		if i == 0 {
			b.WriteString("|" + strings.Repeat(" --- |", len(row)) + "\n")
		}
	}
	return b.String()
}
