package state

// ValueState is a single value per key. Its methods work on the backend's
// current key.
//
// Value returns the value and true, or the zero value and false if the key
// has none. Update sets the value; Clear removes it. Values are stored as
// given: a value that refers to memory (a slice, map or pointer) must not
// be modified after Update, nor the result of Value modified, because
// snapshots being written may still read it.
type ValueState[V any] interface {
	Value() (V, bool)
	Update(V)
	Clear()
}

// Value returns the value state registered under name, registering it on
// first use; c nil means DefaultCodec[V](). Asking again for the same name
// returns the same handle (and keeps the first codec). It returns an error
// wrapping ErrStateMismatch if name is used by another kind of state or
// another value type, or an error naming the key group if restored data
// for the state cannot be decoded.
func Value[K comparable, V any](b *KeyedBackend[K], name string, c Codec[V]) (ValueState[V], error) {
	return register(b, name, kindValue, func() *valueState[K, V] {
		if c == nil {
			c = DefaultCodec[V]()
		}
		return &valueState[K, V]{
			b: b, nm: name, codec: c,
			m: newCowMap[K, V](b.v, b.hash, b.rng.Len()),
		}
	})
}

type valueState[K comparable, V any] struct {
	b     *KeyedBackend[K]
	nm    string
	codec Codec[V]
	m     cowMap[K, V]

	// Entry of the current key, valid while seq == b.seq.
	seq uint64
	cur cursor[K, V]
}

func (s *valueState[K, V]) Value() (V, bool) {
	b := s.b
	if s.seq != b.seq {
		b.checkKey()
		s.cur = s.m.get(b.idx, b.key, b.keyHash)
		s.seq = b.seq
	}
	if s.cur.slot == nil {
		var zero V
		return zero, false
	}
	return s.cur.slot.v, true
}

func (s *valueState[K, V]) Update(v V) {
	b := s.b
	if s.seq == b.seq && s.cur.writable() {
		s.cur.slot.v = v
		s.cur.touch()
		return
	}
	b.checkKey()
	c, _ := s.m.upsert(b.idx, b.key, b.keyHash)
	c.slot.v = v
	s.seq, s.cur = b.seq, c
}

func (s *valueState[K, V]) Clear() {
	b := s.b
	b.checkKey()
	s.m.remove(b.idx, b.key, b.keyHash)
	s.seq, s.cur = b.seq, cursor[K, V]{}
}

func (s *valueState[K, V]) name() string         { return s.nm }
func (s *valueState[K, V]) kind() stateKind      { return kindValue }
func (s *valueState[K, V]) describe() string     { return "value state of " + typeName[V]() }
func (s *valueState[K, V]) empty(idx int) bool   { return s.m.len(idx) == 0 }
func (s *valueState[K, V]) entries() int64       { return s.m.total() }
func (s *valueState[K, V]) keys() keyIterator[K] { return mapKeys(&s.m) }

// Section: count, then count times (key, value).
func (s *valueState[K, V]) freeze(base uint64, written *int64) sectionWriter {
	return freezeState(s.nm, &s.m, base, written, s.b.rng, s.b.keyCodec, s.codec)
}

func (s *valueState[K, V]) restore(idx int, data []byte) error {
	return restoreEntries(s.b, &s.m, idx, data, s.decode)
}

func (s *valueState[K, V]) restoreDelta(idx int, data []byte) error {
	return restoreDeltaEntries(s.b, &s.m, idx, data, s.decode)
}

func (s *valueState[K, V]) decode(d *sectionDecoder[K]) V {
	return decodeField(d, s.codec, "value")
}
