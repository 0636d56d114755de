package file

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// writer is the sink writer of one subtask. It keeps at most one
// in-progress part file per bucket.
type writer[T any] struct {
	s        *Sink[T]
	sub, par int
	log      *slog.Logger
	parts    map[string]*part[T] // by bucket
	next     uint64              // next part number
	scanned  map[string]bool     // bucket directories whose used part numbers are known
	pending  []pendingFile       // rolled since the last pre-commit
	unsynced map[string]struct{} // directories with entries not yet fsynced
	checked  time.Time           // last check of the time limits

	// Leftover removal after a restore (see removeLeftovers): the
	// in-progress files this writer created or resumed, and the first
	// checkpoint it pre-committed.
	mine           map[string]struct{}
	firstPreCommit int64
}

// part is an in-progress part file.
type part[T any] struct {
	pendingFile
	f         *os.File
	bw        *bufio.Writer
	pw        PartWriter[T]
	synced    int64 // bytes known durable
	opened    time.Time
	lastWrite time.Time
}

// Write counts the bytes written through the part's buffer: size is the
// length of the file once the buffer is flushed.
func (p *part[T]) Write(b []byte) (int, error) {
	n, err := p.bw.Write(b)
	p.size += int64(n)
	return n, err
}

func newWriter[T any](s *Sink[T], ctx connector.WriterContext) *writer[T] {
	return &writer[T]{
		s: s, sub: ctx.Subtask(), par: ctx.Parallelism(), log: ctx.Logger(),
		parts: map[string]*part[T]{}, scanned: map[string]bool{}, unsynced: map[string]struct{}{},
		checked: s.now(),
	}
}

func (w *writer[T]) bucketDir(bucket string) string {
	return filepath.Join(w.s.dir, filepath.FromSlash(bucket))
}

// restore continues the in-progress files of the restored checkpoint.
func (w *writer[T]) restore(restored [][]byte) error {
	for _, b := range restored {
		st, err := decodeWriterState(b)
		if err != nil {
			return err
		}
		if st.subtask == w.sub {
			w.next = max(w.next, st.next)
		}
		if len(restored) == 1 && st.subtask == w.sub && st.parallelism == w.par {
			// This writer holds all in-progress files its subtask had
			// at the checkpoint: it can tell leftovers apart.
			w.mine = map[string]struct{}{}
		}
		for _, ip := range st.parts {
			if err := w.resume(ip); err != nil {
				return err
			}
		}
	}
	return nil
}

// resume truncates an in-progress file to its checkpointed length, which
// discards what was written after the checkpoint, and continues it.
func (w *writer[T]) resume(ip inProgressFile) error {
	if !w.s.enc.Resumable() {
		return fmt.Errorf("file sink: the checkpoint holds the in-progress part file %s, but the encoder is not resumable (was the format changed?)", ip.temp)
	}
	dir := w.bucketDir(ip.bucket)
	temp, final := filepath.Join(dir, ip.temp), filepath.Join(dir, ip.final)
	f, err := os.OpenFile(temp, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		if _, ferr := os.Lstat(final); ferr == nil {
			return fmt.Errorf("file sink: in-progress part file %s of the restored checkpoint was already committed as %s by a later checkpoint: %w; restoring a checkpoint older than the latest completed one would write its records again", temp, final, connector.ErrOutputAhead)
		}
		return fmt.Errorf("file sink: in-progress part file %s of the restored checkpoint is gone: %w", temp, connector.ErrDataLoss)
	}
	if err != nil {
		return fmt.Errorf("file sink: reopen in-progress part file: %w", err)
	}
	err = func() error {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if fi.Size() < ip.size {
			return fmt.Errorf("it has %d bytes, fewer than the %d of the checkpoint: %w", fi.Size(), ip.size, connector.ErrDataLoss)
		}
		if fi.Size() > ip.size {
			if err := f.Truncate(ip.size); err != nil {
				return err
			}
		}
		if err := f.Sync(); err != nil {
			return err
		}
		_, err = f.Seek(ip.size, io.SeekStart)
		return err
	}()
	if err != nil {
		f.Close()
		return fmt.Errorf("file sink: resume in-progress part file %s: %w", temp, err)
	}
	now := w.s.now()
	w.track(temp)
	p := &part[T]{pendingFile: ip.pendingFile, f: f, synced: ip.size, opened: time.Unix(0, ip.opened), lastWrite: now}
	p.bw = bufio.NewWriterSize(f, 64<<10)
	if p.pw, err = w.s.enc.NewPartWriter(p, true); err != nil {
		f.Close()
		return fmt.Errorf("file sink: resume %s: %w", temp, err)
	}
	_, busy := w.parts[ip.bucket]
	if busy || !strings.HasPrefix(ip.final, w.ownPrefix()) {
		// After a rescale: a file numbered by another subtask, or a
		// second file for the bucket. It is finished now, to be
		// committed by the next checkpoint, so that an in-progress file
		// always carries the number of the subtask that holds it (which
		// removeLeftovers relies on).
		return w.finishPart(p)
	}
	w.parts[ip.bucket] = p
	return nil
}

