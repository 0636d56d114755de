package nexmark

import (
	"slices"
	"time"

	"github.com/sluicehq/sluice/state"
	"github.com/sluicehq/sluice/stream"
)

// Q8Size is the tumbling window of q8.
const Q8Size = 10 * time.Second

// q8Person is the part of a person q8 needs.
type q8Person struct {
	ID       int64
	Name     string
	DateTime int64
}

// q8Auction is the part of an auction q8 needs.
type q8Auction struct {
	Seller   int64
	DateTime int64
}

// q8State is what q8 keeps per person id: the person, in the window
// starting at Window, and whether the result was emitted; or, before the
// person registers, the windows in which they opened auctions.
type q8State struct {
	HasPerson bool
	Emitted   bool
	Window    int64
	Name      string
	Auctions  []int64 // window starts, before the person registered
}

var q8StateCodec = fnCodec[q8State]{
	app: func(b []byte, v q8State) []byte {
		b = appendBool(b, v.HasPerson)
		b = appendBool(b, v.Emitted)
		b = appendInt(b, v.Window)
		b = appendStr(b, v.Name)
		b = appendInt(b, int64(len(v.Auctions)))
		for _, w := range v.Auctions {
			b = appendInt(b, w)
		}
		return b
	},
	dec: func(d dec) q8State {
		v := q8State{HasPerson: d.bool(), Emitted: d.bool(), Window: d.int(), Name: d.str()}
		if n := d.count(); n > 0 {
			v.Auctions = make([]int64, 0, n)
			for i := 0; i < n && d.Err() == nil; i++ {
				v.Auctions = append(v.Auctions, d.int())
			}
		}
		return v
	},
}

// q8Window returns the start of the q8 window of ts.
func q8Window(ts int64) int64 {
	size := Q8Size.Milliseconds()
	w := ts - ts%size
	if ts < 0 && ts%size != 0 {
		w -= size
	}
	return w
}

// Q8 monitors new users: the people who registered and opened an auction
// in the same tumbling window of 10 s, once per person and window. People
// and auctions meet in a keyed co-process function keyed by person id and
// seller, which emits a person as soon as both are seen (the reference's
// window join emits at the window's end: the same results, sooner) and
// drops its state by an event-time timer at the end of the window.
func Q8(events stream.Stream[Event]) stream.Stream[Q8Result] {
	persons := stream.FlatMap(events, func(e Event, out stream.Collector[q8Person]) error {
		if e.Type == PersonEvent {
			out.Collect(q8Person{ID: e.Person.ID, Name: e.Person.Name, DateTime: e.Person.DateTime})
		}
		return nil
	}).Name("q8 people")
	auctions := stream.FlatMap(events, func(e Event, out stream.Collector[q8Auction]) error {
		if e.Type == AuctionEvent {
			out.Collect(q8Auction{Seller: e.Auction.Seller, DateTime: e.Auction.DateTime})
		}
		return nil
	}).Name("q8 auctions")
	join := stream.CoProcessKeyed(
		stream.KeyBy(persons, func(p q8Person) int64 { return p.ID }),
		stream.KeyBy(auctions, func(a q8Auction) int64 { return a.Seller }),
		func() stream.KeyedCoProcessFunction[int64, q8Person, q8Auction, Q8Result] { return &q8Join{} })
	return join.Name("q8 join").UID("q8-join")
}

type q8Join struct {
	st state.ValueState[q8State]
}

func (j *q8Join) Open(rt *stream.KeyedRuntime[int64]) (err error) {
	j.st, err = stream.ValueStateWith[q8State](rt, "person-auctions", q8StateCodec)
	return err
}

func (j *q8Join) ProcessElement1(ctx *stream.KeyedContext[int64], p q8Person, out stream.Collector[Q8Result]) error {
	s, _ := j.st.Value()
	w := q8Window(p.DateTime)
	n := q8State{HasPerson: true, Window: w, Name: p.Name}
	if slices.Contains(s.Auctions, w) {
		out.Collect(Q8Result{ID: p.ID, Name: p.Name, Start: w})
		n.Emitted = true
	}
	j.st.Update(n)
	ctx.RegisterEventTimeTimer(w + Q8Size.Milliseconds() - 1)
	return nil
}

func (j *q8Join) ProcessElement2(ctx *stream.KeyedContext[int64], a q8Auction, out stream.Collector[Q8Result]) error {
	s, _ := j.st.Value()
	w := q8Window(a.DateTime)
	switch {
	case s.HasPerson:
		if s.Window == w && !s.Emitted {
			out.Collect(Q8Result{ID: ctx.Key(), Name: s.Name, Start: w})
			s.Emitted = true
			j.st.Update(s)
		}
	case !slices.Contains(s.Auctions, w):
		s.Auctions = append(s.Auctions[:len(s.Auctions):len(s.Auctions)], w)
		j.st.Update(s)
		ctx.RegisterEventTimeTimer(w + Q8Size.Milliseconds() - 1)
	}
	return nil
}

// OnTimer drops the windows that ended at ts.
func (j *q8Join) OnTimer(_ *stream.KeyedContext[int64], ts int64, _ stream.Collector[Q8Result]) error {
	s, ok := j.st.Value()
	if !ok {
		return nil
	}
	end := func(w int64) bool { return w+Q8Size.Milliseconds()-1 <= ts }
	if s.HasPerson {
		if end(s.Window) {
			j.st.Clear()
		}
		return nil
	}
	keep := slices.DeleteFunc(slices.Clone(s.Auctions), end)
	if len(keep) == 0 {
		j.st.Clear()
	} else {
		s.Auctions = keep
		j.st.Update(s)
	}
	return nil
}
