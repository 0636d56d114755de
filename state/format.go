package state

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"

	"github.com/sluicehq/sluice/internal/wire"
)

// The snapshot file format, versions 1 and 2. Integers marked uvarint are
// unsigned LEB128 varints; fixed-width integers are big-endian.
//
//	magic        "SLKS"
//	version      uint16 (1 or 2)
//	version 2 only:
//	  id         uint64    this snapshot's id, not 0
//	  base       uint64    id of the snapshot this one is a delta of; 0: full
//	maxPar       uvarint   number of key groups of the job
//	start, end   uvarint   the key-group range the file covers, [start, end)
//	nstates      uvarint
//	nstates times:
//	  kind       byte      1 value, 2 list, 3 map, 4 timers
//	  name       uvarint length, then bytes
//	per key group with state, ascending:
//	  keyGroup   uint32
//	  length     uint64    bytes of the block that follow
//	  sections, by ascending state index, for states with entries:
//	    state    uvarint   index into the states above
//	    length   uvarint
//	    version 2 only:
//	      form   byte      0 full, 1 delta (see delta.go)
//	    entries  (the state's section: see freeze in value.go, list.go,
//	             mapstate.go, timers.go)
//	end          uint32 0xFFFFFFFF
//	checksum     uint32    CRC-32C (Castagnoli) of every byte before it
//
// Keys are encoded with the backend's key codec and values with the
// state's codecs. A reader skips the blocks of key groups it does not own
// by their length, without decoding them.
//
// Version 2 is written by incremental snapshots, and by full snapshots
// that carry restored, unregistered state whose sections form a chain. In
// version 2 a state may have several sections in one block, applied in
// order (a full section, then deltas); in a delta file (base not 0) a
// state or key group without sections is unchanged since the base, and
// every section is a delta.
const (
	fileMagic              = "SLKS"
	fileVersion            = 1
	fileVersionIncremental = 2
	blockHeaderLen         = 4 + 8
	endOfBlocks            = 0xFFFFFFFF
	maxNameLen             = 1 << 16
	maxStates              = 1 << 16
)

type stateDesc struct {
	name string
	kind stateKind
}

type fileHeader struct {
	version  uint16
	id, base uint64 // version 2
	maxPar   int
	rng      KeyGroupRange
	states   []stateDesc
}

func appendHeader(dst []byte, h fileHeader) []byte {
	dst = append(dst, fileMagic...)
	dst = binary.BigEndian.AppendUint16(dst, h.version)
	if h.version >= fileVersionIncremental {
		dst = binary.BigEndian.AppendUint64(dst, h.id)
		dst = binary.BigEndian.AppendUint64(dst, h.base)
	}
	dst = binary.AppendUvarint(dst, uint64(h.maxPar))
	dst = binary.AppendUvarint(dst, uint64(h.rng.Start))
	dst = binary.AppendUvarint(dst, uint64(h.rng.End))
	dst = binary.AppendUvarint(dst, uint64(len(h.states)))
	for _, s := range h.states {
		dst = append(dst, byte(s.kind))
		dst = binary.AppendUvarint(dst, uint64(len(s.name)))
		dst = append(dst, s.name...)
	}
	return dst
}

// crcReader checksums what it reads.
type crcReader struct {
	r   *bufio.Reader
	crc uint32
	one [1]byte
}

func newCRCReader(r io.Reader) *crcReader {
	return &crcReader{r: bufio.NewReaderSize(r, 256<<10)}
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	return n, err
}

func (c *crcReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.one[0] = b
		c.crc = crc32.Update(c.crc, castagnoli, c.one[:])
	}
	return b, err
}

// corrupt wraps a read error: running out of input means truncation.
func corrupt(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s: truncated", ErrCorrupt, what)
	}
	if errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (c *crcReader) uvarint(what string, limit uint64) (uint64, error) {
	x, err := binary.ReadUvarint(c)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, corrupt(what, err)
		}
		return 0, fmt.Errorf("%w: %s: %v", ErrCorrupt, what, err)
	}
	if x > limit {
		return 0, fmt.Errorf("%w: %s %d exceeds %d", ErrCorrupt, what, x, limit)
	}
	return x, nil
}

func (c *crcReader) full(p []byte, what string) error {
	if _, err := io.ReadFull(c, p); err != nil {
		return corrupt(what, err)
	}
	return nil
}

