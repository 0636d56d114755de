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
	sections [][]byte // by key group index; replaced, never written in place
}

// Restore adds the state of one snapshot file to the backend. The runtime
// calls it once per file of the old subtasks whose key-group ranges overlap
// the backend's range, before processing starts; only key groups in the
// backend's range are kept, the others are skipped without being decoded.
//
// The whole file is checked (checksum, structure) before anything is
// added, so a failed Restore leaves the backend as it was. Entries are
// decoded when their state is registered (Value, List, Map, NewTimers),
// which is when decoding errors of the entries surface; if the state is
// already registered they are decoded now, and an error may leave it
// partly restored.
//
// Errors wrap ErrCorrupt (damaged file; the error names the key group and
// state), ErrIncompatible (other max parallelism or format version),
// ErrDuplicateKeyGroup or ErrStateMismatch.
func (b *KeyedBackend[K]) Restore(r io.Reader) error {
	c := newCRCReader(r)
	h, err := readHeader(c)
	if err != nil {
		return fmt.Errorf("restore keyed state: %w", err)
	}
	if h.maxPar != b.maxPar {
		return fmt.Errorf("restore keyed state: %w: snapshot has max parallelism %d, backend %d", ErrIncompatible, h.maxPar, b.maxPar)
	}
	staged := make([][][]byte, len(h.states)) // by state, then key group index
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
		if err := stageBlock(staged, h.states, kg-b.rng.Start, b.rng.Len(), block); err != nil {
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
	return b.commitRestore(h.states, staged)
}

// stageBlock splits a block into the sections of its states.
func stageBlock(staged [][][]byte, states []stateDesc, idx, groups int, block []byte) error {
	last := -1
	for len(block) > 0 {
		si, n := binary.Uvarint(block)
		if n <= 0 || si >= uint64(len(states)) || int(si) <= last {
			return fmt.Errorf("%w: bad state index", ErrCorrupt)
		}
		block = block[n:]
		last = int(si)
		l, n := binary.Uvarint(block)
		if n <= 0 || l == 0 || l > uint64(len(block)-n) {
			return fmt.Errorf("%w: state %q: bad section length", ErrCorrupt, states[si].name)
		}
		block = block[n:]
		if staged[si] == nil {
			staged[si] = make([][]byte, groups)
		}
		staged[si][idx] = block[:l:l]
		block = block[l:]
	}
	return nil
}

func (b *KeyedBackend[K]) commitRestore(states []stateDesc, staged [][][]byte) error {
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
				if sec == nil {
					continue
				}
				if err := r.restore(idx, sec); err != nil {
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
				merged[idx] = sec
			}
		}
		p.sections = merged
	}
	return nil
}
