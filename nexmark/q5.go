package nexmark

import (
	"time"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/state"
	"github.com/sluicehq/sluice/stream"
)

// The sliding windows of q5: 10 seconds, every 2 seconds.
const (
	Q5Size  = 10 * time.Second
	Q5Slide = 2 * time.Second
)

// q5Count is the number of bids of one auction in one window.
type q5Count struct {
	Auction    int64
	Num        int64
	Start, End int64
}

// q5Hot is the highest count of a window so far and the auctions that have
// it.
type q5Hot struct {
	Num      int64
	Auctions []int64
}

var q5HotCodec = fnCodec[q5Hot]{
	app: func(b []byte, v q5Hot) []byte {
		b = appendInt(b, v.Num)
		b = appendInt(b, int64(len(v.Auctions)))
		for _, a := range v.Auctions {
			b = appendInt(b, a)
		}
		return b
	},
	dec: func(d dec) q5Hot {
		v := q5Hot{Num: d.int()}
		n := d.count()
		v.Auctions = make([]int64, 0, n)
		for i := 0; i < n && d.Err() == nil; i++ {
			v.Auctions = append(v.Auctions, d.int())
		}
		return v
	},
}

// CountAgg counts records (an AggregateFunction).
type CountAgg[T any] struct{}

// CreateAccumulator returns 0.
func (CountAgg[T]) CreateAccumulator() int64 { return 0 }

// Add counts v.
func (CountAgg[T]) Add(acc int64, _ T) int64 { return acc + 1 }

// Result is the count.
func (CountAgg[T]) Result(acc int64) int64 { return acc }

// Merge adds counts.
func (CountAgg[T]) Merge(a, b int64) int64 { return a + b }

// Q5 is hot items: for every sliding window of 10 s every 2 s, the
// auctions with the most bids.
//
// Q5 counts bids in panes (Li et al., "No pane, no gain"), as Flink's
// planner does for this query (slice-shared hopping windows): a tumbling
// window of 2 s keyed by auction counts each auction's bids per pane, one
// update per bid; every pane count goes to the 5 sliding windows that
// contain it, where a keyed function per window adds them up per auction
// and, when the watermark passes the window's end, emits the auctions with
// the highest count. Q5Sliding is the same query on the sliding window
// operator, which updates 5 windows per bid.
func Q5(events stream.Stream[Event]) stream.Stream[Q5Result] {
	pane := Q5Slide
	counts := stream.AggregateWindowWith(
		stream.Window(stream.KeyBy(bidAuctions(events, "q5 bid auctions"), func(a int64) int64 { return a }), eventtime.Tumbling(pane)),
		CountAgg[int64]{},
		func(a int64, w eventtime.TimeWindow, n int64, out stream.Collector[q5Count]) error {
			// The pane [s, s+2s) is in the windows ending at s+2s ... s+10s.
			for end := w.End; end < w.Start+Q5Size.Milliseconds()+pane.Milliseconds(); end += pane.Milliseconds() {
				out.Collect(q5Count{Auction: a, Num: n, Start: end - Q5Size.Milliseconds(), End: end})
			}
			return nil
		}).Name("q5 count per auction and pane").UID("q5-panes")
	hot := stream.ProcessKeyed(stream.KeyBy(counts, func(c q5Count) int64 { return c.End }),
		func() stream.KeyedProcessFunction[int64, q5Count, Q5Result] { return &q5Window{} })
	return hot.Name("q5 hottest").UID("q5-hottest")
}

// q5Window adds up, per window (keyed by its end), the pane counts of
// every auction, and emits the auctions with the highest count when the
// watermark passes the window's end.
type q5Window struct {
	counts state.MapState[int64, int64]
}

func (w *q5Window) Open(rt *stream.KeyedRuntime[int64]) (err error) {
	w.counts, err = stream.MapState[int64, int64](rt, "auction-counts")
	return err
}

