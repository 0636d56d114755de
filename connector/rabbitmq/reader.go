package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/sluicehq/sluice/connector"
)

// maxPoll bounds the messages one PollNext emits.
const maxPoll = 512

// delivery is a message with the generation of the channel it came on.
type delivery struct {
	d   amqp.Delivery
	gen uint64
}

// reader consumes the queue on one connection and channel, which a
// goroutine of its own (pump) opens, reads and, when lost, opens again
// with backoff. Everything else runs on the subtask's goroutine.
type reader[T any] struct {
	src  *Source[T]
	cfg  *sourceConfig
	rctx connector.ReaderContext
	log  *slog.Logger
	acks *acks
	buf  chan delivery
	// avail gets a token after every delivery put in buf.
	avail chan struct{}

	mu   sync.Mutex
	ch   *amqp.Channel // current channel, nil between connections
	gen  uint64        // its generation
	err  error         // a failure of the pump, returned by PollNext
	conn *amqp.Connection

	cancel context.CancelFunc
	done   chan struct{}
	dups   int64
}

func newReader[T any](s *Source[T], ctx connector.ReaderContext) *reader[T] {
	cfg := &s.cfg
	size := cfg.prefetchCount()
	if cfg.autoAck {
		size = 4096
	}
	log := ctx.Logger()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &reader[T]{src: s, cfg: cfg, rctx: ctx,
		log:   log.With("connector", "rabbitmq", "queue", cfg.queue, "subtask", ctx.Subtask()),
		acks:  newAcks(cfg.dedupe != NoDedupe && !cfg.keyed, cfg.horizon),
		buf:   make(chan delivery, size),
		avail: make(chan struct{}, 1),
	}
}

// RestoreReaderState implements connector.StatefulReader.
func (r *reader[T]) RestoreReaderState(state [][]byte) error {
	return r.acks.restore(state, time.Now())
}

// Start implements connector.Reader.
func (r *reader[T]) Start() error {
	ctx, cancel := context.WithCancel(r.rctx.Context())
	r.cancel, r.done = cancel, make(chan struct{})
	go r.pump(ctx)
	return nil
}

// pump connects, consumes, and reconnects with backoff after the channel
// or connection was lost, until ctx ends or a failure that reconnecting
// cannot fix.
func (r *reader[T]) pump(ctx context.Context) {
	defer close(r.done)
	defer r.wake()
	attempt := 0
	for ctx.Err() == nil {
		conn, ch, deliveries, closed, err := r.connect()
		if err != nil {
			if !transient(err) || attempt >= r.cfg.conn.maxReconnects {
				if attempt > 0 {
					err = fmt.Errorf("%w (after %d attempts to reconnect)", err, attempt)
				}
				r.fail(err)
				return
			}
			r.log.Warn("rabbitmq: cannot connect, retrying", "error", err, "attempt", attempt+1)
			if backoff(ctx, &r.cfg.conn, attempt) != nil {
				return
			}
			attempt++
			continue
		}
		r.mu.Lock()
		r.gen++
		r.ch, r.conn = ch, conn
		gen := r.gen
		r.mu.Unlock()
		if attempt > 0 {
			r.log.Info("rabbitmq: reconnected", "attempts", attempt)
		}
		got := r.consume(ctx, deliveries, gen)
		r.mu.Lock()
		r.ch, r.conn = nil, nil
		r.mu.Unlock()
		_ = conn.Close()
		if ctx.Err() != nil {
			return
		}
		var cerr *amqp.Error
		select {
		case cerr = <-closed:
		default:
		}
		if cerr == nil {
			cerr = &amqp.Error{Code: amqp.ChannelError, Reason: "the broker cancelled the consumer (queue deleted?)", Recover: true}
		}
		if err := r.lostError(cerr); err != nil {
			r.fail(err)
			return
		}
		if got {
			attempt = 0
		}
		if attempt >= r.cfg.conn.maxReconnects {
			r.fail(fmt.Errorf("rabbitmq source: queue %q: channel closed: %w (after %d attempts to reconnect)", r.cfg.queue, cerr, attempt))
			return
		}
		r.log.Warn("rabbitmq: channel lost, reconnecting", "error", cerr.Error(), "attempt", attempt+1)
		if backoff(ctx, &r.cfg.conn, attempt) != nil {
			return
		}
		attempt++
	}
}

// lostError returns the failure that ends the reader after the channel
// closed with cerr, or nil when reconnecting may help.
func (r *reader[T]) lostError(cerr *amqp.Error) error {
	if timeout, ok := consumerTimeout(cerr); ok {
		return r.consumerTimeoutError(cerr, timeout)
	}
	err := classify(fmt.Errorf("rabbitmq source: queue %q: channel closed: %w", r.cfg.queue, cerr), "queue "+r.cfg.queue)
	if connector.IsPermanent(err) {
		return err
	}
	return nil
}

