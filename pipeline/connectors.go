package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/collection"
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/connector/socket"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/stream"
)

// sourceImpl builds a decoded source; ws assigns event time (the zero
// strategy when the pipeline has none).
type sourceImpl interface {
	build(b *builder, src *Source, ws eventtime.Strategy[Record]) (stream.Stream[Record], error)
	// recordType checks the source's schema: (nil when absent; its node
	// is o's "schema") against what the source knows of its records, and
	// returns the type of the records it emits (nil: not known).
	recordType(d *decoder, o *obj, schema *recordType) *recordType
}

// sinkImpl builds a decoded sink.
type sinkImpl interface {
	build(b *builder, in stream.Stream[Record], snk *Sink) (stream.Sink, error)
}

type sourceType struct {
	keys   []string
	decode func(d *decoder, o *obj) sourceImpl
}

type sinkType struct {
	keys   []string
	decode func(d *decoder, o *obj) sinkImpl
}

var (
	sourceTypes = map[string]sourceType{
		"generator":  {keys: []string{"records", "count", "fields", "rate"}, decode: decodeGenerator},
		"collection": {keys: []string{"records", "count", "fields", "rate"}, decode: decodeGenerator},
		"file":       {keys: []string{"path", "format", "csv", "monitor_interval", "recursive", "max_record_size", "late_file_tolerance"}, decode: decodeFileSource},
		"socket":     {keys: []string{"address", "format", "end_on_close", "max_line_bytes"}, decode: decodeSocketSource},
	}
	sinkTypes = map[string]sinkType{
		"file": {keys: []string{"path", "format", "csv", "part_prefix", "max_part_size", "max_part_age", "inactivity", "buckets", "bucket_layout", "bucket_field"}, decode: decodeFileSink},
	}
)

// lookupSourceType returns the source type typ: built in, or of the
// connector registry.
func lookupSourceType(typ string) (sourceType, bool) {
	if st, ok := sourceTypes[typ]; ok {
		return st, true
	}
	if t, ok := connector.LookupSource(typ); ok {
		return registeredSourceType(t), true
	}
	return sourceType{}, false
}

// lookupSinkType returns the sink type typ: built in, or of the
// connector registry.
func lookupSinkType(typ string) (sinkType, bool) {
	if st, ok := sinkTypes[typ]; ok {
		return st, true
	}
	if t, ok := connector.LookupSink(typ); ok {
		return registeredSinkType(t), true
	}
	return sinkType{}, false
}

func sourceTypeNames() []string {
	return mergeNames(sortedKeys(sourceTypes), connector.SourceTypeNames())
}

func sinkTypeNames() []string {
	return mergeNames(sortedKeys(sinkTypes), connector.SinkTypeNames())
}

func mergeNames(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ---- record formats ----

// decodeJSONRecord decodes one JSON object; integers stay int64.
func decodeJSONRecord(b []byte) (Record, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value on the line")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a JSON %s, not an object", jsonKind(v))
	}
	return fixNumbers(m).(Record), nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "value"
}

// fixNumbers turns json.Number into int64 (integers that fit) or float64.
func fixNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i
			}
		}
		f, _ := strconv.ParseFloat(s, 64)
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = fixNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = fixNumbers(e)
		}
		return x
	}
	return v
}

func encodeJSONValue(v any) ([]byte, error) { return json.Marshal(sanitize(v)) }

// encodeJSONRecord encodes a record as JSON (keys sorted). Floats that
// JSON cannot hold (NaN, infinities) become null.
func encodeJSONRecord(r Record) ([]byte, error) {
	b, err := json.Marshal(r)
	if err == nil {
		return b, nil
	}
	var ue *json.UnsupportedValueError
	if errors.As(err, &ue) {
		return json.Marshal(sanitize(r))
	}
	return nil, err
}

func sanitize(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = sanitize(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = sanitize(e)
		}
		return l
	}
	return v
}

// decodeFormat decodes the format option of a source: json (JSON lines,
// one object per line) or text (each line becomes {"line": "..."}).
func decodeFormat(d *decoder, o *obj) string {
	f, _ := d.enum(o, "format", "json", "json", "text")
	return f
}

func lineDecoder(format string) func([]byte) (Record, error) {
	if format == "text" {
		return func(b []byte) (Record, error) { return Record{"line": string(b)}, nil }
	}
	return decodeJSONRecord
}

// ---- generator / collection ----

type generatorSource struct {
	records []Record
	recNode []*node // the node of each of records
	count   int64   // < 0 unbounded
	fields  []field
	rate    float64
	// schema, with fields:, is checked on every record generated (the
	// types of some expressions are known only when they run).
	schema *recordType
}

