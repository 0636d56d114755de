package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Retain deletes every complete checkpoint but the newest n (n >= 1), and
// every partial or corrupt checkpoint directory older than the newest
// complete checkpoint, except the checkpoints that a kept one uses.
//
// A checkpoint kept is used when its directory is listed in the Uses of a
// kept checkpoint or declared with Pending.Use by a checkpoint pending in
// this Storage, transitively: what a used checkpoint uses is kept too,
// whatever its age. A used directory is never deleted, not even when it is
// partial or corrupt: Retain logs that at level Warn, naming the checkpoint
// that uses it, and restoring that checkpoint will fail (see LoadUsed). A
// used directory that is missing is logged at level Warn as well. Once a
// directory is no longer used by any kept checkpoint, the usual rules apply
// to it again.
//
// Retain never deletes savepoints, directories pending in this Storage,
// partial or corrupt checkpoints newer than the newest complete one (they may
// be in progress, or worth a look), nor a checkpoint of a newer metadata
// version among the newest n; as the uses of such a checkpoint cannot be
// read, Retain then deletes nothing older than it. Retain logs each
// deletion at level Info and goes on after a failed deletion, returning all
// errors joined.
//
// A deletion interrupted by a crash or an error leaves nothing that looks
// like a checkpoint. On the local backend the directory is first renamed to
// a hidden name (".deleting-chk-7", which Latest, List and Load ignore),
// the rename made durable, and then deleted; every Retain first deletes the
// leftovers of such renames, so those of a crashed process go at the first
// Retain after a restart (the runtime calls Retain after each completed
// checkpoint). Object stores cannot rename: there _metadata is deleted
// first, then the rest, so an interruption leaves a partial directory older
// than the newest complete checkpoint, which Latest never restores, List
// reports as never restored, and the next Retain deletes.
func (s *Storage) Retain(ctx context.Context, n int) error {
	if n < 1 {
		return fmt.Errorf("retain %d checkpoints: at least one must be kept", n)
	}
	// Taken before listing: a checkpoint used by a pending one was complete
	// before it was declared, so the listing finds it.
	usedBy := s.pendingUses() // used directory -> a checkpoint that uses it
	refs, deleting, err := s.scanDirs(ctx)
	if err != nil {
		return fmt.Errorf("retain checkpoints in %s: %w", s.loc, err)
	}
	var errs []error
	for _, dir := range deleting {
		errs = append(errs, s.removeLeftover(ctx, dir))
	}
	complete := 0
	unreadable := "" // a kept checkpoint whose uses cannot be read
	// Newest first: a checkpoint only uses older ones, so every checkpoint
	// that may use a directory has been seen when it is reached.
	for i := len(refs) - 1; i >= 0; i-- {
		ref := refs[i]
		if ref.kind != KindCheckpoint || unreadable != "" {
			continue
		}
		user, used := usedBy[ref.dir]
		if complete >= n && !used {
			errs = append(errs, s.remove(ctx, ref.dir, fmt.Sprintf("older than the newest %d complete checkpoints", n)))
			continue
		}
		if s.isBusy(ref.dir) {
			continue
		}
		in, err := inspect(ctx, s.b, ref.dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("retain checkpoints in %s: %w", s.loc, err))
			return errors.Join(errs...)
		}
		switch in.status {
		case StatusComplete:
			if used && complete >= n {
				s.log.Debug("checkpoint storage: keeping an older checkpoint used by a kept one",
					"dir", in.path, "used_by", user)
			}
			complete++
			for _, u := range in.md.Uses {
				if _, ok := usedBy[u]; !ok {
					usedBy[u] = ref.dir
				}
			}
		case StatusPartial, StatusCorrupt:
			switch {
			case used:
				s.log.Warn("checkpoint storage: keeping a used checkpoint that is "+in.status.String()+"; restoring the checkpoint that uses it will fail",
					"dir", in.path, "used_by", user, "status", in.status.String(), "reason", in.err.Error())
			case complete > 0:
				errs = append(errs, s.remove(ctx, ref.dir, in.status.String()+" and older than the newest complete checkpoint"))
			}
		case StatusUnsupported:
			unreadable = ref.dir
			s.log.Warn("checkpoint storage: keeping every older checkpoint: a kept checkpoint has metadata of a newer format version, whose uses this build cannot read",
				"dir", in.path, "reason", in.err.Error())
		}
	}
	if unreadable == "" {
		s.warnMissingUses(refs, usedBy)
	}
	return errors.Join(errs...)
}

