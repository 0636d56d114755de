package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// Record types: what is known of the fields of the records at a point of
// the pipeline, so that `sluice plan` type-checks the expressions there.
//
// A source knows its fields from its schema: (declared), from its CSV
// columns and types, from its format (text: line), or from the types of
// its generator expressions; otherwise they are unknown, and expressions
// see every field as dyn. After a step they are known when the step says
// what it emits: a map emits its fields, an aggregate or window the key
// fields and aggregates; filter, key_by and dedupe pass the records on.
// A nil *recordType means unknown.

// valueType is the type of a field: a kind of JSON-like value, and
// whether it may be null.
type valueType struct {
	kind string // string, int, uint, double, bool, list, map, any
	null bool   // null allowed too (any always allows it)
	// optional: a record may lack the field, which then reads as null
	// (declared with ?).
	optional bool
}

func (v valueType) String() string {
	if v.null && v.kind != "any" {
		return v.kind + "?"
	}
	return v.kind
}

// schemaTypes are the types a schema: may declare.
var schemaTypes = []string{"string", "int", "double", "bool", "list", "map", "any"}

// parseValueType parses a declared type: one of schemaTypes, float for
// double (as in csv types), and ? after string, int, double or bool for
// "or null, or absent".
func parseValueType(s string) (valueType, error) {
	t := strings.TrimSpace(s)
	null := strings.HasSuffix(t, "?")
	t = strings.TrimSuffix(t, "?")
	if t == "float" {
		t = "double"
	}
	if !slices.Contains(schemaTypes, t) {
		return valueType{}, fmt.Errorf("%q is not a type%s; use one of: %s (string?, int?, double? and bool?: also null or absent)",
			s, suggest(t, schemaTypes), strings.Join(schemaTypes, ", "))
	}
	if null && (t == "list" || t == "map" || t == "any") {
		return valueType{}, fmt.Errorf("%q: only string, int, double and bool take ?; use any for a %s that may be null", s, t)
	}
	return valueType{kind: t, null: null || t == "any", optional: null}, nil
}

// celType is the CEL type expressions see for a field of type v.
func (v valueType) celType() *cel.Type {
	var t *cel.Type
	switch v.kind {
	case "string":
		t = cel.StringType
	case "int":
		t = cel.IntType
	case "uint":
		t = cel.UintType
	case "double":
		t = cel.DoubleType
	case "bool":
		t = cel.BoolType
	case "list":
		return cel.ListType(cel.DynType)
	case "map":
		return cel.MapType(cel.StringType, cel.DynType)
	default:
		return cel.DynType
	}
	if v.null {
		return cel.NullableType(t)
	}
	return t
}

// fromCEL is the type of the value a record holds for the result of an
// expression of CEL type t (see native: timestamps, durations and bytes
// become strings, optionals their value or null).
func fromCEL(t *cel.Type) valueType {
	if t == nil {
		return valueType{kind: "any", null: true}
	}
	switch t.Kind() {
	case types.DynKind, types.AnyKind, types.ErrorKind, types.NullTypeKind, types.TypeParamKind, types.UnspecifiedKind:
		return valueType{kind: "any", null: true}
	case types.OpaqueKind:
		if t.TypeName() == "optional_type" && len(t.Parameters()) == 1 {
			v := fromCEL(t.Parameters()[0])
			if v.kind == "list" || v.kind == "map" {
				return valueType{kind: "any", null: true}
			}
			v.null = true
			return v
		}
		return valueType{kind: "any", null: true}
	case types.ListKind:
		return valueType{kind: "list"}
	case types.MapKind:
		if k := t.Parameters(); len(k) == 2 && k[0].Kind() != types.StringKind && k[0].Kind() != types.DynKind {
			return valueType{kind: "any", null: true} // not a record value: fails when evaluated
		}
		return valueType{kind: "map"}
	case types.StructKind:
		return valueType{kind: "map"}
	case types.TypeKind, types.BytesKind, types.TimestampKind, types.DurationKind:
		return valueType{kind: "string"}
	}
	null := t.IsAssignableType(types.NullType) // a wrapper type: the value or null
	switch t.Kind() {
	case types.BoolKind:
		return valueType{kind: "bool", null: null}
	case types.IntKind:
		return valueType{kind: "int", null: null}
	case types.UintKind:
		return valueType{kind: "uint", null: null}
	case types.DoubleKind:
		return valueType{kind: "double", null: null}
	case types.StringKind:
		return valueType{kind: "string", null: null}
	}
	return valueType{kind: "any", null: true}
}