func decodeGenerator(d *decoder, o *obj) sourceImpl {
	g := &generatorSource{count: -1}
	hint := "give records: (a list of records) or fields: (CEL expressions over i, the record's index) with an optional count:"
	rn, fn := o.get("records"), o.get("fields")
	switch {
	case rn != nil && fn != nil:
		d.fail(fn, o.at("fields"), "give records: or fields:, not both")
		return nil
	case rn != nil:
		if o.has("count") {
			d.fail(o.get("count"), o.at("count"), "count: goes with fields:; records: emits its records once")
		}
		for i, it := range d.list(rn, o.at("records")) {
			if it.kind != kindMap {
				d.fail(it, index(o.at("records"), i), "expected a record (a mapping), got %s", describe(it))
				continue
			}
			g.records = append(g.records, toAny(it).(map[string]any))
			g.recNode = append(g.recNode, it)
		}
		g.count = int64(len(g.records))
	case fn != nil:
		if fn.kind != kindMap || len(fn.keys) == 0 {
			d.fail(fn, o.at("fields"), "expected a mapping of field names to CEL expressions over i, e.g. {user: \"'user-' + string(i %% 10)\"}")
			return nil
		}
		for i, k := range fn.keys {
			if e := d.expression(fn.vals[i], sub(o.at("fields"), k), scopeIndex, outAny); e != nil {
				g.fields = append(g.fields, field{name: k, e: e})
			}
		}
		g.count = d.integer(o, "count", -1, -1, math.MaxInt64)
	default:
		d.fail(o.node(), o.path, "%s", hint)
		return nil
	}
	g.rate = d.number(o, "rate", 0, 0)
	return g
}

// recordType: with records:, each record is checked against the schema
// now; with fields:, the fields are those expressions, of their types,
// and a schema must agree with them.
func (g *generatorSource) recordType(d *decoder, o *obj, schema *recordType) *recordType {
	if g.records != nil || o.has("records") {
		for i, rec := range g.records {
			if schema != nil {
				if err := schema.check(rec); err != nil {
					d.fail(g.recNode[i], index(o.at("records"), i), "%v", err)
				}
			}
		}
		return schema
	}
	made := newRecordType("source.fields")
	for _, f := range g.fields {
		made.fields = append(made.fields, fieldType{name: f.name, typ: fromCEL(f.e.out)})
	}
	if schema == nil {
		return made
	}
	sn := o.get("schema")
	out := newRecordType("source.schema")
	for i, f := range schema.fields {
		t, ok := made.field(f.name)
		switch {
		case !ok:
			d.fail(sn.keyNode[i], sub(o.at("schema"), f.name), "the generator makes no field %s%s; its fields: %s",
				f.name, suggestField(f.name, made.names()), made)
		case !f.typ.assignable(t) && t.kind != "any":
			d.fail(sn.vals[i], sub(o.at("schema"), f.name), "source.fields.%s is of type %s, not %s", f.name, t, f.typ)
		}
		out.fields = append(out.fields, f)
	}
	for _, f := range made.fields {
		if _, ok := schema.field(f.name); !ok {
			out.fields = append(out.fields, f)
		}
	}
	g.schema = schema
	return out
}

func (g *generatorSource) build(b *builder, src *Source, ws eventtime.Strategy[Record]) (stream.Stream[Record], error) {
	id := src.UID
	if id == "" {
		id = "source"
	}
	if g.records != nil {
		cs := collection.Slice(g.records, collection.Rate(g.rate))
		s := stream.FromSource(b.env, src.Name, cs, ws).UID(id)
		if src.Parallelism > 0 {
			s = s.Parallelism(src.Parallelism)
		}
		return s, nil
	}
	cs := collection.Generate(g.count, func(i int64) int64 { return i }, collection.Rate(g.rate))
	idx := stream.FromSource(b.env, src.Name, cs, eventtime.NoWatermarks[int64]()).UID(id)
	if src.Parallelism > 0 {
		idx = idx.Parallelism(src.Parallelism)
	}
	fields, schema := g.fields, g.schema
	s := process(b, idx, "Generate("+short(fieldNames(fields))+")", id+"-fields", src.Parallelism,
		func(ctx *stream.Context, i int64, out stream.Collector[Record]) error {
			rec := make(Record, len(fields))
			for _, f := range fields {
				v, err := f.e.evalIndex(i)
				if err != nil {
					return b.fail(ctx, "source.fields."+f.name, Record{"i": i}, err)
				}
				rec[f.name] = v
			}
			if schema != nil {
				if err := schema.check(rec); err != nil {
					return b.fail(ctx, "source.schema", rec, err)
				}
			}
			out.Collect(rec)
			return nil
		})
	if ws.HasTimestamps() {
		s = stream.AssignTimestamps(s, ws).Name("Timestamps/Watermarks").UID(id + "-timestamps")
		if src.Parallelism > 0 {
			s = s.Parallelism(src.Parallelism)
		}
	}
	return s, nil
}

