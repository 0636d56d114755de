package baseline

import (
	"slices"
	"time"

	"github.com/sluicehq/sluice/nexmark"
)

// Q5 emits, for every sliding window of 10 s every 2 s, the auctions with
// the most bids, when the watermark passes the window's end. Like the
// engine's query it counts bids per pane of 2 s, one update per bid, and
// adds up the 5 panes of a window when it fires.
func Q5(g *nexmark.Generator, n int64, emit func(nexmark.Q5Result)) {
	size, slide := nexmark.Q5Size.Milliseconds(), nexmark.Q5Slide.Milliseconds()
	panes := map[int64]map[int64]int64{} // pane start -> auction -> bids
	var ends []int64                     // ends of the windows to fire, ascending
	sum := map[int64]int64{}
	wm := newWatermark(g)
	fire := func(limit int64) {
		for len(ends) > 0 && ends[0]-1 <= limit {
			end := ends[0]
			ends = ends[1:]
			clear(sum)
			top := int64(0)
			for s := end - size; s < end; s += slide {
				for a, c := range panes[s] {
					sum[a] += c
					top = max(top, sum[a])
				}
			}
			for a, c := range sum {
				if c == top {
					emit(nexmark.Q5Result{Auction: a, Num: c, Start: end - size, End: end})
				}
			}
			// The first pane of this window is in no later window.
			delete(panes, end-size)
		}
	}
	for i := range n {
		e := g.Event(i)
		if e.Type != nexmark.BidEvent {
			continue
		}
		ts := e.Bid.DateTime
		if wm.advance(ts) {
			fire(wm.wm)
		}
		s := floorTo(ts, slide)
		m := panes[s]
		if m == nil {
			m = map[int64]int64{}
			panes[s] = m
			// The windows ending at s+slide ... s+size hold the pane.
			for end := s + slide; end <= s+size; end += slide {
				if at, found := slices.BinarySearch(ends, end); !found {
					ends = slices.Insert(ends, at, end)
				}
			}
		}
		m[e.Bid.Auction]++
	}
	fire(maxTime)
}

// Q7 emits the bids with the highest price of every tumbling window of
// 10 s, when the watermark passes the window's end.
func Q7(g *nexmark.Generator, n int64, emit func(nexmark.Bid)) {
	size := nexmark.Q7Size.Milliseconds()
	type top struct {
		price int64
		bids  []nexmark.Bid
	}
	windows := map[int64]*top{} // window start
	var starts []int64
	wm := newWatermark(g)
	fire := func(limit int64) {
		for len(starts) > 0 && starts[0]+size-1 <= limit {
			t := windows[starts[0]]
			delete(windows, starts[0])
			starts = starts[1:]
			for _, b := range t.bids {
				emit(b)
			}
		}
	}
	for i := range n {
		e := g.Event(i)
		if e.Type != nexmark.BidEvent {
			continue
		}
		b := e.Bid
		if wm.advance(b.DateTime) {
			fire(wm.wm)
		}
		w := floorTo(b.DateTime, size)
		t := windows[w]
		switch {
		case t == nil:
			windows[w] = &top{price: b.Price, bids: []nexmark.Bid{b}}
			at, _ := slices.BinarySearch(starts, w)
			starts = slices.Insert(starts, at, w)
		case b.Price > t.price:
			t.price, t.bids = b.Price, append(t.bids[:0], b)
		case b.Price == t.price:
			t.bids = append(t.bids, b)
		}
	}
	fire(maxTime)
}

// Q8 emits the people who registered and opened an auction in the same
// tumbling window of 10 s, as soon as both are seen; a window's state goes
// when the watermark passes its end.
func Q8(g *nexmark.Generator, n int64, emit func(nexmark.Q8Result)) {
	size := nexmark.Q8Size.Milliseconds()
	type entry struct {
		name                           string
		hasPerson, hasAuction, emitted bool
	}
	windows := map[int64]map[int64]*entry{} // window start -> person id
	var starts []int64
	wm := newWatermark(g)
	get := func(w, id int64) *entry {
		m := windows[w]
		if m == nil {
			m = map[int64]*entry{}
			windows[w] = m
			at, _ := slices.BinarySearch(starts, w)
			starts = slices.Insert(starts, at, w)
		}
		en := m[id]
		if en == nil {
			en = &entry{}
			m[id] = en
		}
		return en
	}
	for i := range n {
		e := g.Event(i)
		if e.Type == nexmark.BidEvent {
			continue
		}
		if wm.advance(e.Time()) {
			for len(starts) > 0 && starts[0]+size-1 <= wm.wm {
				delete(windows, starts[0])
				starts = starts[1:]
			}
		}
		if e.Type == nexmark.PersonEvent {
			p := e.Person
			w := floorTo(p.DateTime, size)
			en := get(w, p.ID)
			en.hasPerson, en.name = true, p.Name
			if en.hasAuction && !en.emitted {
				en.emitted = true
				emit(nexmark.Q8Result{ID: p.ID, Name: p.Name, Start: w})
			}
			continue
		}
		a := e.Auction
		w := floorTo(a.DateTime, size)
		en := get(w, a.Seller)
		en.hasAuction = true
		if en.hasPerson && !en.emitted {
			en.emitted = true
			emit(nexmark.Q8Result{ID: a.Seller, Name: en.name, Start: w})
		}
	}
}

// Q11 emits the number of bids of every session of every bidder: a
// session closes when the bidder's next bid comes more than 10 s after
// its end, or at the end of the input.
func Q11(g *nexmark.Generator, n int64, emit func(nexmark.Q11Result)) {
	gap := nexmark.Q11Gap.Milliseconds()
	sessions := map[int64]*nexmark.Q11Result{}
	for i := range n {
		e := g.Event(i)
		if e.Type != nexmark.BidEvent {
			continue
		}
		b, ts := e.Bid.Bidder, e.Bid.DateTime
		s := sessions[b]
		switch {
		case s == nil:
			sessions[b] = &nexmark.Q11Result{Bidder: b, Count: 1, Start: ts, End: ts + gap}
		case ts <= s.End:
			s.Count++
			s.End = max(s.End, ts+gap)
		default:
			emit(*s)
			*s = nexmark.Q11Result{Bidder: b, Count: 1, Start: ts, End: ts + gap}
		}
	}
	for _, s := range sessions {
		emit(*s)
	}
}

// SystemClock is the processing-time clock of Q12: unix milliseconds.
func SystemClock() int64 { return time.Now().UnixMilli() }

// Q12 emits the number of bids of every bidder in tumbling windows of 10 s
// of processing time (now), each bid counted in the window of the time it
// is processed; the windows still open at the end are emitted then.
func Q12(g *nexmark.Generator, n int64, now func() int64, emit func(nexmark.Q12Result)) {
	size := nexmark.Q12Size.Milliseconds()
	counts := map[int64]int64{}
	start := int64(minTime)
	flush := func() {
		for b, c := range counts {
			emit(nexmark.Q12Result{Bidder: b, Count: c, Start: start, End: start + size})
		}
		clear(counts)
	}
	for i := range n {
		e := g.Event(i)
		if e.Type != nexmark.BidEvent {
			continue
		}
		if t := now(); t >= start+size || start == minTime {
			flush()
			start = floorTo(t, size)
		}
		counts[e.Bid.Bidder]++
	}
	flush()
}
