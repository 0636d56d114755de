package nexmark

import (
	"math"
	"math/bits"
)

// rng is the pseudo-random sequence of one event: wyrand, seeded from the
// generator's seed and the event number, so that every event can be made
// on its own, in any order, on any subtask.
type rng struct{ s uint64 }

func newRNG(seed uint64, n int64) rng {
	// splitmix64 finalizer over seed and event number: neighbouring event
	// numbers get unrelated states.
	z := seed ^ (uint64(n)+1)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return rng{s: z ^ z>>31}
}

func (r *rng) next() uint64 {
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// intn returns a number in [0, n); n must be positive.
func (r *rng) intn(n int64) int64 {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int64(hi)
}

// float64 returns a number in [0, 1).
func (r *rng) float64() float64 { return float64(r.next()>>11) * 0x1p-53 }

// price returns a price spread log-uniformly over [100, 100,000,000]
// (10^(6u) * 100), the shape of the reference's prices, computed as
// 2^(6u*log2(10)) from a table of 2^(k/256) and a short series.
func (r *rng) price() int64 {
	x := r.float64() * (6 * math.Log2E * math.Ln10)
	e := int(x)
	f := x - float64(e)
	k := int(f * 256)
	d := (f - float64(k)/256) * math.Ln2
	v := exp2Table[k] * (1 + d*(1+d*(0.5+d*(1.0/6))))
	v *= math.Float64frombits(uint64(1023+e) << 52) // 2^e
	return int64(v*100 + 0.5)
}

// exp2Table[k] is 2^(k/256).
var exp2Table = func() (t [256]float64) {
	for k := range t {
		t[k] = math.Exp2(float64(k) / 256)
	}
	return t
}()