// assignable reports whether every value of type from is a value of v.
func (v valueType) assignable(from valueType) bool {
	switch {
	case v.kind == "any":
		return true
	case from.null && !v.null:
		return false
	}
	return v.kind == from.kind
}

// errNull is check's error for a null where v does not allow it.
var errNull = errors.New("null")

// check checks the value x against v and returns it, an int converted
// to a double where v is double. Its error describes x.
func (v valueType) check(x any) (any, error) {
	if x == nil {
		if v.null {
			return nil, nil
		}
		return nil, errNull
	}
	ok := false
	switch v.kind {
	case "any":
		return x, nil
	case "string":
		_, ok = x.(string)
	case "int":
		_, ok = x.(int64)
	case "uint":
		_, ok = x.(uint64)
	case "double":
		switch n := x.(type) {
		case float64:
			ok = true
		case int64:
			return float64(n), nil
		}
	case "bool":
		_, ok = x.(bool)
	case "list":
		_, ok = x.([]any)
	case "map":
		_, ok = x.(map[string]any)
	}
	if !ok {
		return nil, fmt.Errorf("%s, not %s", typeName(x), article(v.kind))
	}
	return x, nil
}

// fieldType is a field of a record type.
type fieldType struct {
	name string
	typ  valueType
}

// recordType is the list of fields the records at some point have, and
// where that list comes from (e.g. "source.schema", "steps[2].map").
type recordType struct {
	fields []fieldType
	origin string

	once sync.Once
	env  *cel.Env
	err  error
}

func newRecordType(origin string, fields ...fieldType) *recordType {
	return &recordType{fields: fields, origin: origin}
}

// field returns the type of the field name.
func (rt *recordType) field(name string) (valueType, bool) {
	if rt == nil {
		return valueType{}, false
	}
	for _, f := range rt.fields {
		if f.name == name {
			return f.typ, true
		}
	}
	return valueType{}, false
}

func (rt *recordType) names() []string {
	out := make([]string, len(rt.fields))
	for i, f := range rt.fields {
		out[i] = f.name
	}
	return out
}

// String lists the fields with their types: "amount: int, user: string".
func (rt *recordType) String() string {
	parts := make([]string, len(rt.fields))
	for i, f := range rt.fields {
		parts[i] = f.name + ": " + f.typ.String()
	}
	return strings.Join(parts, ", ")
}

// check checks that rec has every field of rt (but the optional ones),
// of its type (fields rt does not name are kept as they are); an int in a
// double field becomes a double.
func (rt *recordType) check(rec Record) error {
	for _, f := range rt.fields {
		x, ok := rec[f.name]
		if !ok {
			if f.typ.optional {
				continue
			}
			hint := ""
			if f.typ.kind != "list" && f.typ.kind != "map" && f.typ.kind != "any" {
				hint = fmt.Sprintf("; declare %s: %s? if it may be absent", f.name, f.typ.kind)
			}
			return fmt.Errorf("the record has no field %q (%s declares %s: %s%s)", f.name, rt.origin, f.name, f.typ, hint)
		}
		y, err := f.typ.check(x)
		if err == errNull {
			return fmt.Errorf("field %s is null (%s declares %s: %s; declare %s: %s? if it may be null)",
				f.name, rt.origin, f.name, f.typ, f.name, f.typ.kind)
		}
		if err != nil {
			return fmt.Errorf("field %s is %v (%s declares %s: %s)", f.name, err, rt.origin, f.name, f.typ)
		}
		if y != x {
			rec[f.name] = y
		}
	}
	return nil
}

