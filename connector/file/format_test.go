package file

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

// item is what a decoder produced: a record or a bad record, and the
// position after it.
type item[T any] struct {
	v       T
	badLine int64  // 0: a record
	raw     string // a bad record's raw bytes
	pos     Position
}

func decodeAll[T any](t testing.TB, f Format[T], data []byte, start Position, max int) []item[T] {
	t.Helper()
	dec := f.NewDecoder(bytes.NewReader(data[start.Offset:]), DecoderConfig{Start: start, MaxRecordSize: max})
	var out []item[T]
	for i := 0; ; i++ {
		if i > len(data)+10 {
			t.Fatalf("decoder does not end")
		}
		v, err := dec.Next()
		if err == io.EOF {
			return out
		}
		var re *RecordError
		switch {
		case errors.As(err, &re):
			out = append(out, item[T]{badLine: re.Line, raw: string(re.Raw), pos: dec.Position()})
		case err != nil:
			t.Fatalf("decode: %v", err)
		default:
			out = append(out, item[T]{v: v, pos: dec.Position()})
		}
	}
}

// checkRestart decodes data from the start, then again from every
// position reached: the rest must be the same as the tail of the first
// pass (no record lost or repeated by a restore).
func checkRestart[T any](t testing.TB, f Format[T], data []byte, max int) []item[T] {
	t.Helper()
	all := decodeAll(t, f, data, Position{Line: 1}, max)
	for i, it := range all {
		if it.pos.Offset > int64(len(data)) {
			t.Fatalf("position %+v beyond %d bytes", it.pos, len(data))
		}
		rest := decodeAll(t, f, data, it.pos, max)
		if !reflect.DeepEqual(rest, all[i+1:]) && !(len(rest) == 0 && len(all[i+1:]) == 0) {
			t.Fatalf("restart at %+v (after item %d):\n got %+v\nwant %+v", it.pos, i, rest, all[i+1:])
		}
	}
	return all
}