// consumerTimeoutError is the failure after the broker closed the channel
// because acknowledgements were held longer than its consumer_timeout.
func (r *reader[T]) consumerTimeoutError(cerr *amqp.Error, timeout time.Duration) error {
	shown := "its value"
	if timeout > 0 {
		shown = timeout.String()
	}
	iv := "not given (ExpectCheckpoints)"
	if r.cfg.interval > 0 {
		iv = r.cfg.interval.String()
		if r.cfg.timeout > 0 {
			iv += ", checkpoint timeout " + r.cfg.timeout.String()
		}
	}
	err := fmt.Errorf("rabbitmq source: queue %q: the broker closed the channel because deliveries stayed unacknowledged "+
		"longer than its consumer_timeout (%s); the source acknowledges messages when a checkpoint completes "+
		"(checkpoint interval %s): set consumer_timeout above the checkpoint interval plus the checkpoint timeout "+
		"(consumer_timeout in rabbitmq.conf; from RabbitMQ 3.12 also per queue with the x-consumer-timeout argument or a "+
		"consumer-timeout policy), or take checkpoints more often: %w", r.cfg.queue, shown, iv, cerr)
	if r.cfg.interval > 0 && timeout > 0 && r.cfg.interval+r.cfg.timeout >= timeout {
		return connector.Permanent(err) // it will happen again at every checkpoint
	}
	return err // a checkpoint took unusually long: a restart may get past it
}

// connect opens a connection and a channel and starts consuming.
func (r *reader[T]) connect() (*amqp.Connection, *amqp.Channel, <-chan amqp.Delivery, chan *amqp.Error, error) {
	name := fmt.Sprintf("sluice source %s/%d", r.cfg.queue, r.rctx.Subtask())
	conn, err := r.cfg.conn.dial(name)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("rabbitmq source: %w", err)
	}
	ch, err := conn.Channel()
	if err == nil && !r.cfg.autoAck {
		err = ch.Qos(r.cfg.prefetchCount(), 0, false)
	}
	var closed chan *amqp.Error
	var deliveries <-chan amqp.Delivery
	if err == nil {
		closed = ch.NotifyClose(make(chan *amqp.Error, 1))
		deliveries, err = ch.Consume(r.cfg.queue, r.consumerTag(), r.cfg.autoAck, false, false, false, nil)
	}
	if err != nil {
		_ = conn.Close()
		return nil, nil, nil, nil, classify(fmt.Errorf("rabbitmq source: consume queue %q: %w", r.cfg.queue, err), "queue "+r.cfg.queue)
	}
	return conn, ch, deliveries, closed, nil
}

func (r *reader[T]) consumerTag() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", r.cfg.consumer, r.rctx.Subtask(), hex.EncodeToString(b[:]))
}

// consume moves deliveries into buf until the channel closes or ctx
// ends; it reports whether anything was delivered.
func (r *reader[T]) consume(ctx context.Context, deliveries <-chan amqp.Delivery, gen uint64) (got bool) {
	for {
		select {
		case <-ctx.Done():
			return got
		case d, ok := <-deliveries:
			if !ok {
				return got
			}
			got = true
			select {
			case r.buf <- delivery{d: d, gen: gen}:
				r.wake()
			case <-ctx.Done():
				return got
			}
		}
	}
}

func (r *reader[T]) wake() {
	select {
	case r.avail <- struct{}{}:
	default:
	}
}

func (r *reader[T]) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
	r.wake()
}

func (r *reader[T]) channel() (*amqp.Channel, uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ch, r.gen, r.err
}

// PollNext implements connector.Reader.
func (r *reader[T]) PollNext(out connector.ReaderOutput[T]) (connector.InputStatus, error) {
	for range maxPoll {
		var d delivery
		select {
		case d = <-r.buf:
		default:
			if _, _, err := r.channel(); err != nil {
				return 0, err
			}
			return connector.NothingAvailable, nil
		}
		if err := r.handle(d, out); err != nil {
			return 0, err
		}
	}
	return connector.MoreAvailable, nil
}

