package rabbitmq

import (
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/sluicehq/sluice/connector"
)

// Message is a delivered message, as a Deserializer sees it.
type Message struct {
	// Queue is the queue it was consumed from.
	Queue string
	// ID is the message's id for deduplication (the property DedupeBy
	// names), "" without DedupeBy.
	ID            string
	CorrelationID string
	MessageID     string
	ContentType   string
	Exchange      string
	RoutingKey    string
	Headers       map[string]any
	// Timestamp is the timestamp property (zero when absent); a message
	// that has one is emitted with it as its event timestamp.
	Timestamp   time.Time
	Redelivered bool
	// Offset is the message's offset in its stream (StreamSource only).
	Offset int64
	Body   []byte
}

// Deserializer turns a message into a record. An error makes the message
// a bad record (ReaderOutput.Reject).
type Deserializer[T any] func(m *Message) (T, error)

// Bytes returns the message bodies.
func Bytes() Deserializer[[]byte] { return func(m *Message) ([]byte, error) { return m.Body, nil } }

// String returns the message bodies as strings.
func String() Deserializer[string] {
	return func(m *Message) (string, error) { return string(m.Body), nil }
}

// Messages returns the messages themselves (the body is not copied).
func Messages() Deserializer[Message] { return func(m *Message) (Message, error) { return *m, nil } }

// Source reads the messages of a RabbitMQ queue. Every reader (source
// subtask) is a consumer of the queue; the broker spreads the messages
// over them.
type Source[T any] struct {
	cfg sourceConfig
	de  Deserializer[T]
}

var (
	_ connector.Source[string] = (*Source[string])(nil)
	_ connector.Declarer       = (*Source[string])(nil)
)

// NewSource returns a source of the queue that Queue names, its messages
// turned into records by de.
func NewSource[T any](de Deserializer[T], opts ...SourceOption) (*Source[T], error) {
	cfg := sourceConfig{conn: defaultConn(), rate: DefaultRate, horizon: DefaultHorizon, consumer: "sluice"}
	for _, o := range opts {
		o.applySource(&cfg)
	}
	var errs []error
	if de == nil {
		errs = append(errs, errors.New("no deserializer"))
	}
	if cfg.queue == "" {
		errs = append(errs, errors.New("no queue: give Queue(name)"))
	}
	if cfg.prefetch < 0 || cfg.prefetch > MaxPrefetch {
		errs = append(errs, fmt.Errorf("prefetch %d out of range: 1 to %d (0: the default)", cfg.prefetch, MaxPrefetch))
	}
	if cfg.rate <= 0 {
		errs = append(errs, fmt.Errorf("expected rate %d: must be above 0", cfg.rate))
	}
	if cfg.horizon <= 0 {
		cfg.horizon = DefaultHorizon
	}
	if cfg.dedupe > MessageID {
		errs = append(errs, fmt.Errorf("DedupeBy(%d): use CorrelationID or MessageID", cfg.dedupe))
	}
	if cfg.keyed && cfg.dedupe == NoDedupe {
		errs = append(errs, errors.New("KeyedDedupe without DedupeBy: say which property is the id"))
	}
	if cfg.autoAck && cfg.dedupe != NoDedupe {
		errs = append(errs, errors.New("AutoAck with DedupeBy: auto-acknowledged messages are never delivered again, so there is nothing to deduplicate; drop one of them"))
	}
	if cfg.conn.maxReconnects < 0 || cfg.conn.minBackoff <= 0 {
		errs = append(errs, errors.New("Reconnect: the backoff must be above 0 and the attempts at least 0"))
	}
	if _, err := resolveURL(cfg.conn.url); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("rabbitmq source: %w: %w", connector.ErrConfig, err)
	}
	return &Source[T]{cfg: cfg, de: de}, nil
}

// Prefetch returns the prefetch count the readers use.
func (s *Source[T]) Prefetch() int { return s.cfg.prefetchCount() }

// Bounded implements connector.Source: a queue has no end.
func (s *Source[T]) Bounded() bool { return false }