func (w *q5Window) ProcessElement(ctx *stream.KeyedContext[int64], c q5Count, _ stream.Collector[Q5Result]) error {
	n, ok := w.counts.Get(c.Auction)
	if !ok && w.counts.IsEmpty() {
		ctx.RegisterEventTimeTimer(c.End - 1)
	}
	w.counts.Put(c.Auction, n+c.Num)
	return nil
}

func (w *q5Window) OnTimer(ctx *stream.KeyedContext[int64], _ int64, out stream.Collector[Q5Result]) error {
	top := int64(0)
	for _, n := range w.counts.All() {
		top = max(top, n)
	}
	end := ctx.Key()
	for a, n := range w.counts.All() {
		if n == top {
			out.Collect(Q5Result{Auction: a, Num: n, Start: end - Q5Size.Milliseconds(), End: end})
		}
	}
	w.counts.Clear()
	return nil
}

// bidAuctions projects the bids of events to their auction.
func bidAuctions(events stream.Stream[Event], name string) stream.Stream[int64] {
	return stream.FlatMap(events, func(e Event, out stream.Collector[int64]) error {
		if e.Type == BidEvent {
			out.Collect(e.Bid.Auction)
		}
		return nil
	}).Name(name)
}

// Q5Sliding is Q5 on the sliding window operator: bids are counted per
// auction and window by a window operator keyed by auction (5 windows per
// bid); a keyed function per window keeps the highest count and its
// auctions and emits them when the watermark passes the window's end, once
// every count of the window has arrived.
func Q5Sliding(events stream.Stream[Event]) stream.Stream[Q5Result] {
	counts := stream.AggregateWindowWith(
		stream.Window(stream.KeyBy(bidAuctions(events, "q5 bid auctions"), func(a int64) int64 { return a }), eventtime.Sliding(Q5Size, Q5Slide)),
		CountAgg[int64]{},
		func(a int64, w eventtime.TimeWindow, n int64, out stream.Collector[q5Count]) error {
			out.Collect(q5Count{Auction: a, Num: n, Start: w.Start, End: w.End})
			return nil
		}).Name("q5 count per auction").UID("q5-count")
	hot := stream.ProcessKeyed(stream.KeyBy(counts, func(c q5Count) int64 { return c.End }),
		func() stream.KeyedProcessFunction[int64, q5Count, Q5Result] { return &q5Max{} })
	return hot.Name("q5 hottest").UID("q5-hottest")
}

// q5Max keeps, per window (keyed by its end), the auctions with the
// highest count.
type q5Max struct {
	hot state.ValueState[q5Hot]
}

func (m *q5Max) Open(rt *stream.KeyedRuntime[int64]) (err error) {
	m.hot, err = stream.ValueStateWith[q5Hot](rt, "hottest", q5HotCodec)
	return err
}

func (m *q5Max) ProcessElement(ctx *stream.KeyedContext[int64], c q5Count, _ stream.Collector[Q5Result]) error {
	h, ok := m.hot.Value()
	switch {
	case !ok || c.Num > h.Num:
		m.hot.Update(q5Hot{Num: c.Num, Auctions: []int64{c.Auction}})
		if !ok {
			ctx.RegisterEventTimeTimer(c.End - 1)
		}
	case c.Num == h.Num:
		// In place: a snapshot sharing the array sees an older prefix.
		h.Auctions = append(h.Auctions, c.Auction)
		m.hot.Update(h)
	}
	return nil
}

func (m *q5Max) OnTimer(ctx *stream.KeyedContext[int64], _ int64, out stream.Collector[Q5Result]) error {
	h, ok := m.hot.Value()
	if !ok {
		return nil
	}
	end := ctx.Key()
	start := end - Q5Size.Milliseconds()
	for _, a := range h.Auctions {
		out.Collect(Q5Result{Auction: a, Num: h.Num, Start: start, End: end})
	}
	m.hot.Clear()
	return nil
}
