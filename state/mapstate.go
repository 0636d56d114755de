package state

import (
	"encoding/binary"
	"iter"
	"maps"
)

// MapState is a map from user keys to user values per key. Its methods
// work on the backend's current key.
//
// Get returns the value of uk and whether it is present; Put sets it;
// Remove deletes it; Contains reports whether it is present. All iterates
// the entries in no particular order (changing the map while iterating has
// the semantics of a Go map). Len and IsEmpty report the number of
// entries; Clear removes them all. As with ValueState, values that refer
// to memory must not be modified once put.
type MapState[UK comparable, UV any] interface {
	Get(UK) (UV, bool)
	Put(UK, UV)
	Remove(UK)
	Contains(UK) bool
	All() iter.Seq2[UK, UV]
	Len() int
	IsEmpty() bool
	Clear()
}

// Map returns the map state registered under name, registering it on first
// use; kc and vc nil mean DefaultCodec. The rules of Value apply.
func Map[K comparable, UK comparable, UV any](b *KeyedBackend[K], name string, kc Codec[UK], vc Codec[UV]) (MapState[UK, UV], error) {
	return register(b, name, kindMap, func() *mapState[K, UK, UV] {
		if kc == nil {
			kc = DefaultCodec[UK]()
		}
		if vc == nil {
			vc = DefaultCodec[UV]()
		}
		return &mapState[K, UK, UV]{
			b: b, nm: name, kc: kc, vc: vc,
			m: newCowMap[K, userMap[UK, UV]](b.v, b.hash, b.rng.Len()),
		}
	})
}

// userMap is the map of one key. Its epoch says when m was made: a
// snapshot may share m, which is then copied before it is changed.
type userMap[UK comparable, UV any] struct {
	epoch uint64
	m     map[UK]UV
}

type mapState[K comparable, UK comparable, UV any] struct {
	b  *KeyedBackend[K]
	nm string
	kc Codec[UK]
	vc Codec[UV]
	m  cowMap[K, userMap[UK, UV]]

	seq uint64
	cur cursor[K, userMap[UK, UV]]
}

func (s *mapState[K, UK, UV]) current() map[UK]UV {
	b := s.b
	if s.seq != b.seq {
		b.checkKey()
		s.cur = s.m.get(b.idx, b.key, b.keyHash)
		s.seq = b.seq
	}
	if s.cur.slot == nil {
		return nil
	}
	return s.cur.slot.v.m
}

// mutable returns the current key's map, writable, creating it if needed.
func (s *mapState[K, UK, UV]) mutable() map[UK]UV {
	b := s.b
	if s.seq != b.seq || !s.cur.writable() {
		b.checkKey()
		s.cur, _ = s.m.upsert(b.idx, b.key, b.keyHash)
		s.seq = b.seq
	} else {
		s.cur.touch()
	}
	um := &s.cur.slot.v
	switch {
	case um.m == nil:
		*um = userMap[UK, UV]{epoch: s.m.v.cur, m: make(map[UK]UV)}
	case s.m.v.sharedValue(um.epoch, b.idx):
		*um = userMap[UK, UV]{epoch: s.m.v.cur, m: maps.Clone(um.m)}
	}
	return um.m
}

func (s *mapState[K, UK, UV]) Get(uk UK) (UV, bool) {
	v, ok := s.current()[uk]
	return v, ok
}

func (s *mapState[K, UK, UV]) Put(uk UK, uv UV) { s.mutable()[uk] = uv }

func (s *mapState[K, UK, UV]) Remove(uk UK) {
	m := s.current()
	if _, ok := m[uk]; !ok {
		return
	}
	if len(m) == 1 {
		s.Clear()
		return
	}
	delete(s.mutable(), uk)
}

func (s *mapState[K, UK, UV]) Contains(uk UK) bool {
	_, ok := s.current()[uk]
	return ok
}

func (s *mapState[K, UK, UV]) All() iter.Seq2[UK, UV] { return maps.All(s.current()) }

func (s *mapState[K, UK, UV]) Len() int { return len(s.current()) }

func (s *mapState[K, UK, UV]) IsEmpty() bool { return len(s.current()) == 0 }

func (s *mapState[K, UK, UV]) Clear() {
	b := s.b
	b.checkKey()
	s.m.remove(b.idx, b.key, b.keyHash)
	s.seq, s.cur = b.seq, cursor[K, userMap[UK, UV]]{}
}

func (s *mapState[K, UK, UV]) name() string    { return s.nm }
func (s *mapState[K, UK, UV]) kind() stateKind { return kindMap }
func (s *mapState[K, UK, UV]) describe() string {
	return "map state of " + typeName[UK]() + " to " + typeName[UV]()
}
func (s *mapState[K, UK, UV]) empty(idx int) bool   { return s.m.len(idx) == 0 }
func (s *mapState[K, UK, UV]) entries() int64       { return s.m.total() }
func (s *mapState[K, UK, UV]) keys() keyIterator[K] { return mapKeys(&s.m) }

// Section: count, then count times (key, length, length times (user key,
// user value)).
func (s *mapState[K, UK, UV]) freeze(base uint64, written *int64) sectionWriter {
	return freezeState(s.nm, &s.m, base, written, s.b.rng, s.b.keyCodec, mapAppender[UK, UV]{s.kc, s.vc})
}

type mapAppender[UK comparable, UV any] struct {
	kc Codec[UK]
	vc Codec[UV]
}

func (a mapAppender[UK, UV]) Append(dst []byte, um userMap[UK, UV]) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(um.m)))
	for uk, uv := range um.m {
		dst = a.kc.Append(dst, uk)
		dst = a.vc.Append(dst, uv)
	}
	return dst
}

func (s *mapState[K, UK, UV]) restore(idx int, data []byte) error {
	return restoreEntries(s.b, &s.m, idx, data, s.decode)
}

func (s *mapState[K, UK, UV]) restoreDelta(idx int, data []byte) error {
	return restoreDeltaEntries(s.b, &s.m, idx, data, s.decode)
}

func (s *mapState[K, UK, UV]) decode(d *sectionDecoder[K]) userMap[UK, UV] {
	l := d.count()
	if d.Err() == nil && l == 0 {
		d.fail("empty map")
	}
	m := make(map[UK]UV, l)
	for j := 0; j < l && d.Err() == nil; j++ {
		uk := decodeField(d, s.kc, "map key")
		uv := decodeField(d, s.vc, "map value")
		if _, dup := m[uk]; dup && d.Err() == nil {
			d.fail("duplicate map key")
		}
		m[uk] = uv
	}
	return userMap[UK, UV]{epoch: s.m.v.cur, m: m}
}
