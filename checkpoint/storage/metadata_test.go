package storage_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/checkpoint/storage"
)

var sampleMetadata = storage.Metadata{
	ID:      42,
	Kind:    storage.KindCheckpoint,
	Created: time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC),
	Files: []storage.FileInfo{
		{Name: "op-1-0.state", Size: 43, CRC32C: 0x22620404},
		{Name: "op-2-0.state", Size: 1 << 40, CRC32C: 0xffffffff},
	},
	Payload: []byte("runtime payload"),
}

func TestMetadataRoundTrip(t *testing.T) {
	cases := map[string]storage.Metadata{
		"sample":        sampleMetadata,
		"empty":         {ID: 0, Kind: storage.KindSavepoint, Created: time.UnixMilli(0).UTC()},
		"max id":        {ID: math.MaxInt64, Kind: storage.KindCheckpoint, Created: time.UnixMilli(-1).UTC(), Files: []storage.FileInfo{{Name: "a", Size: math.MaxInt64}}},
		"extreme times": {ID: 2, Kind: storage.KindCheckpoint, Created: time.UnixMilli(math.MinInt64).UTC()},
		"large payload": {ID: 1, Kind: storage.KindCheckpoint, Created: time.UnixMilli(1).UTC(), Payload: bytes.Repeat([]byte{0xff}, 100_000)},
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := storage.EncodeMetadata(m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := storage.DecodeMetadata(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("decoded %+v, want %+v", got, m)
			}
		})
	}
}

// TestMetadataGolden pins format version 1: the committed encoding decodes
// to sampleMetadata, and sampleMetadata encodes to it byte for byte.
func TestMetadataGolden(t *testing.T) {
	b, err := storage.EncodeMetadata(sampleMetadata)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "metadata-v1.bin")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("encoding changed:\n got %x\nwant %x", b, want)
	}
	m, err := storage.DecodeMetadata(want)
	if err != nil || !reflect.DeepEqual(m, sampleMetadata) {
		t.Errorf("decoded %+v, %v", m, err)
	}
}

func TestEncodeMetadataRefusesInvalid(t *testing.T) {
	cases := map[string]func(*storage.Metadata){
		"negative id":    func(m *storage.Metadata) { m.ID = -1 },
		"kind 0":         func(m *storage.Metadata) { m.Kind = 0 },
		"kind 3":         func(m *storage.Metadata) { m.Kind = 3 },
		"bad name":       func(m *storage.Metadata) { m.Files[0].Name = "../x" },
		"reserved name":  func(m *storage.Metadata) { m.Files[0].Name = "_metadata" },
		"duplicate name": func(m *storage.Metadata) { m.Files[1].Name = m.Files[0].Name },
		"negative size":  func(m *storage.Metadata) { m.Files[0].Size = -1 },
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			m := sampleMetadata
			m.Files = append([]storage.FileInfo(nil), m.Files...)
			breakIt(&m)
			if _, err := storage.EncodeMetadata(m); err == nil {
				t.Fatal("encoded")
			}
		})
	}
}

// resum recomputes the checksum of an encoding, so that tests reach the
// decoder's checks behind it.
func resum(b []byte) []byte { return withVersion(b, 1) }

