package pubsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"

	"github.com/sluicehq/sluice/connector"
)

// Serializer turns an element into the message to publish (Data,
// Attributes, OrderingKey; other fields are ignored). An error fails the
// job: the element cannot be published.
type Serializer[T any] func(v T) (*Message, error)

// StringSerializer publishes a string as the message data.
func StringSerializer() Serializer[string] {
	return func(v string) (*Message, error) { return &Message{Data: []byte(v)}, nil }
}

// BytesSerializer publishes bytes as the message data.
func BytesSerializer() Serializer[[]byte] {
	return func(v []byte) (*Message, error) { return &Message{Data: v}, nil }
}

// JSONSerializer publishes the JSON encoding of an element (encoding/json)
// as the message data, with the ordering key orderingKey(v) (nil: none).
func JSONSerializer[T any](orderingKey func(T) string) Serializer[T] {
	return func(v T) (*Message, error) {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		m := &Message{Data: b}
		if orderingKey != nil {
			m.OrderingKey = orderingKey(v)
		}
		return m, nil
	}
}

type sinkConfig struct {
	conn           connConfig
	topic          string // as given
	topicName      string // full name
	timeout        time.Duration
	maxOutstanding int
	delay          time.Duration
	count          int
}

// Topic sets the topic to publish to: its id (in the Project) or its full
// name projects/<project>/topics/<id>. Required. The topic must exist.
func Topic(name string) SinkOption {
	return sinkOpt(func(c *sinkConfig) { c.topic = name })
}

// PublishTimeout bounds the time Pub/Sub may take to confirm a message,
// retries included (default 60s); then the job fails with the last error
// and restarts.
func PublishTimeout(d time.Duration) SinkOption {
	return sinkOpt(func(c *sinkConfig) { c.timeout = d })
}

// MaxOutstandingPublishes bounds the messages each sink subtask has sent
// and Pub/Sub has not confirmed (default 1000): writing blocks beyond it,
// which is the sink's backpressure.
func MaxOutstandingPublishes(n int) SinkOption {
	return sinkOpt(func(c *sinkConfig) { c.maxOutstanding = n })
}

// Batching sets when a batch of messages is sent: after delay (default
// 10ms) or once it holds count messages (default 100), whichever comes
// first. A checkpoint barrier sends what is batched at once.
func Batching(delay time.Duration, count int) SinkOption {
	return sinkOpt(func(c *sinkConfig) { c.delay, c.count = delay, count })
}

// Sink publishes elements to a Pub/Sub topic, at-least-once with
// checkpoints: every barrier waits until Pub/Sub confirmed every message
// published before it. Messages with an ordering key are published in
// order per key (the publisher's message ordering is on).
type Sink[T any] struct {
	cfg sinkConfig
	ser Serializer[T]
}

// NewSink returns a sink that makes messages with ser.
func NewSink[T any](ser Serializer[T], opts ...SinkOption) (*Sink[T], error) {
	s := &Sink[T]{ser: ser, cfg: sinkConfig{timeout: 60 * time.Second, maxOutstanding: 1000,
		delay: 10 * time.Millisecond, count: 100}}
	for _, o := range opts {
		o.applySink(&s.cfg)
	}
	c := &s.cfg
	var errs []error
	if ser == nil {
		errs = append(errs, errors.New("no serializer"))
	}
	if c.topic == "" {
		errs = append(errs, errors.New("no topic: use pubsub.Topic"))
	} else if name, err := c.conn.resourceName("topics", c.topic); err != nil {
		errs = append(errs, fmt.Errorf("topic: %w", err))
	} else {
		c.topicName = name
	}
	if c.timeout <= 0 || c.maxOutstanding < 1 || c.delay <= 0 || c.count < 1 {
		errs = append(errs, fmt.Errorf("PublishTimeout %v, Batching delay %v and count %d, MaxOutstandingPublishes %d must be positive",
			c.timeout, c.delay, c.count, c.maxOutstanding))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("pubsub sink: %w: %w", connector.ErrConfig, err)
	}
	return s, nil
}

