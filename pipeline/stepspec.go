package pipeline

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/state"
)

// decodeStep decodes the step at path, which reads records of type rec.
func (d *decoder) decodeStep(n *node, path string, src *Source, rec *recordType) *Step {
	d.rec = rec
	if n.kind != kindMap {
		d.fail(n, path, "expected a step (a mapping with one of: %s), got %s", strings.Join(stepKinds, ", "), describe(n))
		return nil
	}
	before := d.errs.count()
	o := d.object(n, path, append(slices.Clone(stepKinds), stepCommon...)...)
	if o == nil {
		return nil
	}
	st := &Step{Path: path, n: n}
	var kinds []string
	for _, k := range n.keys {
		if slices.Contains(stepKinds, k) {
			kinds = append(kinds, k)
		}
	}
	switch len(kinds) {
	case 0:
		if d.errs.count() == before { // else an unknown key was reported: probably the kind, misspelt
			d.fail(n, path, "the step does nothing; give one of: %s", strings.Join(stepKinds, ", "))
		}
		return nil
	case 1:
	default:
		d.fail(n, path, "one step does one thing, and this one has %s; make them separate steps", strings.Join(kinds, " and "))
		return nil
	}
	st.Kind = kinds[0]
	st.Name = d.str(o, "name", "")
	st.UID = d.str(o, "uid", "")
	st.Parallelism = int(d.integer(o, "parallelism", 0, 1, state.MaxMaxParallelism))
	body := n.get(st.Kind)
	bp := sub(path, st.Kind)
	switch st.Kind {
	case "filter":
		st.filter = d.expression(body, bp, d.scope(), outBool)
	case "map":
		st.fields = d.fieldMap(body, bp, "map builds a new record from CEL expressions, e.g. map: {user: record.user, cents: int(record.amount * 100.0)}")
	case "key_by":
		st.key = d.keySpec(body, bp)
	case "aggregate":
		st.aggs = d.aggregates(body, bp)
	case "window":
		st.window, st.aggs = d.windowSpec(body, bp)
	case "dedupe":
		st.dedupe = d.dedupeSpec(body, bp)
	}
	st.bad = d.errs.count() > before
	if st.Name == "" && !st.bad {
		st.Name = defaultStepName(st)
	}
	return st
}

func defaultStepName(st *Step) string {
	switch st.Kind {
	case "filter":
		if st.filter != nil {
			return "Filter(" + short(st.filter.src) + ")"
		}
	case "map":
		names := make([]string, len(st.fields))
		for i, f := range st.fields {
			names[i] = f.name
		}
		return "Map(" + short(strings.Join(names, ", ")) + ")"
	case "key_by":
		names := make([]string, len(st.key))
		for i, f := range st.key {
			names[i] = f.name
		}
		return "KeyBy(" + short(strings.Join(names, ", ")) + ")"
	case "aggregate":
		return "Aggregate(" + aggNames(st.aggs) + ")"
	case "window":
		kind := "event time"
		if st.window.procTime {
			kind = "processing time"
		}
		return "Window(" + st.window.assigner.String() + ", " + kind + ": " + aggNames(st.aggs) + ")"
	case "dedupe":
		return "Dedupe(ttl=" + st.dedupe.ttl.String() + ")"
	}
	return st.Kind
}

func aggNames(aggs []aggSpec) string {
	names := make([]string, len(aggs))
	for i, a := range aggs {
		names[i] = a.out
	}
	return short(strings.Join(names, ", "))
}

func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// expression compiles a CEL expression given as a scalar.
func (d *decoder) expression(n *node, path string, sc scope, want outKind) *expr {
	if n == nil || n.kind == kindNull {
		d.fail(n, path, "missing CEL expression")
		return nil
	}
	s, ok := d.scalar(n, path, "a CEL expression")
	if !ok {
		return nil
	}
	e, err := compile(s, sc, want)
	if err != nil {
		d.fail(n, path, "bad CEL expression %q: %v", short(s), err)
		return nil
	}
	return e
}

