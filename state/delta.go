package state

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"

	"github.com/sluicehq/sluice/internal/wire"
)

// Incremental snapshots.
//
// An incremental snapshot holds, per state and key group, only what
// changed since the previous incremental snapshot of the backend (its
// base). It copies the changed entries out of the pages when it is taken
// (deltaCapture), so processing goes on writing pages in place while the
// snapshot is written. Changes are found without scanning entries:
//
//   - A node (a state's root, a key group's table, a page) may be written
//     in place only while it carries the current epoch: the first write
//     after a snapshot goes through mutRoot, mutTable or mutPage, which
//     copy the node if a live snapshot may read it and stamp it otherwise.
//     So a node whose epoch is at most the base snapshot's epoch has not
//     changed since the base.
//   - A page records which of its slots were written (dirty, one bit per
//     slot) and whether an entry was deleted, since the base. mutPage
//     clears these records when it stamps a page last stamped no later
//     than the base; a page split or compacted passes them on to its
//     successors.
//
// A delta section of a key group lists hash ranges to clear, then entries
// to insert or replace (a key group emptied since the base has a new,
// empty table, written as one range covering all hashes):
//
//	nranges    uvarint
//	nranges times:
//	  depth    byte      the range is every hash whose top depth bits
//	  prefix   uvarint   equal prefix (depth 0: all hashes)
//	count      uvarint
//	entries    count times (key, value) as in a full section
//
// A changed page with a deletion is written whole, with its range to
// clear; a changed page without is written as its dirty entries only. A
// key group's new table (it was empty) is written whole. A state or key
// group without a delta section is unchanged. Restoring applies the full
// snapshot and then each delta in order (restoreDeltaEntries).

// hashRange is the set of hashes whose top depth bits equal prefix.
type hashRange struct {
	depth  uint8
	prefix uint64
}

func (r hashRange) contains(h uint64) bool {
	return r.depth == 0 || h>>(64-r.depth) == r.prefix
}

// deltaCapture is the changes of one state's cowMap since a base, copied
// out of the pages when the snapshot is taken: per changed key group its
// ranges to clear and its entries. Copying entries (a key and a value,
// not what the value refers to) costs time in proportion to the changes,
// and spares the pages from being preserved while the snapshot is
// written: only the values the entries refer to stay pinned.
type deltaCapture[K comparable, V any] struct {
	groups []capturedGroup // by ascending key group index
	ranges []hashRange
	slots  []slot[K, V]
}

// capturedGroup is one changed key group of a deltaCapture: its ranges and
// slots end at these offsets (they start where the previous group's end).
type capturedGroup struct {
	idx           int
	ranges, slots int
}

// captureDelta copies the changes of every key group of m since epoch
// base, or returns nil if m has not changed since. It reuses the buffers of
// an earlier capture that was written (recycle).
func (m *cowMap[K, V]) captureDelta(base uint64) *deltaCapture[K, V] {
	root := m.root
	if root.epoch <= base {
		return nil
	}
	c := m.spare.Swap(nil)
	if c == nil {
		c = &deltaCapture[K, V]{}
	}
	for idx, t := range root.tabs {
		if t != nil && t.epoch > base {
			c.add(idx, t, base)
		}
	}
	return c
}

// recycle keeps the buffers of c for m's next capture once key group index
// idx, the last one (last), is written: WriteTo encodes each key group
// once, in order. It keeps none much larger than c needed (the changes of
// a state being filled are larger than those of its steady state). c may
// be nil.
func (m *cowMap[K, V]) recycle(c *deltaCapture[K, V], idx, last int) {
	if c == nil || idx != last || cap(c.slots) > 4*len(c.slots)+1024 {
		return
	}
	clear(c.slots) // drop references for the GC
	c.groups, c.ranges, c.slots = c.groups[:0], c.ranges[:0], c.slots[:0]
	m.spare.Store(c)
}

// add captures the changes of table t (key group index idx) since base. A
// changed chain with a deletion is captured whole, with its range to
// clear; a changed chain without, as its dirty entries only.
func (c *deltaCapture[K, V]) add(idx int, t *table[K, V], base uint64) {
	var last *page[K, V]
	for di, de := range t.dir {
		if de.p == last {
			continue
		}
		last = de.p
		if de.epoch <= base {
			continue
		}
		whole := false
		for p := de.p; ; p = t.chain[p] {
			whole = whole || p.deleted
			if !p.chained {
				break
			}
		}
		if whole {
			c.ranges = append(c.ranges, hashRange{de.p.depth, uint64(di) >> (t.depth - de.p.depth)})
		}
		for p := de.p; ; p = t.chain[p] {
			// Without a deletion since the base, every slot written is
			// still full.
			sel := p.dirty
			if whole {
				sel = p.fullMask()
			}
			for ; sel != 0; sel &= sel - 1 {
				i := bits.TrailingZeros64(sel)
				c.slots = append(c.slots, p.groups[i/groupSlots].slots[i%groupSlots])
			}
			if !p.chained {
				break
			}
		}
	}
	c.groups = append(c.groups, capturedGroup{idx: idx, ranges: len(c.ranges), slots: len(c.slots)})
}

