package eventtime

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
)

// MergingSet holds the windows of one key of a merging assigner (sessions):
// a set of pairwise disjoint windows, none touching another. Adding a window
// merges it with every window it intersects, as in Flink.
//
// The window operator keeps one set per key and window state under each
// window of the set: after [MergingSet.Add] it merges the state of the
// absorbed windows into the result's and moves their cleanup timers.
//
// The zero MergingSet is an empty set ready to use. A MergingSet is not safe
// for concurrent use.
type MergingSet struct {
	ws     []TimeWindow // sorted by Start; ws[i].End < ws[i+1].Start
	merged []TimeWindow // returned by Add, reused
}

// NewMergingSet returns a set holding the given windows, e.g. those restored
// from a checkpoint that [MergingSet.Windows] returned earlier. The order of
// existing does not matter, and the set keeps no reference to it. It panics
// if two of the windows intersect, since then they should have been merged.
func NewMergingSet(existing []TimeWindow) *MergingSet {
	ws := slices.Clone(existing)
	slices.SortFunc(ws, func(a, b TimeWindow) int {
		if a.Start != b.Start {
			return cmp.Compare(a.Start, b.Start)
		}
		return cmp.Compare(a.End, b.End)
	})
	for i := 1; i < len(ws); i++ {
		if ws[i-1].Intersects(ws[i]) {
			panic(fmt.Sprintf("eventtime: NewMergingSet: windows %v and %v intersect; a merging set holds disjoint windows", ws[i-1], ws[i]))
		}
	}
	return &MergingSet{ws: ws}
}

// Windows returns a copy of the windows in the set, in increasing order.
func (m *MergingSet) Windows() []TimeWindow { return slices.Clone(m.ws) }

// Len returns the number of windows in the set.
func (m *MergingSet) Len() int { return len(m.ws) }

// Add adds window w (the window of a new element) and returns the window the
// element now belongs to:
//
//   - w intersects no window of the set: result is w, now in the set, and
//     merged is empty;
//   - w lies within one window of the set: result is that window, unchanged,
//     and merged is empty;
//   - otherwise result is the cover of w and of every window it intersects,
//     which replaces them in the set, and merged lists those windows (never
//     result itself). The caller merges their state into result's state and
//     drops their timers.
//
// The merged slice is reused: it is valid until the next call of a method
// of m. Add does not allocate once the set has grown to its working size.
func (m *MergingSet) Add(w TimeWindow) (result TimeWindow, merged []TimeWindow) {
	// Disjoint windows sorted by Start are sorted by End too, and the ones
	// that w intersects form the run lo..hi-1.
	lo := sort.Search(len(m.ws), func(i int) bool { return m.ws[i].End >= w.Start })
	hi := lo
	for hi < len(m.ws) && m.ws[hi].Start <= w.End {
		hi++
	}
	switch {
	case lo == hi:
		m.ws = slices.Insert(m.ws, lo, w)
		return w, nil
	case hi-lo == 1 && m.ws[lo].Start <= w.Start && w.End <= m.ws[lo].End:
		return m.ws[lo], nil
	}
	result = w.Cover(m.ws[lo]).Cover(m.ws[hi-1])
	m.merged = append(m.merged[:0], m.ws[lo:hi]...)
	m.ws[lo] = result
	m.ws = slices.Delete(m.ws, lo+1, hi)
	return result, m.merged
}

// Remove removes window w from the set, e.g. after it fired and was purged.
// It does nothing if w is not in the set.
func (m *MergingSet) Remove(w TimeWindow) {
	i := sort.Search(len(m.ws), func(i int) bool { return m.ws[i].Start >= w.Start })
	if i < len(m.ws) && m.ws[i] == w {
		m.ws = slices.Delete(m.ws, i, i+1)
	}
}
