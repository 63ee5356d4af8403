package metricsapi

import (
	"strings"
	"testing"
	"time"
)

func TestParsePromDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0": 0, "750ms": 750 * time.Millisecond, "15s": 15 * time.Second, "1m30s": 90 * time.Second,
		"2h": 2 * time.Hour, "1d": 24 * time.Hour, "1w": 7 * 24 * time.Hour, "1y": 365 * 24 * time.Hour,
		"1h2m3s4ms": time.Hour + 2*time.Minute + 3*time.Second + 4*time.Millisecond,
	} {
		got, err := ParsePromDuration(in)
		if err != nil || got != want {
			t.Errorf("ParsePromDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1.5m", "30s1m", "15 s", "5x", "-1m", "1M"} {
		if _, err := ParsePromDuration(bad); err == nil || !strings.Contains(err.Error(), "is not a Prometheus duration") {
			t.Errorf("ParsePromDuration(%q): error = %v, want 'is not a Prometheus duration'", bad, err)
		}
	}
}

// Every window divides by the factor; label values and regexes, which may
// hold brackets and the word offset, do not change.
func TestCompressPromQL(t *testing.T) {
	// The program's queue-time rule (signals.perPodRatioRule), rendered.
	queueTime := `sum by (<<.GroupBy>>) (rate(<<.Series>>{<<.LabelMatchers>>}[1m])) / 1e6 / (sum by (<<.GroupBy>>) (rate(nv_inference_request_success{<<.LabelMatchers>>}[1m])) > 0) or sum by (<<.GroupBy>>) (rate(<<.Series>>{<<.LabelMatchers>>}[1m])) * 0`
	for _, tc := range []struct {
		in, want string
		f        float64
	}{
		{queueTime, strings.ReplaceAll(queueTime, "[1m]", "[3s]"), 20},
		{`rate(x[5m])`, `rate(x[15s])`, 20},
		{`rate(x[ 90s ])`, `rate(x[4s500ms])`, 20},
		{`max_over_time(rate(x[5m])[30m:1m])`, `max_over_time(rate(x[15s])[1m30s:3s])`, 20},
		{`max_over_time(x[10m:])`, `max_over_time(x[30s:])`, 20},
		{`x offset 1h`, `x offset 3m`, 20},
		{`x offset -10m`, `x offset -30s`, 20},
		{`sum by (offset) (x)`, `sum by (offset) (x)`, 20},
		{`x{pod=~"triton-[0-9]+", q='[5m]', r=` + "`offset 5m`" + `}[2m]`, `x{pod=~"triton-[0-9]+", q='[5m]', r=` + "`offset 5m`" + `}[6s]`, 20},
		{`x{a="\"[5m]"}[1m]`, `x{a="\"[5m]"}[1m]`, 1},
		{`rate(x[1m])`, `rate(x[1ms])`, 1e9}, // never below Prometheus' 1ms
	} {
		got, err := CompressPromQL(tc.in, tc.f)
		if err != nil || got != tc.want {
			t.Errorf("CompressPromQL(%q, %v) =\n  %q, %v\nwant\n  %q", tc.in, tc.f, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		f    float64
		want string
	}{
		{`rate(x[5 m])`, 20, `"5 m" is not a Prometheus duration`},
		{`rate(x[])`, 20, `"" is not a Prometheus duration`},
		{`rate(x[1m])`, 0, "compression: must be a finite number > 0"},
	} {
		if _, err := CompressPromQL(tc.in, tc.f); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CompressPromQL(%q, %v): error = %v, want one containing %q", tc.in, tc.f, err, tc.want)
		}
	}
}
