package state

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// pendingState is restored state whose operator has not registered it yet.
// Codecs are known only at registration, so its sections stay encoded
// until then, and a snapshot taken before copies them as they are: state
// an operator never registers is carried from checkpoint to checkpoint.
type pendingState struct {
	kind     stateKind
	sections [][]pendingSection // by key group index, in order; replaced, never written in place
}

// Restore adds the state of one snapshot file to the backend. The runtime
// calls it once per file of the old subtasks whose key-group ranges overlap
// the backend's range, before processing starts; only key groups in the
// backend's range are kept, the others are skipped without being decoded.
// The files of an incremental chain (see IncrementalSnapshot) are restored
// in order, the full one first: a delta is accepted only on top of its
// base.
//
// The whole file is checked (checksum, structure) before anything is
// added, so a failed Restore leaves the backend as it was. Entries are
// decoded when their state is registered (Value, List, Map, NewTimers),
// which is when decoding errors of the entries surface; if the state is
// already registered they are decoded now, and an error may leave it
// partly restored.
//
// Errors wrap ErrCorrupt (damaged file; the error names the key group and
// state), ErrIncompatible (other max parallelism or format version, or a
// delta whose base was not restored just before), ErrDuplicateKeyGroup or
// ErrStateMismatch.
func (b *KeyedBackend[K]) Restore(r io.Reader) error {
	c := newCRCReader(r)
	h, err := readHeader(c)
	if err != nil {
		return fmt.Errorf("restore keyed state: %w", err)
	}
	if h.maxPar != b.maxPar {
		return fmt.Errorf("restore keyed state: %w: snapshot has max parallelism %d, backend %d", ErrIncompatible, h.maxPar, b.maxPar)
	}
	if h.base != 0 {
		for kg := max(h.rng.Start, b.rng.Start); kg < min(h.rng.End, b.rng.End); kg++ {
			if got := b.kgSnap[kg-b.rng.Start]; got != h.base {
				return fmt.Errorf("restore keyed state: %w: snapshot %016x is a delta of snapshot %016x, but key group %d holds snapshot %016x: restore the files of an incremental chain in order, from its full snapshot",
					ErrIncompatible, h.id, h.base, kg, got)
			}
		}
	}
	staged := make([][][]pendingSection, len(h.states)) // by state, then key group index
	prev := -1
	for {
		var bh [blockHeaderLen]byte
		if err := c.full(bh[:4], "block header"); err != nil {
			return fmt.Errorf("restore keyed state: after key group %d: %w", prev, err)
		}
		kg64 := binary.BigEndian.Uint32(bh[:4])
		if kg64 == endOfBlocks {
			break
		}
		kg := int(kg64)
		if err := c.full(bh[4:], "block header"); err != nil {
			return fmt.Errorf("restore keyed state: key group %d: %w", kg, err)
		}
		if kg <= prev || !h.rng.Contains(kg) {
			return fmt.Errorf("restore keyed state: %w: key group %d after %d in a file of range %v", ErrCorrupt, kg, prev, h.rng)
		}
		prev = kg
		n := binary.BigEndian.Uint64(bh[4:])
		if !b.rng.Contains(kg) {
			if err := c.skip(n, "block"); err != nil {
				return fmt.Errorf("restore keyed state: key group %d: %w", kg, err)
			}
			continue
		}
		block, err := c.readBlock(n, "block")
		if err != nil {
			return fmt.Errorf("restore keyed state: key group %d: %w", kg, err)
		}
		if err := stageBlock(staged, h, kg-b.rng.Start, b.rng.Len(), block); err != nil {
			return fmt.Errorf("restore keyed state: key group %d: %w", kg, err)
		}
	}
	sum := c.crc
	var trailer [4]byte
	if _, err := io.ReadFull(c.r, trailer[:]); err != nil {
		return fmt.Errorf("restore keyed state: %w", corrupt("checksum", err))
	}
	if got := binary.BigEndian.Uint32(trailer[:]); got != sum {
		return fmt.Errorf("restore keyed state: %w: checksum %08x, computed %08x", ErrCorrupt, got, sum)
	}
	if err := b.commitRestore(h.states, staged, h.base != 0); err != nil {
		return err
	}
	for kg := max(h.rng.Start, b.rng.Start); kg < min(h.rng.End, b.rng.End); kg++ {
		b.kgSnap[kg-b.rng.Start] = h.id
	}
	b.incID = 0 // the next incremental snapshot is full
	return nil
}