// Declare implements connector.Declarer.
func (s *Source[T]) Declare(checkpointing bool) connector.Declaration {
	c := &s.cfg
	switch {
	case c.autoAck:
		return connector.Declaration{Guarantee: connector.AtMostOnce,
			Reason: "auto-ack: the broker forgets a message when it is delivered, so the messages in flight at a failure are lost"}
	case !checkpointing:
		return connector.Declaration{Guarantee: connector.AtMostOnce,
			Reason: fmt.Sprintf("no checkpoints: messages are acknowledged only when checkpoints complete, so the source stops after %d (prefetch) messages; use AutoAck (auto-ack) or turn checkpoints on", c.prefetchCount())}
	case c.dedupe != NoDedupe && c.keyed:
		return connector.Declaration{Guarantee: connector.ExactlyOnce,
			Reason: fmt.Sprintf("acknowledged when checkpoints complete; redelivered messages dropped by their %s in a keyed deduplication stage (horizon %s), at any parallelism; every message needs a %s", c.dedupe, c.horizon, c.dedupe)}
	case c.dedupe != NoDedupe:
		return connector.Declaration{Guarantee: connector.ExactlyOnce,
			Reason: fmt.Sprintf("acknowledged when checkpoints complete; redelivered messages dropped by their %s kept in the reader's state until acknowledged; parallelism 1 only (a higher one is refused); every message needs a %s", c.dedupe, c.dedupe)}
	}
	return connector.Declaration{Guarantee: connector.AtLeastOnce,
		Reason: "acknowledged when the checkpoint holding the messages' effects completes; messages in flight at a failure are delivered again (set dedupe_by for exactly-once)"}
}

// NewEnumerator implements connector.Source. A queue has no splits: every
// reader consumes it.
func (s *Source[T]) NewEnumerator(connector.EnumeratorContext, []byte) (connector.Enumerator, error) {
	return noSplits{}, nil
}

// SplitCodec implements connector.Source.
func (s *Source[T]) SplitCodec() connector.SplitCodec { return noSplits{} }

// NewReader implements connector.Source.
func (s *Source[T]) NewReader(ctx connector.ReaderContext) (connector.Reader[T], error) {
	if s.cfg.dedupe != NoDedupe && !s.cfg.keyed && !s.cfg.autoAck && ctx.Parallelism() > 1 {
		return nil, fmt.Errorf("rabbitmq source: queue %q: exactly-once by %s in the reader's state works at parallelism 1 only, "+
			"and the source runs at parallelism %d (a redelivered message may reach another reader): "+
			"run the source at parallelism 1, or deduplicate in a keyed stage (KeyedDedupe and stream.Deduplicate; "+
			"YAML pipelines do this by themselves): %w", s.cfg.queue, s.cfg.dedupe, ctx.Parallelism(), connector.ErrConfig)
	}
	return newReader(s, ctx), nil
}

// noSplits is the enumerator and split codec of a queue source.
type noSplits struct{}

func (noSplits) AddReader(int) error            { return nil }
func (noSplits) HandleSplitRequest(int) error   { return nil }
func (noSplits) Snapshot(int64) ([]byte, error) { return nil, nil }
func (noSplits) Close() error                   { return nil }
func (noSplits) Encode(connector.Split) ([]byte, error) {
	return nil, errors.New("rabbitmq: a queue source has no splits")
}
func (noSplits) Decode([]byte) (connector.Split, error) {
	return nil, errors.New("rabbitmq: a queue source has no splits")
}

// messageOf returns the Message of a delivery.
func messageOf(queue string, d *amqp.Delivery, field IDField) Message {
	m := Message{Queue: queue, CorrelationID: d.CorrelationId, MessageID: d.MessageId,
		ContentType: d.ContentType, Exchange: d.Exchange, RoutingKey: d.RoutingKey,
		Headers: d.Headers, Timestamp: d.Timestamp, Redelivered: d.Redelivered, Body: d.Body}
	switch field {
	case CorrelationID:
		m.ID = d.CorrelationId
	case MessageID:
		m.ID = d.MessageId
	}
	return m
}
