package storage

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// OpenFile opens the state file name of cp for reading. The reader checks
// the size and CRC-32C recorded in cp's metadata: a Read that reaches the
// end of a file whose content does not match returns an error wrapping
// ErrCorrupt instead of io.EOF, as does a Read past the recorded size. A
// reader closed before the end checks nothing.
//
// OpenFile returns an error wrapping ErrNotFound if cp does not list name,
// and ErrCorrupt if the listed file is missing.
func (s *Storage) OpenFile(ctx context.Context, cp *Checkpoint, name string) (io.ReadCloser, error) {
	fi, ok := cp.File(name)
	if !ok {
		return nil, fmt.Errorf("open %s in %s: %w: not listed in %s", name, cp.Path, ErrNotFound, MetadataName)
	}
	b := cp.b
	if b == nil {
		b = s.b
	}
	r, err := b.open(ctx, cp.Dir, name)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("open %s in %s: %w: listed in %s but missing", name, cp.Path, ErrCorrupt, MetadataName)
	}
	if err != nil {
		return nil, fmt.Errorf("open state file: %w", err)
	}
	return &verifyingReader{r: r, want: fi, path: b.dirLocation(cp.Dir)}, nil
}

// verifyingReader checks size and CRC-32C of what it reads against want.
type verifyingReader struct {
	r    io.ReadCloser
	want FileInfo
	path string

	crc  uint32
	size int64
	err  error // sticky: io.EOF or the corruption found
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.crc = crc32.Update(v.crc, castagnoli, p[:n])
	v.size += int64(n)
	if v.size > v.want.Size {
		v.err = v.corrupt("is longer than the %d bytes recorded in %s", v.want.Size, MetadataName)
		return n, v.err
	}
	if err == io.EOF {
		switch {
		case v.size != v.want.Size:
			v.err = v.corrupt("has %d bytes, %s says %d", v.size, MetadataName, v.want.Size)
		case v.crc != v.want.CRC32C:
			v.err = v.corrupt("has CRC-32C %08x, %s says %08x", v.crc, MetadataName, v.want.CRC32C)
		default:
			v.err = io.EOF
		}
		return n, v.err
	}
	if err != nil {
		return n, fmt.Errorf("read state file %s/%s: %w", v.path, v.want.Name, err)
	}
	return n, nil
}

func (v *verifyingReader) corrupt(format string, args ...any) error {
	return fmt.Errorf("state file %s/%s: %w: %s", v.path, v.want.Name, ErrCorrupt, fmt.Sprintf(format, args...))
}

func (v *verifyingReader) Close() error { return v.r.Close() }
