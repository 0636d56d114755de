package state

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// fixture is a backend with one state of each kind, used by the snapshot,
// restore and rescaling tests.
type fixture struct {
	b   *KeyedBackend[string]
	val ValueState[int64]
	lst ListState[string]
	mp  MapState[string, float64]
	tm  *Timers[string, string]
}

func newFixture(t testing.TB, opts Options[string]) *fixture {
	t.Helper()
	return registerFixture(t, NewKeyedBackend(opts))
}

func registerFixture(t testing.TB, b *KeyedBackend[string]) *fixture {
	t.Helper()
	f := &fixture{b: b}
	var err error
	if f.val, err = Value[string, int64](b, "count", nil); err != nil {
		t.Fatal(err)
	}
	if f.lst, err = List[string, string](b, "events", nil); err != nil {
		t.Fatal(err)
	}
	if f.mp, err = Map[string, string, float64](b, "totals", nil, nil); err != nil {
		t.Fatal(err)
	}
	if f.tm, err = NewTimers[string, string](b, "timers", nil); err != nil {
		t.Fatal(err)
	}
	return f
}

type timerKey struct {
	key, ns string
	ts      int64
}

// model is the expected content of a fixture.
type model struct {
	val map[string]int64
	lst map[string][]string
	mp  map[string]map[string]float64
	ev  map[timerKey]bool
	pt  map[timerKey]bool
}

func newModel() *model {
	return &model{
		val: map[string]int64{},
		lst: map[string][]string{},
		mp:  map[string]map[string]float64{},
		ev:  map[timerKey]bool{},
		pt:  map[timerKey]bool{},
	}
}

func (m *model) clone() *model {
	c := &model{
		val: maps.Clone(m.val),
		lst: make(map[string][]string, len(m.lst)),
		mp:  make(map[string]map[string]float64, len(m.mp)),
		ev:  maps.Clone(m.ev),
		pt:  maps.Clone(m.pt),
	}
	for k, v := range m.lst {
		c.lst[k] = slices.Clone(v)
	}
	for k, v := range m.mp {
		c.mp[k] = maps.Clone(v)
	}
	return c
}

// filter returns the part of m whose keys are in key groups of r.
func (m *model) filter(r KeyGroupRange, maxPar int) *model {
	in := func(k string) bool { return r.Contains(KeyGroupOf(Hasher[string]()(k), maxPar)) }
	c := m.clone()
	maps.DeleteFunc(c.val, func(k string, _ int64) bool { return !in(k) })
	maps.DeleteFunc(c.lst, func(k string, _ []string) bool { return !in(k) })
	maps.DeleteFunc(c.mp, func(k string, _ map[string]float64) bool { return !in(k) })
	maps.DeleteFunc(c.ev, func(k timerKey, _ bool) bool { return !in(k.key) })
	maps.DeleteFunc(c.pt, func(k timerKey, _ bool) bool { return !in(k.key) })
	return c
}

// keyInRange returns a random key of the fixture's range.
func (f *fixture) keyInRange(rng *rand.Rand, keys int) string {
	for {
		k := fmt.Sprintf("key-%d", rng.IntN(keys))
		if f.b.rng.Contains(KeyGroupOf(f.b.hash(k), f.b.maxPar)) {
			return k
		}
	}
}

