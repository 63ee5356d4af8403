package stacks

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Source is where raw stack config comes from: key (without the project
// namespace) to the string the CLI stores; objects and arrays are JSON.
// Keeping it an interface makes parsing a pure function that tests and the
// fuzzer drive with a map.
type Source interface {
	Get(key string) (string, bool)
}

// MapSource is a Source over a map, for tests and tools.
type MapSource map[string]string

// Get implements Source.
func (m MapSource) Get(key string) (string, bool) {
	v, ok := m[key]
	return v, ok
}

// reader collects parse errors so one run reports every bad key at once.
type reader struct {
	src  Source
	errs []error
}

func (r *reader) fail(key, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s:%s: %s", Project, key, fmt.Sprintf(format, args...)))
}

func (r *reader) str(key string, into *string) {
	if v, ok := r.src.Get(key); ok {
		*into = strings.TrimSpace(v)
	}
}

func (r *reader) integer(key string, into *int) {
	v, ok := r.src.Get(key)
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
	v, ok := r.src.Get(key)
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
	v, ok := r.src.Get(key)
	if !ok {
		return
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
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
		if _, ok := r.src.Get(key); ok {
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