// group returns the ranges and entries captured for key group index idx;
// ok is false if the key group has not changed.
func (c *deltaCapture[K, V]) group(idx int) (rs []hashRange, ss []slot[K, V], ok bool) {
	if c == nil {
		return nil, nil, false
	}
	i, found := slices.BinarySearchFunc(c.groups, idx, func(g capturedGroup, idx int) int { return cmp.Compare(g.idx, idx) })
	if !found {
		return nil, nil, false
	}
	r0, s0 := 0, 0
	if i > 0 {
		r0, s0 = c.groups[i-1].ranges, c.groups[i-1].slots
	}
	g := c.groups[i]
	return c.ranges[r0:g.ranges], c.slots[s0:g.slots], true
}

// appendDelta appends the delta section of key group index idx, empty (no
// ranges, no entries) if it has not changed.
func (c *deltaCapture[K, V]) appendDelta(dst []byte, idx int, written *int64, kc Codec[K], vc valueAppender[V]) []byte {
	rs, ss, _ := c.group(idx)
	dst = binary.AppendUvarint(dst, uint64(len(rs)))
	for _, r := range rs {
		dst = append(dst, r.depth)
		dst = binary.AppendUvarint(dst, r.prefix)
	}
	dst = binary.AppendUvarint(dst, uint64(len(ss)))
	*written += int64(len(ss))
	for i := range ss {
		dst = kc.Append(dst, ss[i].k)
		dst = vc.Append(dst, ss[i].v)
	}
	return dst
}

// fullMask returns a bit per full slot, bit gi*8+si as in dirty.
func (p *page[K, V]) fullMask() uint64 {
	var m uint64
	for gi := range p.groups {
		for f := matchFull(p.groups[gi].ctrl); f != 0; f &= f - 1 {
			m |= 1 << (gi*groupSlots + bits.TrailingZeros64(f)>>3)
		}
	}
	return m
}

// freezeDeltaEntries is freezeEntries for an incremental snapshot: it
// captures the changes of m since epoch base and returns their section
// writer, or nil if the state has not changed at all.
func freezeDeltaEntries[K comparable, V any](m *cowMap[K, V], base uint64, written *int64, kc Codec[K], vc valueAppender[V]) sectionWriter {
	c := m.captureDelta(base)
	if c == nil {
		return nil
	}
	last := len(m.root.tabs) - 1
	return func(dst []byte, idx int) []byte {
		if _, _, ok := c.group(idx); ok {
			dst = c.appendDelta(dst, idx, written, kc, vc)
		}
		m.recycle(c, idx, last)
		return dst
	}
}

// ranges reads the ranges of a delta section.
func (d *sectionDecoder[K]) ranges() []hashRange {
	n := d.count()
	var rs []hashRange
	for i := 0; i < n && d.Err() == nil; i++ {
		depth := d.Byte("range depth")
		x := d.Uvarint("range prefix")
		if d.Err() != nil {
			break
		}
		if depth > maxDepth || depth == 0 && x != 0 || depth > 0 && depth < 64 && x>>depth != 0 {
			d.fail("range prefix %#x of depth %d", x, depth)
			break
		}
		rs = append(rs, hashRange{depth, x})
	}
	return rs
}

// removeRanges deletes the entries of key group index idx whose hash is in
// one of rs, calling drop (if not nil) with each value removed.
func (m *cowMap[K, V]) removeRanges(idx int, rs []hashRange, drop func(V)) {
	t := m.root.tabs[idx]
	if t == nil || len(rs) == 0 {
		return
	}
	type kh struct {
		k K
		h uint64
	}
	var gone []kh
	t.each(func(s *slot[K, V]) bool {
		h := m.hash(s.k)
		for _, r := range rs {
			if r.contains(h) {
				gone = append(gone, kh{s.k, h})
				if drop != nil {
					drop(s.v)
				}
				break
			}
		}
		return true
	})
	for _, e := range gone {
		m.remove(idx, e.k, e.h)
	}
}

// restoreDeltaEntries applies a delta section written by
// freezeDeltaEntries to key group index idx of m.
func restoreDeltaEntries[K comparable, V any](b *KeyedBackend[K], m *cowMap[K, V], idx int, data []byte, decode func(d *sectionDecoder[K]) V) error {
	d := sectionDecoder[K]{b: b, idx: idx, Decoder: wire.NewDecoder(data)}
	applyDelta(&d, m, idx, decode, nil, nil)
	return d.finish()
}

// applyDelta reads one delta of m from d and applies it: drop is called
// with every value removed or replaced, put with every value stored.
func applyDelta[K comparable, V any](d *sectionDecoder[K], m *cowMap[K, V], idx int, decode func(d *sectionDecoder[K]) V, drop func(V), put func(K, uint64, V)) {
	rs := d.ranges()
	if d.Err() != nil {
		return
	}
	m.removeRanges(idx, rs, drop)
	n := d.count()
	for i := 0; i < n && d.Err() == nil; i++ {
		k, h := d.key()
		v := decode(d)
		if d.Err() != nil {
			break
		}
		c, inserted := m.upsert(idx, k, h)
		if !inserted && drop != nil {
			drop(c.slot.v)
		}
		c.slot.v = v
		if put != nil {
			put(k, h, v)
		}
	}
}

// sectionForm is the first byte of a section in a version 2 file.
type sectionForm byte

const (
	formFull  sectionForm = 0
	formDelta sectionForm = 1
)

// pendingSection is one encoded section of restored state, applied in
// order: a full section to an empty key group, a delta on top.
type pendingSection struct {
	delta bool
	data  []byte
}

func (f sectionForm) String() string {
	switch f {
	case formFull:
		return "full"
	case formDelta:
		return "delta"
	}
	return fmt.Sprintf("section form %d", byte(f))
}
