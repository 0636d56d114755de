package baseline

import "github.com/sluicehq/sluice/nexmark"

// Q0 emits every bid of events [0, n).
func Q0(g *nexmark.Generator, n int64, emit func(nexmark.Bid)) {
	for i := range n {
		if e := g.Event(i); e.Type == nexmark.BidEvent {
			emit(e.Bid)
		}
	}
}

// Q1 emits every bid with its price in euros.
func Q1(g *nexmark.Generator, n int64, emit func(nexmark.Q1Result)) {
	for i := range n {
		if e := g.Event(i); e.Type == nexmark.BidEvent {
			b := &e.Bid
			emit(nexmark.Q1Result{Auction: b.Auction, Bidder: b.Bidder, PriceMilli: nexmark.ToEuroMilli(b.Price), DateTime: b.DateTime, Extra: b.Extra})
		}
	}
}

// Q2 emits the auction and price of the bids for every 123rd auction.
func Q2(g *nexmark.Generator, n int64, emit func(nexmark.Q2Result)) {
	for i := range n {
		if e := g.Event(i); e.Type == nexmark.BidEvent && e.Bid.Auction%nexmark.Q2Modulus == 0 {
			emit(nexmark.Q2Result{Auction: e.Bid.Auction, Price: e.Bid.Price})
		}
	}
}
