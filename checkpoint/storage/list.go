package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Info describes one checkpoint or savepoint directory for the CLI.
type Info struct {
	ID       int64
	Kind     Kind
	Dir      string    // directory name, e.g. "chk-7"
	Path     string    // full location of the directory
	Created  time.Time // from _metadata; zero if _metadata was not read (partial, unsupported, corrupt _metadata)
	Modified time.Time // latest modification time of a file in the directory
	Size     int64     // bytes stored in the directory, _metadata included
	Files    int       // number of files stored in the directory
	Status   Status
	Reason   string // why Status is not StatusComplete; empty if it is
	// Uses lists the directories of the checkpoints this one uses (see
	// Checkpoint.Uses); from _metadata, so empty if it was not read.
	Uses []string
	// Verified is true if every state file of the checkpoint and of those
	// it uses was read and matched its metadata (ListVerified only).
	Verified bool
}

// List describes every checkpoint and savepoint directory of the storage,
// sorted by id, checkpoints before savepoints of the same id. It validates
// them as Latest does, without reading state files; directories whose names
// do not follow the layout are left out, and so are the leftovers of
// interrupted deletions (see Retain).
//
// A partial checkpoint older than a complete checkpoint that does not use
// it can never be restored (Latest stops at the complete one): what an
// abandoned attempt, or an interrupted deletion on an object store, leaves.
// Its Status is StatusPartial and its Reason says that it is never restored
// and that retention deletes it.
func (s *Storage) List(ctx context.Context) ([]Info, error) {
	return s.list(ctx, nil)
}

// ListVerified is List, but it also reads every state file of each
// complete checkpoint and savepoint, and of the checkpoints each uses, as
// Verify does (each directory once). A checkpoint whose files do not match
// its metadata is reported with StatusCorrupt and a Reason that names the
// file; the others that are complete have Verified set. An error that is
// not corruption (I/O, ctx done) ends ListVerified.
func (s *Storage) ListVerified(ctx context.Context) ([]Info, error) {
	return s.list(ctx, s.newVerifier())
}

// list implements List, and ListVerified when v is not nil.
func (s *Storage) list(ctx context.Context, v *verifier) ([]Info, error) {
	refs, err := s.layoutDirs(ctx)
	if err != nil {
		return nil, fmt.Errorf("list checkpoints in %s: %w", s.loc, err)
	}
	infos := make([]Info, 0, len(refs))
	valid := make([]bool, 0, len(refs)) // _metadata decoded and matched the directory
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
			if v != nil {
				switch err := v.verify(ctx, in.checkpoint(s.b)); {
				case err == nil:
					info.Verified = true
				case errors.Is(err, ErrCorrupt):
					info.Status, info.Reason = StatusCorrupt, err.Error()
				default:
					return nil, fmt.Errorf("list checkpoints in %s: %w", s.loc, err)
				}
			}
		} else {
			info.Reason = in.err.Error()
		}
		infos = append(infos, info)
		valid = append(valid, in.status == StatusComplete)
	}
	s.markStale(infos, valid)
	return infos, nil
}

// markStale explains the partial checkpoints that are older than a complete
// checkpoint (valid _metadata) that does not use them, unless pending in
// this Storage.
func (s *Storage) markStale(infos []Info, valid []bool) {
	newest := -1 // index of the newest checkpoint with valid _metadata
	used := map[string]bool{}
	for i, in := range infos {
		if in.Kind == KindCheckpoint && valid[i] {
			newest = i
			for _, u := range in.Uses {
				used[u] = true
			}
		}
	}
	for i := range newest {
		in := &infos[i]
		if in.Kind == KindCheckpoint && in.Status == StatusPartial && !used[in.Dir] && !s.isBusy(in.Dir) {
			in.Reason += fmt.Sprintf("; older than complete checkpoint %s, so never restored (an abandoned attempt or an interrupted deletion): retention deletes it", infos[newest].Dir)
		}
	}
}
