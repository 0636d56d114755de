package bench

import (
	"context"
	"sync"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/runtime"
)

// The hand-written baselines. The "funcs" loops take the user functions
// and the writer as values and are kept out of line, so that the compiler
// cannot inline or devirtualize the calls: they pay for the same calls as
// the engine. The "inline" loops call the functions directly and fold the
// discarding writer in, letting the compiler inline everything.

// noTSBits is runtime.NoTimestamp as the discarding writer folds it in.
const noTSBits = uint64(1) << 63

// chainFuncs runs the stateless chain over records [lo, hi).
//
//go:noinline
func chainFuncs(lo, hi int64, gen func(int64) Bid, toEuro func(Bid) Bid, keep func(Bid) bool,
	toSale func(Bid) Sale, w connector.Writer[Sale]) error {
	ctx := context.Background()
	for i := lo; i < hi; i++ {
		b := toEuro(gen(i))
		if !keep(b) {
			continue
		}
		if err := w.Write(ctx, toSale(b), runtime.NoTimestamp); err != nil {
			return err
		}
	}
	return w.Flush(ctx)
}

// chainInline is chainFuncs with everything inlined; it returns the count
// and checksum a Discard sink would hold.
func chainInline(lo, hi int64) (n int64, sum uint64) {
	for i := lo; i < hi; i++ {
		b := ToEuro(GenBid(i))
		if !Selected(b) {
			continue
		}
		n++
		sum += ReadSale(ToSale(b)) ^ noTSBits
	}
	return n, sum
}

// chainFuncsParallel runs chainFuncs over p contiguous parts of [0, n) in
// p goroutines, as p fused chains do.
func chainFuncsParallel(n int64, p int, sink *Discard[Sale]) error {
	var wg sync.WaitGroup
	errs := make([]error, p)
	for s := range p {
		lo, hi := n*int64(s)/int64(p), n*int64(s+1)/int64(p)
		wg.Go(func() {
			errs[s] = chainFuncs(lo, hi, GenBid, ToEuro, Selected, ToSale, sink.Writer())
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// countFuncs is the keyed running count as a Reduce does it: per record,
// extract the key, combine with the key's accumulator if it has one,
// store, emit the update.
//
//go:noinline
func countFuncs(n int64, gen func(int64) KeyCount, key func(KeyCount) int64,
	reduce func(acc, v KeyCount) KeyCount, w connector.Writer[KeyCount]) error {
	ctx := context.Background()
	m := make(map[int64]KeyCount)
	for i := range n {
		v := gen(i)
		k := key(v)
		if acc, ok := m[k]; ok {
			v = reduce(acc, v)
		}
		m[k] = v
		if err := w.Write(ctx, v, runtime.NoTimestamp); err != nil {
			return err
		}
	}
	return w.Flush(ctx)
}

// countInline is the running count a Go programmer writes: a
// map[int64]int64, every update read by an inlined discarding consumer.
func countInline(n, keys int64) (int64, uint64) {
	m := make(map[int64]int64)
	var sum uint64
	for i := range n {
		k := i % keys
		c := m[k] + 1
		m[k] = c
		sum += ReadKeyCount(KeyCount{Key: k, Count: c}) ^ noTSBits
	}
	return n, sum
}
