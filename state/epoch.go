package state

import (
	"sync"
	"sync/atomic"
)

// Copy-on-write bookkeeping.
//
// Every node of the state tables (a state's root, a key group's table, a
// page of entries, a map state's per-key map, a key's timer list) carries
// the epoch in which it was made or last copied. Taking a snapshot pins
// the current epoch e (the snapshot keeps the roots it saw) and moves on
// to e+1. A node whose epoch is at most the highest pinned epoch may be
// reachable from a snapshot and is copied before it is written; any other
// node is written in place.
//
// Pins are tracked per key group: a snapshot being written releases each
// key group as soon as its block is written, so a page is copied only if
// it is written before the snapshot writer got to its key group. Roots,
// which lead to all key groups, stay pinned until the snapshot is released.
//
// A pin covers either the whole structure (roots, tables, pages and the
// values in them: a full snapshot, a Keys iteration), or only the values
// held in entries (a map state's map, a key's timers), which are nodes of
// their own: an incremental snapshot copies its entries out of the pages
// when it is taken (see delta.go), so the pages need not be preserved, but
// the values those entries refer to must not change until it is written.

// pin is one live snapshot (or Keys iteration): its epoch, and the key
// group index up to which it has released its key groups.
type pin struct {
	epoch      uint64
	next       int  // key group indexes below next are released
	valuesOnly bool // pins only the values in entries, not the pages
}

// liveEpochs is shared by the processing goroutine, which pins, and the
// goroutines that write and release snapshots. Writes of the atomics
// happen under mu; the processing goroutine reads them without it.
type liveEpochs struct {
	mu   sync.Mutex
	pins []pin // guarded by mu

	root atomic.Uint64   // highest epoch pinning the structure, for roots
	kg   []atomic.Uint64 // by key group index: highest epoch pinning its structure
	val  []atomic.Uint64 // by key group index: highest epoch pinning its values
}

func newLiveEpochs(groups int) *liveEpochs {
	return &liveEpochs{kg: make([]atomic.Uint64, groups), val: make([]atomic.Uint64, groups)}
}

// add pins e, which is higher than every epoch pinned before: the values
// in entries only, or the whole structure.
func (l *liveEpochs) add(e uint64, valuesOnly bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pins = append(l.pins, pin{epoch: e, valuesOnly: valuesOnly})
	if !valuesOnly {
		l.root.Store(e)
		for i := range l.kg {
			l.kg[i].Store(e)
		}
	}
	for i := range l.val {
		l.val[i].Store(e)
	}
}

// releaseGroup releases key group index idx (and those below it) of the
// pin of epoch e.
func (l *liveEpochs) releaseGroup(e uint64, idx int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.pins {
		if l.pins[i].epoch == e {
			l.pins[i].next = max(l.pins[i].next, idx+1)
		}
	}
	l.store(idx)
}

// store updates the atomics of key group index idx.
func (l *liveEpochs) store(idx int) {
	s, v := l.highest(idx)
	l.kg[idx].Store(s)
	l.val[idx].Store(v)
}

// remove unpins e; removing an epoch that is not pinned does nothing.
func (l *liveEpochs) remove(e uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.pins)
	for i := 0; i < len(l.pins); i++ {
		if l.pins[i].epoch == e {
			l.pins = append(l.pins[:i], l.pins[i+1:]...)
			i--
		}
	}
	if len(l.pins) == n {
		return
	}
	var r uint64
	for _, p := range l.pins {
		if !p.valuesOnly {
			r = max(r, p.epoch)
		}
	}
	l.root.Store(r)
	for i := range l.kg {
		l.store(i)
	}
}

// highest returns the highest epochs pinning the structure and the values
// of key group index idx.
func (l *liveEpochs) highest(idx int) (structure, values uint64) {
	for _, p := range l.pins {
		if p.next <= idx {
			values = max(values, p.epoch)
			if !p.valuesOnly {
				structure = max(structure, p.epoch)
			}
		}
	}
	return structure, values
}

// versions is the processing goroutine's view of the epochs.
type versions struct {
	cur uint64 // epoch stamped on nodes made or copied now
	// snapEpoch is the epoch of the last incremental snapshot: pages
	// stamped after it record their changes since (see delta.go).
	snapEpoch uint64
	live      *liveEpochs
	copied    copyStats
}

// copyStats counts copies made for snapshots (benchmarks report them).
type copyStats struct {
	pages int64 // pages copied
	bytes int64 // bytes of pages, directories and roots copied
}

func newVersions(groups int) *versions {
	return &versions{cur: 1, live: newLiveEpochs(groups)}
}

// shared reports whether a node of key group index idx made in epoch e may
// be reachable from a live snapshot, and so must be copied before it is
// written. The atomic load orders a snapshot's last read of the node
// before any write in place that follows its release.
func (v *versions) shared(e uint64, idx int) bool { return e <= v.live.kg[idx].Load() }

// sharedValue is shared for a value node held in an entry (a map state's
// map, a key's timer set), which incremental snapshots pin too.
func (v *versions) sharedValue(e uint64, idx int) bool { return e <= v.live.val[idx].Load() }

// sharedRoot is shared for a state's root, which leads to all key groups.
func (v *versions) sharedRoot(e uint64) bool { return e <= v.live.root.Load() }

// freeze pins the current epoch for a snapshot (the values in entries
// only, or everything) and starts the next one.
func (v *versions) freeze(valuesOnly bool) uint64 {
	e := v.cur
	v.cur++
	v.live.add(e, valuesOnly)
	return e
}
