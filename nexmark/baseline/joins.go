package baseline

import (
	"container/heap"

	"github.com/sluicehq/sluice/nexmark"
)

// Q3 joins auctions of category 10 with their sellers in OR, ID or CA.
func Q3(g *nexmark.Generator, n int64, emit func(nexmark.Q3Result)) {
	type person struct {
		name, city, state string
		selected          bool
	}
	people := map[int64]person{}
	waiting := map[int64][]int64{} // seller -> auctions before the seller
	for i := range n {
		e := g.Event(i)
		switch e.Type {
		case nexmark.PersonEvent:
			p := e.Person
			sel := nexmark.Q3State(p.State)
			if sel {
				people[p.ID] = person{p.Name, p.City, p.State, true}
			} else {
				people[p.ID] = person{}
			}
			if ids, ok := waiting[p.ID]; ok {
				if sel {
					for _, id := range ids {
						emit(nexmark.Q3Result{Name: p.Name, City: p.City, State: p.State, ID: id})
					}
				}
				delete(waiting, p.ID)
			}
		case nexmark.AuctionEvent:
			a := e.Auction
			if a.Category != nexmark.Q3Category {
				continue
			}
			p, ok := people[a.Seller]
			switch {
			case !ok:
				waiting[a.Seller] = append(waiting[a.Seller], a.ID)
			case p.selected:
				emit(nexmark.Q3Result{Name: p.name, City: p.city, State: p.state, ID: a.ID})
			}
		}
	}
}

// timer is an event-time timer of a key.
type timer struct{ ts, key int64 }

type timerHeap []timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].ts < h[j].ts }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// Q4 emits the average winning price of a category whenever it changes.
// Auctions are dropped when the watermark passes their expiry, as in the
// engine's query; bids that come before their auction wait for it.
func Q4(g *nexmark.Generator, n int64, emit func(nexmark.Q4Result)) {
	type open struct {
		dateTime, expires, category, max int64
		hasMax                           bool
	}
	type early struct{ price, dateTime int64 }
	var (
		auctions = map[int64]*open{}
		earlies  = map[int64][]early{}
		timers   timerHeap
		sums     [nexmark.NumCategories]struct{ sum, count int64 }
		wm       = newWatermark(g)
	)
	change := func(cat, old, new int64, hasOld bool) {
		s := &sums[cat-nexmark.FirstCategoryID]
		if hasOld {
			s.sum += new - old
		} else {
			s.sum += new
			s.count++
		}
		emit(nexmark.Q4Result{Category: cat, Avg: s.sum / s.count})
	}
	for i := range n {
		e := g.Event(i)
		if wm.advance(e.Time()) {
			for len(timers) > 0 && timers[0].ts <= wm.wm {
				delete(auctions, heap.Pop(&timers).(timer).key)
			}
		}
		switch e.Type {
		case nexmark.AuctionEvent:
			a := e.Auction
			o := &open{dateTime: a.DateTime, expires: a.Expires, category: a.Category}
			for _, b := range earlies[a.ID] {
				if b.dateTime >= o.dateTime && b.dateTime <= o.expires && (!o.hasMax || b.price > o.max) {
					o.max, o.hasMax = b.price, true
				}
			}
			delete(earlies, a.ID)
			if o.hasMax {
				change(o.category, 0, o.max, false)
			}
			auctions[a.ID] = o
			heap.Push(&timers, timer{o.expires, a.ID})
		case nexmark.BidEvent:
			b := &e.Bid
			o, ok := auctions[b.Auction]
			if !ok {
				earlies[b.Auction] = append(earlies[b.Auction], early{b.Price, b.DateTime})
				continue
			}
			if b.DateTime < o.dateTime || b.DateTime > o.expires || (o.hasMax && b.Price <= o.max) {
				continue
			}
			change(o.category, o.max, b.Price, o.hasMax)
			o.max, o.hasMax = b.Price, true
		}
	}
}
