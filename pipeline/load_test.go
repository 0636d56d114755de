package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector/collection"
	"github.com/sluicehq/sluice/connector/file"
)

func env(vars map[string]string) LoadOption {
	return WithEnv(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
}

const minimal = `name: t
source:
  type: generator
  count: 3
  fields:
    n: i
sink:
  type: stdout
`

func TestLoadMinimal(t *testing.T) {
	p, err := Parse("t.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "t" || p.Source.Type != "generator" || p.Sink.Type != "stdout" {
		t.Fatalf("got %+v", p)
	}
}

// TestConfigErrors has one case per kind of mistake; each message must
// name the file and line, the key, and what is allowed there.
func TestConfigErrors(t *testing.T) {
	junk := filepath.Join(t.TempDir(), "junk.pem")
	os.WriteFile(junk, []byte("not a certificate\n"), 0o600)
	cases := []struct {
		name string
		yaml string
		vars map[string]string
		want []string // substrings of the error
	}{
		{"unknown top-level key", minimal + "paralelism: 2\n",
			nil, []string{"p.yaml:9: paralelism: unknown key", `did you mean "parallelism"`, "allowed here: name, parallelism"}},
		{"unknown step key", minimal + "steps:\n  - filter: n > 1\n    nmae: x\n",
			nil, []string{"p.yaml:11: steps[0].nmae: unknown key", "allowed here: filter, map"}},
		{"wrong type", strings.Replace(minimal, "count: 3", "count: three", 1),
			nil, []string{"p.yaml:4: source.count: \"three\" is not an integer"}},
		{"mapping instead of scalar", minimal + "parallelism: {a: 1}\n",
			nil, []string{"p.yaml:9: parallelism: expected an integer, got a mapping"}},
		{"bad duration", minimal + "steps:\n  - key_by: n\n  - window:\n      type: tumbling\n      size: 10x\n      time: processing\n      aggregate: {c: count()}\n",
			nil, []string{`p.yaml:13: steps[1].window.size: "10x" is not a duration; use e.g. 10s, 1m`}},
		{"bad CEL", minimal + "steps:\n  - filter: n >\n",
			nil, []string{"p.yaml:10: steps[0].filter: bad CEL expression", "Syntax error"}},
		{"CEL type", minimal + "steps:\n  - filter: \"'a' + 'b'\"\n",
			nil, []string{"p.yaml:10: steps[0].filter:", "must be a bool"}},
		{"unknown connector", strings.Replace(minimal, "type: stdout", "type: stdot", 1),
			nil, []string{"p.yaml:8: sink.type: unknown sink type \"stdot\"", `did you mean "stdout"`, "use one of: " + registeredSinks()}},
		{"unknown source", strings.Replace(minimal, "type: generator", "type: rabbit", 1),
			nil, []string{"p.yaml:3: source.type: unknown source type \"rabbit\"", "use one of: collection, file, generator"}},
		{"missing variable", minimal + "checkpoints:\n  interval: 1s\n  storage: ${CKPT_DIR}\n",
			nil, []string{"p.yaml:11: checkpoints.storage: environment variable CKPT_DIR is not set", "${CKPT_DIR:-value}"}},
		{"enum", minimal + "checkpoints:\n  interval: 1s\n  mode: exactly_once\n",
			nil, []string{`p.yaml:11: checkpoints.mode: "exactly_once" is not allowed`, "exactly-once, at-least-once"}},
		{"unknown aggregate", minimal + "steps:\n  - key_by: n\n  - aggregate: {c: cnt()}\n",
			nil, []string{"p.yaml:11: steps[1].aggregate.c: unknown aggregate function \"cnt\"", "count, sum, min"}},
		{"aggregate without key", minimal + "steps:\n  - aggregate: {c: count()}\n",
			nil, []string{"p.yaml:10: steps[0]: aggregate works per key"}},
		{"event-time window without event_time", minimal + "steps:\n  - key_by: n\n  - window: {type: tumbling, size: 10s, aggregate: {c: count()}}\n",
			nil, []string{"p.yaml:11: steps[1].window: an event-time window needs event timestamps"}},
		{"missing source", "sink: {type: stdout}\n",
			nil, []string{"p.yaml:1: source: missing"}},
		{"two kinds in one step", minimal + "steps:\n  - filter: n > 1\n    map: {a: n}\n",
			nil, []string{"p.yaml:10: steps[0]: one step does one thing"}},
		{"yaml syntax", "source: [\n", nil, []string{"p.yaml:1", "YAML syntax"}},
		{"restart", minimal + "restart:\n  strategy: fixed\n",
			nil, []string{"p.yaml:10: restart.strategy: \"fixed\" is not a restart strategy", "fixed-delay"}},

		// checkpoints
		{"unaligned at-least-once", minimal + "checkpoints:\n  interval: 1s\n  mode: at-least-once\n  unaligned: true\n",
			nil, []string{"p.yaml:12: checkpoints.unaligned: unaligned checkpoints are a kind of exactly-once checkpoint", "use mode: exactly-once"}},
		{"unaligned not a boolean", minimal + "checkpoints:\n  interval: 1s\n  unaligned: maybe\n",
			nil, []string{`p.yaml:11: checkpoints.unaligned: "maybe" is not a boolean; use true or false`}},
		{"aligned_timeout without unaligned", minimal + "checkpoints:\n  interval: 1s\n  aligned_timeout: 5s\n",
			nil, []string{"p.yaml:11: checkpoints.aligned_timeout: goes with unaligned: true"}},
		{"aligned_timeout not a duration", minimal + "checkpoints:\n  interval: 1s\n  unaligned: true\n  aligned_timeout: 5\n",
			nil, []string{`p.yaml:12: checkpoints.aligned_timeout: "5" is not a duration; use e.g. 10s`}},
		{"max_deltas without incremental", minimal + "checkpoints:\n  interval: 1s\n  max_deltas: 5\n",
			nil, []string{"p.yaml:11: checkpoints.max_deltas: bounds the chain of incremental checkpoints; add incremental: true"}},
		{"max_deltas zero", minimal + "checkpoints:\n  interval: 1s\n  incremental: true\n  max_deltas: 0\n",
			nil, []string{"p.yaml:12: checkpoints.max_deltas"}},
		{"interval too short", minimal + "checkpoints:\n  interval: 5ms\n",
			nil, []string{"p.yaml:10: checkpoints.interval: 5ms is too short; it must be 0s (no checkpoints) or at least 10ms"}},

		// file source and sink: csv
		{"csv without format: csv", strings.Replace(csvSourceErr, "  format: csv\n", "", 1),
			nil, []string{"p.yaml:4: source.csv: goes with format: csv"}},
		{"format: csv without csv", strings.Replace(csvSourceErr, "  csv:\n    columns: [id, amount]\n    types: {amount: float}\n", "", 1),
			nil, []string{"p.yaml:2: source.csv: missing; format: csv needs csv: with columns: (the record fields of the columns, in order"}},
		{"csv unknown type", strings.Replace(csvSourceErr, "{amount: float}", "{amount: decimal}", 1),
			nil, []string{`p.yaml:7: source.csv.types.amount: "decimal" is not allowed; use one of: string, int, float, bool`}},
		{"csv type of no column", strings.Replace(csvSourceErr, "{amount: float}", "{amont: float}", 1),
			nil, []string{`p.yaml:7: source.csv.types.amont: not one of the columns (did you mean "amount"?); columns: id, amount`}},
		{"csv types not a mapping", strings.Replace(csvSourceErr, "{amount: float}", "[amount]", 1),
			nil, []string{"p.yaml:7: source.csv.types: expected a mapping of columns to types (string, int, float, bool)", "got a list"}},
		{"csv columns not a list", strings.Replace(csvSourceErr, "[id, amount]", "{id: 1}", 1),
			nil, []string{"p.yaml:6: source.csv.columns: expected a list"}},
		{"csv without columns", strings.Replace(csvSourceErr, "    columns: [id, amount]\n", "    header: true\n", 1),
			nil, []string{"p.yaml:6: source.csv.columns: missing; the record fields of the columns, in order", "a header line is not read for names"}},
		{"csv column twice", strings.Replace(csvSourceErr, "[id, amount]", "[id, amount, id]", 1),
			nil, []string{`p.yaml:6: source.csv.columns[2]: "id" is listed twice`}},
		{"csv comma", strings.Replace(csvSourceErr, "    types:", "    comma: ';;'\n    types:", 1),
			nil, []string{`p.yaml:7: source.csv.comma: ";;" is not allowed; use one character`}},
		{"csv header", strings.Replace(csvSourceErr, "    types:", "    header: first\n    types:", 1),
			nil, []string{`p.yaml:7: source.csv.header: "first" is not a boolean`}},
		{"csv unknown key", strings.Replace(csvSourceErr, "    types:", "    colums: [a]\n    types:", 1),
			nil, []string{`p.yaml:7: source.csv.colums: unknown key (did you mean "columns"?); allowed here: columns, header, comma, comment, types`}},
		{"parquet", strings.Replace(csvSourceErr, "format: csv", "format: parquet", 1),
			nil, []string{`p.yaml:4: source.format: "parquet" is not allowed; use one of: json, text, csv`}},
		{"sink csv types", minimal[:strings.Index(minimal, "sink:")] + "sink:\n  type: file\n  path: out\n  format: csv\n  csv: {columns: [n], types: {n: int}}\n",
			nil, []string{"p.yaml:11: sink.csv.types: unknown key; allowed here: columns, header, comma"}},
		{"sink csv without columns", minimal[:strings.Index(minimal, "sink:")] + "sink:\n  type: file\n  path: out\n  format: csv\n  csv: {header: true}\n",
			nil, []string{"p.yaml:11: sink.csv.columns: missing; the record fields of the columns, in order"}},
		{"sink format", minimal[:strings.Index(minimal, "sink:")] + "sink:\n  type: file\n  path: out\n  format: text\n",
			nil, []string{`p.yaml:10: sink.format: "text" is not allowed; use one of: json, csv`}},

		// kafka: tls and sasl
		{"tls file missing", kafkaSourceYAML + "  tls:\n    ca_file: /nonexistent/ca.pem\n",
			nil, []string{"p.yaml:7: source.tls.ca_file: open /nonexistent/ca.pem: no such file or directory"}},
		{"tls not PEM", kafkaSourceYAML + "  tls: {ca_file: '${CA}'}\n",
			map[string]string{"CA": junk}, []string{"p.yaml:6: source.tls.ca_file: " + junk + " holds no PEM certificate"}},
		{"tls cert without key", kafkaSourceYAML + "  tls:\n    cert_file: client.pem\n",
			nil, []string{"p.yaml:7: source.tls.key_file: missing; cert_file (a client certificate) needs key_file too"}},
		{"tls cert missing", kafkaSourceYAML + "  tls:\n    cert_file: /nonexistent/c.pem\n    key_file: /nonexistent/k.pem\n",
			nil, []string{"p.yaml:7: source.tls.cert_file: cannot load the client certificate and key", "no such file or directory"}},
		{"tls scalar", kafkaSourceYAML + "  tls: maybe\n",
			nil, []string{`p.yaml:6: source.tls: "maybe" is not allowed; use true (TLS, the system's CA certificates), false, or a mapping`}},
		{"tls enabled", kafkaSourceYAML + "  tls: {enabled: [x]}\n",
			nil, []string{"p.yaml:6: source.tls.enabled: expected true or false, got a list"}},
		{"tls unknown key", kafkaSourceYAML + "  tls: {cafile: ca.pem}\n",
			nil, []string{`p.yaml:6: source.tls.cafile: unknown key (did you mean "ca_file"?); allowed here: enabled, ca_file, cert_file, key_file, server_name, insecure_skip_verify`}},
		{"sasl mechanism", kafkaSourceYAML + "  sasl: {mechanism: SCRAM-SHA-1, username: u, password: p}\n",
			nil, []string{`p.yaml:6: source.sasl.mechanism: "SCRAM-SHA-1" is not allowed`, "use one of: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"}},
		{"sasl without mechanism", kafkaSourceYAML + "  sasl: {username: u, password: p}\n",
			nil, []string{"p.yaml:6: source.sasl.mechanism: missing; use one of: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"}},
		{"sasl without password", kafkaSinkYAML + "  sasl:\n    mechanism: PLAIN\n    username: u\n",
			nil, []string{"p.yaml:7: sink.sasl.password: missing; the SASL password, e.g. password: ${KAFKA_PASSWORD}"}},
		{"sasl empty password", kafkaSinkYAML + "  sasl:\n    mechanism: PLAIN\n    username: u\n    password: ${PW:-}\n",
			nil, []string{"p.yaml:9: sink.sasl.password: must not be empty"}},
		{"sasl password not a string", kafkaSinkYAML + "  sasl:\n    mechanism: PLAIN\n    username: u\n    password: {x: y}\n",
			nil, []string{"p.yaml:9: sink.sasl.password: expected a string, got a mapping"}},
		{"sasl unknown key", kafkaSinkYAML + "  sasl: {mechanism: PLAIN, user: u, password: p}\n",
			nil, []string{`p.yaml:6: sink.sasl.user: unknown key; allowed here: mechanism, username, password`, "p.yaml:6: sink.sasl.username: missing"}},
		{"transaction pool size", kafkaSinkYAML + "  delivery: exactly-once\n  transaction_pool_size: 3\n",
			nil, []string{"p.yaml:7: sink.transaction_pool_size: 3 is out of range; it must be between 4 and 4096"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tc.yaml), env(tc.vars))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

const csvSourceErr = `source:
  type: file
  path: in
  format: csv
  csv:
    columns: [id, amount]
    types: {amount: float}
sink: {type: stdout}
`

const kafkaSourceYAML = `sink: {type: stdout}
source:
  type: kafka
  brokers: b:9092
  topic: in
`

const kafkaSinkYAML = `source: {type: generator, count: 1, fields: {n: i}}
sink:
  type: kafka
  brokers: b:9092
  topic: out
`

func TestSeveralErrorsAtOnce(t *testing.T) {
	_, err := Parse("p.yaml", []byte("source: {type: generator, count: x, fields: {n: i}}\nsink: {type: nope}\nfoo: 1\n"))
	var list Errors
	if !errors.As(err, &list) || len(list) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
}

func TestInterpolation(t *testing.T) {
	src := `name: ${NAME:-fallback}
parallelism: ${PAR}
source:
  type: generator
  count: 1
  fields:
    s: "'$${not a var}'"
sink:
  type: file
  path: ${OUT}/x
`
	p, err := Parse("p.yaml", []byte(src), env(map[string]string{"PAR": "3", "OUT": "/tmp/o"}))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "fallback" || p.Parallelism != 3 {
		t.Errorf("name %q parallelism %d", p.Name, p.Parallelism)
	}
	if got := p.Sink.impl.(*registeredSink).cfg.(*file.SinkConfig).Path; got != "/tmp/o/x" {
		t.Errorf("path %q", got)
	}
	// An empty variable takes the default.
	p, err = Parse("p.yaml", []byte(src), env(map[string]string{"PAR": "1", "OUT": "o", "NAME": ""}))
	if err != nil || p.Name != "fallback" {
		t.Fatalf("%v %v", p, err)
	}
	_, err = Parse("p.yaml", []byte("name: ${BAD NAME}\n"+minimal[8:]), env(nil))
	if err == nil || !strings.Contains(err.Error(), "p.yaml:1:") {
		t.Errorf("bad variable name: %v", err)
	}
}

func TestSet(t *testing.T) {
	p, err := Parse("p.yaml", []byte(minimal), WithSet("parallelism=4", "checkpoints.interval=2s", "source.fields.m=i * 2", "sink={type: stdout}"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Parallelism != 4 || p.Checkpoints.Interval.String() != "2s" || len(p.Source.impl.(*registeredSource).cfg.(*collection.GeneratorConfig).Fields) != 2 {
		t.Errorf("got %+v %+v", p, p.Checkpoints)
	}
	_, err = Parse("p.yaml", []byte(minimal), WithSet("parallelism=zero"))
	if err == nil || !strings.Contains(err.Error(), `parallelism: "zero" is not an integer`) {
		t.Errorf("got %v", err)
	}
	_, err = Parse("p.yaml", []byte(minimal), WithSet("noequals"))
	if err == nil || !strings.Contains(err.Error(), "key=value") {
		t.Errorf("got %v", err)
	}
	_, err = Parse("p.yaml", []byte(minimal), WithSet("steps[3].filter=true"))
	if err == nil {
		t.Errorf("set into a missing list item: no error")
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	src := `source:
  type: generator
  count: 2
  fields: &f
    a: i
    i: i
sink: {type: stdout}
steps:
  - map:
      <<: *f
      b: i
`
	p, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range p.Steps[0].fields {
		names = append(names, f.name)
	}
	if got := strings.Join(names, ", "); got != "a, i, b" {
		t.Errorf("merged map fields: %q", got)
	}
	if _, err := Parse("p.yaml", []byte("a: *nope\n")); err == nil || !strings.Contains(err.Error(), "p.yaml:1") {
		t.Errorf("unknown alias: %v", err)
	}
}

// TestResolvePlain: plain scalars are resolved as goccy/go-yaml types
// them, integers as int64 (float64 past their range).
func TestResolvePlain(t *testing.T) {
	for in, want := range map[string]any{"1": int64(1), "-0x10": int64(-16), "0o17": int64(15), "0b101": int64(5),
		"1.5": 1.5, "0.1e-2": 0.001, "true": true, "null": nil, "~": nil, "abc": "abc", "1_000": int64(1000),
		"12abc": "12abc", "": nil, "18446744073709551615": 18446744073709551615.0} {
		if got := resolvePlain(in); got != want {
			t.Errorf("%q: got %#v want %#v", in, got, want)
		}
	}
	// Read from a file, with a variable too.
	p, err := Parse("p.yaml", []byte("source:\n  type: generator\n  records:\n    - {a: 1, b: 2.5, c: '3', f: null, g: true}\n    - d: ${D}\n      e: x${D}\nsink: {type: stdout}\n"),
		env(map[string]string{"D": "4"}))
	if err != nil {
		t.Fatal(err)
	}
	got := p.Source.impl.(*registeredSource).cfg.(*collection.GeneratorConfig).Records
	want := []Record{{"a": int64(1), "b": 2.5, "c": "3", "f": nil, "g": true}, {"d": int64(4), "e": "x4"}}
	if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
}

func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	start := time.Now()
	_, err := Parse("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "aliases are expanded") {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}
