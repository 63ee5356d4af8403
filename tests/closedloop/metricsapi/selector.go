package metricsapi

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// labelRequirement is one term of a Kubernetes label selector
// (k8s.io/apimachinery pkg/labels/selector.go): =, ==, !=, in, notin,
// exists (key) and does-not-exist (!key).
type labelRequirement struct {
	key    string
	op     string // "in", "notin", "exists", "!"
	values []string
}

// The term forms, with label key and value syntax
// (k8s.io/apimachinery pkg/util/validation: keys are an optional DNS
// prefix and a name of [A-Za-z0-9_.-]; values the same characters).
var (
	setTerm      = regexp.MustCompile(`^([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([A-Za-z0-9_.,\s-]*)\)$`)
	equalityTerm = regexp.MustCompile(`^([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)$`)
	existsTerm   = regexp.MustCompile(`^(!?)\s*([A-Za-z0-9_./-]+)$`)
)

// parseLabelSelector reads the string form the HPA sends
// (labels.Selector.String()). The empty selector selects everything.
func parseLabelSelector(s string) ([]labelRequirement, error) {
	var reqs []labelRequirement
	for _, term := range splitTopLevel(s) {
		term = strings.TrimSpace(term)
		if term == "" {
			if strings.TrimSpace(s) == "" {
				return nil, nil
			}
			return nil, fmt.Errorf("labelSelector %q: empty term", s)
		}
		switch {
		case setTerm.MatchString(term):
			m := setTerm.FindStringSubmatch(term)
			var values []string
			for _, v := range strings.Split(m[3], ",") {
				values = append(values, strings.TrimSpace(v))
			}
			reqs = append(reqs, labelRequirement{key: m[1], op: m[2], values: values})
		case equalityTerm.MatchString(term):
			m := equalityTerm.FindStringSubmatch(term)
			op := "in"
			if m[2] == "!=" {
				op = "notin"
			}
			reqs = append(reqs, labelRequirement{key: m[1], op: op, values: []string{m[3]}})
		case existsTerm.MatchString(term):
			m := existsTerm.FindStringSubmatch(term)
			op := "exists"
			if m[1] == "!" {
				op = "!"
			}
			reqs = append(reqs, labelRequirement{key: m[2], op: op})
		default:
			return nil, fmt.Errorf("labelSelector %q: term %q is not key, !key, key=value, key==value, key!=value, key in (v1,v2) or key notin (v1,v2)", s, term)
		}
	}
	return reqs, nil
}

// splitTopLevel splits on the commas outside parentheses.
func splitTopLevel(s string) []string {
	var terms []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				terms = append(terms, s[start:i])
				start = i + 1
			}
		}
	}
	return append(terms, s[start:])
}

// matchLabels is labels.Selector.Matches: notin and != also match a
// missing key.
func matchLabels(reqs []labelRequirement, labels map[string]string) bool {
	for _, r := range reqs {
		v, has := labels[r.key]
		switch r.op {
		case "exists":
			if !has {
				return false
			}
		case "!":
			if has {
				return false
			}
		case "in":
			if !has || !slices.Contains(r.values, v) {
				return false
			}
		case "notin":
			if has && slices.Contains(r.values, v) {
				return false
			}
		}
	}
	return true
}
