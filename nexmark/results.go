package nexmark

// The result types of the queries. q0 and q7 emit Bid.

// Q1Result is a bid with its price converted from dollars to euros.
type Q1Result struct {
	Auction int64
	Bidder  int64
	// PriceMilli is 0.908 times the bid's price, in thousandths: exact, as
	// the reference's DECIMAL(23, 3).
	PriceMilli int64
	DateTime   int64
	Extra      string
}

// Fold reads every field of r.
func (r Q1Result) Fold(h uint64) uint64 {
	h = mix(h, uint64(r.Auction))
	h = mix(h, uint64(r.Bidder))
	h = mix(h, uint64(r.PriceMilli))
	h = mix(h, uint64(r.DateTime))
	return mixString(h, r.Extra)
}

// Q2Result is the auction and price of a selected bid.
type Q2Result struct {
	Auction int64
	Price   int64
}

// Fold reads every field of r.
func (r Q2Result) Fold(h uint64) uint64 {
	return mix(mix(h, uint64(r.Auction)), uint64(r.Price))
}

// Q3Result is a seller in one of the selected states and one of their
// auctions in the selected category.
type Q3Result struct {
	Name  string
	City  string
	State string
	ID    int64 // the auction
}

// Fold reads every field of r.
func (r Q3Result) Fold(h uint64) uint64 {
	h = mixString(h, r.Name)
	h = mixString(h, r.City)
	h = mixString(h, r.State)
	return mix(h, uint64(r.ID))
}

// Q4Result is the average winning price of the auctions of a category, as
// of the latest change of one of them (integer division, as the
// reference's AVG over BIGINT).
type Q4Result struct {
	Category int64
	Avg      int64
}

// Fold reads every field of r.
func (r Q4Result) Fold(h uint64) uint64 {
	return mix(mix(h, uint64(r.Category)), uint64(r.Avg))
}

// Q5Result is an auction with the most bids in the sliding window
// [Start, End).
type Q5Result struct {
	Auction int64
	Num     int64
	Start   int64
	End     int64
}

// Fold reads every field of r.
func (r Q5Result) Fold(h uint64) uint64 {
	h = mix(h, uint64(r.Auction))
	h = mix(h, uint64(r.Num))
	h = mix(h, uint64(r.Start))
	return mix(h, uint64(r.End))
}

// Q8Result is a person who registered and opened an auction in the same
// tumbling window, which starts at Start.
type Q8Result struct {
	ID    int64
	Name  string
	Start int64
}

// Fold reads every field of r.
func (r Q8Result) Fold(h uint64) uint64 {
	h = mix(h, uint64(r.ID))
	h = mixString(h, r.Name)
	return mix(h, uint64(r.Start))
}

// Q11Result is the number of bids of one bidder's session [Start, End).
type Q11Result struct {
	Bidder int64
	Count  int64
	Start  int64
	End    int64
}

// Fold reads every field of r.
func (r Q11Result) Fold(h uint64) uint64 {
	h = mix(h, uint64(r.Bidder))
	h = mix(h, uint64(r.Count))
	h = mix(h, uint64(r.Start))
	return mix(h, uint64(r.End))
}

// Q12Result is the number of bids of one bidder in the processing-time
// window [Start, End).
type Q12Result = Q11Result
