package storage

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"gocloud.dev/blob"
)

// Storage is one job's checkpoint directory. It is safe for concurrent use.
type Storage struct {
	b   backend
	loc string
	url *url.URL // normal form of an object store location; nil if local
	log *slog.Logger
	now func() time.Time

	mu   sync.Mutex
	busy map[string]struct{} // directories pending or being deleted by Retain
	uses map[string][]string // valid uses declared by pending checkpoints, by their directory
	// complete holds directories this Storage committed or found complete
	// and has not deleted since, so that Commit need not inspect a used
	// checkpoint again for every checkpoint that uses it.
	complete map[string]bool
	closed   bool
}

func (s *Storage) knownComplete(dir string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.complete[dir]
}

func (s *Storage) setComplete(dir string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok {
		delete(s.complete, dir)
		return
	}
	if s.complete == nil {
		s.complete = map[string]bool{}
	}
	s.complete[dir] = true
}

// Open opens the checkpoint storage at location, one job's directory:
//
//   - a plain path ("/var/lib/sluice/job1", "ckpt/job1") or a file:// URL
//     ("file:///var/lib/sluice/job1"): the local backend, through the FS of
//     WithFS (default OSFS). The directory is created by the first Begin.
//   - any other URL: a gocloud.dev/blob bucket, the URL's path being the
//     job's directory inside it, e.g.
//     "s3://bucket/jobs/job1?endpoint=http://127.0.0.1:9000&region=us-east-1&use_path_style=true"
//     or "mem://" (in memory, gone when closed). The mem driver is linked
//     in; s3://, gs:// and azblob:// need a blank import of
//     checkpoint/storage/s3, gcs or azure (the error says which).
//
// Open does not create anything. The Storage must be closed.
func Open(ctx context.Context, location string, opts ...Option) (*Storage, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if location == "" {
		return nil, errors.New("open checkpoint storage: empty location")
	}
	if isLocal(location) {
		root, err := localPath(location)
		if err != nil {
			return nil, fmt.Errorf("open checkpoint storage: %w", err)
		}
		fs := cfg.fs
		if fs == nil {
			fs = OSFS()
		}
		fi, err := fs.Stat(root)
		switch {
		case errors.Is(err, iofs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("open checkpoint storage: %w", localErr("stat", root, err))
		case !fi.IsDir():
			return nil, fmt.Errorf("open checkpoint storage: %s is not a directory", root)
		}
		return newStorage(newLocalBackend(fs, root), root, nil, cfg), nil
	}
	if cfg.fs != nil {
		return nil, fmt.Errorf("open checkpoint storage %q: WithFS applies only to local locations", location)
	}
	bucket, u, norm, err := openBlob(ctx, location)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint storage: %w", err)
	}
	return newStorage(newBlobBackend(bucket, norm), norm, u, cfg), nil
}

// OpenBucket returns a Storage keeping one job's directory in bucket (use
// blob.PrefixedBucket to put it below a prefix), for programs that build
// their buckets themselves. location names the bucket in Location and in the
// paths of checkpoints; it is not opened. The Storage owns bucket and closes
// it in Close.
func OpenBucket(bucket *blob.Bucket, location string, opts ...Option) (*Storage, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if bucket == nil {
		return nil, errors.New("open checkpoint storage: nil bucket")
	}
	if cfg.fs != nil {
		return nil, errors.New("open checkpoint storage: WithFS applies only to local locations")
	}
	b := newBlobBackend(bucket, location)
	return newStorage(b, location, b.loc, cfg), nil
}

func newStorage(b backend, loc string, u *url.URL, cfg config) *Storage {
	return &Storage{b: b, loc: loc, url: u, log: cfg.logger, now: cfg.now, busy: make(map[string]struct{}), uses: make(map[string][]string)}
}

// Location returns the location of the storage in normal form: an absolute
// path for the local backend, a URL for an object store.
func (s *Storage) Location() string { return s.loc }

// Close releases the storage's resources. Pending checkpoints can no longer
// be committed on an object store; their directories are left as they are.
func (s *Storage) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if err := s.b.close(); err != nil {
		return fmt.Errorf("close checkpoint storage %s: %w", s.loc, err)
	}
	return nil
}

// reserve marks dir as in use (pending or being deleted); it fails if it
// already is or the storage is closed.
func (s *Storage) reserve(dir string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("checkpoint storage %s is closed", s.loc)
	}
	if _, ok := s.busy[dir]; ok {
		return fmt.Errorf("%w: %s is pending or being deleted", ErrExists, s.b.dirLocation(dir))
	}
	s.busy[dir] = struct{}{}
	return nil
}

// release undoes reserve, and forgets the uses declared by a pending
// checkpoint in dir.
func (s *Storage) release(dir string) {
	s.mu.Lock()
	delete(s.busy, dir)
	delete(s.uses, dir)
	s.mu.Unlock()
}

// declareUses records that the pending checkpoint in dir uses the
// checkpoints in uses, so that Retain keeps them.
func (s *Storage) declareUses(dir string, uses []string) {
	s.mu.Lock()
	s.uses[dir] = uses
	s.mu.Unlock()
}

// pendingUses returns, for each directory used by a pending checkpoint, a
// description of one such checkpoint for messages.
func (s *Storage) pendingUses() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	used := make(map[string]string)
	for dir, uses := range s.uses {
		for _, u := range uses {
			used[u] = dir + " (pending)"
		}
	}
	return used
}
