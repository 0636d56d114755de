package pipeline

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

// Expressions are CEL (https://cel.dev). Over a record, the whole record is
// the variable `record` and every top-level field is also a variable of
// its own, so `amount > 10` and `record.amount > 10` mean the same. Where
// the fields of the records are known (schema.go), `record` is of type
// Record with those fields and each field variable has its type, so a
// field that is not there or a type that does not fit is a mistake of the
// file; elsewhere `record` is a map from string to dyn and every field is
// dyn. A field that a record lacks is an evaluation error for that record
// (it goes to the dead-letter output, or fails the job); test with
// has(record.f) or write record.?f.orValue(x). The generator's field
// expressions see only `i`, the record's index.

// scope says which variables an expression sees: i (the generator's
// fields), or a record whose fields are rec (nil: not known).
type scope struct {
	index bool
	rec   *recordType
}

// scopeIndex is the scope of the generator's field expressions.
var scopeIndex = scope{index: true}

// recordScope is the scope of an expression over records of type rt
// (nil: fields not known).
func recordScope(rt *recordType) scope { return scope{rec: rt} }

// reservedIdents are identifiers CEL itself resolves: they are never taken
// as record fields.
var reservedIdents = map[string]bool{
	"record": true, "int": true, "uint": true, "double": true, "bool": true, "string": true,
	"bytes": true, "list": true, "map": true, "null_type": true, "type": true, "dyn": true,
	"google": true, "optional": true, "math": true, "strings": true, "base64": true,
	"timestamp": true, "duration": true,
}

var (
	envOnce   sync.Once
	baseEnv   *cel.Env
	recordEnv *cel.Env
	indexEnv  *cel.Env
	envErr    error
)

// celBaseEnv returns the environment every expression starts from: the
// options and extensions, and no variables.
func celBaseEnv() (*cel.Env, error) {
	_, _, err := celEnvs()
	return baseEnv, err
}

func celEnvs() (rec, idx *cel.Env, err error) {
	envOnce.Do(func() {
		common := []cel.EnvOption{
			cel.OptionalTypes(),
			cel.CrossTypeNumericComparisons(true),
			cel.DefaultUTCTimeZone(true),
			ext.Strings(),
			ext.Math(),
			ext.Encoders(),
			cel.ExpressionNodeLimit(10_000),
			cel.ParserExpressionSizeLimit(100_000),
		}
		if baseEnv, envErr = cel.NewEnv(common...); envErr != nil {
			return
		}
		if recordEnv, envErr = baseEnv.Extend(cel.Variable("record", cel.MapType(cel.StringType, cel.DynType))); envErr != nil {
			return
		}
		indexEnv, envErr = baseEnv.Extend(cel.Variable("i", cel.IntType))
	})
	return recordEnv, indexEnv, envErr
}

// expr is a compiled expression.
type expr struct {
	src  string
	prg  cel.Program
	out  *cel.Type
	free []string // record fields it names as top-level variables
	// maybe are those of free that a record may lack (declared with ?):
	// absent, they are null.
	maybe map[string]bool
}

// outKind is what an expression must evaluate to.
type outKind uint8

const (
	outAny outKind = iota
	outBool
	outNumber
	outTime // a timestamp: int (ms), double, string (RFC 3339) or timestamp
)

func (k outKind) String() string {
	switch k {
	case outBool:
		return "a bool"
	case outNumber:
		return "a number"
	case outTime:
		return "a timestamp (int milliseconds, an RFC 3339 string, or a timestamp)"
	}
	return "a value"
}

// compile compiles src in scope and checks that its type can be want. The
// error holds CEL's message, with the column in the expression.
func compile(src string, sc scope, want outKind) (*expr, error) {
	recEnv, idxEnv, err := celEnvs()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty expression")
	}
	env := idxEnv
	var free []string
	if !sc.index {
		parsed, iss := recEnv.Parse(src)
		if iss.Err() != nil {
			return nil, celError(iss)
		}
		free = freeIdents(parsed)
		env = recEnv
		if sc.rec != nil {
			if err := checkFields(parsed, free, sc.rec); err != nil {
				return nil, err
			}
			if env, err = sc.rec.celEnv(); err != nil {
				return nil, fmt.Errorf("CEL environment: %w", err)
			}
		} else if len(free) > 0 {
			opts := make([]cel.EnvOption, len(free))
			for i, f := range free {
				opts[i] = cel.Variable(f, cel.DynType)
			}
			if env, err = recEnv.Extend(opts...); err != nil {
				return nil, fmt.Errorf("CEL environment: %w", err)
			}
		}
	}
	checked, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, celError(iss)
	}
	out := checked.OutputType()
	if !fits(out, want) {
		return nil, fmt.Errorf("the expression is of type %s; it must be %s", out, want)
	}
	prg, err := env.Program(checked, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("CEL program: %w", err)
	}
	e := &expr{src: src, prg: prg, out: out}
	for _, f := range free {
		if t, ok := sc.rec.field(f); ok && t.optional {
			if e.maybe == nil {
				e.maybe = map[string]bool{}
			}
			e.maybe[f] = true
		} else {
			e.free = append(e.free, f)
		}
	}
	return e, nil
}

func fits(t *cel.Type, want outKind) bool {
	if t == nil || t.Kind() == types.DynKind || t.Kind() == types.AnyKind || t.Kind() == types.ErrorKind {
		return true
	}
	switch want {
	case outBool:
		return t.Kind() == types.BoolKind
	case outNumber:
		switch t.Kind() {
		case types.IntKind, types.UintKind, types.DoubleKind:
			return true
		}
		return false
	case outTime:
		switch t.Kind() {
		case types.IntKind, types.UintKind, types.DoubleKind, types.StringKind, types.TimestampKind:
			return true
		}
		return false
	}
	return true
}

