package storage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Skipped is a checkpoint newer than the one Latest returned that could not
// be used.
type Skipped struct {
	ID     int64
	Dir    string // directory name, e.g. "chk-9"
	Path   string // full location of the directory
	Reason string // why, for people: "checkpoint corrupt: state file x is missing"
	// Err is why, for code: it wraps ErrIncomplete (never completed) or
	// ErrCorrupt (damaged metadata, or state files that do not match it).
	Err error
}

// dirRef is a directory of the layout found under the root.
type dirRef struct {
	dir  string
	id   int64
	kind Kind
}

// layoutDirs returns the directories under the root that follow the layout,
// sorted by id, checkpoints before savepoints of the same id, then by name.
func (s *Storage) layoutDirs(ctx context.Context) ([]dirRef, error) {
	refs, _, err := s.scanDirs(ctx)
	return refs, err
}

// scanDirs returns what layoutDirs returns, and the names of the leftovers
// of interrupted deletions (deletingPrefix), sorted.
func (s *Storage) scanDirs(ctx context.Context) (refs []dirRef, deleting []string, err error) {
	names, err := s.b.listDirs(ctx)
	if err != nil {
		return nil, nil, err
	}
	refs = make([]dirRef, 0, len(names))
	for _, name := range names {
		if id, kind, ok := parseDir(name); ok {
			refs = append(refs, dirRef{dir: name, id: id, kind: kind})
		} else if strings.HasPrefix(name, deletingPrefix) {
			deleting = append(deleting, name)
		}
	}
	slices.Sort(deleting)
	slices.SortFunc(refs, func(a, b dirRef) int {
		return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.kind, b.kind), cmp.Compare(a.dir, b.dir))
	})
	return refs, deleting, nil
}

// Latest returns the newest complete checkpoint (savepoints are not
// considered; Load them by path). Each newer checkpoint that is partial or
// corrupt (bad metadata checksum, a state file missing or of the wrong size)
// is skipped, logged at level Warn and returned in skipped, newest first.
// State file contents are not read: their CRCs are checked when files are
// read (OpenFile), or before with Verify; LatestVerified does both. If there
// is no complete checkpoint, Latest returns nil, the skipped ones and a nil
// error.
//
// Latest stops with an error, rather than fall back to an older checkpoint,
// on an I/O error and on a checkpoint whose metadata is of a newer format
// version (ErrUnsupportedVersion).
func (s *Storage) Latest(ctx context.Context) (cp *Checkpoint, skipped []Skipped, err error) {
	return s.latest(ctx, nil)
}

// LatestVerified is Latest, but before it returns a checkpoint it reads
// every state file of it and of the checkpoints it uses, as Verify does. A
// checkpoint whose files do not match its metadata is skipped like a
// corrupt one (logged at level Warn and returned in skipped with an Err
// wrapping ErrCorrupt that names the file) and the previous complete one is
// tried, and so on. Verification errors that are not corruption (I/O, ctx
// done) stop LatestVerified with an error, as in Latest.
//
// A skipped checkpoint whose Err wraps ErrCorrupt was probably complete
// once: restoring an older one may repeat output that exactly-once sinks
// committed for it. One that wraps ErrIncomplete never completed.
func (s *Storage) LatestVerified(ctx context.Context) (cp *Checkpoint, skipped []Skipped, err error) {
	return s.latest(ctx, s.newVerifier())
}

// latest implements Latest, and LatestVerified when v is not nil.
func (s *Storage) latest(ctx context.Context, v *verifier) (cp *Checkpoint, skipped []Skipped, err error) {
	refs, err := s.layoutDirs(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("latest checkpoint in %s: %w", s.loc, err)
	}
	for i := len(refs) - 1; i >= 0; i-- {
		ref := refs[i]
		if ref.kind != KindCheckpoint {
			continue
		}
		in, err := inspect(ctx, s.b, ref.dir)
		if err != nil {
			return nil, skipped, fmt.Errorf("latest checkpoint in %s: %w", s.loc, err)
		}
		switch in.status {
		case StatusComplete:
			cp := in.checkpoint(s.b)
			if v == nil {
				return cp, skipped, nil
			}
			err := v.verify(ctx, cp)
			if err == nil {
				return cp, skipped, nil
			}
			if !errors.Is(err, ErrCorrupt) {
				return nil, skipped, fmt.Errorf("latest checkpoint in %s: %w", s.loc, err)
			}
			in = in.fail(StatusCorrupt, err)
		case StatusUnsupported:
			return nil, skipped, fmt.Errorf("latest checkpoint %s: %w", in.path, in.err)
		}
		s.log.Warn("checkpoint storage: skipping incomplete or corrupt checkpoint",
			"dir", in.path, "id", ref.id, "status", in.status.String(), "reason", in.err.Error())
		skipped = append(skipped, Skipped{ID: ref.id, Dir: ref.dir, Path: in.path, Reason: in.err.Error(), Err: in.err})
	}
	return nil, skipped, nil
}

