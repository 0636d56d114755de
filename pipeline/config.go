package pipeline

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/stream"
)

// Sources and sinks of the connector registry (connector.RegisterSource,
// connector.RegisterSink): their options are decoded into the typed
// configuration their type returns, driven by its struct tags (see
// package connector), checked by its Check method, and built through a
// BuildContext.

// registeredSourceType returns the sourceType of a registered source.
func registeredSourceType(t connector.SourceType) sourceType {
	keys := configKeys(reflect.TypeOf(t.Config()))
	if len(t.Formats) > 0 && !slices.Contains(keys, "format") {
		keys = append(keys, "format")
	}
	return sourceType{keys: keys, decode: func(d *decoder, o *obj) sourceImpl {
		r := &registeredSource{t: t, cfg: t.Config()}
		var format *string
		if len(t.Formats) > 0 {
			r.format, _ = d.enum(o, "format", t.Formats[0], t.Formats...)
			format = &r.format
		}
		if !d.decodeConfig(o, r.cfg, format) {
			return nil
		}
		return r
	}}
}

// registeredSinkType returns the sinkType of a registered sink.
func registeredSinkType(t connector.SinkType) sinkType {
	keys := configKeys(reflect.TypeOf(t.Config()))
	if len(t.Formats) > 0 && !slices.Contains(keys, "format") {
		keys = append(keys, "format")
	}
	return sinkType{keys: keys, decode: func(d *decoder, o *obj) sinkImpl {
		r := &registeredSink{t: t, cfg: t.Config()}
		var format *string
		if len(t.Formats) > 0 {
			r.format, _ = d.enum(o, "format", t.Formats[0], t.Formats...)
			format = &r.format
		}
		if !d.decodeConfig(o, r.cfg, format) {
			return nil
		}
		return r
	}}
}

type registeredSource struct {
	t      connector.SourceType
	cfg    connector.SourceConfig
	format string      // one of t.Formats; "" without
	schema *recordType // format: json: checked by DecodeRecord
	// check is the schema: that the records of a source that does not
	// decode them with DecodeRecord are checked against after it.
	check *recordType
}

// recordType returns the type of the records of the source: those its
// configuration declares (connector.Typed), with which a schema: must
// agree; the line of format: text; or the schema:, checked against the
// records the file lists (connector.Listed), as each JSON record is
// decoded, or after the source.
func (r *registeredSource) recordType(d *decoder, o *obj, schema *recordType) *recordType {
	if ty, ok := r.cfg.(connector.Typed); ok {
		if t, ok := ty.RecordType(); ok {
			return r.typedRecordType(d, o, schema, t)
		}
	}
	switch r.format {
	case "json":
		r.schema = schema
		return schema
	case "text":
		return formatRecordType(d, o, r.format, schema)
	}
	if l, ok := r.cfg.(connector.Listed); ok {
		if key, recs := l.ListedRecords(); key != "" {
			if schema != nil {
				items := o.get(key)
				for i, rec := range recs {
					if err := schema.check(rec); err != nil && items != nil && i < len(items.items) {
						d.fail(items.items[i], index(o.at(key), i), "%v", err)
					}
				}
			}
			return schema
		}
	}
	r.check = schema
	return schema
}

