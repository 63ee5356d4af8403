// Package promqltests parses and evaluates the platform's PromQL
// (workloads/observability) with Prometheus's own parser, TSDB and engine.
// It is a separate module so Prometheus stays out of the main module.
package promqltests

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/teststorage"
)

const tritonNamespace = "triton"

// epoch is t=0 of the recorded scrapes and of promqltest's load commands.
var epoch = time.Unix(0, 0).UTC()

// promParser is the parser Prometheus itself uses for rules (no experimental
// functions: the rules must run on a stock server).
var promParser = parser.NewParser(parser.Options{})

var scrapeLine = regexp.MustCompile(`^# SCRAPE pod=(\S+) instance=(\S+) t=(\d+)s$`)

// loadScrapes appends every scrape in a recorded file to a fresh TSDB, with
// the target labels a ServiceMonitor on Triton's metrics port would add.
func loadScrapes(t *testing.T, path string) storage.Storage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st := teststorage.New(t)
	app := st.Appender(context.Background())
	var block strings.Builder
	var target []string
	flush := func() {
		if target == nil {
			return
		}
		var sec int
		fmt.Sscan(target[2], &sec)
		appendScrape(t, app, block.String(), epoch.Add(time.Duration(sec)*time.Second), labels.FromStrings(
			"namespace", tritonNamespace, "pod", target[0], "instance", target[1], "job", "triton", "container", "triton"))
		block.Reset()
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := scrapeLine.FindStringSubmatch(sc.Text()); m != nil {
			flush()
			target = m[1:]
			continue
		}
		block.WriteString(sc.Text() + "\n")
	}
	flush()
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return st
}

func appendScrape(t *testing.T, app storage.Appender, text string, ts time.Time, target labels.Labels) {
	t.Helper()
	tp := expfmt.NewTextParser(model.UTF8Validation)
	families, err := tp.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("scrape at %v: %v", ts, err)
	}
	for name, fam := range families {
		for _, m := range fam.GetMetric() {
			b := labels.NewBuilder(target)
			b.Set(labels.MetricName, name)
			for _, lp := range m.GetLabel() {
				b.Set(lp.GetName(), lp.GetValue())
			}
			var v float64
			switch {
			case m.Counter != nil:
				v = m.GetCounter().GetValue()
			case m.Gauge != nil:
				v = m.GetGauge().GetValue()
			default:
				t.Fatalf("%s: only counters and gauges are recorded", name)
			}
			if _, err := app.Append(0, b.Labels(), ts.UnixMilli(), v); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// loadSeries loads promqltest "load" commands (promql/promqltest/README.md).
func loadSeries(t *testing.T, input string) storage.Storage {
	return promqltest.LoadedStorage(t, input)
}

func newEngine(t *testing.T) *promql.Engine {
	return promqltest.NewTestEngineWithOpts(t, promql.EngineOpts{
		MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute, Parser: promParser,
	})
}

// instant evaluates q at ts and returns value by the given label's value.
func instant(t *testing.T, engine *promql.Engine, st storage.Queryable, q string, ts time.Time, by string) map[string]float64 {
	t.Helper()
	query, err := engine.NewInstantQuery(context.Background(), st, nil, q, ts)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer query.Close()
	res := query.Exec(context.Background())
	if res.Err != nil {
		t.Fatalf("%s: %v", q, res.Err)
	}
	vec, err := res.Vector()
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	out := map[string]float64{}
	for _, s := range vec {
		out[s.Metric.Get(by)] = s.F
	}
	return out
}

// instantSeries evaluates q at ts and returns each result series' labels.
func instantSeries(t *testing.T, engine *promql.Engine, st storage.Queryable, q string, ts time.Time) []map[string]string {
	t.Helper()
	query, err := engine.NewInstantQuery(context.Background(), st, nil, q, ts)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer query.Close()
	res := query.Exec(context.Background())
	if res.Err != nil {
		t.Fatalf("%s: %v", q, res.Err)
	}
	vec, err := res.Vector()
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	out := make([]map[string]string, len(vec))
	for i, s := range vec {
		out[i] = s.Metric.Map()
	}
	return out
}
