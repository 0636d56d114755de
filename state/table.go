package state

import (
	"maps"
	"math/bits"
	"slices"
	"sync/atomic"
	"unsafe"
)

// cowMap is the copy-on-write hash map behind every keyed state: for each
// key group of the backend's range a table from key to V.
//
// A table is an extendible hash table: a directory indexed by the top bits
// of the key hash points to pages of 64 slots (8 groups of 8, probed with
// SWAR matching of 7-bit hash tags as in Swiss tables). A full page splits
// into two, doubling the directory when needed, so no operation ever
// rehashes a whole table. Pages are the unit of copy-on-write: writing a
// key whose page is pinned by a live snapshot copies that page only (about
// 1 KiB for int64 keys and values), and splitting never writes the old
// page. See epoch.go.
//
// Bits of the 64-bit key hash: the low 15 select the key group (see
// KeyGroupOf), bits 16-22 are the slot tag, bits 24-26 the first group to
// probe, and the top maxDepth bits index the directory.
type cowMap[K comparable, V any] struct {
	root *mapRoot[K, V]
	v    *versions
	hash func(K) uint64
	// spare is the buffers of a written incremental snapshot's capture,
	// for the next one (see delta.go).
	spare *atomic.Pointer[deltaCapture[K, V]]
}

type mapRoot[K comparable, V any] struct {
	epoch uint64
	tabs  []*table[K, V] // by key group - range start; nil when empty
}

type table[K comparable, V any] struct {
	epoch uint64
	depth uint8 // global depth: len(dir) == 1<<depth
	shift uint8 // 64 - depth
	n     int   // entries
	pages int   // distinct page chains
	dir   []dirent[K, V]
	// chain links full pages that cannot split (maximum depth reached, or
	// the directory would grow out of proportion: adversarial hashes) to
	// their overflow page. Almost always nil.
	chain map[*page[K, V]]*page[K, V]
}

// dirent is a directory entry. The page's epoch lives here, beside the
// pointer, so that checking whether a page may be written costs no extra
// cache miss.
type dirent[K comparable, V any] struct {
	p     *page[K, V]
	epoch uint64
}

const (
	groupSlots = 8
	pageGroups = 8
	pageSlots  = groupSlots * pageGroups
	maxLoad    = pageSlots * 7 / 8 // live + deleted slots before a page splits
	maxDepth   = 32
	// A directory may double while it is smaller than minDirCap entries or
	// than dirPerPage entries per page.
	minDirCap  = 1024
	dirPerPage = 16

	// Control bytes: a full slot holds 0x80 | a 7-bit tag of the hash. Empty
	// is 0 so that a freshly allocated page is empty without being touched.
	ctrlEmpty   = 0x00
	ctrlDeleted = 0x01
	bitsetLSB   = 0x0101010101010101
	bitsetMSB   = 0x8080808080808080
	bitsetLow7  = 0x7f7f7f7f7f7f7f7f
)

type slot[K comparable, V any] struct {
	k K
	v V
}

type group[K comparable, V any] struct {
	ctrl  uint64 // one control byte per slot: empty, deleted, or 7-bit tag
	slots [groupSlots]slot[K, V]
}

type page[K comparable, V any] struct {
	n       uint8 // live entries
	dead    uint8 // deleted slots
	depth   uint8 // local depth
	chained bool  // table.chain has an overflow page for this page
	// Changes since the last incremental snapshot (see delta.go): dirty
	// has bit gi*8+si set for each slot written, deleted is set once an
	// entry was deleted. Valid while the page's directory epoch is above
	// versions.snapEpoch; mutPage clears them otherwise.
	deleted bool
	dirty   uint64
	groups  [pageGroups]group[K, V]
}

func tag(h uint64) uint8      { return uint8(h>>16) | 0x80 }
func firstGroup(h uint64) int { return int(h>>24) & (pageGroups - 1) }

// matchTag returns the high bit of each byte of ctrl equal to t, and may
// return a false positive above a true one (the key comparison settles it).
func matchTag(ctrl uint64, t uint8) uint64 {
	v := ctrl ^ (bitsetLSB * uint64(t))
	return ((v - bitsetLSB) &^ v) & bitsetMSB
}

