package nexmark

import (
	"github.com/sluicehq/sluice/state"
	"github.com/sluicehq/sluice/stream"
)

// Q3Category is the auction category q3 selects.
const Q3Category = 10

// Q3State reports whether q3 selects sellers of state s (OR, ID or CA).
func Q3State(s string) bool { return s == "OR" || s == "ID" || s == "CA" }

// q3Person is the part of a person q3 needs; Selected says whether the
// person lives in one of the selected states.
type q3Person struct {
	ID       int64
	Name     string
	City     string
	State    string
	Selected bool
}

// q3Auction is the part of an auction of the selected category q3 needs.
type q3Auction struct {
	ID     int64
	Seller int64
}

var q3PersonCodec = fnCodec[q3Person]{
	app: func(b []byte, p q3Person) []byte {
		b = appendInt(b, p.ID)
		b = appendStr(b, p.Name)
		b = appendStr(b, p.City)
		b = appendStr(b, p.State)
		return appendBool(b, p.Selected)
	},
	dec: func(d dec) q3Person {
		return q3Person{ID: d.int(), Name: d.str(), City: d.str(), State: d.str(), Selected: d.bool()}
	},
}

// Q3 is the incremental join of people and auctions (local item
// suggestion): who sells in OR, ID or CA in category 10, and which
// auctions. People and auctions meet in a keyed co-process function keyed
// by person id and seller.
//
// Every person is kept in state (the unselected ones with their flag only),
// so that later auctions of an unselected seller are dropped at once. An
// auction whose seller has not registered yet waits in a list until the
// seller does. Like the reference's regular join, state is never expired.
func Q3(events stream.Stream[Event]) stream.Stream[Q3Result] {
	persons := stream.FlatMap(events, func(e Event, out stream.Collector[q3Person]) error {
		if e.Type == PersonEvent {
			p := e.Person
			if Q3State(p.State) {
				out.Collect(q3Person{ID: p.ID, Name: p.Name, City: p.City, State: p.State, Selected: true})
			} else {
				out.Collect(q3Person{ID: p.ID})
			}
		}
		return nil
	}).Name("q3 people")
	auctions := stream.FlatMap(events, func(e Event, out stream.Collector[q3Auction]) error {
		if e.Type == AuctionEvent && e.Auction.Category == Q3Category {
			out.Collect(q3Auction{ID: e.Auction.ID, Seller: e.Auction.Seller})
		}
		return nil
	}).Name("q3 auctions")
	join := stream.CoProcessKeyed(
		stream.KeyBy(persons, func(p q3Person) int64 { return p.ID }),
		stream.KeyBy(auctions, func(a q3Auction) int64 { return a.Seller }),
		func() stream.KeyedCoProcessFunction[int64, q3Person, q3Auction, Q3Result] { return &q3Join{} })
	return join.Name("q3 join").UID("q3-join")
}

type q3Join struct {
	person  state.ValueState[q3Person]
	waiting state.ListState[int64] // auctions before their seller
}

func (j *q3Join) Open(rt *stream.KeyedRuntime[int64]) (err error) {
	if j.person, err = stream.ValueStateWith[q3Person](rt, "person", q3PersonCodec); err != nil {
		return err
	}
	j.waiting, err = stream.ListState[int64](rt, "waiting-auctions")
	return err
}

func (j *q3Join) ProcessElement1(_ *stream.KeyedContext[int64], p q3Person, out stream.Collector[Q3Result]) error {
	j.person.Update(p)
	if ids := j.waiting.Get(); ids != nil {
		if p.Selected {
			for _, id := range ids {
				out.Collect(Q3Result{Name: p.Name, City: p.City, State: p.State, ID: id})
			}
		}
		j.waiting.Clear()
	}
	return nil
}

func (j *q3Join) ProcessElement2(_ *stream.KeyedContext[int64], a q3Auction, out stream.Collector[Q3Result]) error {
	p, ok := j.person.Value()
	switch {
	case !ok:
		j.waiting.Add(a.ID)
	case p.Selected:
		out.Collect(Q3Result{Name: p.Name, City: p.City, State: p.State, ID: a.ID})
	}
	return nil
}

func (j *q3Join) OnTimer(*stream.KeyedContext[int64], int64, stream.Collector[Q3Result]) error {
	return nil
}
