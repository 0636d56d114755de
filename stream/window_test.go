package stream_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/internal/streamhook"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/collection"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

// winEv is an input record of the window tests. N is 1 on input; reducing
// sums it, so results count their records.
type winEv struct {
	Key string
	TS  int64
	Val int
	N   int
}

// winRes is a window result: key, window, sum and count. Start is 0 where
// the function does not see the window.
type winRes struct {
	Key        string
	Start, End int64
	Sum, N     int
}

func cmpWinRes(a, b winRes) int {
	return cmp.Or(strings.Compare(a.Key, b.Key), cmp.Compare(a.End, b.End), cmp.Compare(a.Start, b.Start),
		cmp.Compare(a.Sum, b.Sum), cmp.Compare(a.N, b.N))
}

// winSumAgg sums values and counts records; Result carries the key.
type winSumAgg struct{ adds *atomic.Int64 }

type winAcc struct {
	Key    string
	Sum, N int
}

func (winSumAgg) CreateAccumulator() winAcc { return winAcc{} }
func (a winSumAgg) Add(acc winAcc, v winEv) winAcc {
	if a.adds != nil {
		a.adds.Add(1)
	}
	return winAcc{Key: v.Key, Sum: acc.Sum + v.Val, N: acc.N + v.N}
}
func (winSumAgg) Result(acc winAcc) winRes { return winRes{Key: acc.Key, Sum: acc.Sum, N: acc.N} }
func (winSumAgg) Merge(a, b winAcc) winAcc {
	return winAcc{Key: cmp.Or(a.Key, b.Key), Sum: a.Sum + b.Sum, N: a.N + b.N}
}

func winKey(e winEv) string { return e.Key }

// winFunc builds the window results of w with one of the four window
// functions; all of them yield winRes, with the window end taken from the
// result's timestamp where the function does not see the window.
type winFunc struct {
	name       string
	seesWindow bool
	build      func(w stream.WindowedStream[string, winEv]) stream.Stream[winRes]
}

// Indexes of winFuncs.
const (
	winReduce = iota
	winAggregate
	winAggregateWith
	winProcess
)

var winFuncs = []winFunc{
	{
		name: "Reduce",
		build: func(w stream.WindowedStream[string, winEv]) stream.Stream[winRes] {
			r := stream.ReduceWindow(w, func(a, b winEv) winEv {
				return winEv{Key: a.Key, TS: max(a.TS, b.TS), Val: a.Val + b.Val, N: a.N + b.N}
			})
			return stream.Map(r, func(e winEv) winRes { return winRes{Key: e.Key, Sum: e.Val, N: e.N} })
		},
	},
	{
		name: "Aggregate",
		build: func(w stream.WindowedStream[string, winEv]) stream.Stream[winRes] {
			return stream.AggregateWindow(w, winSumAgg{})
		},
	},
	{
		name:       "AggregateWith",
		seesWindow: true,
		build: func(w stream.WindowedStream[string, winEv]) stream.Stream[winRes] {
			return stream.AggregateWindowWith(w, winSumAgg{}, func(key string, win eventtime.TimeWindow, r winRes, out stream.Collector[winRes]) error {
				if key != r.Key {
					return fmt.Errorf("window function got key %q for the results of key %q", key, r.Key)
				}
				r.Start, r.End = win.Start, win.End
				out.Collect(r)
				return nil
			})
		},
	},
	{
		name:       "Process",
		seesWindow: true,
		build: func(w stream.WindowedStream[string, winEv]) stream.Stream[winRes] {
			return stream.ProcessWindow(w, func(ctx *stream.WindowContext[string], elems []winEv, out stream.Collector[winRes]) error {
				win := ctx.Window()
				if ctx.Timestamp() != win.MaxTimestamp() {
					return fmt.Errorf("context timestamp %d, want %d", ctx.Timestamp(), win.MaxTimestamp())
				}
				r := winRes{Key: ctx.Key(), Start: win.Start, End: win.End}
				for _, e := range elems {
					if e.Key != ctx.Key() || e.TS < win.Start || e.TS >= win.End {
						return fmt.Errorf("window %v of key %q got %+v", win, ctx.Key(), e)
					}
					r.Sum += e.Val
					r.N += e.N
				}
				out.Collect(r)
				return nil
			})
		},
	},
}