// fieldMap decodes a mapping of output field -> CEL expression.
func (d *decoder) fieldMap(n *node, path, hint string) []field {
	if n == nil || n.kind != kindMap || len(n.keys) == 0 {
		got := "nothing"
		if n != nil {
			got = describe(n)
		}
		d.fail(n, path, "expected a mapping of field names to CEL expressions, got %s; %s", got, hint)
		return nil
	}
	var out []field
	for i, k := range n.keys {
		if e := d.expression(n.vals[i], sub(path, k), d.scope(), outAny); e != nil {
			out = append(out, field{name: k, e: e})
		}
	}
	return out
}

// keySpec decodes key_by: a field name, a CEL expression (output field
// "key"), a list of those, or a mapping of output names to expressions.
func (d *decoder) keySpec(n *node, path string) []field {
	hint := "use a field name (key_by: user), a list of them (key_by: [user, page]), or output names to CEL expressions (key_by: {day: record.ts / 86400000})"
	if n == nil || n.kind == kindNull {
		d.fail(n, path, "missing; %s", hint)
		return nil
	}
	var out []field
	one := func(it *node, p string, name string) {
		s, ok := d.scalar(it, p, "a field name or CEL expression")
		if !ok {
			return
		}
		s = strings.TrimSpace(s)
		if name == "" {
			if identRE.MatchString(s) {
				name = s
			} else {
				name = "key"
				if len(n.items) > 1 {
					d.fail(it, p, "%q is an expression; in a list of keys name each one: key_by: {name: expression, ...}", s)
					return
				}
			}
		}
		e, err := compile(keyExprSource(s), d.scope(), outAny)
		if err != nil {
			d.fail(it, p, "bad CEL expression %q: %v", short(s), err)
			return
		}
		for _, f := range out {
			if f.name == name {
				d.fail(it, p, "key field %q is named twice", name)
				return
			}
		}
		out = append(out, field{name: name, e: e})
	}
	switch n.kind {
	case kindScalar:
		one(n, path, "")
	case kindSeq:
		if len(n.items) == 0 {
			d.fail(n, path, "is empty; %s", hint)
		}
		for i, it := range n.items {
			one(it, index(path, i), "")
		}
	case kindMap:
		for i, k := range n.keys {
			one(n.vals[i], sub(path, k), k)
		}
	}
	return out
}

// keyExprSource turns a bare field name into an expression over record.
func keyExprSource(s string) string {
	if identRE.MatchString(s) && !reservedIdents[s] {
		return "record." + s
	}
	return s
}

// aggSpec is one aggregate: the output field, the function, and its
// argument (nil for count).
type aggSpec struct {
	out string
	fn  string
	arg *expr
}

var (
	aggFuncs = []string{"count", "sum", "min", "max", "avg", "first", "last"}
	aggRE    = regexp.MustCompile(`^\s*([A-Za-z_]+)\s*(?:\((.*)\))?\s*$`)
)

func (d *decoder) aggregates(n *node, path string) []aggSpec {
	hint := "give output fields and functions, e.g. {count: count(), total: sum(amount), biggest: max(amount)}; functions: " + strings.Join(aggFuncs, ", ")
	if n == nil || n.kind != kindMap || len(n.keys) == 0 {
		got := "nothing"
		if n != nil {
			got = describe(n)
		}
		d.fail(n, path, "expected a mapping of output fields to aggregate functions, got %s; %s", got, hint)
		return nil
	}
	var out []aggSpec
	for i, k := range n.keys {
		p := sub(path, k)
		s, ok := d.scalar(n.vals[i], p, "an aggregate function such as count() or sum(amount)")
		if !ok {
			continue
		}
		m := aggRE.FindStringSubmatch(s)
		if m == nil {
			d.fail(n.vals[i], p, "%q is not an aggregate; %s", s, hint)
			continue
		}
		fn, arg := strings.ToLower(m[1]), strings.TrimSpace(m[2])
		if !slices.Contains(aggFuncs, fn) {
			d.fail(n.vals[i], p, "unknown aggregate function %q%s; use one of: %s", m[1], suggest(fn, aggFuncs), strings.Join(aggFuncs, ", "))
			continue
		}
		a := aggSpec{out: k, fn: fn}
		switch {
		case fn == "count" && arg != "":
			d.fail(n.vals[i], p, "count takes no argument: write count() (or count)")
			continue
		case fn != "count" && arg == "":
			d.fail(n.vals[i], p, "%s needs an argument: a field name or CEL expression, e.g. %s(amount)", fn, fn)
			continue
		case fn != "count":
			want := outAny
			if fn == "sum" || fn == "avg" {
				want = outNumber
			}
			e, err := compile(keyExprSource(arg), d.scope(), want)
			if err != nil {
				d.fail(n.vals[i], p, "bad CEL expression %q: %v", short(arg), err)
				continue
			}
			a.arg = e
		}
		out = append(out, a)
	}
	return out
}

