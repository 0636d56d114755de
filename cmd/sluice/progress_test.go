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
	"github.com/sluicehq/sluice/sluicetest"
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
	want := "| source 1.2M out | count 1.2M in 1.2M out | sink 1.2M in | Ctrl-C stops"
	if !strings.Contains(b.String(), want) {
		t.Errorf("status line lacks %q: %q", want, b.String())
	}

	// Truncated to the terminal's width, with an ellipsis.
	b.Reset()
	p.width = func() int { return 50 }
	p.draw()
	line := strings.TrimPrefix(b.String(), "\r\x1b[K")
	if n := utf8.RuneCountInString(line); n != 49 || !strings.HasSuffix(line, "…") || !strings.HasPrefix(line, "job running") {
		t.Errorf("line of %d runes for a width of 50: %q", n, line)
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
	line = strings.TrimPrefix(b.String(), "\r\x1b[K")
	if n := utf8.RuneCountInString(line); n != 119 {
		t.Errorf("line of %d runes for an unknown width: %q", n, line)
	}
}

func TestProgressAttrs(t *testing.T) {
	p := newProgress(&bytes.Buffer{}, false)
	m := countsMetrics()
	m = append(m, runtime.OperatorMetrics{Operator: "sink", UID: "k2", RecordsIn: 5})
	p.start("job", nil, func() []runtime.OperatorMetrics { return m })
	got := map[string]any{}
	attrs := p.attrs()
	for i := 0; i < len(attrs); i++ {
		a := attrs[i].(interface{ String() string }).String()
		k, v, _ := strings.Cut(a, "=")
		got[k] = v
	}
	for k, v := range map[string]string{
		"source.in": "0", "source.out": "1234000", "count.in": "1234000", "count.out": "1234000",
		"sink[k].in": "1234000", "sink[k].out": "0", "sink[k2].in": "5",
	} {
		if got[k] != v {
			t.Errorf("attribute %s = %v, want %s (all: %v)", k, got[k], v, got)
		}
	}
	if _, ok := got["elapsed"]; !ok {
		t.Errorf("no elapsed attribute: %v", got)
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
			"generator.in": 0, "generator.out": 1000,
			"Filter(n % 4 != 0).in": 1000, "Filter(n % 4 != 0).out": 750,
			"Aggregate(count).in": 750, "Aggregate(count).out": 750,
			"stdout.in": 750, "stdout.out": 0,
		})
	}
}

// checkProgressLog checks the last "progress" record of a JSON log.
func checkProgressLog(t *testing.T, log string, want map[string]int64) {
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
}

// TestRunLogsProgressPeriodically: off a terminal, a running job logs its
// counts at every interval, and they only grow.
func TestRunLogsProgressPeriodically(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "paced.yaml")
	os.WriteFile(f, []byte("source: {type: generator, rate: 2000, fields: {n: i}}\nsink: {type: stdout}\n"), 0o644)
	sigs := make(chan os.Signal, 1)
	var out, errb sluicetest.Buffer
	a := &app{stdout: &out, stderr: &errb, signals: sigs, progressEvery: 50 * time.Millisecond,
		lookupEnv: func(string) (string, bool) { return "", false }}
	go func() {
		deadline := time.Now().Add(20 * time.Second)
		for strings.Count(errb.String(), `"msg":"progress"`) < 4 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		sigs <- syscall.SIGINT
	}()
	if code := a.main([]string{"run", f}); code != exitOK {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	var last int64 = -1
	n := 0
	for _, line := range strings.Split(errb.String(), "\n") {
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
		t.Errorf("%d progress records, the last with generator.out %d; want at least 4 (3 periodic, 1 at the end), growing:\n%s", n, last, errb.String())
	}
}
