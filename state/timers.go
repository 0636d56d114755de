package state

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/sluicehq/sluice/internal/wire"
)

// Timers is a keyed timer service: event-time and processing-time timers
// per key and namespace N (a window, say; struct{} when there is none). A
// timer is identified by (key, namespace, timestamp): registering it twice
// makes one timer. Timers are part of the backend's snapshots, stored with
// the key group of their key, and are restored with it.
//
// The timers of each key live in a copy-on-write table like keyed state
// (the truth, snapshotted); a heap per time domain orders them for firing
// and is rebuilt on restore. Deleting a timer leaves its heap entry behind,
// to be skipped when it surfaces; the heap is compacted when such entries
// outnumber live timers. Timers with equal timestamps fire in the order
// they were registered (after a restore: the order they were restored in).
//
// Like the backend, Timers is used from the backend's processing goroutine
// only.
type Timers[K comparable, N comparable] struct {
	b     *KeyedBackend[K]
	nm    string
	nc    Codec[N]
	event timerQueue[K, N]
	proc  timerQueue[K, N]
	seq   uint64 // registration counter: orders timers of equal timestamp
}

// NewTimers returns the timer service registered with b under name,
// registering it on first use; nc encodes namespaces in snapshots (nil
// means DefaultCodec[N]()). Asking again for the same name returns the same
// service; the name must not be used by a keyed state or by timers of
// another namespace type (ErrStateMismatch).
func NewTimers[K comparable, N comparable](b *KeyedBackend[K], name string, nc Codec[N]) (*Timers[K, N], error) {
	return register(b, name, kindTimers, func() *Timers[K, N] {
		if nc == nil {
			nc = DefaultCodec[N]()
		}
		t := &Timers[K, N]{b: b, nm: name, nc: nc}
		t.event.m = newCowMap[K, timerSet[N]](b.v, b.hash, b.rng.Len())
		t.proc.m = newCowMap[K, timerSet[N]](b.v, b.hash, b.rng.Len())
		return t
	})
}

// RegisterEventTime registers an event-time timer at ts for the current key.
func (t *Timers[K, N]) RegisterEventTime(ns N, ts int64) { t.register(&t.event, ns, ts) }

// DeleteEventTime deletes the event-time timer at ts of the current key, if any.
func (t *Timers[K, N]) DeleteEventTime(ns N, ts int64) { t.event.delete(t.b, ns, ts) }

// RegisterProcessingTime registers a processing-time timer at ts for the
// current key.
func (t *Timers[K, N]) RegisterProcessingTime(ns N, ts int64) { t.register(&t.proc, ns, ts) }

// DeleteProcessingTime deletes the processing-time timer at ts of the
// current key, if any.
func (t *Timers[K, N]) DeleteProcessingTime(ns N, ts int64) { t.proc.delete(t.b, ns, ts) }

// NumEventTimers returns the number of event-time timers.
func (t *Timers[K, N]) NumEventTimers() int { return t.event.count }

// NumProcessingTimers returns the number of processing-time timers.
func (t *Timers[K, N]) NumProcessingTimers() int { return t.proc.count }

// AdvanceWatermark fires, in timestamp order, every event-time timer with
// a timestamp at most wm, including timers that fire registers at most wm.
// Each timer is removed, and its key made the backend's current key, before
// fire is called with it. An error from fire stops the advance and is
// returned, wrapped; the remaining timers stay registered.
func (t *Timers[K, N]) AdvanceWatermark(wm int64, fire func(key K, ns N, ts int64) error) error {
	if err := t.event.advance(t.b, wm, fire); err != nil {
		return fmt.Errorf("timers %q: event-time timer: %w", t.nm, err)
	}
	return nil
}

// NextProcessingTime returns the timestamp of the earliest processing-time
// timer, and false if there is none.
func (t *Timers[K, N]) NextProcessingTime() (int64, bool) {
	if !t.proc.clean(t.b) {
		return 0, false
	}
	return t.proc.heap[0].ts, true
}

// AdvanceProcessingTime fires the processing-time timers with a timestamp
// at most now, as AdvanceWatermark does for event time.
func (t *Timers[K, N]) AdvanceProcessingTime(now int64, fire func(key K, ns N, ts int64) error) error {
	if err := t.proc.advance(t.b, now, fire); err != nil {
		return fmt.Errorf("timers %q: processing-time timer: %w", t.nm, err)
	}
	return nil
}

