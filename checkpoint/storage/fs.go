package storage

import (
	"io"
	iofs "io/fs"
	"os"
)

// FS is the file system under the local backend. Every local file operation
// of this package goes through it, so tests can record operations and inject
// faults. Names are paths in the host's syntax, as built by path/filepath.
// Errors for a missing file or directory satisfy
// errors.Is(err, fs.ErrNotExist). Implementations must be safe for concurrent
// use.
type FS interface {
	// Create creates the named file for writing, truncating it if it exists.
	Create(name string) (File, error)
	// Open opens the named file for reading.
	Open(name string) (File, error)
	// Rename renames oldname to newname, replacing newname if it exists,
	// atomically as rename(2) does.
	Rename(oldname, newname string) error
	// Remove removes the named file or empty directory.
	Remove(name string) error
	// RemoveAll removes name and everything it contains. A missing name is
	// not an error.
	RemoveAll(name string) error
	// MkdirAll creates dir and any missing parents with mode perm.
	MkdirAll(dir string, perm os.FileMode) error
	// List returns the names of the entries of dir, in no particular order.
	List(dir string) ([]string, error)
	// Stat describes the named file or directory.
	Stat(name string) (iofs.FileInfo, error)
	// SyncDir makes the directory's entries (creations, renames, removals)
	// durable, as fsync on the directory does.
	SyncDir(dir string) error
}

// File is an open file of an FS. A File is used by one goroutine at a time.
type File interface {
	io.Reader
	io.Writer
	// Close closes the file. It does not make written data durable.
	io.Closer
	// Sync makes the file's content durable, as fsync does.
	Sync() error
}