// winResults runs the sink's records through the checks every window result
// passes (timestamp = window end - 1) and fills in End from the timestamp.
func winResults(t *testing.T, f winFunc, sink *sluicetest.Sink[winRes]) []winRes {
	t.Helper()
	var out []winRes
	for _, r := range sink.Records() {
		v := r.Value
		if f.seesWindow && v.End-1 != r.Time {
			t.Errorf("result %+v has timestamp %d, want window end - 1", v, r.Time)
		}
		v.End = r.Time + 1
		out = append(out, v)
	}
	return out
}

// winReference computes the expected results over evs naively.
func winReference(evs []winEv, windows func(ts int64) []eventtime.TimeWindow, sessionGap int64) []winRes {
	type wk struct {
		key string
		w   eventtime.TimeWindow
	}
	acc := map[wk]winRes{}
	if sessionGap > 0 {
		byKey := map[string][]winEv{}
		for _, e := range evs {
			byKey[e.Key] = append(byKey[e.Key], e)
		}
		for key, es := range byKey {
			slices.SortFunc(es, func(a, b winEv) int { return cmp.Compare(a.TS, b.TS) })
			var cur winRes
			for i, e := range es {
				if i == 0 || e.TS > cur.End { // [ts, ts+gap) touching cur merges
					if i > 0 {
						acc[wk{key, eventtime.TimeWindow{Start: cur.Start, End: cur.End}}] = cur
					}
					cur = winRes{Key: key, Start: e.TS, End: e.TS + sessionGap}
				}
				cur.End = max(cur.End, e.TS+sessionGap)
				cur.Sum += e.Val
				cur.N++
			}
			acc[wk{key, eventtime.TimeWindow{Start: cur.Start, End: cur.End}}] = cur
		}
	} else {
		for _, e := range evs {
			for _, w := range windows(e.TS) {
				r := acc[wk{e.Key, w}]
				r.Key, r.Start, r.End = e.Key, w.Start, w.End
				r.Sum += e.Val
				r.N++
				acc[wk{e.Key, w}] = r
			}
		}
	}
	var out []winRes
	for _, r := range acc {
		out = append(out, r)
	}
	return out
}

// winEqual compares results as multisets, ignoring Start unless withStart.
func winEqual(t *testing.T, got, want []winRes, withStart bool) {
	t.Helper()
	norm := func(rs []winRes) []winRes {
		rs = slices.Clone(rs)
		if !withStart {
			for i := range rs {
				rs[i].Start = 0
			}
		}
		slices.SortFunc(rs, cmpWinRes)
		return rs
	}
	g, w := norm(got), norm(want)
	if slices.Equal(g, w) {
		return
	}
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			t.Fatalf("got %d results, want %d; first difference: got %+v, want %+v", len(g), len(w), g[i], w[i])
		}
	}
	t.Fatalf("got %d results, want %d:\ngot  %+v\nwant %+v", len(g), len(w), g, w)
}

// winSource reads evs with their timestamps and bounded out-of-orderness.
func winSource(env *stream.Env, evs []winEv, outOfOrder time.Duration) stream.Stream[winEv] {
	src := collection.Slice(evs, collection.Timestamps(func(i int64) int64 { return evs[i].TS }))
	return stream.FromSource(env, "events", src, eventtime.BoundedOutOfOrderness[winEv](outOfOrder))
}

// TestWindowFunctionsAgainstReference runs every window function over every
// assigner on random, out-of-order input whose disorder stays within the
// watermark bound (so nothing is late, whatever the timing), and compares
// with a naive computation.
func TestWindowFunctionsAgainstReference(t *testing.T) {
	const n, jitter = 2000, 400
	rng := rand.New(rand.NewPCG(1, 2))
	evs := make([]winEv, n)
	for i := range evs {
		// Out of order by up to jitter ms, with a pause every 300 records
		// so that sessions end; the jitter bridges sessions out of order.
		ts := int64(i)*7 + rng.Int64N(jitter) + int64(i/300)*2000
		evs[i] = winEv{Key: fmt.Sprint("k", rng.IntN(8)), TS: ts, Val: 1 + rng.IntN(100), N: 1}
	}
	assigners := []struct {
		name    string
		a       eventtime.Assigner
		windows func(ts int64) []eventtime.TimeWindow
		gap     int64
	}{
		{"tumbling", eventtime.Tumbling(time.Second), func(ts int64) []eventtime.TimeWindow {
			s := ts - ts%1000
			return []eventtime.TimeWindow{{Start: s, End: s + 1000}}
		}, 0},
		{"sliding", eventtime.Sliding(time.Second, 300*time.Millisecond), func(ts int64) []eventtime.TimeWindow {
			var ws []eventtime.TimeWindow
			for s := ts - ts%300; s > ts-1000; s -= 300 {
				ws = append(ws, eventtime.TimeWindow{Start: s, End: s + 1000})
			}
			return ws
		}, 0},
		{"session", eventtime.Session(150 * time.Millisecond), nil, 150},
	}
	for _, as := range assigners {
		want := winReference(evs, as.windows, as.gap)
		for _, f := range winFuncs {
			for _, p := range []int{1, 2} {
				t.Run(fmt.Sprintf("%s/%s/p=%d", as.name, f.name, p), func(t *testing.T) {
					env := stream.New("windows", stream.WithParallelism(p))
					sink := sluicetest.NewSink[winRes]()
					w := stream.Window(stream.KeyBy(winSource(env, evs, jitter*time.Millisecond), winKey), as.a)
					f.build(w).SinkTo("out", sink)
					sluicetest.Run(t, env)
					winEqual(t, winResults(t, f, sink), want, f.seesWindow)
				})
			}
		}
	}
}

