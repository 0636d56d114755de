package nexmark

import (
	"fmt"
	"time"
)

// DefaultBaseTime is the event time of event 0 when Config.BaseTime is 0:
// 2024-01-01T00:00:00Z in unix milliseconds. A fixed epoch keeps runs
// repeatable; it is a multiple of every window size the queries use.
const DefaultBaseTime int64 = 1_704_067_200_000

// DefaultRate is the default event-time rate in events per second: the
// rate of Flink's published Nexmark runs (10 million per second).
const DefaultRate int64 = 10_000_000

// Config configures the generator. Zero fields take the defaults noted
// beside them, which are those of the reference generator.
type Config struct {
	// Seed selects the pseudo-random sequence (0 is a seed like any other).
	Seed uint64
	// Events is the number of events; 0 or less means unbounded.
	Events int64
	// Rate is the number of events per second of event time (default
	// DefaultRate). It spaces timestamps only: the source emits as fast as
	// the job takes events.
	Rate int64
	// BaseTime is the event time of event 0 in unix milliseconds (default
	// DefaultBaseTime).
	BaseTime int64
	// PersonProportion, AuctionProportion and BidProportion give the mix
	// of events (default 1, 3 and 46: of every 50 events, the first is a
	// person, the next three auctions, the rest bids).
	PersonProportion, AuctionProportion, BidProportion int
	// AvgPersonSize, AvgAuctionSize and AvgBidSize are the average sizes
	// in bytes the Extra field pads events to (default 200, 500 and 100),
	// counting 8 bytes per number and the length of every string.
	AvgPersonSize, AvgAuctionSize, AvgBidSize int
	// HotAuctionRatio: a bid is for the hot auction with probability
	// 1-1/HotAuctionRatio (default 2), else for one of the auctions in
	// flight. The hot auction is the first of the latest batch of 100.
	HotAuctionRatio int
	// HotSellerRatio: an auction is by the hot seller with probability
	// 1-1/HotSellerRatio (default 4), else by one of the active people.
	HotSellerRatio int
	// HotBidderRatio: a bid is by the hot bidder with probability
	// 1-1/HotBidderRatio (default 4), else by one of the active people.
	HotBidderRatio int
	// InFlightAuctions is how many of the latest auctions a bid that is
	// not for the hot auction picks from (default 100); it also sets the
	// average length of auctions.
	InFlightAuctions int
	// ActivePeople is how many of the latest people a seller or bidder
	// who is not hot is picked from (default 1000).
	ActivePeople int
	// WatermarkDelay is how far the watermark trails the newest event time
	// of a split (default 4s), as the reference's WATERMARK FOR dateTime
	// AS dateTime - INTERVAL '4' SECOND.
	WatermarkDelay time.Duration
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.BaseTime == 0 {
		c.BaseTime = DefaultBaseTime
	}
	if c.PersonProportion == 0 && c.AuctionProportion == 0 && c.BidProportion == 0 {
		c.PersonProportion, c.AuctionProportion, c.BidProportion = 1, 3, 46
	}
	def(&c.AvgPersonSize, 200)
	def(&c.AvgAuctionSize, 500)
	def(&c.AvgBidSize, 100)
	def(&c.HotAuctionRatio, 2)
	def(&c.HotSellerRatio, 4)
	def(&c.HotBidderRatio, 4)
	def(&c.InFlightAuctions, 100)
	def(&c.ActivePeople, 1000)
	if c.WatermarkDelay == 0 {
		c.WatermarkDelay = 4 * time.Second
	}
	return c
}

// timestamp returns the event time of event n (unix milliseconds) of c
// with its defaults filled in.
func (c Config) timestamp(n int64) int64 {
	return c.BaseTime + n*1000/c.Rate
}

// Validate reports the first invalid setting of c (after defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Rate < 0:
		return fmt.Errorf("nexmark: rate %d events per second is negative", c.Rate)
	case c.PersonProportion < 1 || c.AuctionProportion < 1 || c.BidProportion < 0:
		return fmt.Errorf("nexmark: proportions %d:%d:%d: people and auctions need at least 1, bids at least 0",
			c.PersonProportion, c.AuctionProportion, c.BidProportion)
	case c.AvgPersonSize < 0 || c.AvgAuctionSize < 0 || c.AvgBidSize < 0:
		return fmt.Errorf("nexmark: average sizes must not be negative")
	case c.HotAuctionRatio < 1 || c.HotSellerRatio < 1 || c.HotBidderRatio < 1:
		return fmt.Errorf("nexmark: hot ratios must be at least 1")
	case c.InFlightAuctions < 1 || c.ActivePeople < 1:
		return fmt.Errorf("nexmark: in-flight auctions and active people must be at least 1")
	case c.WatermarkDelay < 0 || c.WatermarkDelay%time.Millisecond != 0:
		return fmt.Errorf("nexmark: watermark delay %v must be a non-negative whole number of milliseconds", c.WatermarkDelay)
	}
	return nil
}
