package nexmark

import (
	"reflect"
	"testing"
)

func mustGenerator(t testing.TB, cfg Config) *Generator {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGeneratorMixAndSizes(t *testing.T) {
	g := mustGenerator(t, Config{Seed: 7, Rate: 1000})
	const n = 200_000
	var count [3]int64
	var size [3]int64
	for i := range int64(n) {
		e := g.Event(i)
		count[e.Type]++
		switch e.Type {
		case PersonEvent:
			p := e.Person
			size[0] += int64(8 + len(p.Name) + len(p.EmailAddress) + len(p.CreditCard) + len(p.City) + len(p.State) + len(p.Extra))
		case AuctionEvent:
			a := e.Auction
			size[1] += int64(8 + len(a.ItemName) + len(a.Description) + 5*8 + len(a.Extra))
		case BidEvent:
			size[2] += int64(4*8 + len(e.Bid.Extra))
		}
		if got, want := e.Time(), g.Timestamp(i); got != want {
			t.Fatalf("event %d: time %d, want %d", i, got, want)
		}
	}
	if count != [3]int64{n / 50, 3 * n / 50, 46 * n / 50} {
		t.Errorf("mix %v, want 1:3:46 of %d", count, n)
	}
	for i, want := range []int64{200, 500, 100} {
		avg := size[i] / count[i]
		if avg < want-5 || avg > want+5 {
			t.Errorf("%v: average size %d, want about %d", EventType(i), avg, want)
		}
	}
}

func TestGeneratorIDsAndHotRatios(t *testing.T) {
	g := mustGenerator(t, Config{Rate: 1000})
	const n = 500_000
	var bids, hotAuction, hotBidder, auctions, hotSeller int
	lastPerson, lastAuction := FirstPersonID-1, FirstAuctionID-1
	for i := range int64(n) {
		e := g.Event(i)
		switch e.Type {
		case PersonEvent:
			if e.Person.ID != lastPerson+1 {
				t.Fatalf("event %d: person %d after %d", i, e.Person.ID, lastPerson)
			}
			lastPerson = e.Person.ID
		case AuctionEvent:
			a := e.Auction
			if a.ID != lastAuction+1 {
				t.Fatalf("event %d: auction %d after %d", i, a.ID, lastAuction)
			}
			lastAuction = a.ID
			auctions++
			if a.Seller == (lastPerson-FirstPersonID)/hotBatch*hotBatch+FirstPersonID {
				hotSeller++
			}
			if a.Seller > lastPerson+idLead || a.Category < FirstCategoryID || a.Category >= FirstCategoryID+NumCategories {
				t.Fatalf("event %d: bad auction %+v", i, *a)
			}
			if a.Expires <= a.DateTime || a.Reserve < a.InitialBid {
				t.Fatalf("event %d: bad auction %+v", i, *a)
			}
		case BidEvent:
			b := e.Bid
			bids++
			if b.Auction == (lastAuction-FirstAuctionID)/hotBatch*hotBatch+FirstAuctionID {
				hotAuction++
			}
			if b.Bidder == (lastPerson-FirstPersonID)/hotBatch*hotBatch+1+FirstPersonID {
				hotBidder++
			}
			if b.Auction > lastAuction+idLead || b.Auction < lastAuction-100-1 && b.Auction%hotBatch != FirstAuctionID%hotBatch {
				t.Fatalf("event %d: bid for auction %d, latest %d", i, b.Auction, lastAuction)
			}
			if b.Price < 100 || b.Price > 100_000_000 {
				t.Fatalf("event %d: price %d", i, b.Price)
			}
		}
	}
	// Hot with probability 1-1/ratio, plus the odd random pick of the
	// hot one.
	check := func(name string, hot, all int, ratio float64) {
		t.Helper()
		if f := float64(hot) / float64(all); f < 1-1/ratio-0.02 || f > 1-1/ratio+0.03 {
			t.Errorf("%s: %.3f hot, want about %.3f", name, f, 1-1/ratio)
		}
	}
	check("auctions of bids", hotAuction, bids, 2)
	check("bidders", hotBidder, bids, 4)
	check("sellers", hotSeller, auctions, 4)
}

func TestGeneratorDeterministic(t *testing.T) {
	a := mustGenerator(t, Config{Seed: 42})
	b := mustGenerator(t, Config{Seed: 42})
	c := mustGenerator(t, Config{Seed: 43})
	differ := 0
	for _, i := range []int64{0, 1, 2, 3, 4, 5, 49, 50, 1_000_003, 77} {
		ea, eb := a.Event(i), b.Event(i)
		if !reflect.DeepEqual(ea, eb) {
			t.Errorf("event %d differs between generators of the same seed", i)
		}
		if !reflect.DeepEqual(ea, c.Event(i)) {
			differ++
		}
	}
	if differ < 8 {
		t.Errorf("seeds 42 and 43 give %d different events of 10", differ)
	}
	// Order does not matter: event 77 again after others.
	if !reflect.DeepEqual(a.Event(77), b.Event(77)) {
		t.Error("event 77 depends on what was generated before")
	}
}

func TestTimestamps(t *testing.T) {
	g := mustGenerator(t, Config{Rate: 1000})
	if g.Timestamp(0) != DefaultBaseTime || g.Timestamp(1000) != DefaultBaseTime+1000 || g.Timestamp(1500) != DefaultBaseTime+1500 {
		t.Error("rate 1000: one event per millisecond")
	}
	g = mustGenerator(t, Config{Rate: 10_000_000, BaseTime: 5})
	if g.Timestamp(9_999) != 5 || g.Timestamp(10_000) != 6 {
		t.Error("rate 10M: 10,000 events per millisecond")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{Rate: -1},
		{PersonProportion: 0, AuctionProportion: 1, BidProportion: 1},
		{HotAuctionRatio: -1},
		{ActivePeople: -3},
		{WatermarkDelay: 1},
	} {
		if c.Validate() == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Error(err)
	}
}

func BenchmarkGenerator(b *testing.B) {
	g := mustGenerator(b, Config{})
	var sum uint64
	b.ReportAllocs()
	for i := range int64(b.N) {
		e := g.Event(i)
		sum += uint64(e.Time())
	}
	_ = sum
}

func TestLetters(t *testing.T) {
	r := newRNG(1, 1)
	var seen [26]int
	buf := make([]byte, 26*1000+5)
	letters(&r, buf)
	for _, c := range buf {
		if c < 'a' || c > 'z' {
			t.Fatalf("byte %q is not a lowercase letter", c)
		}
		seen[c-'a']++
	}
	for i, n := range seen {
		if n < 700 || n > 1300 {
			t.Errorf("letter %c seen %d times of %d", 'a'+i, n, len(buf))
		}
	}
}

func TestPrice(t *testing.T) {
	r := newRNG(3, 9)
	var decades [7]int
	for range 100_000 {
		p := r.price()
		if p < 100 || p > 100_000_000 {
			t.Fatalf("price %d", p)
		}
		d := 0
		for v := p; v >= 1000; v /= 10 {
			d++
		}
		decades[d]++
	}
	for d := range 6 {
		if decades[d] < 15_000 || decades[d] > 18_500 {
			t.Errorf("decade %d: %d prices of 100,000, want about a sixth", d, decades[d])
		}
	}
}
