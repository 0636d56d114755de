package bench

import (
	"context"
	"sync"

	"github.com/sluicehq/sluice/connector"
)

// Bid is the element of the stateless chain: a small auction bid in the
// spirit of Nexmark (32 bytes).
type Bid struct {
	Auction  int64
	Bidder   int64
	Price    int64 // cents
	DateTime int64 // unix milliseconds
}

// GenBid is the generator of the stateless chain: the bid with index i.
func GenBid(i int64) Bid {
	return Bid{Auction: i % 1000, Bidder: i % 997, Price: 100 + i%5000, DateTime: 1_700_000_000_000 + i}
}

// ToEuro is the first Map of the chain: a currency conversion of the price.
func ToEuro(b Bid) Bid {
	b.Price = b.Price * 89 / 100
	return b
}

// Selected is the Filter of the chain: it keeps three bids in four (those
// whose auction is not a multiple of 4).
func Selected(b Bid) bool { return b.Auction%4 != 0 }

// SelectedOf is the number of bids among GenBid(0..n-1) that Selected keeps.
func SelectedOf(n int64) int64 { return n - (n+3)/4 }

// Sale is the output of the chain: a projection of a bid.
type Sale struct {
	Auction int64
	Price   int64
	Time    int64
}

// ToSale is the second Map of the chain.
func ToSale(b Bid) Sale { return Sale{Auction: b.Auction, Price: b.Price, Time: b.DateTime} }

// ReadSale reads every field of s (what the sink does with a record).
func ReadSale(s Sale) uint64 { return uint64(s.Auction) + uint64(s.Price) ^ uint64(s.Time) }

// KeyCount is the element of the keyed running count: a key and a count.
type KeyCount struct {
	Key   int64
	Count int64
}

// GenKeyCount returns the generator of the keyed count: record i is one
// occurrence of key i % keys.
func GenKeyCount(keys int64) func(i int64) KeyCount {
	return func(i int64) KeyCount { return KeyCount{Key: i % keys, Count: 1} }
}

// KeyOf is the key selector of the keyed count.
func KeyOf(c KeyCount) int64 { return c.Key }

// SumCounts is the reduce function of the keyed count.
func SumCounts(acc, v KeyCount) KeyCount {
	acc.Count += v.Count
	return acc
}

// ReadKeyCount reads every field of c.
func ReadKeyCount(c KeyCount) uint64 { return uint64(c.Key) ^ uint64(c.Count) }

// Discard is a sink that reads every record with a function and throws it
// away, counting records and folding what the function returns into a
// checksum (so that neither the reads nor the records can be optimized
// away, and a run can be checked against its baseline). It declares
// at-least-once: nothing is kept, and records replayed after a restore are
// counted again.
type Discard[T any] struct {
	read func(T) uint64

	mu  sync.Mutex
	n   int64
	sum uint64
}

// NewDiscard returns a discarding sink that reads records with read.
func NewDiscard[T any](read func(T) uint64) *Discard[T] { return &Discard[T]{read: read} }

// Declare: records are counted again after a restore.
func (d *Discard[T]) Declare(bool) connector.Declaration {
	return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: "benchmark sink: discards records, replays are counted again"}
}

// NewWriter implements connector.Sink.
func (d *Discard[T]) NewWriter(connector.WriterContext, [][]byte) (connector.Writer[T], error) {
	return d.Writer(), nil
}

// Writer returns a writer of its own, for use outside a job (baselines).
// What it wrote is added to the sink's totals on Flush and Close.
func (d *Discard[T]) Writer() *DiscardWriter[T] { return &DiscardWriter[T]{d: d, read: d.read} }

// Count is the number of records flushed or closed by the sink's writers.
func (d *Discard[T]) Count() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// Sum is the checksum of what read returned for those records; it does not
// depend on their order.
func (d *Discard[T]) Sum() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sum
}

// DiscardWriter is the writer of a Discard sink.
type DiscardWriter[T any] struct {
	d    *Discard[T]
	read func(T) uint64
	n    int64
	sum  uint64
	// Writers of parallel subtasks are written per record: keep each on
	// cache lines of its own.
	_ [128 - 32]byte
}

// Write reads v and its timestamp and drops them.
func (w *DiscardWriter[T]) Write(_ context.Context, v T, ts int64) error {
	w.n++
	w.sum += w.read(v) ^ uint64(ts)
	return nil
}

// Flush adds what was written since the last Flush to the sink's totals.
func (w *DiscardWriter[T]) Flush(context.Context) error {
	if w.n == 0 && w.sum == 0 {
		return nil
	}
	w.d.mu.Lock()
	w.d.n += w.n
	w.d.sum += w.sum
	w.d.mu.Unlock()
	w.n, w.sum = 0, 0
	return nil
}

// Close flushes.
func (w *DiscardWriter[T]) Close() error { return w.Flush(context.Background()) }