// ownPrefix starts the names of the part files this subtask numbers.
func (w *writer[T]) ownPrefix() string { return w.s.prefix + "-" + strconv.Itoa(w.sub) + "-" }

func (w *writer[T]) Write(_ context.Context, v T, ts int64) error {
	now := w.s.now()
	if now.Sub(w.checked) >= timeCheckInterval {
		if err := w.rollByTime(now); err != nil {
			return err
		}
	}
	bucket, err := w.s.buckets.Bucket(v, ts, now)
	if err != nil {
		return fmt.Errorf("file sink: bucket: %w", err)
	}
	p := w.parts[bucket]
	if p == nil {
		if err := checkBucket(bucket); err != nil {
			return err
		}
		if p, err = w.openPart(bucket, now); err != nil {
			return err
		}
		w.parts[bucket] = p
	}
	if err := p.pw.Write(v); err != nil {
		return fmt.Errorf("file sink: encode record into %s: %w", p.temp, err)
	}
	p.lastWrite = now
	if max := w.s.rolling.MaxSize; max > 0 && p.size >= max {
		return w.roll(bucket)
	}
	return nil
}

// timeCheckInterval is how often (in processing time) writes check the
// time limits of the rolling policy, before writing.
const timeCheckInterval = 100 * time.Millisecond

// rollByTime rolls the part files past their age or inactivity limit.
func (w *writer[T]) rollByTime(now time.Time) error {
	w.checked = now
	pol := w.s.rolling
	if pol.MaxAge <= 0 && pol.Inactivity <= 0 {
		return nil
	}
	for bucket, p := range w.parts {
		if pol.MaxAge > 0 && now.Sub(p.opened) >= pol.MaxAge || pol.Inactivity > 0 && now.Sub(p.lastWrite) >= pol.Inactivity {
			if err := w.roll(bucket); err != nil {
				return err
			}
		}
	}
	return nil
}

