package state

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"time"
	"unsafe"
)

// Codec encodes and decodes values of type T in state snapshots.
//
// Append appends the encoding of v to dst and returns the extended slice.
// Decode decodes one value from the front of src and returns it with the
// number of bytes it used; it returns an error, and never panics, when src
// does not start with a valid encoding. A decoded value must not alias src.
// Every encoding takes at least one byte (decoders of snapshots bound the
// counts they read by the bytes left).
// A Codec is used from several goroutines at once (snapshots are written
// while the operator runs), so it must be safe for concurrent use.
type Codec[T any] interface {
	Append(dst []byte, v T) []byte
	Decode(src []byte) (v T, n int, err error)
}

// DefaultCodec returns the codec used when none is given.
//
// Booleans, integers, floats, strings, byte slices, byte arrays, time.Time
// and time.Duration, and named types whose underlying type is one of those,
// get a compact binary encoding: one byte for bool, zig-zag varints for
// signed integers, varints for unsigned integers, IEEE 754 bits for floats,
// a varint length and the bytes for strings and byte slices (an empty slice
// decodes as nil), the bytes for [N]byte, and seconds, nanoseconds and zone
// offset for time.Time (the zone name and monotonic reading are dropped, as
// in time.Time.MarshalBinary; compare decoded times with Equal). Types of
// size zero, such as struct{}, encode as a single 0 byte.
//
// Every other type is encoded as JSON with a varint length prefix
// (JSONCodec): only exported struct fields survive, and encoding is slow.
// Pass a Codec of your own for speed or fidelity.
func DefaultCodec[T any]() Codec[T] {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Interface && t.Size() == 0 {
		return emptyCodec[T]{}
	}
	if t.Kind() == reflect.Struct && t.ConvertibleTo(timeType) && t.Size() == timeType.Size() {
		return timeCodec[T]{}
	}
	switch t.Kind() {
	case reflect.Bool:
		return boolCodec[T]{}
	case reflect.Int8:
		return intCodec[T, int8]{}
	case reflect.Int16:
		return intCodec[T, int16]{}
	case reflect.Int32:
		return intCodec[T, int32]{}
	case reflect.Int64:
		return intCodec[T, int64]{}
	case reflect.Int:
		return intCodec[T, int]{}
	case reflect.Uint8:
		return uintCodec[T, uint8]{}
	case reflect.Uint16:
		return uintCodec[T, uint16]{}
	case reflect.Uint32:
		return uintCodec[T, uint32]{}
	case reflect.Uint64:
		return uintCodec[T, uint64]{}
	case reflect.Uint:
		return uintCodec[T, uint]{}
	case reflect.Uintptr:
		return uintCodec[T, uintptr]{}
	case reflect.Float32:
		return float32Codec[T]{}
	case reflect.Float64:
		return float64Codec[T]{}
	case reflect.String:
		return stringCodec[T]{}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return bytesCodec[T]{}
		}
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return byteArrayCodec[T]{n: t.Len()}
		}
	}
	return JSONCodec[T]()
}

var timeType = reflect.TypeFor[time.Time]()

// JSONCodec returns a codec that encodes values with encoding/json, prefixed
// by their length as a varint. Only exported struct fields are encoded.
// Append panics with an error if v cannot be encoded as JSON (a channel, a
// NaN float, ...); Snapshot.WriteTo turns such a panic into its error.
func JSONCodec[T any]() Codec[T] { return jsonCodec[T]{} }

// encodeError is the panic value of a codec that cannot encode a value;
// Snapshot.WriteTo recovers it and returns it as an error.
type encodeError struct{ err error }

func (e encodeError) Error() string { return e.err.Error() }
func (e encodeError) Unwrap() error { return e.err }

type jsonCodec[T any] struct{}

