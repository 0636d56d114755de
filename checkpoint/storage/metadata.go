package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"time"

	"github.com/sluicehq/sluice/internal/wire"
)

// The _metadata format, versions 1 and 2. All integers little-endian;
// varint and uvarint as in encoding/binary.
//
//	magic      8 bytes  "SLUICECP"
//	version    uint16   1 or 2
//	id         varint
//	kind       1 byte   1 checkpoint, 2 savepoint
//	created    varint   unix milliseconds
//	nfiles     uvarint
//	  name     uvarint length, bytes
//	  size     uvarint
//	  crc32c   uint32
//	nuses      uvarint  version 2 only
//	  dir      uvarint length, bytes
//	payload    uvarint length, bytes
//	checksum   uint32   CRC-32C (Castagnoli) of every byte before it
//
// Version 2 adds the uses: the directory names ("chk-3") of the earlier
// checkpoints in the same storage location whose state files this
// checkpoint reads. EncodeMetadata writes version 1 when there are none, so
// that readers of version 1 keep reading every checkpoint that does not
// depend on others.
//
// A decoder of version v reads every version up to v and refuses newer ones
// with ErrUnsupportedVersion after checking the checksum, which is always the
// last four bytes.
const (
	metadataMagic = "SLUICECP"
	// metadataVersion is the newest format version, read and written.
	metadataVersion = uint16(2)
	// metadataVersionUses is the first version with the uses.
	metadataVersionUses = uint16(2)

	headerLen   = len(metadataMagic) + 2
	checksumLen = 4
	// minFileEntryLen is the smallest encoding of one file entry: a one-byte
	// name with its length, a one-byte size and the CRC.
	minFileEntryLen = 1 + 1 + 1 + 4
	// minUseEntryLen is the smallest encoding of one use: "chk-0" with its
	// length.
	minUseEntryLen = 1 + len(checkpointPrefix) + 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// FileInfo describes one state file of a checkpoint as recorded in its
// _metadata.
type FileInfo struct {
	Name   string // file name inside the checkpoint directory
	Size   int64  // size in bytes
	CRC32C uint32 // CRC-32C (Castagnoli) of the whole content
}

// Metadata is the content of a _metadata file.
type Metadata struct {
	ID      int64     // checkpoint id, >= 0
	Kind    Kind      // checkpoint or savepoint
	Created time.Time // creation time, stored with millisecond precision
	Files   []FileInfo
	// Uses names the directories ("chk-3") of other checkpoints in the same
	// storage location whose state files this checkpoint reads: each a
	// checkpoint directory name of the layout (not a savepoint's), of a
	// lower id than ID, listed once. Only checkpoints have uses; savepoints
	// are self-contained. Empty for a checkpoint that reads only its own
	// files.
	Uses    []string
	Payload []byte // the runtime's opaque metadata
}

// EncodeMetadata returns the _metadata encoding of m: format version 1 if
// m.Uses is empty, else version 2. It returns an error if m is not valid: a
// negative id, an unknown kind, a file name refused by ValidateFileName, a
// name listed twice, a negative size, or a use that is not the directory
// name of an older checkpoint, is listed twice or belongs to a savepoint.
func EncodeMetadata(m Metadata) ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("encode metadata: %w", err)
	}
	version := uint16(1)
	if len(m.Uses) > 0 {
		version = metadataVersionUses
	}
	n := headerLen + 4*binary.MaxVarintLen64 + 1 + checksumLen + len(m.Payload)
	for _, f := range m.Files {
		n += 2*binary.MaxVarintLen64 + len(f.Name) + 4
	}
	for _, u := range m.Uses {
		n += binary.MaxVarintLen64 + len(u)
	}
	b := make([]byte, 0, n)
	b = append(b, metadataMagic...)
	b = binary.LittleEndian.AppendUint16(b, version)
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
	if version >= metadataVersionUses {
		b = binary.AppendUvarint(b, uint64(len(m.Uses)))
		for _, u := range m.Uses {
			b = binary.AppendUvarint(b, uint64(len(u)))
			b = append(b, u...)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(m.Payload)))
	b = append(b, m.Payload...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return b, nil
}

