package state

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// sectionWriter appends the encoded entries one state holds in key group
// index idx of a frozen version, and returns dst unchanged if there are
// none. It runs on the goroutine that writes the snapshot.
type sectionWriter func(dst []byte, idx int) []byte

// Snapshot is the keyed state of a backend as of one call to
// KeyedBackend.Snapshot. The backend goes on changing; the snapshot keeps
// seeing the frozen version. Write it with WriteTo, from any goroutine, and
// Release it when done.
type Snapshot struct {
	mu       sync.Mutex // held while writing; Release waits for it
	released atomic.Bool
	written  bool // guarded by mu: WriteTo was called
	live     *liveEpochs
	epoch    uint64
	cleanup  runtime.Cleanup

	version  uint16 // file format version written
	id, base uint64 // version 2: this snapshot's id and its base's (0: full)
	maxPar   int
	rng      KeyGroupRange
	states   []frozenState // sorted by name; nil once released

	nwritten int64 // entries written by WriteTo (guarded by mu)
	nlive    int64 // entries of the registered states at the snapshot
}

type frozenState struct {
	name    string
	kind    stateKind
	write   sectionWriter
	pending [][]pendingSection // restored state not registered: its sections by key group index
}

// Snapshot captures the backend's keyed state and timers for a checkpoint.
// It is the synchronous part of a checkpoint and takes time proportional to
// the number of registered states, not to their size: it pins the current
// version of every state; later changes copy the parts they touch (see the
// package documentation). State restored but not yet registered is
// included as it was restored.
//
// Several snapshots may be alive at once. Every snapshot must be released:
// until then (or until WriteTo has written a key group) the backend copies
// the pages it changes.
//
// Snapshot is always full and does not affect incremental snapshots.
func (b *KeyedBackend[K]) Snapshot() *Snapshot { return b.snapshot(false) }

// IncrementalSnapshot is Snapshot for incremental checkpoints: it holds
// only what changed since the previous IncrementalSnapshot (its base), and
// is full if there is no base: the first one, the first after
// ResetIncremental, and the first after a restore. Restoring it takes the
// files of the whole chain, from the last full one, in order. Delta
// reports which kind it is.
//
// A full one is taken as Snapshot is. A delta copies the changed entries
// (their keys and values, not what values refer to) when it is taken: its
// synchronous part takes time in proportion to the entries changed since
// the base plus a pass over the directory of each changed key group (see
// delta.go), and processing then writes pages in place without copying
// them while the delta is written.
//
// The caller must make sure that a delta's base is stored for as long as
// the delta is: if the base's write fails or is abandoned, call
// ResetIncremental and do not keep snapshots taken on top of it.
func (b *KeyedBackend[K]) IncrementalSnapshot() *Snapshot { return b.snapshot(true) }

// ResetIncremental makes the next IncrementalSnapshot a full one.
func (b *KeyedBackend[K]) ResetIncremental() { b.incID = 0 }

func (b *KeyedBackend[K]) snapshot(incremental bool) *Snapshot {
	delta := incremental && b.incID != 0
	var baseEpoch uint64
	if delta {
		baseEpoch = b.v.snapEpoch
	}
	// A delta copies its entries now (see delta.go): only the values they
	// refer to need to be preserved while it is written.
	e := b.v.freeze(delta)
	b.seq++ // cached slots may no longer be writable in place
	s := &Snapshot{live: b.v.live, epoch: e, version: fileVersion, maxPar: b.maxPar, rng: b.rng}
	if incremental {
		s.version, s.id = fileVersionIncremental, newSnapshotID()
		if delta {
			s.base = b.incID
		}
		b.incID, b.v.snapEpoch = s.id, e
	}
	for _, name := range b.stateNames() {
		if r, ok := b.states[name]; ok {
			s.nlive += r.entries()
			if w := r.freeze(baseEpoch, &s.nwritten); w != nil {
				s.states = append(s.states, frozenState{name: name, kind: r.kind(), write: w})
			}
			continue
		}
		if delta {
			continue // restored, not registered since: unchanged
		}
		p := b.pending[name]
		for _, secs := range p.sections {
			if len(secs) > 1 || len(secs) == 1 && secs[0].delta {
				s.version = fileVersionIncremental // sections need their form
				if s.id == 0 {
					s.id = newSnapshotID()
				}
			}
		}
		// p.sections is never written in place: Restore replaces it.
		s.states = append(s.states, frozenState{name: name, kind: p.kind, pending: p.sections})
	}
	// A snapshot dropped without Release must not pin its epoch forever.
	s.cleanup = runtime.AddCleanup(s, func(l *liveEpochs) { l.remove(e) }, b.v.live)
	return s
}