// openPart starts a part file in the bucket's directory.
func (w *writer[T]) openPart(bucket string, now time.Time) (*part[T], error) {
	dir := w.bucketDir(bucket)
	if err := w.mkdirs(dir); err != nil {
		return nil, fmt.Errorf("file sink: create bucket directory: %w", unusablePath(err))
	}
	if !w.scanned[dir] {
		if err := w.scanPartNumbers(dir); err != nil {
			return nil, fmt.Errorf("file sink: list bucket directory: %w", err)
		}
	}
	for {
		n := w.next
		w.next++
		final := fmt.Sprintf("%s-%d-%d%s", w.s.prefix, w.sub, n, w.s.enc.Extension())
		if _, err := os.Lstat(filepath.Join(dir, final)); err == nil {
			continue
		}
		temp := fmt.Sprintf(".%s-%d-%d.inprogress.%s", w.s.prefix, w.sub, n, randomHex())
		f, err := os.OpenFile(filepath.Join(dir, temp), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("file sink: create part file: %w", unusablePath(err))
		}
		w.unsynced[dir] = struct{}{}
		w.track(filepath.Join(dir, temp))
		p := &part[T]{pendingFile: pendingFile{bucket: bucket, final: final, temp: temp}, f: f, opened: now, lastWrite: now}
		p.bw = bufio.NewWriterSize(f, 64<<10)
		if p.pw, err = w.s.enc.NewPartWriter(p, false); err != nil {
			f.Close()
			return nil, fmt.Errorf("file sink: start part file %s: %w", temp, err)
		}
		return p, nil
	}
}

// scanPartNumbers raises the next part number above those this subtask
// used in dir before (by earlier attempts; other subtasks only continue
// or commit such files, they never start one with this subtask's number).
func (w *writer[T]) scanPartNumbers(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	prefix := w.ownPrefix()
	for _, e := range entries {
		name := strings.TrimPrefix(e.Name(), ".")
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if n, err := strconv.ParseUint(rest[:i], 10, 64); err == nil && n >= w.next {
			w.next = n + 1
		}
	}
	if len(w.scanned) >= 10000 {
		clear(w.scanned) // many buckets: rescanning costs time, not correctness
	}
	w.scanned[dir] = true
	return nil
}

// mkdirs makes dir and its missing parents, remembering the directories
// whose new entries must be fsynced before a checkpoint.
func (w *writer[T]) mkdirs(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := w.mkdirs(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	w.unsynced[parent] = struct{}{}
	return nil
}

// unusablePath marks err as a rejection (permanent) when the output path
// cannot hold files however often the job retries: a path through a
// regular file, a read-only file system, or missing permissions.
func unusablePath(err error) error {
	if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w (%w: choose a path where the job may create directories and files, or fix the permissions)", err, connector.ErrRejected)
	}
	return err
}

func randomHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// roll finishes the bucket's part file; it becomes pending.
func (w *writer[T]) roll(bucket string) error {
	p := w.parts[bucket]
	delete(w.parts, bucket)
	return w.finishPart(p)
}

func (w *writer[T]) finishPart(p *part[T]) error {
	err := p.pw.Finish()
	if err == nil {
		err = p.bw.Flush()
	}
	if err == nil {
		err = p.f.Sync()
	}
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("file sink: finish part file %s: %w", filepath.Join(w.bucketDir(p.bucket), p.temp), err)
	}
	w.pending = append(w.pending, p.pendingFile)
	return nil
}

// sync makes the content of the in-progress file durable up to its size.
func (p *part[T]) sync() error {
	if p.size == p.synced {
		return nil
	}
	if err := p.bw.Flush(); err != nil {
		return err
	}
	if err := p.f.Sync(); err != nil {
		return err
	}
	p.synced = p.size
	return nil
}

// PreCommit rolls what the policy (or a non-resumable encoder) says must
// roll, makes the in-progress files durable up to their current length,
// and returns the pending files as committables.
func (w *writer[T]) PreCommit(_ context.Context, checkpointID int64) ([][]byte, error) {
	if w.firstPreCommit == 0 {
		w.firstPreCommit = checkpointID
	}
	if err := w.rollByTime(w.s.now()); err != nil {
		return nil, err
	}
	resumable := w.s.enc.Resumable()
	for bucket, p := range w.parts {
		if !resumable {
			if err := w.roll(bucket); err != nil {
				return nil, err
			}
			continue
		}
		if err := p.sync(); err != nil {
			return nil, fmt.Errorf("file sink: sync %s for checkpoint %d: %w", p.temp, checkpointID, err)
		}
	}
	if err := w.syncDirs(); err != nil {
		return nil, err
	}
	out := make([][]byte, len(w.pending))
	for i := range w.pending {
		out[i] = encodeCommittable(&w.pending[i])
	}
	w.pending = w.pending[:0]
	return out, nil
}

