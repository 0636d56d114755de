package bench

import (
	"fmt"
	"testing"
)

// TestBaselinesDoTheSameWork checks that each job and its hand-written
// baselines emit the same records (count and order-independent checksum),
// so the benchmarks compare equal work.
func TestBaselinesDoTheSameWork(t *testing.T) {
	const n = 100_003
	wantN, wantSum := chainInline(0, n)
	if wantN != SelectedOf(n) {
		t.Fatalf("inline chain kept %d records, SelectedOf says %d", wantN, SelectedOf(n))
	}
	for _, p := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("chain/p%d", p), func(t *testing.T) {
			hand := NewDiscard(ReadSale)
			if err := chainFuncsParallel(n, p, hand); err != nil {
				t.Fatal(err)
			}
			job := NewDiscard(ReadSale)
			run(t, chainJob(n, p, job))
			for name, d := range map[string]*Discard[Sale]{"funcs": hand, "job": job} {
				if d.Count() != wantN || d.Sum() != wantSum {
					t.Errorf("%s: count %d sum %x, want %d %x", name, d.Count(), d.Sum(), wantN, wantSum)
				}
			}
		})
	}
	for _, keys := range []int64{1, 1000, 1 << 20} {
		wantN, wantSum := countInline(n, keys)
		hand := NewDiscard(ReadKeyCount)
		if err := countFuncs(n, GenKeyCount(keys), KeyOf, SumCounts, hand.Writer()); err != nil {
			t.Fatal(err)
		}
		if hand.Count() != wantN || hand.Sum() != wantSum {
			t.Errorf("keys=%d funcs: count %d sum %x, want %d %x", keys, hand.Count(), hand.Sum(), wantN, wantSum)
		}
		for _, p := range []int{1, 2} {
			t.Run(fmt.Sprintf("count/keys=%d/p%d", keys, p), func(t *testing.T) {
				sinks := map[string]*Discard[KeyCount]{"reduce": NewDiscard(ReadKeyCount), "process": NewDiscard(ReadKeyCount)}
				run(t, reduceCountJob(n, keys, p, sinks["reduce"]))
				run(t, processCountJob(n, keys, p, sinks["process"]))
				for name, d := range sinks {
					if d.Count() != wantN || d.Sum() != wantSum {
						t.Errorf("%s: count %d sum %x, want %d %x", name, d.Count(), d.Sum(), wantN, wantSum)
					}
				}
			})
		}
	}
}
