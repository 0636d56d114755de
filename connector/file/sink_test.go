package file

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// harness drives one sink subtask like the runtime does: writes, a
// checkpoint (pre-commit, then writer snapshot), and commits when a
// checkpoint completes.
type harness[T any] struct {
	t       *testing.T
	sink    *Sink[T]
	ctx     fakeWriterContext
	w       connector.Writer[T]
	c       connector.Committer
	pending map[int64][][]byte
	state   map[int64][][]byte // writer state by checkpoint
}

func newHarness[T any](t *testing.T, s *Sink[T], ctx fakeWriterContext, restored [][]byte) *harness[T] {
	t.Helper()
	h := &harness[T]{t: t, sink: s, ctx: ctx, pending: map[int64][][]byte{}, state: map[int64][][]byte{}}
	w, err := s.NewWriter(ctx, restored)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.NewCommitter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.w, h.c = w, c
	t.Cleanup(func() { h.w.Close() })
	return h
}

func (h *harness[T]) write(vs ...T) {
	h.t.Helper()
	for _, v := range vs {
		if err := h.w.Write(context.Background(), v, math.MinInt64); err != nil {
			h.t.Fatal(err)
		}
	}
}

// checkpoint takes checkpoint id and returns its committables.
func (h *harness[T]) checkpoint(id int64) [][]byte {
	h.t.Helper()
	c, err := h.w.(connector.PreCommitter).PreCommit(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	st, err := h.w.(connector.StatefulWriter).SnapshotState(id)
	if err != nil {
		h.t.Fatal(err)
	}
	h.pending[id], h.state[id] = c, st
	return c
}

// complete commits what checkpoints up to id pre-committed.
func (h *harness[T]) complete(id int64) {
	h.t.Helper()
	var all [][]byte
	for pid, c := range h.pending {
		if pid <= id {
			all = append(all, c...)
			delete(h.pending, pid)
		}
	}
	if err := h.c.Commit(context.Background(), 1, all); err != nil {
		h.t.Fatal(err)
	}
	if err := h.w.(connector.CheckpointListener).NotifyCheckpointComplete(id); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness[T]) endOfInput(id int64) {
	h.t.Helper()
	if err := h.w.Flush(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.checkpoint(id)
	h.complete(id)
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// contents maps visible files to their content.
func contents(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range visible(t, dir) {
		out[f] = read(t, filepath.Join(dir, f))
	}
	return out
}

func onlyHidden(t *testing.T, dir string) {
	t.Helper()
	if v := visible(t, dir); len(v) != 0 {
		t.Fatalf("files visible before their checkpoint completed: %v", v)
	}
}

func TestPartFileSpansCheckpoints(t *testing.T) {
	dir := t.TempDir()
	s := NewSink(dir, TextEncoder[int](), Rolling(RollingPolicy{}))
	h := newHarness(t, s, fakeWriterContext{sub: 0, par: 1}, nil)
	h.write(1, 2)
	if c := h.checkpoint(1); len(c) != 0 {
		t.Fatalf("an open row-format part file is not committed at a checkpoint: %d committables", len(c))
	}
	h.complete(1)
	onlyHidden(t, dir)
	h.write(3)
	h.checkpoint(2)
	h.complete(2)
	h.write(4)
	onlyHidden(t, dir)
	// The in-progress file holds what the checkpoints covered.
	st, _ := decodeWriterState(h.state[2][0])
	if len(st.parts) != 1 || st.parts[0].size != int64(len("1\n2\n3\n")) {
		t.Fatalf("writer state %+v", st)
	}
	h.endOfInput(3)
	if got := contents(t, dir); !reflect.DeepEqual(got, map[string]string{"part-0-0.txt": "1\n2\n3\n4\n"}) {
		t.Fatalf("got %q", got)
	}
	if all := allFiles(t, dir); len(all) != 1 {
		t.Fatalf("files left: %v", all)
	}
}

func TestRestoreTruncatesInProgressData(t *testing.T) {
	dir := t.TempDir()
	s := NewSink(dir, JSONLinesEncoder[string](), Rolling(RollingPolicy{MaxSize: 30}))
	h := newHarness(t, s, fakeWriterContext{sub: 0, par: 1}, nil)
	h.write("a", "b")
	h.checkpoint(1)
	h.complete(1)
	// After checkpoint 1: more records, one roll (by size), and checkpoint 2
	// that never completes; then the subtask dies.
	h.write("c", "d", "e", "f", "g", "h", "i")
	c2 := h.checkpoint(2)
	if len(c2) == 0 {
		t.Fatal("want a rolled file in checkpoint 2")
	}
	h.write("lost")
	h.w.Close()
	onlyHidden(t, dir)

	// Restore checkpoint 1: "a", "b" in progress; everything later is gone.
	h2 := newHarness(t, s, fakeWriterContext{sub: 0, par: 1}, h.state[1])
	h2.write("x")
	h2.endOfInput(3)
	got := contents(t, dir)
	if !reflect.DeepEqual(got, map[string]string{"part-0-0.jsonl": "\"a\"\n\"b\"\n\"x\"\n"}) {
		t.Fatalf("got %q", got)
	}
	// The first checkpoint of the new attempt removed the leftovers of
	// the failed one (the file rolled for checkpoint 2, the next part).
	if all := allFiles(t, dir); len(all) != 1 {
		t.Fatalf("leftover files: %v", all)
	}
}

func TestCommitIsIdempotentAndNeverRewrites(t *testing.T) {
	dir := t.TempDir()
	s := NewSink(dir, TextEncoder[string]())
	h := newHarness(t, s, fakeWriterContext{sub: 2, par: 3}, nil)
	h.write("one")
	if err := h.w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := h.checkpoint(1)
	if len(c) != 1 {
		t.Fatalf("%d committables", len(c))
	}
	h.complete(1)
	final := filepath.Join(dir, "part-2-0.txt")
	fi1, err := os.Stat(final)
	if err != nil {
		t.Fatal(err)
	}
	// Restoring checkpoint 1 commits its committables again: success, and
	// the committed file is untouched.
	time.Sleep(10 * time.Millisecond)
	if err := h.c.Commit(context.Background(), 1, c); err != nil {
		t.Fatalf("second commit: %v", err)
	}
	if fi2, _ := os.Stat(final); !fi2.ModTime().Equal(fi1.ModTime()) || read(t, final) != "one\n" {
		t.Fatal("a committed file was rewritten")
	}
	// A new writer of the same subtask does not reuse the name.
	h2 := newHarness(t, s, fakeWriterContext{sub: 2, par: 3}, nil)
	h2.write("two")
	h2.endOfInput(2)
	if got := contents(t, dir); !reflect.DeepEqual(got, map[string]string{"part-2-0.txt": "one\n", "part-2-1.txt": "two\n"}) {
		t.Fatalf("got %q", got)
	}

	// A final file of another length, or no file at all, is data loss.
	p, _ := decodeCommittable(c[0])
	p.size++
	if err := h.c.Commit(context.Background(), 1, [][]byte{encodeCommittable(&p)}); !errors.Is(err, connector.ErrDataLoss) {
		t.Fatalf("length mismatch: %v", err)
	}
	p.final, p.temp = "part-2-9.txt", ".part-2-9.inprogress.00"
	if err := h.c.Commit(context.Background(), 1, [][]byte{encodeCommittable(&p)}); !errors.Is(err, connector.ErrDataLoss) {
		t.Fatalf("missing: %v", err)
	}
	if err := h.c.Commit(context.Background(), 1, [][]byte{{9, 9}}); err == nil {
		t.Fatal("a malformed committable must fail")
	}
}

func TestRollingBySize(t *testing.T) {
	dir := t.TempDir()
	s := NewSink(dir, TextEncoder[string](), Rolling(RollingPolicy{MaxSize: 10}))
	h := newHarness(t, s, fakeWriterContext{sub: 0, par: 1}, nil)
	for i := range 20 {
		h.write(fmt.Sprintf("r%02d", i)) // 4 bytes a line: 3 lines a file
	}
	c := h.checkpoint(1)
	if len(c) != 6 {
		t.Fatalf("%d files rolled, want 6", len(c))
	}
	onlyHidden(t, dir)
	h.complete(1)
	h.endOfInput(2)
	got := contents(t, dir)
	if len(got) != 7 {
		t.Fatalf("%d files: %v", len(got), got)
	}
	var all string
	for i := range 7 {
		f := got[fmt.Sprintf("part-0-%d.txt", i)]
		if len(f) > 12 {
			t.Fatalf("file %d has %d bytes", i, len(f))
		}
		all += f
	}
	var want string
	for i := range 20 {
		want += fmt.Sprintf("r%02d\n", i)
	}
	if all != want {
		t.Fatalf("content %q", all)
	}
}

func TestRollingByTime(t *testing.T) {
	for _, tt := range []struct {
		name  string
		pol   RollingPolicy
		steps []time.Duration // clock advance before each write
		files int
	}{
		// Age: a file started at t=0 rolls at the first check after 1m.
		{name: "max age", pol: RollingPolicy{MaxAge: time.Minute}, steps: []time.Duration{0, 20 * time.Second, 20 * time.Second, 30 * time.Second, 10 * time.Second}, files: 2},
		// Inactivity: writes 20s apart never roll; a 2m pause does.
		{name: "inactivity", pol: RollingPolicy{Inactivity: time.Minute}, steps: []time.Duration{0, 20 * time.Second, 20 * time.Second, 2 * time.Minute, 20 * time.Second}, files: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			clock := newFakeClock()
			s := NewSink(dir, TextEncoder[int](), Rolling(tt.pol), Clock(clock.Now))
			h := newHarness(t, s, fakeWriterContext{sub: 0, par: 1}, nil)
			for i, d := range tt.steps {
				clock.Advance(d)
				h.write(i)
			}
			h.endOfInput(1)
			if got := visible(t, dir); len(got) != tt.files {
				t.Fatalf("files %v, want %d", got, tt.files)
			}
		})
	}
	// Without records, the time limits are checked at checkpoints.
	dir := t.TempDir()
	clock := newFakeClock()
	s := NewSink(dir, TextEncoder[int](), Rolling(RollingPolicy{Inactivity: time.Minute}), Clock(clock.Now))
	h := newHarness(t, s, fakeWriterContext{sub: 0, par: 1}, nil)
	h.write(1)
	clock.Advance(30 * time.Second)
	if c := h.checkpoint(1); len(c) != 0 {
		t.Fatal("rolled too early")
	}
	clock.Advance(31 * time.Second)
	if c := h.checkpoint(2); len(c) != 1 {
		t.Fatal("an inactive file must roll at the checkpoint")
	}
	h.complete(2)
	if got := contents(t, dir); got["part-0-0.txt"] != "1\n" {
		t.Fatalf("got %q", got)
	}
}

func TestBuckets(t *testing.T) {
	type ev struct {
		Country string
		TS      int64
	}
	base := time.Date(2024, 5, 1, 13, 30, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		assign BucketAssigner[ev]
		want   []string
	}{
		{name: "none", assign: NoBuckets[ev](), want: []string{"part-0-0.csv"}},
		{name: "field", assign: ByField(func(e ev) string { return e.Country }), want: []string{"de/part-0-1.csv", "fr/part-0-0.csv"}},
		{name: "event time", assign: ByEventTime[ev]("", nil), want: []string{"2024-05-01--13/part-0-0.csv", "2024-05-01--14/part-0-1.csv"}},
		{name: "processing time nested", assign: ByProcessingTime[ev]("2006/01/02", time.UTC), want: []string{"2024/05/01/part-0-0.csv"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			clock := &fakeClock{now: base}
			s := NewSink(dir, CSVEncoder(func(e ev) []string { return []string{e.Country, fmt.Sprint(e.TS)} }, []string{"country", "ts"}),
				Buckets(tt.assign), Clock(clock.Now))
			h := newHarness(t, s, fakeWriterContext{sub: 0, par: 1}, nil)
			for i, e := range []ev{{"fr", 0}, {"de", 40}, {"fr", 50}} {
				ts := base.Add(time.Duration(e.TS) * time.Minute).UnixMilli()
				if err := h.w.Write(context.Background(), e, ts); err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
			}
			h.endOfInput(1)
			got := visible(t, dir)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("files %v, want %v", got, tt.want)
			}
			for _, f := range got {
				if c := read(t, filepath.Join(dir, f)); !strings.HasPrefix(c, "country,ts\n") {
					t.Fatalf("%s has no header: %q", f, c)
				}
			}
		})
	}
}

func TestBadBuckets(t *testing.T) {
	for _, b := range []string{"/abs", "a/../b", "..", ".hidden", "x/_y", "a//b", "a/", "nul\x00"} {
		s := NewSink(t.TempDir(), TextEncoder[string](), Buckets(ByField(func(s string) string { return s })))
		w, err := s.NewWriter(fakeWriterContext{sub: 0, par: 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(context.Background(), b, 0); err == nil {
			t.Errorf("bucket %q accepted", b)
		}
		w.Close()
	}
	s := NewSink(t.TempDir(), TextEncoder[string](), Buckets(ByEventTime[string]("", nil)))
	w, _ := s.NewWriter(fakeWriterContext{sub: 0, par: 1}, nil)
	if err := w.Write(context.Background(), "x", math.MinInt64); !errors.Is(err, ErrNoTimestamp) {
		t.Fatalf("no timestamp: %v", err)
	}
	w.Close()
	if _, err := NewSink(t.TempDir(), TextEncoder[string](), PartPrefix(".p")).NewWriter(fakeWriterContext{sub: 0, par: 1}, nil); err == nil {
		t.Fatal("a hidden prefix must be refused")
	}
}

// TestRescaledRestore rescales a sink 2 -> 1 -> 2 and then restores at
// parallelism 2 (where leftovers are removed): every record is committed
// once, and part file names never collide.
func TestRescaledRestore(t *testing.T) {
	dir := t.TempDir()
	s := NewSink(dir, TextEncoder[string](), Rolling(RollingPolicy{}), Buckets(ByField(func(v string) string { return v[:1] })))
	states := func(hs ...*harness[string]) (out [][]byte) {
		for _, h := range hs {
			h.w.Close()
			out = append(out, h.state[int64(len(h.state))]...)
		}
		return out
	}
	// Parallelism 2: subtask 0 writes bucket a, subtask 1 buckets a and b.
	h0 := newHarness(t, s, fakeWriterContext{sub: 0, par: 2}, nil)
	h1 := newHarness(t, s, fakeWriterContext{sub: 1, par: 2}, nil)
	h0.write("a0")
	h1.write("a1", "b1")
	for _, h := range []*harness[string]{h0, h1} {
		h.checkpoint(1)
		h.complete(1)
	}
	// Parallelism 1: continues its own file, finishes subtask 1's.
	h := newHarness(t, s, fakeWriterContext{sub: 0, par: 1}, states(h0, h1))
	h.write("a2", "b2")
	h.checkpoint(1)
	h.complete(1)
	if st, _ := decodeWriterState(h.state[1][0]); len(st.parts) != 2 || !strings.HasPrefix(st.parts[0].final, "part-0-") || !strings.HasPrefix(st.parts[1].final, "part-0-") {
		t.Fatalf("in-progress files at parallelism 1: %+v", st.parts)
	}
	// Parallelism 2 again, then a failure after checkpoint 2.
	h0 = newHarness(t, s, fakeWriterContext{sub: 0, par: 2}, states(h))
	h1 = newHarness(t, s, fakeWriterContext{sub: 1, par: 2}, nil)
	h0.write("a3", "b3")
	h1.write("a4", "b4")
	for _, h := range []*harness[string]{h0, h1} {
		h.checkpoint(1)
		h.complete(1)
		h.checkpoint(2)
		h.complete(2)
	}
	h0.write("lost")
	h1.write("lost")
	h0.checkpoint(3)
	h1.checkpoint(3)
	restored := [][]byte{h0.state[2][0], h1.state[2][0]}
	h0.w.Close()
	h1.w.Close()
	// Restore checkpoint 2 at parallelism 2: both subtasks remove their
	// leftovers after the next checkpoint, and lose nothing.
	h0 = newHarness(t, s, fakeWriterContext{sub: 0, par: 2}, restored[:1])
	h1 = newHarness(t, s, fakeWriterContext{sub: 1, par: 2}, restored[1:])
	h0.write("a5")
	h1.write("b5")
	for _, h := range []*harness[string]{h0, h1} {
		h.checkpoint(3)
		h.complete(3)
	}
	for _, h := range []*harness[string]{h0, h1} {
		h.endOfInput(4)
	}
	var lines []string
	for _, c := range contents(t, dir) {
		lines = append(lines, strings.Fields(c)...)
	}
	slices.Sort(lines)
	if want := []string{"a0", "a1", "a2", "a3", "a4", "a5", "b1", "b2", "b3", "b4", "b5"}; !slices.Equal(lines, want) {
		t.Fatalf("lines %v in %v", lines, visible(t, dir))
	}
	if all, vis := allFiles(t, dir), visible(t, dir); len(all) != len(vis) {
		t.Fatalf("hidden files left: %v", all)
	}
}

func TestRestoreFailsLoudly(t *testing.T) {
	dir := t.TempDir()
	s := NewSink(dir, TextEncoder[string]())
	h := newHarness(t, s, fakeWriterContext{sub: 0, par: 1}, nil)
	h.write("x")
	h.checkpoint(1)
	st := h.state[1]
	h.w.Close()
	ws, _ := decodeWriterState(st[0])
	temp := filepath.Join(dir, ws.parts[0].temp)

	// Shorter than checkpointed: data loss.
	if err := os.Truncate(temp, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.NewWriter(fakeWriterContext{sub: 0, par: 1}, st); !errors.Is(err, connector.ErrDataLoss) {
		t.Fatalf("truncated: %v", err)
	}
	// Committed by a later checkpoint: restoring this old one is refused.
	os.WriteFile(temp, []byte("x\n"), 0o644)
	os.Rename(temp, filepath.Join(dir, ws.parts[0].final))
	if _, err := s.NewWriter(fakeWriterContext{sub: 0, par: 1}, st); err == nil || !strings.Contains(err.Error(), "already committed") {
		t.Fatalf("committed: %v", err)
	}
	// Gone: data loss.
	os.Remove(filepath.Join(dir, ws.parts[0].final))
	if _, err := s.NewWriter(fakeWriterContext{sub: 0, par: 1}, st); !errors.Is(err, connector.ErrDataLoss) {
		t.Fatalf("gone: %v", err)
	}
	if _, err := s.NewWriter(fakeWriterContext{sub: 0, par: 1}, [][]byte{{1, 2, 3}}); err == nil {
		t.Fatal("corrupt state must fail")
	}
}

func TestSinkDeclare(t *testing.T) {
	s := NewSink("/x", TextEncoder[int]())
	if d := s.Declare(true); d.Guarantee != connector.ExactlyOnce {
		t.Fatalf("with checkpoints: %+v", d)
	}
	if d := s.Declare(false); d.Guarantee != connector.AtLeastOnce || !strings.Contains(d.Reason, "end of the input") {
		t.Fatalf("without checkpoints: %+v", d)
	}
	var _ connector.TwoPhaseSink[int] = s
}
