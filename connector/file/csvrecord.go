package file

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/connector"
)

// CSV files of records (connector.Record), the format: csv of the file
// source and sink of YAML pipelines: each row holds the values of the
// columns, in order.

// csvColumn is a column of a CSV file: the record field it maps to and the
// type of its values.
type csvColumn struct {
	name string
	typ  string // string, int, float, bool
}

// csvSpec is the layout of a CSV file of records.
type csvSpec struct {
	columns []csvColumn
	header  bool
	comma   rune
	comment rune // 0: none; source only
}

// csvRecordFormat reads CSV files into records: the fields of each row
// become the values of the columns, converted to their types.
type csvRecordFormat struct {
	spec *csvSpec
	rows Format[[]string]
}

func newCSVRecordFormat(spec *csvSpec) csvRecordFormat {
	return csvRecordFormat{spec: spec, rows: CSV(CSVOptions{
		Comma:           spec.comma,
		Comment:         spec.comment,
		FieldsPerRecord: len(spec.columns),
		SkipHeader:      spec.header,
	})}
}

// NewDecoder decodes the rows from cfg.Start on. The header is skipped
// only at the start of a file (CSV): a reader restored in the middle of a
// file goes on with the row at its checkpointed offset.
func (f csvRecordFormat) NewDecoder(r io.Reader, cfg DecoderConfig) Decoder[connector.Record] {
	return &csvRecordDecoder{f: f, rows: f.rows.NewDecoder(r, cfg)}
}

type csvRecordDecoder struct {
	f    csvRecordFormat
	rows Decoder[[]string]
}

func (d *csvRecordDecoder) Position() Position { return d.rows.Position() }

// Next returns the next row as a record. A row whose field does not
// convert to its column's type is a bad record at the line where the row
// starts.
func (d *csvRecordDecoder) Next() (connector.Record, error) {
	fields, err := d.rows.Next()
	if err != nil {
		// io.EOF, I/O, or a *RecordError (CSV syntax, field count) whose
		// raw bytes lose their line break, as those of JSON lines.
		var re *RecordError
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
		raw := AppendCSVRecord(nil, fields, d.f.spec.comma)
		return nil, &RecordError{Line: line, Raw: raw[:len(raw)-1], Err: err}
	}
	return rec, nil
}

// record converts the fields of a row. An empty field of a column that is
// not a string is null.
func (f csvRecordFormat) record(fields []string) (connector.Record, error) {
	rec := make(connector.Record, len(f.spec.columns))
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

// csvRecordEncoder returns the encoder of CSV part files: one row per
// record, the values of the columns in order, the header first when
// asked.
func csvRecordEncoder(spec *csvSpec) Encoder[connector.Record] {
	var header []byte
	names := make([]string, len(spec.columns))
	for i, c := range spec.columns {
		names[i] = c.name
	}
	if spec.header {
		header = AppendCSVRecord(nil, names, spec.comma)
	}
	comma := spec.comma
	return RowEncoder(".csv", header, func(dst []byte, r connector.Record) ([]byte, error) {
		fields := make([]string, len(names))
		for i, name := range names {
			fields[i] = csvValue(r[name])
		}
		return AppendCSVRecord(dst, fields, comma), nil
	})
}

// csvValue is the text of a value in a CSV field: null (or a missing
// field) is empty, strings as they are, numbers and booleans as in JSON,
// lists and maps as JSON (NaN and infinities in them as null).
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
	b, err := json.Marshal(connector.JSONSafe(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
