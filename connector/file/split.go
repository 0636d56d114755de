package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/internal/wire"
)

// Split is one file and the position of its next record: the source's
// unit of work and its progress.
type Split struct {
	// Path is the file's path.
	Path string
	// Offset is the byte offset of the next record; for gzip files, in the
	// uncompressed content.
	Offset int64
	// Line is the number of the next record's first line (1-based), for
	// messages.
	Line int64
	// ModTime is the file's modification time when it was discovered
	// (unix nanoseconds).
	ModTime int64
}

// SplitID is the file's path.
func (s *Split) SplitID() string { return s.Path }

// String shows the path, offset and line.
func (s *Split) String() string { return fmt.Sprintf("%s@%d (line %d)", s.Path, s.Offset, s.Line) }

// splitCodec encodes splits as: version (uvarint 1), path (uvarint length
// and bytes), offset, line, mtime (varints).
type splitCodec struct{}

const splitVersion = 1

// maxPathLen bounds the paths a decoder accepts.
const maxPathLen = 64 << 10

var errNotFileSplit = errors.New("file: not a file split")

func (splitCodec) Encode(sp connector.Split) ([]byte, error) {
	s, ok := sp.(*Split)
	if !ok {
		return nil, fmt.Errorf("%w: %T", errNotFileSplit, sp)
	}
	return appendSplit(binary.AppendUvarint(nil, splitVersion), s), nil
}

func (splitCodec) Decode(b []byte) (connector.Split, error) {
	d := decoder{wire.NewDecoder(b)}
	if v := d.Uvarint(""); d.Err() == nil && v != splitVersion {
		return nil, fmt.Errorf("file: split encoding version %d is not supported (this sluice reads version %d)", v, splitVersion)
	}
	s := d.split()
	d.Done()
	if d.Err() != nil {
		return nil, fmt.Errorf("file: decode split: %w", d.Err())
	}
	return s, nil
}

func appendSplit(b []byte, s *Split) []byte {
	b = appendString(b, s.Path)
	b = binary.AppendVarint(b, s.Offset)
	b = binary.AppendVarint(b, s.Line)
	return binary.AppendVarint(b, s.ModTime)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads the binary encodings of this package; the first error
// sticks.
type decoder struct{ *wire.Decoder }

func (d decoder) fail(msg string) { d.Fail(errors.New(msg)) }

func (d decoder) path() string {
	p := d.String("", maxPathLen)
	if d.Err() == nil && (p == "" || strings.IndexByte(p, 0) >= 0) {
		d.fail("invalid path")
	}
	return p
}

func (d decoder) split() *Split {
	s := &Split{Path: d.path(), Offset: d.Varint(""), Line: d.Varint(""), ModTime: d.Varint("")}
	if d.Err() == nil && (s.Offset < 0 || s.Line < 1) {
		d.fail(fmt.Sprintf("invalid position %d, line %d", s.Offset, s.Line))
	}
	return s
}