func (t *Timers[K, N]) register(q *timerQueue[K, N], ns N, ts int64) {
	t.seq++
	q.register(t.b, ns, ts, t.seq)
}

// timerID identifies a timer of a key.
type timerID[N comparable] struct {
	ns N
	ts int64
}

type timerEntry[N comparable] struct {
	timerID[N]
	seq uint64
}

// timerSet holds the timers of one key. list (and index) may be shared
// with snapshots when epoch is pinned; they are then copied before a
// change.
type timerSet[N comparable] struct {
	epoch uint64
	list  []timerEntry[N]
	index map[timerID[N]]int // position in list, once the list is long
}

// indexFrom is the list length from which a timer set keeps an index.
const indexFrom = 16

func (s *timerSet[N]) find(id timerID[N]) int {
	if s.index != nil {
		if i, ok := s.index[id]; ok {
			return i
		}
		return -1
	}
	for i := range s.list {
		if s.list[i].timerID == id {
			return i
		}
	}
	return -1
}

// writable makes s's list and index private to the current version.
func (s *timerSet[N]) writable(v *versions, idx int) {
	if s.list != nil && v.sharedValue(s.epoch, idx) {
		s.list = slices.Clone(s.list)
		if s.index != nil {
			s.index = maps.Clone(s.index)
		}
	}
	s.epoch = v.cur
}

func (s *timerSet[N]) add(e timerEntry[N]) {
	s.list = append(s.list, e)
	switch {
	case s.index != nil:
		s.index[e.timerID] = len(s.list) - 1
	case len(s.list) >= indexFrom:
		s.index = make(map[timerID[N]]int, len(s.list))
		for i, x := range s.list {
			s.index[x.timerID] = i
		}
	}
}

func (s *timerSet[N]) removeAt(i int) {
	last := len(s.list) - 1
	if s.index != nil {
		delete(s.index, s.list[i].timerID)
		if i != last {
			s.index[s.list[last].timerID] = i
		}
	}
	s.list[i] = s.list[last]
	s.list[last] = timerEntry[N]{}
	s.list = s.list[:last]
}

type heapItem[K comparable, N comparable] struct {
	ts  int64
	seq uint64
	h   uint64 // key hash
	key K
	ns  N
}

func (a *heapItem[K, N]) less(b *heapItem[K, N]) bool {
	return a.ts < b.ts || a.ts == b.ts && a.seq < b.seq
}

// timerQueue is one time domain of a Timers.
type timerQueue[K comparable, N comparable] struct {
	m     cowMap[K, timerSet[N]]
	heap  []heapItem[K, N] // min-heap by (ts, seq); may hold stale items
	count int              // live timers

	seq uint64
	cur cursor[K, timerSet[N]]
}

func (q *timerQueue[K, N]) current(b *KeyedBackend[K]) *slot[K, timerSet[N]] {
	if q.seq != b.seq {
		b.checkKey()
		q.cur = q.m.get(b.idx, b.key, b.keyHash)
		q.seq = b.seq
	}
	return q.cur.slot
}

func (q *timerQueue[K, N]) mutable(b *KeyedBackend[K]) *timerSet[N] {
	if q.seq != b.seq || !q.cur.writable() {
		b.checkKey()
		q.cur, _ = q.m.upsert(b.idx, b.key, b.keyHash)
		q.seq = b.seq
	} else {
		q.cur.touch()
	}
	s := &q.cur.slot.v
	s.writable(q.m.v, b.idx)
	return s
}

func (q *timerQueue[K, N]) register(b *KeyedBackend[K], ns N, ts int64, seq uint64) {
	id := timerID[N]{ns, ts}
	if sl := q.current(b); sl != nil && sl.v.find(id) >= 0 {
		return
	}
	q.mutable(b).add(timerEntry[N]{id, seq})
	q.count++
	q.push(heapItem[K, N]{ts: ts, seq: seq, h: b.keyHash, key: b.key, ns: ns})
	if len(q.heap) > 2*q.count+64 {
		q.compact(b)
	}
}

func (q *timerQueue[K, N]) delete(b *KeyedBackend[K], ns N, ts int64) {
	id := timerID[N]{ns, ts}
	sl := q.current(b)
	if sl == nil || sl.v.find(id) < 0 {
		return
	}
	s := q.mutable(b)
	s.removeAt(s.find(id))
	q.count--
	if len(s.list) == 0 {
		q.m.remove(b.idx, b.key, b.keyHash)
		q.cur = cursor[K, timerSet[N]]{}
	}
}

