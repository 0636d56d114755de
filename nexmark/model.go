package nexmark

// EventType says which of an Event's fields holds the event.
type EventType uint8

const (
	// PersonEvent: a person registered (Event.Person).
	PersonEvent EventType = iota
	// AuctionEvent: an auction opened (Event.Auction).
	AuctionEvent
	// BidEvent: a bid was made (Event.Bid).
	BidEvent
)

func (t EventType) String() string {
	switch t {
	case PersonEvent:
		return "person"
	case AuctionEvent:
		return "auction"
	case BidEvent:
		return "bid"
	}
	return "unknown"
}

// Event is one event of the auction system. Exactly one of Person,
// Auction and Bid is set, as Type says. Bids, 46 events in 50, are held by
// value so that they cost no allocation; people and auctions by pointer.
// Events are immutable once made: the pointers may be shared.
type Event struct {
	Type    EventType
	Person  *Person
	Auction *Auction
	Bid     Bid
}

// Time is the event's time (unix milliseconds).
func (e *Event) Time() int64 {
	switch e.Type {
	case PersonEvent:
		return e.Person.DateTime
	case AuctionEvent:
		return e.Auction.DateTime
	}
	return e.Bid.DateTime
}

// Person is a user of the auction system: a seller or a bidder.
type Person struct {
	ID           int64
	Name         string
	EmailAddress string
	CreditCard   string
	City         string
	State        string
	DateTime     int64  // unix milliseconds
	Extra        string // padding to the configured average size
}

// Auction is an item put up for auction.
type Auction struct {
	ID          int64
	ItemName    string
	Description string
	InitialBid  int64
	Reserve     int64
	DateTime    int64 // opening time, unix milliseconds
	Expires     int64 // closing time, unix milliseconds
	Seller      int64 // a Person.ID
	Category    int64
	Extra       string // padding to the configured average size
}

// Bid is a bid for an auction.
type Bid struct {
	Auction  int64 // an Auction.ID
	Bidder   int64 // a Person.ID
	Price    int64
	DateTime int64  // unix milliseconds
	Extra    string // padding to the configured average size
}

// Folder is a record the discarding sink can read: Fold mixes every field
// of the record into h and returns the result. Strings contribute their
// length and first byte, so reading one costs the same whatever its size.
type Folder interface {
	Fold(h uint64) uint64
}

// mix folds one 64-bit word into a running hash.
func mix(h, v uint64) uint64 {
	h ^= v
	h *= 0x100000001b3
	return h ^ h>>29
}

func mixString(h uint64, s string) uint64 {
	v := uint64(len(s))
	if len(s) > 0 {
		v |= uint64(s[0]) << 56
	}
	return mix(h, v)
}

// Fold reads every field of b.
func (b Bid) Fold(h uint64) uint64 {
	h = mix(h, uint64(b.Auction))
	h = mix(h, uint64(b.Bidder))
	h = mix(h, uint64(b.Price))
	h = mix(h, uint64(b.DateTime))
	return mixString(h, b.Extra)
}
