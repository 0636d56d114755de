package storage

import (
	"context"
	"fmt"
	"time"
)

// Info describes one checkpoint or savepoint directory for the CLI.
type Info struct {
	ID       int64
	Kind     Kind
	Dir      string    // directory name, e.g. "chk-7"
	Path     string    // full location of the directory
	Created  time.Time // from _metadata; zero unless Status is StatusComplete
	Modified time.Time // latest modification time of a file in the directory
	Size     int64     // bytes stored in the directory, _metadata included
	Files    int       // number of files stored in the directory
	Status   Status
	Reason   string // why Status is not StatusComplete; empty if it is
	// Uses lists the directories of the checkpoints this one uses (see
	// Checkpoint.Uses); from _metadata, so empty unless Status is
	// StatusComplete.
	Uses []string
}

// List describes every checkpoint and savepoint directory of the storage,
// sorted by id, checkpoints before savepoints of the same id. It validates
// them as Latest does, without reading state files; directories whose names
// do not follow the layout are left out.
func (s *Storage) List(ctx context.Context) ([]Info, error) {
	refs, err := s.layoutDirs(ctx)
	if err != nil {
		return nil, fmt.Errorf("list checkpoints in %s: %w", s.loc, err)
	}
	infos := make([]Info, 0, len(refs))
	for _, ref := range refs {
		in, err := inspect(ctx, s.b, ref.dir)
		if err != nil {
			return nil, fmt.Errorf("list checkpoints in %s: %w", s.loc, err)
		}
		size, mod := in.size()
		info := Info{
			ID: ref.id, Kind: ref.kind, Dir: ref.dir, Path: in.path,
			Modified: mod, Size: size, Files: len(in.entries), Status: in.status,
		}
		if in.status == StatusComplete {
			info.Created = in.md.Created
			info.Uses = in.md.Uses
		} else {
			info.Reason = in.err.Error()
		}
		infos = append(infos, info)
	}
	return infos, nil
}
