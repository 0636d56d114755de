package redis

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/connector"
)

// Builder returns the command parts for one element. An error fails the
// job as a bad record.
type Builder[T any] func(v T) (Command, error)

// Sink sends one Redis command per element: pipelined and drained on
// every checkpoint barrier (at-least-once; exactly-once for idempotent
// commands), or, with ExactlyOnce, kept per checkpoint and applied when
// it completes behind a fence (exactly-once for every command).
type Sink[T any] struct {
	op    Op
	build Builder[T]
	cfg   config
	spec  *clientSpec
}

// NewSink returns a sink that sends op for every element v with the
// parts build(v) returns. It checks the options; it does not connect
// (writers connect when the job starts).
func NewSink[T any](op Op, build Builder[T], opts ...Option) (*Sink[T], error) {
	s := &Sink[T]{op: op, build: build, cfg: config{
		mode: Standalone, batch: DefaultBatchSize, maxTxCmds: DefaultMaxTransactionCommands,
		maxTxBytes: DefaultMaxTransactionBytes, maxPending: DefaultMaxPendingBytes,
		commitTO: DefaultCommitTimeout, fenceName: "sink", fencePfx: DefaultFencePrefix,
	}}
	for _, o := range opts {
		o(&s.cfg)
	}
	c := &s.cfg
	errs := append([]error(nil), c.errs...)
	if !op.Valid() {
		errs = append(errs, fmt.Errorf("unknown command %q; use one of %s", op, opList()))
	}
	if build == nil {
		errs = append(errs, errors.New("no Builder"))
	}
	if op == Expire && c.ttl <= 0 {
		errs = append(errs, errors.New("EXPIRE needs a TTL: give redis.TTL (or every record's Command.TTL and a TTL as the default)"))
	}
	if c.ttl < 0 {
		errs = append(errs, fmt.Errorf("TTL %v is negative", c.ttl))
	}
	if c.batch < 1 {
		errs = append(errs, fmt.Errorf("BatchSize %d must be at least 1", c.batch))
	}
	if c.maxTxCmds < 1 || c.maxTxBytes < 1 || c.maxPending < 1 {
		errs = append(errs, errors.New("MaxTransactionCommands, MaxTransactionBytes and MaxPendingBytes must be at least 1"))
	}
	if c.commitTO <= 0 {
		errs = append(errs, fmt.Errorf("CommitTimeout %v must be above 0", c.commitTO))
	}
	if c.fenceTTL < 0 {
		errs = append(errs, fmt.Errorf("FenceTTL %v is negative", c.fenceTTL))
	}
	spec, err := c.parseClient()
	if err != nil {
		errs = append(errs, err)
	} else if c.exactly && spec.mode == Cluster && strings.ContainsAny(c.fencePfx+c.fenceName, "{}") {
		errs = append(errs, fmt.Errorf("fence prefix and name %q hold { or }: in Cluster mode the sink adds a hash tag of its own to fence keys; remove the braces", c.fencePfx+c.fenceName))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("redis sink: %w: %w", connector.ErrConfig, err)
	}
	s.spec = spec
	return s, nil
}

func opList() string {
	var names []string
	for _, o := range Ops {
		names = append(names, string(o))
	}
	return strings.Join(names, ", ")
}

// Op returns the sink's command.
func (s *Sink[T]) Op() Op { return s.op }

