package pipeline

import (
	"fmt"
	"github.com/sluicehq/sluice/connector"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// decoder decodes the schema from the node tree, collecting mistakes.
type decoder struct {
	file string
	errs *errs
	// rec is the type of the records that the expressions being decoded
	// are over (nil: their fields are not known).
	rec *recordType
}

// scope is the scope of an expression over the records being decoded.
func (d *decoder) scope() scope { return recordScope(d.rec) }

func (d *decoder) fail(n *node, path, format string, args ...any) {
	d.errs.add(d.file, n, path, format, args...)
}

// failValue reports that the value n is not of the kind expected, and
// marks it (mappings and lists too) so that nothing more is said of it.
func (d *decoder) failValue(n *node, path, format string, args ...any) {
	d.fail(n, path, format, args...)
	if n != nil {
		n.failed = true
	}
}

// bad reports whether a mistake was reported about any of the nodes: a
// check that combines their values must then be skipped, since the value
// it would see is a default, not what the file says.
func (d *decoder) bad(ns ...*node) bool {
	for _, n := range ns {
		if n != nil && n.failed {
			return true
		}
	}
	return false
}

// obj is a mapping being decoded: its keys are checked against the
// allowed ones.
type obj struct {
	n    *node
	path string
}

// sub returns the path of key below path.
func sub(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// object checks that n is a mapping whose keys are all in allowed.
// A null node is an empty mapping. It returns nil (after reporting) when
// n is not a mapping.
func (d *decoder) object(n *node, path string, allowed ...string) *obj {
	if n == nil || n.kind == kindNull {
		return &obj{n: &node{kind: kindMap, file: d.file}, path: path}
	}
	if n.kind != kindMap {
		d.failValue(n, path, "expected a mapping (key: value lines), got %s", describe(n))
		return nil
	}
	for i, k := range n.keys {
		if !slices.Contains(allowed, k) {
			d.fail(n.keyNode[i], sub(path, k), "unknown key%s; allowed here: %s", suggest(k, allowed), strings.Join(allowed, ", "))
		}
	}
	return &obj{n: n, path: path}
}

// suggest returns ` (did you mean "x"?)` for a close allowed name.
func suggest(k string, allowed []string) string { return connector.Suggest(k, allowed) }

// get returns the node of key, nil when absent (or null).
func (o *obj) get(key string) *node {
	if o == nil {
		return nil
	}
	n := o.n.get(key)
	if n == nil || n.kind == kindNull {
		return nil
	}
	return n
}

func (o *obj) has(key string) bool { return o.get(key) != nil }

// keyNode returns the node of key itself (for its line), nil when absent.
func (o *obj) keyNode(key string) *node {
	for i, k := range o.n.keys {
		if k == key {
			return o.n.keyNode[i]
		}
	}
	return nil
}

func (o *obj) at(key string) string { return sub(o.path, key) }

// line returns a node to blame for a missing key: the mapping itself.
func (o *obj) node() *node { return o.n }

func (d *decoder) scalar(n *node, path, what string) (string, bool) {
	if n.kind != kindScalar {
		d.failValue(n, path, "expected %s, got %s", what, describe(n))
		return "", false
	}
	return n.text, true
}

// str decodes an optional string; def when absent.
func (d *decoder) str(o *obj, key, def string) string {
	n := o.get(key)
	if n == nil {
		return def
	}
	s, ok := d.scalar(n, o.at(key), "a string")
	if !ok {
		return def
	}
	return s
}

// required decodes a string that must be present and not empty.
func (d *decoder) required(o *obj, key, hint string) (string, *node) {
	n := o.get(key)
	if n == nil {
		d.fail(o.node(), o.at(key), "missing; %s", hint)
		return "", nil
	}
	s, ok := d.scalar(n, o.at(key), "a string")
	if ok && strings.TrimSpace(s) == "" {
		d.fail(n, o.at(key), "must not be empty; %s", hint)
	}
	return s, n
}

func (d *decoder) integer(o *obj, key string, def, lo, hi int64) int64 {
	n := o.get(key)
	if n == nil {
		return def
	}
	s, ok := d.scalar(n, o.at(key), "an integer")
	if !ok {
		return def
	}
	v, ok := parseInt(strings.TrimSpace(s))
	if !ok {
		d.fail(n, o.at(key), "%q is not an integer; use e.g. %d", s, max(lo, min(hi, 4)))
		return def
	}
	if v < lo || v > hi {
		if hi == math.MaxInt64 || hi == math.MaxInt32 {
			d.fail(n, o.at(key), "%d is out of range; it must be at least %d", v, lo)
		} else {
			d.fail(n, o.at(key), "%d is out of range; it must be between %d and %d", v, lo, hi)
		}
		return def
	}
	return v
}

func (d *decoder) number(o *obj, key string, def, lo float64) float64 {
	n := o.get(key)
	if n == nil {
		return def
	}
	s, ok := d.scalar(n, o.at(key), "a number")
	if !ok {
		return def
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		d.fail(n, o.at(key), "%q is not a number; use e.g. 100 or 2.5", s)
		return def
	}
	if v < lo {
		d.fail(n, o.at(key), "%v is out of range; it must be at least %v", v, lo)
		return def
	}
	return v
}

func (d *decoder) boolean(o *obj, key string, def bool) bool {
	n := o.get(key)
	if n == nil {
		return def
	}
	return d.boolNode(n, o.at(key), def)
}

// boolNode decodes the boolean n (at path); def when it is not one.
func (d *decoder) boolNode(n *node, path string, def bool) bool {
	s, ok := d.scalar(n, path, "true or false")
	if !ok {
		return def
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on":
		return true
	case "false", "no", "off":
		return false
	}
	d.fail(n, path, "%q is not a boolean; use true or false", s)
	return def
}

// duration decodes a Go duration ("500ms", "10s", "1m30s"); a bare 0 is
// allowed. Durations must be whole milliseconds and at least lo.
func (d *decoder) duration(o *obj, key string, def, lo time.Duration) time.Duration {
	n := o.get(key)
	if n == nil {
		return def
	}
	v, ok := d.parseDuration(n, o.at(key))
	if !ok {
		return def
	}
	if v < lo {
		if lo == 1 {
			d.fail(n, o.at(key), "%v is too short; it must be positive", v)
		} else {
			d.fail(n, o.at(key), "%v is too short; it must be at least %v", v, lo)
		}
		return def
	}
	return v
}

func (d *decoder) parseDuration(n *node, path string) (time.Duration, bool) {
	s, ok := d.scalar(n, path, "a duration (e.g. 10s, 1m)")
	if !ok {
		return 0, false
	}
	t := strings.TrimSpace(s)
	if t == "0" {
		return 0, true
	}
	v, err := time.ParseDuration(t)
	if err != nil {
		d.fail(n, path, "%q is not a duration; use e.g. 10s, 1m, 500ms", s)
		return 0, false
	}
	if v%time.Millisecond != 0 {
		d.fail(n, path, "%q is not a whole number of milliseconds; use e.g. 10s, 1m, 500ms", s)
		return 0, false
	}
	return v, true
}

// enum decodes one of allowed; def when absent.
func (d *decoder) enum(o *obj, key, def string, allowed ...string) (string, *node) {
	n := o.get(key)
	if n == nil {
		return def, nil
	}
	s, ok := d.scalar(n, o.at(key), "one of "+strings.Join(allowed, ", "))
	if !ok {
		return def, n
	}
	if !slices.Contains(allowed, s) {
		d.fail(n, o.at(key), "%q is not allowed%s; use one of: %s", s, suggest(s, allowed), strings.Join(allowed, ", "))
		return def, n
	}
	return s, n
}

// list returns the items of a list (nil node: none).
func (d *decoder) list(n *node, path string) []*node {
	if n == nil || n.kind == kindNull {
		return nil
	}
	if n.kind != kindSeq {
		d.failValue(n, path, "expected a list (lines starting with -), got %s", describe(n))
		return nil
	}
	return n.items
}

// stringList decodes a list of strings, or a single string as a list of one.
func (d *decoder) stringList(n *node, path string) []string {
	if n == nil || n.kind == kindNull {
		return nil
	}
	if n.kind == kindScalar {
		return []string{n.text}
	}
	var out []string
	for i, it := range d.list(n, path) {
		if s, ok := d.scalar(it, index(path, i), "a string"); ok {
			out = append(out, s)
		}
	}
	return out
}
