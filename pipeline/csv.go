package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sluicehq/sluice/connector/file"
)

// CSV in files: the file source's and sink's csv: section.

// csvColumn is a column of a CSV file: the record field it maps to and the
// type of its values.
type csvColumn struct {
	name string
	typ  string // string, int, float, bool
}

// csvSpec is a decoded csv: section.
type csvSpec struct {
	columns []csvColumn
	header  bool
	comma   rune
	comment rune // 0: none; source only
}

var csvTypes = []string{"string", "int", "float", "bool"}

// decodeCSV decodes the csv: section of a file source (source true) or
// sink. format is the format: chosen; the section goes with csv only.
func (d *decoder) decodeCSV(o *obj, format string, source bool) *csvSpec {
	n := o.get("csv")
	if d.bad(o.get("format")) {
		return nil // whether csv: belongs is not known
	}
	if format != "csv" {
		if n != nil {
			d.fail(o.keyNode("csv"), o.at("csv"), "goes with format: csv")
		}
		return nil
	}
	columnsHint := "the record fields of the columns, in order, e.g. columns: [id, user, amount]"
	if n == nil {
		d.fail(o.node(), o.at("csv"), "missing; format: csv needs csv: with columns: (%s)", columnsHint)
		return nil
	}
	path := o.at("csv")
	keys := []string{"columns", "header", "comma"}
	if source {
		keys = append(keys, "comment", "types")
	}
	c := d.object(n, path, keys...)
	if c == nil {
		return nil
	}
	spec := &csvSpec{comma: ','}
	cn := c.get("columns")
	if cn == nil {
		if source {
			columnsHint += " (a header line is not read for names: a job restored in the middle of a file never sees it)"
		}
		d.fail(n, c.at("columns"), "missing; %s", columnsHint)
		return nil
	}
	var names []string
	for i, it := range d.list(cn, c.at("columns")) {
		s, ok := d.scalar(it, index(c.at("columns"), i), "a field name")
		if !ok {
			continue
		}
		switch {
		case strings.TrimSpace(s) == "":
			d.fail(it, index(c.at("columns"), i), "must not be empty; %s", columnsHint)
		case slices.Contains(names, s):
			d.fail(it, index(c.at("columns"), i), "%q is listed twice; each column is a different field", s)
		default:
			names = append(names, s)
			spec.columns = append(spec.columns, csvColumn{name: s, typ: "string"})
		}
	}
	if cn.kind == kindSeq && len(cn.items) == 0 {
		d.fail(cn, c.at("columns"), "is empty; %s", columnsHint)
	}
	spec.header = d.boolean(c, "header", false)
	spec.comma = d.csvDelimiter(c, "comma", ',')
	if source {
		spec.comment = d.csvDelimiter(c, "comment", 0)
		if spec.comment != 0 && spec.comment == spec.comma && !d.bad(c.get("comma"), c.get("comment")) {
			d.fail(c.get("comment"), c.at("comment"), "must differ from comma")
		}
		if tn := c.get("types"); tn != nil {
			if tn.kind != kindMap {
				d.fail(tn, c.at("types"), "expected a mapping of columns to types (%s), e.g. types: {id: int, amount: float}, got %s",
					strings.Join(csvTypes, ", "), describe(tn))
			} else {
				to := &obj{n: tn, path: c.at("types")}
				for i, k := range tn.keys {
					j := slices.Index(names, k)
					if j < 0 {
						d.fail(tn.keyNode[i], to.at(k), "not one of the columns%s; columns: %s", suggest(k, names), strings.Join(names, ", "))
						continue
					}
					spec.columns[j].typ, _ = d.enum(to, k, "string", csvTypes...)
				}
			}
		}
	}
	if len(spec.columns) == 0 {
		return nil
	}
	return spec
}

// recordType is the type of the records of a CSV source: its columns, of
// their types; empty fields of columns that are not strings are null.
func (spec *csvSpec) recordType(origin string) *recordType {
	rt := newRecordType(origin)
	for _, c := range spec.columns {
		t := valueType{kind: c.typ, null: c.typ != "string"}
		if c.typ == "float" {
			t.kind = "double"
		}
		rt.fields = append(rt.fields, fieldType{name: c.name, typ: t})
	}
	return rt
}

