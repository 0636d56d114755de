package nexmark

import (
	"github.com/sluicehq/sluice/state"
	"github.com/sluicehq/sluice/stream"
)

// q4Auction is the part of an auction q4 needs.
type q4Auction struct {
	ID       int64
	DateTime int64
	Expires  int64
	Category int64
}

// q4Bid is the part of a bid q4 needs.
type q4Bid struct {
	Auction  int64
	Price    int64
	DateTime int64
}

// q4Open is an auction in the join's state with the highest price of its
// bids so far (HasMax false: none yet).
type q4Open struct {
	DateTime int64
	Expires  int64
	Category int64
	Max      int64
	HasMax   bool
}

// q4Early is a bid that came before its auction.
type q4Early struct {
	Price    int64
	DateTime int64
}

// q4Change is a new winning price of an auction: New replaces Old, if
// HasOld.
type q4Change struct {
	Category int64
	Old, New int64
	HasOld   bool
}

// q4Avg is the running sum and count of a category's winning prices.
type q4Avg struct{ Sum, Count int64 }

var (
	q4OpenCodec = fnCodec[q4Open]{
		app: func(b []byte, v q4Open) []byte {
			b = appendInt(b, v.DateTime)
			b = appendInt(b, v.Expires)
			b = appendInt(b, v.Category)
			b = appendInt(b, v.Max)
			return appendBool(b, v.HasMax)
		},
		dec: func(d dec) q4Open {
			return q4Open{DateTime: d.int(), Expires: d.int(), Category: d.int(), Max: d.int(), HasMax: d.bool()}
		},
	}
	q4EarlyCodec = fnCodec[[]q4Early]{
		app: func(b []byte, v []q4Early) []byte {
			b = appendInt(b, int64(len(v)))
			for _, e := range v {
				b = appendInt(appendInt(b, e.Price), e.DateTime)
			}
			return b
		},
		dec: func(d dec) []q4Early {
			n := d.count()
			v := make([]q4Early, 0, n)
			for i := 0; i < n && d.Err() == nil; i++ {
				v = append(v, q4Early{Price: d.int(), DateTime: d.int()})
			}
			return v
		},
	}
	q4AvgCodec = fnCodec[q4Avg]{
		app: func(b []byte, v q4Avg) []byte { return appendInt(appendInt(b, v.Sum), v.Count) },
		dec: func(d dec) q4Avg { return q4Avg{Sum: d.int(), Count: d.int()} },
	}
)

// Q4 is the average winning price per category. An auction's winning
// price is the highest price of its bids made while it was open
// (auction.DateTime <= bid.DateTime <= auction.Expires); the query keeps,
// per category, the average of the winning prices of its auctions and
// emits it whenever it changes, as the reference's continuous SQL query
// does (integer average).
//
// Auctions and bids are joined in a keyed co-process function keyed by
// auction id that keeps each auction with its highest price so far and
// emits every rise; a second keyed function per category applies the
// rises to a running sum and count. An auction is dropped by an event-time
// timer once the watermark passes its expiry: no later bid can match it.
// The results are those of the reference's regular join, which keeps
// every auction, as long as no bid is late, which the generator
// guarantees. Bids that come before their auction (the generator names
// auctions up to 10 ahead) wait in state until it opens.
func Q4(events stream.Stream[Event]) stream.Stream[Q4Result] {
	auctions := stream.FlatMap(events, func(e Event, out stream.Collector[q4Auction]) error {
		if e.Type == AuctionEvent {
			a := e.Auction
			out.Collect(q4Auction{ID: a.ID, DateTime: a.DateTime, Expires: a.Expires, Category: a.Category})
		}
		return nil
	}).Name("q4 auctions")
	bids := stream.FlatMap(events, func(e Event, out stream.Collector[q4Bid]) error {
		if e.Type == BidEvent {
			out.Collect(q4Bid{Auction: e.Bid.Auction, Price: e.Bid.Price, DateTime: e.Bid.DateTime})
		}
		return nil
	}).Name("q4 bids")
	changes := stream.CoProcessKeyed(
		stream.KeyBy(auctions, func(a q4Auction) int64 { return a.ID }),
		stream.KeyBy(bids, func(b q4Bid) int64 { return b.Auction }),
		func() stream.KeyedCoProcessFunction[int64, q4Auction, q4Bid, q4Change] { return &q4Winning{} },
	).Name("q4 winning bids").UID("q4-winning")
	avg := stream.ProcessKeyed(stream.KeyBy(changes, func(c q4Change) int64 { return c.Category }),
		func() stream.KeyedProcessFunction[int64, q4Change, Q4Result] { return &q4Average{} })
	return avg.Name("q4 average").UID("q4-average")
}

