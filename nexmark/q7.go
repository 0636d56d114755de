package nexmark

import (
	"time"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/state"
	"github.com/sluicehq/sluice/stream"
)

// Q7Size is the tumbling window of q7.
const Q7Size = 10 * time.Second

// q7Buckets is the number of keys q7 spreads bids over for the first,
// partial, aggregation.
const q7Buckets = 128

// q7Top is the highest price of a window (of a bucket, or in all) and the
// bids that have it.
type q7Top struct {
	Price int64
	Bids  []Bid
}

// add returns t with b counted.
func (t q7Top) add(b Bid) q7Top {
	switch {
	case len(t.Bids) == 0 || b.Price > t.Price:
		return q7Top{Price: b.Price, Bids: []Bid{b}}
	case b.Price == t.Price:
		// In place: a snapshot sharing the array sees an older prefix.
		t.Bids = append(t.Bids, b)
	}
	return t
}

// merge returns t with the bids of u counted.
func (t q7Top) merge(u q7Top) q7Top {
	switch {
	case len(u.Bids) == 0:
		return t
	case len(t.Bids) == 0 || u.Price > t.Price:
		return u
	case u.Price == t.Price:
		t.Bids = append(t.Bids[:len(t.Bids):len(t.Bids)], u.Bids...)
	}
	return t
}

// q7Partial is the top of one bucket's window, keyed by the window's end.
type q7Partial struct {
	End int64
	Top q7Top
}

var q7TopCodec = fnCodec[q7Top]{
	app: func(b []byte, v q7Top) []byte {
		b = appendInt(b, v.Price)
		b = appendInt(b, int64(len(v.Bids)))
		for _, x := range v.Bids {
			b = appendBid(b, x)
		}
		return b
	},
	dec: func(d dec) q7Top {
		v := q7Top{Price: d.int()}
		n := d.count()
		v.Bids = make([]Bid, 0, n)
		for i := 0; i < n && d.Err() == nil; i++ {
			v.Bids = append(v.Bids, decBid(d))
		}
		return v
	},
}

// q7TopAgg is the AggregateFunction of the partial tops.
type q7TopAgg struct{}

func (q7TopAgg) CreateAccumulator() q7Top   { return q7Top{} }
func (q7TopAgg) Add(acc q7Top, b Bid) q7Top { return acc.add(b) }
func (q7TopAgg) Result(acc q7Top) q7Top     { return acc }
func (q7TopAgg) Merge(a, b q7Top) q7Top     { return a.merge(b) }

// Q7 is the highest bid: the bids with the highest price of every
// tumbling window of 10 s. A first window operator keeps the top of each
// of 128 buckets of bids (by price, so equal prices meet); a keyed
// function per window merges the buckets' tops and emits the winners when
// the watermark passes the window's end.
func Q7(events stream.Stream[Event]) stream.Stream[Bid] {
	bids := stream.FlatMap(events, func(e Event, out stream.Collector[Bid]) error {
		if e.Type == BidEvent {
			out.Collect(e.Bid)
		}
		return nil
	}).Name("q7 bids")
	partial := stream.AggregateWindowWith(
		stream.Window(stream.KeyBy(bids, func(b Bid) int64 { return b.Price % q7Buckets }), eventtime.Tumbling(Q7Size)),
		q7TopAgg{},
		func(_ int64, w eventtime.TimeWindow, t q7Top, out stream.Collector[q7Partial]) error {
			out.Collect(q7Partial{End: w.End, Top: t})
			return nil
		}).Name("q7 top per bucket").UID("q7-partial")
	top := stream.ProcessKeyed(stream.KeyBy(partial, func(p q7Partial) int64 { return p.End }),
		func() stream.KeyedProcessFunction[int64, q7Partial, Bid] { return &q7Final{} })
	return top.Name("q7 top").UID("q7-top")
}

// q7Final merges the tops of a window's buckets.
type q7Final struct {
	top state.ValueState[q7Top]
}

func (f *q7Final) Open(rt *stream.KeyedRuntime[int64]) (err error) {
	f.top, err = stream.ValueStateWith[q7Top](rt, "top", q7TopCodec)
	return err
}

func (f *q7Final) ProcessElement(ctx *stream.KeyedContext[int64], p q7Partial, _ stream.Collector[Bid]) error {
	t, ok := f.top.Value()
	if !ok {
		ctx.RegisterEventTimeTimer(p.End - 1)
	}
	f.top.Update(t.merge(p.Top))
	return nil
}

func (f *q7Final) OnTimer(_ *stream.KeyedContext[int64], _ int64, out stream.Collector[Bid]) error {
	t, ok := f.top.Value()
	if !ok {
		return nil
	}
	for _, b := range t.Bids {
		out.Collect(b)
	}
	f.top.Clear()
	return nil
}