// Delta reports whether the snapshot is incremental, holding only the
// changes since an earlier snapshot.
func (s *Snapshot) Delta() bool { return s.base != 0 }

// Entries returns the number of entries WriteTo wrote (a timer, a list or
// a map of a key counts as one entry) and the number the registered states
// held at the snapshot, live. Restored state not yet registered counts in
// neither. A chain of incremental snapshots whose files hold many more
// entries than are live costs more to restore than a full snapshot.
func (s *Snapshot) Entries() (written, live int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nwritten, s.nlive
}

func newSnapshotID() uint64 {
	for {
		if id := rand.Uint64(); id != 0 {
			return id
		}
	}
}

// Release ends the snapshot: the backend stops preserving the version it
// pinned. The runtime calls it once the snapshot is written or abandoned.
// It may be called from any goroutine, more than once, and while WriteTo
// runs: WriteTo then stops at the next key group and returns
// ErrSnapshotReleased, and Release waits for it (so a writer blocked in
// its Write blocks Release too: unblock it first, by closing the file).
func (s *Snapshot) Release() {
	if s.released.Swap(true) {
		return
	}
	s.mu.Lock()
	s.states = nil
	s.mu.Unlock()
	s.cleanup.Stop()
	s.live.remove(s.epoch)
}

// WriteTo writes the snapshot to w in the format described in format.go and
// returns the number of bytes written. It runs concurrently with the
// backend's processing. It can be called once: it releases each key group
// as soon as it is encoded, so that processing stops copying the pages of
// that key group. It fails with ErrSnapshotReleased when called again or
// after Release, with the error of w, or with the error of a codec that
// cannot encode a value; the snapshot must then be released and the
// checkpoint abandoned.
func (s *Snapshot) WriteTo(w io.Writer) (n int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released.Load() || s.written {
		return 0, ErrSnapshotReleased
	}
	s.written = true
	cw := &crcWriter{w: w}
	defer func() {
		n = cw.n
		if r := recover(); r != nil {
			ee, ok := r.(encodeError)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("write snapshot: %w", ee)
		}
	}()

	hdr := appendHeader(nil, fileHeader{version: s.version, id: s.id, base: s.base, maxPar: s.maxPar, rng: s.rng, states: s.descriptors()})
	if err := cw.write(hdr); err != nil {
		return 0, err
	}
	form := formFull
	if s.Delta() {
		form = formDelta
	}
	var block, sec []byte
	addSection := func(i int) {
		block = binary.AppendUvarint(block, uint64(i))
		block = binary.AppendUvarint(block, uint64(len(sec)))
		block = append(block, sec...)
	}
	for idx := range s.rng.Len() {
		if s.released.Load() {
			return 0, ErrSnapshotReleased
		}
		block = append(block[:0], make([]byte, blockHeaderLen)...)
		for i, st := range s.states {
			if st.pending != nil {
				for _, ps := range st.pending[idx] {
					sec = sec[:0]
					if s.version >= fileVersionIncremental {
						f := formFull
						if ps.delta {
							f = formDelta
						}
						sec = append(sec, byte(f))
					}
					sec = append(sec, ps.data...)
					addSection(i)
				}
				continue
			}
			sec = sec[:0]
			if s.version >= fileVersionIncremental {
				sec = append(sec, byte(form))
			}
			n0 := len(sec)
			sec = st.write(sec, idx)
			if len(sec) == n0 {
				continue
			}
			addSection(i)
		}
		// The key group is encoded: processing may now change it in place.
		s.live.releaseGroup(s.epoch, idx)
		if len(block) == blockHeaderLen {
			continue
		}
		binary.BigEndian.PutUint32(block, uint32(s.rng.Start+idx))
		binary.BigEndian.PutUint64(block[4:], uint64(len(block)-blockHeaderLen))
		if err := cw.write(block); err != nil {
			return 0, err
		}
	}
	if err := cw.write(binary.BigEndian.AppendUint32(nil, endOfBlocks)); err != nil {
		return 0, err
	}
	if err := cw.write(binary.BigEndian.AppendUint32(nil, cw.crc)); err != nil {
		return 0, err
	}
	return 0, nil
}

func (s *Snapshot) descriptors() []stateDesc {
	d := make([]stateDesc, len(s.states))
	for i, st := range s.states {
		d[i] = stateDesc{name: st.name, kind: st.kind}
	}
	return d
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcWriter counts and checksums what it writes.
type crcWriter struct {
	w   io.Writer
	n   int64
	crc uint32
}

func (c *crcWriter) write(p []byte) error {
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

var _ io.WriterTo = (*Snapshot)(nil)
