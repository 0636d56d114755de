package storage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"path/filepath"
	"sync"
)

// localWriteBuffer is the write buffer of a local state file: large enough
// to keep system calls few, small enough for many concurrent writers.
const localWriteBuffer = 256 << 10

// localBackend keeps directories under root on an FS.
type localBackend struct {
	fs   FS
	root string // absolute, cleaned

	mu         sync.Mutex
	rootSynced bool // root's own entry in its parent was made durable
}

func newLocalBackend(fs FS, root string) *localBackend {
	return &localBackend{fs: fs, root: root}
}

func (b *localBackend) dirLocation(dir string) string { return filepath.Join(b.root, dir) }

func (b *localBackend) path(dir, name string) string { return filepath.Join(b.root, dir, name) }

// localErr wraps err with the operation and path, and with ErrNotFound if
// the file does not exist.
func localErr(op, path string, err error) error {
	if errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("%s %s: %w: %w", op, path, ErrNotFound, err)
	}
	return fmt.Errorf("%s %s: %w", op, path, err)
}

func (b *localBackend) listDirs(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	names, err := b.fs.List(b.root)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, localErr("list", b.root, err)
	}
	dirs := names[:0]
	for _, name := range names {
		fi, err := b.fs.Stat(filepath.Join(b.root, name))
		if errors.Is(err, iofs.ErrNotExist) {
			continue // removed since listed
		}
		if err != nil {
			return nil, localErr("stat", filepath.Join(b.root, name), err)
		}
		if fi.IsDir() {
			dirs = append(dirs, name)
		}
	}
	return dirs, nil
}

func (b *localBackend) listFiles(ctx context.Context, dir string) ([]entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dirPath := b.dirLocation(dir)
	names, err := b.fs.List(dirPath)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, localErr("list", dirPath, err)
	}
	entries := make([]entry, 0, len(names))
	for _, name := range names {
		fi, err := b.fs.Stat(filepath.Join(dirPath, name))
		if errors.Is(err, iofs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, localErr("stat", filepath.Join(dirPath, name), err)
		}
		if !fi.IsDir() {
			entries = append(entries, entry{name: name, size: fi.Size(), modTime: fi.ModTime()})
		}
	}
	return entries, nil
}

// mkdir creates dir and makes its entry durable in the root; the first time,
// it also makes the root's entry durable in its parent.
func (b *localBackend) mkdir(ctx context.Context, dir string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dirPath := b.dirLocation(dir)
	if err := b.fs.MkdirAll(dirPath, 0o755); err != nil {
		return localErr("mkdir", dirPath, err)
	}
	if err := b.fs.SyncDir(b.root); err != nil {
		return localErr("sync dir", b.root, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.rootSynced {
		parent := filepath.Dir(b.root)
		if err := b.fs.SyncDir(parent); err != nil {
			return localErr("sync dir", parent, err)
		}
		b.rootSynced = true
	}
	return nil
}

func (b *localBackend) create(ctx context.Context, dir, name string) (sink, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := b.path(dir, name)
	f, err := b.fs.Create(p)
	if err != nil {
		return nil, localErr("create", p, err)
	}
	return &localSink{fs: b.fs, path: p, f: f, w: bufio.NewWriterSize(f, localWriteBuffer)}, nil
}

// localSink writes a file through a buffer; commit flushes, fsyncs and
// closes it.
type localSink struct {
	fs   FS
	path string
	f    File
	w    *bufio.Writer
}

func (s *localSink) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		return n, localErr("write", s.path, err)
	}
	return n, nil
}

func (s *localSink) commit() error {
	if err := s.w.Flush(); err != nil {
		s.f.Close()
		return localErr("write", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		s.f.Close()
		return localErr("sync", s.path, err)
	}
	if err := s.f.Close(); err != nil {
		return localErr("close", s.path, err)
	}
	return nil
}

func (s *localSink) cancel() {}

func (s *localSink) discard() {
	s.f.Close()
	s.fs.Remove(s.path)
}

// publish syncs dir, writes name to a temporary file, syncs it, renames it
// into place and syncs dir again.
func (b *localBackend) publish(ctx context.Context, dir, name string, data []byte) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	dirPath := b.dirLocation(dir)
	tmp, final := filepath.Join(dirPath, name+tempSuffix), filepath.Join(dirPath, name)
	// The names of the state files must be durable before _metadata can
	// claim them.
	if err := b.fs.SyncDir(dirPath); err != nil {
		return localErr("sync dir", dirPath, err)
	}
	renamed := false
	defer func() {
		if err == nil {
			return
		}
		b.fs.Remove(tmp)
		if renamed {
			// Best effort: the rename may be durable or not; do not leave
			// a complete checkpoint behind a failed Commit.
			b.fs.Remove(final)
			b.fs.SyncDir(dirPath)
		}
	}()
	f, err := b.fs.Create(tmp)
	if err != nil {
		return localErr("create", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return localErr("write", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return localErr("sync", tmp, err)
	}
	if err := f.Close(); err != nil {
		return localErr("close", tmp, err)
	}
	if err := b.fs.Rename(tmp, final); err != nil {
		return localErr("rename", tmp, err)
	}
	renamed = true
	if err := b.fs.SyncDir(dirPath); err != nil {
		return localErr("sync dir", dirPath, err)
	}
	return nil
}

func (b *localBackend) open(ctx context.Context, dir, name string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := b.path(dir, name)
	f, err := b.fs.Open(p)
	if err != nil {
		return nil, localErr("open", p, err)
	}
	return f, nil
}

func (b *localBackend) remove(ctx context.Context, dir, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := b.path(dir, name)
	if err := b.fs.Remove(p); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return localErr("remove", p, err)
	}
	return nil
}

func (b *localBackend) removeDir(ctx context.Context, dir string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := b.dirLocation(dir)
	if err := b.fs.RemoveAll(p); err != nil {
		return localErr("remove", p, err)
	}
	return nil
}

// renameDir renames from to to and fsyncs the root, so that after a crash
// the directory is found under one name or the other, never in between.
func (b *localBackend) renameDir(ctx context.Context, from, to string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	oldPath, newPath := b.dirLocation(from), b.dirLocation(to)
	if err := b.fs.Rename(oldPath, newPath); err != nil {
		return localErr("rename", oldPath, err)
	}
	if err := b.fs.SyncDir(b.root); err != nil {
		return localErr("sync dir", b.root, err)
	}
	return nil
}

func (b *localBackend) close() error { return nil }