func (jsonCodec[T]) Append(dst []byte, v T) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(encodeError{fmt.Errorf("state: encode %v as JSON: %w", reflect.TypeFor[T](), err)})
	}
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func (jsonCodec[T]) Decode(src []byte) (T, int, error) {
	var v T
	b, n, err := decodeLenPrefixed(src)
	if err != nil {
		return v, 0, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, 0, fmt.Errorf("%w: JSON %v: %v", ErrCorrupt, reflect.TypeFor[T](), err)
	}
	return v, n, nil
}

// decodeLenPrefixed returns the bytes of a varint-length-prefixed field at
// the front of src (aliasing src) and the total bytes used.
func decodeLenPrefixed(src []byte) ([]byte, int, error) {
	l, n := binary.Uvarint(src)
	if n <= 0 {
		return nil, 0, fmt.Errorf("%w: bad length prefix", ErrCorrupt)
	}
	if l > uint64(len(src)-n) {
		return nil, 0, fmt.Errorf("%w: length %d exceeds the %d bytes left", ErrCorrupt, l, len(src)-n)
	}
	return src[n : n+int(l)], n + int(l), nil
}

// emptyCodec encodes a value of a zero-size type as one 0 byte, so that
// every encoded value takes at least a byte.
type emptyCodec[T any] struct{}

func (emptyCodec[T]) Append(dst []byte, _ T) []byte { return append(dst, 0) }

func (emptyCodec[T]) Decode(src []byte) (v T, n int, err error) {
	if len(src) == 0 || src[0] != 0 {
		return v, 0, fmt.Errorf("%w: bad empty value", ErrCorrupt)
	}
	return v, 1, nil
}

type boolCodec[T any] struct{}

func (boolCodec[T]) Append(dst []byte, v T) []byte {
	if *(*bool)(unsafe.Pointer(&v)) {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func (boolCodec[T]) Decode(src []byte) (v T, n int, err error) {
	if len(src) == 0 || src[0] > 1 {
		return v, 0, fmt.Errorf("%w: bad bool", ErrCorrupt)
	}
	*(*bool)(unsafe.Pointer(&v)) = src[0] == 1
	return v, 1, nil
}

type signed interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~int
}

type intCodec[T any, I signed] struct{}

func (intCodec[T, I]) Append(dst []byte, v T) []byte {
	return binary.AppendVarint(dst, int64(*(*I)(unsafe.Pointer(&v))))
}

func (intCodec[T, I]) Decode(src []byte) (v T, n int, err error) {
	x, n := binary.Varint(src)
	if n <= 0 {
		return v, 0, fmt.Errorf("%w: bad varint", ErrCorrupt)
	}
	if int64(I(x)) != x {
		return v, 0, fmt.Errorf("%w: integer %d overflows %v", ErrCorrupt, x, reflect.TypeFor[T]())
	}
	*(*I)(unsafe.Pointer(&v)) = I(x)
	return v, n, nil
}

type unsigned interface {
	~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uint | ~uintptr
}

type uintCodec[T any, U unsigned] struct{}

func (uintCodec[T, U]) Append(dst []byte, v T) []byte {
	return binary.AppendUvarint(dst, uint64(*(*U)(unsafe.Pointer(&v))))
}

func (uintCodec[T, U]) Decode(src []byte) (v T, n int, err error) {
	x, n := binary.Uvarint(src)
	if n <= 0 {
		return v, 0, fmt.Errorf("%w: bad varint", ErrCorrupt)
	}
	if uint64(U(x)) != x {
		return v, 0, fmt.Errorf("%w: integer %d overflows %v", ErrCorrupt, x, reflect.TypeFor[T]())
	}
	*(*U)(unsafe.Pointer(&v)) = U(x)
	return v, n, nil
}

type float32Codec[T any] struct{}

func (float32Codec[T]) Append(dst []byte, v T) []byte {
	return binary.LittleEndian.AppendUint32(dst, math.Float32bits(*(*float32)(unsafe.Pointer(&v))))
}

func (float32Codec[T]) Decode(src []byte) (v T, n int, err error) {
	if len(src) < 4 {
		return v, 0, fmt.Errorf("%w: short float32", ErrCorrupt)
	}
	*(*float32)(unsafe.Pointer(&v)) = math.Float32frombits(binary.LittleEndian.Uint32(src))
	return v, 4, nil
}

type float64Codec[T any] struct{}

func (float64Codec[T]) Append(dst []byte, v T) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(*(*float64)(unsafe.Pointer(&v))))
}

