package modelrepo

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// message is a parsed protobuf text-format message: each field name maps to
// its values in order (a repeated field, or a list `[...]`, has several).
// A value is a string (scalars, strings unquoted) or a *message.
type message struct {
	fields map[string][]any
	order  []string
}

func (m *message) add(name string, v any) {
	if m.fields == nil {
		m.fields = map[string][]any{}
	}
	if _, ok := m.fields[name]; !ok {
		m.order = append(m.order, name)
	}
	m.fields[name] = append(m.fields[name], v)
}

// str is the field's first scalar value, "" if unset.
func (m *message) str(name string) string {
	for _, v := range m.fields[name] {
		if s, ok := v.(string); ok {
			return s
		}
	}
	return ""
}

// msgs are the field's message values.
func (m *message) msgs(name string) []*message {
	var out []*message
	for _, v := range m.fields[name] {
		if s, ok := v.(*message); ok {
			out = append(out, s)
		}
	}
	return out
}

// strs are the field's scalar values.
func (m *message) strs(name string) []string {
	var out []string
	for _, v := range m.fields[name] {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

type token struct {
	text   string
	quoted bool
	line   int
}

// tokenize splits protobuf text format (the syntax of Triton's
// config.pbtxt: protobuf's text_format) into tokens; # starts a comment.
func tokenize(src string) ([]token, error) {
	var toks []token
	line := 1
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == ',' || c == ';':
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case strings.IndexByte("{}[]:<>", c) >= 0:
			toks = append(toks, token{text: string(c), line: line})
			i++
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' {
					j++
				}
				if j < len(src) && src[j] == '\n' {
					return nil, fmt.Errorf("line %d: unterminated string", line)
				}
				j++
			}
			if j >= len(src) {
				return nil, fmt.Errorf("line %d: unterminated string", line)
			}
			body := src[i+1 : j]
			if c == '\'' {
				body = strings.ReplaceAll(body, `"`, `\"`)
			}
			s, err := strconv.Unquote(`"` + body + `"`)
			if err != nil {
				s = src[i+1 : j]
			}
			toks = append(toks, token{text: s, quoted: true, line: line})
			i = j + 1
		default:
			j := i
			for j < len(src) && (src[j] == '_' || src[j] == '-' || src[j] == '.' || src[j] == '+' ||
				unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j]))) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("line %d: unexpected character %q", line, c)
			}
			toks = append(toks, token{text: src[i:j], line: line})
			i = j
		}
	}
	return toks, nil
}

// parseText parses protobuf text format into a message tree.
func parseText(src string) (*message, error) {
	toks, err := tokenize(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	m, err := p.fields("")
	if err != nil {
		return nil, err
	}
	return m, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() (token, bool) {
	if p.pos >= len(p.toks) {
		return token{}, false
	}
	return p.toks[p.pos], true
}

func (p *parser) lastLine() int {
	if len(p.toks) == 0 {
		return 1
	}
	return p.toks[len(p.toks)-1].line
}

// fields parses name/value pairs until end (or EOF when end is "").
func (p *parser) fields(end string) (*message, error) {
	m := &message{}
	for {
		t, ok := p.peek()
		if !ok {
			if end != "" {
				return nil, fmt.Errorf("line %d: missing %q", p.lastLine(), end)
			}
			return m, nil
		}
		if !t.quoted && t.text == end {
			p.pos++
			return m, nil
		}
		if t.quoted || !isIdent(t.text) {
			return nil, fmt.Errorf("line %d: expected a field name, got %q", t.line, t.text)
		}
		p.pos++
		name := t.text
		next, ok := p.peek()
		if !ok {
			return nil, fmt.Errorf("line %d: field %s has no value", t.line, name)
		}
		if !next.quoted && next.text == ":" {
			p.pos++
			next, ok = p.peek()
			if !ok {
				return nil, fmt.Errorf("line %d: field %s has no value", t.line, name)
			}
		}
		if !next.quoted && next.text == "[" {
			p.pos++
			if err := p.list(m, name); err != nil {
				return nil, err
			}
			continue
		}
		v, err := p.value(name, t.line)
		if err != nil {
			return nil, err
		}
		m.add(name, v)
	}
}

func (p *parser) list(m *message, name string) error {
	for {
		t, ok := p.peek()
		if !ok {
			return fmt.Errorf("line %d: list %s is missing ]", p.lastLine(), name)
		}
		if !t.quoted && t.text == "]" {
			p.pos++
			return nil
		}
		v, err := p.value(name, t.line)
		if err != nil {
			return err
		}
		m.add(name, v)
	}
}

func (p *parser) value(name string, line int) (any, error) {
	t, ok := p.peek()
	if !ok {
		return nil, fmt.Errorf("line %d: field %s has no value", line, name)
	}
	p.pos++
	switch {
	case !t.quoted && t.text == "{":
		return p.fields("}")
	case !t.quoted && t.text == "<":
		return p.fields(">")
	case t.quoted:
		// Adjacent strings concatenate.
		s := t.text
		for n, ok := p.peek(); ok && n.quoted; n, ok = p.peek() {
			s += n.text
			p.pos++
		}
		return s, nil
	case strings.IndexByte("{}[]:<>", t.text[0]) >= 0:
		return nil, fmt.Errorf("line %d: field %s: unexpected %q", t.line, name, t.text)
	}
	return t.text, nil
}

func isIdent(s string) bool {
	if s == "" || !(unicode.IsLetter(rune(s[0])) || s[0] == '_') {
		return false
	}
	for _, r := range s {
		if !(r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}
