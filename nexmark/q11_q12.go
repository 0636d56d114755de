package nexmark

import (
	"time"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/stream"
)

// Q11Gap is the session gap of q11.
const Q11Gap = 10 * time.Second

// Q12Size is the processing-time window of q12.
const Q12Size = 10 * time.Second

// bidders projects the bids of events to their bidder.
func bidders(events stream.Stream[Event], name string) stream.Stream[int64] {
	return stream.FlatMap(events, func(e Event, out stream.Collector[int64]) error {
		if e.Type == BidEvent {
			out.Collect(e.Bid.Bidder)
		}
		return nil
	}).Name(name)
}

func countResult(b int64, w eventtime.TimeWindow, n int64, out stream.Collector[Q11Result]) error {
	out.Collect(Q11Result{Bidder: b, Count: n, Start: w.Start, End: w.End})
	return nil
}

// Q11 is user sessions: the number of bids of every session of a bidder,
// a session ending after 10 s without a bid (event-time session windows).
func Q11(events stream.Stream[Event]) stream.Stream[Q11Result] {
	w := stream.Window(stream.KeyBy(bidders(events, "q11 bidders"), func(b int64) int64 { return b }), eventtime.Session(Q11Gap))
	return stream.AggregateWindowWith(w, CountAgg[int64]{}, countResult).Name("q11 sessions").UID("q11-sessions")
}

// Q12 is the number of bids of every bidder in tumbling windows of 10 s
// of processing time.
func Q12(events stream.Stream[Event]) stream.Stream[Q12Result] {
	w := stream.Window(stream.KeyBy(bidders(events, "q12 bidders"), func(b int64) int64 { return b }), eventtime.Tumbling(Q12Size)).ProcessingTime()
	return stream.AggregateWindowWith(w, CountAgg[int64]{}, countResult).Name("q12 windows").UID("q12-windows")
}