func (float64Codec[T]) Decode(src []byte) (v T, n int, err error) {
	if len(src) < 8 {
		return v, 0, fmt.Errorf("%w: short float64", ErrCorrupt)
	}
	*(*float64)(unsafe.Pointer(&v)) = math.Float64frombits(binary.LittleEndian.Uint64(src))
	return v, 8, nil
}

type stringCodec[T any] struct{}

func (stringCodec[T]) Append(dst []byte, v T) []byte {
	s := *(*string)(unsafe.Pointer(&v))
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func (stringCodec[T]) Decode(src []byte) (v T, n int, err error) {
	b, n, err := decodeLenPrefixed(src)
	if err != nil {
		return v, 0, err
	}
	*(*string)(unsafe.Pointer(&v)) = string(b)
	return v, n, nil
}

type bytesCodec[T any] struct{}

func (bytesCodec[T]) Append(dst []byte, v T) []byte {
	s := *(*[]byte)(unsafe.Pointer(&v))
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func (bytesCodec[T]) Decode(src []byte) (v T, n int, err error) {
	b, n, err := decodeLenPrefixed(src)
	if err != nil {
		return v, 0, err
	}
	if len(b) > 0 {
		*(*[]byte)(unsafe.Pointer(&v)) = append([]byte(nil), b...)
	}
	return v, n, nil
}

type byteArrayCodec[T any] struct{ n int }

func (c byteArrayCodec[T]) Append(dst []byte, v T) []byte {
	return append(dst, unsafe.Slice((*byte)(unsafe.Pointer(&v)), c.n)...)
}

func (c byteArrayCodec[T]) Decode(src []byte) (v T, n int, err error) {
	if len(src) < c.n {
		return v, 0, fmt.Errorf("%w: short [%d]byte", ErrCorrupt, c.n)
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&v)), c.n), src)
	return v, c.n, nil
}

// timeCodec encodes a time.Time as a zone byte (0 UTC, 1 fixed offset
// follows as a zig-zag varint of seconds), then Unix seconds (zig-zag
// varint) and nanoseconds (varint).
type timeCodec[T any] struct{}

func (timeCodec[T]) Append(dst []byte, v T) []byte {
	t := *(*time.Time)(unsafe.Pointer(&v))
	if t.Location() == time.UTC {
		dst = append(dst, 0)
	} else {
		_, off := t.Zone()
		dst = append(dst, 1)
		dst = binary.AppendVarint(dst, int64(off))
	}
	dst = binary.AppendVarint(dst, t.Unix())
	return binary.AppendUvarint(dst, uint64(t.Nanosecond()))
}

func (timeCodec[T]) Decode(src []byte) (v T, n int, err error) {
	bad := func(what string) (T, int, error) {
		var z T
		return z, 0, fmt.Errorf("%w: bad time.Time %s", ErrCorrupt, what)
	}
	if len(src) == 0 || src[0] > 1 {
		return bad("zone flag")
	}
	n = 1
	var off int64
	if src[0] == 1 {
		x, m := binary.Varint(src[n:])
		if m <= 0 || x < -1<<31 || x > 1<<31-1 {
			return bad("offset")
		}
		off, n = x, n+m
	}
	sec, m := binary.Varint(src[n:])
	if m <= 0 {
		return bad("seconds")
	}
	n += m
	nsec, m := binary.Uvarint(src[n:])
	if m <= 0 || nsec >= 1e9 {
		return bad("nanoseconds")
	}
	n += m
	t := time.Unix(sec, int64(nsec))
	if src[0] == 0 {
		t = t.UTC()
	} else {
		t = t.In(time.FixedZone("", int(off)))
	}
	*(*time.Time)(unsafe.Pointer(&v)) = t
	return v, n, nil
}
