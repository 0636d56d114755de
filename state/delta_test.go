package state

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestIncrementalChain takes incremental snapshots between rounds of
// random changes (values, lists, maps, timers; inserts, updates, deletes,
// page splits) and checks that every chain, restored in order, gives the
// state as of its last snapshot, also when restored into two backends of
// half the key groups each (rescaling). Variants write snapshots while
// processing goes on, mix in full snapshots and Keys iterations (which
// also move the epoch on), and start a new chain now and then.
func TestIncrementalChain(t *testing.T) {
	for _, tc := range []struct {
		name       string
		keys, ops  int
		rounds     int
		concurrent bool // write each snapshot while the next round runs
		others     bool // plain snapshots and Keys between incremental ones
		resetEvery int  // ResetIncremental every n rounds; 0: never
	}{
		{name: "few keys", keys: 50, ops: 40, rounds: 40},
		{name: "many keys", keys: 20000, ops: 3000, rounds: 25},
		{name: "sparse changes", keys: 20000, ops: 30, rounds: 30},
		{name: "concurrent", keys: 5000, ops: 1500, rounds: 25, concurrent: true},
		{name: "others between", keys: 3000, ops: 500, rounds: 25, others: true},
		{name: "reset", keys: 3000, ops: 500, rounds: 25, resetEvery: 7, concurrent: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const maxPar = 64
			rng := rand.New(rand.NewPCG(uint64(tc.keys), uint64(tc.ops)))
			f := newFixture(t, Options[string]{MaxParallelism: maxPar})
			m := newModel()
			var chain [][]byte
			var deltaBytes, deltas int
			for round := range tc.rounds {
				f.mutate(t, m, rng, tc.ops, tc.keys)
				if tc.others && round%3 == 1 {
					plain := f.b.Snapshot()
					for range f.b.Keys("count") {
						f.mutate(t, m, rng, 3, tc.keys)
						break
					}
					f.mutate(t, m, rng, tc.ops/2, tc.keys)
					g := restoreFixture(t, maxPar, KeyGroupRange{}, writeSnapshot(t, plain))
					plain.Release()
					_ = g
				}
				if tc.resetEvery > 0 && round%tc.resetEvery == tc.resetEvery-1 {
					f.b.ResetIncremental()
				}
				s := f.b.IncrementalSnapshot()
				want := m.clone()
				var data []byte
				if tc.concurrent {
					var wg sync.WaitGroup
					wg.Go(func() {
						var buf bytes.Buffer
						if _, err := s.WriteTo(&buf); err != nil {
							t.Error(err)
						}
						data = buf.Bytes()
					})
					f.mutate(t, m, rng, tc.ops, tc.keys)
					wg.Wait()
				} else {
					data = writeSnapshot(t, s)
				}
				s.Release()
				if written, live := s.Entries(); !s.Delta() && written != live || written > live {
					t.Fatalf("round %d: %d entries written of %d live (delta %v)", round, written, live, s.Delta())
				}
				if s.Delta() {
					if len(chain) == 0 {
						t.Fatalf("round %d: a delta without a base", round)
					}
					deltaBytes += len(data)
					deltas++
				} else {
					chain = chain[:0]
				}
				chain = append(chain, data)

				g := restoreFixture(t, maxPar, KeyGroupRange{}, chain...)
				equalModels(t, "restored chain", g.dump(t), want)
				if round%5 == 4 {
					for _, r := range []KeyGroupRange{{0, 29}, {29, maxPar}} {
						h := restoreFixture(t, maxPar, r, chain...)
						equalModels(t, "rescaled chain", h.dump(t), want.filter(r, maxPar))
					}
				}
				// The restored backend's own incremental snapshots (full,
				// then deltas) carry the state on.
				if round == tc.rounds-1 {
					g.mutate(t, want, rng, tc.ops, tc.keys)
					s1 := g.b.IncrementalSnapshot()
					d1 := writeSnapshot(t, s1)
					s1.Release()
					g.mutate(t, want, rng, tc.ops, tc.keys)
					s2 := g.b.IncrementalSnapshot()
					d2 := writeSnapshot(t, s2)
					s2.Release()
					if s1.Delta() || !s2.Delta() {
						t.Fatalf("after a restore: delta %v then %v, want a full snapshot then a delta", s1.Delta(), s2.Delta())
					}
					equalModels(t, "chain of a restored backend", restoreFixture(t, maxPar, KeyGroupRange{}, d1, d2).dump(t), want)
				}
			}
			if deltas == 0 {
				t.Fatal("no delta was taken")
			}
			full := f.b.Snapshot()
			fullBytes := len(writeSnapshot(t, full))
			full.Release()
			t.Logf("%d deltas of %d bytes on average; a full snapshot at the end: %d bytes", deltas, deltaBytes/deltas, fullBytes)
			if tc.name == "sparse changes" && deltaBytes/deltas*10 > fullBytes {
				t.Errorf("deltas of %d changes average %d bytes, the full snapshot %d: want under a tenth", tc.ops, deltaBytes/deltas, fullBytes)
			}
		})
	}
}

