package nexmark

import (
	"encoding/binary"
	"errors"

	"github.com/sluicehq/sluice/internal/wire"
)

// State codecs: the queries keep small structs in keyed state and encode
// them with these varint codecs (state.DefaultCodec would use JSON).

var errCorrupt = errors.New("nexmark: corrupt state value")

// dec reads varints and strings from the front of a buffer, keeping the
// first error (see internal/wire).
type dec struct{ *wire.Decoder }

func (d dec) int() int64 { return d.Varint("") }

func (d dec) bool() bool { return d.int() != 0 }

// length reads a length that must fit in what is left (at least one byte
// per element, for a count).
func (d dec) length() int {
	l := d.int()
	if d.Err() == nil && (l < 0 || l > int64(d.Len())) {
		d.Fail(errCorrupt)
	}
	if d.Err() != nil {
		return 0
	}
	return int(l)
}

func (d dec) str() string {
	l := d.length()
	s := string(d.Rest()[:l])
	d.Skip("", l)
	return s
}

// count reads a count of elements of at least a byte each.
func (d dec) count() int { return d.length() }

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
	dec func(dec) T
}

func (c fnCodec[T]) Append(dst []byte, v T) []byte { return c.app(dst, v) }

func (c fnCodec[T]) Decode(src []byte) (T, int, error) {
	d := dec{wire.NewDecoder(src)}
	v := c.dec(d)
	if d.Err() != nil {
		var zero T
		return zero, 0, errCorrupt
	}
	return v, len(src) - d.Len(), nil
}

func appendBid(b []byte, v Bid) []byte {
	b = appendInt(b, v.Auction)
	b = appendInt(b, v.Bidder)
	b = appendInt(b, v.Price)
	b = appendInt(b, v.DateTime)
	return appendStr(b, v.Extra)
}

func decBid(d dec) Bid {
	return Bid{Auction: d.int(), Bidder: d.int(), Price: d.int(), DateTime: d.int(), Extra: d.str()}
}