func (m *Metadata) validate() error {
	if m.ID < 0 {
		return fmt.Errorf("negative checkpoint id %d", m.ID)
	}
	if !storedKind(m.Kind) {
		return fmt.Errorf("unknown kind %d", m.Kind)
	}
	seen := make(map[string]struct{}, len(m.Files))
	for _, f := range m.Files {
		if err := ValidateFileName(f.Name); err != nil {
			return err
		}
		if _, dup := seen[f.Name]; dup {
			return fmt.Errorf("file %q listed twice", f.Name)
		}
		seen[f.Name] = struct{}{}
		if f.Size < 0 {
			return fmt.Errorf("file %q: negative size %d", f.Name, f.Size)
		}
	}
	return validateUses(m.ID, m.Kind, m.Uses)
}

// validateUses checks the uses of checkpoint id of the given kind: only
// checkpoints have uses, each the directory name of an older checkpoint,
// listed once.
func validateUses(id int64, kind Kind, uses []string) error {
	if len(uses) > 0 && kind != KindCheckpoint {
		return fmt.Errorf("a %s cannot use other checkpoints (it lists %q): savepoints must be self-contained", kind, uses[0])
	}
	seen := make(map[string]struct{}, len(uses))
	for _, u := range uses {
		uid, ukind, ok := parseDir(u)
		if !ok || ukind != KindCheckpoint {
			return fmt.Errorf("uses %q: not a checkpoint directory name (%s<n>, n in decimal without padding)", u, checkpointPrefix)
		}
		if uid >= id {
			return fmt.Errorf("uses %q: not older than checkpoint %d itself", u, id)
		}
		if _, dup := seen[u]; dup {
			return fmt.Errorf("uses %q twice", u)
		}
		seen[u] = struct{}{}
	}
	return nil
}

// DecodeMetadata decodes a _metadata file of format version 1 or 2. It
// returns an error wrapping ErrCorrupt if b is not a valid encoding (wrong
// magic, checksum mismatch, malformed or trailing fields, invalid content)
// and one wrapping ErrUnsupportedVersion if b is intact but of a newer
// format version. It never panics, and allocates at most in proportion to
// len(b). The returned Metadata does not alias b; Created is in UTC.
func DecodeMetadata(b []byte) (Metadata, error) {
	if len(b) < headerLen+checksumLen {
		return Metadata{}, corruptf("metadata too short (%d bytes)", len(b))
	}
	if string(b[:len(metadataMagic)]) != metadataMagic {
		return Metadata{}, corruptf("metadata has wrong magic bytes %q", b[:len(metadataMagic)])
	}
	body, sum := b[:len(b)-checksumLen], binary.LittleEndian.Uint32(b[len(b)-checksumLen:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return Metadata{}, corruptf("metadata checksum mismatch (stored %08x, computed %08x)", sum, got)
	}
	v := binary.LittleEndian.Uint16(b[len(metadataMagic):])
	switch {
	case v == 0:
		return Metadata{}, corruptf("metadata format version 0")
	case v > metadataVersion:
		return Metadata{}, fmt.Errorf("%w: format version %d, this build reads up to %d", ErrUnsupportedVersion, v, metadataVersion)
	}
	d := wire.NewDecoder(body[headerLen:])
	var m Metadata
	m.ID = d.Varint("id")
	m.Kind = Kind(d.Byte("kind"))
	m.Created = time.UnixMilli(d.Varint("creation time")).UTC()
	if nfiles := d.Count("file count", minFileEntryLen, math.MaxInt32); nfiles > 0 {
		m.Files = make([]FileInfo, 0, nfiles)
		for i := 0; i < nfiles && d.Err() == nil; i++ {
			var f FileInfo
			f.Name = d.String("file name", math.MaxInt32)
			size := d.Uvarint("file size")
			if d.Err() == nil && size > math.MaxInt64 {
				d.Failf("file %q: size %d out of range", f.Name, size)
			}
			f.Size = int64(size)
			f.CRC32C = d.Uint32("file crc32c")
			m.Files = append(m.Files, f)
		}
	}
	if v >= metadataVersionUses {
		if nuses := d.Count("use count", minUseEntryLen, math.MaxInt32); nuses > 0 {
			m.Uses = make([]string, 0, nuses)
			for i := 0; i < nuses && d.Err() == nil; i++ {
				if u := d.String("used directory", math.MaxInt32); d.Err() == nil {
					m.Uses = append(m.Uses, u)
				}
			}
		}
	}
	if p := d.Bytes("payload", math.MaxInt32); len(p) > 0 {
		m.Payload = append([]byte(nil), p...)
	}
	if d.Done() == nil {
		d.Fail(m.validate())
	}
	if err := d.Err(); err != nil {
		return Metadata{}, corruptf("decode metadata: %v", err)
	}
	return m, nil
}

// corruptf returns an error wrapping ErrCorrupt.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}
