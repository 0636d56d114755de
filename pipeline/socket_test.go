package pipeline

import (
	"fmt"
	"net"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sluicetest"
)

// lineServer listens on a loopback port and serves each connection the
// batches of lines: a batch, then the next once the previous one's
// channel is closed (nil: at once), then it closes the connection.
func lineServer(t *testing.T, batches [][]string, gates []chan struct{}) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for i, lines := range batches {
			if i < len(gates) && gates[i] != nil {
				<-gates[i]
			}
			if _, err := c.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
				t.Errorf("write: %v", err)
				return
			}
		}
	})
	return l.Addr().String()
}

// TestSocketToFile: JSON lines from a TCP server that closes the
// connection at the end (end_on_close), through a filter and a keyed
// running aggregate, into part files.
func TestSocketToFile(t *testing.T) {
	var lines []string
	for i := range 60 {
		lines = append(lines, fmt.Sprintf(`{"user": "u%d", "amount": %d}`, i%3, i))
	}
	lines = append(lines, "", "not json")
	addr := lineServer(t, [][]string{lines}, nil)
	out := filepath.Join(t.TempDir(), "out")
	src := `
source: {type: socket, address: "${ADDR}", end_on_close: true}
steps:
  - filter: amount >= 30
  - key_by: user
  - aggregate: {n: count(), total: sum(amount)}
sink: {type: file, path: "${OUT}"}
dead_letter: {type: file, path: "${OUT}-bad"}
`
	if _, err := run(t, src, map[string]string{"ADDR": addr, "OUT": out}); err != nil {
		t.Fatal(err)
	}
	final := map[string]Record{}
	got := readParts(t, out)
	for _, l := range got {
		r, err := decodeJSONRecord([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		if cur, ok := final[r["user"].(string)]; !ok || r["n"].(int64) > cur["n"].(int64) {
			final[r["user"].(string)] = r
		}
	}
	if len(got) != 30 {
		t.Errorf("%d output records, want one per record that passed the filter (30)", len(got))
	}
	// u0: 30, 33, ..., 57 (10 records, sum 435); u1: 31..58 (445); u2: 32..59 (455).
	for u, total := range map[string]int64{"u0": 435, "u1": 445, "u2": 455} {
		if r := final[u]; r["n"] != int64(10) || r["total"] != total {
			t.Errorf("%s: %v, want n 10 total %d", u, r, total)
		}
	}
	bad := readParts(t, out+"-bad")
	if len(bad) != 1 || !strings.Contains(bad[0], `"raw":"not json"`) || !strings.Contains(bad[0], addr) {
		t.Errorf("dead letters %v", bad)
	}
}

// TestProcessingTimeWindow: tumbling windows on processing time (a manual
// clock) fire when the clock passes their end, and the window still open
// when the input ends fires then.
func TestProcessingTimeWindow(t *testing.T) {
	gate := make(chan struct{})
	addr := lineServer(t, [][]string{
		{`{"k": "a"}`, `{"k": "a"}`, `{"k": "b"}`},
		{`{"k": "a"}`, `{"k": "c"}`},
	}, []chan struct{}{nil, gate})
	clock := sluicetest.NewManualClock(time.Date(2024, 5, 1, 12, 0, 3, 0, time.UTC))
	var out sluicetest.Buffer
	job, _ := start(t, `
source: {type: socket, address: "`+addr+`", end_on_close: true}
steps:
  - key_by: k
  - window: {type: tumbling, size: 10s, time: processing, aggregate: {n: count()}}
    uid: win
sink: {type: stdout}
`, nil, Overrides{Stdout: &out, Logger: quiet, Clock: clock})
	waitRecordsIn(t, job, "win", 3)
	clock.Advance(10 * time.Second) // 12:00:13: [12:00:00, 12:00:10) fires
	waitMetrics(t, job, "win", "fired the windows of a and b", func(m runtime.OperatorMetrics) bool { return m.RecordsOut == 2 })
	close(gate)
	waitRecordsIn(t, job, "win", 5)
	if err := job.Wait(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for l := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
		r, err := decodeJSONRecord([]byte(l))
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		got = append(got, fmt.Sprintf("%s %s-%s %d", r["k"], r["window_start"], r["window_end"], r["n"]))
	}
	sort.Strings(got)
	want := []string{
		"a 2024-05-01T12:00:00.000Z-2024-05-01T12:00:10.000Z 2",
		"a 2024-05-01T12:00:10.000Z-2024-05-01T12:00:20.000Z 1",
		"b 2024-05-01T12:00:00.000Z-2024-05-01T12:00:10.000Z 1",
		"c 2024-05-01T12:00:10.000Z-2024-05-01T12:00:20.000Z 1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// waitRecordsIn waits until the operator with uid has received n records.
func waitRecordsIn(t *testing.T, job *runtime.Job, uid string, n int64) {
	t.Helper()
	waitMetrics(t, job, uid, fmt.Sprintf("received %d records", n), func(m runtime.OperatorMetrics) bool { return m.RecordsIn >= n })
}

// waitMetrics waits until the metrics of the operator with uid satisfy ok.
func waitMetrics(t *testing.T, job *runtime.Job, uid, what string, ok func(runtime.OperatorMetrics) bool) {
	t.Helper()
	done := func() bool {
		for _, m := range runtime.SumBySubtask(job.Metrics()) {
			if m.UID == uid && ok(m) {
				return true
			}
		}
		return false
	}
	deadline := time.After(30 * time.Second)
	for !done() {
		select {
		case <-job.Done():
			if !done() {
				t.Fatalf("the job ended before %s %s: %v", uid, what, job.Wait())
			}
		case <-deadline:
			t.Fatalf("%s has not %s", uid, what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}