func TestWindowSlidingCount(t *testing.T) {
	evs := []winEv{{"a", 0, 1, 1}, {"a", 1000, 1, 1}, {"a", 2500, 1, 1}, {"b", 1500, 1, 1}}
	for _, p := range []int{1, 2} {
		env := stream.New("sliding", stream.WithParallelism(p))
		sink := sluicetest.NewSink[winRes]()
		w := stream.Window(stream.KeyBy(winSource(env, evs, time.Second), winKey), eventtime.Sliding(2*time.Second, time.Second))
		winFuncs[winAggregateWith].build(w).SinkTo("out", sink)
		sluicetest.Run(t, env)
		want := []winRes{
			{"a", -1000, 1000, 1, 1}, {"a", 0, 2000, 2, 2}, {"a", 1000, 3000, 2, 2}, {"a", 2000, 4000, 1, 1},
			{"b", 0, 2000, 1, 1}, {"b", 1000, 3000, 1, 1},
		}
		winEqual(t, winResults(t, winFuncs[winAggregateWith], sink), want, true)
	}
}

// TestWindowSessionMerging feeds records out of order so that sessions
// grow, merge pairwise, and are finally bridged into one.
func TestWindowSessionMerging(t *testing.T) {
	evs := []winEv{
		{"a", 0, 1, 1}, {"a", 5000, 2, 1}, // [0, 15s)
		{"a", 30000, 4, 1},   // [30s, 40s)
		{"b", 1000, 100, 1},  // b: [1s, 11s)
		{"a", 21000, 8, 1},   // merges with [30s, 40s): [21s, 40s)
		{"b", 50000, 200, 1}, // b: [50s, 60s)
		{"a", 13000, 16, 1},  // bridges [0, 15s) and [21s, 40s): [0, 40s)
		{"a", 70000, 32, 1},  // [70s, 80s)
		{"b", 60000, 400, 1}, // touches [50s, 60s): [50s, 70s)
	}
	want := []winRes{
		{"a", 0, 40000, 31, 5}, {"a", 70000, 80000, 32, 1},
		{"b", 1000, 11000, 100, 1}, {"b", 50000, 70000, 600, 2},
	}
	for _, f := range winFuncs {
		for _, p := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/p=%d", f.name, p), func(t *testing.T) {
				env := stream.New("sessions", stream.WithParallelism(p))
				sink := sluicetest.NewSink[winRes]()
				// The bound covers the disorder: no record is late.
				w := stream.Window(stream.KeyBy(winSource(env, evs, time.Minute), winKey), eventtime.Session(10*time.Second))
				f.build(w).SinkTo("out", sink)
				sluicetest.Run(t, env)
				winEqual(t, winResults(t, f, sink), want, f.seesWindow)
			})
		}
	}
}