// typedRecordType is recordType for a source that declares the fields of
// its records.
func (r *registeredSource) typedRecordType(d *decoder, o *obj, schema *recordType, t connector.RecordType) *recordType {
	made := newRecordType(o.at(t.From))
	for _, f := range t.Fields {
		made.fields = append(made.fields, fieldType{name: f.Name, typ: valueType{kind: f.Type, null: f.Nullable || f.Type == "any"}})
	}
	if schema == nil {
		return made
	}
	if t.NoSchema != "" {
		d.fail(o.keyNode("schema"), o.at("schema"), "%s", t.NoSchema)
		return nil
	}
	maker := t.Maker
	if maker == "" {
		maker = "the source"
	}
	sn := o.get("schema")
	out := newRecordType(o.at("schema"))
	for i, f := range schema.fields {
		ft, ok := made.field(f.name)
		switch {
		case !ok:
			d.fail(sn.keyNode[i], sub(o.at("schema"), f.name), "%s makes no field %s%s; its fields: %s",
				maker, f.name, suggestField(f.name, made.names()), made)
		case !f.typ.assignable(ft) && ft.kind != "any":
			d.fail(sn.vals[i], sub(o.at("schema"), f.name), "%s.%s is of type %s, not %s", made.origin, f.name, ft, f.typ)
		}
		out.fields = append(out.fields, f)
	}
	for _, f := range made.fields {
		if _, ok := schema.field(f.name); !ok {
			out.fields = append(out.fields, f)
		}
	}
	r.check = schema
	return out
}

func (r *registeredSource) build(b *builder, src *Source, ws eventtime.Strategy[Record]) (stream.Stream[Record], error) {
	ctx := &buildContext{b: b, name: src.Name, id: "source", format: r.format}
	if r.format == "json" || r.format == "text" {
		ctx.decode = checkedDecoder(lineDecoder(r.format), r.schema)
	}
	s, err := r.cfg.NewSource(ctx)
	if err != nil {
		return stream.Stream[Record]{}, err
	}
	s = declaredSource{Source: s, cfg: r.cfg}
	out := fromSource(b, src, stream.FromSource(b.env, src.Name, s, ws))
	if r.check != nil {
		schema := r.check
		out = process(b, out, "Check schema", sourceID(src)+"-schema", src.Parallelism,
			func(ctx *stream.Context, v Record, c stream.Collector[Record]) error {
				if err := schema.check(v); err != nil {
					return b.fail(ctx, "source.schema", v, err)
				}
				c.Collect(v)
				return nil
			})
	}
	return out, nil
}

// declaredSource is a source whose guarantee is the one its configuration
// declares (connector.SourceConfig): that of the source, or more where
// the pipeline adds to it (connector.Deduplicated).
type declaredSource struct {
	connector.Source[Record]
	cfg connector.SourceConfig
}

func (s declaredSource) Declare(checkpointing bool) connector.Declaration {
	return s.cfg.Declare(checkpointing)
}

type registeredSink struct {
	t      connector.SinkType
	cfg    connector.SinkConfig
	format string // one of t.Formats; "" without
}

func (r *registeredSink) build(b *builder, in stream.Stream[Record], snk *Sink) (stream.Sink, error) {
	s, err := r.cfg.NewSink(&buildContext{b: b, name: snk.Name, id: uid(snk.path), format: r.format})
	if err != nil {
		return stream.Sink{}, err
	}
	return in.SinkTo(r.t.Name, s), nil
}

// buildContext is the connector.BuildContext of one source or sink.
type buildContext struct {
	b        *builder
	name, id string
	format   string                       // the format: chosen, "" without
	decode   func([]byte) (Record, error) // nil: not a source of json or text
}

func (c *buildContext) Name() string         { return c.name }
func (c *buildContext) ID() string           { return c.id }
func (c *buildContext) Job() string          { return c.b.p.Name }
func (c *buildContext) Logger() *slog.Logger { return c.b.log }
func (c *buildContext) Stdout() io.Writer    { return c.b.stdout }
func (c *buildContext) Checkpoints() (time.Duration, time.Duration) {
	return c.b.p.Checkpoints.Interval, c.b.p.Checkpoints.Timeout
}

func (c *buildContext) DecodeRecord(b []byte) (Record, error) {
	if c.decode == nil {
		if c.format != "" {
			return nil, fmt.Errorf("%s: records of format %s are decoded by the connector", c.name, c.format)
		}
		return nil, fmt.Errorf("%s: DecodeRecord of a connector without a record format", c.name)
	}
	return c.decode(b)
}