// csvDelimiter decodes a one-character delimiter.
func (d *decoder) csvDelimiter(o *obj, key string, def rune) rune {
	n := o.get(key)
	if n == nil {
		return def
	}
	s, ok := d.scalar(n, o.at(key), "one character")
	if !ok {
		return def
	}
	r, size := utf8.DecodeRuneInString(s)
	if s == "" || size != len(s) || r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
		d.fail(n, o.at(key), "%q is not allowed; use one character other than a quote or a line break, e.g. \",\", \";\" or \"\\t\" (in double quotes) for a tab", s)
		return def
	}
	return r
}

// ---- source ----

// csvFormat reads CSV files into records: the fields of each row become
// the values of the columns, converted to their types.
type csvFormat struct {
	spec *csvSpec
	rows file.Format[[]string]
}

func newCSVFormat(spec *csvSpec) csvFormat {
	return csvFormat{spec: spec, rows: file.CSV(file.CSVOptions{
		Comma:           spec.comma,
		Comment:         spec.comment,
		FieldsPerRecord: len(spec.columns),
		SkipHeader:      spec.header,
	})}
}

// NewDecoder decodes the rows from cfg.Start on. The header is skipped
// only at the start of a file (file.CSV): a reader restored in the middle
// of a file goes on with the row at its checkpointed offset.
func (f csvFormat) NewDecoder(r io.Reader, cfg file.DecoderConfig) file.Decoder[Record] {
	return &csvDecoder{f: f, rows: f.rows.NewDecoder(r, cfg)}
}

type csvDecoder struct {
	f    csvFormat
	rows file.Decoder[[]string]
}

func (d *csvDecoder) Position() file.Position { return d.rows.Position() }

// Next returns the next row as a record. A row whose field does not
// convert to its column's type is a bad record at the line where the row
// starts.
func (d *csvDecoder) Next() (Record, error) {
	fields, err := d.rows.Next()
	if err != nil {
		// io.EOF, I/O, or a *file.RecordError (CSV syntax, field count)
		// whose raw bytes lose their line break, as those of JSON lines.
		var re *file.RecordError
		if errors.As(err, &re) {
			re.Raw = bytes.TrimSuffix(bytes.TrimSuffix(re.Raw, []byte("\n")), []byte("\r"))
		}
		return nil, err
	}
	rec, err := d.f.record(fields)
	if err != nil {
		// The row ended just before Position; it spans one line more than
		// the line breaks inside its quoted fields.
		line := d.rows.Position().Line - 1
		for _, f := range fields {
			line -= int64(strings.Count(f, "\n"))
		}
		raw := file.AppendCSVRecord(nil, fields, d.f.spec.comma)
		return nil, &file.RecordError{Line: line, Raw: raw[:len(raw)-1], Err: err}
	}
	return rec, nil
}

// record converts the fields of a row. An empty field of a column that is
// not a string is null.
func (f csvFormat) record(fields []string) (Record, error) {
	rec := make(Record, len(f.spec.columns))
	for i, c := range f.spec.columns {
		s := fields[i]
		if c.typ == "string" {
			rec[c.name] = s
			continue
		}
		t := strings.TrimSpace(s)
		if t == "" {
			rec[c.name] = nil
			continue
		}
		var v any
		var err error
		switch c.typ {
		case "int":
			v, err = strconv.ParseInt(t, 10, 64)
		case "float":
			v, err = strconv.ParseFloat(t, 64)
		case "bool":
			v, err = strconv.ParseBool(t)
		}
		if err != nil {
			return nil, fmt.Errorf("column %s: %q is not %s", c.name, s, article(c.typ))
		}
		rec[c.name] = v
	}
	return rec, nil
}

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

// ---- sink ----

// csvEncoder returns the encoder of CSV part files: one row per record,
// the values of the columns in order, the header first when asked.
func csvEncoder(spec *csvSpec) file.Encoder[Record] {
	var header []byte
	names := make([]string, len(spec.columns))
	for i, c := range spec.columns {
		names[i] = c.name
	}
	if spec.header {
		header = file.AppendCSVRecord(nil, names, spec.comma)
	}
	comma := spec.comma
	return file.RowEncoder(".csv", header, func(dst []byte, r Record) ([]byte, error) {
		fields := make([]string, len(names))
		for i, name := range names {
			fields[i] = csvValue(r[name])
		}
		return file.AppendCSVRecord(dst, fields, comma), nil
	})
}

// csvValue is the text of a value in a CSV field: null (or a missing
// field) is empty, strings as they are, numbers and booleans as in JSON,
// lists and maps as JSON.
func csvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
		b, _ := json.Marshal(x)
		return string(b)
	}
	b, err := encodeJSONValue(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
