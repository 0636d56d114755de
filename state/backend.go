package state

import (
	"fmt"
	"iter"
	"reflect"
	"slices"
)

// Options configures a KeyedBackend.
type Options[K comparable] struct {
	// MaxParallelism is the number of key groups, fixed for the life of the
	// job and its checkpoints. Zero means DefaultMaxParallelism.
	MaxParallelism int
	// Range is the key groups owned by this subtask. The zero value means
	// all key groups.
	Range KeyGroupRange
	// KeyCodec encodes keys in snapshots. Nil means DefaultCodec[K]().
	KeyCodec Codec[K]
}

// KeyedBackend holds the keyed state and timers of one operator subtask in
// memory. It is not safe for concurrent use: one goroutine sets the current
// key and works on state through handles; only writing a Snapshot may run
// on other goroutines at the same time.
type KeyedBackend[K comparable] struct {
	maxPar   int
	pow2     bool // maxPar is a power of two: kg = hash & (maxPar-1)
	rng      KeyGroupRange
	hash     func(K) uint64
	keyCodec Codec[K]
	v        *versions

	key     K
	keyHash uint64
	kg      int
	idx     int    // kg - rng.Start, or -1 without a valid current key
	seq     uint64 // bumped whenever handles' cached slots may be stale

	states  map[string]registered
	pending map[string]*pendingState // restored, not yet registered

	incID  uint64   // id of the last IncrementalSnapshot, the next one's base; 0: none
	kgSnap []uint64 // by key group index: id of the snapshot file last restored into it
}

// registered is a state or timer service registered with the backend.
type registered interface {
	name() string
	kind() stateKind
	// describe names the kind and types, for mismatch errors.
	describe() string
	// freeze captures the state for a snapshot, in O(1): a full one for
	// base 0, else the changes since epoch base (nil if there are none).
	// The writer adds the number of entries it writes to *written.
	freeze(base uint64, written *int64) sectionWriter
	// restore decodes a full section of key group index idx written by a
	// sectionWriter of the same kind into the (empty) key group.
	restore(idx int, data []byte) error
	// restoreDelta applies an incremental section to key group index idx.
	restoreDelta(idx int, data []byte) error
	// empty reports whether key group index idx holds no entries.
	empty(idx int) bool
	// entries returns the number of entries (keys) in all key groups.
	entries() int64
}

type stateKind uint8

const (
	kindValue  stateKind = 1
	kindList   stateKind = 2
	kindMap    stateKind = 3
	kindTimers stateKind = 4
)

func (k stateKind) String() string {
	switch k {
	case kindValue:
		return "value state"
	case kindList:
		return "list state"
	case kindMap:
		return "map state"
	case kindTimers:
		return "timers"
	}
	return fmt.Sprintf("state kind %d", uint8(k))
}

// NewKeyedBackend returns an empty backend. It panics if opts is invalid:
// MaxParallelism outside [1, MaxMaxParallelism] or a Range that is empty
// or not within [0, MaxParallelism).
func NewKeyedBackend[K comparable](opts Options[K]) *KeyedBackend[K] {
	maxPar := opts.MaxParallelism
	if maxPar == 0 {
		maxPar = DefaultMaxParallelism
	}
	if maxPar < 1 || maxPar > MaxMaxParallelism {
		panic(fmt.Sprintf("state: max parallelism %d out of range [1, %d]", maxPar, MaxMaxParallelism))
	}
	rng := opts.Range
	if rng == (KeyGroupRange{}) {
		rng = KeyGroupRange{0, maxPar}
	}
	if rng.Start < 0 || rng.End > maxPar || rng.Start >= rng.End {
		panic(fmt.Sprintf("state: key group range %v not a non-empty part of [0, %d)", rng, maxPar))
	}
	kc := opts.KeyCodec
	if kc == nil {
		kc = DefaultCodec[K]()
	}
	return &KeyedBackend[K]{
		maxPar:   maxPar,
		pow2:     maxPar&(maxPar-1) == 0,
		rng:      rng,
		hash:     Hasher[K](),
		keyCodec: kc,
		v:        newVersions(rng.Len()),
		idx:      -1,
		seq:      1, // handles start with seq 0: never current
		states:   make(map[string]registered),
		pending:  make(map[string]*pendingState),
		kgSnap:   make([]uint64, rng.Len()),
	}
}

// MaxParallelism returns the number of key groups.
func (b *KeyedBackend[K]) MaxParallelism() int { return b.maxPar }

// Range returns the key groups owned by the backend.
func (b *KeyedBackend[K]) Range() KeyGroupRange { return b.rng }