// EncodeRecord encodes r as JSON, the format of sinks without format: and
// of format: json.
func (c *buildContext) EncodeRecord(r Record) ([]byte, error) {
	if c.format != "" && c.format != "json" {
		return nil, fmt.Errorf("%s: records of format %s are encoded by the connector", c.name, c.format)
	}
	return encodeJSONRecord(r)
}

// ---- decoding typed configurations ----

// configField is an option of a configuration struct.
type configField struct {
	key      string
	index    int
	required string // the hint when the option is required
	enum     []string
	min, max string
	overI    bool   // expr:"index": expressions over i
	mapping  string // mapping:"what to what", in messages
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	exprType     = reflect.TypeFor[connector.Expr]()
	namedExprs   = reflect.TypeFor[[]connector.NamedExpr]()
	recordsType  = reflect.TypeFor[[]connector.Record]()
	stringMap    = reflect.TypeFor[map[string]string]()
	boolFormType = reflect.TypeFor[connector.BoolForm]()
)

// configFields returns the options of the struct type t (or of the
// struct t points to), in the order of its fields.
func configFields(t reflect.Type) []configField {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []configField
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || key == "" || key == "-" {
			continue
		}
		cf := configField{key: key, index: i, required: f.Tag.Get("required"),
			min: f.Tag.Get("min"), max: f.Tag.Get("max")}
		if e := f.Tag.Get("enum"); e != "" {
			cf.enum = strings.Split(e, ",")
		}
		cf.overI = f.Tag.Get("expr") == "index"
		cf.mapping = f.Tag.Get("mapping")
		out = append(out, cf)
	}
	return out
}

func configKeys(t reflect.Type) []string {
	var keys []string
	for _, f := range configFields(t) {
		keys = append(keys, f.key)
	}
	return keys
}

// decodeConfig decodes the options of o into cfg, a pointer to a
// configuration struct, and checks it (connector.Checker). format, when
// not nil, is the format: the caller decoded, for a field tagged
// yaml:"format". It reports whether cfg can be used: false when it has
// mistakes.
func (d *decoder) decodeConfig(o *obj, cfg any, format *string) bool {
	before := d.errs.count()
	v := reflect.ValueOf(cfg).Elem()
	d.decodeStruct(o, v, format != nil)
	if format != nil {
		for _, f := range configFields(v.Type()) {
			if f.key == "format" && v.Field(f.index).Kind() == reflect.String {
				v.Field(f.index).SetString(*format)
			}
		}
	}
	if c, ok := cfg.(connector.Checker); ok {
		c.Check(&configCheck{d: d, o: o})
	}
	return d.errs.count() == before
}

// decodeStruct decodes the options of o into the struct v; o's keys were
// checked by the caller. skipFormat: format: was decoded by the caller.
func (d *decoder) decodeStruct(o *obj, v reflect.Value, skipFormat bool) {
	for _, f := range configFields(v.Type()) {
		if skipFormat && f.key == "format" {
			continue
		}
		fv := v.Field(f.index)
		if !o.has(f.key) {
			if f.required != "" {
				d.fail(o.node(), o.at(f.key), "missing; %s", f.required)
			}
			continue
		}
		d.decodeField(o, f, fv)
	}
}

