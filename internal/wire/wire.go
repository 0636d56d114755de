// Package wire reads the varint-based binary formats of sluice: checkpoint
// metadata, keyed-state sections, connector splits, writer state and
// committables, and the state values of the Nexmark queries. The writing
// side is encoding/binary's Append functions; this is the one reading side.
//
// A Decoder never panics on malformed input: the first error sticks, and
// every later read returns a zero value, so a decoder of a format reads
// all its fields and checks Err once.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrTruncated is wrapped by the error of a read past the end of the
// input.
var ErrTruncated = errors.New("truncated")

// ErrOverflow is wrapped by the error of a varint longer than 64 bits.
var ErrOverflow = errors.New("varint overflows 64 bits")

// Decoder reads fields from the front of a byte slice.
type Decoder struct {
	b   []byte
	err error
}

// NewDecoder returns a Decoder of b. Slices it returns alias b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Err returns the first error, nil if there was none.
func (d *Decoder) Err() error { return d.err }

// Fail records err unless an error was recorded before.
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Failf records an error made from format and args unless an error was
// recorded before.
func (d *Decoder) Failf(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

// Len returns the number of bytes not read yet.
func (d *Decoder) Len() int { return len(d.b) }

// Rest returns the bytes not read yet.
func (d *Decoder) Rest() []byte { return d.b }

// Skip consumes n bytes that the caller read from Rest; n beyond Len is a
// truncation.
func (d *Decoder) Skip(what string, n int) {
	if d.err != nil {
		return
	}
	if n < 0 || n > len(d.b) {
		d.fail(what, ErrTruncated)
		return
	}
	d.b = d.b[n:]
}

func (d *Decoder) fail(what string, err error) {
	if what != "" {
		err = fmt.Errorf("%s: %w", what, err)
	}
	d.Fail(err)
}

// varintErr is the error of binary.Uvarint's or binary.Varint's n <= 0.
func varintErr(n int) error {
	if n == 0 {
		return ErrTruncated
	}
	return ErrOverflow
}

// Uvarint reads an unsigned varint; what names the field in errors.
func (d *Decoder) Uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what, varintErr(n))
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Varint reads a signed (zig-zag) varint.
func (d *Decoder) Varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what, varintErr(n))
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Int32 reads a signed varint that must fit an int32.
func (d *Decoder) Int32(what string) int32 {
	v := d.Varint(what)
	if d.err == nil && (v < -1<<31 || v > 1<<31-1) {
		d.fail(what, fmt.Errorf("%d out of int32 range", v))
		return 0
	}
	return int32(v)
}

// Int16 reads a signed varint that must fit an int16.
func (d *Decoder) Int16(what string) int16 {
	v := d.Varint(what)
	if d.err == nil && (v < -1<<15 || v > 1<<15-1) {
		d.fail(what, fmt.Errorf("%d out of int16 range", v))
		return 0
	}
	return int16(v)
}

// Byte reads one byte.
func (d *Decoder) Byte(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail(what, ErrTruncated)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// Uint32 reads four bytes, little-endian.
func (d *Decoder) Uint32(what string) uint32 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 4 {
		d.fail(what, ErrTruncated)
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

// Uint reads an unsigned varint that must be at most max.
func (d *Decoder) Uint(what string, max int) int {
	n := d.Uvarint(what)
	if d.err == nil && n > uint64(max) {
		d.fail(what, fmt.Errorf("%d exceeds %d", n, max))
		return 0
	}
	return int(n)
}

// Count reads an unsigned varint count of entries each at least minSize
// (> 0) bytes long, and at most max of them: a count the rest of the
// input cannot hold is an error, so that no decoder allocates for
// entries that are not there.
func (d *Decoder) Count(what string, minSize int, max uint64) int {
	n := d.Uvarint(what)
	if d.err != nil {
		return 0
	}
	if what == "" {
		what = "count"
	}
	if n > max {
		d.Fail(fmt.Errorf("%s %d exceeds %d", what, n, max))
		return 0
	}
	if n > uint64(len(d.b)/minSize) {
		d.Fail(fmt.Errorf("%s %d exceeds what the %d bytes left can hold: %w", what, n, len(d.b), ErrTruncated))
		return 0
	}
	return int(n)
}

// Bytes reads an unsigned varint length, at most max, and that many
// bytes. The result aliases the input and has no spare capacity.
func (d *Decoder) Bytes(what string, max int) []byte {
	n := d.Uvarint(what)
	if d.err != nil {
		return nil
	}
	if n > uint64(max) {
		d.fail(what, fmt.Errorf("length %d exceeds %d", n, max))
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(what, fmt.Errorf("length %d exceeds %d remaining bytes: %w", n, len(d.b), ErrTruncated))
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// String reads a string as Bytes does, copied.
func (d *Decoder) String(what string, max int) string { return string(d.Bytes(what, max)) }

// Done records an error if bytes are left unread, and returns Err.
func (d *Decoder) Done() error {
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return d.err
}
