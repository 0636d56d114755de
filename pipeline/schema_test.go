package pipeline

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// TestSchemaPlanErrors: where the fields of the records are known
// (schema:, csv types, format: text, generator fields, and after map,
// aggregate and window steps), expressions are checked against them when
// the file is loaded.
func TestSchemaPlanErrors(t *testing.T) {
	const jsonSource = "source:\n  type: file\n  path: in\n  schema: {amount: int, user: string, price: double?}\n"
	const csvSource = "source:\n  type: file\n  path: in\n  format: csv\n  csv: {columns: [id, amount], types: {amount: float}}\n"
	const sink = "sink: {type: stdout}\n"
	cases := []struct {
		name string
		yaml string
		want string // the single error
	}{
		// schema:
		{"wrong type", jsonSource + "steps:\n  - filter: amount + 'x' != ''\n" + sink,
			`p.yaml:6: steps[0].filter: bad CEL expression "amount + 'x' != ''": found no matching overload for '_+_' applied to '(int, string)' (at column 8)`},
		{"wrong type through record", jsonSource + "steps:\n  - map: {s: record.amount + 'x'}\n" + sink,
			`p.yaml:6: steps[0].map.s: bad CEL expression "record.amount + 'x'": found no matching overload for '_+_' applied to '(int, string)' (at column 15)`},
		{"unknown field", jsonSource + "steps:\n  - filter: amout > 1\n" + sink,
			`p.yaml:6: steps[0].filter: bad CEL expression "amout > 1": no field "amout" in the records here (did you mean "amount"?); their fields (from source.schema): amount: int, user: string, price: double?`},
		{"unknown field in has()", jsonSource + "steps:\n  - filter: has(record.usr)\n" + sink,
			`p.yaml:6: steps[0].filter: bad CEL expression "has(record.usr)": no field "usr" in the records here (did you mean "user"?)`},
		{"unknown field in ?.", jsonSource + "steps:\n  - filter: record.?prize.orValue(0.0) > 1.0\n" + sink,
			`p.yaml:6: steps[0].filter: bad CEL expression "record.?prize.orValue(0.0) > 1.0": no field "prize" in the records here (did you mean "price"?)`},
		{"unknown field in record['f']", jsonSource + "steps:\n  - filter: \"record['usr'] == 'a'\"\n" + sink,
			`p.yaml:6: steps[0].filter: bad CEL expression "record['usr'] == 'a'": no field "usr" in the records here (did you mean "user"?)`},
		{"key_by unknown field", jsonSource + "steps:\n  - key_by: users\n  - aggregate: {n: count()}\n" + sink,
			`p.yaml:6: steps[0].key_by: bad CEL expression "users": no field "users" in the records here (did you mean "user"?)`},
		{"sum of a string", jsonSource + "steps:\n  - key_by: amount\n  - aggregate: {n: sum(user)}\n" + sink,
			`p.yaml:7: steps[1].aggregate.n: bad CEL expression "user": the expression is of type string; it must be a number`},
		{"event_time field unknown", jsonSource + "  event_time: {field: ts}\n" + sink,
			`p.yaml:5: source.event_time.field: no field "ts" in the records here`},
		{"event_time field of the wrong type", strings.Replace(jsonSource, "user: string", "ts: bool", 1) + "  event_time: {field: ts}\n" + sink,
			"p.yaml:5: source.event_time.field: the expression is of type bool; it must be a timestamp"},
		{"unknown schema type", strings.Replace(jsonSource, "user: string", "user: strng", 1) + sink,
			`p.yaml:4: source.schema.user: "strng" is not a type (did you mean "string"?); use one of: string, int, double, bool, list, map, any`},
		{"nullable list", strings.Replace(jsonSource, "user: string", "user: list?", 1) + sink,
			`p.yaml:4: source.schema.user: "list?": only string, int, double and bool take ?; use any for a list that may be null`},
		{"schema not a mapping", "source:\n  type: file\n  path: in\n  schema: [a]\n" + sink,
			"p.yaml:4: source.schema: expected a mapping of fields to types, e.g. schema: {user: string, amount: int, price: double?}, got a list"},
		{"schema type not a scalar", "source:\n  type: file\n  path: in\n  schema: {a: [int]}\n" + sink,
			"p.yaml:4: source.schema.a: expected a type (string, int, double, bool, list, map, any), got a list"},
		{"schema with format: text", "source:\n  type: file\n  path: in\n  format: text\n  schema: {line: string}\n" + sink,
			"p.yaml:5: source.schema: format: text makes records with one field, line: string; drop schema:"},
		{"schema with format: csv", csvSource + "  schema: {id: int}\n" + sink,
			"p.yaml:6: source.schema: a csv source's fields are its csv columns, of the types in csv.types; declare the types there"},

		// csv columns and types
		{"csv column type", csvSource + "steps:\n  - filter: amount + 'x' != ''\n" + sink,
			`p.yaml:7: steps[0].filter: bad CEL expression "amount + 'x' != ''": found no matching overload for '_+_' applied to '(wrapper(double), string)'`},
		{"csv string column", csvSource + "steps:\n  - filter: id > 3\n" + sink,
			`p.yaml:7: steps[0].filter: bad CEL expression "id > 3": found no matching overload for '_>_' applied to '(string, int)'`},
		{"csv unknown column", csvSource + "steps:\n  - filter: ammount > 3.0\n" + sink,
			`p.yaml:7: steps[0].filter: bad CEL expression "ammount > 3.0": no field "ammount" in the records here (did you mean "amount"?); their fields (from source.csv): id: string, amount: double?`},

		// format: text
		{"text record", "source: {type: file, path: in, format: text}\nsteps:\n  - filter: size(lines) > 0\n" + sink,
			`p.yaml:3: steps[0].filter: bad CEL expression "size(lines) > 0": no field "lines" in the records here (did you mean "line"?); their fields (from format: text): line: string`},

		// generator
		{"generator field type", genSource + "steps:\n  - filter: n + 'x' != ''\n" + sink,
			`p.yaml:6: steps[0].filter: bad CEL expression "n + 'x' != ''": found no matching overload for '_+_' applied to '(int, string)'`},
		{"generator schema disagrees", genSource + "  schema: {n: string}\n" + sink,
			"p.yaml:5: source.schema.n: source.fields.n is of type int, not string"},
		{"generator schema names a field not made", genSource + "  schema: {m: int}\n" + sink,
			"p.yaml:5: source.schema.m: the generator makes no field m; its fields: n: int"},
		{"records against the schema", "source:\n  type: collection\n  schema: {n: int}\n  records:\n    - {n: 1}\n    - {n: one}\n" + sink,
			`p.yaml:6: source.records[1]: field n is a string, not an integer (source.schema declares n: int)`},
		{"record lacks a field", "source:\n  type: collection\n  schema: {n: int}\n  records:\n    - {m: 1}\n" + sink,
			`p.yaml:5: source.records[0]: the record has no field "n" (source.schema declares n: int; declare n: int? if it may be absent)`},

		// after steps
		{"after map", genSource + "steps:\n  - map: {n2: n * 2}\n  - filter: n2 + 'x' != ''\n" + sink,
			`p.yaml:7: steps[1].filter: bad CEL expression "n2 + 'x' != ''": found no matching overload for '_+_' applied to '(int, string)'`},
		{"a field map dropped", genSource + "steps:\n  - map: {n2: n * 2}\n  - filter: n > 1\n" + sink,
			`p.yaml:7: steps[1].filter: bad CEL expression "n > 1": no field "n" in the records here; their fields (from steps[0].map): n2: int`},
		{"after aggregate", genSource + "steps:\n  - key_by: n\n  - aggregate: {c: count(), s: sum(n), a: avg(n), l: last(n)}\n  - filter: c > 1 && a > 1.0 && l > 1 && s > 1 && nn > 1\n" + sink,
			`p.yaml:8: steps[2].filter: bad CEL expression "c > 1 && a > 1.0 && l > 1 && s > 1 &&...": no field "nn" in the records here (did you mean "n"?); their fields (from steps[1].aggregate): n: int, c: int, s: any, a: double, l: int`},
		{"after window", genSource + "steps:\n  - key_by: n\n  - window: {type: tumbling, size: 1s, time: processing, aggregate: {c: count()}}\n  - filter: window_start + 1 > 0\n" + sink,
			`p.yaml:8: steps[2].filter: bad CEL expression "window_start + 1 > 0": found no matching overload for '_+_' applied to '(string, int)'`},
		{"window millis", genSource + "steps:\n  - key_by: n\n  - window: {type: tumbling, size: 1s, time: processing, time_format: millis, aggregate: {c: count()}}\n  - filter: window_end + 'x' != ''\n" + sink,
			`p.yaml:8: steps[2].filter: bad CEL expression "window_end + 'x' != ''": found no matching overload for '_+_' applied to '(int, string)'`},
		{"in a branch", genSource + "branches:\n  - steps: [{filter: m > 1}]\n    sink: {type: stdout}\n",
			`p.yaml:6: branches[0].steps[0].filter: bad CEL expression "m > 1": no field "m" in the records here; their fields (from source.fields): n: int`},
		{"sink key", genSource + "sink: {type: kafka, brokers: b:1, topic: t, key: nn}\n",
			`p.yaml:5: sink.key: bad CEL expression "nn": no field "nn" in the records here (did you mean "n"?)`},
		{"dead-letter bucket_field", genSource + "sink: {type: stdout}\ndead_letter: {type: file, path: bad, buckets: field, bucket_field: sources}\n",
			`p.yaml:6: dead_letter.bucket_field: bad CEL expression "sources": no field "sources" in the records here (did you mean "source"?); their fields (from the dead-letter record): source: string, location: string, raw: string, error: string`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := parseErrors(t, tc.yaml, nil)
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Errorf("got\n  %s\nwant one error starting\n  %s", strings.Join(got, "\n  "), tc.want)
			}
		})
	}
}

