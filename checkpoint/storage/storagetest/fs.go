package storagetest

import (
	iofs "io/fs"
	"os"

	"github.com/sluicehq/sluice/checkpoint/storage"
)

// Hook is called before each file operation; a non-nil error is returned
// in place of performing the operation. A Hook must be safe for concurrent
// use.
type Hook func(Op) error

// Wrap returns an FS that calls hook before every operation of fs and of
// the files it opens.
func Wrap(fs storage.FS, hook Hook) storage.FS { return &hookFS{fs: fs, hook: hook} }

type hookFS struct {
	fs   storage.FS
	hook Hook
}

func (h *hookFS) Create(name string) (storage.File, error) {
	if err := h.hook(Op{Kind: OpCreate, Path: name}); err != nil {
		return nil, err
	}
	f, err := h.fs.Create(name)
	if err != nil {
		return nil, err
	}
	return &hookFile{f: f, name: name, hook: h.hook}, nil
}

func (h *hookFS) Open(name string) (storage.File, error) {
	if err := h.hook(Op{Kind: OpOpen, Path: name}); err != nil {
		return nil, err
	}
	f, err := h.fs.Open(name)
	if err != nil {
		return nil, err
	}
	return &hookFile{f: f, name: name, hook: h.hook}, nil
}

func (h *hookFS) Rename(oldname, newname string) error {
	if err := h.hook(Op{Kind: OpRename, Path: oldname, NewPath: newname}); err != nil {
		return err
	}
	return h.fs.Rename(oldname, newname)
}

func (h *hookFS) Remove(name string) error {
	if err := h.hook(Op{Kind: OpRemove, Path: name}); err != nil {
		return err
	}
	return h.fs.Remove(name)
}

func (h *hookFS) RemoveAll(name string) error {
	if err := h.hook(Op{Kind: OpRemoveAll, Path: name}); err != nil {
		return err
	}
	return h.fs.RemoveAll(name)
}

func (h *hookFS) MkdirAll(dir string, perm os.FileMode) error {
	if err := h.hook(Op{Kind: OpMkdirAll, Path: dir}); err != nil {
		return err
	}
	return h.fs.MkdirAll(dir, perm)
}

func (h *hookFS) List(dir string) ([]string, error) {
	if err := h.hook(Op{Kind: OpList, Path: dir}); err != nil {
		return nil, err
	}
	return h.fs.List(dir)
}

func (h *hookFS) Stat(name string) (iofs.FileInfo, error) {
	if err := h.hook(Op{Kind: OpStat, Path: name}); err != nil {
		return nil, err
	}
	return h.fs.Stat(name)
}

func (h *hookFS) SyncDir(dir string) error {
	if err := h.hook(Op{Kind: OpSyncDir, Path: dir}); err != nil {
		return err
	}
	return h.fs.SyncDir(dir)
}

type hookFile struct {
	f    storage.File
	name string
	hook Hook
}

func (h *hookFile) Read(p []byte) (int, error) {
	if err := h.hook(Op{Kind: OpRead, Path: h.name, N: len(p)}); err != nil {
		return 0, err
	}
	return h.f.Read(p)
}

func (h *hookFile) Write(p []byte) (int, error) {
	if err := h.hook(Op{Kind: OpWrite, Path: h.name, N: len(p)}); err != nil {
		return 0, err
	}
	return h.f.Write(p)
}

func (h *hookFile) Sync() error {
	if err := h.hook(Op{Kind: OpSync, Path: h.name}); err != nil {
		return err
	}
	return h.f.Sync()
}

// Close closes the underlying file even when the hook fails it, so that an
// injected fault does not leak a file descriptor.
func (h *hookFile) Close() error {
	hookErr := h.hook(Op{Kind: OpClose, Path: h.name})
	err := h.f.Close()
	if hookErr != nil {
		return hookErr
	}
	return err
}