func TestDecodeMetadataErrors(t *testing.T) {
	good, err := storage.EncodeMetadata(sampleMetadata)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	// Offsets in good: magic 0-7, version 8-9, id 10, kind 11, created
	// 12-17, file count 18, first name length 19, first name 20-31, its size
	// 32 and CRC 33-36, second name length 37, second name 38-49.
	cases := []struct {
		name   string
		input  []byte
		want   error
		reason string
	}{
		{"empty", nil, storage.ErrCorrupt, "too short"},
		{"magic only", []byte("SLUICECP"), storage.ErrCorrupt, "too short"},
		{"wrong magic", edit(func(b []byte) []byte { b[0] = 's'; return b }), storage.ErrCorrupt, "magic"},
		{"bit flip", edit(func(b []byte) []byte { b[30] ^= 4; return b }), storage.ErrCorrupt, "checksum"},
		{"checksum flip", edit(func(b []byte) []byte { b[len(b)-1] ^= 4; return b }), storage.ErrCorrupt, "checksum"},
		{"version 0", withVersion(good, 0), storage.ErrCorrupt, "version 0"},
		{"version 2", withVersion(good, 2), storage.ErrUnsupportedVersion, "version 2"},
		{"kind 7", edit(func(b []byte) []byte { b[11] = 7; return resum(b) }), storage.ErrCorrupt, "unknown kind"},
		{"file count too large", edit(func(b []byte) []byte { b[18] = 0x7f; return resum(b) }), storage.ErrCorrupt, "file count"},
		{"name length too large", edit(func(b []byte) []byte { b[19] = 0x7f; return resum(b) }), storage.ErrCorrupt, "file name: length"},
		{"bad name", edit(func(b []byte) []byte { b[22] = '/'; return resum(b) }), storage.ErrCorrupt, "not allowed"},
		{"reserved name", edit(func(b []byte) []byte { b[20] = '.'; return resum(b) }), storage.ErrCorrupt, "must not start"},
		{"duplicate name", edit(func(b []byte) []byte { b[41] = '1'; return resum(b) }), storage.ErrCorrupt, "listed twice"},
		{"trailing bytes", resum(append(append([]byte(nil), good...), 0, 0, 0, 0)), storage.ErrCorrupt, "trailing"},
		{"truncated body", resum(append(append([]byte(nil), good[:35]...), 0, 0, 0, 0)), storage.ErrCorrupt, "truncated"},
		{"overlong uvarint", resum(append(append([]byte(nil), good[:18]...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)), storage.ErrCorrupt, "bad uvarint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := storage.DecodeMetadata(c.input)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("DecodeMetadata = %v, want %v containing %q", err, c.want, c.reason)
			}
		})
	}
	// Every truncation fails cleanly.
	for n := range len(good) {
		if _, err := storage.DecodeMetadata(good[:n]); !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
		if n < 10 || n == len(good)-4 {
			continue // no complete header to re-checksum, or the whole body
		}
		if _, err := storage.DecodeMetadata(resum(append(append([]byte(nil), good[:n]...), 0, 0, 0, 0))); err == nil {
			t.Fatalf("truncated to %d with valid checksum decoded", n)
		}
	}
}

// FuzzDecodeMetadata decodes each input twice: as it is, and with a valid
// checksum appended, so that mutations reach the body decoder behind the
// checksum check.
func FuzzDecodeMetadata(f *testing.F) {
	for _, m := range []storage.Metadata{
		sampleMetadata,
		{Kind: storage.KindSavepoint},
		{ID: 9, Kind: storage.KindCheckpoint, Files: []storage.FileInfo{{Name: "a", Size: 1, CRC32C: 2}}, Payload: []byte{0}},
	} {
		b, err := storage.EncodeMetadata(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-4])
		f.Add(b[:len(b)/2])
		f.Add(withVersion(b, 2)[:len(b)-4])
	}
	f.Add([]byte{})
	f.Add([]byte("SLUICECP\x01\x00"))
	f.Add([]byte("SLUICECP\x01\x00\x00\x01\x00\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		check(t, b)
		sum := crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
		check(t, binary.LittleEndian.AppendUint32(append([]byte(nil), b...), sum))
	})
}

// check decodes b: it must fail with a sentinel error, or decode to
// metadata that encodes and decodes to the same.
func check(t *testing.T, b []byte) {
	m, err := storage.DecodeMetadata(b)
	if err != nil {
		if !errors.Is(err, storage.ErrCorrupt) && !errors.Is(err, storage.ErrUnsupportedVersion) {
			t.Fatalf("error %v wraps no sentinel", err)
		}
		return
	}
	b2, err := storage.EncodeMetadata(m)
	if err != nil {
		t.Fatalf("decoded metadata does not encode: %v", err)
	}
	m2, err := storage.DecodeMetadata(b2)
	if err != nil || !reflect.DeepEqual(m, m2) {
		t.Fatalf("round trip: %+v, %v; want %+v", m2, err, m)
	}
}

// withVersion returns a copy of an encoded _metadata with another format
// version and a valid checksum.
func withVersion(b []byte, v uint16) []byte {
	b = append([]byte(nil), b...)
	binary.LittleEndian.PutUint16(b[8:], v)
	body := b[:len(b)-4]
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	return b
}
