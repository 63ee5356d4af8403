package metricsapi

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aiplatform/infra/tests/closedloop/cluster"
)

// promDuration is Prometheus' duration syntax (prometheus/common
// model/time.go ParseDuration): units y w d h m s ms, largest first, each
// at most once; "0" alone is zero.
var promDuration = regexp.MustCompile(`^(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?$`)

var promUnits = []time.Duration{365 * 24 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute, time.Second, time.Millisecond}

// ParsePromDuration parses a Prometheus duration ("1m30s", "750ms", "1d").
func ParsePromDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	m := promDuration.FindStringSubmatch(s)
	if s == "" || m == nil {
		return 0, fmt.Errorf("%q is not a Prometheus duration (like 30s, 1m30s, 750ms; units y w d h m s ms, largest first)", s)
	}
	var d time.Duration
	for i, u := range promUnits {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.ParseInt(m[i+1], 10, 64)
		if err != nil || n > int64(1<<62)/int64(u) {
			return 0, fmt.Errorf("%q overflows a duration", s)
		}
		d += time.Duration(n) * u
	}
	return d, nil
}

// rangeSelector is a range or subquery window: [5m], [5m:30s], [5m:];
// outside string literals PromQL has no other brackets.
var rangeSelector = regexp.MustCompile(`\[([^\[\]]*)\]`)

// offsetModifier is "offset 5m" (or "offset -5m"); the digit keeps a
// label named offset in by (offset) out.
var offsetModifier = regexp.MustCompile(`\boffset(\s+)(-?)([0-9][0-9a-z]*)`)

// CompressPromQL divides every time window of a PromQL expression by f:
// range selectors [5m], subquery ranges and steps [5m:30s], and offset
// modifiers, leaving string literals (label values, regexes) alone. The
// result is cluster.Compress (whole milliseconds, at least 1ms) formatted
// with cluster.FormatPromDuration. A window that is not a Prometheus
// duration is an error.
func CompressPromQL(q string, f float64) (string, error) {
	if err := checkFactor("compression", f); err != nil {
		return "", err
	}
	var out strings.Builder
	var firstErr error
	compress := func(s string) string {
		if firstErr != nil {
			return s
		}
		d, err := ParsePromDuration(s)
		if err != nil {
			firstErr = fmt.Errorf("time window in %q: %w", q, err)
			return s
		}
		return cluster.FormatPromDuration(cluster.Compress(d, f))
	}
	for _, seg := range splitStrings(q) {
		if seg.literal {
			out.WriteString(seg.text)
			continue
		}
		text := rangeSelector.ReplaceAllStringFunc(seg.text, func(m string) string {
			rng, step, subquery := strings.Cut(m[1:len(m)-1], ":")
			rng = compress(strings.TrimSpace(rng))
			if !subquery {
				return "[" + rng + "]"
			}
			if step = strings.TrimSpace(step); step != "" { // empty: the default step
				step = compress(step)
			}
			return "[" + rng + ":" + step + "]"
		})
		text = offsetModifier.ReplaceAllStringFunc(text, func(m string) string {
			sub := offsetModifier.FindStringSubmatch(m)
			return "offset" + sub[1] + sub[2] + compress(sub[3])
		})
		out.WriteString(text)
	}
	if firstErr != nil {
		return "", firstErr
	}
	return out.String(), nil
}

type segment struct {
	text    string
	literal bool
}

// splitStrings cuts a PromQL expression into code and string literals
// ("...", '...' with backslash escapes, `...` raw).
func splitStrings(q string) []segment {
	var segs []segment
	start := 0
	for i := 0; i < len(q); i++ {
		quote := q[i]
		if quote != '"' && quote != '\'' && quote != '`' {
			continue
		}
		j := i + 1
		for j < len(q) && q[j] != quote {
			if q[j] == '\\' && quote != '`' {
				j++
			}
			j++
		}
		if j >= len(q) {
			j = len(q) - 1 // unterminated: the rest is the literal
		}
		segs = append(segs, segment{text: q[start:i]}, segment{text: q[i : j+1], literal: true})
		start, i = j+1, j
	}
	return append(segs, segment{text: q[start:]})
}

// checkFactor rejects what cluster.Compress would panic on.
func checkFactor(field string, f float64) error {
	if !(f > 0) || math.IsInf(f, 1) {
		return fmt.Errorf("%s: must be a finite number > 0 (1 = real time), got %v", field, f)
	}
	return nil
}
