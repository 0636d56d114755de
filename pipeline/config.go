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
	if len(t.Formats) > 0 {
		keys = append(keys, "format")
	}
	return sourceType{keys: keys, decode: func(d *decoder, o *obj) sourceImpl {
		r := &registeredSource{t: t, cfg: t.Config()}
		if len(t.Formats) > 0 {
			r.format, _ = d.enum(o, "format", t.Formats[0], t.Formats...)
		}
		if !d.decodeConfig(o, r.cfg) {
			return nil
		}
		return r
	}}
}

// registeredSinkType returns the sinkType of a registered sink.
func registeredSinkType(t connector.SinkType) sinkType {
	keys := configKeys(reflect.TypeOf(t.Config()))
	if len(t.Formats) > 0 {
		keys = append(keys, "format")
	}
	return sinkType{keys: keys, decode: func(d *decoder, o *obj) sinkImpl {
		r := &registeredSink{t: t, cfg: t.Config()}
		if len(t.Formats) > 0 {
			d.enum(o, "format", t.Formats[0], t.Formats...)
		}
		if !d.decodeConfig(o, r.cfg) {
			return nil
		}
		return r
	}}
}

type registeredSource struct {
	t      connector.SourceType
	cfg    connector.SourceConfig
	format string      // one of t.Formats; "" without
	schema *recordType // format: json: checked on every record
}

func (r *registeredSource) recordType(d *decoder, o *obj, schema *recordType) *recordType {
	if r.format == "" {
		return schema
	}
	if r.format == "json" {
		r.schema = schema
	}
	return formatRecordType(d, o, r.format, schema)
}

func (r *registeredSource) build(b *builder, src *Source, ws eventtime.Strategy[Record]) (stream.Stream[Record], error) {
	ctx := &buildContext{b: b, name: src.Name, id: "source"}
	if r.format != "" {
		ctx.decode = checkedDecoder(lineDecoder(r.format), r.schema)
	}
	s, err := r.cfg.NewSource(ctx)
	if err != nil {
		return stream.Stream[Record]{}, err
	}
	return fromSource(b, src, stream.FromSource(b.env, src.Name, s, ws)), nil
}

type registeredSink struct {
	t   connector.SinkType
	cfg connector.SinkConfig
}

func (r *registeredSink) build(b *builder, in stream.Stream[Record], snk *Sink) (stream.Sink, error) {
	s, err := r.cfg.NewSink(&buildContext{b: b, name: snk.Name, id: uid(snk.path)})
	if err != nil {
		return stream.Sink{}, err
	}
	return in.SinkTo(r.t.Name, s), nil
}

// buildContext is the connector.BuildContext of one source or sink.
type buildContext struct {
	b        *builder
	name, id string
	decode   func([]byte) (Record, error) // nil: not a source with a format
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
		return nil, fmt.Errorf("%s: DecodeRecord of a connector without a record format", c.name)
	}
	return c.decode(b)
}

func (c *buildContext) EncodeRecord(r Record) ([]byte, error) { return encodeJSONRecord(r) }

// ---- decoding typed configurations ----

// configField is an option of a configuration struct.
type configField struct {
	key      string
	index    int
	required string // the hint when the option is required
	enum     []string
	min, max string
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	exprType     = reflect.TypeFor[connector.Expr]()
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
// configuration struct, and checks it (connector.Checker). It reports
// whether cfg can be used: false when it has mistakes.
func (d *decoder) decodeConfig(o *obj, cfg any) bool {
	before := d.errs.count()
	d.decodeStruct(o, reflect.ValueOf(cfg).Elem())
	if c, ok := cfg.(connector.Checker); ok {
		c.Check(&configCheck{d: d, o: o})
	}
	return d.errs.count() == before
}

// decodeStruct decodes the options of o into the struct v; o's keys were
// checked by the caller.
func (d *decoder) decodeStruct(o *obj, v reflect.Value) {
	for _, f := range configFields(v.Type()) {
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
		s, ok := d.scalar(n, path, "a field name or CEL expression")
		if !ok {
			return
		}
		e, err := compile(keyExprSource(strings.TrimSpace(s)), d.scope(), outAny)
		if err != nil {
			d.fail(n, path, "bad CEL expression %q: %v", short(s), err)
			return
		}
		v.Set(reflect.ValueOf(connector.NewExpr(s, e.eval)))
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
			d.decodeStruct(so, elem.Elem())
			v.Set(elem)
			return
		}
		d.decodeField(o, f, elem.Elem())
		v.Set(elem)
	case t.Kind() == reflect.Struct:
		so := d.object(n, path, configKeys(t)...)
		if so != nil {
			d.decodeStruct(so, v)
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

// find returns the node at the dotted key, or (when it is absent) the
// deepest mapping on its way, and whether the key itself was found.
func (c *configCheck) find(key string) (*node, bool) {
	n := c.o.node()
	for part := range strings.SplitSeq(key, ".") {
		next := n.get(part)
		if next == nil || next.kind == kindNull {
			return n, false
		}
		n = next
	}
	return n, true
}

func (c *configCheck) Fail(key, format string, args ...any) {
	n, _ := c.find(key)
	c.d.fail(n, c.o.at(key), format, args...)
}

func (c *configCheck) FailAt(blame, key, format string, args ...any) {
	n, _ := c.find(blame)
	c.d.fail(n, c.o.at(key), format, args...)
}

func (c *configCheck) Has(key string) bool {
	_, ok := c.find(key)
	return ok
}

func (c *configCheck) Bad(keys ...string) bool {
	for _, k := range keys {
		if n, ok := c.find(k); ok && anyFailed(n) {
			return true
		}
	}
	return false
}

// anyFailed reports whether a mistake was reported about n or a node
// below it.
func anyFailed(n *node) bool {
	if n.failed {
		return true
	}
	return slices.ContainsFunc(n.vals, anyFailed) || slices.ContainsFunc(n.items, anyFailed)
}
