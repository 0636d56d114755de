package crashtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/connector"
)

// Subdirectories of a TxFileSink's directory.
const (
	// PendingDir holds pre-committed files: written and durable, not yet
	// part of the output.
	PendingDir = "pending"
	// CommittedDir holds committed files: the output.
	CommittedDir = "committed"
)

// TxFileSink is a durable exactly-once sink of lines (strings without a
// newline) into a local directory, for torture tests: its output survives
// SIGKILL, and it implements the two-phase protocol the way a transactional
// target does.
//
//   - A writer buffers lines in memory. On the barrier of checkpoint n,
//     PreCommit writes the buffer to a new file pending/s<subtask>-c<n>-<random>.txt,
//     fsyncs the file and the pending directory, and returns the file's
//     name as the committable, which goes into checkpoint n.
//   - When a checkpoint completes (or is restored), Commit renames each
//     named file from pending/ to committed/ and fsyncs both directories. A
//     name already in committed/ is success (a restore commits its
//     checkpoint's committables again); a name in neither is an error
//     wrapping connector.ErrDataLoss.
//
// Files in pending/ that no completed checkpoint names (the work of a run
// that died before its checkpoint completed) are never committed, so their
// lines never reach the output. They stay in pending/: while a job runs, no
// subtask can tell them from the files its restored checkpoint names, since
// after a restore the committables of all subtasks are dealt out anew, and
// a subtask's clean-up could race another subtask's commit of the same
// checkpoint. Once the job has finished (its final checkpoint committed and
// no run left), every file in pending/ is such a leftover: PendingFiles
// lists them.
//
// Names carry a random part, so a checkpoint id used again by a later run
// (after its first use never completed) cannot overwrite a file.
type TxFileSink struct {
	dir string
}

// NewTxFileSink returns a sink writing into dir, which it creates if
// needed.
func NewTxFileSink(dir string) *TxFileSink { return &TxFileSink{dir: dir} }

// Dir is the sink's directory.
func (s *TxFileSink) Dir() string { return s.dir }

// Declare says the sink is exactly-once with checkpoints.
func (s *TxFileSink) Declare(checkpointing bool) connector.Declaration {
	if !checkpointing {
		return connector.Declaration{Guarantee: connector.AtLeastOnce,
			Reason: "without checkpoints everything commits at the end of input; a failed job starts over"}
	}
	return connector.Declaration{Guarantee: connector.ExactlyOnce,
		Reason: "one durable pending file per subtask and checkpoint, renamed into the output when the checkpoint completes"}
}

// NewWriter implements connector.Sink.
func (s *TxFileSink) NewWriter(ctx connector.WriterContext, _ [][]byte) (connector.Writer[string], error) {
	if err := s.makeDirs(); err != nil {
		return nil, err
	}
	return &txFileWriter{s: s, subtask: ctx.Subtask()}, nil
}

// NewCommitter implements connector.TwoPhaseSink.
func (s *TxFileSink) NewCommitter(connector.WriterContext) (connector.Committer, error) {
	if err := s.makeDirs(); err != nil {
		return nil, err
	}
	return txFileCommitter{s}, nil
}

func (s *TxFileSink) makeDirs() error {
	for _, d := range []string{PendingDir, CommittedDir} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o755); err != nil {
			return fmt.Errorf("crashtest: tx file sink: %w", err)
		}
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("crashtest: tx file sink: %w", err)
	}
	return syncDir(filepath.Dir(s.dir))
}

type txFileWriter struct {
	s       *TxFileSink
	subtask int
	buf     []byte
}

func (w *txFileWriter) Write(_ context.Context, v string, _ int64) error {
	if strings.ContainsRune(v, '\n') {
		return fmt.Errorf("crashtest: tx file sink: line %q contains a newline", v)
	}
	w.buf = append(w.buf, v...)
	w.buf = append(w.buf, '\n')
	return nil
}

// Flush does nothing: lines become durable at PreCommit.
func (w *txFileWriter) Flush(context.Context) error { return nil }

