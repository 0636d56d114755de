package state

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/sluicehq/sluice/internal/wire"
)

// The sections of value, list and map state share one layout: the number
// of entries, then per entry the key (the backend's key codec) and the
// value, whose encoding is the state kind's own.

// valueAppender appends the encoding of one entry's value.
type valueAppender[V any] interface {
	Append(dst []byte, v V) []byte
}

// freezeEntries returns the section writer of a state kept in a cowMap,
// reading the frozen version root. The entry count is checked against the
// entries found: a mismatch would write a section no restore can read, so
// it fails the snapshot instead, naming the state and key group.
func freezeEntries[K comparable, V any](name string, root *mapRoot[K, V], written *int64, rng KeyGroupRange, kc Codec[K], vc valueAppender[V]) sectionWriter {
	return func(dst []byte, idx int) []byte {
		t := root.tabs[idx]
		if t == nil || t.n == 0 {
			return dst
		}
		*written += int64(t.n)
		return appendEntries(dst, t, name, rng.Start+idx, kc, vc)
	}
}

// appendEntries appends the count and entries of table t, of key group kg
// of the named state.
func appendEntries[K comparable, V any](dst []byte, t *table[K, V], name string, kg int, kc Codec[K], vc valueAppender[V]) []byte {
	dst = binary.AppendUvarint(dst, uint64(t.n))
	found := 0
	t.eachPage(func(p *page[K, V]) {
		for gi := range p.groups {
			g := &p.groups[gi]
			for m := matchFull(g.ctrl); m != 0; m &= m - 1 {
				sl := &g.slots[bits.TrailingZeros64(m)>>3]
				dst = kc.Append(dst, sl.k)
				dst = vc.Append(dst, sl.v)
				found++
			}
		}
	})
	if found != t.n {
		panic(encodeError{fmt.Errorf("state: internal error: state %q key group %d holds %d entries, its table counts %d",
			name, kg, found, t.n)})
	}
	return dst
}

// freezeState returns the full (base 0) or incremental section writer of a
// state kept in a cowMap.
func freezeState[K comparable, V any](name string, m *cowMap[K, V], base uint64, written *int64, rng KeyGroupRange, kc Codec[K], vc valueAppender[V]) sectionWriter {
	if base > 0 {
		return freezeDeltaEntries(m, base, written, kc, vc)
	}
	return freezeEntries(name, m.root, written, rng, kc, vc)
}

// restoreEntries adds the entries of a section written by freezeEntries
// to key group index idx of m; decode reads one value.
func restoreEntries[K comparable, V any](b *KeyedBackend[K], m *cowMap[K, V], idx int, data []byte, decode func(d *sectionDecoder[K]) V) error {
	d := sectionDecoder[K]{b: b, idx: idx, Decoder: wire.NewDecoder(data)}
	n := d.count()
	m.reserve(idx, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		k, h := d.key()
		v := decode(&d)
		if d.Err() != nil {
			break
		}
		c, inserted := m.upsert(idx, k, h)
		if !inserted {
			d.fail("duplicate key")
			break
		}
		c.slot.v = v
	}
	return d.finish()
}