// matchEmpty is exact: a false empty would end a probe too early.
func matchEmpty(ctrl uint64) uint64 {
	return ^(((ctrl & bitsetLow7) + bitsetLow7) | ctrl) & bitsetMSB
}

func matchEmptyOrDeleted(ctrl uint64) uint64 { return ^ctrl & bitsetMSB }
func matchFull(ctrl uint64) uint64           { return ctrl & bitsetMSB }

func (g *group[K, V]) setCtrl(i int, c uint8) {
	sh := uint(i) * 8
	g.ctrl = g.ctrl&^(0xff<<sh) | uint64(c)<<sh
}

func newPage[K comparable, V any](depth uint8) *page[K, V] {
	p := new(page[K, V]) // zeroed: all slots empty
	p.depth = depth
	return p
}

// group returns group gi of p. Writing &p.groups[gi] instead would make
// the compiler test p for nil by loading the page header, a cache line a
// lookup has no other use for: on a large state every line counts.
func (p *page[K, V]) group(gi int) *group[K, V] {
	return (*group[K, V])(unsafe.Add(unsafe.Pointer(p), unsafe.Offsetof(p.groups)+uintptr(gi)*unsafe.Sizeof(p.groups[0])))
}

// find returns the group and slot index of k, or -1. It touches only the
// groups it probes.
func (p *page[K, V]) find(k K, h uint64) (int, int) {
	t, gi := tag(h), firstGroup(h)
	for range pageGroups {
		g := p.group(gi)
		for m := matchTag(g.ctrl, t); m != 0; m &= m - 1 {
			i := bits.TrailingZeros64(m) >> 3
			if g.slots[i].k == k {
				return gi, i
			}
		}
		if matchEmpty(g.ctrl) != 0 {
			return -1, -1
		}
		gi = (gi + 1) & (pageGroups - 1)
	}
	return -1, -1
}

// insertNew adds k, known to be absent, with a zero value, and returns its
// slot and the slot's dirty bit. The page must have fewer than pageSlots
// live entries.
func (p *page[K, V]) insertNew(k K, h uint64) (*slot[K, V], uint64) {
	gi := firstGroup(h)
	for {
		g := &p.groups[gi]
		if m := matchEmptyOrDeleted(g.ctrl); m != 0 {
			i := bits.TrailingZeros64(m) >> 3
			if uint8(g.ctrl>>(uint(i)*8)) == ctrlDeleted {
				p.dead--
			}
			g.setCtrl(i, tag(h))
			p.n++
			s := &g.slots[i]
			s.k = k
			var zero V
			s.v = zero
			return s, 1 << (gi*groupSlots + i)
		}
		gi = (gi + 1) & (pageGroups - 1)
	}
}

func (p *page[K, V]) deleteAt(gi, i int) {
	g := &p.groups[gi]
	// A group that has an empty slot never was full, so no probe sequence
	// runs past it: the slot can become empty rather than a tombstone.
	if matchEmpty(g.ctrl) != 0 {
		g.setCtrl(i, ctrlEmpty)
	} else {
		g.setCtrl(i, ctrlDeleted)
		p.dead++
	}
	p.n--
	p.deleted = true
	g.slots[i] = slot[K, V]{} // drop references for the GC
}

// eachBit calls f for every entry of the page with its dirty bit.
func (p *page[K, V]) eachBit(f func(s *slot[K, V], bit uint64)) {
	for gi := range p.groups {
		g := &p.groups[gi]
		for m := matchFull(g.ctrl); m != 0; m &= m - 1 {
			i := bits.TrailingZeros64(m) >> 3
			f(&g.slots[i], 1<<(gi*groupSlots+i))
		}
	}
}

// each calls f for every entry of the page until f returns false.
func (p *page[K, V]) each(f func(*slot[K, V]) bool) bool {
	for gi := range p.groups {
		g := &p.groups[gi]
		for m := matchFull(g.ctrl); m != 0; m &= m - 1 {
			if !f(&g.slots[bits.TrailingZeros64(m)>>3]) {
				return false
			}
		}
	}
	return true
}