func TestWindowProcessSeesAllElements(t *testing.T) {
	evs := []winEv{{"a", 100, 1, 1}, {"b", 200, 2, 1}, {"a", 300, 3, 1}, {"a", 1200, 4, 1}, {"a", 50, 5, 1}}
	for _, p := range []int{1, 2} {
		env := stream.New("process", stream.WithParallelism(p))
		sink := sluicetest.NewSink[string]()
		// One source subtask: the arrival order is the order of evs.
		in := winSource(env, evs, time.Second).Parallelism(1)
		w := stream.Window(stream.KeyBy(in, winKey), eventtime.Tumbling(time.Second))
		sizes := stream.NewOutputTag[int]("sizes")
		res := stream.ProcessWindow(w, func(ctx *stream.WindowContext[string], elems []winEv, out stream.Collector[string]) error {
			ts := make([]string, len(elems))
			for i, e := range elems {
				ts[i] = fmt.Sprint(e.TS)
			}
			out.Collect(fmt.Sprintf("%s%v:%s", ctx.Key(), ctx.Window(), strings.Join(ts, ",")))
			stream.Side(&ctx.Context, sizes, len(elems))
			return nil
		})
		res.SinkTo("out", sink)
		sizeSink := sluicetest.NewSink[int]()
		stream.SideOutput(res, sizes).SinkTo("sizes", sizeSink)
		sluicetest.Run(t, env)
		gotSizes := slices.Sorted(slices.Values(sizeSink.Values()))
		if !slices.Equal(gotSizes, []int{1, 1, 3}) {
			t.Fatalf("p=%d: side output %v, want [1 1 3]", p, gotSizes)
		}
		for _, r := range sizeSink.Records() {
			if r.Time != 999 && r.Time != 1999 {
				t.Fatalf("side output at %d, want a window's max timestamp", r.Time)
			}
		}
		got := slices.Sorted(slices.Values(sink.Values()))
		want := []string{"a[0, 1000):100,300,50", "a[1000, 2000):1200", "b[0, 1000):200"}
		if !slices.Equal(got, want) {
			t.Fatalf("p=%d: got %q, want %q", p, got, want)
		}
	}
}

// winScript is a source of one subtask fed step by step: records with
// their timestamps, and actions the reader runs in order with them (such as
// advancing the manual clock, so that the source emits its periodic
// watermark exactly between two given records). End ends the input.
type winScript[T any] struct {
	mu    sync.Mutex
	steps []winStep[T]
	ended bool
	avail chan struct{}
}

type winStep[T any] struct {
	v  T
	ts int64
	do func()
}

func newWinScript[T any]() *winScript[T] { return &winScript[T]{avail: make(chan struct{}, 1)} }

func (s *winScript[T]) push(steps ...winStep[T]) {
	s.mu.Lock()
	s.steps = append(s.steps, steps...)
	s.mu.Unlock()
	s.signal()
}

func (s *winScript[T]) record(v T, ts int64) { s.push(winStep[T]{v: v, ts: ts}) }
func (s *winScript[T]) then(fn func())       { s.push(winStep[T]{do: fn}) }

func (s *winScript[T]) end() {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.signal()
}

func (s *winScript[T]) signal() {
	select {
	case s.avail <- struct{}{}:
	default:
	}
}

func (s *winScript[T]) Bounded() bool { return false }
func (s *winScript[T]) NewEnumerator(ctx connector.EnumeratorContext, _ []byte) (connector.Enumerator, error) {
	return winScriptEnum{ctx}, nil
}
func (s *winScript[T]) NewReader(connector.ReaderContext) (connector.Reader[T], error) {
	return winScriptReader[T]{s}, nil
}
func (s *winScript[T]) SplitCodec() connector.SplitCodec { return winNoSplits{} }

// Declare: the script cannot be replayed.
func (s *winScript[T]) Declare(bool) connector.Declaration {
	return connector.Declaration{Guarantee: connector.AtMostOnce, Reason: "a test script, not replayed"}
}

type winNoSplits struct{}

func (winNoSplits) Encode(connector.Split) ([]byte, error) { return nil, errors.New("no splits") }
func (winNoSplits) Decode([]byte) (connector.Split, error) { return nil, errors.New("no splits") }

type winScriptEnum struct{ ctx connector.EnumeratorContext }

func (e winScriptEnum) AddReader(subtask int) error  { e.ctx.NoMoreSplits(subtask); return nil }
func (winScriptEnum) HandleSplitRequest(int) error   { return nil }
func (winScriptEnum) Snapshot(int64) ([]byte, error) { return []byte{}, nil }
func (winScriptEnum) Close() error                   { return nil }

type winScriptReader[T any] struct{ s *winScript[T] }

func (winScriptReader[T]) Start() error { return nil }

func (r winScriptReader[T]) PollNext(out connector.ReaderOutput[T]) (connector.InputStatus, error) {
	s := r.s
	s.mu.Lock()
	var recs []winStep[T]
	var do func()
	for len(s.steps) > 0 && len(recs) < 64 {
		st := s.steps[0]
		s.steps = s.steps[1:]
		if st.do != nil {
			do = st.do
			break
		}
		recs = append(recs, st)
	}
	more, ended := len(s.steps) > 0, s.ended
	s.mu.Unlock()
	for _, st := range recs {
		out.CollectAt(st.v, st.ts)
	}
	switch {
	case do != nil:
		do() // before the next poll, the task runs what do posted (a watermark)
		return connector.MoreAvailable, nil
	case more:
		return connector.MoreAvailable, nil
	case ended:
		return connector.EndOfInput, nil
	}
	return connector.NothingAvailable, nil
}