// warnMissingUses logs every used directory that the listing did not find.
func (s *Storage) warnMissingUses(refs []dirRef, usedBy map[string]string) {
	var missing []string
	for dir := range usedBy {
		if !slices.ContainsFunc(refs, func(r dirRef) bool { return r.dir == dir }) {
			missing = append(missing, dir)
		}
	}
	slices.Sort(missing)
	for _, dir := range missing {
		s.log.Warn("checkpoint storage: a kept checkpoint uses a checkpoint that is missing; restoring it will fail",
			"dir", s.b.dirLocation(dir), "used_by", usedBy[dir])
	}
}

func (s *Storage) isBusy(dir string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.busy[dir]
	return ok
}

// reserveRemoval marks dir as being deleted. ok is false, without error, if
// dir is pending, already being deleted or used by a pending checkpoint.
func (s *Storage) reserveRemoval(dir string) (ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, fmt.Errorf("checkpoint storage %s is closed", s.loc)
	}
	if _, busy := s.busy[dir]; busy {
		return false, nil
	}
	for _, uses := range s.uses {
		if slices.Contains(uses, dir) {
			return false, nil
		}
	}
	s.busy[dir] = struct{}{}
	return true, nil
}

// remove deletes a checkpoint directory unless it is pending, already
// being deleted or used by a pending checkpoint (declared since Retain
// looked): renamed to a hidden name first where the backend can rename,
// else _metadata first.
func (s *Storage) remove(ctx context.Context, dir, why string) error {
	ok, err := s.reserveRemoval(dir)
	if !ok {
		return err
	}
	defer s.release(dir)
	s.setComplete(dir, false)
	path := s.b.dirLocation(dir)
	if r, ok := s.b.(dirRenamer); ok {
		trash := deletingPrefix + dir
		if err := s.reserve(trash); err != nil {
			return fmt.Errorf("delete checkpoint %s: %w", path, err)
		}
		defer s.release(trash)
		// A leftover of an earlier deletion of a directory of the same
		// name would make the rename fail.
		if err := s.b.removeDir(ctx, trash); err != nil {
			return fmt.Errorf("delete checkpoint %s: %w", path, err)
		}
		if err := r.renameDir(ctx, dir, trash); err != nil {
			return fmt.Errorf("delete checkpoint %s: %w", path, err)
		}
		if err := s.b.removeDir(ctx, trash); err != nil {
			return fmt.Errorf("delete checkpoint %s (renamed to %s; the next retention deletes it): %w", path, trash, err)
		}
	} else {
		if err := s.b.remove(ctx, dir, MetadataName); err != nil {
			return fmt.Errorf("delete checkpoint %s: %w", path, err)
		}
		if err := s.b.removeDir(ctx, dir); err != nil {
			return fmt.Errorf("delete checkpoint %s: %w", path, err)
		}
	}
	s.log.Info("checkpoint storage: deleted checkpoint", "dir", path, "reason", why)
	return nil
}

// removeLeftover deletes what an interrupted deletion left under a hidden
// name, unless a deletion in this Storage is at work on it.
func (s *Storage) removeLeftover(ctx context.Context, trash string) error {
	if err := s.reserve(trash); err != nil {
		if errors.Is(err, ErrExists) {
			return nil // being deleted now
		}
		return err
	}
	defer s.release(trash)
	path := s.b.dirLocation(trash)
	if err := s.b.removeDir(ctx, trash); err != nil {
		return fmt.Errorf("delete the leftover of an interrupted checkpoint deletion: %w", err)
	}
	s.log.Info("checkpoint storage: deleted the leftover of an interrupted checkpoint deletion", "dir", path)
	return nil
}
