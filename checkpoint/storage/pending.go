package storage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sluicehq/sluice/checkpoint"
)

// Pending is a checkpoint being written: create its state files, declare
// the earlier checkpoints it reads with Use, then Commit it or Abort it. It
// is safe for concurrent use.
type Pending struct {
	s    *Storage
	b    backend
	id   int64
	kind Kind
	dir  string

	mu     sync.Mutex
	state  pendingState
	files  map[string]*fileRecord
	uses   []string            // valid uses declared with Use, in order
	useSet map[string]struct{} // every name given to Use
	useErr error               // the first invalid name given to Use
}

type pendingState uint8

const (
	pendingOpen pendingState = iota
	pendingCommitted
	pendingFailed // Commit failed; only Abort is left
	pendingAborting
	pendingAborted
)

type fileState uint8

const (
	fileOpen fileState = iota
	fileClosed
	fileFailed
)

// fileRecord is what the Pending knows of one state file.
type fileRecord struct {
	w     *fileWriter
	state fileState
	info  FileInfo
}

// maxBeginAttempts bounds the choice of a fresh random savepoint directory.
const maxBeginAttempts = 5

// Begin starts checkpoint id of the given kind and creates its directory:
// chk-<id> for a checkpoint (a final checkpoint is stored as one),
// savepoint-<id>-<random> for a savepoint. It returns an error wrapping
// ErrExists if checkpoint id is already complete, pending in this Storage
// or being deleted by Retain. A leftover partial
// directory of the same checkpoint (from a crashed or failed attempt) is
// deleted first, with a log message.
//
// Checkpoint ids must not be reused: after a restore, continue above the
// highest id Latest saw, the restored checkpoint's and every skipped one's
// (a corrupt checkpoint keeps its directory, and Begin refuses a directory
// that holds a _metadata file, valid or not).
func (s *Storage) Begin(ctx context.Context, id int64, kind Kind) (*Pending, error) {
	if id < 0 {
		return nil, fmt.Errorf("begin checkpoint %d: negative id", id)
	}
	if kind == checkpoint.KindFinal {
		kind = KindCheckpoint
	}
	if !storedKind(kind) {
		return nil, fmt.Errorf("begin checkpoint %d: unknown kind %d", id, kind)
	}
	for attempt := 0; ; attempt++ {
		p, retry, err := s.begin(ctx, id, kind)
		if !retry || attempt+1 >= maxBeginAttempts {
			return p, err
		}
	}
}

// begin makes one attempt of Begin; retry is true if a random savepoint
// directory name was taken.
func (s *Storage) begin(ctx context.Context, id int64, kind Kind) (p *Pending, retry bool, err error) {
	dir := checkpointDir(id)
	if kind == KindSavepoint {
		if dir, err = savepointDir(id); err != nil {
			return nil, false, fmt.Errorf("begin %s %d: %w", kind, id, err)
		}
	}
	if err := s.reserve(dir); err != nil {
		return nil, kind == KindSavepoint, fmt.Errorf("begin %s %d: %w", kind, id, err)
	}
	defer func() {
		if err != nil {
			s.release(dir)
		}
	}()
	path := s.b.dirLocation(dir)
	entries, err := s.b.listFiles(ctx, dir)
	if err != nil {
		return nil, false, fmt.Errorf("begin %s: %w", path, err)
	}
	if len(entries) > 0 {
		if kind == KindSavepoint {
			return nil, true, fmt.Errorf("begin %s: %w: directory not empty", path, ErrExists)
		}
		for _, e := range entries {
			if e.name == MetadataName {
				return nil, false, fmt.Errorf("begin %s: %w: it holds a %s file", path, ErrExists, MetadataName)
			}
		}
		s.log.Info("checkpoint storage: removing leftover files of an incomplete checkpoint before starting it again",
			"dir", path, "files", len(entries))
		if err := s.b.removeDir(ctx, dir); err != nil {
			return nil, false, fmt.Errorf("begin %s: remove leftover: %w", path, err)
		}
	}
	if err := s.b.mkdir(ctx, dir); err != nil {
		return nil, false, fmt.Errorf("begin %s: %w", path, err)
	}
	return &Pending{s: s, b: s.b, id: id, kind: kind, dir: dir, files: make(map[string]*fileRecord)}, false, nil
}

// ID returns the checkpoint id.
func (p *Pending) ID() int64 { return p.id }

// Kind returns the kind of checkpoint.
func (p *Pending) Kind() Kind { return p.kind }