func (w *txFileWriter) PreCommit(_ context.Context, checkpointID int64) ([][]byte, error) {
	if len(w.buf) == 0 {
		return nil, nil
	}
	name := fmt.Sprintf("s%03d-c%08d-%s.txt", w.subtask, checkpointID, rand.Text())
	pending := filepath.Join(w.s.dir, PendingDir)
	if err := writeFileSync(filepath.Join(pending, name), w.buf); err != nil {
		return nil, fmt.Errorf("crashtest: tx file sink: pre-commit: %w", err)
	}
	if err := syncDir(pending); err != nil {
		return nil, fmt.Errorf("crashtest: tx file sink: pre-commit: %w", err)
	}
	w.buf = w.buf[:0]
	return [][]byte{[]byte(name)}, nil
}

// Close drops what was written since the last PreCommit: it belongs to no
// checkpoint and is replayed after a restore.
func (w *txFileWriter) Close() error { return nil }

type txFileCommitter struct{ s *TxFileSink }

func (c txFileCommitter) Commit(_ context.Context, _ int64, committables [][]byte) (err error) {
	pending := filepath.Join(c.s.dir, PendingDir)
	committed := filepath.Join(c.s.dir, CommittedDir)
	renamed := false
	defer func() {
		if !renamed {
			return
		}
		// The new names first, then the removals: after a power loss a
		// file may be in both directories, never in neither.
		if serr := syncDir(committed); serr != nil && err == nil {
			err = fmt.Errorf("crashtest: tx file sink: commit: %w", serr)
		}
		if serr := syncDir(pending); serr != nil && err == nil {
			err = fmt.Errorf("crashtest: tx file sink: commit: %w", serr)
		}
	}()
	for _, b := range committables {
		name := string(b)
		if !validName(name) {
			return fmt.Errorf("crashtest: tx file sink: malformed committable %q", name)
		}
		rerr := os.Rename(filepath.Join(pending, name), filepath.Join(committed, name))
		if rerr == nil {
			renamed = true
			continue
		}
		if !errors.Is(rerr, fs.ErrNotExist) {
			return fmt.Errorf("crashtest: tx file sink: commit %s: %w", name, rerr)
		}
		switch _, serr := os.Stat(filepath.Join(committed, name)); {
		case serr == nil:
			continue // committed before
		case !errors.Is(serr, fs.ErrNotExist):
			return fmt.Errorf("crashtest: tx file sink: commit %s: %w", name, serr)
		}
		return fmt.Errorf("crashtest: tx file sink: commit %s: in neither %s nor %s: %w",
			name, pending, committed, connector.ErrDataLoss)
	}
	return nil
}

func (txFileCommitter) Close() error { return nil }

func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\\\x00")
}

// ReadCommitted returns the lines committed into the TxFileSink directory
// dir: file by file in name order, each file's lines in order. It fails on
// a committed file that does not end with a newline (a torn write).
func ReadCommitted(dir string) ([]string, error) {
	files, err := ReadCommittedFiles(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []string
	for _, n := range names {
		out = append(out, files[n]...)
	}
	return out, nil
}

// ReadCommittedFiles returns the lines of every committed file of the
// TxFileSink directory dir, by file name.
func ReadCommittedFiles(dir string) (map[string][]string, error) {
	committed := filepath.Join(dir, CommittedDir)
	entries, err := os.ReadDir(committed)
	if err != nil {
		return nil, fmt.Errorf("crashtest: read committed output: %w", err)
	}
	out := make(map[string][]string, len(entries))
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(committed, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("crashtest: read committed output: %w", err)
		}
		if len(b) == 0 || b[len(b)-1] != '\n' {
			return nil, fmt.Errorf("crashtest: committed file %s is empty or torn (no final newline)", e.Name())
		}
		lines := bytes.Split(b[:len(b)-1], []byte{'\n'})
		ls := make([]string, len(lines))
		for i, l := range lines {
			ls[i] = string(l)
		}
		out[e.Name()] = ls
	}
	return out, nil
}

// PendingFiles returns the names of the files left in pending/ of the
// TxFileSink directory dir. Once the job has finished, they are the work of
// runs that died before the checkpoint naming them completed.
func PendingFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(dir, PendingDir))
	if err != nil {
		return nil, fmt.Errorf("crashtest: list pending files: %w", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}

// writeFileSync creates path (which must not exist), writes b and fsyncs.
func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
