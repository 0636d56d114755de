package rabbitmq

import (
	"context"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/sluicehq/sluice/connector"
)

// Publishing is a message a Serializer makes of a record. The sink sends
// it persistent (delivery mode 2) unless Transient is set.
type Publishing struct {
	// RoutingKey: "" uses the sink's RoutingKey option.
	RoutingKey    string
	Body          []byte
	ContentType   string
	CorrelationID string
	MessageID     string
	Headers       map[string]any
	Transient     bool
}

// Serializer turns a record into a message.
type Serializer[T any] func(v T) (Publishing, error)

// StringSerializer publishes strings as their bytes, with the sink's
// routing key.
func StringSerializer() Serializer[string] {
	return func(v string) (Publishing, error) { return Publishing{Body: []byte(v), ContentType: "text/plain"}, nil }
}

// sinkConfig is the configuration of a Sink.
type sinkConfig struct {
	conn       connConfig
	exchange   string
	routingKey string
	mandatory  bool
	inFlight   int
}

// Default values of the sink.
const DefaultInFlight = 4096

// Exchange sets the exchange to publish to (default "", the default
// exchange, which routes a message to the queue named by its routing
// key).
func Exchange(name string) SinkOption { return sinkOpt(func(c *sinkConfig) { c.exchange = name }) }

// RoutingKey sets the routing key of messages whose Publishing has none.
func RoutingKey(key string) SinkOption { return sinkOpt(func(c *sinkConfig) { c.routingKey = key }) }

// Unroutable lets the broker drop messages that no queue is bound to
// receive. By default messages are published mandatory, and a message
// the broker returns as unroutable fails the job (a retry would not
// route it either), naming the exchange and routing key.
func Unroutable() SinkOption { return sinkOpt(func(c *sinkConfig) { c.mandatory = false }) }

// MaxInFlight bounds the messages published and not yet confirmed by the
// broker (default 4096); Write waits for confirms beyond it.
func MaxInFlight(n int) SinkOption { return sinkOpt(func(c *sinkConfig) { c.inFlight = n }) }

// Sink publishes records to a RabbitMQ exchange with publisher confirms:
// every barrier (Flush) waits until the broker confirmed every message
// published before, so a checkpoint completes only with its messages
// accepted by the broker (persisted, for persistent messages on durable
// queues): at-least-once. After a failure the messages since the last
// checkpoint are published again.
type Sink[T any] struct {
	cfg sinkConfig
	ser Serializer[T]
}

var (
	_ connector.Sink[string] = (*Sink[string])(nil)
	_ connector.Declarer     = (*Sink[string])(nil)
)

// NewSink returns a sink publishing the messages ser makes.
func NewSink[T any](ser Serializer[T], opts ...SinkOption) (*Sink[T], error) {
	cfg := sinkConfig{conn: defaultConn(), mandatory: true, inFlight: DefaultInFlight}
	for _, o := range opts {
		o.applySink(&cfg)
	}
	var errs []error
	if ser == nil {
		errs = append(errs, errors.New("no serializer"))
	}
	if cfg.inFlight <= 0 {
		errs = append(errs, fmt.Errorf("MaxInFlight(%d): must be above 0", cfg.inFlight))
	}
	if _, err := resolveURL(cfg.conn.url); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("rabbitmq sink: %w: %w", connector.ErrConfig, err)
	}
	return &Sink[T]{cfg: cfg, ser: ser}, nil
}

// Declare implements connector.Declarer.
func (s *Sink[T]) Declare(checkpointing bool) connector.Declaration {
	if !checkpointing {
		return connector.Declaration{Guarantee: connector.AtMostOnce,
			Reason: "no checkpoints: publisher confirms are waited for only at the end, and a failure loses the messages in flight"}
	}
	return connector.Declaration{Guarantee: connector.AtLeastOnce,
		Reason: "publisher confirms waited for on every checkpoint barrier; after a failure the messages since the last checkpoint are published again"}
}