// TestIncrementalUnregisteredState restores a chain without registering
// one of its states: the next (full) incremental snapshot carries that
// state's sections, chain and all, and restores as the original.
func TestIncrementalUnregisteredState(t *testing.T) {
	chain, m := incrementalChain(t, 32, 4, 400, 300)
	b := NewKeyedBackend(Options[string]{MaxParallelism: 32})
	for _, d := range chain {
		if err := b.Restore(bytes.NewReader(d)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Value[string, int64](b, "count", nil); err != nil {
		t.Fatal(err)
	}
	for _, inc := range []bool{false, true} {
		var s *Snapshot
		if inc {
			s = b.IncrementalSnapshot()
		} else {
			s = b.Snapshot()
		}
		if s.Delta() {
			t.Fatal("the first incremental snapshot after a restore is a delta")
		}
		g := restoreFixture(t, 32, KeyGroupRange{}, writeSnapshot(t, s))
		s.Release()
		equalModels(t, "carried chain", g.dump(t), m)
	}
}

// TestIncrementalRestoreOrder refuses a delta whose base was not restored
// just before it.
func TestIncrementalRestoreOrder(t *testing.T) {
	chain, _ := incrementalChain(t, 16, 3, 100, 100)
	for _, files := range [][][]byte{{chain[1]}, {chain[0], chain[2]}, {chain[0], chain[1], chain[1]}} {
		b := NewKeyedBackend(Options[string]{MaxParallelism: 16})
		var err error
		for _, d := range files {
			if err = b.Restore(bytes.NewReader(d)); err != nil {
				break
			}
		}
		if !errors.Is(err, ErrIncompatible) {
			t.Errorf("restore out of order: %v, want ErrIncompatible", err)
		}
	}
}

// incrementalChain writes n incremental snapshots of a fixture of maxPar
// key groups, with ops random changes over keys keys before each, and
// returns them with the fixture's final content.
func incrementalChain(t *testing.T, maxPar, n, ops, keys int) ([][]byte, *model) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(maxPar), uint64(n)))
	f := newFixture(t, Options[string]{MaxParallelism: maxPar})
	m := newModel()
	var chain [][]byte
	for range n {
		f.mutate(t, m, rng, ops, keys)
		s := f.b.IncrementalSnapshot()
		chain = append(chain, writeSnapshot(t, s))
		s.Release()
	}
	return chain, m
}

// TestDeltaCopiesNoPages checks that a delta, which copies its entries when
// it is taken, leaves the pages writable in place while it is unwritten
// (no page copies), where a full snapshot makes writes copy them; and
// that the values entries refer to (maps, timer sets) are still preserved:
// the delta written after every key changed holds the state as of when it
// was taken.
func TestDeltaCopiesNoPages(t *testing.T) {
	const maxPar, keys = 16, 4000
	f := newFixture(t, Options[string]{MaxParallelism: maxPar})
	rng := rand.New(rand.NewPCG(1, 2))
	m := newModel()
	f.mutate(t, m, rng, 20000, keys)
	base := f.b.IncrementalSnapshot()
	baseData := writeSnapshot(t, base)
	base.Release()

	f.mutate(t, m, rng, 3000, keys)
	want := m.clone()
	delta := f.b.IncrementalSnapshot()
	if !delta.Delta() {
		t.Fatal("second incremental snapshot is not a delta")
	}
	// Change every key's value, map and timers while the delta is unwritten.
	before := f.b.v.copied.pages
	for i := range keys {
		k := fmt.Sprintf("key-%d", i)
		if err := f.b.SetCurrentKey(k); err != nil {
			continue // out of range: no key group of the fixture's range
		}
		f.val.Update(-1)
		f.mp.Put("x", -1)
		f.tm.RegisterEventTime("x", -1)
	}
	if n := f.b.v.copied.pages - before; n != 0 {
		t.Errorf("writes after a delta copied %d pages, want 0", n)
	}
	deltaData := writeSnapshot(t, delta)
	delta.Release()
	g := restoreFixture(t, maxPar, KeyGroupRange{}, baseData, deltaData)
	equalModels(t, "base and delta", g.dump(t), want)

	// A full snapshot pins the pages: the same writes copy them.
	full := f.b.Snapshot()
	before = f.b.v.copied.pages
	for i := range keys {
		if f.b.SetCurrentKey(fmt.Sprintf("key-%d", i)) == nil {
			f.val.Update(-2)
		}
	}
	if f.b.v.copied.pages == before {
		t.Error("writes after a full snapshot copied no pages")
	}
	full.Release()
}
