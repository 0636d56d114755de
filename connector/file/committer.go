package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/connector"
)

// committer renames pending part files to their visible names.
type committer struct {
	dir string
	log *slog.Logger
}

// Commit renames each pending file to its final name and fsyncs the
// directories. It is idempotent: a final file that exists with the
// expected length was committed before. When neither the final nor the
// in-progress file exists (or the final one has another length), the
// records are lost and the error wraps connector.ErrDataLoss.
func (c *committer) Commit(ctx context.Context, _ int64, committables [][]byte) error {
	dirs := map[string]struct{}{}
	for _, b := range committables {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := decodeCommittable(b)
		if err != nil {
			return err
		}
		dir := filepath.Join(c.dir, filepath.FromSlash(p.bucket))
		done, err := commitFile(dir, p)
		if err != nil {
			return err
		}
		if done {
			dirs[dir] = struct{}{}
		}
	}
	for dir := range dirs {
		if err := syncDir(dir); err != nil {
			return fmt.Errorf("file sink: commit: sync directory %s: %w", dir, err)
		}
	}
	c.log.Debug("file sink: committed part files", "dir", c.dir, "committables", len(committables))
	return nil
}

// commitFile makes one pending file visible; it reports whether it renamed
// it (false: committed before).
func commitFile(dir string, p pendingFile) (bool, error) {
	final, temp := filepath.Join(dir, p.final), filepath.Join(dir, p.temp)
	if fi, err := os.Lstat(final); err == nil {
		if fi.Size() == p.size {
			return false, nil
		}
		return false, fmt.Errorf("file sink: commit %s: the file exists with %d bytes, the checkpoint's part file has %d: %w", final, fi.Size(), p.size, connector.ErrDataLoss)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("file sink: commit %s: %w", final, err)
	}
	ti, err := os.Stat(temp)
	if errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("file sink: commit %s: neither it nor its pending file %s exists: %w", final, p.temp, connector.ErrDataLoss)
	}
	if err != nil {
		return false, fmt.Errorf("file sink: commit %s: %w", final, err)
	}
	switch {
	case ti.Size() < p.size:
		return false, fmt.Errorf("file sink: commit %s: pending file %s has %d bytes, fewer than the checkpoint's %d: %w", final, p.temp, ti.Size(), p.size, connector.ErrDataLoss)
	case ti.Size() > p.size:
		// Not written by a finished part file; keep the checkpoint's part.
		if err := truncateSync(temp, p.size); err != nil {
			return false, fmt.Errorf("file sink: commit %s: %w", final, err)
		}
	}
	if err := os.Rename(temp, final); err != nil {
		return false, fmt.Errorf("file sink: commit: %w", err)
	}
	return true, nil
}

func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// Close releases nothing.
func (c *committer) Close() error { return nil }