func (b *KeyedBackend[K]) keyGroup(h uint64) int {
	if b.pow2 {
		return int(h & uint64(b.maxPar-1))
	}
	return int(h % uint64(b.maxPar))
}

// SetCurrentKey makes k the key that state handles and timer registrations
// work on. It returns an error wrapping ErrKeyGroupOutOfRange if the key's
// key group is outside the backend's range; state must then not be used
// until a key in range is set.
func (b *KeyedBackend[K]) SetCurrentKey(k K) error {
	h := b.hash(k)
	kg := b.keyGroup(h)
	idx := kg - b.rng.Start
	b.key, b.keyHash, b.kg = k, h, kg
	b.seq++
	if uint(idx) >= uint(b.rng.End-b.rng.Start) {
		b.idx = -1
		return fmt.Errorf("%w: key group %d is not in %v", ErrKeyGroupOutOfRange, kg, b.rng)
	}
	b.idx = idx
	return nil
}

// setCurrentKeyHashed is SetCurrentKey for a key whose hash and key group
// index are known (firing timers).
func (b *KeyedBackend[K]) setCurrentKeyHashed(k K, h uint64, idx int) {
	b.key, b.keyHash, b.kg, b.idx = k, h, idx+b.rng.Start, idx
	b.seq++
}

// CurrentKey returns the key set by the last SetCurrentKey.
func (b *KeyedBackend[K]) CurrentKey() K { return b.key }

// CurrentKeyGroup returns the key group of the current key.
func (b *KeyedBackend[K]) CurrentKeyGroup() int { return b.kg }

// checkKey panics if there is no valid current key: using state before
// SetCurrentKey succeeded is a bug in the caller.
func (b *KeyedBackend[K]) checkKey() {
	if b.idx < 0 {
		panic("state: keyed state used without a current key in the backend's key-group range")
	}
}

// register returns the state registered under name, creating it with
// create and decoding any restored data for it if it is new.
func register[K comparable, S registered](b *KeyedBackend[K], name string, kind stateKind, create func() S) (S, error) {
	var zero S
	if r, ok := b.states[name]; ok {
		s, ok := r.(S)
		if !ok {
			return zero, fmt.Errorf("%w: state %q is a %s, asked for a %s", ErrStateMismatch, name, r.describe(), create().describe())
		}
		return s, nil
	}
	s := create()
	if p := b.pending[name]; p != nil {
		if p.kind != kind {
			return zero, fmt.Errorf("%w: restored state %q is a %v, registered as a %s", ErrStateMismatch, name, p.kind, s.describe())
		}
		for idx, secs := range p.sections {
			if err := applySections(s, idx, secs); err != nil {
				return zero, fmt.Errorf("restore state %q key group %d: %w", name, idx+b.rng.Start, err)
			}
		}
		delete(b.pending, name)
	}
	b.states[name] = s
	return s, nil
}

func typeName[T any]() string { return reflect.TypeFor[T]().String() }

// Keys returns the keys that have state in the named state, in no
// particular order. It yields nothing for a name that is not registered
// (restored state is decoded only when registered). The sequence sees the
// state as of the call: state may be changed, and SetCurrentKey called,
// while iterating.
func (b *KeyedBackend[K]) Keys(stateName string) iter.Seq[K] {
	return func(yield func(K) bool) {
		r, ok := b.states[stateName]
		if !ok {
			return
		}
		ks, ok := r.(interface{ keys() keyIterator[K] })
		if !ok {
			return
		}
		// Pin the current epoch, as a snapshot does, so the iteration walks
		// a frozen version while the caller changes state.
		e := b.v.freeze(false)
		b.seq++
		defer b.v.live.remove(e)
		ks.keys()(yield)
	}
}

// keyIterator iterates the keys of a frozen state version.
type keyIterator[K comparable] func(yield func(K) bool)

// mapKeys returns an iterator over the keys of the current version of m.
func mapKeys[K comparable, V any](m *cowMap[K, V]) keyIterator[K] {
	root := m.root
	return func(yield func(K) bool) {
		for _, t := range root.tabs {
			if t == nil {
				continue
			}
			if !t.each(func(s *slot[K, V]) bool { return yield(s.k) }) {
				return
			}
		}
	}
}

// stateNames returns the names of registered and pending states, sorted.
func (b *KeyedBackend[K]) stateNames() []string {
	names := make([]string, 0, len(b.states)+len(b.pending))
	for n := range b.states {
		names = append(names, n)
	}
	for n := range b.pending {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