// q4Winning joins auctions and bids and emits rises of winning prices.
type q4Winning struct {
	open  state.ValueState[q4Open]
	early state.ValueState[[]q4Early]
}

func (w *q4Winning) Open(rt *stream.KeyedRuntime[int64]) (err error) {
	if w.open, err = stream.ValueStateWith[q4Open](rt, "auction", q4OpenCodec); err != nil {
		return err
	}
	w.early, err = stream.ValueStateWith[[]q4Early](rt, "early-bids", q4EarlyCodec)
	return err
}

func (w *q4Winning) ProcessElement1(ctx *stream.KeyedContext[int64], a q4Auction, out stream.Collector[q4Change]) error {
	o := q4Open{DateTime: a.DateTime, Expires: a.Expires, Category: a.Category}
	if early, ok := w.early.Value(); ok {
		for _, b := range early {
			if b.DateTime >= o.DateTime && b.DateTime <= o.Expires && (!o.HasMax || b.Price > o.Max) {
				o.Max, o.HasMax = b.Price, true
			}
		}
		w.early.Clear()
	}
	if o.HasMax {
		out.Collect(q4Change{Category: o.Category, New: o.Max})
	}
	w.open.Update(o)
	ctx.RegisterEventTimeTimer(o.Expires)
	return nil
}

func (w *q4Winning) ProcessElement2(_ *stream.KeyedContext[int64], b q4Bid, out stream.Collector[q4Change]) error {
	o, ok := w.open.Value()
	if !ok {
		early, _ := w.early.Value()
		// Appending in place is safe: a snapshot sharing the array sees a
		// prefix that is never written again.
		w.early.Update(append(early, q4Early{Price: b.Price, DateTime: b.DateTime}))
		return nil
	}
	if b.DateTime < o.DateTime || b.DateTime > o.Expires || (o.HasMax && b.Price <= o.Max) {
		return nil
	}
	out.Collect(q4Change{Category: o.Category, Old: o.Max, HasOld: o.HasMax, New: b.Price})
	o.Max, o.HasMax = b.Price, true
	w.open.Update(o)
	return nil
}

// OnTimer drops the auction, which has expired.
func (w *q4Winning) OnTimer(*stream.KeyedContext[int64], int64, stream.Collector[q4Change]) error {
	w.open.Clear()
	return nil
}

// q4Average keeps a category's running sum and count of winning prices.
type q4Average struct {
	avg state.ValueState[q4Avg]
}

func (a *q4Average) Open(rt *stream.KeyedRuntime[int64]) (err error) {
	a.avg, err = stream.ValueStateWith[q4Avg](rt, "sum-count", q4AvgCodec)
	return err
}

func (a *q4Average) ProcessElement(ctx *stream.KeyedContext[int64], c q4Change, out stream.Collector[Q4Result]) error {
	s, _ := a.avg.Value()
	if c.HasOld {
		s.Sum += c.New - c.Old
	} else {
		s.Sum += c.New
		s.Count++
	}
	a.avg.Update(s)
	out.Collect(Q4Result{Category: ctx.Key(), Avg: s.Sum / s.Count})
	return nil
}

func (a *q4Average) OnTimer(*stream.KeyedContext[int64], int64, stream.Collector[Q4Result]) error {
	return nil
}