// Load returns the complete checkpoint or savepoint at path, which is one
// of:
//   - a directory name of this storage, without separator ("chk-7",
//     "savepoint-7-a1b2c3");
//   - the full location of one, as in Checkpoint.Path;
//   - a local directory anywhere else, as an absolute path, a relative path
//     with a separator ("../job-a/savepoint-7-a1b2c3") or a file:// URL, for
//     instance another job's savepoint, whose directory name need not follow
//     the layout. This works whatever the backend of this storage.
//
// Loading from another object store location is not supported: open a
// Storage there.
//
// Load returns an error wrapping ErrNotFound if the directory does not exist
// or is empty, ErrIncomplete if it has no _metadata, ErrCorrupt or
// ErrUnsupportedVersion as Latest finds them.
func (s *Storage) Load(ctx context.Context, path string) (*Checkpoint, error) {
	b, dir, err := s.resolve(path)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint: %w", err)
	}
	in, err := inspect(ctx, b, dir)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint %s: %w", in.path, err)
	}
	if len(in.entries) == 0 {
		return nil, fmt.Errorf("load checkpoint %s: %w: no such checkpoint directory, or it is empty", in.path, ErrNotFound)
	}
	if in.status != StatusComplete {
		return nil, fmt.Errorf("load checkpoint %s: %w", in.path, in.err)
	}
	return in.checkpoint(b), nil
}

// LoadUsed returns the checkpoint in directory dir that cp uses: dir must be
// listed in cp.Uses. It is looked for next to cp, in the same location as cp
// even if cp was loaded by Load from another location than this storage's
// (in this storage for a Checkpoint built by the caller), and validated as
// Load validates it; read its state files with OpenFile.
// To follow the uses of the returned checkpoint, call LoadUsed on it.
//
// LoadUsed returns an error wrapping ErrNotFound if cp.Uses does not list
// dir; one wrapping ErrCorrupt, naming cp and dir, if the used checkpoint is
// missing, partial or corrupt, as cp then cannot be restored; and one
// wrapping ErrUnsupportedVersion if its metadata is of a newer format
// version.
func (s *Storage) LoadUsed(ctx context.Context, cp *Checkpoint, dir string) (*Checkpoint, error) {
	if !slices.Contains(cp.Uses, dir) {
		return nil, fmt.Errorf("load checkpoint %s used by %s: %w: it is not among the checkpoints that %s uses (%s)",
			dir, cp.Path, ErrNotFound, cp.Dir, usesString(cp.Uses))
	}
	if _, kind, ok := parseDir(dir); !ok || kind != KindCheckpoint {
		return nil, fmt.Errorf("load checkpoint %q used by %s: not a checkpoint directory name", dir, cp.Path)
	}
	b := cp.b
	if b == nil {
		b = s.b
	}
	in, err := inspect(ctx, b, dir)
	switch {
	case err != nil:
		return nil, fmt.Errorf("load checkpoint %s used by %s: %w", in.path, cp.Path, err)
	case len(in.entries) == 0:
		return nil, fmt.Errorf("checkpoint %s uses %s, which is missing: %w: no directory %s, or it is empty", cp.Path, dir, ErrCorrupt, in.path)
	case in.status == StatusComplete:
		return in.checkpoint(b), nil
	case in.status == StatusUnsupported:
		return nil, fmt.Errorf("checkpoint %s uses %s: %w", cp.Path, dir, in.err)
	case errors.Is(in.err, ErrCorrupt):
		return nil, fmt.Errorf("checkpoint %s uses %s, which is %s: %w", cp.Path, dir, in.status, in.err)
	default:
		return nil, fmt.Errorf("checkpoint %s uses %s, which is %s: %w: %w", cp.Path, dir, in.status, ErrCorrupt, in.err)
	}
}

// usesString returns uses for messages: "chk-3, chk-4", or "none".
func usesString(uses []string) string {
	if len(uses) == 0 {
		return "none"
	}
	return strings.Join(uses, ", ")
}
