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

// sampleMetadataV2 is sampleMetadata with uses: format version 2.
var sampleMetadataV2 = func() storage.Metadata {
	m := sampleMetadata
	m.Uses = []string{"chk-3", "chk-40"}
	return m
}()

// unsupportedVersion is a format version newer than this build reads.
const unsupportedVersion = 3

func TestMetadataRoundTrip(t *testing.T) {
	cases := map[string]storage.Metadata{
		"sample":        sampleMetadata,
		"sample v2":     sampleMetadataV2,
		"uses only":     {ID: 1, Kind: storage.KindCheckpoint, Created: time.UnixMilli(0).UTC(), Uses: []string{"chk-0"}},
		"many uses":     {ID: math.MaxInt64, Kind: storage.KindCheckpoint, Created: time.UnixMilli(5).UTC(), Uses: []string{"chk-9223372036854775806", "chk-7", "chk-1"}, Payload: []byte("p")},
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

// TestMetadataGolden pins format versions 1 and 2: each committed encoding
// decodes to its sample, and the sample encodes to it byte for byte.
// Metadata without uses is still written in version 1.
func TestMetadataGolden(t *testing.T) {
	for _, c := range []struct {
		file    string
		m       storage.Metadata
		version uint16
	}{
		{"metadata-v1.bin", sampleMetadata, 1},
		{"metadata-v2.bin", sampleMetadataV2, 2},
	} {
		t.Run(c.file, func(t *testing.T) {
			b, err := storage.EncodeMetadata(c.m)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", c.file)
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
			if v := binary.LittleEndian.Uint16(want[8:]); v != c.version {
				t.Errorf("format version %d, want %d", v, c.version)
			}
			m, err := storage.DecodeMetadata(want)
			if err != nil || !reflect.DeepEqual(m, c.m) {
				t.Errorf("decoded %+v, %v", m, err)
			}
		})
	}
	// Version 2 is version 1 with the uses between the files and the
	// payload.
	v1, _ := os.ReadFile(filepath.Join("testdata", "metadata-v1.bin"))
	v2, _ := os.ReadFile(filepath.Join("testdata", "metadata-v2.bin"))
	uses := []byte("\x02\x05chk-3\x06chk-40")
	at := len(v1) - 4 - len("\x0fruntime payload")
	if len(v1) < at || len(v2) != len(v1)+len(uses) ||
		!bytes.Equal(v2[10:at], v1[10:at]) || !bytes.Equal(v2[at:at+len(uses)], uses) ||
		!bytes.Equal(v2[at+len(uses):len(v2)-4], v1[at:len(v1)-4]) {
		t.Errorf("version 2 is not version 1 plus the uses:\nv1 %x\nv2 %x", v1, v2)
	}
}

func TestEncodeMetadataRefusesInvalid(t *testing.T) {
	cases := map[string]func(*storage.Metadata){
		"negative id":        func(m *storage.Metadata) { m.ID = -1 },
		"kind 0":             func(m *storage.Metadata) { m.Kind = 0 },
		"kind 3":             func(m *storage.Metadata) { m.Kind = 3 },
		"bad name":           func(m *storage.Metadata) { m.Files[0].Name = "../x" },
		"reserved name":      func(m *storage.Metadata) { m.Files[0].Name = "_metadata" },
		"duplicate name":     func(m *storage.Metadata) { m.Files[1].Name = m.Files[0].Name },
		"negative size":      func(m *storage.Metadata) { m.Files[0].Size = -1 },
		"use of a savepoint": func(m *storage.Metadata) { m.Uses = []string{"savepoint-3-a1b2c3"} },
		"use not a dir":      func(m *storage.Metadata) { m.Uses = []string{"op-1-0.state"} },
		"use empty":          func(m *storage.Metadata) { m.Uses = []string{""} },
		"use padded":         func(m *storage.Metadata) { m.Uses = []string{"chk-007"} },
		"use negative":       func(m *storage.Metadata) { m.Uses = []string{"chk--1"} },
		"use of itself":      func(m *storage.Metadata) { m.Uses = []string{"chk-42"} },
		"use of a newer one": func(m *storage.Metadata) { m.Uses = []string{"chk-43"} },
		"use listed twice":   func(m *storage.Metadata) { m.Uses = []string{"chk-3", "chk-4", "chk-3"} },
		"savepoint with use": func(m *storage.Metadata) { m.Kind = storage.KindSavepoint; m.Uses = []string{"chk-3"} },
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
func resum(b []byte) []byte { return withVersion(b, binary.LittleEndian.Uint16(b[8:])) }

// rawMetadata encodes m in format version v as EncodeMetadata does, but
// without validating m, and with nuses as the count of uses (version 2 and
// later), so that tests can build encodings EncodeMetadata refuses.
func rawMetadata(v uint16, m storage.Metadata, nuses uint64) []byte {
	b := []byte("SLUICECP")
	b = binary.LittleEndian.AppendUint16(b, v)
	b = binary.AppendVarint(b, m.ID)
	b = append(b, byte(m.Kind))
	b = binary.AppendVarint(b, m.Created.UnixMilli())
	b = binary.AppendUvarint(b, uint64(len(m.Files)))
	for _, f := range m.Files {
		b = binary.AppendUvarint(b, uint64(len(f.Name)))
		b = append(b, f.Name...)
		b = binary.AppendUvarint(b, uint64(f.Size))
		b = binary.LittleEndian.AppendUint32(b, f.CRC32C)
	}
	if v >= 2 {
		b = binary.AppendUvarint(b, nuses)
		for _, u := range m.Uses {
			b = binary.AppendUvarint(b, uint64(len(u)))
			b = append(b, u...)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(m.Payload)))
	b = append(b, m.Payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

// v2With returns the raw version 2 encoding of sampleMetadata with uses.
func v2With(uses ...string) []byte {
	m := sampleMetadata
	m.Uses = uses
	return rawMetadata(2, m, uint64(len(uses)))
}

func TestRawMetadataMatchesEncoder(t *testing.T) {
	for _, m := range []storage.Metadata{sampleMetadata, sampleMetadataV2} {
		b, err := storage.EncodeMetadata(m)
		if err != nil {
			t.Fatal(err)
		}
		v := uint16(1)
		if len(m.Uses) > 0 {
			v = 2
		}
		if raw := rawMetadata(v, m, uint64(len(m.Uses))); !bytes.Equal(raw, b) {
			t.Fatalf("rawMetadata differs from EncodeMetadata:\n got %x\nwant %x", raw, b)
		}
	}
}

// TestDecodeMetadataV2WithoutUses: a version 2 encoding with no uses is
// valid; it decodes like version 1 and is re-encoded as version 1.
func TestDecodeMetadataV2WithoutUses(t *testing.T) {
	m, err := storage.DecodeMetadata(v2With())
	if err != nil || !reflect.DeepEqual(m, sampleMetadata) {
		t.Fatalf("decoded %+v, %v", m, err)
	}
}

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
		{"version 3", withVersion(good, unsupportedVersion), storage.ErrUnsupportedVersion, "format version 3, this build reads up to 2"},
		{"version 3 of a v2 encoding", withVersion(v2With("chk-1"), unsupportedVersion), storage.ErrUnsupportedVersion, "format version 3"},
		{"v2 body as version 1", withVersion(v2With("chk-1"), 1), storage.ErrCorrupt, "decode metadata"},
		{"v1 body as version 2", withVersion(good, 2), storage.ErrCorrupt, "decode metadata"},
		{"use of a savepoint", v2With("savepoint-3-a1b2c3"), storage.ErrCorrupt, `uses "savepoint-3-a1b2c3": not a checkpoint directory name`},
		{"use not a dir", v2With("a/b"), storage.ErrCorrupt, "not a checkpoint directory name"},
		{"use padded", v2With("chk-03"), storage.ErrCorrupt, "not a checkpoint directory name"},
		{"use of itself", v2With("chk-42"), storage.ErrCorrupt, `uses "chk-42": not older than checkpoint 42`},
		{"use of a newer one", v2With("chk-100"), storage.ErrCorrupt, "not older than checkpoint 42"},
		{"use listed twice", v2With("chk-1", "chk-2", "chk-1"), storage.ErrCorrupt, `uses "chk-1" twice`},
		{"savepoint with use", rawMetadata(2, storage.Metadata{ID: 5, Kind: storage.KindSavepoint, Uses: []string{"chk-1"}}, 1), storage.ErrCorrupt, "savepoints must be self-contained"},
		{"use count too large", rawMetadata(2, sampleMetadata, 1000), storage.ErrCorrupt, "use count 1000 exceeds"},
		{"use count huge", rawMetadata(2, sampleMetadata, math.MaxUint64), storage.ErrCorrupt, "use count"},
		{"use length too large", resum(append(append(v2With()[:len(v2With())-4-16-1], 1, 0x7f, 0, 0, 0, 0, 0), 0, 0, 0, 0)), storage.ErrCorrupt, "used directory: length 127"},
		{"kind 7", edit(func(b []byte) []byte { b[11] = 7; return resum(b) }), storage.ErrCorrupt, "unknown kind"},
		{"file count too large", edit(func(b []byte) []byte { b[18] = 0x7f; return resum(b) }), storage.ErrCorrupt, "file count"},
		{"name length too large", edit(func(b []byte) []byte { b[19] = 0x7f; return resum(b) }), storage.ErrCorrupt, "file name: length"},
		{"bad name", edit(func(b []byte) []byte { b[22] = '/'; return resum(b) }), storage.ErrCorrupt, "not allowed"},
		{"reserved name", edit(func(b []byte) []byte { b[20] = '.'; return resum(b) }), storage.ErrCorrupt, "must not start"},
		{"duplicate name", edit(func(b []byte) []byte { b[41] = '1'; return resum(b) }), storage.ErrCorrupt, "listed twice"},
		{"trailing bytes", resum(append(append([]byte(nil), good...), 0, 0, 0, 0)), storage.ErrCorrupt, "trailing"},
		{"truncated body", resum(append(append([]byte(nil), good[:35]...), 0, 0, 0, 0)), storage.ErrCorrupt, "truncated"},
		{"overlong uvarint", resum(append(append([]byte(nil), good[:18]...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)), storage.ErrCorrupt, "varint overflows"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := storage.DecodeMetadata(c.input)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("DecodeMetadata = %v, want %v containing %q", err, c.want, c.reason)
			}
		})
	}
	// Every truncation fails cleanly, in both versions.
	good2, err := storage.EncodeMetadata(sampleMetadataV2)
	if err != nil {
		t.Fatal(err)
	}
	for _, good := range [][]byte{good, good2} {
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
}

// FuzzDecodeMetadata decodes each input twice: as it is, and with a valid
// checksum appended, so that mutations reach the body decoder behind the
// checksum check.
func FuzzDecodeMetadata(f *testing.F) {
	for _, m := range []storage.Metadata{
		sampleMetadata,
		{Kind: storage.KindSavepoint},
		{ID: 9, Kind: storage.KindCheckpoint, Files: []storage.FileInfo{{Name: "a", Size: 1, CRC32C: 2}}, Payload: []byte{0}},
		sampleMetadataV2,
		{ID: 9, Kind: storage.KindCheckpoint, Uses: []string{"chk-8", "chk-0"}},
		{ID: 1 << 40, Kind: storage.KindCheckpoint, Files: []storage.FileInfo{{Name: "b", Size: 3, CRC32C: 4}}, Uses: []string{"chk-1099511627775"}, Payload: []byte("p")},
	} {
		b, err := storage.EncodeMetadata(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-4])
		f.Add(b[:len(b)/2])
		f.Add(withVersion(b, unsupportedVersion)[:len(b)-4])
	}
	// Version 2 encodings EncodeMetadata would not write: no uses, or
	// invalid ones.
	for _, b := range [][]byte{v2With(), v2With("chk-1", "chk-1"), v2With("savepoint-1-abcdef"), rawMetadata(2, sampleMetadata, 3)} {
		f.Add(b[:len(b)-4])
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

// FuzzMetadataRoundTrip encodes metadata built from the fuzzer's values,
// files and uses given as comma-separated names: if EncodeMetadata accepts
// it, it must decode to the same, in format version 2 exactly when it has
// uses; if not, the hand-made encoding of the same metadata must not decode.
func FuzzMetadataRoundTrip(f *testing.F) {
	f.Add(int64(42), uint8(1), int64(1767323045006), "op-1-0.state,op-2-0.state", "chk-3,chk-40", []byte("runtime payload"))
	f.Add(int64(5), uint8(1), int64(0), "", "chk-4", []byte(nil))
	f.Add(int64(5), uint8(1), int64(-1), "a", "", []byte{0})
	f.Add(int64(5), uint8(2), int64(7), "a", "chk-1", []byte{1})
	f.Add(int64(5), uint8(1), int64(7), "a", "chk-1,chk-1", []byte{})
	f.Add(int64(5), uint8(1), int64(7), "a", "chk-5", []byte{})
	f.Add(int64(5), uint8(1), int64(7), "a", "savepoint-1-abcdef,chk-01", []byte{})
	f.Fuzz(func(t *testing.T, id int64, kind uint8, created int64, files, uses string, payload []byte) {
		m := storage.Metadata{ID: id, Kind: storage.Kind(kind), Created: time.UnixMilli(created).UTC()}
		for i, name := range splitNames(files) {
			m.Files = append(m.Files, storage.FileInfo{Name: name, Size: int64(i) * 1000, CRC32C: uint32(i)})
		}
		m.Uses = splitNames(uses)
		if len(payload) > 0 {
			m.Payload = payload
		}
		b, err := storage.EncodeMetadata(m)
		if err != nil {
			v := uint16(1)
			if len(m.Uses) > 0 {
				v = 2
			}
			if _, derr := storage.DecodeMetadata(rawMetadata(v, m, uint64(len(m.Uses)))); derr == nil {
				t.Fatalf("EncodeMetadata refused %+v (%v), but its encoding decodes", m, err)
			}
			return
		}
		if v, want := binary.LittleEndian.Uint16(b[8:]), uint16(1+min(len(m.Uses), 1)); v != want {
			t.Fatalf("format version %d with %d uses, want %d", v, len(m.Uses), want)
		}
		got, err := storage.DecodeMetadata(b)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip: %+v, %v; want %+v", got, err, m)
		}
	})
}

// splitNames splits a comma-separated list; nil for "".
func splitNames(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
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
