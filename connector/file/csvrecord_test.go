package file

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connector"
)

// The CSV records of the file source and sink of YAML pipelines (their
// runs through pipelines are tested in package pipeline).

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// csvSourceConfig is the configuration of
//
//	{type: file, path: in, format: csv, csv: {header: true, columns: [id, name, amount, ok], types: {id: int, amount: float, ok: bool}}}
var csvSourceConfig = &SourceConfig{Path: "in", Format: "csv", CSV: &CSVSourceConfig{Header: true,
	Columns: []string{"id", "name", "amount", "ok"}, Types: map[string]string{"id": "int", "amount": "float", "ok": "bool"}}}

// csvRecordData has a header, a row with a quoted field spanning two lines, a
// blank line, a row whose amount is not a number (line 7) and one with a
// field too many (line 9).
const csvRecordData = "id,name,amount,ok\n" +
	"1,ann,1.5,true\n" +
	"2,\"bob\nsmith\",2,false\n" +
	"\n" +
	"3,\"x, y\",,\n" +
	"4,carl,lots,true\n" +
	"5,dan,-1e3,1\n" +
	"6,eve,1,true,extra\n" +
	"7,\"fay \"\"f\"\"\",0.25,f"

type csvRecordItem struct {
	rec  connector.Record
	bad  int64 // line of a bad record
	err  string
	next Position
}

func decodeRecords(t *testing.T, f Format[connector.Record], data []byte, start Position) []csvRecordItem {
	t.Helper()
	dec := f.NewDecoder(bytes.NewReader(data[start.Offset:]), DecoderConfig{Start: start})
	var out []csvRecordItem
	for {
		r, err := dec.Next()
		if err == io.EOF {
			return out
		}
		var re *RecordError
		switch {
		case errors.As(err, &re):
			out = append(out, csvRecordItem{bad: re.Line, err: re.Err.Error(), next: dec.Position()})
		case err != nil:
			t.Fatal(err)
		default:
			out = append(out, csvRecordItem{rec: r, next: dec.Position()})
		}
	}
}

// TestCSVFormat: columns and types, the header skipped, quoted fields,
// empty typed fields as null, and bad rows located at their first line.
func TestCSVRecordFormat(t *testing.T) {
	f := newCSVRecordFormat(csvSourceConfig.spec())
	items := decodeRecords(t, f, []byte(csvRecordData), Position{Line: 1})
	var got []string
	for _, it := range items {
		if it.rec != nil {
			got = append(got, mustJSON(t, it.rec))
		} else {
			got = append(got, fmt.Sprintf("bad line %d: %s", it.bad, it.err))
		}
	}
	want := []string{
		`{"amount":1.5,"id":1,"name":"ann","ok":true}`,
		`{"amount":2,"id":2,"name":"bob\nsmith","ok":false}`,
		`{"amount":null,"id":3,"name":"x, y","ok":null}`,
		`bad line 7: column amount: "lots" is not a number`,
		`{"amount":-1000,"id":5,"name":"dan","ok":true}`,
		`bad line 9: parse error on line 9, column 1: wrong number of fields: 5 fields, want 4`,
		`{"amount":0.25,"id":7,"name":"fay \"f\"","ok":false}`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if id := items[0].rec["id"]; id != int64(1) {
		t.Errorf("id %#v, want int64(1)", id)
	}
}

// TestCSVFormatRestore: a decoder started at any position a reader could
// have checkpointed (after each record, good or bad) reads the same rest
// of the file, with the same lines for bad records, and does not skip a
// header there.
func TestCSVRecordFormatRestore(t *testing.T) {
	f := newCSVRecordFormat(csvSourceConfig.spec())
	data := []byte(csvRecordData)
	all := decodeRecords(t, f, data, Position{Line: 1})
	for i, it := range all {
		rest := decodeRecords(t, f, data, it.next)
		if len(rest)+len(all[i+1:]) > 0 && !reflect.DeepEqual(rest, all[i+1:]) {
			t.Errorf("restored at %+v (after item %d):\n got %+v\nwant %+v", it.next, i, rest, all[i+1:])
		}
	}
}

func TestCSVRecordEncoder(t *testing.T) {
	cfg := &SinkConfig{Path: "out", Format: "csv", CSV: &CSVSinkConfig{Columns: []string{"id", "name", "amount", "tags", "missing"}, Header: true, Comma: ";"}}
	enc := cfg.encoder(nil)
	if enc.Extension() != ".csv" || !enc.Resumable() {
		t.Fatalf("extension %q resumable %v", enc.Extension(), enc.Resumable())
	}
	var buf bytes.Buffer
	w, err := enc.NewPartWriter(&buf, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []connector.Record{
		{"id": int64(1), "name": "a;b", "amount": 1e21, "tags": []any{"x", int64(2)}},
		{"id": int64(2), "name": " lead", "amount": 0.5, "tags": nil},
		{"id": uint64(3), "name": "q\"uote\nline", "amount": 1500000.0, "tags": map[string]any{"k": true}},
	} {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	want := "id;name;amount;tags;missing\n" +
		"1;\"a;b\";1e+21;\"[\"\"x\"\",2]\";\n" +
		"2;\" lead\";0.5;;\n" +
		"3;\"q\"\"uote\nline\";1500000;\"{\"\"k\"\":true}\";\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	// encoding/csv reads it back.
	r := csv.NewReader(strings.NewReader(buf.String()))
	r.Comma = ';'
	rows, err := r.ReadAll()
	if err != nil || len(rows) != 4 || rows[3][1] != "q\"uote\nline" || rows[1][1] != "a;b" {
		t.Errorf("read back %q: %v", rows, err)
	}
	// A resumed part file gets no second header.
	buf.Reset()
	w, _ = enc.NewPartWriter(&buf, true)
	w.Write(connector.Record{"id": int64(4)})
	if buf.String() != "4;;;;\n" {
		t.Errorf("resumed: %q", buf.String())
	}
}