func fieldNames(fs []field) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// fromSource adds a connector source of records, with its dead letters.
func fromSource[T any](b *builder, src *Source, s stream.Stream[T]) stream.Stream[T] {
	id := src.UID
	if id == "" {
		id = "source"
	}
	s = s.UID(id)
	if src.Parallelism > 0 {
		s = s.Parallelism(src.Parallelism)
	}
	if b.dlq {
		b.bad = append(b.bad, stream.DeadLetters(s))
	}
	return s
}

// ---- file ----

type fileSource struct {
	path      string
	format    string
	schema    *recordType // format: json: checked on every record
	csv       *csvSpec
	monitor   time.Duration
	recursive bool
	maxRecord int
	tolerance time.Duration
}

func decodeFileSource(d *decoder, o *obj) sourceImpl {
	s := &fileSource{}
	s.path, _ = d.required(o, "path", "the file or directory to read, e.g. path: ./in")
	s.format, _ = d.enum(o, "format", "json", "json", "text", "csv")
	s.csv = d.decodeCSV(o, s.format, true)
	s.monitor = d.duration(o, "monitor_interval", 0, 0)
	s.recursive = d.boolean(o, "recursive", false)
	s.maxRecord = int(d.integer(o, "max_record_size", 0, 1, math.MaxInt32))
	s.tolerance = d.duration(o, "late_file_tolerance", 0, 0)
	return s
}

func (f *fileSource) recordType(d *decoder, o *obj, schema *recordType) *recordType {
	if f.format == "csv" {
		if schema != nil {
			d.fail(o.keyNode("schema"), o.at("schema"), "a csv source's fields are its csv columns, of the types in csv.types; declare the types there")
			return nil
		}
		if f.csv == nil {
			return nil
		}
		return f.csv.recordType(o.at("csv"))
	}
	f.schema = formatRecordType(d, o, f.format, schema)
	if f.format == "text" {
		return textRecord
	}
	return f.schema
}

// formatRecordType is the type of the records of a source of JSON or text
// lines (format: json or text) with the schema given.
func formatRecordType(d *decoder, o *obj, format string, schema *recordType) *recordType {
	if format == "text" {
		if schema != nil {
			d.fail(o.keyNode("schema"), o.at("schema"), "format: text makes records with one field, line: string; drop schema:")
		}
		return textRecord
	}
	return schema
}

func (f *fileSource) build(b *builder, src *Source, ws eventtime.Strategy[Record]) (stream.Stream[Record], error) {
	var format file.Format[Record] = file.LineFormat(checkedDecoder(lineDecoderSkipBlank(f.format), f.schema))
	if f.csv != nil {
		format = newCSVFormat(f.csv)
	}
	opts := []file.SourceOption{file.SourceName(src.Name)}
	if f.monitor > 0 {
		opts = append(opts, file.Continuous(f.monitor))
	}
	if f.recursive {
		opts = append(opts, file.Recursive())
	}
	if f.maxRecord > 0 {
		opts = append(opts, file.MaxRecordSize(f.maxRecord))
	}
	if f.tolerance > 0 {
		opts = append(opts, file.LateFileTolerance(f.tolerance))
	}
	fs := file.NewSource(f.path, format, opts...)
	return fromSource(b, src, stream.FromSource(b.env, src.Name, fs, ws)), nil
}

func lineDecoderSkipBlank(format string) func([]byte) (Record, error) {
	dec := lineDecoder(format)
	if format == "text" {
		return dec
	}
	return func(b []byte) (Record, error) {
		if len(bytes.TrimSpace(b)) == 0 {
			return nil, file.ErrSkip
		}
		return dec(b)
	}
}

type fileSink struct {
	path     string
	csv      *csvSpec // format: csv
	prefix   string
	rolling  file.RollingPolicy
	buckets  string
	layout   string
	bucketBy *expr
}

