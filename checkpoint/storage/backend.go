package storage

import (
	"context"
	"fmt"
	"io"
	"time"
)

// backend is where a Storage keeps its directories: the local file system
// (localBackend) or an object store bucket (blobBackend). dir is always one
// directory name directly under the backend's root; name one file name
// directly inside dir.
type backend interface {
	// dirLocation returns the full location of dir for paths shown to users.
	dirLocation(dir string) string
	// listDirs returns the names of the directories under the root, in no
	// particular order; none if the root does not exist.
	listDirs(ctx context.Context) ([]string, error)
	// listFiles returns the files directly inside dir, in no particular
	// order; none if dir does not exist.
	listFiles(ctx context.Context, dir string) ([]entry, error)
	// mkdir creates dir durably (a no-op where directories are implicit).
	mkdir(ctx context.Context, dir string) error
	// create starts writing dir/name. The file is not complete before the
	// sink's commit returned nil.
	create(ctx context.Context, dir, name string) (sink, error)
	// publish makes dir/name appear with content data atomically and
	// durably, after every file committed in dir is durable. On error,
	// dir/name is absent as far as the backend can tell.
	publish(ctx context.Context, dir, name string, data []byte) error
	// open opens dir/name for reading; the error wraps ErrNotFound if it
	// does not exist.
	open(ctx context.Context, dir, name string) (io.ReadCloser, error)
	// remove deletes dir/name; a missing file is not an error.
	remove(ctx context.Context, dir, name string) error
	// removeDir deletes dir and everything in it; a missing dir is not an
	// error.
	removeDir(ctx context.Context, dir string) error
	// close releases the backend's resources.
	close() error
}

// dirRenamer is implemented by backends that can rename a directory
// atomically (the local file system; object stores cannot).
type dirRenamer interface {
	// renameDir renames directory from to to, both directly under the
	// root, and makes the rename durable. to must not exist.
	renameDir(ctx context.Context, from, to string) error
}

// entry is one file found by listFiles.
type entry struct {
	name    string
	size    int64
	modTime time.Time
}

// sink is a file being written by create.
type sink interface {
	io.Writer
	// commit makes the file complete and durable, and closes it.
	commit() error
	// cancel interrupts pending I/O; it may be called concurrently with
	// Write and commit and is followed by discard.
	cancel()
	// discard closes the file without completing it and removes what was
	// written, as far as possible.
	discard()
}

// maxMetadataSize bounds the size of a _metadata file, written or read, so
// a corrupt or hostile directory cannot make a reader allocate without
// bound.
const maxMetadataSize = 256 << 20

// readMetadataFile reads dir/_metadata through b.
func readMetadataFile(ctx context.Context, b backend, dir string) ([]byte, error) {
	r, err := b.open(ctx, dir, MetadataName)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", b.dirLocation(dir)+"/"+MetadataName, err)
	}
	if len(data) > maxMetadataSize {
		return nil, corruptf("%s is larger than %d bytes", MetadataName, maxMetadataSize)
	}
	return data, nil
}