// decodeField decodes the option f of o, which is given, into v.
func (d *decoder) decodeField(o *obj, f configField, v reflect.Value) {
	n, path := o.get(f.key), o.at(f.key)
	t := v.Type()
	switch {
	case t == exprType:
		if e, ok := d.configExpr(n, path, f.overI); ok {
			v.Set(reflect.ValueOf(e))
		}
	case t == namedExprs:
		if n.kind != kindMap || len(n.keys) == 0 {
			over := ""
			if f.overI {
				over = " over i, the record's index"
			}
			d.failValue(n, path, "expected a mapping of field names to CEL expressions%s, got %s", over, describe(n))
			return
		}
		var out []connector.NamedExpr
		for i, k := range n.keys {
			if e, ok := d.configExpr(n.vals[i], sub(path, k), f.overI); ok {
				out = append(out, connector.NamedExpr{Name: k, Expr: e})
			}
		}
		v.Set(reflect.ValueOf(out))
	case t == recordsType:
		out := []connector.Record{} // given, if empty
		for i, it := range d.list(n, path) {
			if it.kind != kindMap {
				d.failValue(it, index(path, i), "expected a record (a mapping), got %s", describe(it))
				continue
			}
			out = append(out, toAny(it).(map[string]any))
		}
		v.Set(reflect.ValueOf(out))
	case t == stringMap:
		if n.kind != kindMap {
			of := ""
			if f.mapping != "" {
				of = " of " + f.mapping
			}
			d.failValue(n, path, "expected a mapping%s, got %s", of, describe(n))
			return
		}
		out := make(map[string]string, len(n.keys))
		mo := &obj{n: n, path: path}
		for _, k := range n.keys {
			if f.enum != nil {
				out[k], _ = d.enum(mo, k, "", f.enum...)
			} else {
				out[k] = d.str(mo, k, "")
			}
		}
		v.Set(reflect.ValueOf(out))
	case t == durationType:
		lo := time.Duration(math.MinInt64)
		if f.min != "" {
			lo = mustDuration(f.min)
		}
		v.SetInt(int64(d.duration(o, f.key, time.Duration(v.Int()), lo)))
	case t.Kind() == reflect.Pointer:
		elem := reflect.New(t.Elem())
		if n.kind == kindScalar && t.Implements(boolFormType) && t.Elem().Kind() == reflect.Struct {
			bf := elem.Interface().(connector.BoolForm)
			switch strings.ToLower(strings.TrimSpace(n.text)) {
			case "true", "yes", "on":
				bf.SetBool(true)
			case "false", "no", "off":
				bf.SetBool(false)
			default:
				d.failValue(n, path, "%s is not allowed; %s", describe(n), bf.BoolHint())
				return
			}
			v.Set(elem)
			return
		}
		if t.Elem().Kind() == reflect.Struct {
			keys := configKeys(t.Elem())
			so := d.object(n, path, keys...)
			if so == nil {
				return
			}
			d.decodeStruct(so, elem.Elem(), false)
			v.Set(elem)
			return
		}
		d.decodeField(o, f, elem.Elem())
		v.Set(elem)
	case t.Kind() == reflect.Struct:
		so := d.object(n, path, configKeys(t)...)
		if so != nil {
			d.decodeStruct(so, v, false)
		}
	case t.Kind() == reflect.String:
		var s string
		switch {
		case f.enum != nil:
			s, _ = d.enum(o, f.key, v.String(), f.enum...)
		case f.required != "":
			s, _ = d.required(o, f.key, f.required)
		default:
			s = d.str(o, f.key, v.String())
		}
		v.SetString(s)
	case t.Kind() == reflect.Bool:
		v.SetBool(d.boolean(o, f.key, v.Bool()))
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64 || t.Kind() == reflect.Int32:
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		if t.Kind() != reflect.Int64 {
			lo, hi = math.MinInt32, math.MaxInt32
		}
		if f.min != "" {
			lo = mustInt(f.min)
		}
		if f.max != "" {
			hi = mustInt(f.max)
		}
		v.SetInt(d.integer(o, f.key, v.Int(), lo, hi))
	case t.Kind() == reflect.Float64:
		lo := math.Inf(-1)
		if f.min != "" {
			lo = float64(mustInt(f.min))
		}
		v.SetFloat(d.number(o, f.key, v.Float(), lo))
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		v.Set(reflect.ValueOf(d.stringList(n, path)))
	default:
		panic(fmt.Sprintf("pipeline: option %s of type %v is not supported", f.key, t))
	}
}