func (r winScriptReader[T]) Available() <-chan struct{}                   { return r.s.avail }
func (winScriptReader[T]) AddSplits([]connector.Split) error              { return nil }
func (winScriptReader[T]) NoMoreSplits()                                  {}
func (winScriptReader[T]) SnapshotState(int64) ([]connector.Split, error) { return nil, nil }
func (winScriptReader[T]) Close() error                                   { return nil }

// winLogs collects log records.
type winLogs struct {
	mu    *sync.Mutex
	recs  *[]slog.Record
	attrs []slog.Attr
}

func newWinLogs() winLogs { return winLogs{mu: new(sync.Mutex), recs: new([]slog.Record)} }

func (h winLogs) Enabled(context.Context, slog.Level) bool { return true }
func (h winLogs) Handle(_ context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.attrs...)
	h.mu.Lock()
	*h.recs = append(*h.recs, r)
	h.mu.Unlock()
	return nil
}
func (h winLogs) WithAttrs(as []slog.Attr) slog.Handler {
	h.attrs = append(slices.Clip(h.attrs), as...)
	return h
}
func (h winLogs) WithGroup(string) slog.Handler { return h }

// dropped returns the counts of the warnings about dropped late records, in
// order.
func (h winLogs) dropped() []int64 {
	var out []int64
	h.eachDropped(func(_ string, n int64) { out = append(out, n) })
	return out
}

// droppedTotal sums the last count each subtask reported.
func (h winLogs) droppedTotal() int64 {
	last := map[string]int64{}
	h.eachDropped(func(subtask string, n int64) { last[subtask] = n })
	var total int64
	for _, n := range last {
		total += n
	}
	return total
}

func (h winLogs) eachDropped(fn func(subtask string, n int64)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range *h.recs {
		if r.Level != slog.LevelWarn || !strings.Contains(r.Message, "late records") {
			continue
		}
		var (
			subtask string
			n       int64 = -1
		)
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "dropped":
				n = a.Value.Int64()
			case "subtask":
				subtask = a.Value.String()
			}
			return true
		})
		fn(subtask, n)
	}
}

// winTick is how far the scripts move the manual clock so that the source
// emits its periodic watermark (the default auto-watermark interval).
const winTick = 200 * time.Millisecond

