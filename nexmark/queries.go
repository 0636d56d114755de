package nexmark

import (
	"errors"
	"fmt"
	"slices"

	"github.com/sluicehq/sluice/stream"
)

// ErrUnknownQuery is wrapped by the error for a query name that is not one
// of QueryNames.
var ErrUnknownQuery = errors.New("unknown query")

// QueryInfo describes one query.
type QueryInfo struct {
	Name  string // "q0"
	Title string
	build func(events stream.Stream[Event]) Counter
}

// queries in the order of the table.
var queries = []QueryInfo{
	{"q0", "pass-through", func(e stream.Stream[Event]) Counter { return discard(Q0(e)) }},
	{"q1", "currency conversion", func(e stream.Stream[Event]) Counter { return discard(Q1(e)) }},
	{"q2", "selection", func(e stream.Stream[Event]) Counter { return discard(Q2(e)) }},
	{"q3", "local item suggestion (incremental join)", func(e stream.Stream[Event]) Counter { return discard(Q3(e)) }},
	{"q4", "average price for a category", func(e stream.Stream[Event]) Counter { return discard(Q4(e)) }},
	{"q5", "hot items (sliding window, in panes)", func(e stream.Stream[Event]) Counter { return discard(Q5(e)) }},
	{"q5-sliding", "hot items (sliding window operator)", func(e stream.Stream[Event]) Counter { return discard(Q5Sliding(e)) }},
	{"q7", "highest bid (tumbling window)", func(e stream.Stream[Event]) Counter { return discard(Q7(e)) }},
	{"q8", "monitor new users (window join)", func(e stream.Stream[Event]) Counter { return discard(Q8(e)) }},
	{"q11", "user sessions (session window)", func(e stream.Stream[Event]) Counter { return discard(Q11(e)) }},
	{"q12", "processing-time windows", func(e stream.Stream[Event]) Counter { return discard(Q12(e)) }},
}

// Queries returns the queries this package implements, in table order.
func Queries() []QueryInfo { return slices.Clone(queries) }

// QueryNames returns the names of the queries, in table order.
func QueryNames() []string {
	out := make([]string, len(queries))
	for i, q := range queries {
		out[i] = q.Name
	}
	return out
}

// BuildQuery adds query name on events and ends it in a discarding sink,
// whose count and checksum it returns.
func BuildQuery(name string, events stream.Stream[Event]) (Counter, error) {
	for _, q := range queries {
		if q.Name == name {
			return q.build(events), nil
		}
	}
	return nil, fmt.Errorf("nexmark: %w %q (have %v)", ErrUnknownQuery, name, QueryNames())
}

func discard[T Folder](s stream.Stream[T]) Counter {
	d := NewDiscard[T]()
	s.SinkTo("Discard", d)
	return d
}

// Q0 is the pass-through: every bid, unchanged.
func Q0(events stream.Stream[Event]) stream.Stream[Bid] {
	return stream.FlatMap(events, func(e Event, out stream.Collector[Bid]) error {
		if e.Type == BidEvent {
			out.Collect(e.Bid)
		}
		return nil
	}).Name("q0 bids")
}

// Q1 converts the price of every bid from dollars to euros (times 0.908).
func Q1(events stream.Stream[Event]) stream.Stream[Q1Result] {
	return stream.FlatMap(events, func(e Event, out stream.Collector[Q1Result]) error {
		if e.Type == BidEvent {
			b := &e.Bid
			out.Collect(Q1Result{Auction: b.Auction, Bidder: b.Bidder, PriceMilli: ToEuroMilli(b.Price), DateTime: b.DateTime, Extra: b.Extra})
		}
		return nil
	}).Name("q1 currency conversion")
}

// ToEuroMilli is 0.908 times a dollar price, in thousandths.
func ToEuroMilli(price int64) int64 { return price * 908 }

// Q2Modulus: q2 selects the bids of every Q2Modulus-th auction.
const Q2Modulus = 123

// Q2 selects the bids for auctions whose id is a multiple of 123 and
// emits their auction and price.
func Q2(events stream.Stream[Event]) stream.Stream[Q2Result] {
	return stream.FlatMap(events, func(e Event, out stream.Collector[Q2Result]) error {
		if e.Type == BidEvent && e.Bid.Auction%Q2Modulus == 0 {
			out.Collect(Q2Result{Auction: e.Bid.Auction, Price: e.Bid.Price})
		}
		return nil
	}).Name("q2 selection")
}