func readHeader(c *crcReader) (fileHeader, error) {
	var h fileHeader
	var fixed [6]byte
	if err := c.full(fixed[:], "header"); err != nil {
		return h, err
	}
	if string(fixed[:4]) != fileMagic {
		return h, fmt.Errorf("%w: not a keyed state snapshot (magic %q)", ErrCorrupt, fixed[:4])
	}
	h.version = binary.BigEndian.Uint16(fixed[4:])
	switch h.version {
	case fileVersion:
	case fileVersionIncremental:
		var ids [16]byte
		if err := c.full(ids[:], "header"); err != nil {
			return h, err
		}
		h.id, h.base = binary.BigEndian.Uint64(ids[:8]), binary.BigEndian.Uint64(ids[8:])
		if h.id == 0 || h.base == h.id {
			return h, fmt.Errorf("%w: snapshot id %016x, base %016x", ErrCorrupt, h.id, h.base)
		}
	default:
		return h, fmt.Errorf("%w: snapshot format version %d, this build reads %d and %d", ErrIncompatible, h.version, fileVersion, fileVersionIncremental)
	}
	maxPar, err := c.uvarint("max parallelism", MaxMaxParallelism)
	if err != nil {
		return h, err
	}
	start, err := c.uvarint("range start", maxPar)
	if err != nil {
		return h, err
	}
	end, err := c.uvarint("range end", maxPar)
	if err != nil {
		return h, err
	}
	if maxPar == 0 || start >= end {
		return h, fmt.Errorf("%w: key-group range [%d, %d) of max parallelism %d", ErrCorrupt, start, end, maxPar)
	}
	h.maxPar, h.rng = int(maxPar), KeyGroupRange{int(start), int(end)}
	n, err := c.uvarint("state count", maxStates)
	if err != nil {
		return h, err
	}
	for i := range n {
		k, err := c.ReadByte()
		if err != nil {
			return h, corrupt("state descriptor", err)
		}
		if k < byte(kindValue) || k > byte(kindTimers) {
			return h, fmt.Errorf("%w: state %d has unknown kind %d", ErrCorrupt, i, k)
		}
		l, err := c.uvarint("state name length", maxNameLen)
		if err != nil {
			return h, err
		}
		name := make([]byte, l)
		if err := c.full(name, "state name"); err != nil {
			return h, err
		}
		if slices.ContainsFunc(h.states, func(d stateDesc) bool { return d.name == string(name) }) {
			return h, fmt.Errorf("%w: state %q listed twice", ErrCorrupt, name)
		}
		h.states = append(h.states, stateDesc{name: string(name), kind: stateKind(k)})
	}
	return h, nil
}

// readBlock reads n bytes, growing the buffer as data arrives so that a
// corrupt length cannot make it allocate more than the input holds.
func (c *crcReader) readBlock(n uint64, what string) ([]byte, error) {
	const chunk = 16 << 20
	if n <= chunk {
		b := make([]byte, n)
		return b, c.full(b, what)
	}
	var b []byte
	for uint64(len(b)) < n {
		m := int(min(n-uint64(len(b)), chunk))
		b = slices.Grow(b, m)
		if err := c.full(b[len(b):len(b)+m], what); err != nil {
			return nil, err
		}
		b = b[:len(b)+m]
	}
	return b, nil
}

func (c *crcReader) skip(n uint64, what string) error {
	if _, err := io.CopyN(io.Discard, c, int64(n)); err != nil {
		return corrupt(what, err)
	}
	return nil
}

// sectionDecoder reads the entries of one state section; the first error
// sticks and later reads return zero values. finish's error wraps
// ErrCorrupt.
type sectionDecoder[K comparable] struct {
	b   *KeyedBackend[K]
	idx int
	*wire.Decoder
}

func (d *sectionDecoder[K]) fail(format string, args ...any) {
	d.Fail(fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...)))
}

// count reads a count of items, each at least a byte long.
func (d *sectionDecoder[K]) count() int { return d.Count("count", 1, math.MaxInt) }

func (d *sectionDecoder[K]) varint() int64 { return d.Varint("") }

// key decodes a key and returns it with its hash, checking that it belongs
// to the section's key group.
func (d *sectionDecoder[K]) key() (K, uint64) {
	k := decodeField(d, d.b.keyCodec, "key")
	if d.Err() != nil {
		return k, 0
	}
	h := d.b.hash(k)
	if kg, want := d.b.keyGroup(h), d.idx+d.b.rng.Start; kg != want {
		d.fail("key of key group %d found in key group %d", kg, want)
	}
	return k, h
}

func decodeField[K comparable, T any](d *sectionDecoder[K], c Codec[T], what string) T {
	var v T
	if d.Err() != nil {
		return v
	}
	v, n, err := c.Decode(d.Rest())
	switch {
	case err != nil && errors.Is(err, ErrCorrupt):
		d.Fail(fmt.Errorf("%s: %w", what, err))
	case err != nil:
		d.Fail(fmt.Errorf("%w: %s: %v", ErrCorrupt, what, err))
	case n < 0 || n > d.Len():
		d.fail("%s codec used %d of %d bytes", what, n, d.Len())
	default:
		d.Skip(what, n)
	}
	return v
}

func (d *sectionDecoder[K]) finish() error {
	if d.Err() == nil && d.Len() != 0 {
		d.fail("%d bytes after the last entry", d.Len())
	}
	if err := d.Err(); err != nil && !errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return d.Err()
}
