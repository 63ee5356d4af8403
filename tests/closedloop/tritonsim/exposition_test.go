package tritonsim

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// exposition is a parsed Prometheus text exposition (format 0.0.4).
type exposition struct {
	types   map[string]string
	help    map[string]string
	order   []string
	samples map[string]float64 // by seriesKey
	labels  map[string][]map[string]string
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// parseExposition parses strictly: every family has # HELP then # TYPE
// (counter or gauge) before its samples, samples belong to the family just
// declared, labels are unique and sorted by name (prometheus-cpp keeps them
// in a std::map), no series repeats, counters are non-negative integers
// (Triton's counters count requests and whole microseconds).
func parseExposition(text string) (*exposition, error) { return parseExpositionWith(text, true) }

// parseExpositionWith parses as parseExposition, with fractional counters
// allowed unless wholeCounters (Config.CounterScale divides them).
func parseExpositionWith(text string, wholeCounters bool) (*exposition, error) {
	e := &exposition{types: map[string]string{}, help: map[string]string{}, samples: map[string]float64{}, labels: map[string][]map[string]string{}}
	if !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("exposition must end with a newline")
	}
	current := ""
	for n, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		where := fmt.Sprintf("line %d %q", n+1, line)
		switch {
		case line == "":
			return nil, fmt.Errorf("%s: empty line", where)
		case strings.HasPrefix(line, "# HELP "):
			name, help, ok := strings.Cut(strings.TrimPrefix(line, "# HELP "), " ")
			if !ok || !metricName.MatchString(name) || help == "" {
				return nil, fmt.Errorf("%s: want # HELP <name> <text>", where)
			}
			if _, seen := e.help[name]; seen {
				return nil, fmt.Errorf("%s: family %s declared twice", where, name)
			}
			e.help[name] = help
			e.order = append(e.order, name)
			current = ""
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(strings.TrimPrefix(line, "# TYPE "))
			if len(f) != 2 || (f[1] != TypeCounter && f[1] != TypeGauge) {
				return nil, fmt.Errorf("%s: want # TYPE <name> counter|gauge", where)
			}
			if len(e.order) == 0 || e.order[len(e.order)-1] != f[0] || e.types[f[0]] != "" {
				return nil, fmt.Errorf("%s: # TYPE must follow its family's # HELP, once", where)
			}
			e.types[f[0]] = f[1]
			current = f[0]
		case strings.HasPrefix(line, "#"):
			return nil, fmt.Errorf("%s: unexpected comment", where)
		default:
			name, labels, value, err := parseSample(line)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			if name != current {
				return nil, fmt.Errorf("%s: sample of %s outside its family (current %q)", where, name, current)
			}
			key := seriesKey(name, labels)
			if _, dup := e.samples[key]; dup {
				return nil, fmt.Errorf("%s: series repeated", where)
			}
			if e.types[name] == TypeCounter && (value < 0 || (wholeCounters && value != math.Trunc(value))) {
				return nil, fmt.Errorf("%s: counter must be a non-negative integer", where)
			}
			e.samples[key] = value
			e.labels[name] = append(e.labels[name], labels)
		}
	}
	for _, name := range e.order {
		if e.types[name] == "" {
			return nil, fmt.Errorf("family %s has no # TYPE", name)
		}
	}
	return e, nil
}

func parseSample(line string) (string, map[string]string, float64, error) {
	open := strings.IndexByte(line, '{')
	if open < 0 {
		return "", nil, 0, fmt.Errorf("want name{labels} value (Triton always labels model and version)")
	}
	name := line[:open]
	if !metricName.MatchString(name) {
		return "", nil, 0, fmt.Errorf("bad metric name %q", name)
	}
	rest := line[open+1:]
	labels := map[string]string{}
	var names []string
	for {
		eq := strings.Index(rest, `="`)
		if eq < 0 {
			return "", nil, 0, fmt.Errorf("want label=\"value\"")
		}
		ln := rest[:eq]
		if !labelName.MatchString(ln) {
			return "", nil, 0, fmt.Errorf("bad label name %q", ln)
		}
		rest = rest[eq+2:]
		var v strings.Builder
		i := 0
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' {
				i++
				if i == len(rest) {
					return "", nil, 0, fmt.Errorf("unterminated escape")
				}
				switch rest[i] {
				case '\\', '"':
					v.WriteByte(rest[i])
				case 'n':
					v.WriteByte('\n')
				default:
					return "", nil, 0, fmt.Errorf("bad escape \\%c", rest[i])
				}
				continue
			}
			v.WriteByte(rest[i])
		}
		if i == len(rest) {
			return "", nil, 0, fmt.Errorf("unterminated label value")
		}
		if _, dup := labels[ln]; dup {
			return "", nil, 0, fmt.Errorf("label %s repeated", ln)
		}
		labels[ln] = v.String()
		names = append(names, ln)
		rest = rest[i+1:]
		if strings.HasPrefix(rest, ",") {
			rest = rest[1:]
			continue
		}
		if !strings.HasPrefix(rest, "} ") {
			return "", nil, 0, fmt.Errorf("want , or } after a label")
		}
		rest = rest[2:]
		break
	}
	if !slices.IsSorted(names) {
		return "", nil, 0, fmt.Errorf("labels %v not sorted by name", names)
	}
	if strings.ContainsAny(rest, " \t") {
		return "", nil, 0, fmt.Errorf("want one value and no timestamp, got %q", rest)
	}
	v, err := strconv.ParseFloat(rest, 64)
	if err != nil {
		return "", nil, 0, fmt.Errorf("bad value %q", rest)
	}
	return name, labels, v, nil
}

// seriesKey is name{k="v",...} with labels sorted, the parser's series id.
func seriesKey(name string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, labels[k])
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

func TestParseExpositionRejectsMalformed(t *testing.T) {
	ok := "# HELP a_total help\n# TYPE a_total counter\na_total{model=\"m\",version=\"1\"} 3\n"
	if _, err := parseExposition(ok); err != nil {
		t.Fatalf("well-formed exposition rejected: %v", err)
	}
	for _, tc := range []struct{ name, text, want string }{
		{"no newline", strings.TrimSuffix(ok, "\n"), "newline"},
		{"type before help", "# TYPE a counter\n# HELP a h\n", "must follow"},
		{"unknown type", "# HELP a h\n# TYPE a summary\n", "counter|gauge"},
		{"sample outside family", "# HELP a h\n# TYPE a counter\nb{model=\"m\"} 1\n", "outside its family"},
		{"unsorted labels", "# HELP a h\n# TYPE a counter\na{version=\"1\",model=\"m\"} 1\n", "not sorted"},
		{"duplicate series", "# HELP a h\n# TYPE a counter\na{model=\"m\"} 1\na{model=\"m\"} 2\n", "repeated"},
		{"fractional counter", "# HELP a h\n# TYPE a counter\na{model=\"m\"} 1.5\n", "integer"},
		{"timestamp", "# HELP a h\n# TYPE a gauge\na{model=\"m\"} 1 1700000000\n", "no timestamp"},
		{"unterminated label", "# HELP a h\n# TYPE a gauge\na{model=\"m} 1\n", "unterminated"},
		{"no labels", "# HELP a h\n# TYPE a gauge\na 1\n", "name{labels}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseExposition(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
