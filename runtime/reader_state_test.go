package runtime

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/eventtime"
)

func tagged(from int, e string) []byte {
	return append(binary.AppendUvarint(nil, uint64(from)), e...)
}

func TestReaderStateFor(t *testing.T) {
	// Entries as a restore sees them: the old subtasks' in any order, each
	// subtask's own in its order.
	old := [][]byte{tagged(2, "c1"), tagged(0, "a1"), tagged(0, "a2"), tagged(1, "b1"), tagged(2, "c2")}
	cases := []struct {
		name          string
		subtask, par  int
		want          []string
		wantMalformed bool
	}{
		{name: "same parallelism 0", subtask: 0, par: 3, want: []string{"a1", "a2"}},
		{name: "same parallelism 2", subtask: 2, par: 3, want: []string{"c1", "c2"}},
		{name: "scale down takes s mod p", subtask: 0, par: 2, want: []string{"a1", "a2", "c1", "c2"}},
		{name: "scale down, other subtask", subtask: 1, par: 2, want: []string{"b1"}},
		{name: "scale up keeps old subtasks whole", subtask: 1, par: 5, want: []string{"b1"}},
		{name: "scale up, a new subtask gets none", subtask: 4, par: 5, want: nil},
		{name: "to one subtask", subtask: 0, par: 1, want: []string{"a1", "a2", "b1", "c1", "c2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readerStateFor(old, tc.subtask, tc.par)
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, e := range got {
				s = append(s, string(e))
			}
			if !slices.Equal(s, tc.want) {
				t.Fatalf("got %q, want %q", s, tc.want)
			}
		})
	}
	if _, err := readerStateFor([][]byte{{0x80}}, 0, 1); err == nil {
		t.Fatal("a malformed entry must fail the restore")
	}
}

// twoVertexPlan is source (parallelism p) -> rebalance -> sink (parallelism 1).
func twoVertexPlan(name string, p int, src connector.Source[int], snk connector.Sink[int]) *Plan {
	sv := &Vertex{ID: 0, Name: "source", Parallelism: p, MaxParallelism: 128, Source: SourceSpecOf[int](src)}
	sv.Ops = []*OpSpec{{Name: "source", UID: "source", Out: TypeOf[int](), New: func(main any, side map[string]any) (Operator, error) {
		return NewSourceOperator[int](src, eventtime.NoWatermarks[int](), SourceOptions{}, main.(Output[int]), side), nil
	}}}
	kv := &Vertex{ID: 1, Name: "sink", Parallelism: 1, MaxParallelism: 128}
	kv.Ops = []*OpSpec{{Name: "sink", UID: "sink", New: func(any, map[string]any) (Operator, error) {
		return NewSinkOperator[int](snk), nil
	}}}
	e := &NetEdge{From: sv, FromOp: 0, To: kv, Spec: NewEdge[int](Rebalance, nil)}
	sv.Ops[0].Net = []*NetEdge{e}
	kv.Inputs = []*NetEdge{e}
	return &Plan{Name: name, Vertices: []*Vertex{sv, kv}}
}

// stateSource has readers that read nothing and end; each snapshots the
// reader state "s<subtask>-a", "s<subtask>-b" and records what it restores.
type stateSource struct {
	mu       *sync.Mutex
	restored map[int][]string // by subtask
}

func (stateSource) Bounded() bool { return true }
func (stateSource) NewEnumerator(ctx connector.EnumeratorContext, _ []byte) (connector.Enumerator, error) {
	return &noSplitsEnum{ctx: ctx}, nil
}
func (s stateSource) NewReader(ctx connector.ReaderContext) (connector.Reader[int], error) {
	return &stateReader{src: s, subtask: ctx.Subtask()}, nil
}
func (stateSource) SplitCodec() connector.SplitCodec { return nil }

type noSplitsEnum struct{ ctx connector.EnumeratorContext }

func (e *noSplitsEnum) AddReader(s int) error          { e.ctx.NoMoreSplits(s); return nil }
func (e *noSplitsEnum) HandleSplitRequest(int) error   { return nil }
func (e *noSplitsEnum) Snapshot(int64) ([]byte, error) { return []byte{}, nil }
func (e *noSplitsEnum) Close() error                   { return nil }

type stateReader struct {
	src     stateSource
	subtask int
	noMore  bool
}

func (r *stateReader) Start() error                                   { return nil }
func (r *stateReader) Available() <-chan struct{}                     { return nil }
func (r *stateReader) AddSplits([]connector.Split) error              { return nil }
func (r *stateReader) NoMoreSplits()                                  { r.noMore = true }
func (r *stateReader) SnapshotState(int64) ([]connector.Split, error) { return nil, nil }
func (r *stateReader) Close() error                                   { return nil }
func (r *stateReader) PollNext(connector.ReaderOutput[int]) (connector.InputStatus, error) {
	if r.noMore {
		return connector.EndOfInput, nil
	}
	return connector.NothingAvailable, nil
}
func (r *stateReader) SnapshotReaderState(int64) ([][]byte, error) {
	return [][]byte{fmt.Appendf(nil, "s%d-a", r.subtask), fmt.Appendf(nil, "s%d-b", r.subtask)}, nil
}
func (r *stateReader) RestoreReaderState(st [][]byte) error {
	r.src.mu.Lock()
	defer r.src.mu.Unlock()
	for _, e := range st {
		r.src.restored[r.subtask] = append(r.src.restored[r.subtask], string(e))
	}
	if len(st) == 0 {
		r.src.restored[r.subtask] = []string{}
	}
	return nil
}

