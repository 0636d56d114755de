package pubsub

import (
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// Source reads a Pub/Sub subscription: at-least-once with checkpoints
// (messages are acknowledged only once the checkpoint covering their
// records completes), at-most-once with AckOnReceipt. Every source subtask
// pulls from the subscription; Pub/Sub spreads the messages over them.
// Records carry the message's publish time as event time.
type Source[T any] struct {
	cfg sourceConfig
	dec Decoder[T]
}

type sourceConfig struct {
	conn         connConfig
	subscription string // as given
	subName      string // full name
	maxMsgs      int
	maxBytes     int
	ackDeadline  time.Duration
	maxExtension time.Duration
	maxPull      int
	maxPoll      int
	ackOnReceipt bool
	endWhenIdle  time.Duration
	cpInterval   time.Duration
	cpTimeout    time.Duration
	cpExpected   bool
	name         string
	// dedupe is the horizon of the deduplication stage by message id that
	// a YAML pipeline puts after the source (SourceConfig.DedupeBy); 0:
	// none.
	dedupe time.Duration
}

// Subscription sets the subscription to read: its id (in the Project) or
// its full name projects/<project>/subscriptions/<id>. Required. The
// subscription must exist; the source does not create it.
func Subscription(name string) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.subscription = name })
}

// MaxOutstandingMessages bounds the messages each source subtask holds
// without having acknowledged them: received and not yet emitted, and
// emitted and waiting for the checkpoint that covers them (default
// DefaultMaxOutstandingMessages, 10000). When it is reached, the subtask
// stops pulling until a checkpoint completes: this is the source's
// backpressure, and it caps a subtask's throughput at about this many
// messages per checkpoint interval, so raise it with the interval. Held
// messages cost an ack id each in memory and in the checkpoint, and their
// deadlines are extended.
func MaxOutstandingMessages(n int) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.maxMsgs = n })
}

// MaxOutstandingBytes bounds the data (and attributes) of the messages
// each source subtask received and has not emitted yet (default
// DefaultMaxOutstandingBytes, 64 MiB): when downstream operators are slow,
// pulling stops at this much buffered data.
func MaxOutstandingBytes(n int) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.maxBytes = n })
}

// AckDeadline sets the deadline the source gives the messages it holds,
// renewing it every third of it until they are acknowledged or reach
// MaxExtension (default DefaultAckDeadline, 30s; whole seconds from 1s to
// 600s). After a crash, Pub/Sub redelivers what the process held once
// this deadline runs out: a shorter one redelivers sooner, at the cost of
// more deadline extensions.
func AckDeadline(d time.Duration) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.ackDeadline = d })
}

// MaxExtension bounds how long the source keeps extending the deadline of
// a message it holds (default DefaultMaxExtension, 60m): a message held
// longer, because checkpoints do not complete, is given up and Pub/Sub
// redelivers it (a duplicate, never a loss). The checkpoint interval plus
// the checkpoint timeout must not exceed it (see ExpectCheckpoints).
func MaxExtension(d time.Duration) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.maxExtension = d })
}

// ExpectCheckpoints tells the source the job's checkpoint interval and
// timeout (runtime.CheckpointConfig; 0 timeout: the runtime's default,
// 10m). NewSource refuses a MaxExtension shorter than interval + timeout:
// messages would be given up and redelivered before the checkpoint that
// covers them could complete. Without it the source checks against the
// default timeout alone.
func ExpectCheckpoints(interval, timeout time.Duration) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.cpInterval, c.cpTimeout, c.cpExpected = interval, timeout, true })
}

// AckOnReceipt acknowledges every message as soon as it is received,
// before its record is processed: at-most-once (a failure loses the
// messages in flight). It is for jobs without checkpoints, where nothing
// else would acknowledge the messages.
func AckOnReceipt() SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.ackOnReceipt = true })
}

// EndWhenIdle ends the source once its pulls found no message for d (the
// time from the first of a run of empty pulls; a pull that is slow to
// answer, or time held back by MaxOutstandingMessages, does not count)
// and every received message was emitted (default 0: never; the source is
// unbounded). It is for draining a subscription whose publishers stopped
// (backfills, tests). d should exceed AckDeadline, so that messages
// another process held when it died are redelivered before the end.
func EndWhenIdle(d time.Duration) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.endWhenIdle = d })
}

// MaxPullMessages bounds the messages one pull request asks for (default
// DefaultMaxPullMessages, 500).
func MaxPullMessages(n int) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.maxPull = n })
}

// MaxPollRecords bounds the records one poll of a reader emits (default
// DefaultMaxPollRecords, 500), which bounds how long a checkpoint barrier
// waits behind records.
func MaxPollRecords(n int) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.maxPoll = n })
}

// SourceName names the source in bad-record reports (default
// "pubsub-source").
func SourceName(name string) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.name = name })
}

// assumedCheckpointTimeout is the job's checkpoint timeout assumed when
// ExpectCheckpoints gives none: the runtime's default.
const assumedCheckpointTimeout = 10 * time.Minute