// stageBlock splits a block into the sections of its states.
func stageBlock(staged [][][]pendingSection, h fileHeader, idx, groups int, block []byte) error {
	v2 := h.version >= fileVersionIncremental
	last := -1
	for len(block) > 0 {
		si, n := binary.Uvarint(block)
		// Version 2 may hold several sections of a state, in order.
		if n <= 0 || si >= uint64(len(h.states)) || int(si) < last || !v2 && int(si) == last {
			return fmt.Errorf("%w: bad state index", ErrCorrupt)
		}
		block = block[n:]
		last = int(si)
		l, n := binary.Uvarint(block)
		if n <= 0 || l == 0 || l > uint64(len(block)-n) {
			return fmt.Errorf("%w: state %q: bad section length", ErrCorrupt, h.states[si].name)
		}
		block = block[n:]
		sec := pendingSection{data: block[:l:l]}
		block = block[l:]
		if v2 {
			switch f := sectionForm(sec.data[0]); {
			case f == formDelta:
				sec.delta = true
			case f != formFull || h.base != 0:
				return fmt.Errorf("%w: state %q: %v section in a %s snapshot", ErrCorrupt, h.states[si].name, f, map[bool]string{false: "full", true: "delta"}[h.base != 0])
			}
			sec.data = sec.data[1:]
			if len(sec.data) == 0 {
				return fmt.Errorf("%w: state %q: empty section", ErrCorrupt, h.states[si].name)
			}
		}
		if staged[si] == nil {
			staged[si] = make([][]pendingSection, groups)
		}
		staged[si][idx] = append(staged[si][idx], sec)
	}
	return nil
}

// applySections applies the sections of key group index idx to r, in order.
func applySections(r registered, idx int, secs []pendingSection) error {
	for _, sec := range secs {
		var err error
		if sec.delta {
			err = r.restoreDelta(idx, sec.data)
		} else {
			err = r.restore(idx, sec.data)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (b *KeyedBackend[K]) commitRestore(states []stateDesc, staged [][][]pendingSection, delta bool) error {
	// Check everything first so that a refused file changes nothing.
	for si, d := range states {
		secs := staged[si]
		if secs == nil {
			continue
		}
		var kind stateKind
		var taken func(idx int) bool
		if r, ok := b.states[d.name]; ok {
			kind, taken = r.kind(), func(idx int) bool { return !r.empty(idx) }
		} else if p := b.pending[d.name]; p != nil {
			kind, taken = p.kind, func(idx int) bool { return p.sections[idx] != nil }
		} else {
			continue
		}
		if kind != d.kind {
			return fmt.Errorf("restore keyed state: %w: state %q is a %v in the snapshot and a %v here", ErrStateMismatch, d.name, d.kind, kind)
		}
		if delta {
			continue // on top of its base, checked by Restore
		}
		for idx, sec := range secs {
			if sec != nil && taken(idx) {
				return fmt.Errorf("restore keyed state: %w: state %q key group %d", ErrDuplicateKeyGroup, d.name, idx+b.rng.Start)
			}
		}
	}
	for si, d := range states {
		secs := staged[si]
		if secs == nil {
			continue
		}
		if r, ok := b.states[d.name]; ok {
			for idx, sec := range secs {
				if err := applySections(r, idx, sec); err != nil {
					return fmt.Errorf("restore state %q key group %d: %w", d.name, idx+b.rng.Start, err)
				}
			}
			b.seq++
			continue
		}
		p := b.pending[d.name]
		if p == nil {
			b.pending[d.name] = &pendingState{kind: d.kind, sections: secs}
			continue
		}
		merged := slices.Clone(p.sections) // a live snapshot may hold the old slice
		for idx, sec := range secs {
			if sec != nil {
				merged[idx] = append(slices.Clip(merged[idx]), sec...)
			}
		}
		p.sections = merged
	}
	return nil
}