// TestWindowLateRecords scripts the watermark: the source uses
// BoundedOutOfOrderness(0) (watermark = newest timestamp - 1) and emits it
// when the script ticks the manual clock, exactly between given records.
func TestWindowLateRecords(t *testing.T) {
	type rec struct {
		key string
		ts  int64
		val int
	}
	script := [][]rec{
		{{"a", 1000, 1}, {"a", 5000, 2}, {"a", 12000, 4}, {"b", 3000, 8}}, // watermark 11999: [0, 10s) fires
		{{"a", 2000, 16}, {"a", 11000, 32}},                               // a@2000 late unless lateness covers it
		{{"a", 30000, 64}},                                                // watermark 29999: [10s, 20s) fires, [0, 10s) cleaned up
		{{"a", 4000, 128}, {"b", 25000, 256}},                             // a@4000 late; b@25000 late unless lateness
	}
	cases := []struct {
		name     string
		lateness time.Duration
		want     []winRes
		late     []winEv // in the side output, or dropped and counted
	}{
		{
			name: "no lateness", want: []winRes{{"a", 0, 10000, 3, 2}, {"b", 0, 10000, 8, 1}, {"a", 10000, 20000, 36, 2}, {"a", 30000, 40000, 64, 1}},
			late: []winEv{{"a", 2000, 16, 1}, {"a", 4000, 128, 1}, {"b", 25000, 256, 1}},
		},
		{
			name: "lateness 5s", lateness: 5 * time.Second,
			want: []winRes{
				{"a", 0, 10000, 3, 2}, {"b", 0, 10000, 8, 1}, {"a", 0, 10000, 19, 3}, // fired again with a@2000
				{"a", 10000, 20000, 36, 2}, {"b", 20000, 30000, 256, 1}, {"a", 30000, 40000, 64, 1},
			},
			late: []winEv{{"a", 4000, 128, 1}},
		},
	}
	for _, c := range cases {
		// side: LateRecords and SideOutput; drop: no LateRecords; unread:
		// LateRecords but no SideOutput, which drops and counts too.
		for _, mode := range []string{"side", "drop", "unread"} {
			for _, p := range []int{1, 2} {
				t.Run(fmt.Sprintf("%s/%s/p=%d", c.name, mode, p), func(t *testing.T) {
					clock := sluicetest.NewManualClock(time.UnixMilli(0))
					logs := newWinLogs()
					env := stream.New("late", stream.WithParallelism(p), stream.WithClock(clock), stream.WithLogger(slog.New(logs)))
					src := newWinScript[winEv]()
					for _, step := range script {
						for _, r := range step {
							src.record(winEv{r.key, r.ts, r.val, 1}, r.ts)
						}
						src.then(func() { clock.Advance(winTick) })
					}
					src.end()
					in := stream.FromSource(env, "script", src, eventtime.BoundedOutOfOrderness[winEv](0)).Parallelism(1)
					w := stream.Window(stream.KeyBy(in, winKey), eventtime.Tumbling(10*time.Second)).AllowedLateness(c.lateness)
					lateTag := stream.NewOutputTag[winEv]("late")
					if mode != "drop" {
						w = w.LateRecords(lateTag)
					}
					res := winFuncs[winProcess].build(w)
					sink := sluicetest.NewSink[winRes]()
					res.SinkTo("out", sink)
					lateSink := sluicetest.NewSink[winEv]()
					if mode == "side" {
						stream.SideOutput(res, lateTag).SinkTo("late", lateSink)
					}
					sluicetest.Run(t, env)
					winEqual(t, winResults(t, winFuncs[winProcess], sink), c.want, true)

					var gotLate []winEv
					for _, r := range lateSink.Records() {
						if r.Time != r.Value.TS {
							t.Errorf("late record %+v has timestamp %d", r.Value, r.Time)
						}
						gotLate = append(gotLate, r.Value)
					}
					cmpEv := func(a, b winEv) int { return cmp.Or(strings.Compare(a.Key, b.Key), cmp.Compare(a.TS, b.TS)) }
					slices.SortFunc(gotLate, cmpEv)
					wantLate := slices.SortedFunc(slices.Values(c.late), cmpEv)
					if mode == "side" {
						if !slices.Equal(gotLate, wantLate) {
							t.Fatalf("late output %+v, want %+v", gotLate, wantLate)
						}
						if d := logs.dropped(); len(d) != 0 {
							t.Fatalf("dropped-record warnings %v with a late output", d)
						}
						return
					}
					if total := logs.droppedTotal(); total != int64(len(wantLate)) {
						t.Fatalf("dropped-record warnings %v, want a final total of %d", logs.dropped(), len(wantLate))
					}
				})
			}
		}
	}
}

// TestWindowDroppedLateRecordsAreCounted checks the warning's rate limit:
// one at the first drop, then at most one per 10 s of processing time, and
// the final count when the operator closes.
func TestWindowDroppedLateRecordsAreCounted(t *testing.T) {
	clock := sluicetest.NewManualClock(time.UnixMilli(0))
	logs := newWinLogs()
	env := stream.New("dropped", stream.WithClock(clock), stream.WithLogger(slog.New(logs)))
	src := newWinScript[winEv]()
	in := stream.FromSource(env, "script", src, eventtime.BoundedOutOfOrderness[winEv](0))
	w := stream.Window(stream.KeyBy(in, winKey), eventtime.Tumbling(10*time.Second))
	adds := new(atomic.Int64)
	sink := sluicetest.NewSink[winRes]()
	stream.AggregateWindow(w, winSumAgg{adds: adds}).SinkTo("out", sink)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := env.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	src.record(winEv{"a", 1000, 1, 1}, 1000)
	src.record(winEv{"a", 20000, 2, 1}, 20000)
	src.then(func() { clock.Advance(winTick) }) // watermark 19999
	src.record(winEv{"a", 100, 4, 1}, 100)      // dropped: warning, count 1
	src.record(winEv{"a", 200, 8, 1}, 200)      // dropped, no warning
	src.record(winEv{"a", 25000, 64, 1}, 25000)
	// The operator took the records in order: the drops came before.
	winWaitFor(t, func() bool { return adds.Load() == 3 }, "three records added")
	clock.Advance(10 * time.Second)
	src.record(winEv{"a", 300, 16, 1}, 300) // dropped: warning, count 3
	src.record(winEv{"a", 400, 32, 1}, 400) // dropped, no warning
	src.end()                               // closing: warning, count 4
	if err := job.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := logs.dropped(); !slices.Equal(got, []int64{1, 3, 4}) {
		t.Fatalf("dropped-record warnings with counts %v, want [1 3 4]", got)
	}
	winEqual(t, winResults(t, winFuncs[winAggregate], sink), []winRes{{"a", 0, 10000, 1, 1}, {"a", 0, 30000, 66, 2}}, false)
}