// Declare: at-least-once with checkpoints.
func (s *Sink[T]) Declare(checkpointing bool) connector.Declaration {
	if !checkpointing {
		return connector.Declaration{Guarantee: connector.AtMostOnce,
			Reason: "no checkpoints: a failure loses messages Pub/Sub has not confirmed"}
	}
	return connector.Declaration{Guarantee: connector.AtLeastOnce,
		Reason: "every checkpoint barrier waits until Pub/Sub confirmed each message published before it; " +
			"a restore publishes what came after the checkpoint again, as new messages"}
}

// NewWriter connects the publisher of one sink subtask.
func (s *Sink[T]) NewWriter(ctx connector.WriterContext, _ [][]byte) (connector.Writer[T], error) {
	log := ctx.Logger()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &s.cfg
	cl, err := gpubsub.NewClient(context.Background(), c.conn.project, c.conn.clientOptions()...)
	if err != nil {
		return nil, fmt.Errorf("pubsub sink: client for %s: %w (%w: give credentials_file, set GOOGLE_APPLICATION_CREDENTIALS, or an endpoint for an emulator)",
			c.conn.where(), err, connector.ErrConfig)
	}
	pub := cl.Publisher(c.topicName)
	pub.EnableMessageOrdering = true
	pub.PublishSettings.Timeout = c.timeout
	pub.PublishSettings.DelayThreshold = c.delay
	pub.PublishSettings.CountThreshold = c.count
	pub.PublishSettings.FlowControlSettings = gpubsub.FlowControlSettings{
		MaxOutstandingMessages: c.maxOutstanding, MaxOutstandingBytes: -1,
		LimitExceededBehavior: gpubsub.FlowControlBlock,
	}
	return &writer[T]{s: s, cl: cl, pub: pub, log: log}, nil
}

// pruneAt is the number of unconfirmed results at which Write drops the
// confirmed ones (and fails on a failed one).
const pruneAt = 4096

type writer[T any] struct {
	s       *Sink[T]
	cl      *gpubsub.Client
	pub     *gpubsub.Publisher
	log     *slog.Logger
	results []*gpubsub.PublishResult
}

func (w *writer[T]) what() string { return fmt.Sprintf("topic %q", w.s.cfg.topicName) }

func (w *writer[T]) Write(ctx context.Context, v T, _ int64) error {
	m, err := w.s.ser(v)
	if err != nil {
		return connector.Permanent(fmt.Errorf("pubsub sink: make the message for %s: %w", w.what(), err))
	}
	if m == nil {
		return connector.Permanent(fmt.Errorf("pubsub sink: the serializer returned no message for %s", w.what()))
	}
	w.results = append(w.results, w.pub.Publish(ctx, &gpubsub.Message{Data: m.Data, Attributes: m.Attributes, OrderingKey: m.OrderingKey}))
	if len(w.results) >= pruneAt {
		return w.prune()
	}
	return nil
}

// prune drops the confirmed results at the front, failing on a failed one.
func (w *writer[T]) prune() error {
	i := 0
	for ; i < len(w.results); i++ {
		r := w.results[i]
		select {
		case <-r.Ready():
		default:
			w.results = append(w.results[:0], w.results[i:]...)
			return nil
		}
		if _, err := r.Get(context.Background()); err != nil {
			return w.publishError(err)
		}
	}
	w.results = w.results[:0]
	return nil
}

// Flush returns once Pub/Sub confirmed every message published before.
func (w *writer[T]) Flush(ctx context.Context) error {
	w.pub.Flush()
	var first error
	for _, r := range w.results {
		if _, err := r.Get(ctx); err != nil && first == nil {
			first = err
			if ctx.Err() != nil {
				break
			}
		}
	}
	w.results = w.results[:0]
	if first != nil {
		return w.publishError(first)
	}
	return nil
}

func (w *writer[T]) publishError(err error) error {
	return fmt.Errorf("pubsub sink: publish to %s at %s: %w", w.what(), w.s.cfg.conn.where(),
		classify(err, w.what(), "roles/pubsub.publisher"))
}

// stopWait bounds how long Close lets the publisher send what it holds.
const stopWait = 5 * time.Second

// Close stops the publisher, letting it send what it holds for at most
// stopWait (Close does not imply Flush: the messages of a failed attempt
// need not arrive), then closes the connection.
func (w *writer[T]) Close() error {
	stopped := make(chan struct{})
	go func() {
		w.pub.Stop()
		close(stopped)
	}()
	t := time.NewTimer(stopWait)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
	}
	return w.cl.Close()
}