// celError renders CEL issues on one line each, with their column.
func celError(iss *cel.Issues) error {
	var parts []string
	for _, e := range iss.Errors() {
		msg := e.Message
		if loc := e.Location; loc != nil && loc.Column() >= 0 {
			msg = fmt.Sprintf("%s (at column %d)", msg, loc.Column()+1)
		}
		parts = append(parts, msg)
	}
	if len(parts) == 0 {
		return iss.Err()
	}
	return errors.New(strings.Join(parts, "; "))
}

// freeIdents lists the identifiers of a parsed expression that are not
// CEL's own: the record fields it names.
func freeIdents(a *cel.Ast) []string {
	seen := map[string]bool{}
	root := a.NativeRep().Expr()
	// Variables bound by comprehensions (macros such as exists and map)
	// are not record fields.
	celast.PreOrderVisit(root, celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() == celast.ComprehensionKind {
			c := e.AsComprehension()
			for _, v := range []string{c.IterVar(), c.IterVar2(), c.AccuVar()} {
				if v != "" {
					seen[v] = true
				}
			}
		}
	}))
	var out []string
	celast.PreOrderVisit(root, celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() != celast.IdentKind {
			return
		}
		name := e.AsIdent()
		if reservedIdents[name] || seen[name] || strings.HasPrefix(name, "@") {
			return
		}
		seen[name] = true
		out = append(out, name)
	}))
	return out
}

// recordVars is the activation of an expression over a record; the
// fields in maybe are null where the record lacks them.
type recordVars struct {
	rec   map[string]any
	maybe map[string]bool
}

func (a *recordVars) ResolveName(name string) (any, bool) {
	if name == "record" {
		return a.rec, true
	}
	v, ok := a.rec[name]
	if !ok && a.maybe[name] {
		return nil, true
	}
	return v, ok
}

func (a *recordVars) Parent() interpreter.Activation { return nil }

type indexVars struct{ i int64 }

func (a *indexVars) ResolveName(name string) (any, bool) {
	if name == "i" {
		return a.i, true
	}
	return nil, false
}

func (a *indexVars) Parent() interpreter.Activation { return nil }

// eval evaluates the expression over rec and converts the result to a
// JSON-like Go value.
func (e *expr) eval(rec map[string]any) (any, error) {
	for _, f := range e.free {
		if _, ok := rec[f]; !ok {
			return nil, fmt.Errorf("%s: the record has no field %q (test with has(record.%s))", e.src, f, f)
		}
	}
	v, _, err := e.prg.Eval(&recordVars{rec: rec, maybe: e.maybe})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.src, err)
	}
	out, err := native(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.src, err)
	}
	return out, nil
}

func (e *expr) evalIndex(i int64) (any, error) {
	v, _, err := e.prg.Eval(&indexVars{i: i})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.src, err)
	}
	out, err := native(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.src, err)
	}
	return out, nil
}

func (e *expr) evalBool(rec map[string]any) (bool, error) {
	v, err := e.eval(rec)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s: got %s, want a bool", e.src, typeName(v))
	}
	return b, nil
}

// native converts a CEL value into a JSON-like Go value: nil, bool,
// int64, uint64, float64, string, []any, map[string]any. Bytes become
// base64 strings, timestamps RFC 3339 strings and durations Go duration
// strings.
func native(v ref.Val) (any, error) {
	switch x := v.(type) {
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(x), nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		return uint64(x), nil
	case types.Double:
		return float64(x), nil
	case types.String:
		return string(x), nil
	case types.Bytes:
		return base64.StdEncoding.EncodeToString(x), nil
	case types.Timestamp:
		return x.Time.UTC().Format(time.RFC3339Nano), nil
	case types.Duration:
		return x.Duration.String(), nil
	case *types.Err:
		return nil, x
	}
	if o, ok := v.(*types.Optional); ok {
		if !o.HasValue() {
			return nil, nil
		}
		return native(o.GetValue())
	}
	if m, ok := v.(traits.Mapper); ok {
		out := map[string]any{}
		it := m.Iterator()
		for it.HasNext() == types.True {
			k := it.Next()
			ks, ok := k.(types.String)
			if !ok {
				return nil, fmt.Errorf("map key %v is a %s; record keys must be strings", k, k.Type())
			}
			val, err := native(m.Get(k))
			if err != nil {
				return nil, err
			}
			out[string(ks)] = val
		}
		return out, nil
	}
	if l, ok := v.(traits.Lister); ok {
		var out []any
		it := l.Iterator()
		for it.HasNext() == types.True {
			val, err := native(it.Next())
			if err != nil {
				return nil, err
			}
			out = append(out, val)
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	}
	if t, ok := v.(ref.Type); ok {
		return t.TypeName(), nil
	}
	return v.Value(), nil
}

// typeName names the JSON-like type of v for messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a bool"
	case int64, int, uint64:
		return "an int"
	case float64:
		return "a double"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	}
	return fmt.Sprintf("%T", v)
}

// toMillis converts an event-time value into unix milliseconds: an
// integer (milliseconds), a float (milliseconds), or an RFC 3339 string.
func toMillis(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("%d is out of range", x)
		}
		return int64(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) || x > math.MaxInt64 || x < math.MinInt64+1 {
			return 0, fmt.Errorf("%v is not a timestamp", x)
		}
		return int64(x), nil
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return 0, fmt.Errorf("%q is not an RFC 3339 time (e.g. 2024-05-01T12:00:00Z)", x)
		}
		return t.UnixMilli(), nil
	}
	return 0, fmt.Errorf("got %s; want unix milliseconds or an RFC 3339 string", typeName(v))
}