// TestWindowProcessingTime drives processing-time windows with a manual
// clock. The test waits until the window operator has added every record
// pushed so far (counted by the aggregate function) before it moves the
// clock, so each record's processing time is known.
func TestWindowProcessingTime(t *testing.T) {
	const t0 = 1_000_000_000 // a multiple of the window size
	for _, p := range []int{1, 2} {
		t.Run(fmt.Sprint("p=", p), func(t *testing.T) {
			clock := sluicetest.NewManualClock(time.UnixMilli(t0))
			env := stream.New("ptime", stream.WithParallelism(p), stream.WithClock(clock))
			src := newWinScript[winEv]()
			in := stream.FromSource(env, "script", src, eventtime.NoWatermarks[winEv]()).Parallelism(1)
			adds := new(atomic.Int64)
			w := stream.Window(stream.KeyBy(in, winKey), eventtime.Tumbling(10*time.Second)).ProcessingTime()
			sink := sluicetest.NewSink[winRes]()
			res := stream.AggregateWindow(w, winSumAgg{adds: adds})
			if want := "Window(Tumbling(size=10s), processing time)"; lastNode(env) != want {
				t.Errorf("node name %q, want %q", lastNode(env), want)
			}
			res.SinkTo("out", sink)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			job, err := env.Start(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pushed := 0
			push := func(evs ...winEv) {
				for _, e := range evs {
					src.record(e, 0) // no watermarks: the timestamp plays no part
				}
				pushed += len(evs)
				winWaitFor(t, func() bool { return adds.Load() == int64(pushed) }, fmt.Sprintf("%d records added", pushed))
			}
			push(winEv{"a", 0, 1, 1}, winEv{"a", 0, 2, 1}, winEv{"b", 0, 4, 1})
			clock.Advance(10 * time.Second)
			winWaitFor(t, func() bool { return sink.Len() == 2 }, "the first windows")
			push(winEv{"a", 0, 8, 1})
			clock.Advance(5 * time.Second)
			push(winEv{"a", 0, 16, 1}, winEv{"b", 0, 32, 1})
			clock.Advance(5 * time.Second)
			winWaitFor(t, func() bool { return sink.Len() == 4 }, "the second windows")
			push(winEv{"c", 0, 64, 1}) // its window never fires: the job is cancelled first
			cancel()
			if err := job.Wait(); err != nil && !errors.Is(err, context.Canceled) {
				t.Fatalf("job: %v", err)
			}
			want := []winRes{
				{"a", 0, t0 + 10000, 3, 2}, {"b", 0, t0 + 10000, 4, 1},
				{"a", 0, t0 + 20000, 24, 2}, {"b", 0, t0 + 20000, 32, 1},
			}
			winEqual(t, winResults(t, winFuncs[winAggregate], sink), want, false)
		})
	}
}

// TestWindowProcessingTimeEndOfInput checks that processing-time windows
// still open when the input ends fire then.
func TestWindowProcessingTimeEndOfInput(t *testing.T) {
	const t0 = 1_000_000_000
	clock := sluicetest.NewManualClock(time.UnixMilli(t0 + 3000))
	env := stream.New("ptime-end", stream.WithClock(clock))
	src := newWinScript[winEv]()
	src.record(winEv{"a", t0 + 3000, 1, 1}, 0) // TS: the processing time it gets
	src.record(winEv{"a", t0 + 3000, 2, 1}, 0)
	src.end()
	in := stream.FromSource(env, "script", src, eventtime.NoWatermarks[winEv]())
	w := stream.Window(stream.KeyBy(in, winKey), eventtime.Session(time.Second)).ProcessingTime()
	sink := sluicetest.NewSink[winRes]()
	winFuncs[winProcess].build(w).SinkTo("out", sink)
	sluicetest.Run(t, env)
	winEqual(t, winResults(t, winFuncs[winProcess], sink), []winRes{{"a", t0 + 3000, t0 + 4000, 3, 2}}, true)
}

func TestWindowWithoutTimestampsFails(t *testing.T) {
	env := stream.New("no-timestamps")
	in := stream.FromSlice(env, []winEv{{"a", 1, 1, 1}})
	w := stream.Window(stream.KeyBy(in, winKey), eventtime.Tumbling(time.Second))
	winFuncs[winReduce].build(w).SinkTo("out", sluicetest.NewSink[winRes]())
	err := sluicetest.RunErr(env, time.Minute)
	if !errors.Is(err, stream.ErrNoTimestamp) || !strings.Contains(err.Error(), "stream.AssignTimestamps") ||
		!strings.Contains(err.Error(), "Window(Tumbling(size=1s))") {
		t.Fatalf("got %v, want ErrNoTimestamp naming the window operator", err)
	}
}

// TestWindowNilAssignerPanics: a nil assigner is a programming mistake
// (invalid lateness values are reported by Execute: TestInvalidSettings).
func TestWindowNilAssignerPanics(t *testing.T) {
	env := stream.New("panics")
	k := stream.KeyBy(stream.FromSlice(env, []winEv{}), winKey)
	defer func() {
		if recover() == nil {
			t.Errorf("no panic")
		}
	}()
	stream.Window(k, nil)
}

// winWaitFor polls cond until it holds or 20 s passed.
func winWaitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestWindowRecovery fails the job a few times while windows are open and
// checks, through an exactly-once sink, that restored window state and
// timers give exactly the results of a run without failures.
func TestWindowRecovery(t *testing.T) {
	const n, jitter = 6000, 300
	rng := rand.New(rand.NewPCG(3, 4))
	evs := make([]winEv, n)
	for i := range evs {
		ts := int64(i)*5 + rng.Int64N(jitter) + int64(i/500)*1000
		evs[i] = winEv{Key: fmt.Sprint("k", rng.IntN(6)), TS: ts, Val: 1 + rng.IntN(100), N: 1}
	}
	cases := []struct {
		name    string
		a       eventtime.Assigner
		f       winFunc
		windows func(ts int64) []eventtime.TimeWindow
		gap     int64
	}{
		{"tumbling/AggregateWith", eventtime.Tumbling(500 * time.Millisecond), winFuncs[winAggregateWith], func(ts int64) []eventtime.TimeWindow {
			s := ts - ts%500
			return []eventtime.TimeWindow{{Start: s, End: s + 500}}
		}, 0},
		{"session/Process", eventtime.Session(100 * time.Millisecond), winFuncs[winProcess], nil, 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var seen, fails atomic.Int64
			failAt := map[int64]bool{}
			for range 3 {
				failAt[n/3+rng.Int64N(n)] = true // counted over all attempts
			}
			reached := 0 // failure points at most n: every run passes them
			for k := range failAt {
				if k <= n {
					reached++
				}
			}
			var mu sync.Mutex
			events, counts := countEvents()
			env := stream.New("window-recovery", stream.WithParallelism(2), stream.WithEvents(events),
				stream.WithCheckpointing(10*time.Millisecond, ""),
				stream.WithRestart(restart.FixedDelay(-1, time.Millisecond)), stream.WithBatchSize(64),
				stream.WithLogger(slog.New(slog.DiscardHandler)), stream.WithMaxRepeatedFailures(-1))
			src := collection.Generate(n, func(i int64) winEv { return evs[i] }, collection.Timestamps(func(i int64) int64 { return evs[i].TS }))
			in := stream.FromSource(env, "events", src, eventtime.BoundedOutOfOrderness[winEv](jitter*time.Millisecond)).UID("src")
			in = stream.TryMap(in, func(e winEv) (winEv, error) {
				k := seen.Add(1)
				if k%50 == 0 {
					time.Sleep(time.Millisecond) // let checkpoints happen between failures
				}
				mu.Lock()
				hit := failAt[k]
				delete(failAt, k)
				mu.Unlock()
				if hit {
					fails.Add(1)
					return e, errors.New("injected failure")
				}
				return e, nil
			})
			sink := sluicetest.NewTxSink[winRes]()
			c.f.build(stream.Window(stream.KeyBy(in, winKey), c.a)).UID("window").SinkTo("out", sink).UID("sink")
			sluicetest.Run(t, env)
			ev := counts()
			// Window-aware functions: the values carry their windows.
			winEqual(t, sink.Values(), winReference(evs, c.windows, c.gap), true)
			// Failures of two subtasks of one attempt make one restart.
			if f := fails.Load(); f < int64(reached) || f > 3 || ev["restarting"] < 1 || int64(ev["restarting"]) > f || ev["restored"] > ev["restarting"] {
				t.Errorf("%d injected failures (want %d to 3), %d restarts (want 1 to the failures), %d restores (want at most the restarts)",
					f, reached, ev["restarting"], ev["restored"])
			}
		})
	}
}

// lastNode names the last node of env's graph.
func lastNode(env *stream.Env) string {
	g := streamhook.Graph(env)
	return g.Nodes[len(g.Nodes)-1].Name
}