// NewWriter implements connector.Sink.
func (s *Sink[T]) NewWriter(ctx connector.WriterContext, _ [][]byte) (connector.Writer[T], error) {
	name := fmt.Sprintf("sluice sink %s/%d", s.target(), ctx.Subtask())
	conn, err := s.cfg.conn.dial(name)
	if err != nil {
		return nil, fmt.Errorf("rabbitmq sink: %w", err)
	}
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	if err == nil && s.cfg.exchange != "" {
		err = ch.ExchangeDeclarePassive(s.cfg.exchange, "direct", true, false, false, false, nil)
		var ae *amqp.Error
		if errors.As(err, &ae) && ae.Code == amqp.PreconditionFailed {
			// It exists, with another type or other flags: fine. The
			// channel is closed by the check, so open another.
			if ch, err = conn.Channel(); err == nil {
				err = ch.Confirm(false)
			}
		}
	}
	if err != nil {
		_ = conn.Close()
		return nil, classify(fmt.Errorf("rabbitmq sink: %s: %w", s.target(), err), "exchange "+s.cfg.exchange)
	}
	// Every returned message is one published and not yet waited for, of
	// which there are at most MaxInFlight+1: the buffer never fills, and
	// the writer drains it after its confirms, which the broker sends after
	// the returns.
	w := &writer[T]{s: s, conn: conn, ch: ch, returns: ch.NotifyReturn(make(chan amqp.Return, s.cfg.inFlight+1))}
	return w, nil
}

func (s *Sink[T]) target() string {
	if s.cfg.exchange == "" {
		return "default exchange"
	}
	return "exchange " + s.cfg.exchange
}

// writer publishes on one channel in confirm mode.
type writer[T any] struct {
	s       *Sink[T]
	conn    *amqp.Connection
	ch      *amqp.Channel
	pending []*amqp.DeferredConfirmation
	returns chan amqp.Return
}

// returnedErr reports a message the broker returned as unroutable.
func (w *writer[T]) returnedErr() error {
	var r amqp.Return
	select {
	case r = <-w.returns:
	default:
		return nil
	}
	return connector.Permanent(fmt.Errorf("rabbitmq sink: %s returned a message as unroutable (routing key %q: %d %s): "+
		"bind a queue that receives it, correct the exchange or routing key, or allow unroutable messages to be dropped (mandatory: false)",
		w.s.target(), r.RoutingKey, r.ReplyCode, r.ReplyText))
}

// Write implements connector.Writer.
func (w *writer[T]) Write(ctx context.Context, v T, _ int64) error {
	p, err := w.s.ser(v)
	if err != nil {
		return fmt.Errorf("rabbitmq sink: serialize: %w", err)
	}
	if len(w.pending) >= w.s.cfg.inFlight {
		if err := w.wait(ctx, len(w.pending)/2); err != nil {
			return err
		}
	}
	key := p.RoutingKey
	if key == "" {
		key = w.s.cfg.routingKey
	}
	msg := amqp.Publishing{Body: p.Body, ContentType: p.ContentType, CorrelationId: p.CorrelationID,
		MessageId: p.MessageID, Headers: p.Headers, DeliveryMode: amqp.Persistent}
	if p.Transient {
		msg.DeliveryMode = amqp.Transient
	}
	dc, err := w.ch.PublishWithDeferredConfirmWithContext(ctx, w.s.cfg.exchange, key, w.s.cfg.mandatory, false, msg)
	if err != nil {
		return classify(fmt.Errorf("rabbitmq sink: publish to %s: %w", w.s.target(), err), "exchange "+w.s.cfg.exchange)
	}
	w.pending = append(w.pending, dc)
	return nil
}

// wait waits for the confirms of the first n pending messages.
func (w *writer[T]) wait(ctx context.Context, n int) error {
	for i, dc := range w.pending[:n] {
		ok, err := dc.WaitContext(ctx)
		if err != nil {
			w.pending = w.pending[i:]
			return fmt.Errorf("rabbitmq sink: waiting for the broker's confirm: %w", err)
		}
		if !ok {
			w.pending = w.pending[i+1:]
			return fmt.Errorf("rabbitmq sink: %s: the broker refused a message (nack)", w.s.target())
		}
	}
	w.pending = append(w.pending[:0], w.pending[n:]...)
	return w.returnedErr()
}

// Flush implements connector.Writer: it returns when the broker confirmed
// every message published before.
func (w *writer[T]) Flush(ctx context.Context) error {
	if err := w.wait(ctx, len(w.pending)); err != nil {
		return err
	}
	if w.ch.IsClosed() {
		return fmt.Errorf("rabbitmq sink: %s: the channel was closed", w.s.target())
	}
	return nil
}

// Close implements connector.Writer.
func (w *writer[T]) Close() error {
	return w.conn.Close()
}
