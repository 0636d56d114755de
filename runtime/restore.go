package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/checkpoint/storage"
	"github.com/sluicehq/sluice/connector"
)

// restoredJob maps a checkpoint's state onto the subtasks of this plan.
type restoredJob struct {
	id    int64
	path  string
	cp    *storage.Checkpoint
	store *storage.Storage
	meta  *jobMetadata
	ctx   context.Context
	// skippedCorrupt lists the checkpoints newer than cp that a restore
	// of the latest checkpoint skipped because they were corrupt, newest
	// first. They had probably completed, so exactly-once sinks may have
	// committed output past cp (see explain).
	skippedCorrupt []storage.Skipped

	mu   sync.Mutex
	used map[string]*storage.Checkpoint // earlier checkpoints of incremental chains, by directory
}

// Choices offered when a restore cannot go on by itself.
const (
	choiceSavepoint = "restore a savepoint or another checkpoint (--restore PATH; Go: Config.Restore)"
	choiceFresh     = "start fresh (--fresh; Go: Config.Fresh), which delivers all output again"
)

// loadRestore finds and checks the checkpoint to restore: from is "latest"
// or a path for storage.Load. It returns nil, nil when "latest" finds no
// checkpoint at all: the job starts fresh.
//
// Every state file is verified (storage.Verify) before any state is used.
// For "latest", a corrupt checkpoint is logged and the previous complete
// one tried, and so on; if none is left but some were corrupt, the error
// is permanent, as starting over would repeat output those checkpoints
// committed. A corrupt or missing checkpoint named by path is a permanent
// error, and so is one that does not fit the job. I/O errors are not
// permanent: a retry may read the checkpoint.
func (a *attempt) loadRestore(from string) (*restoredJob, error) {
	st := a.j.store
	var cp *storage.Checkpoint
	var corrupt []storage.Skipped
	if from == "latest" {
		var skipped []storage.Skipped
		var err error
		cp, skipped, err = st.LatestVerified(a.ctx)
		for _, s := range skipped {
			if errors.Is(s.Err, storage.ErrCorrupt) {
				corrupt = append(corrupt, s)
				a.logger.Warn("checkpoint is corrupt; trying the previous one", "path", s.Path, "reason", s.Reason)
			} else {
				a.logger.Warn("skipping incomplete checkpoint", "path", s.Path, "reason", s.Reason)
			}
		}
		if err != nil {
			err = fmt.Errorf("find latest checkpoint in %s: %w", st.Location(), err)
			if errors.Is(err, storage.ErrUnsupportedVersion) {
				return nil, connector.Permanent(fmt.Errorf("%w; upgrade sluice to restore it", err))
			}
			return nil, err
		}
		if cp == nil {
			if len(corrupt) > 0 {
				return nil, noUsableCheckpoint(st.Location(), corrupt)
			}
			a.logger.Info("no complete checkpoint to restore, starting fresh", "storage", st.Location())
			return nil, nil
		}
	} else {
		var err error
		cp, err = st.Load(a.ctx, from)
		if err != nil {
			err = fmt.Errorf("load checkpoint %s: %w", from, err)
			if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrIncomplete) ||
				errors.Is(err, storage.ErrCorrupt) || errors.Is(err, storage.ErrUnsupportedVersion) {
				return nil, connector.Permanent(err)
			}
			return nil, err
		}
		if err := st.Verify(a.ctx, cp); err != nil {
			if errors.Is(err, storage.ErrCorrupt) {
				return nil, connector.Permanent(fmt.Errorf("restore %s: %w; it cannot be restored: %s, or %s",
					cp.Path, err, choiceSavepoint, choiceFresh))
			}
			return nil, fmt.Errorf("restore %s: %w", cp.Path, err)
		}
	}
	meta, err := decodeJobMetadata(cp.Payload)
	if err != nil {
		return nil, connector.Permanent(fmt.Errorf("checkpoint %s: %w", cp.Path, err))
	}
	r := &restoredJob{id: cp.ID, path: cp.Path, cp: cp, store: st, meta: meta, ctx: a.ctx, skippedCorrupt: corrupt}
	if err := r.check(a.j.plan, a.cfg.AllowNonRestoredState); err != nil {
		return nil, connector.Permanent(err)
	}
	if len(corrupt) > 0 {
		a.logger.Warn("restoring an older checkpoint than the newest, which is corrupt; exactly-once sinks may refuse it if they committed output past it",
			"checkpoint", cp.ID, "path", cp.Path, "skipped", skippedDirs(corrupt))
	}
	a.logger.Info("restoring", "checkpoint", cp.ID, "path", cp.Path)
	return r, nil
}

