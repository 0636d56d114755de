package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/state"
)

// run runs a pipeline whose sinks are stdout and returns the records
// printed (decoded with integers kept) and the job's error.
func run(t *testing.T, src string, vars map[string]string) ([]Record, error) {
	t.Helper()
	p, err := Parse("t.yaml", []byte(src), env(vars))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	e, err := Build(p, Overrides{Stdout: &out, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	jobErr := e.Execute(ctx)
	var recs []Record
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		r, err := decodeJSONRecord(sc.Bytes())
		if err != nil {
			t.Fatalf("output line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs, jobErr
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// start parses and builds src with o and starts the job, which a minute
// bounds; cancel (also called at the test's cleanup) stops it.
func start(t *testing.T, src string, vars map[string]string, o Overrides) (job *runtime.Job, cancel context.CancelFunc) {
	t.Helper()
	p, err := Parse("t.yaml", []byte(src), env(vars))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Build(p, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	if job, err = e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return job, cancel
}

func TestStepsAndRunningAggregates(t *testing.T) {
	recs, err := run(t, `
source:
  type: generator
  count: 30
  fields:
    user: "'u' + string(i % 3)"
    amount: i
    price: double(i) / 2.0
steps:
  - filter: amount % 2 == 0          # top-level name
  - map:
      user: record.user               # record.field
      amount: amount
      price: price
      tag: "amount > 10 ? 'big' : 'small'"
  - key_by: [user, tag]
  - aggregate:
      n: count()
      total: sum(amount)
      half: sum(price)
      lo: min(amount)
      hi: max(amount)
      mean: avg(amount)
      first: first(amount)
      last: last(tag)
sink: {type: stdout}
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 15 {
		t.Fatalf("%d records, want 15 (one per even input)", len(recs))
	}
	final := map[string]Record{}
	for _, r := range recs {
		final[r["user"].(string)+"/"+r["tag"].(string)] = r
	}
	// u0: 0, 6, 12, 18, 24 (even and i%3==0): small 0, 6; big 12, 18, 24.
	got := final["u0/big"]
	want := Record{"user": "u0", "tag": "big", "n": int64(3), "total": int64(54), "half": 27.0, "lo": int64(12), "hi": int64(24),
		"mean": 18.0, "first": int64(12), "last": "big"}
	// JSON does not tell 27.0 from 27: compare the encodings.
	if g, w := string(mustJSON(got)), string(mustJSON(want)); g != w {
		t.Errorf("u0/big:\n got %s\nwant %s", g, w)
	}
	if final["u0/small"]["n"] != int64(2) {
		t.Errorf("u0/small: %v", final["u0/small"])
	}
}

func TestEventTimeTumblingWindow(t *testing.T) {
	recs, err := run(t, `
source:
  type: generator
  count: 100
  fields:
    page: "i % 2 == 0 ? 'a' : 'b'"
    ts: 1000 * i            # one record per second of event time
  event_time: {field: ts, max_out_of_orderness: 0s}
steps:
  - key_by: page
  - window:
      type: tumbling
      size: 10s
      time_format: millis
      aggregate: {views: count(), last_ts: max(ts)}
sink: {type: stdout}
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 20 {
		t.Fatalf("%d windows, want 20: %v", len(recs), recs)
	}
	for _, r := range recs {
		if r["views"] != int64(5) {
			t.Errorf("window %v: views %v, want 5", r["window_start"], r["views"])
		}
		if r["window_end"].(int64)-r["window_start"].(int64) != 10_000 {
			t.Errorf("window %v", r)
		}
	}
}

func TestSessionWindowRFC3339(t *testing.T) {
	recs, err := run(t, `
source:
  type: collection
  records:
    - {user: a, ts: "2024-05-01T12:00:00Z"}
    - {user: a, ts: "2024-05-01T12:00:20Z"}
    - {user: a, ts: "2024-05-01T12:05:00Z"}
    - {user: b, ts: "2024-05-01T12:00:01Z"}
  event_time: {field: ts, max_out_of_orderness: 1m}
steps:
  - key_by: user
  - window: {type: session, gap: 1m, aggregate: {clicks: count()}}
sink: {type: stdout}
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r["user"].(string)+" "+r["window_start"].(string)+" "+strings.TrimSpace(string(mustJSON(r["clicks"]))))
	}
	sort.Strings(got)
	want := []string{"a 2024-05-01T12:00:00.000Z 2", "a 2024-05-01T12:05:00.000Z 1", "b 2024-05-01T12:00:01.000Z 1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestDedupe(t *testing.T) {
	recs, err := run(t, `
source:
  type: collection
  records: [{id: 1, v: a}, {id: 2, v: b}, {id: 1, v: c}, {id: 3, v: d}, {id: 2, v: e}]
steps:
  - key_by: id
  - dedupe: {ttl: 1h}
  - aggregate: {seen: count(), v: last(v)}
sink: {type: stdout}
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, string(mustJSON(r)))
	}
	want := []string{`{"id":1,"seen":1,"v":"a"}`, `{"id":2,"seen":1,"v":"b"}`, `{"id":3,"seen":1,"v":"d"}`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestDeadLetter(t *testing.T) {
	recs, err := run(t, `
source:
  type: collection
  records: [{n: 1}, {m: 2}, {n: 3}]
steps:
  - filter: n > 1
sink: {type: stdout}
dead_letter: {type: stdout}
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	var good, bad []Record
	for _, r := range recs {
		if _, ok := r["error"]; ok {
			bad = append(bad, r)
		} else {
			good = append(good, r)
		}
	}
	if len(good) != 1 || good[0]["n"] != int64(3) {
		t.Errorf("good records %v", good)
	}
	if len(bad) != 1 || bad[0]["location"] != "steps[0].filter" || bad[0]["raw"] != `{"m":2}` ||
		!strings.Contains(bad[0]["error"].(string), `no field "n"`) {
		t.Errorf("bad records %v", bad)
	}
}

// TestBadRecordFailsJob: without a dead-letter output, a record an
// expression fails on fails the job for good (no restart would help),
// naming where.
func TestBadRecordFailsJob(t *testing.T) {
	for _, tc := range []struct{ name, step, where string }{
		{"missing field", "map: {x: n * 2}", "steps[0].map.x"},
		{"wrong type at run time", "filter: n + 'x' != ''", "steps[0].filter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(t, `
source:
  type: collection
  records: [{n: 1}, {m: 2}]
steps:
  - `+tc.step+`
sink: {type: stdout}
restart: {strategy: fixed-delay, attempts: -1, delay: 0s}
`, nil)
			if !errors.Is(err, connector.ErrBadRecord) || !connector.IsPermanent(err) || !strings.Contains(err.Error(), tc.where) {
				t.Fatalf("want a permanent bad record error naming %s, got %v", tc.where, err)
			}
		})
	}
}

func TestFileToFile(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	os.MkdirAll(in, 0o755)
	os.WriteFile(filepath.Join(in, "a.jsonl"), []byte("{\"key\":\"x\"}\n{\"key\":\"y\"}\n\n{\"key\":\"x\"}\nnot json\n"), 0o644)
	os.WriteFile(filepath.Join(in, "_ignored.jsonl"), []byte("{\"key\":\"z\"}\n"), 0o644)
	src := `
source: {type: file, path: "${IN}"}
steps:
  - key_by: key
  - aggregate: {count: count()}
sink: {type: file, path: "${OUT}"}
dead_letter: {type: file, path: "${OUT}-bad"}
`
	if _, err := run(t, src, map[string]string{"IN": in, "OUT": out}); err != nil {
		t.Fatal(err)
	}
	lines := readParts(t, out)
	sort.Strings(lines)
	want := []string{`{"count":1,"key":"x"}`, `{"count":1,"key":"y"}`, `{"count":2,"key":"x"}`}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("got %v\nwant %v", lines, want)
	}
	bad := readParts(t, out+"-bad")
	if len(bad) != 1 || !strings.Contains(bad[0], "a.jsonl:5") {
		t.Errorf("dead letters %v", bad)
	}
}

func readParts(t *testing.T, dir string) []string {
	t.Helper()
	var lines []string
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for l := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
	}
	return lines
}

func TestAccStateRoundTrip(t *testing.T) {
	a := acc{Key: []any{"k", int64(7), 1.5, nil, true, []any{int64(1), "x"}, map[string]any{"z": int64(2)}},
		Vals: []aggVal{{n: 3, isum: 12}, {n: 2, float: true, fsum: math.Inf(1)}, {v: int64(math.MaxInt64), set: true}, {v: math.NaN(), set: true}, {}}}
	c := state.JSONCodec[acc]()
	b := c.Append(nil, a)
	got, n, err := c.Decode(b)
	if err != nil || n != len(b) {
		t.Fatalf("decode: %v (%d of %d bytes)", err, n, len(b))
	}
	if !reflect.DeepEqual(got.Key, a.Key) || got.Vals[0] != a.Vals[0] || got.Vals[1] != a.Vals[1] || got.Vals[2] != a.Vals[2] {
		t.Errorf("round trip:\n got %#v\nwant %#v", got, a)
	}
	if f, ok := got.Vals[3].v.(float64); !ok || !math.IsNaN(f) || got.Vals[4].set {
		t.Errorf("NaN or unset value: %#v", got.Vals[3:])
	}
}

func TestSumOverflowsToFloat(t *testing.T) {
	var v aggVal
	v = v.add("sum", int64(math.MaxInt64))
	v = v.add("sum", int64(1))
	if r, ok := v.result("sum").(float64); !ok || r != float64(math.MaxInt64)+1 {
		t.Errorf("got %#v", v.result("sum"))
	}
}

func TestCanonicalKey(t *testing.T) {
	for _, c := range []struct {
		vals []any
		want string
	}{
		{[]any{"a"}, `"a"`},
		{[]any{int64(1)}, `1`},
		{[]any{1.0}, `1`},
		{[]any{"1"}, `"1"`},
		{[]any{"a", int64(2)}, `["a",2]`},
		{[]any{map[string]any{"b": int64(1), "a": nil}}, `{"a":null,"b":1}`},
	} {
		if got := canonicalKey(c.vals); got != c.want {
			t.Errorf("%v: got %s want %s", c.vals, got, c.want)
		}
	}
}