func newTable[K comparable, V any](epoch uint64, depth uint8) *table[K, V] {
	t := &table[K, V]{epoch: epoch, depth: depth, shift: 64 - depth, pages: 1 << depth}
	t.dir = make([]dirent[K, V], 1<<depth)
	for i := range t.dir {
		p := newPage[K, V](depth)
		// A key group's table is new when it was empty, or emptied since
		// the last incremental snapshot: write it whole (see delta.go).
		p.deleted = true
		t.dir[i] = dirent[K, V]{p: p, epoch: epoch}
	}
	return t
}

func (t *table[K, V]) clone(epoch uint64) *table[K, V] {
	c := *t
	c.epoch = epoch
	c.dir = slices.Clone(t.dir)
	if t.chain != nil {
		c.chain = maps.Clone(t.chain)
	}
	return &c
}

// lookup finds k: the directory index, the position of the page in its
// chain, and the group and slot; gi is -1 if k is absent.
func (t *table[K, V]) lookup(k K, h uint64) (di, ci, gi, si int) {
	di = int(h >> t.shift)
	p := t.dir[di].p
	for ci = 0; ; ci++ {
		if gi, si = p.find(k, h); gi >= 0 || !p.chained {
			return di, ci, gi, si
		}
		p = t.chain[p]
	}
}

// pageSpan returns the directory entries [lo, hi) that point at the page of
// local depth d found at index di.
func (t *table[K, V]) pageSpan(di int, d uint8) (lo, hi int) {
	w := 1 << (t.depth - d)
	lo = di &^ (w - 1)
	return lo, lo + w
}

// eachPage calls f for every page of the table.
func (t *table[K, V]) eachPage(f func(*page[K, V])) {
	var last *page[K, V]
	for _, de := range t.dir {
		if de.p == last {
			continue
		}
		last = de.p
		for p := de.p; ; p = t.chain[p] {
			f(p)
			if !p.chained {
				break
			}
		}
	}
}

// each calls f for every entry of the table until f returns false.
func (t *table[K, V]) each(f func(*slot[K, V]) bool) bool {
	var last *page[K, V]
	for _, de := range t.dir {
		if de.p == last {
			continue
		}
		last = de.p
		for p := de.p; ; p = t.chain[p] {
			if !p.each(f) {
				return false
			}
			if !p.chained {
				break
			}
		}
	}
	return true
}

func newCowMap[K comparable, V any](v *versions, hash func(K) uint64, groups int) cowMap[K, V] {
	return cowMap[K, V]{
		root:  &mapRoot[K, V]{epoch: v.cur, tabs: make([]*table[K, V], groups)},
		v:     v,
		hash:  hash,
		spare: new(atomic.Pointer[deltaCapture[K, V]]),
	}
}

// cursor is where a state handle found the current key's entry: the slot
// (nil if absent) and, if the slot may be written in place, its page and
// dirty bit. A write through a cursor must call touch.
type cursor[K comparable, V any] struct {
	slot *slot[K, V]
	page *page[K, V] // nil: write through upsert instead
	bit  uint64
}

func (c *cursor[K, V]) writable() bool { return c.page != nil }

// touch records the write of the slot for incremental snapshots.
func (c *cursor[K, V]) touch() { c.page.dirty |= c.bit }

// get returns the cursor of k in key group index idx. The slot may be
// written in place only if its page was stamped in the current epoch (a
// false negative only costs a slow path): the first write to a page after
// a snapshot goes through mutPage, which copies or stamps it, so that a
// page's directory epoch tells whether it changed since a snapshot.
func (m *cowMap[K, V]) get(idx int, k K, h uint64) cursor[K, V] {
	t := m.root.tabs[idx]
	if t == nil {
		return cursor[K, V]{}
	}
	de := &t.dir[h>>t.shift]
	p := de.p
	gi, si := p.find(k, h)
	for gi < 0 && p.chained {
		p = t.chain[p]
		gi, si = p.find(k, h)
	}
	if gi < 0 {
		return cursor[K, V]{}
	}
	c := cursor[K, V]{slot: &p.group(gi).slots[si]}
	if de.epoch == m.v.cur {
		c.page, c.bit = p, 1<<(gi*groupSlots+si)
	}
	return c
}

