package triggers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Pattern is one parsed Lambda event-filtering pattern
// (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html).
// For Kafka the pattern is matched against the record's metadata and its
// value parsed as JSON: {"topic", "partition", "offset", "timestamp",
// "timestampType", "value": <JSON>}. A value that is not a JSON object
// matches only patterns that do not look inside "value".
//
// Supported: exact values (strings, numbers, booleans, null) in arrays,
// nested objects, and the operators prefix, suffix, equals-ignore-case,
// anything-but (values, prefix, suffix), numeric (=, >, >=, <, <= pairs)
// and exists. A field holding an array matches when any element does.
type Pattern struct{ root map[string]any }

// ParsePattern parses one filter pattern.
func ParsePattern(s string) (*Pattern, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("pattern is not JSON: %v", err)
	}
	m, ok := root.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, fmt.Errorf("pattern must be a non-empty JSON object")
	}
	if err := checkNode(m, ""); err != nil {
		return nil, err
	}
	return &Pattern{root: m}, nil
}

func checkNode(m map[string]any, path string) error {
	for k, v := range m {
		p := path + "." + k
		switch v := v.(type) {
		case map[string]any:
			if err := checkNode(v, p); err != nil {
				return err
			}
		case []any:
			if len(v) == 0 {
				return fmt.Errorf("%s: empty match list", p[1:])
			}
			for _, e := range v {
				if err := checkMatcher(e, p); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("%s: a match must be an array or an object, not %v", p[1:], v)
		}
	}
	return nil
}

func checkMatcher(e any, p string) error {
	op, ok := e.(map[string]any)
	if !ok {
		return nil // a literal
	}
	if len(op) != 1 {
		return fmt.Errorf("%s: an operator object holds exactly one operator", p[1:])
	}
	for name, arg := range op {
		switch name {
		case "prefix", "suffix", "equals-ignore-case":
			if _, ok := arg.(string); !ok {
				return fmt.Errorf("%s: %s needs a string", p[1:], name)
			}
		case "exists":
			if _, ok := arg.(bool); !ok {
				return fmt.Errorf("%s: exists needs true or false", p[1:])
			}
		case "anything-but":
			switch a := arg.(type) {
			case map[string]any:
				if err := checkMatcher(a, p); err != nil {
					return err
				}
			case []any, string, json.Number, bool:
			default:
				return fmt.Errorf("%s: bad anything-but argument", p[1:])
			}
		case "numeric":
			a, ok := arg.([]any)
			if !ok || len(a) == 0 || len(a)%2 != 0 || len(a) > 4 {
				return fmt.Errorf("%s: numeric needs one or two operator/number pairs", p[1:])
			}
			for i := 0; i < len(a); i += 2 {
				o, _ := a[i].(string)
				if _, ok := a[i+1].(json.Number); !ok || !validNumericOp(o) {
					return fmt.Errorf("%s: numeric pair %v %v is not an operator and a number", p[1:], a[i], a[i+1])
				}
			}
		default:
			return fmt.Errorf("%s: unknown operator %q", p[1:], name)
		}
	}
	return nil
}

func validNumericOp(o string) bool {
	switch o {
	case "=", ">", ">=", "<", "<=":
		return true
	}
	return false
}

// Match reports whether doc (decoded with UseNumber) matches.
func (p *Pattern) Match(doc map[string]any) bool { return matchNode(p.root, doc) }

func matchNode(pat map[string]any, doc map[string]any) bool {
	keys := make([]string, 0, len(pat))
	for k := range pat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, present := doc[k]
		switch pv := pat[k].(type) {
		case map[string]any:
			sub, ok := v.(map[string]any)
			if !ok || !matchNode(pv, sub) {
				return false
			}
		case []any:
			if !matchList(pv, v, present) {
				return false
			}
		}
	}
	return true
}

func matchList(list []any, v any, present bool) bool {
	for _, m := range list {
		if op, ok := m.(map[string]any); ok {
			if e, ok := op["exists"]; ok {
				if e.(bool) == present {
					return true
				}
				continue
			}
		}
		if !present {
			continue
		}
		if arr, ok := v.([]any); ok {
			for _, el := range arr {
				if matchOne(m, el) {
					return true
				}
			}
			continue
		}
		if matchOne(m, v) {
			return true
		}
	}
	return false
}

func matchOne(m, v any) bool {
	op, ok := m.(map[string]any)
	if !ok {
		return literalEqual(m, v)
	}
	for name, arg := range op {
		s, isStr := v.(string)
		switch name {
		case "prefix":
			return isStr && strings.HasPrefix(s, arg.(string))
		case "suffix":
			return isStr && strings.HasSuffix(s, arg.(string))
		case "equals-ignore-case":
			return isStr && strings.EqualFold(s, arg.(string))
		case "anything-but":
			switch a := arg.(type) {
			case []any:
				for _, x := range a {
					if literalEqual(x, v) {
						return false
					}
				}
				return true
			case map[string]any:
				return !matchOne(a, v)
			default:
				return !literalEqual(a, v)
			}
		case "numeric":
			n, ok := v.(json.Number)
			if !ok {
				return false
			}
			f, err := n.Float64()
			if err != nil {
				return false
			}
			a := arg.([]any)
			for i := 0; i < len(a); i += 2 {
				want, _ := a[i+1].(json.Number).Float64()
				if !compare(a[i].(string), f, want) {
					return false
				}
			}
			return true
		}
	}
	return false
}

func compare(op string, got, want float64) bool {
	switch op {
	case "=":
		return got == want
	case ">":
		return got > want
	case ">=":
		return got >= want
	case "<":
		return got < want
	case "<=":
		return got <= want
	}
	return false
}

func literalEqual(p, v any) bool {
	switch p := p.(type) {
	case nil:
		return v == nil
	case json.Number:
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		a, err1 := p.Float64()
		b, err2 := n.Float64()
		return err1 == nil && err2 == nil && a == b
	case string, bool:
		return p == v
	}
	return false
}

// Filter is a trigger's filter criteria: a record passes when there are
// no patterns or any pattern matches.
type Filter []*Pattern

// NewFilter parses patterns.
func NewFilter(patterns []string) (Filter, error) {
	var f Filter
	for i, s := range patterns {
		p, err := ParsePattern(s)
		if err != nil {
			return nil, fmt.Errorf("filter %d: %w", i+1, err)
		}
		f = append(f, p)
	}
	return f, nil
}

// Pass reports whether the record passes.
func (f Filter) Pass(r *Record) bool {
	if len(f) == 0 {
		return true
	}
	doc := map[string]any{
		"topic": r.Topic, "partition": json.Number(fmt.Sprint(r.Partition)),
		"offset": json.Number(fmt.Sprint(r.Offset)), "timestamp": json.Number(fmt.Sprint(r.Timestamp.UnixMilli())),
		"timestampType": r.TimestampType(),
	}
	if len(r.Value) > 0 {
		dec := json.NewDecoder(bytes.NewReader(r.Value))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil && !dec.More() {
			doc["value"] = v
		}
	}
	for _, p := range f {
		if p.Match(doc) {
			return true
		}
	}
	return false
}