func (w *writer[T]) syncDirs() error {
	for dir := range w.unsynced {
		if err := syncDir(dir); err != nil {
			return fmt.Errorf("file sink: sync directory %s: %w", dir, err)
		}
		delete(w.unsynced, dir)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// SnapshotState records the in-progress files with their durable length
// (PreCommit has synced them), as one entry.
func (w *writer[T]) SnapshotState(int64) ([][]byte, error) {
	st := writerState{subtask: w.sub, parallelism: w.par, next: w.next}
	for _, p := range w.parts {
		if err := p.sync(); err != nil {
			return nil, fmt.Errorf("file sink: sync %s: %w", p.temp, err)
		}
		st.parts = append(st.parts, inProgressFile{pendingFile: p.pendingFile, opened: p.opened.UnixNano()})
	}
	if err := w.syncDirs(); err != nil {
		return nil, err
	}
	return [][]byte{st.encode()}, nil
}

// Flush is called at the end of the input: every in-progress file rolls,
// to be committed by the final checkpoint (or right away without
// checkpoints).
func (w *writer[T]) Flush(context.Context) error {
	for bucket := range w.parts {
		if err := w.roll(bucket); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the open files. In-progress files stay where they are: a
// restore continues them or, when no checkpoint holds them, they stay
// hidden.
func (w *writer[T]) Close() error {
	var errs []error
	for bucket, p := range w.parts {
		errs = append(errs, p.f.Close())
		delete(w.parts, bucket)
	}
	return errors.Join(errs...)
}

func (w *writer[T]) track(temp string) {
	if w.mine != nil {
		w.mine[temp] = struct{}{}
	}
}

// NotifyCheckpointComplete removes leftovers once, after a restore.
func (w *writer[T]) NotifyCheckpointComplete(id int64) error {
	if w.mine != nil && w.firstPreCommit != 0 && id >= w.firstPreCommit {
		w.removeLeftovers()
		w.mine = nil
	}
	return nil
}

// NotifyCheckpointAborted does nothing: pending files wait for the next
// checkpoint.
func (w *writer[T]) NotifyCheckpointAborted(int64) error { return nil }

// removeLeftovers deletes the hidden files with this subtask's part
// numbers that no checkpoint refers to: those a failed attempt wrote after
// the checkpoint this job restored. It runs only when this writer restored
// exactly its own subtask's state at an unchanged parallelism, and only
// after a checkpoint of this attempt completed. Then:
//   - every subtask restored its own state, and an in-progress file in a
//     writer's state always has its holder's number (resume finishes the
//     others), so this writer knows all in-progress files of the
//     checkpoint with its numbers;
//   - every subtask has committed the restored committables (each did so
//     before taking part in the checkpoint), so no pending file of the
//     checkpoint is hidden any more;
//   - other hidden files with its numbers that are still needed were
//     created by this writer in this attempt.
//
// Other subtasks' numbers are left alone. Failures are logged, not fatal.
func (w *writer[T]) removeLeftovers() {
	prefix := "." + w.ownPrefix()
	removed := 0
	err := filepath.WalkDir(w.s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			if path != w.s.dir && hidden(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if !strings.HasPrefix(name, prefix) || !strings.Contains(name, ".inprogress.") {
			return nil
		}
		if _, ok := w.mine[path]; ok {
			return nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		removed++
		return nil
	})
	if err != nil {
		w.log.Warn("file sink: removing leftover in-progress files failed", "dir", w.s.dir, "err", err)
	}
	if removed > 0 {
		w.log.Info("file sink: removed leftover in-progress files of a failed attempt", "dir", w.s.dir, "subtask", w.sub, "files", removed)
	}
}
