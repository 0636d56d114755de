package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The binary formats of splits, enumerator state, writer state and
// committables are versioned: each starts with a uvarint version. Decoders
// never panic and refuse anything malformed or out of range.

var errTruncated = errors.New("truncated")

// maxName bounds decoded strings: Kafka topics have at most 249 bytes,
// transactional ids are short; anything longer is corrupt.
const maxName = 1024

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errTruncated
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errTruncated
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that must be at most max.
func (d *decoder) count(max int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(max) {
		d.err = fmt.Errorf("count %d exceeds %d", n, max)
		return 0
	}
	return int(n)
}

func (d *decoder) bytes(max int) []byte {
	n := d.count(max)
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.err = errTruncated
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string(max int) string { return string(d.bytes(max)) }

// int32 reads a varint that must fit an int32.
func (d *decoder) int32() int32 {
	v := d.varint()
	if d.err == nil && (v < -1<<31 || v > 1<<31-1) {
		d.err = fmt.Errorf("%d out of int32 range", v)
	}
	return int32(v)
}

// int16 reads a varint that must fit an int16.
func (d *decoder) int16() int16 {
	v := d.varint()
	if d.err == nil && (v < -1<<15 || v > 1<<15-1) {
		d.err = fmt.Errorf("%d out of int16 range", v)
	}
	return int16(v)
}

// done checks that everything was consumed.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return d.err
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}