// Dir returns the directory name, e.g. "chk-7".
func (p *Pending) Dir() string { return p.dir }

// Path returns the full location of the checkpoint directory.
func (p *Pending) Path() string { return p.b.dirLocation(p.dir) }

// stateErr returns the error for an operation on a Pending that is no longer
// open. p.mu must be held.
func (p *Pending) stateErr(op string) error {
	switch p.state {
	case pendingCommitted:
		return fmt.Errorf("%s %s: already committed", op, p.Path())
	case pendingFailed:
		return fmt.Errorf("%s %s: commit failed; abort it", op, p.Path())
	case pendingAborting, pendingAborted:
		return fmt.Errorf("%s %s: %w", op, p.Path(), ErrAborted)
	}
	return nil
}

// Create starts the state file name (see ValidateFileName) in the
// checkpoint directory. The file is written as it streams (never held whole
// in memory on the local backend) and counts for the checkpoint once its
// FileWriter was closed without error. Each name can be created once.
func (p *Pending) Create(ctx context.Context, name string) (FileWriter, error) {
	if err := ValidateFileName(name); err != nil {
		return nil, fmt.Errorf("create in %s: %w", p.Path(), err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.stateErr("create " + name + " in"); err != nil {
		return nil, err
	}
	if _, dup := p.files[name]; dup {
		return nil, fmt.Errorf("create %s in %s: already created", name, p.Path())
	}
	sk, err := p.b.create(ctx, p.dir, name)
	if err != nil {
		return nil, fmt.Errorf("create state file: %w", err)
	}
	w := &fileWriter{p: p, name: name, sink: sk}
	p.files[name] = &fileRecord{w: w}
	return w, nil
}

// fileClosed records the outcome of closing the FileWriter of name.
func (p *Pending) fileClosed(name string, info FileInfo, err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	rec := p.files[name]
	if p.state == pendingAborting || p.state == pendingAborted {
		// Whatever happened to the file, it no longer matters.
		rec.state = fileFailed
		return fmt.Errorf("state file %s of %s: %w", name, p.Path(), ErrAborted)
	}
	if err != nil {
		rec.state = fileFailed
		return fmt.Errorf("state file %s of %s: %w", name, p.Path(), err)
	}
	rec.state = fileClosed
	rec.info = info
	return nil
}

// Use declares that the checkpoint reads state files of the earlier
// checkpoints in dirs: directory names of this storage such as "chk-3".
// Commit records them in _metadata (see Checkpoint.Uses and
// Storage.LoadUsed), and from the call on Retain keeps them, and
// transitively the checkpoints they use, while the Pending is open. A name
// already given is ignored. A name that is not the directory name of a
// checkpoint older than this one, or any name for a savepoint (savepoints
// are self-contained), makes Commit fail. Use may be called several times
// and concurrently with the writing of state files; once the Pending is
// committed, failed or aborted it has no effect.
func (p *Pending) Use(dirs ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != pendingOpen {
		return
	}
	added := false
	for _, dir := range dirs {
		if _, dup := p.useSet[dir]; dup {
			continue
		}
		if p.useSet == nil {
			p.useSet = make(map[string]struct{})
		}
		p.useSet[dir] = struct{}{}
		if err := validateUses(p.id, p.kind, []string{dir}); err != nil {
			if p.useErr == nil {
				p.useErr = err
			}
			continue
		}
		p.uses = append(p.uses, dir)
		added = true
	}
	if added {
		p.s.declareUses(p.dir, slices.Clone(p.uses))
	}
}

// checkUses makes sure that every checkpoint in uses is complete, so that
// no checkpoint is committed that cannot be restored. Retain keeps them
// from the moment they were declared (declareUses), so once this check
// passed they stay. p.mu must be held.
func (p *Pending) checkUses(ctx context.Context, uses []string) error {
	for _, dir := range uses {
		if p.s.isBusy(dir) {
			return fmt.Errorf("uses %s, which is pending or being deleted", p.b.dirLocation(dir))
		}
		if p.s.knownComplete(dir) {
			continue
		}
		in, err := inspect(ctx, p.b, dir)
		switch {
		case err != nil:
			return fmt.Errorf("check used checkpoint %s: %w", in.path, err)
		case len(in.entries) == 0:
			return fmt.Errorf("uses %s, which is missing: %w: no such checkpoint directory, or it is empty", in.path, ErrNotFound)
		case in.status != StatusComplete:
			return fmt.Errorf("uses %s, which is %s: %w", in.path, in.status, in.err)
		}
		p.s.setComplete(dir, true)
	}
	return nil
}

// Commit completes the checkpoint: it writes _metadata, listing every state
// file with its size and CRC-32C and the checkpoints declared with Use
// (sorted by id) together with payload (the runtime's opaque metadata),
// last and atomically. Every FileWriter created must have been closed
// without error, and every used checkpoint must be complete, else Commit
// fails and the Pending stays open. A used checkpoint that this Storage
// committed, or already found complete, and has not deleted since is not
// inspected again (incremental checkpoints use the same ones over and
// over); damage done to it by others shows when it is restored.
// If writing _metadata fails, Commit makes sure as far as it can that no
// complete checkpoint is left behind; the Pending then only accepts Abort,
// which deletes the directory. The encoded _metadata, payload included, is
// limited to 256 MiB.
func (p *Pending) Commit(ctx context.Context, payload []byte) (*Checkpoint, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.stateErr("commit"); err != nil {
		return nil, err
	}
	files := make([]FileInfo, 0, len(p.files))
	for name, rec := range p.files {
		switch rec.state {
		case fileOpen:
			return nil, fmt.Errorf("commit %s: state file %s is not closed", p.Path(), name)
		case fileFailed:
			return nil, fmt.Errorf("commit %s: state file %s failed; abort the checkpoint", p.Path(), name)
		}
		files = append(files, rec.info)
	}
	slices.SortFunc(files, func(a, b FileInfo) int { return cmp.Compare(a.Name, b.Name) })
	if p.useErr != nil {
		return nil, fmt.Errorf("commit %s: %w", p.Path(), p.useErr)
	}
	uses := slices.Clone(p.uses)
	slices.SortFunc(uses, func(a, b string) int {
		ida, _, _ := parseDir(a)
		idb, _, _ := parseDir(b)
		return cmp.Compare(ida, idb)
	})
	if err := p.checkUses(ctx, uses); err != nil {
		return nil, fmt.Errorf("commit %s: %w", p.Path(), err)
	}
	md := Metadata{
		ID:      p.id,
		Kind:    p.kind,
		Created: time.UnixMilli(p.s.now().UnixMilli()).UTC(),
		Files:   files,
		Uses:    uses,
		Payload: slices.Clone(payload),
	}
	data, err := EncodeMetadata(md)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", p.Path(), err)
	}
	if len(data) > maxMetadataSize {
		return nil, fmt.Errorf("commit %s: metadata of %d bytes exceeds the limit of %d bytes; keep large data in state files", p.Path(), len(data), maxMetadataSize)
	}
	if err := p.b.publish(ctx, p.dir, MetadataName, data); err != nil {
		p.state = pendingFailed
		return nil, fmt.Errorf("commit %s: %w", p.Path(), err)
	}
	p.state = pendingCommitted
	p.s.setComplete(p.dir, true)
	p.s.release(p.dir)
	return &Checkpoint{
		ID: md.ID, Kind: md.Kind, Dir: p.dir, Path: p.Path(), Created: md.Created,
		Files: md.Files, Uses: md.Uses, Payload: md.Payload, b: p.b,
	}, nil
}

// Abort abandons the checkpoint and deletes its directory. FileWriters still
// open are discarded; their later calls return ErrAborted. Abort of an
// aborted Pending returns nil; of a committed one, an error (committed
// checkpoints are deleted by Retain).
func (p *Pending) Abort(ctx context.Context) error {
	p.mu.Lock()
	switch p.state {
	case pendingCommitted:
		p.mu.Unlock()
		return fmt.Errorf("abort %s: already committed", p.Path())
	case pendingAborting, pendingAborted:
		p.mu.Unlock()
		return nil
	}
	p.state = pendingAborting
	writers := make([]*fileWriter, 0, len(p.files))
	for _, rec := range p.files {
		writers = append(writers, rec.w)
	}
	p.mu.Unlock()

	for _, w := range writers {
		w.abort()
	}
	err := p.b.removeDir(ctx, p.dir)

	p.mu.Lock()
	p.state = pendingAborted
	p.mu.Unlock()
	p.s.release(p.dir)
	if err != nil {
		return fmt.Errorf("abort %s: %w", p.Path(), err)
	}
	p.s.log.Debug("checkpoint storage: aborted checkpoint", "dir", p.Path())
	return nil
}

// errClosedWriter is returned by a FileWriter used after Close.
var errClosedWriter = errors.New("state file already closed")
