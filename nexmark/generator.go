package nexmark

// The first ids and category, as in the reference: ids start well above 0
// so that queries filtering on small ids find matches in short runs.
const (
	FirstPersonID   int64 = 1000
	FirstAuctionID  int64 = 1000
	FirstCategoryID int64 = 10
	// NumCategories is the number of auction categories.
	NumCategories = 5
	// hotBatch: the hot auction, seller and bidder are the first (the
	// bidder the second) of the latest batch of this many ids.
	hotBatch = 100
	// idLead is how many ids past the latest a random pick may reach, so
	// that some bids and auctions come before the auction or person they
	// name.
	idLead = 10
)

// Generator makes the events of a Config. Event(n) depends only on the
// configuration and n. A Generator is not safe for concurrent use (it
// carves strings from a chunk of its own): use one per goroutine.
type Generator struct {
	cfg   Config
	total int64 // people + auctions + bids per epoch of events
	pp    int64 // people per epoch
	ap    int64 // auctions per epoch
	// auctionEvents is how many events hold InFlightAuctions auctions.
	auctionEvents int64
	mem           arena
}

// NewGenerator returns a generator of cfg's events.
func NewGenerator(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	g := &Generator{
		cfg:   cfg,
		pp:    int64(cfg.PersonProportion),
		ap:    int64(cfg.AuctionProportion),
		total: int64(cfg.PersonProportion + cfg.AuctionProportion + cfg.BidProportion),
	}
	g.auctionEvents = int64(cfg.InFlightAuctions) * g.total / g.ap
	return g, nil
}

// Config returns the configuration with its defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Timestamp returns the event time of event n (unix milliseconds).
func (g *Generator) Timestamp(n int64) int64 { return g.cfg.timestamp(n) }

// Type returns the type of event n.
func (g *Generator) Type(n int64) EventType {
	switch rem := n % g.total; {
	case rem < g.pp:
		return PersonEvent
	case rem < g.pp+g.ap:
		return AuctionEvent
	}
	return BidEvent
}

// Event returns event n (n >= 0).
func (g *Generator) Event(n int64) Event {
	r := newRNG(g.cfg.Seed, n)
	ts := g.Timestamp(n)
	switch g.Type(n) {
	case PersonEvent:
		return Event{Type: PersonEvent, Person: g.person(n, &r, ts)}
	case AuctionEvent:
		return Event{Type: AuctionEvent, Auction: g.auction(n, &r, ts)}
	}
	return Event{Type: BidEvent, Bid: g.bid(n, &r, ts)}
}

// lastPerson is the base-0 id of the newest person at event n (n's own if
// n is a person).
func (g *Generator) lastPerson(n int64) int64 {
	epoch, off := n/g.total, n%g.total
	return epoch*g.pp + min(off, g.pp-1)
}

// lastAuction is the base-0 id of the newest auction at event n (n's own
// if n is an auction).
func (g *Generator) lastAuction(n int64) int64 {
	epoch, off := n/g.total, n%g.total
	switch {
	case off < g.pp:
		epoch, off = epoch-1, g.ap-1
	case off >= g.pp+g.ap:
		off = g.ap - 1
	default:
		off -= g.pp
	}
	return epoch*g.ap + off
}

// randomPerson picks one of the active people, or one of the next few to
// come (base 0).
func (g *Generator) randomPerson(n int64, r *rng) int64 {
	people := g.lastPerson(n) + 1
	active := min(people, int64(g.cfg.ActivePeople))
	return people - active + r.intn(active+idLead)
}

// randomAuction picks one of the auctions in flight, or one of the next
// few to come (base 0).
func (g *Generator) randomAuction(n int64, r *rng) int64 {
	last := g.lastAuction(n)
	lo := max(last-int64(g.cfg.InFlightAuctions), 0)
	return lo + r.intn(last-lo+1+idLead)
}

func (g *Generator) person(n int64, r *rng, ts int64) *Person {
	p := &Person{ID: g.lastPerson(n) + FirstPersonID, DateTime: ts}
	p.Name = fullNames[r.intn(int64(len(fullNames)))]

	var user, host [8]byte
	u, h := word(r, user[:], 7), word(r, host[:], 5)
	email := g.mem.take(len(u) + 1 + len(h) + 4)
	k := copy(email, u)
	email[k] = '@'
	k++
	k += copy(email[k:], h)
	copy(email[k:], ".com")
	p.EmailAddress = str(email)

	cc := g.mem.take(19)
	for i := 0; i < 4; i++ {
		v := r.intn(10000)
		d := cc[i*5:]
		d[0], d[1], d[2], d[3] = '0'+byte(v/1000), '0'+byte(v/100%10), '0'+byte(v/10%10), '0'+byte(v%10)
		if i < 3 {
			d[4] = ' '
		}
	}
	p.CreditCard = str(cc)
	p.City = usCities[r.intn(int64(len(usCities)))]
	p.State = usStates[r.intn(int64(len(usStates)))]

	size := 8 + len(p.Name) + len(p.EmailAddress) + len(p.CreditCard) + len(p.City) + len(p.State)
	extra := g.mem.take(extraSize(r, size, g.cfg.AvgPersonSize))
	letters(r, extra)
	p.Extra = str(extra)
	return p
}

func (g *Generator) auction(n int64, r *rng, ts int64) *Auction {
	a := &Auction{ID: g.lastAuction(n) + FirstAuctionID, DateTime: ts}
	if r.intn(int64(g.cfg.HotSellerRatio)) > 0 {
		a.Seller = g.lastPerson(n) / hotBatch * hotBatch
	} else {
		a.Seller = g.randomPerson(n, r)
	}
	a.Seller += FirstPersonID
	a.Category = FirstCategoryID + r.intn(NumCategories)
	a.InitialBid = r.price()
	// The auction lasts on average until InFlightAuctions more auctions
	// have opened.
	horizon := g.Timestamp(n+g.auctionEvents) - ts
	a.Expires = ts + 1 + r.intn(max(2*horizon, 1))
	a.ItemName = str(word(r, g.mem.take(19), 20))
	a.Description = str(word(r, g.mem.take(99), 100))
	a.Reserve = a.InitialBid + r.price()

	size := 8 + len(a.ItemName) + len(a.Description) + 5*8
	extra := g.mem.take(extraSize(r, size, g.cfg.AvgAuctionSize))
	letters(r, extra)
	a.Extra = str(extra)
	return a
}

func (g *Generator) bid(n int64, r *rng, ts int64) Bid {
	b := Bid{DateTime: ts}
	if r.intn(int64(g.cfg.HotAuctionRatio)) > 0 {
		b.Auction = g.lastAuction(n) / hotBatch * hotBatch
	} else {
		b.Auction = g.randomAuction(n, r)
	}
	b.Auction += FirstAuctionID
	if r.intn(int64(g.cfg.HotBidderRatio)) > 0 {
		// The second of the batch, so the hot bidder is not the hot seller.
		b.Bidder = g.lastPerson(n)/hotBatch*hotBatch + 1
	} else {
		b.Bidder = g.randomPerson(n, r)
	}
	b.Bidder += FirstPersonID
	b.Price = r.price()
	extra := g.mem.take(extraSize(r, 4*8, g.cfg.AvgBidSize))
	letters(r, extra)
	b.Extra = str(extra)
	return b
}