// valid reports whether the heap item is a registered timer.
func (q *timerQueue[K, N]) valid(b *KeyedBackend[K], it *heapItem[K, N]) (idx int, ok bool) {
	idx = b.keyGroup(it.h) - b.rng.Start
	sl := q.m.get(idx, it.key, it.h).slot
	if sl == nil {
		return idx, false
	}
	i := sl.v.find(timerID[N]{it.ns, it.ts})
	return idx, i >= 0 && sl.v.list[i].seq == it.seq
}

// clean drops stale items from the top of the heap and reports whether a
// timer is left.
func (q *timerQueue[K, N]) clean(b *KeyedBackend[K]) bool {
	for len(q.heap) > 0 {
		if _, ok := q.valid(b, &q.heap[0]); ok {
			return true
		}
		q.pop()
	}
	return false
}

func (q *timerQueue[K, N]) advance(b *KeyedBackend[K], limit int64, fire func(K, N, int64) error) error {
	for len(q.heap) > 0 && q.heap[0].ts <= limit {
		it := q.pop()
		idx, ok := q.valid(b, &it)
		if !ok {
			continue
		}
		b.setCurrentKeyHashed(it.key, it.h, idx)
		q.delete(b, it.ns, it.ts)
		if err := fire(it.key, it.ns, it.ts); err != nil {
			return fmt.Errorf("at %d: %w", it.ts, err)
		}
	}
	return nil
}

func (q *timerQueue[K, N]) push(it heapItem[K, N]) {
	q.heap = append(q.heap, it)
	h := q.heap
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].less(&h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *timerQueue[K, N]) pop() heapItem[K, N] {
	h := q.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = heapItem[K, N]{}
	q.heap = h[:last]
	q.down(0)
	return top
}

func (q *timerQueue[K, N]) down(i int) {
	h := q.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		c := l
		if r := l + 1; r < len(h) && h[r].less(&h[l]) {
			c = r
		}
		if !h[c].less(&h[i]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// compact rebuilds the heap from the live timers.
func (q *timerQueue[K, N]) compact(b *KeyedBackend[K]) {
	h := q.heap[:0]
	for _, tab := range q.m.root.tabs {
		if tab == nil {
			continue
		}
		tab.each(func(sl *slot[K, timerSet[N]]) bool {
			kh := b.hash(sl.k)
			for _, e := range sl.v.list {
				h = append(h, heapItem[K, N]{ts: e.ts, seq: e.seq, h: kh, key: sl.k, ns: e.ns})
			}
			return true
		})
	}
	clear(h[len(h):cap(h)])
	q.heap = h
	for i := len(h)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
}

func (t *Timers[K, N]) name() string    { return t.nm }
func (t *Timers[K, N]) kind() stateKind { return kindTimers }
func (t *Timers[K, N]) describe() string {
	return "timers with namespace " + typeName[N]()
}
func (t *Timers[K, N]) entries() int64 { return t.event.m.total() + t.proc.m.total() }

func (t *Timers[K, N]) empty(idx int) bool {
	return t.event.m.len(idx) == 0 && t.proc.m.len(idx) == 0
}

func (t *Timers[K, N]) keys() keyIterator[K] {
	ev, pr := t.event.m.root, t.proc.m.root
	return func(yield func(K) bool) {
		for _, tab := range ev.tabs {
			if tab != nil && !tab.each(func(s *slot[K, timerSet[N]]) bool { return yield(s.k) }) {
				return
			}
		}
		for idx, tab := range pr.tabs {
			if tab == nil {
				continue
			}
			et := ev.tabs[idx]
			ok := tab.each(func(s *slot[K, timerSet[N]]) bool {
				if et != nil {
					if _, _, gi, _ := et.lookup(s.k, t.b.hash(s.k)); gi >= 0 {
						return true
					}
				}
				return yield(s.k)
			})
			if !ok {
				return
			}
		}
	}
}

// Section: for event time, then processing time: a count of keys, then
// per key (key, count, count times (namespace, zig-zag varint timestamp)),
// the timers of a key in firing order. An incremental section holds, for
// each time domain, a delta (delta.go) with the same per-key encoding.
func (t *Timers[K, N]) freeze(base uint64, written *int64) sectionWriter {
	ev, pr, kc := t.event.m.root, t.proc.m.root, t.b.keyCodec
	ta := &timerAppender[N]{nc: t.nc}
	if base > 0 {
		if ev.epoch <= base && pr.epoch <= base {
			return nil
		}
		ec, pc := t.event.m.captureDelta(base), t.proc.m.captureDelta(base)
		last := len(ev.tabs) - 1
		return func(dst []byte, idx int) []byte {
			_, _, eok := ec.group(idx)
			_, _, pok := pc.group(idx)
			if eok || pok {
				dst = ec.appendDelta(dst, idx, written, kc, ta)
				dst = pc.appendDelta(dst, idx, written, kc, ta)
			}
			t.event.m.recycle(ec, idx, last)
			t.proc.m.recycle(pc, idx, last)
			return dst
		}
	}
	appendDomain := func(dst []byte, tab *table[K, timerSet[N]], idx int) []byte {
		if tab == nil || tab.n == 0 {
			return append(dst, 0)
		}
		*written += int64(tab.n)
		return appendEntries(dst, tab, t.nm, t.b.rng.Start+idx, kc, ta)
	}
	return func(dst []byte, idx int) []byte {
		et, pt := ev.tabs[idx], pr.tabs[idx]
		if (et == nil || et.n == 0) && (pt == nil || pt.n == 0) {
			return dst
		}
		dst = appendDomain(dst, et, idx)
		return appendDomain(dst, pt, idx)
	}
}

// timerAppender encodes the timers of a key in firing order. It is used by
// one snapshot writer at a time.
type timerAppender[N comparable] struct {
	nc      Codec[N]
	scratch []timerEntry[N]
}

func (a *timerAppender[N]) Append(dst []byte, s timerSet[N]) []byte {
	a.scratch = append(a.scratch[:0], s.list...)
	slices.SortFunc(a.scratch, func(a, b timerEntry[N]) int {
		return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.seq, b.seq))
	})
	dst = binary.AppendUvarint(dst, uint64(len(a.scratch)))
	for _, e := range a.scratch {
		dst = a.nc.Append(dst, e.ns)
		dst = binary.AppendVarint(dst, e.ts)
	}
	return dst
}

