package storage

import (
	"context"
	"errors"
	"fmt"
)

// Retain deletes every complete checkpoint but the newest n (n >= 1), and
// every partial or corrupt checkpoint directory older than the newest
// complete checkpoint. It never deletes savepoints, directories pending in
// this Storage, partial or corrupt checkpoints newer than the newest complete
// one (they may be in progress, or worth a look), nor a checkpoint of a newer
// metadata version among the newest n. Each directory's _metadata is deleted
// before the rest, so an interrupted deletion leaves a partial directory,
// never a corrupt one. Retain logs each deletion at level Info and goes on
// after a failed deletion, returning all errors joined.
func (s *Storage) Retain(ctx context.Context, n int) error {
	if n < 1 {
		return fmt.Errorf("retain %d checkpoints: at least one must be kept", n)
	}
	refs, err := s.layoutDirs(ctx)
	if err != nil {
		return fmt.Errorf("retain checkpoints in %s: %w", s.loc, err)
	}
	var errs []error
	complete := 0
	for i := len(refs) - 1; i >= 0; i-- {
		ref := refs[i]
		if ref.kind != KindCheckpoint {
			continue
		}
		if complete >= n {
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
			complete++
		case StatusPartial, StatusCorrupt:
			if complete > 0 {
				errs = append(errs, s.remove(ctx, ref.dir, in.status.String()+" and older than the newest complete checkpoint"))
			}
		}
	}
	return errors.Join(errs...)
}

func (s *Storage) isBusy(dir string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.busy[dir]
	return ok
}

// remove deletes a checkpoint directory, _metadata first, unless it is
// pending or already being deleted.
func (s *Storage) remove(ctx context.Context, dir, why string) error {
	if err := s.reserve(dir); err != nil {
		if errors.Is(err, ErrExists) {
			return nil // pending: not ours to delete
		}
		return err
	}
	defer s.release(dir)
	path := s.b.dirLocation(dir)
	if err := s.b.remove(ctx, dir, MetadataName); err != nil {
		return fmt.Errorf("delete checkpoint %s: %w", path, err)
	}
	if err := s.b.removeDir(ctx, dir); err != nil {
		return fmt.Errorf("delete checkpoint %s: %w", path, err)
	}
	s.log.Info("checkpoint storage: deleted checkpoint", "dir", path, "reason", why)
	return nil
}
