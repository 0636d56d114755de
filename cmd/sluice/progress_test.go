package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/runtime"
)

func TestHumanCount(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1.0k"}, {1234, "1.2k"}, {9949, "9.9k"}, {9950, "10k"},
		{34_600, "35k"}, {999_499, "999k"}, {999_500, "1.0M"}, {1_200_000, "1.2M"},
		{56_700_000, "57M"}, {3_400_000_000, "3.4G"}, {1 << 62, "4.6E"},
	} {
		if got := humanCount(tc.n); got != tc.want {
			t.Errorf("humanCount(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// countsPlan is a plan of three operators for the roles of the status
// line: a source, an operator, a sink.
func countsPlan() *runtime.Plan {
	return &runtime.Plan{Name: "job", Vertices: []*runtime.Vertex{
		{Name: "source", Source: runtime.SourceSpecOf[int](nil), Ops: []*runtime.OpSpec{
			{Name: "source", UID: "s", Out: runtime.TypeOf[int]()}}},
		{Name: "count", Ops: []*runtime.OpSpec{
			{Name: "count", UID: "c", Out: runtime.TypeOf[int]()},
			{Name: "sink", UID: "k"}}},
	}}
}

func countsMetrics() []runtime.OperatorMetrics {
	return []runtime.OperatorMetrics{
		{Operator: "source", UID: "s", Subtask: 0, RecordsOut: 600_000},
		{Operator: "source", UID: "s", Subtask: 1, RecordsOut: 634_000},
		{Operator: "count", UID: "c", Subtask: 0, RecordsIn: 1_234_000, RecordsOut: 1_234_000},
		{Operator: "sink", UID: "k", Subtask: 0, RecordsIn: 1_234_000},
	}
}

func TestProgressLineCounts(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, true)
	p.start("job", countsPlan(), countsMetrics)
	p.draw()
	// Sources and sinks first, then the other operators.
	want := "job running 0s | no checkpoint completed yet | source 1.2M out | sink 1.2M in | count 1.2M in 1.2M out | Ctrl-C stops"
	if got := lastLine(b.String()); got != want {
		t.Errorf("status line\n%q, want\n%q", got, want)
	}

	// Fitted to the terminal's width: one column short of it.
	b.Reset()
	p.width = func() int { return 50 }
	p.draw()
	line := lastLine(b.String())
	if want := "0s | no chk yet | source 1.2M → sink 1.2M"; line != want {
		t.Errorf("line for a width of 50\n%q, want\n%q", line, want)
	}
	// 120 columns when the width is unknown.
	b.Reset()
	p.width = func() int { return 0 }
	p.mu.Lock()
	p.restarts, p.lastFailed = 3, "x"
	p.ops = append(p.ops, p.ops...)
	p.metrics = nil
	p.mu.Unlock()
	p.draw()
	line = lastLine(b.String())
	if n := utf8.RuneCountInString(line); n > 119 || !strings.Contains(line, "3 restarts") || !strings.Contains(line, "→ sink[k] 1.2M") {
		t.Errorf("line of %d runes for an unknown width: %q", n, line)
	}
}

// lastLine is the status line drawn last into a terminal's output.
func lastLine(out string) string {
	lines := strings.Split(out, "\r\x1b[K")
	return lines[len(lines)-1]
}

// flagshipPlan is the shape of examples/flagship.yaml: one source, four
// internal operators, two branches each ending in a sink.
func flagshipPlan() (*runtime.Plan, []runtime.OperatorMetrics) {
	op := func(name, uid string) *runtime.OpSpec {
		return &runtime.OpSpec{Name: name, UID: uid, Out: runtime.TypeOf[int]()}
	}
	plan := &runtime.Plan{Name: "flagship", Vertices: []*runtime.Vertex{
		{Name: "v0", Source: runtime.SourceSpecOf[int](nil), Ops: []*runtime.OpSpec{
			op("generator", "g"), op("Generate(user, page, ts)", "f"), op("Timestamps/Watermarks", "t"),
			op("Check event time", "c"), op("KeyBy(page)", "k1"), op("KeyBy(user)", "k2")}},
		{Name: "v1", Ops: []*runtime.OpSpec{
			op("Window(Tumbling(size=10s), event time: views, last_user)", "w"), {Name: "file (page-views)", UID: "s1"}}},
		{Name: "v2", Ops: []*runtime.OpSpec{
			op("Aggregate(clicks, last_page)", "a"), {Name: "file (user-clicks)", UID: "s2"}}},
	}}
	var m []runtime.OperatorMetrics
	for _, v := range plan.Vertices {
		for _, o := range v.Ops {
			in, out := int64(1_234_000), int64(1_234_000)
			if o.UID == "w" || o.UID == "s1" {
				in, out = 1_234_000, 12_000
			}
			if o.UID == "s1" {
				in = 12_000
			}
			m = append(m, runtime.OperatorMetrics{Operator: o.Name, UID: o.UID, RecordsIn: in, RecordsOut: out})
		}
	}
	return plan, m
}

// TestProgressLineWidths: at every width the sources and sinks are on the
// line, before the other operators, which fill what room is left.
func TestProgressLineWidths(t *testing.T) {
	plan, m := flagshipPlan()
	p := newProgress(nil, true)
	p.job, p.roles, p.ops = "flagship", rolesOf(plan), runtime.SumBySubtask(m)
	now := time.Now()
	p.started = now.Add(-62 * time.Second)
	p.lastID, p.lastAt = 12, now.Add(-time.Second)
	for _, tc := range []struct {
		width int
		want  string
	}{
		{300, "flagship running 1m02s | checkpoint 12 completed 1s ago | generator 1.2M out | file (page-views) 12k in | file (user-clicks) 1.2M in | " +
			"Generate(user, page, ts) 1.2M in 1.2M out | Timestamps/Watermarks 1.2M in 1.2M out | Check event time 1.2M in 1.2M out | " +
			"KeyBy(page) 1.2M in 1.2M out | Ctrl-C stops"},
		{160, "flagship running 1m02s | checkpoint 12 completed 1s ago | generator 1.2M out | file (page-views) 12k in | file (user-clicks) 1.2M in | Ctrl-C stops"},
		{120, "flagship running 1m02s | chk 12 1s ago | generator 1.2M → file (page-views) 12k, file (user-clicks) 1.2M | Ctrl-C stops"},
		{100, "1m02s | chk 12 1s ago | generator 1.2M → file (page-views) 12k, file (user-clicks) 1.2M"},
		{80, "1m02s | chk 12 1s ago | generator 1.2M → file (…views) 12k, file (…clicks) 1.2M"},
		{60, "1m02s | chk 12 1s ago | ge…or 1.2M → fi…s) 12k, fi…ks) 1.2M"},
		{30, "1m02s | chk 12 1s ago | ge…o…"},
	} {
		got := p.statusLocked(now, tc.width-1)
		if got != tc.want {
			t.Errorf("width %d:\n%q, want\n%q", tc.width, got, tc.want)
		}
		if n := utf8.RuneCountInString(got); n > tc.width-1 {
			t.Errorf("width %d: line of %d runes", tc.width, n)
		}
	}
	// Stopping is shown in every form.
	p.stopping = true
	for _, w := range []int{300, 120, 80} {
		if got := p.statusLocked(now, w-1); !strings.Contains(got, "stopping 1m02s") {
			t.Errorf("width %d while stopping: %q", w, got)
		}
	}
}

func TestShorten(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"file (page-views)", 20, "file (page-views)"}, {"file (page-views)", 17, "file (page-views)"},
		{"file (page-views)", 16, "file (p…e-views)"}, {"file (page-views)", 5, "fi…s)"}, {"abc", 1, "…c"}, {"ab", 1, "ab"},
	} {
		if got := shorten(tc.s, tc.n); got != tc.want {
			t.Errorf("shorten(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

func TestProgressAttrs(t *testing.T) {
	p := newProgress(&bytes.Buffer{}, false)
	m := countsMetrics()
	m = append(m, runtime.OperatorMetrics{Operator: "sink", UID: "k2", RecordsIn: 5})
	plan := countsPlan()
	plan.Vertices[1].Ops = append(plan.Vertices[1].Ops, &runtime.OpSpec{Name: "sink", UID: "k2"})
	p.start("job", plan, func() []runtime.OperatorMetrics { return m })
	got := map[string]any{}
	attrs := p.attrs()
	for i := 0; i < len(attrs); i++ {
		a := attrs[i].(interface{ String() string }).String()
		k, v, _ := strings.Cut(a, "=")
		got[k] = v
	}
	for k, v := range map[string]string{
		"source.out": "1234000", "count.in": "1234000", "count.out": "1234000",
		"sink[k].in": "1234000", "sink[k2].in": "5",
	} {
		if got[k] != v {
			t.Errorf("attribute %s = %v, want %s (all: %v)", k, got[k], v, got)
		}
	}
	// A source receives nothing and a sink emits nothing: no such counts.
	for _, k := range []string{"source.in", "sink[k].out", "sink[k2].out"} {
		if v, ok := got[k]; ok {
			t.Errorf("attribute %s = %v, want none", k, v)
		}
	}
	if _, ok := got["elapsed"]; !ok {
		t.Errorf("no elapsed attribute: %v", got)
	}
	if len(got) != 6 {
		t.Errorf("%d attributes, want 6: %v", len(got), got)
	}
}

// TestRunLogsProgress runs a small bounded pipeline off a terminal: the
// last log record "progress" has the final counts of every operator.
func TestRunLogsProgress(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "small.yaml")
	os.WriteFile(f, []byte(`name: small
source:
  type: generator
  count: 1000
  fields: {n: i, key: "'k' + string(i % 5)"}
steps:
  - filter: n % 4 != 0
  - key_by: key
  - aggregate: {count: count()}
sink:
  type: stdout
`), 0o644)
	for _, par := range []string{"1", "2"} {
		out, errOut, code := sluice(t, nil, nil, "run", f, "--parallelism", par)
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
		if n := strings.Count(out, "\n"); n != 750 {
			t.Errorf("parallelism %s: %d lines on stdout, want 750", par, n)
		}
		checkProgressLog(t, errOut, map[string]int64{
			"generator.out":         1000,
			"Filter(n % 4 != 0).in": 1000, "Filter(n % 4 != 0).out": 750,
			"Aggregate(count).in": 750, "Aggregate(count).out": 750,
			"stdout.in": 750,
		}, "generator.in", "stdout.out")
	}
}

// checkProgressLog checks the last "progress" record of a JSON log: the
// counts it has, and the keys it must not have.
func checkProgressLog(t *testing.T, log string, want map[string]int64, absent ...string) {
	t.Helper()
	var last map[string]any
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `"msg":"progress"`) {
			continue
		}
		rec := map[string]any{}
		if err := jsonUnmarshalNumbers([]byte(line), &rec); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		last = rec
	}
	if last == nil {
		t.Fatalf("no progress record in the log:\n%s", log)
	}
	for k, v := range want {
		if last[k] != v {
			t.Errorf("progress %s = %v, want %d (record %v)", k, last[k], v, last)
		}
	}
	for _, k := range absent {
		if v, ok := last[k]; ok {
			t.Errorf("progress %s = %v, want no such key (record %v)", k, v, last)
		}
	}
}

// TestRunLogsProgressPeriodically: off a terminal, a running job logs its
// counts at every interval, and they only grow.
func TestRunLogsProgressPeriodically(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "paced.yaml")
	os.WriteFile(f, []byte("source: {type: generator, rate: 2000, fields: {n: i}}\nsink: {type: stdout}\n"), 0o644)
	r := start(t, nil, "run", f) // progress every 20 ms
	r.waitFor(t, func() bool { return strings.Count(r.stderr.String(), `"msg":"progress"`) >= 3 }, "three progress records")
	r.sigs <- syscall.SIGINT
	if code := r.wait(t); code != exitOK {
		t.Fatalf("exit %d\n%s", code, r.stderr.String())
	}
	var last int64 = -1
	n := 0
	for _, line := range strings.Split(r.stderr.String(), "\n") {
		if !strings.Contains(line, `"msg":"progress"`) {
			continue
		}
		rec := map[string]any{}
		if err := jsonUnmarshalNumbers([]byte(line), &rec); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		gen, ok := rec["generator.out"].(int64)
		if !ok || gen < last || rec["stdout.in"] == nil || rec["level"] != "INFO" {
			t.Errorf("progress record %v after generator.out %d", rec, last)
		}
		last = gen
		n++
	}
	if n < 4 || last <= 0 {
		t.Errorf("%d progress records, the last with generator.out %d; want at least 4 (3 periodic, 1 at the end), growing:\n%s", n, last, r.stderr.String())
	}
}
