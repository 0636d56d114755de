package state

import (
	"math"
	"math/bits"
	"reflect"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// Hasher returns the key hash of type K, the hash that assigns keys to key
// groups (KeyGroupOf). Checkpoints depend on it, so it never changes: it is
// the 64-bit xxHash (seed 0) of the key's canonical bytes:
//
//   - string kinds: the bytes of the string;
//   - signed integer kinds: the 8-byte big-endian form of int64(k);
//   - unsigned integer kinds: the 8-byte big-endian form of uint64(k);
//   - bool: one byte, 0 or 1;
//   - float kinds: the 8-byte big-endian form of math.Float64bits(float64(k)),
//     with -0 hashed as 0 and every NaN as the canonical quiet NaN
//     0x7ff8000000000001;
//   - arrays of bytes ([N]byte, N > 0): the bytes;
//   - any other comparable type: the encoding of k by DefaultCodec[K]
//     (one 0 byte for types of size zero; for structs, JSON of the exported
//     fields, so keys that differ only in unexported fields collide, and
//     the hash allocates). Such keys are slower; prefer a string or integer
//     key on hot paths.
//
// Named types hash as their underlying kind. The strategy is chosen once,
// here; the returned function does not allocate for the kinds above and is
// safe for concurrent use.
func Hasher[K comparable]() func(K) uint64 {
	t := reflect.TypeFor[K]()
	switch t.Kind() {
	case reflect.String:
		return func(k K) uint64 { return xxhash.Sum64String(*(*string)(unsafe.Pointer(&k))) }
	case reflect.Int8:
		return func(k K) uint64 { return hash8BE(uint64(int64(*(*int8)(unsafe.Pointer(&k))))) }
	case reflect.Int16:
		return func(k K) uint64 { return hash8BE(uint64(int64(*(*int16)(unsafe.Pointer(&k))))) }
	case reflect.Int32:
		return func(k K) uint64 { return hash8BE(uint64(int64(*(*int32)(unsafe.Pointer(&k))))) }
	case reflect.Int64:
		return func(k K) uint64 { return hash8BE(uint64(*(*int64)(unsafe.Pointer(&k)))) }
	case reflect.Int:
		return func(k K) uint64 { return hash8BE(uint64(int64(*(*int)(unsafe.Pointer(&k))))) }
	case reflect.Uint8:
		return func(k K) uint64 { return hash8BE(uint64(*(*uint8)(unsafe.Pointer(&k)))) }
	case reflect.Uint16:
		return func(k K) uint64 { return hash8BE(uint64(*(*uint16)(unsafe.Pointer(&k)))) }
	case reflect.Uint32:
		return func(k K) uint64 { return hash8BE(uint64(*(*uint32)(unsafe.Pointer(&k)))) }
	case reflect.Uint64:
		return func(k K) uint64 { return hash8BE(*(*uint64)(unsafe.Pointer(&k))) }
	case reflect.Uint:
		return func(k K) uint64 { return hash8BE(uint64(*(*uint)(unsafe.Pointer(&k)))) }
	case reflect.Uintptr:
		return func(k K) uint64 { return hash8BE(uint64(*(*uintptr)(unsafe.Pointer(&k)))) }
	case reflect.Bool:
		return func(k K) uint64 {
			if *(*bool)(unsafe.Pointer(&k)) {
				return hash1(1)
			}
			return hash1(0)
		}
	case reflect.Float32:
		return func(k K) uint64 { return hash8BE(canonicalFloatBits(float64(*(*float32)(unsafe.Pointer(&k))))) }
	case reflect.Float64:
		return func(k K) uint64 { return hash8BE(canonicalFloatBits(*(*float64)(unsafe.Pointer(&k)))) }
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Len() > 0 {
			n := t.Len()
			return func(k K) uint64 { return xxhash.Sum64(unsafe.Slice((*byte)(unsafe.Pointer(&k)), n)) }
		}
	}
	c := DefaultCodec[K]()
	return func(k K) uint64 { return xxhash.Sum64(c.Append(nil, k)) }
}

// canonicalNaN is the bit pattern every NaN key hashes as.
const canonicalNaN = 0x7ff8000000000001

func canonicalFloatBits(f float64) uint64 {
	switch {
	case f == 0:
		return 0
	case f != f:
		return canonicalNaN
	}
	return math.Float64bits(f)
}

// xxHash64 primes.
const (
	xxPrime1 uint64 = 11400714785074694791
	xxPrime2 uint64 = 14029467366897019727
	xxPrime3 uint64 = 1609587929392839161
	xxPrime4 uint64 = 9650029242287828579
	xxPrime5 uint64 = 2870177450012600261
)

// hash8BE is xxhash.Sum64 of the 8-byte big-endian form of v, inlined so
// that integer keys hash without a slice or a call into assembly.
func hash8BE(v uint64) uint64 {
	x := bits.ReverseBytes64(v) // xxHash reads the 8 bytes little-endian
	h := xxPrime5 + 8
	k := bits.RotateLeft64(x*xxPrime2, 31) * xxPrime1
	h ^= k
	h = bits.RotateLeft64(h, 27)*xxPrime1 + xxPrime4
	return xxAvalanche(h)
}

// hash1 is xxhash.Sum64 of the single byte b.
func hash1(b byte) uint64 {
	h := xxPrime5 + 1
	h ^= uint64(b) * xxPrime5
	h = bits.RotateLeft64(h, 11) * xxPrime1
	return xxAvalanche(h)
}

func xxAvalanche(h uint64) uint64 {
	h ^= h >> 33
	h *= xxPrime2
	h ^= h >> 29
	h *= xxPrime3
	h ^= h >> 32
	return h
}
