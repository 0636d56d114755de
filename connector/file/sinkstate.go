package file

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/internal/wire"
)

// pendingFile names a part file in the sink's directory: the final and
// the in-progress name in the directory of its bucket, and the length of
// its valid content.
type pendingFile struct {
	bucket string
	final  string
	temp   string
	size   int64
}

// inProgressFile is a part file continued across checkpoints.
type inProgressFile struct {
	pendingFile
	opened int64 // unix nanoseconds
}

// writerState is what a sink writer puts into a checkpoint: one entry per
// subtask.
type writerState struct {
	subtask     int
	parallelism int
	next        uint64 // next part number
	parts       []inProgressFile
}

const (
	committableVersion = 1
	writerStateVersion = 1
)

func appendPending(b []byte, p *pendingFile) []byte {
	b = appendString(b, p.bucket)
	b = appendString(b, p.final)
	b = appendString(b, p.temp)
	return binary.AppendUvarint(b, uint64(p.size))
}

func (d decoder) pending() pendingFile {
	p := pendingFile{bucket: d.String("", 4096), final: d.String("", maxPathLen), temp: d.String("", maxPathLen)}
	size := d.Uvarint("")
	if d.Err() != nil {
		return p
	}
	if size > 1<<62 {
		d.fail("invalid size")
	}
	p.size = int64(size)
	if err := checkBucket(p.bucket); err != nil {
		d.fail("invalid bucket")
	}
	if !validName(p.final) || hidden(p.final) || !validName(p.temp) || !strings.HasPrefix(p.temp, ".") {
		d.fail("invalid part file names")
	}
	return p
}

// validName reports whether n is a plain file name.
func validName(n string) bool {
	return n != "" && n != "." && n != ".." && !strings.ContainsAny(n, "/\\\x00")
}

// encodeCommittable: version, bucket, final name, in-progress name, size.
func encodeCommittable(p *pendingFile) []byte {
	return appendPending(binary.AppendUvarint(nil, committableVersion), p)
}

func decodeCommittable(b []byte) (pendingFile, error) {
	d := decoder{wire.NewDecoder(b)}
	if v := d.Uvarint(""); d.Err() == nil && v != committableVersion {
		return pendingFile{}, fmt.Errorf("file sink: committable version %d is not supported (this sluice reads version %d)", v, committableVersion)
	}
	p := d.pending()
	d.Done()
	if d.Err() != nil {
		return pendingFile{}, fmt.Errorf("file sink: decode committable: %w", d.Err())
	}
	return p, nil
}

// encode: version, subtask, parallelism, next part number, in-progress
// files (pending file, opened).
func (s *writerState) encode() []byte {
	b := binary.AppendUvarint(nil, writerStateVersion)
	b = binary.AppendUvarint(b, uint64(s.subtask))
	b = binary.AppendUvarint(b, uint64(s.parallelism))
	b = binary.AppendUvarint(b, s.next)
	b = binary.AppendUvarint(b, uint64(len(s.parts)))
	for i := range s.parts {
		b = appendPending(b, &s.parts[i].pendingFile)
		b = binary.AppendVarint(b, s.parts[i].opened)
	}
	return b
}

func decodeWriterState(b []byte) (*writerState, error) {
	d := decoder{wire.NewDecoder(b)}
	if v := d.Uvarint(""); d.Err() == nil && v != writerStateVersion {
		return nil, fmt.Errorf("file sink: writer state version %d is not supported (this sluice reads version %d)", v, writerStateVersion)
	}
	st := &writerState{}
	sub, par := d.Uvarint(""), d.Uvarint("")
	if d.Err() == nil && (par < 1 || par > 1<<20 || sub >= par) {
		d.fail("invalid subtask or parallelism")
	}
	st.subtask, st.parallelism = int(sub), int(par)
	st.next = d.Uvarint("")
	n := d.Count("", 5, 1<<30)
	for range n {
		st.parts = append(st.parts, inProgressFile{pendingFile: d.pending(), opened: d.Varint("")})
	}
	d.Done()
	if d.Err() != nil {
		return nil, fmt.Errorf("file sink: decode writer state: %w", d.Err())
	}
	return st, nil
}
