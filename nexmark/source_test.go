package nexmark

import (
	"testing"

	"github.com/sluicehq/sluice/connector"
)

func TestSplitCodecRoundTrip(t *testing.T) {
	c := splitCodec{}
	for _, s := range []*Split{
		{Index: 0, Of: 1, Next: 0, End: -1, Stride: 1},
		{Index: 3, Of: 4, Next: 1_000_003, End: 10_000_000, Stride: 4},
	} {
		b, err := c.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		g := got.(*Split)
		if g.Index != s.Index || g.Of != s.Of || g.Next != s.Next || g.End != s.End || g.Stride != s.Stride || g.SplitID() != s.SplitID() {
			t.Errorf("%+v decoded as %+v", *s, *g)
		}
	}
	for _, bad := range [][]byte{nil, {2}, {1, 0}, {1, 0, 2, 0, 0, 2, 7}} {
		if _, err := c.Decode(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func FuzzSplitCodec(f *testing.F) {
	b, _ := splitCodec{}.Encode(&Split{Index: 1, Of: 2, Next: 5, End: 9, Stride: 2})
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := splitCodec{}.Decode(data)
		if err != nil {
			return
		}
		again, err := splitCodec{}.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		if s2, err := (splitCodec{}).Decode(again); err != nil || *s2.(*Split) != *s.(*Split) {
			t.Fatalf("re-encoding changed the split: %v", err)
		}
	})
}

// captureOutput records the event numbers a reader emits, per split.
type captureOutput struct {
	got      map[string][]int64
	released []string
}

func (c *captureOutput) Collect(Event)                    { panic("records must go through a split") }
func (c *captureOutput) CollectAt(Event, int64)           { panic("records must go through a split") }
func (c *captureOutput) Reject(connector.BadRecord) error { return nil }
func (c *captureOutput) ReleaseSplit(id string)           { c.released = append(c.released, id) }
func (c *captureOutput) Split(id string) connector.SplitOutput[Event] {
	return splitCapture{c, id}
}

type splitCapture struct {
	c  *captureOutput
	id string
}

func (s splitCapture) Collect(Event) { panic("events must carry their time") }
func (s splitCapture) CollectAt(e Event, ts int64) {
	if ts != e.Time() {
		panic("timestamp is not the event's time")
	}
	s.c.got[s.id] = append(s.c.got[s.id], ts)
}

// TestReaderTakesTurns gives one reader two restored splits: both make
// progress poll after poll, and each ends at its end.
func TestReaderTakesTurns(t *testing.T) {
	src, err := NewSource(Config{Events: 2000, Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	src.perPoll = 100
	rd, err := src.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rd.(*reader)
	if err := r.AddSplits([]connector.Split{
		&Split{Index: 0, Of: 2, Next: 500, End: 2000, Stride: 2},
		&Split{Index: 1, Of: 2, Next: 1999, End: 2000, Stride: 2},
	}); err != nil {
		t.Fatal(err)
	}
	r.NoMoreSplits()
	out := &captureOutput{got: map[string][]int64{}}
	var st connector.InputStatus
	for polls := 0; st != connector.EndOfInput; polls++ {
		if polls > 100 {
			t.Fatal("reader does not end")
		}
		if st, err = r.PollNext(out); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(out.got["nexmark-0/2"]); n != 750 {
		t.Errorf("split 0 emitted %d events, want 750", n)
	}
	if n := len(out.got["nexmark-1/2"]); n != 1 {
		t.Errorf("split 1 emitted %d events, want 1", n)
	}
	if len(out.released) != 2 {
		t.Errorf("released %v", out.released)
	}
}