// checkedDecoder returns dec followed by a check of the record against
// rt (none when rt is nil): a record that does not match is an error of
// the decoder, so the source reports it as a bad record with its
// location.
func checkedDecoder(dec func([]byte) (Record, error), rt *recordType) func([]byte) (Record, error) {
	if rt == nil {
		return dec
	}
	return func(b []byte) (Record, error) {
		r, err := dec(b)
		if err != nil {
			return r, err
		}
		if err := rt.check(r); err != nil {
			return nil, err
		}
		return r, nil
	}
}

// textRecord is the type of the records of format: text.
var textRecord = newRecordType("format: text", fieldType{"line", valueType{kind: "string"}})

// deadLetterRecord is the type of the records dead_letter: receives.
var deadLetterRecord = newRecordType("the dead-letter record",
	fieldType{"source", valueType{kind: "string"}}, fieldType{"location", valueType{kind: "string"}},
	fieldType{"raw", valueType{kind: "string"}}, fieldType{"error", valueType{kind: "string"}})

// decodeSchema decodes a source's schema: (field -> type); nil when
// absent or wrong.
func (d *decoder) decodeSchema(n *node, path string) *recordType {
	if n == nil || n.kind == kindNull {
		return nil
	}
	hint := "a mapping of fields to types, e.g. schema: {user: string, amount: int, price: double?}"
	if n.kind != kindMap {
		d.failValue(n, path, "expected %s, got %s", hint, describe(n))
		return nil
	}
	if len(n.keys) == 0 {
		d.fail(n, path, "is empty; give %s", hint)
		return nil
	}
	rt := newRecordType(path)
	ok := true
	for i, k := range n.keys {
		s, isScalar := d.scalar(n.vals[i], sub(path, k), "a type ("+strings.Join(schemaTypes, ", ")+")")
		if !isScalar {
			ok = false
			continue
		}
		t, err := parseValueType(s)
		if err != nil {
			d.fail(n.vals[i], sub(path, k), "%v", err)
			ok = false
			continue
		}
		rt.fields = append(rt.fields, fieldType{name: k, typ: t})
	}
	if !ok {
		return nil
	}
	return rt
}

// ---- CEL over typed records ----

// recordTypeName is the CEL type of `record` where the fields are known.
const recordTypeName = "Record"

// celEnv returns the CEL environment of expressions over records of rt:
// `record` is of type Record, whose fields are those of rt, and each field
// (whose name is an identifier CEL does not use itself) is a variable of
// its type. record['name'] reads a field too (of type dyn), for names
// that are not identifiers.
func (rt *recordType) celEnv() (*cel.Env, error) {
	rt.once.Do(func() {
		base, err := celBaseEnv()
		if err != nil {
			rt.err = err
			return
		}
		opts := []cel.EnvOption{
			cel.CustomTypeProvider(&recordProvider{Provider: base.CELTypeProvider(), rt: rt}),
			cel.Variable("record", cel.ObjectType(recordTypeName)),
			// The run-time functions are CEL's own, which index the map a
			// record is at run time.
			cel.Function(operators.Index, cel.Overload("index_record_string",
				[]*cel.Type{cel.ObjectType(recordTypeName), cel.StringType}, cel.DynType)),
			cel.Function(operators.OptIndex, cel.Overload("optindex_record_string",
				[]*cel.Type{cel.ObjectType(recordTypeName), cel.StringType}, cel.OptionalType(cel.DynType))),
		}
		for _, f := range rt.fields {
			if identRE.MatchString(f.name) && !reservedIdents[f.name] {
				opts = append(opts, cel.Variable(f.name, f.typ.celType()))
			}
		}
		rt.env, rt.err = base.Extend(opts...)
	})
	return rt.env, rt.err
}

