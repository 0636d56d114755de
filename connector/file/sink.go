package file

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// Sink writes records into part files under a directory, exactly once
// with checkpoints. Build it with NewSink and the With... methods, which
// return modified copies.
//
// A part file goes through three states. In progress, it is written under
// a hidden name (".part-<subtask>-<n>.inprogress.<random>", in the
// directory of its bucket). Rolled (by the rolling policy, at end of
// input, or at every checkpoint for non-resumable encoders), it is
// pending: fsynced and recorded as a committable of the next checkpoint.
// Committed, when that checkpoint completes, it is renamed to its visible
// name "part-<subtask>-<n><ext>". Readers that skip names starting with
// "." or "_" (like this package's Source) only ever see finished files.
//
// With a resumable encoder (row formats) a part file may span checkpoints,
// so its size does not depend on the checkpoint interval: at every
// checkpoint the in-progress file is fsynced and its name and length go
// into the writer's state; a restore truncates it to that length and goes
// on appending.
//
// At the end of a bounded input every in-progress file rolls, and the
// final checkpoint (or, without checkpoints, the end of the input) commits
// it. A stop with a savepoint keeps in-progress files in progress: they
// become visible once a job restored from that savepoint finishes them.
type Sink[T any] struct {
	dir     string
	enc     Encoder[T]
	buckets BucketAssigner[T]
	rolling RollingPolicy
	prefix  string
	now     func() time.Time
}

// RollingPolicy says when a part file is finished and a new one started.
// A zero field sets no limit.
type RollingPolicy struct {
	// MaxSize rolls a part file once it holds this many bytes.
	MaxSize int64
	// MaxAge rolls a part file this long after it was started.
	MaxAge time.Duration
	// Inactivity rolls a part file that received no record for this long.
	Inactivity time.Duration
}

// DefaultRollingPolicy rolls part files at 128 MiB, after 1 minute, or
// after 1 minute without records. Time limits are checked when records
// are written and at checkpoints, so a file idle without checkpoints
// rolls only at the next record or the end of input.
func DefaultRollingPolicy() RollingPolicy {
	return RollingPolicy{MaxSize: 128 << 20, MaxAge: time.Minute, Inactivity: time.Minute}
}

// SinkOption configures a Sink.
type SinkOption interface{ applySink(*sinkOptions) }

type sinkOptions struct {
	buckets any // a BucketAssigner[T] of the sink's T
	rolling RollingPolicy
	prefix  string
	now     func() time.Time
}

type sinkOpt func(*sinkOptions)

func (f sinkOpt) applySink(o *sinkOptions) { f(o) }

// Buckets puts part files into the subdirectories b chooses (default:
// NoBuckets, part files directly in the sink's directory). Its T must be
// the sink's.
func Buckets[T any](b BucketAssigner[T]) SinkOption {
	return sinkOpt(func(o *sinkOptions) { o.buckets = b })
}

// Rolling sets the rolling policy (default DefaultRollingPolicy).
func Rolling(p RollingPolicy) SinkOption { return sinkOpt(func(o *sinkOptions) { o.rolling = p }) }

// PartPrefix sets the prefix of part file names (default "part"). It
// must not start with "." or "_" nor contain "/".
func PartPrefix(prefix string) SinkOption { return sinkOpt(func(o *sinkOptions) { o.prefix = prefix }) }

// Clock sets the processing-time clock the rolling policy and
// processing-time buckets use (default time.Now), for tests.
func Clock(now func() time.Time) SinkOption { return sinkOpt(func(o *sinkOptions) { o.now = now }) }

// NewSink returns a sink writing part files encoded by enc into dir (made
// if missing). It panics when a Buckets option is of another record type
// than enc, a mistake of the program.
func NewSink[T any](dir string, enc Encoder[T], opts ...SinkOption) *Sink[T] {
	o := sinkOptions{buckets: NoBuckets[T](), rolling: DefaultRollingPolicy(), prefix: "part", now: time.Now}
	for _, opt := range opts {
		opt.applySink(&o)
	}
	b, ok := o.buckets.(BucketAssigner[T])
	if !ok {
		panic(fmt.Sprintf("file.NewSink: file.Buckets of %T for a sink of %T", o.buckets, *new(T)))
	}
	return &Sink[T]{dir: filepath.Clean(dir), enc: enc, buckets: b, rolling: o.rolling, prefix: o.prefix, now: o.now}
}

// Declare: exactly-once with checkpoints; without, part files are
// committed only at the end of the input.
func (s *Sink[T]) Declare(checkpointing bool) connector.Declaration {
	if !checkpointing {
		return connector.Declaration{Guarantee: connector.AtLeastOnce,
			Reason: "no checkpoints: part files are committed only at the end of the input (an unbounded stream never becomes visible); a failure while committing at the end, and a rerun, repeats the files already renamed"}
	}
	return connector.Declaration{Guarantee: connector.ExactlyOnce,
		Reason: "part files become visible by an atomic rename only when the checkpoint that pre-committed them completes; data written after the restored checkpoint is truncated or never committed"}
}

func (s *Sink[T]) check() error {
	if s.prefix == "" || hidden(s.prefix) || strings.ContainsAny(s.prefix, "/\\\x00") {
		return fmt.Errorf("file sink: part prefix %q must not be empty, start with \".\" or \"_\", or contain a slash", s.prefix)
	}
	if strings.ContainsAny(s.enc.Extension(), "/\\\x00") {
		return fmt.Errorf("file sink: extension %q contains a slash", s.enc.Extension())
	}
	return nil
}

// NewWriter returns the writer of one sink subtask. restored holds the
// in-progress files of the checkpoint being restored: each is truncated
// to its checkpointed length and continued.
func (s *Sink[T]) NewWriter(ctx connector.WriterContext, restored [][]byte) (connector.Writer[T], error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	w := newWriter(s, ctx)
	if err := w.restore(restored); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// NewCommitter returns the committer of one sink subtask, which renames
// pending part files to their visible names.
func (s *Sink[T]) NewCommitter(ctx connector.WriterContext) (connector.Committer, error) {
	return &committer{dir: s.dir, log: ctx.Logger()}, nil
}