// TestWithoutSchema: where the fields are not known, expressions are
// checked for syntax, functions and the types of constants, and every
// field is dyn: a field's type is checked when a record comes.
func TestWithoutSchema(t *testing.T) {
	const src = "source: {type: file, path: in}\nsteps:\n  - filter: amount + 'x' != '' && has(record.anything)\n  - map: {a: amount}\n  - filter: a > 1\nsink: {type: stdout}\n"
	if got := parseErrors(t, src, nil); got != nil {
		t.Errorf("field types are not known without a schema, yet: %v", got)
	}
	for _, tc := range []struct{ expr, want string }{
		{"1 + 'a' > 0", "found no matching overload for '_+_' applied to '(int, string)'"},
		{"nosuchfn(amount)", "undeclared reference to 'nosuchfn'"},
		{"amount >", "Syntax error"},
		{"amount + 1", "the expression is of type int; it must be a bool"},
	} {
		got := parseErrors(t, strings.Replace(src, "amount + 'x' != '' && has(record.anything)", tc.expr, 1), nil)
		if len(got) != 1 || !strings.Contains(got[0], tc.want) {
			t.Errorf("%s: got %v, want %q", tc.expr, got, tc.want)
		}
	}
}

// TestSchemaAtRunTime: a record that does not fit the schema is a bad
// record located where the source read it; an int read for a double
// field becomes a double; a field declared with ? may be null or absent
// (absent, it reads as null and stays absent).
func TestSchemaAtRunTime(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	os.MkdirAll(in, 0o755)
	os.WriteFile(filepath.Join(in, "a.jsonl"), []byte(`{"user":"a","amount":2,"price":1.5}
{"user":"b","amount":"3","price":1.5}
{"user":"c","price":1.5}
{"user":"d","amount":4,"price":2,"discount":null}
{"user":"e","amount":5,"price":1.0,"discount":0.5,"extra":[1]}
{"user":"f","amount":6,"price":null}
`), 0o644)
	src := `
source:
  type: file
  path: "${IN}"
  schema: {user: string, amount: int, price: double, discount: double?}
steps:
  - map:
      user: "record['user']"
      total: double(amount) * price
      discount: discount
      has_discount: has(record.discount)
sink: {type: file, path: "${OUT}"}
dead_letter: {type: file, path: "${OUT}-bad"}
`
	if _, err := run(t, src, map[string]string{"IN": in, "OUT": out}); err != nil {
		t.Fatal(err)
	}
	lines := readParts(t, out)
	sort.Strings(lines)
	want := []string{
		`{"discount":0.5,"has_discount":true,"total":5,"user":"e"}`,
		`{"discount":null,"has_discount":false,"total":3,"user":"a"}`,
		`{"discount":null,"has_discount":true,"total":8,"user":"d"}`,
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(lines, "\n  "), strings.Join(want, "\n  "))
	}
	wantBad := map[string]string{
		"a.jsonl:2": "field amount is a string, not an integer (source.schema declares amount: int)",
		"a.jsonl:3": `the record has no field "amount" (source.schema declares amount: int; declare amount: int? if it may be absent)`,
		"a.jsonl:6": "field price is null (source.schema declares price: double; declare price: double? if it may be null)",
	}
	bad := readParts(t, out+"-bad")
	if len(bad) != len(wantBad) {
		t.Fatalf("dead letters %v, want %d", bad, len(wantBad))
	}
	for _, line := range bad {
		r, err := decodeJSONRecord([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		loc, _ := r["location"].(string)
		if w := wantBad[filepath.Base(loc)]; r["error"] != w {
			t.Errorf("dead letter at %s: error %q, want %q", loc, r["error"], w)
		}
	}
}

// TestGeneratorSchemaAtRunTime: a generated field whose expression's type
// is known only when it runs is checked against the schema.
func TestGeneratorSchemaAtRunTime(t *testing.T) {
	recs, err := run(t, `
source:
  type: generator
  count: 4
  fields: {v: "[1, 'x'][i % 2]", i: i}
  schema: {v: int}
steps:
  - filter: v + 1 > 0
sink: {type: stdout}
dead_letter: {type: stdout}
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	good, bad := 0, 0
	for _, r := range recs {
		switch {
		case r["location"] == "source.schema" && strings.Contains(r["error"].(string), "field v is a string, not an integer"):
			bad++
		case r["v"] == int64(1):
			good++
		default:
			t.Errorf("unexpected record %v", r)
		}
	}
	if good != 2 || bad != 2 {
		t.Errorf("%d good and %d bad records, want 2 and 2", good, bad)
	}
}