// configExpr compiles the expression n of an Expr option: over the
// records (a field name alone is one too), or, index, over i.
func (d *decoder) configExpr(n *node, path string, overI bool) (connector.Expr, bool) {
	s, ok := d.scalar(n, path, "a field name or CEL expression")
	if !ok {
		return connector.Expr{}, false
	}
	if overI {
		e, err := compile(s, scopeIndex, outAny)
		if err != nil {
			d.fail(n, path, "bad CEL expression %q: %v", short(s), err)
			return connector.Expr{}, false
		}
		x := connector.NewExpr(s, func(r Record) (any, error) {
			i, _ := r["i"].(int64)
			return e.evalIndex(i)
		})
		x.Type = fromCEL(e.out).String()
		return x, true
	}
	e, err := compile(keyExprSource(strings.TrimSpace(s)), d.scope(), outAny)
	if err != nil {
		d.fail(n, path, "bad CEL expression %q: %v", short(s), err)
		return connector.Expr{}, false
	}
	x := connector.NewExpr(s, e.eval)
	x.Type = fromCEL(e.out).String()
	return x, true
}

func mustDuration(s string) time.Duration {
	if s == "0" {
		return 0
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		panic("pipeline: bad duration bound " + strconv.Quote(s))
	}
	return v
}

func mustInt(s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic("pipeline: bad integer bound " + strconv.Quote(s))
	}
	return v
}

// configCheck is the connector.ConfigCheck of one configuration.
type configCheck struct {
	d *decoder
	o *obj
}

// find returns the node at the dotted key (with [n] for list items),
// or (when it is absent) the deepest mapping on its way, and whether the
// key itself was found. A mapping or list found is blamed at its key's
// line.
func (c *configCheck) find(key string) (*node, bool) {
	n, blame := c.o.node(), c.o.node()
	parts, err := splitPath(key)
	if err != nil {
		return n, false
	}
	for _, p := range parts {
		var next, kn *node
		if p.index >= 0 {
			if n.kind == kindSeq && p.index < len(n.items) {
				next, kn = n.items[p.index], n.items[p.index]
			}
		} else {
			next = n.get(p.key)
			kn = (&obj{n: n}).keyNode(p.key)
		}
		if next == nil || next.kind == kindNull {
			return blame, false
		}
		n, blame = next, next
		if (next.kind == kindMap || next.kind == kindSeq) && kn != nil {
			blame = kn
		}
	}
	return blame, true
}

func (c *configCheck) node(key string) *node {
	if key == "" {
		return c.o.node()
	}
	n, _ := c.find(key)
	return n
}

// at is the path of key; "" is the configuration itself.
func (c *configCheck) at(key string) string {
	if key == "" {
		return c.o.path
	}
	return c.o.at(key)
}

func (c *configCheck) Fail(key, format string, args ...any) {
	c.d.fail(c.node(key), c.at(key), format, args...)
}

func (c *configCheck) FailAt(blame, key, format string, args ...any) {
	c.d.fail(c.node(blame), c.at(key), format, args...)
}

func (c *configCheck) Has(key string) bool {
	_, ok := c.find(key)
	return ok
}

func (c *configCheck) Bad(keys ...string) bool {
	for _, k := range keys {
		if n, ok := c.value(k); ok && anyFailed(n) {
			return true
		}
	}
	return false
}

// value returns the node of the value at key.
func (c *configCheck) value(key string) (*node, bool) {
	n := c.o.node()
	parts, err := splitPath(key)
	if err != nil {
		return nil, false
	}
	for _, p := range parts {
		var next *node
		if p.index >= 0 {
			if n.kind == kindSeq && p.index < len(n.items) {
				next = n.items[p.index]
			}
		} else {
			next = n.get(p.key)
		}
		if next == nil || next.kind == kindNull {
			return nil, false
		}
		n = next
	}
	return n, true
}

// anyFailed reports whether a mistake was reported about n or a node
// below it.
func anyFailed(n *node) bool {
	if n.failed {
		return true
	}
	return slices.ContainsFunc(n.vals, anyFailed) || slices.ContainsFunc(n.items, anyFailed)
}