// decodeSet decodes the timers of one key, numbering them in order.
func (t *Timers[K, N]) decodeSet(d *sectionDecoder[K]) timerSet[N] {
	l := d.count()
	if d.Err() == nil && l == 0 {
		d.fail("key without timers")
	}
	var s timerSet[N]
	s.epoch = t.b.v.cur
	for j := 0; j < l && d.Err() == nil; j++ {
		ns := decodeField(d, t.nc, "timer namespace")
		ts := d.varint()
		if d.Err() != nil {
			break
		}
		id := timerID[N]{ns, ts}
		if s.find(id) >= 0 {
			d.fail("duplicate timer")
			break
		}
		t.seq++
		s.add(timerEntry[N]{id, t.seq})
	}
	return s
}

// added accounts for the timers of key k stored in q.
func (q *timerQueue[K, N]) added(k K, h uint64, s timerSet[N]) {
	q.count += len(s.list)
	for _, e := range s.list {
		q.push(heapItem[K, N]{ts: e.ts, seq: e.seq, h: h, key: k, ns: e.ns})
	}
}

func (t *Timers[K, N]) restore(idx int, data []byte) error {
	d := sectionDecoder[K]{b: t.b, idx: idx, Decoder: wire.NewDecoder(data)}
	for _, q := range []*timerQueue[K, N]{&t.event, &t.proc} {
		n := d.count()
		q.m.reserve(idx, n)
		for i := 0; i < n && d.Err() == nil; i++ {
			k, h := d.key()
			s := t.decodeSet(&d)
			if d.Err() != nil {
				break
			}
			c, inserted := q.m.upsert(idx, k, h)
			if !inserted {
				d.fail("duplicate key")
				break
			}
			c.slot.v = s
			q.added(k, h, s)
		}
	}
	t.event.seq, t.proc.seq = 0, 0
	return d.finish()
}

// restoreDelta applies an incremental section. Heap items of timers it
// removes or replaces go stale and are dropped when they come up.
func (t *Timers[K, N]) restoreDelta(idx int, data []byte) error {
	d := sectionDecoder[K]{b: t.b, idx: idx, Decoder: wire.NewDecoder(data)}
	for _, q := range []*timerQueue[K, N]{&t.event, &t.proc} {
		applyDelta(&d, &q.m, idx, t.decodeSet,
			func(s timerSet[N]) { q.count -= len(s.list) },
			q.added)
	}
	t.event.seq, t.proc.seq = 0, 0
	return d.finish()
}