// handle emits one delivery, or drops it as a copy, or rejects it.
func (r *reader[T]) handle(d delivery, out connector.ReaderOutput[T]) error {
	cfg := r.cfg
	if !cfg.autoAck {
		if _, gen, _ := r.channel(); d.gen != gen {
			return nil // its channel is gone: the broker delivers it again
		}
	}
	m := messageOf(cfg.queue, &d.d, cfg.dedupe)
	if cfg.dedupe != NoDedupe && m.ID == "" {
		r.acks.deliver(d.gen, d.d.DeliveryTag, "")
		return out.Reject(connector.BadRecord{Source: "rabbitmq", Location: r.location(&d.d), Raw: truncate(d.d.Body),
			Error: fmt.Sprintf("the message has no %s, which deduplication (dedupe_by: %s) needs on every message: "+
				"set it when publishing, or dedupe by the other property, or drop dedupe_by (at-least-once)", cfg.dedupe, cfg.dedupe)})
	}
	if !cfg.autoAck && r.acks.deliver(d.gen, d.d.DeliveryTag, m.ID) {
		r.dups++
		return nil
	}
	v, err := r.src.de(&m)
	if err != nil {
		return out.Reject(connector.BadRecord{Source: "rabbitmq", Location: r.location(&d.d), Raw: truncate(d.d.Body), Error: err.Error()})
	}
	if !m.Timestamp.IsZero() {
		out.CollectAt(v, m.Timestamp.UnixMilli())
	} else {
		out.Collect(v)
	}
	return nil
}

func (r *reader[T]) location(d *amqp.Delivery) string {
	loc := fmt.Sprintf("queue %s, delivery tag %d", r.cfg.queue, d.DeliveryTag)
	if d.MessageId != "" {
		loc += ", message id " + d.MessageId
	}
	if d.CorrelationId != "" {
		loc += ", correlation id " + d.CorrelationId
	}
	return loc
}

func truncate(b []byte) []byte {
	if len(b) > 1024 {
		return b[:1024]
	}
	return b
}

// Available implements connector.Reader.
func (r *reader[T]) Available() <-chan struct{} { return r.avail }

// AddSplits implements connector.Reader; a queue source has no splits.
func (r *reader[T]) AddSplits([]connector.Split) error { return nil }

// NoMoreSplits implements connector.Reader.
func (r *reader[T]) NoMoreSplits() {}

// SnapshotState implements connector.Reader: no splits.
func (r *reader[T]) SnapshotState(int64) ([]connector.Split, error) { return nil, nil }

// SnapshotReaderState implements connector.StatefulReader: the ids kept
// for deduplication. The deliveries emitted so far are acknowledged when
// checkpointID completes.
func (r *reader[T]) SnapshotReaderState(checkpointID int64) ([][]byte, error) {
	if r.cfg.autoAck {
		return nil, nil
	}
	st := r.acks.snapshot(checkpointID, time.Now())
	if st == nil {
		return nil, nil
	}
	return [][]byte{st}, nil
}

// NotifyCheckpointComplete implements connector.CheckpointListener: the
// deliveries emitted before the snapshot of checkpointID (and of earlier
// ones) are acknowledged.
func (r *reader[T]) NotifyCheckpointComplete(checkpointID int64) error {
	if r.cfg.autoAck {
		return nil
	}
	ch, gen, _ := r.channel()
	tag, done := r.acks.complete(checkpointID, gen)
	now := time.Now()
	if tag == 0 {
		// Nothing of the current channel to acknowledge; the ids of lost
		// channels' batches become orphans.
		r.acks.confirmed(done, gen, now)
		return nil
	}
	if ch == nil {
		// Between connections: the broker delivers these messages again.
		r.acks.lost(done, now)
		return nil
	}
	err := ch.Ack(tag, true)
	if err == nil && r.acks.dedupe {
		// A round trip: the broker handles a channel's methods in order,
		// so once it answers, it has the acknowledgement.
		err = ch.Qos(r.cfg.prefetchCount(), 0, false)
	}
	if err != nil {
		// The channel is lost (the pump reconnects): the broker delivers
		// these messages again; deduplication keeps their ids.
		r.acks.lost(done, now)
		r.log.Warn("rabbitmq: acknowledgement not sent, the messages will be delivered again", "checkpoint", checkpointID, "error", err)
		return nil
	}
	r.acks.confirmed(done, gen, now)
	return nil
}

// NotifyCheckpointAborted implements connector.CheckpointListener: the
// deliveries of the aborted checkpoint are acknowledged with the next
// one that completes.
func (r *reader[T]) NotifyCheckpointAborted(int64) error { return nil }

// Close implements connector.Reader. Unacknowledged messages go back to
// the queue.
func (r *reader[T]) Close() error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	r.mu.Lock()
	conn := r.conn
	r.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
	<-r.done
	if r.dups > 0 {
		r.log.Info("rabbitmq: redelivered messages dropped", "count", r.dups)
	}
	return nil
}

var (
	_ connector.StatefulReader     = (*reader[string])(nil)
	_ connector.CheckpointListener = (*reader[string])(nil)
)