func decodeFileSink(d *decoder, o *obj) sinkImpl {
	s := &fileSink{rolling: file.DefaultRollingPolicy()}
	s.path, _ = d.required(o, "path", "the directory to write part files into, e.g. path: ./out")
	format, _ := d.enum(o, "format", "json", "json", "csv")
	s.csv = d.decodeCSV(o, format, false)
	s.prefix = d.str(o, "part_prefix", "")
	if s.prefix != "" && (strings.HasPrefix(s.prefix, ".") || strings.HasPrefix(s.prefix, "_") || strings.ContainsAny(s.prefix, "/\\")) {
		d.fail(o.get("part_prefix"), o.at("part_prefix"), "%q must not start with . or _ nor contain a slash", s.prefix)
	}
	s.rolling.MaxSize = d.integer(o, "max_part_size", s.rolling.MaxSize, 1, math.MaxInt64)
	s.rolling.MaxAge = d.duration(o, "max_part_age", s.rolling.MaxAge, 0)
	s.rolling.Inactivity = d.duration(o, "inactivity", s.rolling.Inactivity, 0)
	var bn *node
	s.buckets, bn = d.enum(o, "buckets", "none", "none", "processing_time", "event_time", "field")
	s.layout = d.str(o, "bucket_layout", "")
	if s.buckets == "field" {
		if !o.has("bucket_field") {
			d.fail(o.node(), o.at("bucket_field"), "missing; buckets: field needs bucket_field: (a field name or CEL expression)")
		} else {
			s.bucketBy = d.expression(o.get("bucket_field"), o.at("bucket_field"), d.scope(), outAny)
			if s.bucketBy != nil {
				if src := keyExprSource(s.bucketBy.src); src != s.bucketBy.src {
					e, err := compile(src, d.scope(), outAny)
					if err == nil {
						s.bucketBy = e
					}
				}
			}
		}
	} else if o.has("bucket_field") && !d.bad(bn) {
		d.fail(o.get("bucket_field"), o.at("bucket_field"), "bucket_field goes with buckets: field")
	}
	return s
}

func (f *fileSink) build(b *builder, in stream.Stream[Record], _ *Sink) (stream.Sink, error) {
	enc := file.RowEncoder(".jsonl", nil, func(dst []byte, r Record) ([]byte, error) {
		j, err := encodeJSONRecord(r)
		if err != nil {
			return dst, err
		}
		dst = append(dst, j...)
		return append(dst, '\n'), nil
	})
	if f.csv != nil {
		enc = csvEncoder(f.csv)
	}
	opts := []file.SinkOption{file.Rolling(f.rolling)}
	if f.prefix != "" {
		opts = append(opts, file.PartPrefix(f.prefix))
	}
	switch f.buckets {
	case "processing_time":
		opts = append(opts, file.Buckets(file.ByProcessingTime[Record](f.layout, nil)))
	case "event_time":
		opts = append(opts, file.Buckets(file.ByEventTime[Record](f.layout, nil)))
	case "field":
		e := f.bucketBy
		opts = append(opts, file.Buckets(file.BucketFunc[Record](func(r Record, _ int64, _ time.Time) (string, error) {
			v, err := e.eval(r)
			if err != nil {
				return "", err
			}
			return fmt.Sprint(v), nil
		})))
	}
	return in.SinkTo("file", file.NewSink(f.path, enc, opts...)), nil
}

// ---- socket ----

type socketSource struct {
	addr   string
	fmt    string
	opts   []socket.SourceOption
	schema *recordType // format: json: checked on every record
}

func (s *socketSource) recordType(d *decoder, o *obj, schema *recordType) *recordType {
	if s.fmt == "json" {
		s.schema = schema
	}
	return formatRecordType(d, o, s.fmt, schema)
}

func decodeSocketSource(d *decoder, o *obj) sourceImpl {
	s := &socketSource{}
	s.addr, _ = d.required(o, "address", "host:port of the server to read lines from")
	s.fmt = decodeFormat(d, o)
	if d.boolean(o, "end_on_close", false) {
		s.opts = append(s.opts, socket.EndOnClose())
	}
	if n := d.integer(o, "max_line_bytes", 0, 1, math.MaxInt32); n > 0 {
		s.opts = append(s.opts, socket.MaxLineBytes(int(n)))
	}
	return s
}

func (s *socketSource) build(b *builder, src *Source, ws eventtime.Strategy[Record]) (stream.Stream[Record], error) {
	lines := fromSource(b, src, stream.FromSource(b.env, src.Name, socket.NewSource(s.addr, s.opts...), eventtime.NoWatermarks[string]()))
	dec := checkedDecoder(lineDecoder(s.fmt), s.schema)
	id := src.UID
	if id == "" {
		id = "source"
	}
	out := process(b, lines, "Decode("+s.fmt+")", id+"-decode", src.Parallelism,
		func(ctx *stream.Context, line string, c stream.Collector[Record]) error {
			if s.fmt == "json" && strings.TrimSpace(line) == "" {
				return nil
			}
			r, err := dec([]byte(line))
			if err != nil {
				return b.fail(ctx, "source ("+s.addr+")", Record{"line": line}, err)
			}
			c.Collect(r)
			return nil
		})
	if ws.HasTimestamps() {
		out = stream.AssignTimestamps(out, ws).Name("Timestamps/Watermarks").UID(id + "-timestamps")
	}
	return out, nil
}

// SourceTypes lists the source types of YAML pipelines (source.type).
func SourceTypes() []string { return sourceTypeNames() }

// SinkTypes lists the sink types of YAML pipelines (sink.type).
func SinkTypes() []string { return sinkTypeNames() }
