package nexmark

import (
	"encoding/binary"
	"errors"
)

// State codecs: the queries keep small structs in keyed state and encode
// them with these varint codecs (state.DefaultCodec would use JSON).

var errCorrupt = errors.New("nexmark: corrupt state value")

// dec reads varints and strings from the front of a buffer, keeping the
// first error.
type dec struct {
	b   []byte
	n   int
	err error
}

func (d *dec) int() int64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Varint(d.b[d.n:])
	if k <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.n += k
	return v
}

func (d *dec) bool() bool { return d.int() != 0 }

func (d *dec) str() string {
	l := d.int()
	if d.err != nil {
		return ""
	}
	if l < 0 || l > int64(len(d.b)-d.n) {
		d.err = errCorrupt
		return ""
	}
	s := string(d.b[d.n : d.n+int(l)])
	d.n += int(l)
	return s
}

// count reads a length that must fit in what is left (at least one byte
// per element).
func (d *dec) count() int {
	l := d.int()
	if d.err == nil && (l < 0 || l > int64(len(d.b)-d.n)) {
		d.err = errCorrupt
	}
	if d.err != nil {
		return 0
	}
	return int(l)
}

func appendInt(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 2) // zig-zag 1
	}
	return append(b, 0)
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendVarint(b, int64(len(s)))
	return append(b, s...)
}

// fnCodec is a state.Codec made of two functions.
type fnCodec[T any] struct {
	app func([]byte, T) []byte
	dec func(*dec) T
}

func (c fnCodec[T]) Append(dst []byte, v T) []byte { return c.app(dst, v) }

func (c fnCodec[T]) Decode(src []byte) (T, int, error) {
	d := dec{b: src}
	v := c.dec(&d)
	if d.err != nil {
		var zero T
		return zero, 0, d.err
	}
	return v, d.n, nil
}

func appendBid(b []byte, v Bid) []byte {
	b = appendInt(b, v.Auction)
	b = appendInt(b, v.Bidder)
	b = appendInt(b, v.Price)
	b = appendInt(b, v.DateTime)
	return appendStr(b, v.Extra)
}

func decBid(d *dec) Bid {
	return Bid{Auction: d.int(), Bidder: d.int(), Price: d.int(), DateTime: d.int(), Extra: d.str()}
}
