package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// verifyParallelism bounds how many state files Verify reads at once: a
// few reads in flight hide the latency of an object store, and on a local
// disk they keep the cores busy with checksums.
const verifyParallelism = 4

// verifyBuffer is the read buffer of each reader of Verify.
const verifyBuffer = 256 << 10

// Verify reads every state file of cp to its end and checks its size and
// CRC-32C against cp's metadata, then does the same for each checkpoint cp
// uses (Checkpoint.Uses, found as LoadUsed finds it), so that a restore
// learns of damaged data before it uses any state. Files are streamed
// through a small buffer, never held whole in memory, a few at a time. A
// used checkpoint's own uses are not followed: cp.Uses lists every
// checkpoint whose files cp reads.
//
// Verify returns nil if every file matches, and an error wrapping
// ErrCorrupt that names the checkpoint and the file if one does not: a
// state file with other content, size or CRC-32C than recorded, or missing,
// or a used checkpoint that is missing, partial or corrupt. An error
// wrapping ErrUnsupportedVersion means a used checkpoint's metadata is of a
// newer format version. Any other error (an I/O error, ctx done) says
// nothing about the data: the checkpoint may be intact.
//
// Verification costs one more read of every state file: on a local disk,
// about 10 ms per 100 MB in the page cache and 35 ms from the disk on the
// benchmark machine of docs/benchmarks.md.
func (s *Storage) Verify(ctx context.Context, cp *Checkpoint) error {
	if err := s.newVerifier().verify(ctx, cp); err != nil {
		return fmt.Errorf("verify checkpoint %s: %w", cp.Path, err)
	}
	return nil
}

// verifier verifies checkpoints and remembers, by directory location, the
// outcome of reading a directory's own files, so that a checkpoint used by
// several others is read once per verifier.
type verifier struct {
	s    *Storage
	done map[string]error // nil or the corruption found
}

func (s *Storage) newVerifier() *verifier {
	return &verifier{s: s, done: map[string]error{}}
}

// verify verifies cp as Verify does. Its errors name the damaged file (or
// used checkpoint) but not cp; callers add that.
func (v *verifier) verify(ctx context.Context, cp *Checkpoint) error {
	if err := v.files(ctx, cp); err != nil {
		return err
	}
	for _, dir := range cp.Uses {
		used, err := v.s.LoadUsed(ctx, cp, dir)
		if err != nil {
			return err
		}
		if err := v.files(ctx, used); err != nil {
			return fmt.Errorf("it uses %s: %w", dir, err)
		}
	}
	return nil
}

// files reads every state file of cp (not of the checkpoints it uses).
// The error is the corruption of the first damaged file in cp.Files order
// among those read, else the first other error.
func (v *verifier) files(ctx context.Context, cp *Checkpoint) error {
	key := v.s.backendOf(cp).dirLocation(cp.Dir)
	if err, ok := v.done[key]; ok {
		return err
	}
	// Reads stop early once a file is found damaged.
	readCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(cp.Files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(verifyParallelism, len(cp.Files)) {
		wg.Go(func() {
			buf := make([]byte, verifyBuffer)
			for i := range next {
				errs[i] = v.s.readFile(readCtx, cp, cp.Files[i].Name, buf)
				if errors.Is(errs[i], ErrCorrupt) {
					cancel()
				}
			}
		})
	}
feed:
	for i := range cp.Files {
		select {
		case next <- i:
		case <-readCtx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	var first error
	for _, err := range errs {
		if errors.Is(err, ErrCorrupt) {
			v.done[key] = err
			return err
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		v.done[key] = nil
	}
	return first
}

// backendOf returns the backend cp is stored on.
func (s *Storage) backendOf(cp *Checkpoint) backend {
	if cp.b != nil {
		return cp.b
	}
	return s.b
}

// readFile reads the state file name of cp to its end through OpenFile,
// which checks its size and CRC-32C.
func (s *Storage) readFile(ctx context.Context, cp *Checkpoint, name string, buf []byte) error {
	r, err := s.OpenFile(ctx, cp, name)
	if err != nil {
		return err
	}
	defer r.Close()
	// Not io.Copy to io.Discard: that reads through io.Discard's small
	// buffer, a system call per 8 KiB on the local backend.
	for {
		_, err := r.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		// Local reads do not look at ctx: a stop must not wait for
		// gigabytes to be read.
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}