// mutRoot returns the writable root, stamped with the current epoch.
func (m *cowMap[K, V]) mutRoot() *mapRoot[K, V] {
	r := m.root
	switch {
	case r.epoch == m.v.cur:
	case m.v.sharedRoot(r.epoch):
		r = &mapRoot[K, V]{epoch: m.v.cur, tabs: slices.Clone(r.tabs)}
		m.v.copied.bytes += int64(len(r.tabs)) * int64(unsafe.Sizeof(r))
		m.root = r
	default:
		r.epoch = m.v.cur
	}
	return r
}

// mutTable returns a writable table for key group index idx, creating it
// if it does not exist.
func (m *cowMap[K, V]) mutTable(idx int) *table[K, V] {
	r := m.mutRoot()
	t := r.tabs[idx]
	switch {
	case t == nil:
		t = newTable[K, V](m.v.cur, 0)
		r.tabs[idx] = t
	case t.epoch == m.v.cur:
	case m.v.shared(t.epoch, idx):
		t = t.clone(m.v.cur)
		m.v.copied.bytes += int64(len(t.dir)) * int64(unsafe.Sizeof(t.dir[0]))
		r.tabs[idx] = t
	default:
		t.epoch = m.v.cur
	}
	return t
}

// mutPage returns the writable head page of the chain at directory index
// di of the writable table t of key group index idx, copying the chain if
// a snapshot may see it.
//
// The page comes back stamped with the current epoch. Its change records
// (dirty, deleted) are cleared if it was last stamped no later than the
// last incremental snapshot, which has recorded its changes.
func (m *cowMap[K, V]) mutPage(t *table[K, V], idx, di int) *page[K, V] {
	de := t.dir[di]
	if de.epoch == m.v.cur {
		return de.p
	}
	reset := de.epoch <= m.v.snapEpoch
	if !m.v.shared(de.epoch, idx) {
		for p := de.p; ; p = t.chain[p] {
			if reset {
				p.dirty, p.deleted = 0, false
			}
			if !p.chained {
				break
			}
		}
		lo, hi := t.pageSpan(di, de.p.depth)
		for j := lo; j < hi; j++ {
			t.dir[j].epoch = m.v.cur
		}
		return de.p
	}
	np := new(page[K, V])
	*np = *de.p
	m.v.copied.pages++
	m.v.copied.bytes += int64(unsafe.Sizeof(*np))
	for prev, old := np, de.p; old.chained; {
		next := t.chain[old]
		delete(t.chain, old)
		c := new(page[K, V])
		*c = *next
		t.chain[prev] = c
		prev, old = c, next
	}
	if reset {
		for p := np; ; p = t.chain[p] {
			p.dirty, p.deleted = 0, false
			if !p.chained {
				break
			}
		}
	}
	lo, hi := t.pageSpan(di, np.depth)
	for j := lo; j < hi; j++ {
		t.dir[j] = dirent[K, V]{p: np, epoch: m.v.cur}
	}
	return np
}

func (t *table[K, V]) chainAt(p *page[K, V], ci int) *page[K, V] {
	for ; ci > 0; ci-- {
		p = t.chain[p]
	}
	return p
}

// upsert returns the writable cursor of k in key group index idx,
// inserting k with a zero value if it is absent. The write is recorded
// (touch) already.
func (m *cowMap[K, V]) upsert(idx int, k K, h uint64) (c cursor[K, V], inserted bool) {
	t := m.mutTable(idx)
	for {
		di, ci, gi, si := t.lookup(k, h)
		if gi >= 0 {
			p := t.chainAt(m.mutPage(t, idx, di), ci)
			c = cursor[K, V]{slot: &p.groups[gi].slots[si], page: p, bit: 1 << (gi*groupSlots + si)}
			c.touch()
			return c, false
		}
		p := t.dir[di].p
		if p.n+p.dead >= maxLoad && !p.chained && m.makeRoom(t, di) {
			continue
		}
		p = m.mutPage(t, idx, di)
		for p.n >= maxLoad && p.chained {
			p = t.chain[p]
		}
		if p.n >= maxLoad {
			np := newPage[K, V](p.depth)
			if t.chain == nil {
				t.chain = make(map[*page[K, V]]*page[K, V])
			}
			p.chained = true
			t.chain[p] = np
			p = np
		}
		t.n++
		s, bit := p.insertNew(k, h)
		p.dirty |= bit
		return cursor[K, V]{slot: s, page: p, bit: bit}, true
	}
}

