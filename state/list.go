package state

import (
	"encoding/binary"
	"slices"
)

// ListState is a list of values per key. Its methods work on the backend's
// current key.
//
// Get returns the list, nil if empty; the caller must not retain it past
// the next change of the state nor modify it. Add appends a value, AddAll
// appends values, Update replaces the list with a copy of vs (an empty vs
// clears it), Clear removes it. As with ValueState, elements that refer to
// memory must not be modified once added.
type ListState[V any] interface {
	Get() []V
	Add(V)
	AddAll([]V)
	Update([]V)
	Clear()
}

// List returns the list state registered under name, registering it on
// first use; c nil means DefaultCodec[V](). The rules of Value apply.
func List[K comparable, V any](b *KeyedBackend[K], name string, c Codec[V]) (ListState[V], error) {
	return register(b, name, kindList, func() *listState[K, V] {
		if c == nil {
			c = DefaultCodec[V]()
		}
		return &listState[K, V]{
			b: b, nm: name, codec: c,
			m: newCowMap[K, []V](b.v, b.hash, b.rng.Len()),
		}
	})
}

// listState stores each list as a slice that is only ever appended to in
// place: a snapshot that shares a backing array sees a prefix of it that
// is never written again, so lists need no copy on write of their own.
// Update and Clear install a new slice instead of truncating.
type listState[K comparable, V any] struct {
	b     *KeyedBackend[K]
	nm    string
	codec Codec[V]
	m     cowMap[K, []V]

	seq uint64
	cur cursor[K, []V]
}

func (s *listState[K, V]) lookup() {
	b := s.b
	if s.seq != b.seq {
		b.checkKey()
		s.cur = s.m.get(b.idx, b.key, b.keyHash)
		s.seq = b.seq
	}
}

// mutable returns the current key's slot, writable, with the write
// recorded.
func (s *listState[K, V]) mutable() *slot[K, []V] {
	b := s.b
	if s.seq == b.seq && s.cur.writable() {
		s.cur.touch()
		return s.cur.slot
	}
	b.checkKey()
	c, _ := s.m.upsert(b.idx, b.key, b.keyHash)
	s.seq, s.cur = b.seq, c
	return c.slot
}

func (s *listState[K, V]) Get() []V {
	s.lookup()
	if s.cur.slot == nil {
		return nil
	}
	l := s.cur.slot.v
	return l[:len(l):len(l)] // an append by the caller must not write our array
}

func (s *listState[K, V]) Add(v V) {
	sl := s.mutable()
	sl.v = append(sl.v, v)
}

func (s *listState[K, V]) AddAll(vs []V) {
	if len(vs) == 0 {
		return
	}
	sl := s.mutable()
	sl.v = append(sl.v, vs...)
}

func (s *listState[K, V]) Update(vs []V) {
	if len(vs) == 0 {
		s.Clear()
		return
	}
	sl := s.mutable()
	sl.v = slices.Clone(vs)
}

func (s *listState[K, V]) Clear() {
	b := s.b
	b.checkKey()
	s.m.remove(b.idx, b.key, b.keyHash)
	s.seq, s.cur = b.seq, cursor[K, []V]{}
}

func (s *listState[K, V]) name() string         { return s.nm }
func (s *listState[K, V]) kind() stateKind      { return kindList }
func (s *listState[K, V]) describe() string     { return "list state of " + typeName[V]() }
func (s *listState[K, V]) empty(idx int) bool   { return s.m.len(idx) == 0 }
func (s *listState[K, V]) entries() int64       { return s.m.total() }
func (s *listState[K, V]) keys() keyIterator[K] { return mapKeys(&s.m) }

// Section: count, then count times (key, length, values).
func (s *listState[K, V]) freeze(base uint64, written *int64) sectionWriter {
	return freezeState(s.nm, &s.m, base, written, s.b.rng, s.b.keyCodec, listAppender[V]{s.codec})
}

type listAppender[V any] struct{ c Codec[V] }

func (a listAppender[V]) Append(dst []byte, vs []V) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(vs)))
	for _, v := range vs {
		dst = a.c.Append(dst, v)
	}
	return dst
}

func (s *listState[K, V]) restore(idx int, data []byte) error {
	return restoreEntries(s.b, &s.m, idx, data, s.decode)
}

func (s *listState[K, V]) restoreDelta(idx int, data []byte) error {
	return restoreDeltaEntries(s.b, &s.m, idx, data, s.decode)
}

func (s *listState[K, V]) decode(d *sectionDecoder[K]) []V {
	l := d.count()
	if d.Err() == nil && l == 0 {
		d.fail("empty list")
	}
	vs := make([]V, 0, l)
	for j := 0; j < l && d.Err() == nil; j++ {
		vs = append(vs, decodeField(d, s.codec, "list element"))
	}
	return vs
}
