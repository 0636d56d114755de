package storage

import (
	"fmt"
	"hash/crc32"
	"io"
	"sync"
	"sync/atomic"
)

// FileWriter writes one state file of a pending checkpoint. One goroutine at
// a time may use a FileWriter; different FileWriters of one Pending may be
// used concurrently.
type FileWriter interface {
	// Write appends p to the file. After a write error, later Writes return
	// it and Close discards the file.
	io.Writer
	// Close completes the file: on the local backend it is flushed and
	// fsynced, on an object store uploaded. Its size and CRC-32C are then
	// recorded for the checkpoint's _metadata. A non-nil error means the
	// file does not count, and the checkpoint cannot be committed. Close
	// after Abort returns an error wrapping ErrAborted.
	io.Closer
}

type fileWriter struct {
	p    *Pending
	name string
	sink sink // set once, before the writer is shared

	// aborting is set by abort before it cancels the sink, so that I/O
	// errors caused by the cancellation are reported as ErrAborted.
	aborting atomic.Bool

	mu      sync.Mutex
	crc     uint32
	size    int64
	err     error // first write error
	done    bool  // Close or abort was called
	aborted bool
}

func (w *fileWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.aborted:
		return 0, fmt.Errorf("write %s: %w", w.name, ErrAborted)
	case w.done:
		return 0, fmt.Errorf("write %s: %w", w.name, errClosedWriter)
	case w.err != nil:
		return 0, w.err
	}
	n, err := w.sink.Write(b)
	w.crc = crc32.Update(w.crc, castagnoli, b[:n])
	w.size += int64(n)
	if err != nil {
		if w.aborting.Load() {
			err = fmt.Errorf("write %s: %w", w.name, ErrAborted)
		}
		w.err = err
	}
	return n, err
}

func (w *fileWriter) Close() error {
	w.mu.Lock()
	switch {
	case w.aborted:
		w.mu.Unlock()
		return fmt.Errorf("close %s: %w", w.name, ErrAborted)
	case w.done:
		w.mu.Unlock()
		return fmt.Errorf("close %s: %w", w.name, errClosedWriter)
	}
	w.done = true
	err := w.err
	if err == nil {
		err = w.sink.commit()
	}
	if err != nil {
		w.sink.discard()
		if w.aborting.Load() {
			err = ErrAborted
		}
	}
	info := FileInfo{Name: w.name, Size: w.size, CRC32C: w.crc}
	w.mu.Unlock()
	// w.mu is released before the Pending's lock is taken (lock order in
	// doc.go).
	return w.p.fileClosed(w.name, info, err)
}

// abort discards the file unless it was already closed. The sink is
// canceled first so that a Write or Close blocked on the network returns.
func (w *fileWriter) abort() {
	w.aborting.Store(true)
	w.sink.cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	w.done, w.aborted = true, true
	w.sink.discard()
}