// TestReaderStateRescale: reader state goes into the checkpoint and is
// restored whole by the subtask s mod p of the new parallelism p.
func TestReaderStateRescale(t *testing.T) {
	dir := t.TempDir()
	run := func(t *testing.T, p int, restore string) map[int][]string {
		t.Helper()
		src := stateSource{mu: &sync.Mutex{}, restored: map[int][]string{}}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		err := Run(ctx, twoVertexPlan("reader-state", p, src, discardSink{}), Config{Logger: quiet(), Restore: restore,
			Checkpoint: CheckpointConfig{Interval: time.Hour, Storage: dir, Retain: 100}})
		if err != nil {
			t.Fatal(err)
		}
		return src.restored
	}
	if got := run(t, 3, ""); len(got) != 0 {
		t.Fatalf("a fresh start restored %v", got)
	}
	first := filepath.Join(dir, "chk-1") // the final checkpoint of the first run
	cases := []struct {
		p    int
		want map[int][]string
	}{
		{3, map[int][]string{0: {"s0-a", "s0-b"}, 1: {"s1-a", "s1-b"}, 2: {"s2-a", "s2-b"}}},
		{2, map[int][]string{0: {"s0-a", "s0-b", "s2-a", "s2-b"}, 1: {"s1-a", "s1-b"}}},
		{4, map[int][]string{0: {"s0-a", "s0-b"}, 1: {"s1-a", "s1-b"}, 2: {"s2-a", "s2-b"}, 3: {}}},
		{1, map[int][]string{0: {"s0-a", "s0-b", "s1-a", "s1-b", "s2-a", "s2-b"}}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint("parallelism=", tc.p), func(t *testing.T) {
			if got := run(t, tc.p, first); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("restored %v, want %v", got, tc.want)
			}
		})
	}
}