func TestLines(t *testing.T) {
	data := []byte("\xEF\xBB\xBFone\ntwo\r\n\nthree")
	got := checkRestart(t, Lines(), data, 0)
	want := []item[string]{
		{v: "one", pos: Position{7, 2}},
		{v: "two", pos: Position{12, 3}},
		{v: "", pos: Position{13, 4}},
		{v: "three", pos: Position{18, 5}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestLinesTooLong(t *testing.T) {
	data := []byte("short\n" + strings.Repeat("x", 100) + "\r\nok\n" + strings.Repeat("y", 11))
	got := checkRestart(t, Lines(), data, 10)
	want := []item[string]{
		{v: "short", pos: Position{6, 2}},
		{badLine: 2, raw: strings.Repeat("x", 10), pos: Position{108, 3}},
		{v: "ok", pos: Position{111, 4}},
		{badLine: 4, raw: strings.Repeat("y", 10), pos: Position{122, 5}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	// Exactly at the limit, with and without "\r\n".
	got = decodeAll(t, Lines(), []byte("0123456789\r\n0123456789"), Position{Line: 1}, 10)
	if len(got) != 2 || got[0].v != "0123456789" || got[1].v != "0123456789" {
		t.Fatalf("at the limit: %+v", got)
	}
}

func TestJSONLines(t *testing.T) {
	type rec struct {
		Key string `json:"key"`
		N   int    `json:"n"`
	}
	data := []byte(`{"key":"a","n":1}

{"key":"b","n":2}
{"key":"c","n":
  
{"key":"d","n":4}`)
	got := checkRestart(t, JSONLines[rec](), data, 0)
	var recs []rec
	var bad []int64
	for _, it := range got {
		if it.badLine != 0 {
			bad = append(bad, it.badLine)
		} else {
			recs = append(recs, it.v)
		}
	}
	if want := []rec{{"a", 1}, {"b", 2}, {"d", 4}}; !reflect.DeepEqual(recs, want) {
		t.Fatalf("records %+v, want %+v", recs, want)
	}
	if !reflect.DeepEqual(bad, []int64{4}) {
		t.Fatalf("bad lines %v, want [4]", bad)
	}
	// map[string]any
	m := decodeAll(t, JSONLines[map[string]any](), []byte(`{"key":"x"}`+"\n"), Position{Line: 1}, 0)
	if len(m) != 1 || m[0].v["key"] != "x" {
		t.Fatalf("map: %+v", m)
	}
}

func TestRecordErrorMessage(t *testing.T) {
	dec := JSONLines[map[string]any]().NewDecoder(strings.NewReader("{}\nnope\n"), DecoderConfig{})
	if _, err := dec.Next(); err != nil {
		t.Fatal(err)
	}
	_, err := dec.Next()
	var re *RecordError
	if !errors.As(err, &re) || re.Line != 2 || string(re.Raw) != "nope" || !strings.HasPrefix(err.Error(), "line 2: ") {
		t.Fatalf("got %v (%+v)", err, re)
	}
}

func csvRecords(t testing.TB, opts CSVOptions, data string) (recs [][]string, bad []int64) {
	t.Helper()
	for _, it := range checkRestart(t, CSV(opts), []byte(data), 0) {
		if it.badLine != 0 {
			bad = append(bad, it.badLine)
		} else {
			recs = append(recs, it.v)
		}
	}
	return recs, bad
}

func TestCSV(t *testing.T) {
	tests := []struct {
		name string
		opts CSVOptions
		data string
		want [][]string
		bad  []int64
	}{
		{name: "simple", data: "a,b,c\n1,2,3\n", want: [][]string{{"a", "b", "c"}, {"1", "2", "3"}}},
		{name: "header", opts: CSVOptions{SkipHeader: true}, data: "h1,h2\n1,2\n3,4", want: [][]string{{"1", "2"}, {"3", "4"}}},
		{name: "header after blank and comment", opts: CSVOptions{SkipHeader: true, Comment: '#'}, data: "\n# c\nh1,h2\n1,2\n", want: [][]string{{"1", "2"}}},
		{name: "quoted multi-line", data: "1,\"a\nb\",2\r\n3,\"x\"\"y\",4\n", want: [][]string{{"1", "a\nb", "2"}, {"3", `x"y`, "4"}}},
		{name: "crlf in quotes", data: "\"a\r\nb\"\r\n", want: [][]string{{"a\nb"}}},
		{name: "bare quote", data: "1,2\n3,a\"b\n5,6\n", want: [][]string{{"1", "2"}, {"5", "6"}}, bad: []int64{2}},
		{name: "extraneous quote", data: "\"a\"x,1\n2,3\n", want: [][]string{{"2", "3"}}, bad: []int64{1}},
		{name: "unterminated", data: "1,2\n\"abc\n4,5\n", want: [][]string{{"1", "2"}}, bad: []int64{2}},
		{name: "fields per record", opts: CSVOptions{FieldsPerRecord: 2}, data: "1,2\n1,2,3\n4,5\n", want: [][]string{{"1", "2"}, {"4", "5"}}, bad: []int64{2}},
		{name: "semicolon trim", opts: CSVOptions{Comma: ';', TrimLeadingSpace: true}, data: "a; b;  \"c\"\n", want: [][]string{{"a", "b", "c"}}},
		{name: "unicode comma", opts: CSVOptions{Comma: '·'}, data: "a·b\n", want: [][]string{{"a", "b"}}},
		{name: "bad header is reported", opts: CSVOptions{SkipHeader: true}, data: "h\"1\n1\n", want: [][]string{{"1"}}, bad: []int64{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, bad := csvRecords(t, tt.opts, tt.data)
			if !reflect.DeepEqual(recs, tt.want) || !reflect.DeepEqual(bad, tt.bad) {
				t.Fatalf("got %q bad %v, want %q bad %v", recs, bad, tt.want, tt.bad)
			}
		})
	}
}

// TestCSVBadRecordRaw checks the raw bytes a bad CSV record carries (for
// dead letters): the record's lines without the final line ending.
func TestCSVBadRecordRaw(t *testing.T) {
	for _, tt := range []struct {
		name, data string
		opts       CSVOptions
		max        int
		want       []string
	}{
		{name: "bare quote lf", data: "1,2\n3,a\"b\n5,6\n", want: []string{`3,a"b`}},
		{name: "bare quote crlf", data: "1,2\r\n3,a\"b\r\n5,6\r\n", want: []string{`3,a"b`}},
		{name: "last line without ending", data: "1,2\n3,a\"b", want: []string{`3,a"b`}},
		{name: "multi-line", data: "\"a\nb\"x,1\n2,3\n", want: []string{"\"a\nb\"x,1"}},
		{name: "field count", opts: CSVOptions{FieldsPerRecord: 2}, data: "1,2,3\r\n4,5\n", want: []string{"1,2,3"}},
		{name: "too large", data: "1,2\n" + strings.Repeat("x", 20) + "\n3,4\n", max: 16, want: []string{strings.Repeat("x", 16)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, it := range decodeAll(t, CSV(tt.opts), []byte(tt.data), Position{}, tt.max) {
				if it.badLine != 0 {
					got = append(got, it.raw)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("raw %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCSVTooLarge(t *testing.T) {
	// A quoted field spanning lines beyond the limit is skipped as a whole.
	data := "1,2\n\"" + strings.Repeat("x\n", 20) + "\",9\n3,4\n"
	it := checkRestart(t, CSV(CSVOptions{}), []byte(data), 16)
	if len(it) != 3 || it[1].badLine != 2 || !reflect.DeepEqual(it[2].v, []string{"3", "4"}) {
		t.Fatalf("got %+v", it)
	}
}

func TestCSVInvalidDelimiter(t *testing.T) {
	dec := CSV(CSVOptions{Comma: '"'}).NewDecoder(strings.NewReader("a\n"), DecoderConfig{})
	if _, err := dec.Next(); err == nil || errors.As(err, new(*RecordError)) {
		t.Fatalf("want a configuration error, got %v", err)
	}
}

// stdCSV reads data with encoding/csv as the CSV format is configured:
// the records, or whether it failed.
func stdCSV(data string, opts CSVOptions) ([][]string, error) {
	r := csv.NewReader(strings.NewReader(data))
	r.Comma = opts.Comma
	if r.Comma == 0 {
		r.Comma = ','
	}
	r.Comment = opts.Comment
	r.TrimLeadingSpace = opts.TrimLeadingSpace
	r.FieldsPerRecord = -1
	return r.ReadAll()
}

func TestCSVEncoderRoundTrip(t *testing.T) {
	recs := [][]string{{"a", "b c", " lead", "quo\"te", "com,ma", "new\nline", "", `\.`}, {"x"}}
	var b []byte
	for _, r := range recs {
		b = AppendCSVRecord(b, r, ',')
	}
	std, err := stdCSV(string(b), CSVOptions{})
	if err != nil || !reflect.DeepEqual(std, recs) {
		t.Fatalf("encoding/csv reads %q, %v", std, err)
	}
	got, bad := csvRecords(t, CSVOptions{}, string(b))
	if !reflect.DeepEqual(got, recs) || bad != nil {
		t.Fatalf("CSV reads %q bad %v", got, bad)
	}
}

// FuzzLines: decoding never fails on any input, positions only grow, and
// a restart from any position yields the same rest.
func FuzzLines(f *testing.F) {
	for _, s := range []string{"", "a", "a\nb", "a\r\n\r\nb\n", "\xEF\xBB\xBFx\n", "\r", "\n\n\n", strings.Repeat("z", 40) + "\nq"} {
		f.Add([]byte(s), 8)
	}
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		max = 1 + abs(max)%64
		items := checkRestart(t, Lines(), data, max)
		var prev int64
		for _, it := range items {
			if it.pos.Offset <= prev {
				t.Fatalf("position did not advance: %+v", items)
			}
			prev = it.pos.Offset
		}
		if len(items) > 0 && prev != int64(len(data)) {
			t.Fatalf("ended at %d of %d", prev, len(data))
		}
	})
}

func FuzzJSONLines(f *testing.F) {
	for _, s := range []string{`{"a":1}`, "{\"a\":1}\n\n[1,2]\n", "{\n}", "\"x\"\r\nnull\n", "{\"a\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRestart(t, JSONLines[any](), data, 64)
	})
}

// FuzzCSV checks the CSV format against encoding/csv: where encoding/csv
// reads the whole input without error, the format gives the same records
// and no bad record; on any input a restart from any position gives the
// same rest.
func FuzzCSV(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "\"a\nb\",c\r\n", "a\"b\n", "\"x\"y\n", " \"q\" ,1\n", "#c\n1\n", "\"unterminated\n", "a,b\r", "\n\r\n\"\"\n"} {
		f.Add([]byte(s), false, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, trim, comment bool) {
		opts := CSVOptions{TrimLeadingSpace: trim}
		if comment {
			opts.Comment = '#'
		}
		items := checkRestart(t, CSV(opts), data, 1<<20)
		std, err := stdCSV(string(data), opts)
		if err != nil {
			return
		}
		var recs [][]string
		for _, it := range items {
			if it.badLine != 0 {
				t.Fatalf("bad record at line %d where encoding/csv reads %q", it.badLine, std)
			}
			recs = append(recs, it.v)
		}
		if len(recs) != len(std) || (len(recs) > 0 && !reflect.DeepEqual(recs, std)) {
			t.Fatalf("got %q, encoding/csv reads %q", recs, std)
		}
	})
}

// FuzzCSVLimit: with a small record limit, decoding still ends, never
// repeats and restarts consistently.
func FuzzCSVLimit(f *testing.F) {
	f.Add([]byte("1,\"aaaaaaaaaaaaaaaaaaa\nbbbbbbbbbbbbbb\",3\n4,5\n"), 8)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		checkRestart(t, CSV(CSVOptions{}), data, 1+abs(max)%32)
	})
}

func abs(n int) int {
	if n < 0 {
		if n == -n {
			return 0
		}
		return -n
	}
	return n
}

func ExampleCSV() {
	dec := CSV(CSVOptions{SkipHeader: true}).NewDecoder(strings.NewReader("name,qty\n\"Smith, J\",3\n"), DecoderConfig{})
	rec, _ := dec.Next()
	fmt.Printf("%q at %+v\n", rec, dec.Position())
	// Output: ["Smith, J" "3"] at {Offset:22 Line:3}
}