// recordProvider adds the type Record (the fields of rt, read from the
// map[string]any of a record) to the CEL types.
type recordProvider struct {
	types.Provider
	rt *recordType
}

func (p *recordProvider) FindStructType(name string) (*types.Type, bool) {
	if name == recordTypeName {
		return types.NewTypeTypeWithParam(types.NewObjectType(recordTypeName)), true
	}
	return p.Provider.FindStructType(name)
}

func (p *recordProvider) FindStructFieldNames(name string) ([]string, bool) {
	if name == recordTypeName {
		return p.rt.names(), true
	}
	return p.Provider.FindStructFieldNames(name)
}

func (p *recordProvider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if name != recordTypeName {
		return p.Provider.FindStructFieldType(name, field)
	}
	t, ok := p.rt.field(field)
	if !ok {
		return nil, false
	}
	return &types.FieldType{
		Type: t.celType(),
		IsSet: func(target any) bool {
			m, ok := target.(map[string]any)
			if ok {
				_, ok = m[field]
			}
			return ok
		},
		GetFrom: func(target any) (any, error) {
			m, ok := target.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("record is %s, not a record", typeName(target))
			}
			v, ok := m[field]
			if !ok && !t.optional {
				return nil, fmt.Errorf("the record has no field %q", field)
			}
			return v, nil
		},
	}, true
}

func (p *recordProvider) NewValue(name string, fields map[string]ref.Val) ref.Val {
	if name == recordTypeName {
		return types.NewErr("a Record cannot be built in an expression; build a map: {'a': 1}")
	}
	return p.Provider.NewValue(name, fields)
}

// checkFields checks that every field the parsed expression names (as a
// variable, or as record.f, record.?f, has(record.f), record['f'] or
// record[?'f']) is a field of rt.
func checkFields(a *cel.Ast, free []string, rt *recordType) error {
	var missing []string
	add := func(f string) {
		if _, ok := rt.field(f); !ok && !slices.Contains(missing, f) {
			missing = append(missing, f)
		}
	}
	for _, f := range free {
		add(f)
	}
	isRecord := func(e celast.Expr) bool { return e.Kind() == celast.IdentKind && e.AsIdent() == "record" }
	celast.PreOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		switch e.Kind() {
		case celast.SelectKind:
			if s := e.AsSelect(); isRecord(s.Operand()) {
				add(s.FieldName())
			}
		case celast.CallKind:
			c := e.AsCall()
			if (c.FunctionName() == operators.OptSelect || c.FunctionName() == operators.Index || c.FunctionName() == operators.OptIndex) &&
				len(c.Args()) == 2 && isRecord(c.Args()[0]) && c.Args()[1].Kind() == celast.LiteralKind {
				if s, ok := c.Args()[1].AsLiteral().(types.String); ok {
					add(string(s))
				}
			}
		}
	}))
	if len(missing) == 0 {
		return nil
	}
	f := missing[0]
	return fmt.Errorf("no field %q in the records here%s; their fields (from %s): %s",
		f, suggestField(f, rt.names()), rt.origin, rt)
}

// suggestField is suggest for a field name, without suggestions for names
// so short that any other is as close.
func suggestField(f string, names []string) string {
	s := suggest(f, names)
	if s == "" {
		return ""
	}
	best := s[len(` (did you mean "`) : len(s)-len(`"?)`)]
	if !closerThanLen(strings.ToLower(f), strings.ToLower(best)) {
		return ""
	}
	return s
}

// closerThanLen reports whether the edit distance of a and b (at most 2
// apart, see connector.Suggest) is less than len(a).
func closerThanLen(a, b string) bool {
	if len(a) > 2 {
		return true
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)] < len(a)
}

// article names a value of the type typ in messages: "an integer".
func article(typ string) string {
	switch typ {
	case "int":
		return "an integer"
	case "float":
		return "a number"
	case "bool":
		return "a boolean (true or false)"
	}
	return "a " + typ
}