// ackLog is the order of what happened, across goroutines.
type ackLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *ackLog) add(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// ackSource emits chunks of records; it holds the ids it emitted as
// pending acknowledgements (reader state) until a checkpoint that covers
// them completes, and emits the next chunk only then.
type ackSource struct {
	log            *ackLog
	chunks, perChk int
}

func (ackSource) Bounded() bool { return true }
func (ackSource) NewEnumerator(ctx connector.EnumeratorContext, _ []byte) (connector.Enumerator, error) {
	return &noSplitsEnum{ctx: ctx}, nil
}
func (s ackSource) NewReader(connector.ReaderContext) (connector.Reader[int], error) {
	return &ackReader{src: s, held: map[int64][]int{}, avail: make(chan struct{}, 1)}, nil
}
func (ackSource) SplitCodec() connector.SplitCodec { return nil }

type ackReader struct {
	src     ackSource
	next    int
	waiting bool
	emitted []int           // since the last snapshot
	held    map[int64][]int // emitted before the snapshot of a checkpoint, not acknowledged
	avail   chan struct{}
}

func (r *ackReader) Start() error                      { return nil }
func (r *ackReader) Available() <-chan struct{}        { return r.avail }
func (r *ackReader) AddSplits([]connector.Split) error { return nil }
func (r *ackReader) NoMoreSplits()                     {}
func (r *ackReader) Close() error                      { return nil }
func (r *ackReader) PollNext(out connector.ReaderOutput[int]) (connector.InputStatus, error) {
	if r.waiting {
		return connector.NothingAvailable, nil
	}
	if r.next == r.src.chunks*r.src.perChk {
		return connector.EndOfInput, nil
	}
	for range r.src.perChk {
		out.Collect(r.next)
		r.emitted = append(r.emitted, r.next)
		r.next++
	}
	r.waiting = true
	return connector.NothingAvailable, nil
}
func (r *ackReader) SnapshotState(id int64) ([]connector.Split, error) {
	if len(r.emitted) > 0 {
		r.held[id] = r.emitted
		r.emitted = nil
	}
	return nil, nil
}
func (r *ackReader) SnapshotReaderState(int64) ([][]byte, error) {
	var st [][]byte
	for _, ids := range r.held {
		for _, v := range ids {
			st = append(st, binary.AppendUvarint(nil, uint64(v)))
		}
	}
	return st, nil
}
func (r *ackReader) RestoreReaderState([][]byte) error { return nil }
func (r *ackReader) NotifyCheckpointComplete(id int64) error {
	var ids []int
	for n, h := range r.held {
		if n <= id {
			ids = append(ids, h...)
			delete(r.held, n)
		}
	}
	if len(ids) > 0 {
		slices.Sort(ids)
		r.src.log.add("ack %d %v", id, ids)
		r.waiting = false
		select {
		case r.avail <- struct{}{}:
		default:
		}
	}
	return nil
}
func (r *ackReader) NotifyCheckpointAborted(int64) error { return nil }

// logSink is a two-phase sink: a checkpoint's committable is the ids
// written since the previous pre-commit, which Commit logs.
type logSink struct{ log *ackLog }

func (s logSink) NewWriter(connector.WriterContext, [][]byte) (connector.Writer[int], error) {
	return &logWriter{log: s.log}, nil
}
func (s logSink) NewCommitter(connector.WriterContext) (connector.Committer, error) {
	return logCommitter(s), nil
}

type logWriter struct {
	log *ackLog
	buf []int
}

func (w *logWriter) Write(_ context.Context, v int, _ int64) error {
	w.buf = append(w.buf, v)
	return nil
}
func (w *logWriter) Flush(context.Context) error { return nil }
func (w *logWriter) Close() error                { return nil }
func (w *logWriter) PreCommit(_ context.Context, id int64) ([][]byte, error) {
	if len(w.buf) == 0 {
		return nil, nil
	}
	slices.Sort(w.buf)
	w.log.add("precommit %d %v", id, w.buf)
	c := fmt.Appendf(nil, "%d %v", id, w.buf)
	w.buf = nil
	return [][]byte{c}, nil
}

type logCommitter struct{ log *ackLog }

func (c logCommitter) Commit(_ context.Context, id int64, cs [][]byte) error {
	for _, b := range cs {
		c.log.add("commit %d: %s", id, b)
	}
	return nil
}
func (logCommitter) Close() error { return nil }

// TestAcksAfterCheckpointComplete: a reader acknowledges records only once
// the checkpoint that holds their effects completed: every ack of
// checkpoint n comes after n completed, and acknowledges exactly the
// records that a two-phase sink pre-committed for n and earlier; the
// committer is told the checkpoint of the committables it commits.
func TestAcksAfterCheckpointComplete(t *testing.T) {
	const chunks, per = 5, 10
	log := &ackLog{}
	hooks := Hooks{CheckpointCompleted: func(id int64, _ CheckpointKind) { log.add("complete %d", id) }}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := Run(ctx, twoVertexPlan("acks", 1, ackSource{log: log, chunks: chunks, perChk: per}, logSink{log}),
		Config{Logger: quiet(), Hooks: hooks, Checkpoint: CheckpointConfig{Interval: 10 * time.Millisecond, Storage: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	completed := map[int64]bool{}
	var precommitted []int
	precommitAt := map[int]int64{} // record -> checkpoint it was pre-committed for
	acked := map[int]int64{}
	ackChecks := 0
	for _, l := range log.lines {
		var id int64
		var rest string
		switch {
		case strings.HasPrefix(l, "complete "):
			fmt.Sscan(strings.TrimPrefix(l, "complete "), &id)
			completed[id] = true
		case strings.HasPrefix(l, "precommit "):
			fmt.Sscan(strings.TrimPrefix(l, "precommit "), &id)
			_, rest, _ = strings.Cut(strings.TrimPrefix(l, "precommit "), " ")
			for _, v := range parseIDs(t, rest) {
				precommitAt[v] = id
				precommitted = append(precommitted, v)
			}
		case strings.HasPrefix(l, "commit "):
			var cid int64
			fmt.Sscanf(l, "commit %d: %d", &id, &cid)
			if id != cid || !completed[id] {
				t.Errorf("%q: committed under checkpoint %d (completed: %v) what was pre-committed for %d", l, id, completed[id], cid)
			}
		case strings.HasPrefix(l, "ack "):
			fmt.Sscan(strings.TrimPrefix(l, "ack "), &id)
			_, rest, _ = strings.Cut(strings.TrimPrefix(l, "ack "), " ")
			if !completed[id] {
				t.Errorf("%q before checkpoint %d completed", l, id)
			}
			for _, v := range parseIDs(t, rest) {
				at, ok := precommitAt[v]
				if !ok || at > id {
					t.Errorf("record %d acknowledged with checkpoint %d; pre-committed: %v (for %d)", v, id, ok, at)
				}
				if prev, dup := acked[v]; dup {
					t.Errorf("record %d acknowledged twice (%d, %d)", v, prev, id)
				}
				acked[v] = id
			}
			ackChecks++
		}
	}
	if len(acked) != chunks*per || len(precommitted) != chunks*per {
		t.Fatalf("acknowledged %d and pre-committed %d of %d records:\n%s", len(acked), len(precommitted), chunks*per, strings.Join(log.lines, "\n"))
	}
	if ackChecks < chunks {
		t.Fatalf("%d acknowledgements for %d chunks", ackChecks, chunks)
	}
}

func parseIDs(t *testing.T, s string) []int {
	t.Helper()
	var out []int
	for f := range strings.FieldsSeq(strings.Trim(s, "[]")) {
		var v int
		if _, err := fmt.Sscan(f, &v); err != nil {
			t.Fatalf("bad id %q in %q", f, s)
		}
		out = append(out, v)
	}
	return out
}
