package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Status is the state of a checkpoint directory.
type Status uint8

// Statuses of a checkpoint directory.
const (
	// StatusComplete: _metadata is valid and every state file it lists
	// exists with the recorded size.
	StatusComplete Status = iota + 1
	// StatusPartial: no _metadata; being written, or abandoned.
	StatusPartial
	// StatusCorrupt: _metadata is damaged or does not match the directory.
	StatusCorrupt
	// StatusUnsupported: _metadata is intact but of a newer format version.
	StatusUnsupported
)

// String returns "complete", "partial", "corrupt" or "unsupported".
func (s Status) String() string {
	switch s {
	case StatusComplete:
		return "complete"
	case StatusPartial:
		return "partial"
	case StatusCorrupt:
		return "corrupt"
	case StatusUnsupported:
		return "unsupported"
	default:
		return fmt.Sprintf("status(%d)", uint8(s))
	}
}

// inspection is what validating one checkpoint directory found.
type inspection struct {
	dir     string
	path    string
	id      int64 // from the directory name if named, else from _metadata
	kind    Kind
	named   bool // the directory name follows the layout
	entries []entry
	md      Metadata
	status  Status
	err     error // why not complete: wraps ErrIncomplete, ErrCorrupt or ErrUnsupportedVersion
}

// inspect validates dir: _metadata decodes, matches the directory name
// (if it follows the layout) and every state file it lists exists with the
// recorded size. State file contents are not read. The error is for I/O
// failures only; what is wrong with the checkpoint is in the inspection.
func inspect(ctx context.Context, b backend, dir string) (inspection, error) {
	in := inspection{dir: dir, path: b.dirLocation(dir)}
	in.id, in.kind, in.named = parseDir(dir)
	entries, err := b.listFiles(ctx, dir)
	if err != nil {
		return in, err
	}
	in.entries = entries
	sizes := make(map[string]int64, len(entries))
	for _, e := range entries {
		sizes[e.name] = e.size
	}
	if _, ok := sizes[MetadataName]; !ok {
		return in.fail(StatusPartial, fmt.Errorf("%w: no %s", ErrIncomplete, MetadataName)), nil
	}
	data, err := readMetadataFile(ctx, b, dir)
	switch {
	case errors.Is(err, ErrNotFound):
		return in.fail(StatusPartial, fmt.Errorf("%w: no %s", ErrIncomplete, MetadataName)), nil
	case errors.Is(err, ErrCorrupt):
		return in.fail(StatusCorrupt, err), nil
	case err != nil:
		return in, err
	}
	md, err := DecodeMetadata(data)
	switch {
	case errors.Is(err, ErrUnsupportedVersion):
		return in.fail(StatusUnsupported, err), nil
	case err != nil:
		return in.fail(StatusCorrupt, err), nil
	}
	if in.named && (md.ID != in.id || md.Kind != in.kind) {
		return in.fail(StatusCorrupt, corruptf("%s is of %s %d but the directory name says %s %d",
			MetadataName, md.Kind, md.ID, in.kind, in.id)), nil
	}
	for _, f := range md.Files {
		size, ok := sizes[f.Name]
		switch {
		case !ok:
			return in.fail(StatusCorrupt, corruptf("state file %s is missing", f.Name)), nil
		case size != f.Size:
			return in.fail(StatusCorrupt, corruptf("state file %s has %d bytes, %s says %d", f.Name, size, MetadataName, f.Size)), nil
		}
	}
	in.id, in.kind, in.md, in.status = md.ID, md.Kind, md, StatusComplete
	return in, nil
}

func (in inspection) fail(st Status, err error) inspection {
	in.status, in.err = st, err
	return in
}

// checkpoint returns the Checkpoint of a complete inspection.
func (in *inspection) checkpoint(b backend) *Checkpoint {
	return &Checkpoint{
		ID: in.md.ID, Kind: in.md.Kind, Dir: in.dir, Path: in.path, Created: in.md.Created,
		Files: in.md.Files, Uses: in.md.Uses, Payload: in.md.Payload, b: b,
	}
}

// size returns the bytes stored in the directory and the latest
// modification time of its files.
func (in *inspection) size() (int64, time.Time) {
	var n int64
	var mod time.Time
	for _, e := range in.entries {
		n += e.size
		if e.modTime.After(mod) {
			mod = e.modTime
		}
	}
	return n, mod
}
