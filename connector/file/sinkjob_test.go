package file

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// keyRec is an input record; countRec an output record.
type keyRec struct {
	Key string `json:"key"`
}

type countRec struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// writeKeyFiles writes files of JSON lines {"key": ...} into dir and
// returns how many records each key has.
func writeKeyFiles(t testing.TB, dir string, rng *rand.Rand, files, perFile, keys int) map[string]int64 {
	t.Helper()
	want := map[string]int64{}
	for f := range files {
		var b []byte
		for range perFile {
			k := fmt.Sprintf("k%d", rng.IntN(keys))
			want[k]++
			b = fmt.Appendf(b, "{\"key\":%q}\n", k)
		}
		writeFile(t, dir, fmt.Sprintf("in-%04d.jsonl", f), b, time.Time{})
	}
	return want
}

// checkCounts reads every visible file under dir as JSON lines of
// countRec and checks that each key's counts are exactly 1..want[key],
// each once.
func checkCounts(t testing.TB, dir string, want map[string]int64) {
	t.Helper()
	seen := map[string]map[int64]int{}
	total := 0
	for _, f := range visible(t, dir) {
		if strings.HasPrefix(filepath.Base(f), "in-") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for line := 1; sc.Scan(); line++ {
			var r countRec
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s:%d: %v (%q)", f, line, err, sc.Text())
			}
			if seen[r.Key] == nil {
				seen[r.Key] = map[int64]int{}
			}
			seen[r.Key][r.Count]++
			total++
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Fatalf("%s ends in the middle of a line", f)
		}
	}
	var problems []string
	for k, n := range want {
		for c := int64(1); c <= n; c++ {
			if got := seen[k][c]; got != 1 {
				problems = append(problems, fmt.Sprintf("%s=%d seen %d times", k, c, got))
			}
		}
		for c := range seen[k] {
			if c < 1 || c > n {
				problems = append(problems, fmt.Sprintf("%s=%d beyond %d", k, c, n))
			}
		}
	}
	for k := range seen {
		if _, ok := want[k]; !ok {
			problems = append(problems, fmt.Sprintf("unknown key %s", k))
		}
	}
	if len(problems) > 0 {
		if len(problems) > 10 {
			problems = append(problems[:10], fmt.Sprintf("... %d more", len(problems)-10))
		}
		t.Fatalf("%d output records; problems: %s", total, strings.Join(problems, "; "))
	}
}

// visibilityWatcher lists an output directory over and over while a job
// runs: a file that became visible must never change afterwards.
type visibilityWatcher struct {
	dir   string
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	sizes map[string]int64
	err   error
}

func watchVisible(dir string) *visibilityWatcher {
	w := &visibilityWatcher{dir: dir, stop: make(chan struct{}), done: make(chan struct{}), sizes: map[string]int64{}}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if err := w.check(); err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
				return
			}
		}
	}()
	return w
}

func (w *visibilityWatcher) check() error {
	files, err := listFiles(w.dir, true)
	if err != nil {
		return nil // the directory may not exist yet
	}
	for _, f := range files {
		fi, err := os.Stat(f.path)
		if err != nil {
			return fmt.Errorf("visible file %s vanished: %v", f.path, err)
		}
		w.mu.Lock()
		old, ok := w.sizes[f.path]
		w.sizes[f.path] = fi.Size()
		w.mu.Unlock()
		if ok && old != fi.Size() {
			return fmt.Errorf("visible file %s changed from %d to %d bytes", f.path, old, fi.Size())
		}
	}
	return nil
}

func (w *visibilityWatcher) finish(t *testing.T) {
	t.Helper()
	close(w.stop)
	<-w.done
	if err := w.check(); err != nil {
		t.Fatal(err)
	}
	if w.err != nil {
		t.Fatal(w.err)
	}
}

