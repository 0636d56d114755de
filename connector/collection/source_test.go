package collection

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// enumCtx records the splits an enumerator assigns.
type enumCtx struct {
	p        int
	assigned map[int][]connector.Split
}

func (c *enumCtx) Parallelism() int { return c.p }
func (c *enumCtx) Assign(subtask int, splits ...connector.Split) {
	c.assigned[subtask] = append(c.assigned[subtask], splits...)
}
func (c *enumCtx) NoMoreSplits(int)                     {}
func (c *enumCtx) Every(time.Duration, func() error)    {}
func (c *enumCtx) Logger() *slog.Logger                 { return slog.New(slog.DiscardHandler) }
func (c *enumCtx) splits(subtask int) []connector.Split { return c.assigned[subtask] }

// output records the indexes emitted (fn is the identity) per split.
type output struct {
	got      map[string][]int64
	released []string
}

func (o *output) Collect(int64)                                { panic("records must go through a split") }
func (o *output) CollectAt(int64, int64)                       { panic("records must go through a split") }
func (o *output) Reject(connector.BadRecord) error             { return nil }
func (o *output) ReleaseSplit(id string)                       { o.released = append(o.released, id) }
func (o *output) Split(id string) connector.SplitOutput[int64] { return splitOutput{o, id} }

type splitOutput struct {
	o  *output
	id string
}

func (s splitOutput) Collect(v int64)             { s.o.got[s.id] = append(s.o.got[s.id], v) }
func (s splitOutput) CollectAt(v int64, ts int64) { s.Collect(v) }

// drain polls r until it ends.
func drain(t *testing.T, r connector.Reader[int64], out *output) {
	t.Helper()
	for polls := 0; ; polls++ {
		if polls > 1000 {
			t.Fatal("reader does not end")
		}
		st, err := r.PollNext(out)
		if err != nil {
			t.Fatal(err)
		}
		if st == connector.EndOfInput {
			return
		}
	}
}