// makeRoom replaces the full page at directory index di of the writable
// table t: by a copy without tombstones if it has many, else by two pages
// of the next depth. It reports false if the page cannot split.
func (m *cowMap[K, V]) makeRoom(t *table[K, V], di int) bool {
	old := t.dir[di].p
	// The new pages carry the old page's change records, if valid.
	var oldDirty uint64
	var deleted bool
	if t.dir[di].epoch > m.v.snapEpoch {
		oldDirty, deleted = old.dirty, old.deleted
	}
	move := func(dst *page[K, V], s *slot[K, V], h uint64, bit uint64) {
		ns, nb := dst.insertNew(s.k, h)
		ns.v = s.v
		if oldDirty&bit != 0 {
			dst.dirty |= nb
		}
		dst.deleted = dst.deleted || deleted
	}
	if old.dead >= maxLoad/4 {
		np := newPage[K, V](old.depth)
		old.eachBit(func(s *slot[K, V], bit uint64) {
			move(np, s, m.hash(s.k), bit)
		})
		lo, hi := t.pageSpan(di, old.depth)
		for j := lo; j < hi; j++ {
			t.dir[j] = dirent[K, V]{p: np, epoch: m.v.cur}
		}
		return true
	}
	d := old.depth
	if d >= maxDepth {
		return false
	}
	if d == t.depth {
		if len(t.dir) >= minDirCap && len(t.dir) >= dirPerPage*t.pages {
			return false
		}
		nd := make([]dirent[K, V], 2*len(t.dir))
		for j := range nd {
			nd[j] = t.dir[j>>1]
		}
		t.dir = nd
		t.depth++
		t.shift--
		di <<= 1 // the low bit selects the new half: 0 for this page
	}
	p0, p1 := newPage[K, V](d+1), newPage[K, V](d+1)
	bit := uint64(1) << (63 - d)
	old.eachBit(func(s *slot[K, V], sb uint64) {
		h := m.hash(s.k)
		dst := p0
		if h&bit != 0 {
			dst = p1
		}
		move(dst, s, h, sb)
	})
	lo, hi := t.pageSpan(di, d)
	mid := lo + (hi-lo)/2
	for j := lo; j < hi; j++ {
		p := p0
		if j >= mid {
			p = p1
		}
		t.dir[j] = dirent[K, V]{p: p, epoch: m.v.cur}
	}
	t.pages++
	return true
}

// remove deletes k from key group index idx and reports whether it was
// present.
func (m *cowMap[K, V]) remove(idx int, k K, h uint64) bool {
	t := m.root.tabs[idx]
	if t == nil {
		return false
	}
	if _, _, gi, _ := t.lookup(k, h); gi < 0 {
		return false
	}
	t = m.mutTable(idx)
	di, ci, gi, si := t.lookup(k, h)
	t.chainAt(m.mutPage(t, idx, di), ci).deleteAt(gi, si)
	t.n--
	if t.n == 0 {
		// Free the pages, but keep an empty table: an incremental snapshot
		// tells from it that the key group was emptied (a new table is
		// written whole, clearing the key group; see delta.go), while a
		// missing table is one that never had entries.
		m.root.tabs[idx] = newTable[K, V](m.v.cur, 0) // m.root is writable: mutTable made it so
	}
	return true
}

// reserve prepares an empty key group index idx for about n entries, so a
// restore does not split pages over and over.
func (m *cowMap[K, V]) reserve(idx int, n int) {
	r := m.mutRoot()
	if t := r.tabs[idx]; t != nil && t.n > 0 || n <= maxLoad {
		return
	}
	// Aim at 48 entries a page: the pages fill to a little over half on
	// average (as splitting would leave them), and few overflow and split.
	d := uint8(0)
	for (pageSlots*3/4)<<d < n && d < 20 {
		d++
	}
	r.tabs[idx] = newTable[K, V](m.v.cur, d)
}

// total returns the number of entries in all key groups.
func (m *cowMap[K, V]) total() int64 {
	var n int64
	for _, t := range m.root.tabs {
		if t != nil {
			n += int64(t.n)
		}
	}
	return n
}

// len returns the number of entries in key group index idx.
func (m *cowMap[K, V]) len(idx int) int {
	if t := m.root.tabs[idx]; t != nil {
		return t.n
	}
	return 0
}