var windowTypes = []string{"tumbling", "sliding", "session"}

func (d *decoder) windowSpec(n *node, path string) (*windowSpec, []aggSpec) {
	o := d.object(n, path, "type", "size", "slide", "gap", "offset", "time", "allowed_lateness", "late",
		"aggregate", "start_field", "end_field", "time_format")
	if o == nil {
		return nil, nil
	}
	w := &windowSpec{}
	typ, tn := d.enum(o, "type", "", windowTypes...)
	if tn == nil {
		d.fail(n, o.at("type"), "missing; use one of: %s", strings.Join(windowTypes, ", "))
	}
	size := d.duration(o, "size", 0, time.Millisecond)
	slide := d.duration(o, "slide", 0, time.Millisecond)
	gap := d.duration(o, "gap", 0, time.Millisecond)
	offset := d.duration(o, "offset", 0, -1<<62)
	var offs []time.Duration
	if o.has("offset") {
		offs = []time.Duration{offset}
	}
	// need reports a missing key; it is true when the key is there and
	// its value (and offset's) had no mistake, so the window can be checked.
	need := func(key, example string) bool {
		if !o.has(key) {
			d.fail(n, o.at(key), "a %s window needs %s (e.g. %s: %s)", typ, key, key, example)
			return false
		}
		return !d.bad(o.get(key), o.get("offset"))
	}
	forbid := func(keys ...string) {
		for _, k := range keys {
			if o.has(k) {
				d.fail(o.get(k), o.at(k), "a %s window has no %s", typ, k)
			}
		}
	}
	switch typ {
	case "tumbling":
		forbid("slide", "gap")
		if need("size", "10s") {
			if err := eventtime.ValidateTumbling(size, offs...); err != nil {
				d.fail(o.get("size"), o.at("size"), "%v", err)
			} else {
				w.assigner = eventtime.Tumbling(size, offs...)
			}
		}
	case "sliding":
		forbid("gap")
		if okSize, okSlide := need("size", "1m"), need("slide", "10s"); okSize && okSlide {
			if err := eventtime.ValidateSliding(size, slide, offs...); err != nil {
				d.fail(o.get("slide"), o.at("slide"), "%v", err)
			} else {
				w.assigner = eventtime.Sliding(size, slide, offs...)
			}
		}
	case "session":
		forbid("size", "slide", "offset")
		if need("gap", "30s") {
			if err := eventtime.ValidateSession(gap); err != nil {
				d.fail(o.get("gap"), o.at("gap"), "%v", err)
			} else {
				w.assigner = eventtime.Session(gap)
			}
		}
	}
	tm, tmn := d.enum(o, "time", "event", "event", "processing")
	w.procTime = tm == "processing"
	w.timeUnknown = d.bad(tmn)
	w.lateness = d.duration(o, "allowed_lateness", 0, 0)
	if w.procTime && o.has("allowed_lateness") {
		d.fail(o.get("allowed_lateness"), o.at("allowed_lateness"), "processing-time windows have no late records; remove allowed_lateness or use time: event")
	}
	late, _ := d.enum(o, "late", "drop", "drop", "dead_letter")
	w.lateToDLQ = late == "dead_letter"
	w.startField = d.str(o, "start_field", "window_start")
	w.endField = d.str(o, "end_field", "window_end")
	tf, _ := d.enum(o, "time_format", "rfc3339", "rfc3339", "millis")
	w.millis = tf == "millis"
	var aggs []aggSpec
	if an := o.get("aggregate"); an != nil {
		aggs = d.aggregates(an, o.at("aggregate"))
	} else {
		d.fail(n, o.at("aggregate"), "missing; a window emits aggregates, e.g. aggregate: {clicks: count()}")
	}
	for _, a := range aggs {
		if a.out == w.startField || a.out == w.endField {
			d.fail(o.get("aggregate"), o.at("aggregate")+"."+a.out, "%q is also the window's start or end field; rename one (start_field, end_field)", a.out)
		}
	}
	return w, aggs
}

