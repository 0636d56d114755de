package state

import (
	"maps"
	"math/rand/v2"
	"testing"
)

// TestCowMapModel runs random operations and snapshots against a map model,
// under several hash functions, including degenerate ones that force tag
// collisions and overflow chains.
func TestCowMapModel(t *testing.T) {
	hashes := []struct {
		name string
		h    func(uint64) uint64
	}{
		{"xxhash", Hasher[uint64]()},
		{"constant-tags", func(k uint64) uint64 { return Hasher[uint64]()(k) &^ 0xffffffff }},
		{"one-bucket", func(k uint64) uint64 { return 0xabcd<<48 | (k*0x9e3779b97f4a7c15)&0xffffffff }},
		{"all-equal", func(uint64) uint64 { return 42 << 40 }},
	}
	for _, hh := range hashes {
		t.Run(hh.name, func(t *testing.T) {
			keys := 5000
			if hh.name == "all-equal" {
				keys = 600 // every lookup is linear in the chain
			}
			runCowMapModel(t, hh.h, 60000, keys, rand.New(rand.NewPCG(1, uint64(len(hh.name)))))
		})
	}
}

type frozenMap struct {
	epoch uint64
	root  *mapRoot[uint64, int]
	want  []map[uint64]int
	next  int // key group indexes below next were released, as WriteTo does
}

func runCowMapModel(t *testing.T, hash func(uint64) uint64, ops, keys int, rng *rand.Rand) {
	const groups = 3
	v := newVersions(groups)
	m := newCowMap[uint64, int](v, hash, groups)
	model := make([]map[uint64]int, groups)
	for i := range model {
		model[i] = make(map[uint64]int)
	}
	var snaps []frozenMap
	check := func(root *mapRoot[uint64, int], want []map[uint64]int, from int, what string) {
		t.Helper()
		for idx, tab := range root.tabs {
			if idx < from {
				continue
			}
			got := make(map[uint64]int)
			if tab != nil {
				tab.each(func(s *slot[uint64, int]) bool {
					if _, dup := got[s.k]; dup {
						t.Fatalf("%s: key %d twice in key group %d", what, s.k, idx)
					}
					got[s.k] = s.v
					return true
				})
				if tab.n != len(got) {
					t.Fatalf("%s: key group %d counts %d entries, holds %d", what, idx, tab.n, len(got))
				}
			}
			if !maps.Equal(got, want[idx]) {
				t.Fatalf("%s: key group %d has %d entries, want %d", what, idx, len(got), len(want[idx]))
			}
		}
	}
	for i := range ops {
		k := uint64(rng.IntN(keys))
		idx, h := int(k%groups), hash(k)
		want, present := model[idx][k]
		switch op := rng.IntN(100); {
		case op < 40:
			c, inserted := m.upsert(idx, k, h)
			s := c.slot
			if inserted == present {
				t.Fatalf("op %d: upsert %d inserted=%v, present=%v", i, k, inserted, present)
			}
			if present && s.v != want {
				t.Fatalf("op %d: upsert %d found %d, want %d", i, k, s.v, want)
			}
			s.v = i
			model[idx][k] = i
		case op < 60:
			c := m.get(idx, k, h)
			s := c.slot
			if (s != nil) != present || present && s.v != want {
				t.Fatalf("op %d: get %d = %v, want %d (present %v)", i, k, s, want, present)
			}
			if c.writable() {
				c.touch()
				s.v = i
				model[idx][k] = i
			}
		case op < 85:
			if m.remove(idx, k, h) != present {
				t.Fatalf("op %d: remove %d, present=%v", i, k, present)
			}
			delete(model[idx], k)
		case op < 87 && len(snaps) < 4:
			e := v.freeze(false)
			cp := make([]map[uint64]int, groups)
			for j := range cp {
				cp[j] = maps.Clone(model[j])
			}
			snaps = append(snaps, frozenMap{e, m.root, cp, 0})
		case op < 89 && len(snaps) > 0:
			j := rng.IntN(len(snaps))
			check(snaps[j].root, snaps[j].want, snaps[j].next, "snapshot")
			v.live.remove(snaps[j].epoch)
			snaps = append(snaps[:j], snaps[j+1:]...)
		case op < 90 && len(snaps) > 0:
			// Write one more key group of a snapshot and release it.
			s := &snaps[rng.IntN(len(snaps))]
			if s.next < groups {
				check(s.root, s.want, s.next, "key group being released")
				v.live.releaseGroup(s.epoch, s.next)
				s.next++
			}
		case op < 91:
			// Bulk clear of a key group, then refill some of it.
			for kk := range model[idx] {
				m.remove(idx, kk, hash(kk))
			}
			clear(model[idx])
			if m.len(idx) != 0 {
				t.Fatalf("op %d: key group %d not empty after removing all", i, idx)
			}
		}
	}
	for _, s := range snaps {
		check(s.root, s.want, s.next, "snapshot at end")
	}
	check(m.root, model, 0, "live")
}

func TestCowMapReserve(t *testing.T) {
	v := newVersions(1)
	h := Hasher[uint64]()
	m := newCowMap[uint64, int](v, h, 1)
	m.reserve(0, 10000)
	pages := m.root.tabs[0].pages
	for k := range uint64(10000) {
		c, _ := m.upsert(0, k, h(k))
		c.slot.v = int(k)
	}
	tab := m.root.tabs[0]
	if tab.n != 10000 {
		t.Fatalf("n = %d", tab.n)
	}
	if tab.pages > pages*2 {
		t.Errorf("reserved %d pages, ended with %d", pages, tab.pages)
	}
}

func TestSWARMatch(t *testing.T) {
	var g group[int, int]
	g.setCtrl(0, 0x85)
	g.setCtrl(3, 0x85)
	g.setCtrl(4, ctrlDeleted)
	g.setCtrl(6, 0x84)
	g.setCtrl(7, 0xff)
	if m := matchTag(g.ctrl, 0x85); m&(0x80|0x80<<24) != 0x80|0x80<<24 || m&^(0x80|0x80<<24|0x80<<32) != 0 {
		t.Errorf("matchTag = %#x", m)
	}
	if m := matchEmpty(g.ctrl); m != 0x80<<8|0x80<<16|0x80<<40 {
		t.Errorf("matchEmpty = %#x", m)
	}
	if m := matchFull(g.ctrl); m != 0x80|0x80<<24|0x80<<48|0x80<<56 {
		t.Errorf("matchFull = %#x", m)
	}
	if m := matchEmptyOrDeleted(g.ctrl); m != 0x80<<8|0x80<<16|0x80<<32|0x80<<40 {
		t.Errorf("matchEmptyOrDeleted = %#x", m)
	}
	// matchEmpty must be exact for every byte value next to every other.
	for a := range 256 {
		for b := range 256 {
			c := uint64(a) | uint64(b)<<8 | uint64(b)<<16 | uint64(a)<<24
			want := uint64(0)
			for i := range 4 {
				if byte(c>>(8*i)) == 0 {
					want |= 0x80 << (8 * i)
				}
			}
			want |= 0x80<<32 | 0x80<<40 | 0x80<<48 | 0x80<<56
			if got := matchEmpty(c); got != want {
				t.Fatalf("matchEmpty(%#x) = %#x, want %#x", c, got, want)
			}
		}
	}
}