// noUsableCheckpoint is the error of a restore of the latest checkpoint
// that found only corrupt ones (and perhaps incomplete ones).
func noUsableCheckpoint(loc string, corrupt []storage.Skipped) error {
	these := "this checkpoint"
	if len(corrupt) > 1 {
		these = "these checkpoints"
	}
	return connector.Permanent(fmt.Errorf("restore the latest checkpoint in %s: %w: %s, and there is no older complete checkpoint; starting over would deliver again the output that %s committed: %s, or %s",
		loc, storage.ErrCorrupt, skippedReasons(corrupt), these, choiceSavepoint, choiceFresh))
}

// skippedDirs returns the directory names of skipped, e.g. "chk-5, chk-4".
func skippedDirs(skipped []storage.Skipped) string {
	dirs := make([]string, len(skipped))
	for i, s := range skipped {
		dirs[i] = s.Dir
	}
	return strings.Join(dirs, ", ")
}

// skippedReasons describes skipped for messages: "chk-5 (reason); chk-4
// (reason)".
func skippedReasons(skipped []storage.Skipped) string {
	parts := make([]string, len(skipped))
	for i, s := range skipped {
		parts[i] = fmt.Sprintf("%s (%s)", s.Dir, s.Reason)
	}
	return strings.Join(parts, "; ")
}

// explainedError is an error of a job that restored an older checkpoint
// than the newest because the newer ones were corrupt.
type explainedError struct {
	msg string
	err error
}

func (e *explainedError) Error() string { return e.msg }
func (e *explainedError) Unwrap() error { return e.err }

// explain returns err unchanged unless this restore skipped corrupt
// checkpoints and err is permanent (connector.IsPermanent). Then the job
// stops, and the user must learn why it ran from an older checkpoint and
// what to do: explain wraps err with the corrupt checkpoints skipped, the
// checkpoint restored and the choices (restore a savepoint, remove the
// output committed past the restored checkpoint, start fresh). A sink's
// error wrapping connector.ErrDataLoss is the expected case: an
// exactly-once sink refusing the older checkpoint because its output was
// committed past it, the sink's message naming that output. The result is
// still permanent and wraps err (errors.Is and errors.As see through it).
// explain may be called on a nil *restoredJob (no restore), and more than
// once.
func (r *restoredJob) explain(err error) error {
	if r == nil || len(r.skippedCorrupt) == 0 || !connector.IsPermanent(err) {
		return err
	}
	var done *explainedError
	if errors.As(err, &done) {
		return err
	}
	skipped := "the newer checkpoint " + skippedReasons(r.skippedCorrupt) + " is"
	if len(r.skippedCorrupt) > 1 {
		skipped = "the newer checkpoints " + skippedReasons(r.skippedCorrupt) + " are"
	}
	choices := fmt.Sprintf("%s; remove that output, then restore again (--restore latest); or %s", choiceSavepoint, choiceFresh)
	var msg string
	if errors.Is(err, connector.ErrDataLoss) || errors.Is(err, connector.ErrOutputAhead) {
		msg = fmt.Sprintf("the job restored checkpoint %d (%s) because %s corrupt, and a sink cannot go back to checkpoint %d: %v; output committed after checkpoint %d stands in the way. Choose one: %s",
			r.id, r.path, skipped, r.id, err, r.id, choices)
	} else {
		msg = fmt.Sprintf("%v (the job had restored checkpoint %d (%s) because %s corrupt; if this failure comes from output committed after checkpoint %d, choose one: %s)",
			err, r.id, r.path, skipped, r.id, choices)
	}
	return connector.Permanent(&explainedError{msg: msg, err: err})
}

// openUsed opens a file of an earlier checkpoint that cp's incremental
// keyed state builds on.
func (r *restoredJob) openUsed(ref keyedRef) (io.ReadCloser, error) {
	r.mu.Lock()
	cp, ok := r.used[ref.Dir]
	r.mu.Unlock()
	if !ok {
		var err error
		if cp, err = r.store.LoadUsed(r.ctx, r.cp, ref.Dir); err != nil {
			return nil, err
		}
		r.mu.Lock()
		if r.used == nil {
			r.used = map[string]*storage.Checkpoint{}
		}
		r.used[ref.Dir] = cp
		r.mu.Unlock()
	}
	return r.store.OpenFile(r.ctx, cp, ref.File)
}