// failer fails a job at chosen record counts (over all attempts), but
// only once a checkpoint completed since the last failure, so that
// restarts restore checkpoints taken in the middle of the input.
type failer struct {
	events   chan runtime.JobEvent
	seen     atomic.Int64
	fails    atomic.Int64
	restores atomic.Int64
	armed    atomic.Bool
	mu       sync.Mutex
	at       []int64 // ascending
	done     chan struct{}
}

func newFailer(rng *rand.Rand, n int, total int64) *failer {
	f := &failer{events: make(chan runtime.JobEvent, 1024), done: make(chan struct{})}
	for range n {
		f.at = append(f.at, 1+rng.Int64N(total))
	}
	slices.Sort(f.at)
	go func() {
		defer close(f.done)
		for ev := range f.events {
			switch ev.Kind {
			case "checkpoint-completed":
				f.armed.Store(true)
			case "restored":
				f.restores.Add(1)
			}
		}
	}()
	return f
}

func (f *failer) check() error {
	n := f.seen.Add(1)
	if n%64 == 0 {
		time.Sleep(100 * time.Microsecond) // leave room for checkpoints
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.at) == 0 || n < f.at[0] || !f.armed.Load() {
		return nil
	}
	f.at = f.at[1:]
	f.armed.Store(false)
	f.fails.Add(1)
	return errors.New("injected failure")
}

func (f *failer) close() {
	close(f.events)
	<-f.done
}

// TestFileToFileExactlyOnceUnderFailures runs file source -> keyed
// running count -> file sink, bucketed and rolled by size, with failures
// injected after random records and in-process restarts from file://
// checkpoints. Every count must appear exactly once in the committed
// files, and committed files never change.
func TestFileToFileExactlyOnceUnderFailures(t *testing.T) {
	in, out, cps := t.TempDir(), t.TempDir(), t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	want := writeKeyFiles(t, in, rng, 12, 1500, 40)
	total := int64(12 * 1500)
	f := newFailer(rng, 6, total)
	env := stream.New("file-to-file", stream.WithParallelism(2), stream.WithLogger(quietLogger()), stream.WithEvents(f.events),
		stream.WithCheckpointing(10*time.Millisecond, "file://"+cps), stream.WithRestart(restart.FixedDelay(-1, time.Millisecond)))
	src := stream.FromSource(env, "in", NewSource(in, JSONLines[keyRec]()), eventtime.NoWatermarks[keyRec]()).UID("in")
	checked := stream.TryMap(src, func(r keyRec) (keyRec, error) { return r, f.check() })
	counts := stream.Reduce(stream.KeyBy(stream.Map(checked, func(r keyRec) countRec { return countRec{Key: r.Key, Count: 1} }),
		func(c countRec) string { return c.Key }), func(a, b countRec) countRec { return countRec{a.Key, a.Count + b.Count} }).UID("count")
	snk := NewSink(out, JSONLinesEncoder[countRec](),
		Rolling(RollingPolicy{MaxSize: 4 << 10}),
		Buckets(ByField(func(c countRec) string { return "b" + c.Key[len(c.Key)-1:] })))
	counts.SinkTo("out", snk).UID("out")

	w := watchVisible(out)
	sluicetest.Run(t, env)
	f.close()
	w.finish(t)
	checkCounts(t, out, want)
	// Every restart restored a checkpoint (failures are injected only
	// after one completed), and its writers removed the in-progress files
	// of the failed attempt once a checkpoint of theirs completed: the
	// final one at the latest.
	for _, f := range allFiles(t, out) {
		if strings.Contains(f, ".inprogress.") {
			t.Errorf("leftover hidden file %s", f)
		}
	}
	// Two subtasks may fail in one attempt, which then restarts once.
	if fails, restores := f.fails.Load(), f.restores.Load(); fails < 1 || fails > 6 || restores < 1 || restores > fails {
		t.Errorf("%d injected failures (want 1 to 6), %d restores (want 1 to the failures)", fails, restores)
	}
	if n := f.seen.Load(); n < total {
		t.Errorf("%d records read, want at least the %d of the input", n, total)
	}
}
