package reference

import (
	"sort"

	"github.com/sluicehq/sluice/nexmark"
)

// Generate returns events 0..n-1 of cfg.
func Generate(cfg nexmark.Config, n int64) []nexmark.Event {
	g, err := nexmark.NewGenerator(cfg)
	if err != nil {
		panic(err)
	}
	out := make([]nexmark.Event, n)
	for i := range out {
		out[i] = g.Event(int64(i))
	}
	return out
}

func bids(events []nexmark.Event) []nexmark.Bid {
	var out []nexmark.Bid
	for _, e := range events {
		if e.Type == nexmark.BidEvent {
			out = append(out, e.Bid)
		}
	}
	return out
}

// floorTo returns the start of the window of size that holds ts.
func floorTo(ts, size int64) int64 {
	w := ts - ts%size
	if ts < 0 && ts%size != 0 {
		w -= size
	}
	return w
}

// Q0: every bid.
func Q0(events []nexmark.Event) []nexmark.Bid { return bids(events) }

// Q1: every bid, price times 0.908 in thousandths.
func Q1(events []nexmark.Event) []nexmark.Q1Result {
	var out []nexmark.Q1Result
	for _, b := range bids(events) {
		out = append(out, nexmark.Q1Result{Auction: b.Auction, Bidder: b.Bidder, PriceMilli: b.Price * 908, DateTime: b.DateTime, Extra: b.Extra})
	}
	return out
}

// Q2: bids of auctions whose id is a multiple of 123.
func Q2(events []nexmark.Event) []nexmark.Q2Result {
	var out []nexmark.Q2Result
	for _, b := range bids(events) {
		if b.Auction%123 == 0 {
			out = append(out, nexmark.Q2Result{Auction: b.Auction, Price: b.Price})
		}
	}
	return out
}

// Q3: the inner join of auctions of category 10 with their sellers living
// in OR, ID or CA.
func Q3(events []nexmark.Event) []nexmark.Q3Result {
	people := map[int64]*nexmark.Person{}
	for _, e := range events {
		if e.Type == nexmark.PersonEvent {
			people[e.Person.ID] = e.Person
		}
	}
	var out []nexmark.Q3Result
	for _, e := range events {
		if e.Type != nexmark.AuctionEvent || e.Auction.Category != 10 {
			continue
		}
		p := people[e.Auction.Seller]
		if p != nil && (p.State == "OR" || p.State == "ID" || p.State == "CA") {
			out = append(out, nexmark.Q3Result{Name: p.Name, City: p.City, State: p.State, ID: e.Auction.ID})
		}
	}
	return out
}

// Q4: per category, the integer average over its auctions of the highest
// price of the bids made while the auction was open (auctions without
// such bids do not count).
func Q4(events []nexmark.Event) map[int64]int64 {
	type acc struct{ sum, n int64 }
	auctions := map[int64]*nexmark.Auction{}
	for _, e := range events {
		if e.Type == nexmark.AuctionEvent {
			auctions[e.Auction.ID] = e.Auction
		}
	}
	winning := map[int64]int64{}
	for _, b := range bids(events) {
		a := auctions[b.Auction]
		if a == nil || b.DateTime < a.DateTime || b.DateTime > a.Expires {
			continue
		}
		if w, ok := winning[a.ID]; !ok || b.Price > w {
			winning[a.ID] = b.Price
		}
	}
	cats := map[int64]*acc{}
	for id, w := range winning {
		c := auctions[id].Category
		if cats[c] == nil {
			cats[c] = &acc{}
		}
		cats[c].sum += w
		cats[c].n++
	}
	out := map[int64]int64{}
	for c, a := range cats {
		out[c] = a.sum / a.n
	}
	return out
}

// Q5: for every sliding window (10 s, every 2 s) with bids, the auctions
// with the most bids.
func Q5(events []nexmark.Event) []nexmark.Q5Result {
	const size, slide = 10_000, 2_000
	counts := map[[2]int64]int64{} // (window start, auction)
	for _, b := range bids(events) {
		for s := floorTo(b.DateTime, slide); s > b.DateTime-size; s -= slide {
			counts[[2]int64{s, b.Auction}]++
		}
	}
	top := map[int64]int64{}
	for k, n := range counts {
		top[k[0]] = max(top[k[0]], n)
	}
	var out []nexmark.Q5Result
	for k, n := range counts {
		if n == top[k[0]] {
			out = append(out, nexmark.Q5Result{Auction: k[1], Num: n, Start: k[0], End: k[0] + size})
		}
	}
	return out
}

// Q7: the bids with the highest price of every tumbling window of 10 s.
func Q7(events []nexmark.Event) []nexmark.Bid {
	top := map[int64]int64{}
	all := bids(events)
	for _, b := range all {
		w := floorTo(b.DateTime, 10_000)
		if p, ok := top[w]; !ok || b.Price > p {
			top[w] = b.Price
		}
	}
	var out []nexmark.Bid
	for _, b := range all {
		if b.Price == top[floorTo(b.DateTime, 10_000)] {
			out = append(out, b)
		}
	}
	return out
}

// Q8: the people who registered and opened an auction in the same
// tumbling window of 10 s.
func Q8(events []nexmark.Event) []nexmark.Q8Result {
	sellers := map[[2]int64]bool{} // (window, seller)
	for _, e := range events {
		if e.Type == nexmark.AuctionEvent {
			sellers[[2]int64{floorTo(e.Auction.DateTime, 10_000), e.Auction.Seller}] = true
		}
	}
	var out []nexmark.Q8Result
	for _, e := range events {
		if e.Type != nexmark.PersonEvent {
			continue
		}
		w := floorTo(e.Person.DateTime, 10_000)
		if sellers[[2]int64{w, e.Person.ID}] {
			out = append(out, nexmark.Q8Result{ID: e.Person.ID, Name: e.Person.Name, Start: w})
		}
	}
	return out
}

// Q11: the number of bids of every session of every bidder, sessions
// being [first, last+10 s) and a bid at or before the end joining the
// session.
func Q11(events []nexmark.Event) []nexmark.Q11Result {
	const gap = 10_000
	times := map[int64][]int64{}
	for _, b := range bids(events) {
		times[b.Bidder] = append(times[b.Bidder], b.DateTime)
	}
	var out []nexmark.Q11Result
	for bidder, ts := range times {
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		cur := nexmark.Q11Result{Bidder: bidder, Count: 1, Start: ts[0], End: ts[0] + gap}
		for _, t := range ts[1:] {
			if t <= cur.End {
				cur.Count++
				cur.End = max(cur.End, t+gap)
				continue
			}
			out = append(out, cur)
			cur = nexmark.Q11Result{Bidder: bidder, Count: 1, Start: t, End: t + gap}
		}
		out = append(out, cur)
	}
	return out
}

// BidsPerBidder counts the bids of every bidder (q12's totals).
func BidsPerBidder(events []nexmark.Event) map[int64]int64 {
	out := map[int64]int64{}
	for _, b := range bids(events) {
		out[b.Bidder]++
	}
	return out
}