// TestSplitsOfFreshStart: the splits of 3 subtasks over 10 indexes.
func TestSplitsOfFreshStart(t *testing.T) {
	id := func(i int64) int64 { return i }
	for _, tc := range []struct {
		name string
		src  *Source[int64]
		want map[string][]int64
	}{
		{"contiguous", Generate(10, id), map[string][]int64{"0/3": {0, 1, 2}, "1/3": {3, 4, 5}, "2/3": {6, 7, 8, 9}}},
		{"interleaved", Generate(10, id, Interleaved(), SplitName("g")),
			map[string][]int64{"g-0/3": {0, 3, 6, 9}, "g-1/3": {1, 4, 7}, "g-2/3": {2, 5, 8}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := &enumCtx{p: 3, assigned: map[int][]connector.Split{}}
			en, err := tc.src.NewEnumerator(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			out := &output{got: map[string][]int64{}}
			for sub := range 3 {
				if err := en.AddReader(sub); err != nil {
					t.Fatal(err)
				}
				r, err := tc.src.with(PollSize(2)).NewReader(nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := r.AddSplits(ctx.splits(sub)); err != nil {
					t.Fatal(err)
				}
				r.NoMoreSplits()
				drain(t, r, out)
			}
			for id, want := range tc.want {
				if !slices.Equal(out.got[id], want) {
					t.Errorf("split %s emitted %v, want %v", id, out.got[id], want)
				}
			}
			if len(out.got) != len(tc.want) || len(out.released) != len(tc.want) {
				t.Errorf("emitted %v, released %v", out.got, out.released)
			}
		})
	}
}

// TestRestoreAtOtherParallelism snapshots two readers half-way, encodes
// and decodes their splits, and finishes all of them in one reader, which
// takes turns among them: every index comes out exactly once.
func TestRestoreAtOtherParallelism(t *testing.T) {
	const n = 1000
	src := Generate(n, func(i int64) int64 { return i }, Interleaved(), PollSize(100))
	ctx := &enumCtx{p: 2, assigned: map[int][]connector.Split{}}
	en, err := src.NewEnumerator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := &output{got: map[string][]int64{}}
	var state [][]byte
	for sub := range 2 {
		_ = en.AddReader(sub)
		r, _ := src.NewReader(nil)
		_ = r.AddSplits(ctx.splits(sub))
		for range 2 {
			if _, err := r.PollNext(out); err != nil {
				t.Fatal(err)
			}
		}
		snap, _ := r.SnapshotState(1)
		for _, sp := range snap {
			b, err := src.SplitCodec().Encode(sp)
			if err != nil {
				t.Fatal(err)
			}
			state = append(state, b)
		}
	}
	if en, err := src.NewEnumerator(ctx, []byte{}); err != nil || en == nil {
		t.Fatalf("restored enumerator: %v", err)
	}
	r, _ := src.NewReader(nil)
	for _, b := range state {
		sp, err := src.SplitCodec().Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		_ = r.AddSplits([]connector.Split{sp})
	}
	r.NoMoreSplits()
	turns := &output{got: map[string][]int64{}}
	if _, err := r.PollNext(turns); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PollNext(turns); err != nil {
		t.Fatal(err)
	}
	if len(turns.got) != 2 {
		t.Errorf("two polls read %d splits, want both", len(turns.got))
	}
	drain(t, r, turns)
	var all []int64
	for _, o := range []*output{out, turns} {
		for _, v := range o.got {
			all = append(all, v...)
		}
	}
	slices.Sort(all)
	if len(all) != n || all[0] != 0 || all[n-1] != n-1 || len(slices.Compact(all)) != n {
		t.Fatalf("%d records after the restore, want each of 0..%d once", len(all), n-1)
	}
}

func TestSplitCodec(t *testing.T) {
	c := Generate(0, func(int64) int { return 0 }, SplitName("x")).SplitCodec()
	for _, s := range []*Split{
		{Index: 0, Of: 1, Next: 0, End: -1, Stride: 1},
		{Index: 1, Of: 4, Next: 13, End: 10, Stride: 4}, // finished, past End
		{Index: 2, Of: 3, Next: 7, End: 7, Stride: 1},
	} {
		b, err := c.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Decode(b)
		if err != nil {
			t.Fatalf("%+v: %v", *s, err)
		}
		if g := got.(*Split); g.Index != s.Index || g.Of != s.Of || g.Next != s.Next || g.End != s.End || g.Stride != s.Stride ||
			g.SplitID() != "x-"+s.SplitID() {
			t.Errorf("%+v decoded as %+v (%s)", *s, *g, g.SplitID())
		}
	}
	for _, bad := range []*Split{
		{Index: 1, Of: 1, Stride: 1, End: -1},
		{Index: 0, Of: 2, Next: 14, End: 10, Stride: 4}, // beyond End + Stride
		{Index: 0, Of: 1, Next: 0, End: -2, Stride: 1},
	} {
		b, _ := c.Encode(bad)
		if _, err := c.Decode(b); err == nil {
			t.Errorf("%+v: no error", *bad)
		}
	}
	if _, err := c.Decode([]byte{1, 0, 2, 0, 0, 2, 7}); err == nil {
		t.Error("trailing bytes: no error")
	}
}

func TestOptions(t *testing.T) {
	ts := func(i int64) int64 { return i * 10 }
	cases := []struct {
		name  string
		src   *Source[int64]
		check func(s *Source[int64]) bool
	}{
		{"defaults", Generate(3, func(i int64) int64 { return i }),
			func(s *Source[int64]) bool {
				return s.rate == 0 && s.ts == nil && !s.interleave && s.pollSize == defaultPollSize && s.name == ""
			}},
		{"rate", Generate(3, func(i int64) int64 { return i }, Rate(5)), func(s *Source[int64]) bool { return s.rate == 5 }},
		{"timestamps", Generate(3, func(i int64) int64 { return i }, Timestamps(ts)), func(s *Source[int64]) bool { return s.ts(2) == 20 }},
		{"interleaved", Generate(3, func(i int64) int64 { return i }, Interleaved()), func(s *Source[int64]) bool { return s.interleave }},
		{"poll size", Generate(3, func(i int64) int64 { return i }, PollSize(0)), func(s *Source[int64]) bool { return s.pollSize == 1 }},
		{"split name", Slice([]int64{1}, SplitName("s")), func(s *Source[int64]) bool { return s.name == "s" }},
		{"deprecated methods", Generate(3, func(i int64) int64 { return i }).WithRate(7).WithPollSize(9).WithSplitName("d").Interleaved().WithTimestamps(ts),
			func(s *Source[int64]) bool {
				return s.rate == 7 && s.pollSize == 9 && s.name == "d" && s.interleave && s.ts(1) == 10
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !c.check(c.src) {
				t.Errorf("got %+v", *c.src)
			}
		})
	}
	base := Generate(3, func(i int64) int64 { return i })
	if base.WithRate(3); base.rate != 0 {
		t.Error("WithRate changed its receiver")
	}
}