// mutate applies n random operations to f and m alike.
func (f *fixture) mutate(t testing.TB, m *model, rng *rand.Rand, n, keys int) {
	t.Helper()
	for range n {
		k := f.keyInRange(rng, keys)
		mustKey(t, f.b, k)
		switch op := rng.IntN(20); op {
		case 0, 1, 2, 3, 4:
			v, _ := f.val.Value()
			f.val.Update(v + 1)
			m.val[k]++
		case 5:
			f.val.Clear()
			delete(m.val, k)
		case 6, 7, 8:
			e := fmt.Sprint(rng.IntN(100))
			f.lst.Add(e)
			m.lst[k] = append(m.lst[k], e)
		case 9:
			f.lst.Update([]string{"u"})
			m.lst[k] = []string{"u"}
		case 10:
			f.lst.Clear()
			delete(m.lst, k)
		case 11, 12, 13:
			uk := fmt.Sprint(rng.IntN(5))
			v := rng.Float64()
			f.mp.Put(uk, v)
			if m.mp[k] == nil {
				m.mp[k] = map[string]float64{}
			}
			m.mp[k][uk] = v
		case 14:
			uk := fmt.Sprint(rng.IntN(5))
			f.mp.Remove(uk)
			delete(m.mp[k], uk)
			if len(m.mp[k]) == 0 {
				delete(m.mp, k)
			}
		case 15:
			f.mp.Clear()
			delete(m.mp, k)
		case 16:
			ns, ts := fmt.Sprint(rng.IntN(3)), int64(rng.IntN(1000))
			f.tm.RegisterEventTime(ns, ts)
			m.ev[timerKey{k, ns, ts}] = true
		case 17:
			ns, ts := fmt.Sprint(rng.IntN(3)), int64(rng.IntN(1000))
			f.tm.DeleteEventTime(ns, ts)
			delete(m.ev, timerKey{k, ns, ts})
		case 18:
			ns, ts := fmt.Sprint(rng.IntN(3)), int64(rng.IntN(1000))
			f.tm.RegisterProcessingTime(ns, ts)
			m.pt[timerKey{k, ns, ts}] = true
		case 19:
			for x := range m.pt {
				if x.key == k {
					f.tm.DeleteProcessingTime(x.ns, x.ts)
					delete(m.pt, x)
					break
				}
			}
		}
	}
}

// dump reads the whole content of f.
func (f *fixture) dump(t testing.TB) *model {
	t.Helper()
	m := newModel()
	for k := range f.b.Keys("count") {
		mustKey(t, f.b, k)
		v, ok := f.val.Value()
		if !ok {
			t.Fatalf("Keys yielded %q without a value", k)
		}
		m.val[k] = v
	}
	for k := range f.b.Keys("events") {
		mustKey(t, f.b, k)
		m.lst[k] = slices.Clone(f.lst.Get())
	}
	for k := range f.b.Keys("totals") {
		mustKey(t, f.b, k)
		m.mp[k] = maps.Collect(f.mp.All())
	}
	for q, dst := range map[*timerQueue[string, string]]map[timerKey]bool{&f.tm.event: m.ev, &f.tm.proc: m.pt} {
		for _, tab := range q.m.root.tabs {
			if tab == nil {
				continue
			}
			tab.each(func(s *slot[string, timerSet[string]]) bool {
				for _, e := range s.v.list {
					dst[timerKey{s.k, e.ns, e.ts}] = true
				}
				return true
			})
		}
	}
	if f.tm.NumEventTimers() != len(m.ev) || f.tm.NumProcessingTimers() != len(m.pt) {
		t.Fatalf("timer counts %d/%d, tables hold %d/%d", f.tm.NumEventTimers(), f.tm.NumProcessingTimers(), len(m.ev), len(m.pt))
	}
	return m
}

func equalModels(t testing.TB, what string, got, want *model) {
	t.Helper()
	if !maps.Equal(got.val, want.val) {
		t.Fatalf("%s: value state differs: %d keys, want %d", what, len(got.val), len(want.val))
	}
	if !maps.EqualFunc(got.lst, want.lst, slices.Equal) {
		t.Fatalf("%s: list state differs: %d keys, want %d", what, len(got.lst), len(want.lst))
	}
	if !maps.EqualFunc(got.mp, want.mp, maps.Equal) {
		t.Fatalf("%s: map state differs: %d keys, want %d", what, len(got.mp), len(want.mp))
	}
	if !maps.Equal(got.ev, want.ev) || !maps.Equal(got.pt, want.pt) {
		t.Fatalf("%s: timers differ: %d/%d, want %d/%d", what, len(got.ev), len(got.pt), len(want.ev), len(want.pt))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: models differ", what)
	}
}

func writeSnapshot(t testing.TB, s *Snapshot) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := s.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d bytes", n, buf.Len())
	}
	return buf.Bytes()
}

// restoreFixture restores files into a new backend of range r and
// registers the fixture's states.
func restoreFixture(t testing.TB, maxPar int, r KeyGroupRange, files ...[]byte) *fixture {
	t.Helper()
	b := NewKeyedBackend(Options[string]{MaxParallelism: maxPar, Range: r})
	for _, f := range files {
		if err := b.Restore(bytes.NewReader(f)); err != nil {
			t.Fatal(err)
		}
	}
	return registerFixture(t, b)
}