// Declare: the guarantee follows from the command and the delivery.
// Idempotent commands (SET, HSET, SADD, ZADD, DEL) are exactly-once in
// every mode, if what they write depends on the record only: a replay
// after a restore writes the same values again. With ExactlyOnce and
// checkpoints every command is exactly-once. Otherwise the commands are
// at-least-once: a replay appends, increments or publishes again.
func (s *Sink[T]) Declare(checkpointing bool) connector.Declaration {
	name := strings.ToUpper(string(s.op))
	where := s.spec.where
	switch {
	case s.cfg.exactly && checkpointing:
		reason := fmt.Sprintf("%s at %s: the commands of each checkpoint and subtask are kept with the checkpoint and applied when it completes, "+
			"in Lua scripts of at most %d commands that record (checkpoint, chunk, command) in a fence hash per writer lineage (%s%s:<token>); "+
			"a commit repeated after a restore is skipped; commands become visible when their checkpoint completes",
			name, where, s.cfg.maxTxCmds, s.cfg.fencePfx, s.cfg.fenceName)
		if s.spec.mode == Cluster {
			reason += "; Cluster: the commands are applied hash slot by hash slot, each slot's under a fence key in that slot (hash tag {<tag of the slot>}), so a reader may see one slot's part of a checkpoint before another's"
		}
		if s.op == Publish {
			reason += "; Pub/Sub keeps nothing: each message is published once, when its checkpoint completes, and reaches only the subscribers connected then"
		}
		return connector.Declaration{Guarantee: connector.ExactlyOnce, Reason: reason}
	case s.op.Idempotent():
		reason := fmt.Sprintf("%s at %s is idempotent: a replay after a restore overwrites with the same values (when key, field, member, score and value depend only on the record); "+
			"pipelined, drained on every checkpoint barrier", name, where)
		if s.op == Set || s.op == HSet || s.op == ZAdd {
			reason += "; when several records write one key (or field, or member), a replay can briefly show an older value, and the final state is right"
		}
		if s.cfg.exactly {
			reason += "; exactly-once delivery without checkpoints applies the commands at the end of input"
		}
		return connector.Declaration{Guarantee: connector.ExactlyOnce, Reason: reason}
	case s.cfg.exactly:
		return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: fmt.Sprintf("%s at %s: exactly-once delivery applies commands when checkpoints complete, "+
			"and the job takes none: downgraded to at-least-once (pipelined, flushed at the end of input; a job started over sends them again)", name, where)}
	case checkpointing:
		hint := "set delivery: exactly-once to apply them once"
		return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: fmt.Sprintf("%s at %s: pipelined, drained on every checkpoint barrier; "+
			"commands sent after the last completed checkpoint are sent again after a restore (%s)", name, where, hint)}
	}
	return connector.Declaration{Guarantee: connector.AtLeastOnce, Reason: fmt.Sprintf("%s at %s: no checkpoints: pipelined, flushed at the end of input; a job started over sends the commands again", name, where)}
}

// NewWriter returns the writer of one sink subtask: the exactly-once
// writer with ExactlyOnce and checkpoints, else the pipelined one.
func (s *Sink[T]) NewWriter(ctx connector.WriterContext, restored [][]byte) (connector.Writer[T], error) {
	if s.cfg.exactly {
		if ctx.Checkpointing() {
			return newTxWriter(s, ctx, restored)
		}
		if ctx.Subtask() == 0 {
			ctx.Logger().Warn("redis sink: exactly-once delivery needs checkpoints; the job takes none, so the sink is at-least-once", "command", string(s.op))
		}
	}
	return newWriter(s, ctx)
}

// NewCommitter returns the committer of one sink subtask, which applies
// the commands of completed checkpoints.
func (s *Sink[T]) NewCommitter(ctx connector.WriterContext) (connector.Committer, error) {
	return newCommitter(&s.cfg, s.spec, ctx.Logger()), nil
}

// commands builds the Redis commands of one element.
func (s *Sink[T]) commands(v T) ([][]string, error) {
	c, err := s.build(v)
	if err != nil {
		return nil, fmt.Errorf("redis sink: %s: %w: %w", strings.ToUpper(string(s.op)), connector.ErrBadRecord, err)
	}
	cmds, err := s.op.args(c, s.cfg.ttl)
	if err != nil {
		return nil, fmt.Errorf("redis sink: %w: %w", connector.ErrBadRecord, err)
	}
	return cmds, nil
}
