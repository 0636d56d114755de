package wire

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestDecoder(t *testing.T) {
	b := binary.AppendUvarint(nil, 300)
	b = binary.AppendVarint(b, -7)
	b = append(b, 9)
	b = binary.LittleEndian.AppendUint32(b, 0xdeadbeef)
	b = binary.AppendUvarint(b, 3)
	b = append(b, "abc"...)
	b = binary.AppendVarint(b, math.MinInt32)
	b = binary.AppendVarint(b, 12)
	b = binary.AppendUvarint(b, 12)
	b = binary.AppendUvarint(b, 2)
	b = append(b, 1, 2)

	d := NewDecoder(b)
	if got := d.Uvarint("u"); got != 300 {
		t.Errorf("Uvarint = %d", got)
	}
	if got := d.Varint("v"); got != -7 {
		t.Errorf("Varint = %d", got)
	}
	if got := d.Byte("b"); got != 9 {
		t.Errorf("Byte = %d", got)
	}
	if got := d.Uint32("w"); got != 0xdeadbeef {
		t.Errorf("Uint32 = %#x", got)
	}
	if got := d.String("s", 10); got != "abc" {
		t.Errorf("String = %q", got)
	}
	if got := d.Int32("i"); got != math.MinInt32 {
		t.Errorf("Int32 = %d", got)
	}
	if got := d.Int16("h"); got != 12 {
		t.Errorf("Int16 = %d", got)
	}
	if got := d.Uint("n", 12); got != 12 {
		t.Errorf("Uint = %d", got)
	}
	if got := d.Count("c", 1, 10); got != 2 || d.Len() != 2 {
		t.Errorf("Count = %d, %d left", got, d.Len())
	}
	d.Skip("entries", 2)
	if err := d.Done(); err != nil {
		t.Fatal(err)
	}
}

func TestDecoderErrors(t *testing.T) {
	overlong := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}
	cases := []struct {
		name string
		in   []byte
		read func(d *Decoder)
		is   error  // wrapped by the error, if not nil
		want string // in the error
	}{
		{"empty uvarint", nil, func(d *Decoder) { d.Uvarint("id") }, ErrTruncated, "id: truncated"},
		{"cut uvarint", []byte{0x80}, func(d *Decoder) { d.Uvarint("id") }, ErrTruncated, "id: truncated"},
		{"overlong uvarint", overlong, func(d *Decoder) { d.Uvarint("id") }, ErrOverflow, "id: varint overflows"},
		{"overlong varint", overlong, func(d *Decoder) { d.Varint("") }, ErrOverflow, "varint overflows"},
		{"int32 range", binary.AppendVarint(nil, 1<<31), func(d *Decoder) { d.Int32("p") }, nil, "p: 2147483648 out of int32 range"},
		{"int16 range", binary.AppendVarint(nil, -1<<15-1), func(d *Decoder) { d.Int16("p") }, nil, "out of int16 range"},
		{"byte", nil, func(d *Decoder) { d.Byte("kind") }, ErrTruncated, "kind: truncated"},
		{"uint32", []byte{1, 2, 3}, func(d *Decoder) { d.Uint32("crc") }, ErrTruncated, "crc: truncated"},
		{"uint over max", binary.AppendUvarint(nil, 11), func(d *Decoder) { d.Uint("slot", 10) }, nil, "slot: 11 exceeds 10"},
		{"count over max", binary.AppendUvarint(nil, 11), func(d *Decoder) { d.Count("n", 1, 10) }, nil, "n 11 exceeds 10"},
		{"count over data", append(binary.AppendUvarint(nil, 3), 0, 0, 0, 0, 0), func(d *Decoder) { d.Count("n", 2, 10) }, ErrTruncated, "n 3 exceeds what the 5 bytes left can hold"},
		{"bytes over max", append(binary.AppendUvarint(nil, 4), "abcd"...), func(d *Decoder) { d.Bytes("name", 3) }, nil, "name: length 4 exceeds 3"},
		{"bytes over data", append(binary.AppendUvarint(nil, 4), "abc"...), func(d *Decoder) { d.Bytes("name", 9) }, ErrTruncated, "length 4 exceeds 3 remaining bytes"},
		{"skip", []byte{1}, func(d *Decoder) { d.Skip("entry", 2) }, ErrTruncated, "entry: truncated"},
		{"trailing", []byte{1, 2}, func(d *Decoder) { d.Byte("x") }, nil, "1 trailing bytes"},
		{"first error sticks", nil, func(d *Decoder) { d.Byte("first"); d.Failf("second") }, ErrTruncated, "first: truncated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder(c.in)
			c.read(d)
			err := d.Done()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("err = %v, does not wrap %v", err, c.is)
			}
			// Reads after an error return zero values.
			if d.Uvarint("") != 0 || d.Varint("") != 0 || d.Bytes("", 9) != nil || d.Count("", 1, 9) != 0 {
				t.Error("a read after an error returned a value")
			}
		})
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add([]byte{0x80}, uint8(0))
	f.Add(binary.AppendUvarint(nil, 1<<40), uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, ops uint8) {
		d := NewDecoder(b)
		for i := range 8 {
			switch (int(ops) + i) % 7 {
			case 0:
				d.Uvarint("")
			case 1:
				d.Varint("")
			case 2:
				d.Bytes("", 16)
			case 3:
				d.Count("", 1, 16)
			case 4:
				d.Uint32("")
			case 5:
				d.Int32("")
			case 6:
				d.Byte("")
			}
		}
		if d.Err() == nil && d.Len() > len(b) {
			t.Fatal("read more than the input")
		}
	})
}
