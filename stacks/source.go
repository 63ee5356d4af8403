package stacks

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Source is where raw stack config comes from: key (without the project
// namespace) to the string the CLI stores; objects and arrays are JSON.
// Keeping it an interface makes parsing a pure function that tests and the
// fuzzer drive with a map.
type Source interface {
	Get(key string) (string, bool)
	// Keys lists every key of the project namespace that is set (without the
	// namespace), so that keys the program does not read can be reported.
	Keys() []string
}

// MapSource is a Source over a map, for tests and tools. Keys with a
// namespace ("aws:region") belong to other namespaces.
type MapSource map[string]string

// Get implements Source.
func (m MapSource) Get(key string) (string, bool) {
	v, ok := m[key]
	return v, ok
}

// Keys implements Source.
func (m MapSource) Keys() []string {
	var keys []string
	for k := range m {
		if !strings.Contains(k, ":") {
			keys = append(keys, k)
		}
	}
	return keys
}

// reader collects parse errors so one run reports every bad key at once. It
// also records every key it is asked for: the parser's own calls are the
// table of known keys, so a key cannot be parsed without being known.
type reader struct {
	src   Source
	errs  []error
	known map[string]bool
}

// get reads a key and records it as known.
func (r *reader) get(key string) (string, bool) {
	if r.known == nil {
		r.known = map[string]bool{}
	}
	r.known[key] = true
	return r.src.Get(key)
}

// unknownKeys reports every set key the parser never asked for, with the
// closest known key as a suggestion. Call it after every key was read.
func (r *reader) unknownKeys() []error {
	var known []string
	for k := range r.known {
		known = append(known, k)
	}
	return unknownKeyErrors(r.src.Keys(), known)
}

// unknownKeyErrors is the key scanner: for each key in set that is not in
// known, an error naming it and, when one is close enough to be a typo, the
// known key it most likely meant. Output is sorted by key.
func unknownKeyErrors(set, known []string) []error {
	isKnown := make(map[string]bool, len(known))
	for _, k := range known {
		isKnown[k] = true
	}
	sorted := append([]string(nil), set...)
	sort.Strings(sorted)
	var errs []error
	for i, key := range sorted {
		if isKnown[key] || (i > 0 && sorted[i-1] == key) {
			continue
		}
		msg := "unknown key; it is not a setting of this program (see the configuration reference, docs/configure.md)"
		if best := closestKey(key, known); best != "" {
			msg = fmt.Sprintf("unknown key; did you mean %s:%s?", Project, best)
		}
		errs = append(errs, fmt.Errorf("%s:%s: %s", Project, key, msg))
	}
	return errs
}

// closestKey returns the known key nearest to key by edit distance (case
// folded), or "" when none is near enough to be a typo of it: at most a third
// of the key's length, and at least 2 edits allowed. Ties go to the
// alphabetically first key, so the message is stable.
func closestKey(key string, known []string) string {
	best, bestDist := "", -1
	limit := max(2, len([]rune(key))/3)
	for _, k := range known {
		d := editDistance(strings.ToLower(key), strings.ToLower(k))
		if d > limit {
			continue
		}
		if bestDist < 0 || d < bestDist || (d == bestDist && k < best) {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func (r *reader) fail(key, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s:%s: %s", Project, key, fmt.Sprintf(format, args...)))
}

func (r *reader) str(key string, into *string) {
	if v, ok := r.get(key); ok {
		*into = strings.TrimSpace(v)
	}
}

func (r *reader) integer(key string, into *int) {
	v, ok := r.get(key)
	if !ok {
		return
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		r.fail(key, "%q is not a whole number", v)
		return
	}
	*into = n
}

func (r *reader) boolean(key string, into *bool) {
	v, ok := r.get(key)
	if !ok {
		return
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		r.fail(key, "%q is not true or false", v)
		return
	}
	*into = b
}

// object decodes a JSON object or array, rejecting unknown fields so that a
// misspelt setting is an error rather than silently ignored.
func (r *reader) object(key string, into any) {
	v, ok := r.get(key)
	if !ok {
		return
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		if removed := removedKeyError(key, err); removed != nil {
			r.errs = append(r.errs, removed)
			return
		}
		r.fail(key, "cannot parse %s: %v", describeJSON(into), err)
		return
	}
	if dec.More() {
		r.fail(key, "unexpected data after the value")
	}
}

// stringList accepts a JSON array of strings (how the CLI stores --path arrays).
func (r *reader) stringList(key string, into *[]string) {
	var list []string
	before := len(r.errs)
	r.object(key, &list)
	if len(r.errs) == before {
		if _, ok := r.get(key); ok {
			*into = list
		}
	}
}

func describeJSON(v any) string {
	switch v.(type) {
	case *[]string:
		return "a list of strings"
	case *map[string]string:
		return "a map of strings"
	}
	return "the object"
}