func (d *decoder) dedupeSpec(n *node, path string) *dedupeSpec {
	o := d.object(n, path, "ttl", "time")
	if o == nil {
		return nil
	}
	s := &dedupeSpec{}
	if !o.has("ttl") {
		d.fail(n, o.at("ttl"), "missing; how long a key is remembered after its first record, e.g. ttl: 1h")
	}
	s.ttl = d.duration(o, "ttl", 0, time.Millisecond)
	tm, tmn := d.enum(o, "time", "processing", "processing", "event")
	s.eventTime = tm == "event"
	s.timeUnknown = d.bad(tmn)
	return s
}

// output returns the type of the records the step emits, given the type
// of those it reads (in) and the key of the key_by before it (keyKnown:
// that step had no mistake). filter, key_by and dedupe pass their records
// on, whatever their mistakes; other steps with mistakes emit records of
// unknown type, so that nothing is reported that only follows from them.
func (st *Step) output(in *recordType, key []field, keyKnown bool) *recordType {
	switch {
	case st.Kind == "filter" || st.Kind == "key_by" || st.Kind == "dedupe":
		return in
	case st.bad:
		return nil
	}
	switch st.Kind {
	case "map":
		rt := newRecordType(st.Path + ".map")
		for _, f := range st.fields {
			rt.fields = append(rt.fields, fieldType{name: f.name, typ: fromCEL(f.e.out)})
		}
		return rt
	case "aggregate", "window":
		if !keyKnown {
			return nil
		}
		rt := newRecordType(st.Path + "." + st.Kind)
		for _, k := range key {
			rt.fields = append(rt.fields, fieldType{name: k.name, typ: fromCEL(k.e.out)})
		}
		if w := st.window; w != nil {
			t := valueType{kind: "string"}
			if w.millis {
				t.kind = "int"
			}
			rt.fields = append(rt.fields, fieldType{name: w.startField, typ: t}, fieldType{name: w.endField, typ: t})
		}
		for _, a := range st.aggs {
			rt.fields = append(rt.fields, fieldType{name: a.out, typ: a.resultType()})
		}
		return rt
	}
	return nil
}

// resultType is the type of the aggregate's values: count an int, avg a
// double, sum a double over doubles and otherwise an int or, once it
// overflows, a double (any), min, max, first and last that of their
// argument.
func (a aggSpec) resultType() valueType {
	switch a.fn {
	case "count":
		return valueType{kind: "int"}
	case "avg":
		return valueType{kind: "double"}
	case "sum":
		if t := fromCEL(a.arg.out); t.kind == "double" && !t.null {
			return t
		}
		return valueType{kind: "any", null: true}
	}
	return fromCEL(a.arg.out)
}

// checkOutputs reports aggregate outputs that collide with key fields.
func (d *decoder) checkOutputs(st *Step, key []field) {
	for _, a := range st.aggs {
		for _, k := range key {
			if a.out == k.name {
				p := fmt.Sprintf("%s.aggregate.%s", st.Path, a.out)
				if st.Kind == "window" {
					p = fmt.Sprintf("%s.window.aggregate.%s", st.Path, a.out)
				}
				d.fail(st.n, p, "%q is also a key field; rename the aggregate", a.out)
			}
		}
	}
}