// NewSource returns a source that decodes messages with dec.
func NewSource[T any](dec Decoder[T], opts ...SourceOption) (*Source[T], error) {
	s := &Source[T]{dec: dec, cfg: sourceConfig{
		maxMsgs: DefaultMaxOutstandingMessages, maxBytes: DefaultMaxOutstandingBytes,
		ackDeadline: DefaultAckDeadline, maxExtension: DefaultMaxExtension,
		maxPull: DefaultMaxPullMessages, maxPoll: DefaultMaxPollRecords, name: "pubsub-source",
	}}
	for _, o := range opts {
		o.applySource(&s.cfg)
	}
	c := &s.cfg
	var errs []error
	if dec == nil {
		errs = append(errs, errors.New("no decoder"))
	}
	if c.subscription == "" {
		errs = append(errs, errors.New("no subscription: use pubsub.Subscription"))
	} else if name, err := c.conn.resourceName("subscriptions", c.subscription); err != nil {
		errs = append(errs, fmt.Errorf("subscription: %w", err))
	} else {
		c.subName = name
	}
	if c.maxMsgs < 1 {
		errs = append(errs, fmt.Errorf("MaxOutstandingMessages %d must be at least 1", c.maxMsgs))
	}
	if c.maxBytes < 1 {
		errs = append(errs, fmt.Errorf("MaxOutstandingBytes %d must be at least 1", c.maxBytes))
	}
	if c.ackDeadline < time.Second || c.ackDeadline > 600*time.Second || c.ackDeadline%time.Second != 0 {
		errs = append(errs, fmt.Errorf("AckDeadline %v must be whole seconds from 1s to 10m", c.ackDeadline))
	}
	if c.maxExtension < c.ackDeadline {
		errs = append(errs, fmt.Errorf("MaxExtension %v is shorter than AckDeadline %v", c.maxExtension, c.ackDeadline))
	}
	if c.maxPull < 1 || c.maxPoll < 1 {
		errs = append(errs, fmt.Errorf("MaxPullMessages %d and MaxPollRecords %d must be positive", c.maxPull, c.maxPoll))
	}
	if c.endWhenIdle < 0 {
		errs = append(errs, fmt.Errorf("EndWhenIdle %v is negative", c.endWhenIdle))
	}
	if err := c.checkExtension(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("pubsub source: %w: %w", connector.ErrConfig, err)
	}
	return s, nil
}

// checkExtension refuses a MaxExtension that checkpoints can outlast.
func (c *sourceConfig) checkExtension() error {
	if c.ackOnReceipt {
		return nil
	}
	interval, timeout := c.cpInterval, c.cpTimeout
	if timeout <= 0 {
		timeout = assumedCheckpointTimeout
	}
	if interval+timeout <= c.maxExtension {
		return nil
	}
	known := "the checkpoint timeout is assumed to be the runtime's default"
	if c.cpExpected {
		known = "as given by pubsub.ExpectCheckpoints"
	}
	return fmt.Errorf("max extension %v is shorter than checkpoint interval %v + checkpoint timeout %v = %v (%s): "+
		"messages would be given up and redelivered before the checkpoint covering them completes; "+
		"raise max_extension (pubsub.MaxExtension) to at least %v, or shorten the checkpoint interval or timeout",
		c.maxExtension, interval, timeout, interval+timeout, known, interval+timeout)
}

// Bounded reports whether the source ends by itself (EndWhenIdle).
func (s *Source[T]) Bounded() bool { return s.cfg.endWhenIdle > 0 }

// SplitCodec encodes the source's splits: it has none (every subtask
// reads the whole subscription), so nothing is encoded.
func (s *Source[T]) SplitCodec() connector.SplitCodec { return noSplits{} }

// Declare: at-least-once with checkpoints, at-most-once otherwise or with
// AckOnReceipt.
func (s *Source[T]) Declare(checkpointing bool) connector.Declaration {
	c := &s.cfg
	switch {
	case c.ackOnReceipt:
		return connector.Declaration{Guarantee: connector.AtMostOnce,
			Reason: "messages are acknowledged on receipt, before their records are processed: a failure loses the messages in flight"}
	case !checkpointing:
		return connector.Declaration{Guarantee: connector.AtMostOnce,
			Reason: "no checkpoints: messages are acknowledged on receipt (a job without checkpoints needs pubsub.AckOnReceipt), so a failure loses the messages in flight"}
	}
	if c.dedupe > 0 {
		return connector.Declaration{Guarantee: connector.ExactlyOnce,
			Reason: fmt.Sprintf("messages are acknowledged only after the checkpoint covering their records completes, "+
				"and redeliveries are dropped by a keyed deduplication stage on the message id (ids in checkpoints, remembered for %v)", c.dedupe)}
	}
	return connector.Declaration{Guarantee: connector.AtLeastOnce,
		Reason: fmt.Sprintf("messages are acknowledged only after the checkpoint covering their records completes "+
			"(pending ack ids are checkpoint state), their deadlines extended meanwhile for up to %v; "+
			"what a failure leaves unacknowledged is redelivered, possibly again (deduplicate by message id for exactly-once)", c.maxExtension)}
}

// NewEnumerator returns the enumerator: there are no splits to assign.
func (s *Source[T]) NewEnumerator(ctx connector.EnumeratorContext, _ []byte) (connector.Enumerator, error) {
	return &enumerator{ctx: ctx}, nil
}

// NewReader returns the reader of one source subtask.
func (s *Source[T]) NewReader(ctx connector.ReaderContext) (connector.Reader[T], error) {
	return newReader(&s.cfg, s.dec, ctx)
}

// enumerator tells every reader that no splits come: each pulls from the
// subscription on its own.
type enumerator struct{ ctx connector.EnumeratorContext }

func (e *enumerator) AddReader(subtask int) error {
	e.ctx.NoMoreSplits(subtask)
	return nil
}
func (e *enumerator) HandleSplitRequest(int) error   { return nil }
func (e *enumerator) Snapshot(int64) ([]byte, error) { return []byte{}, nil }
func (e *enumerator) Close() error                   { return nil }

// noSplits is the codec of a source without splits.
type noSplits struct{}

func (noSplits) Encode(s connector.Split) ([]byte, error) {
	return nil, fmt.Errorf("pubsub: the source has no splits, got %q", s.SplitID())
}
func (noSplits) Decode([]byte) (connector.Split, error) {
	return nil, errors.New("pubsub: the source has no splits")
}
