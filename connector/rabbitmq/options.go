package rabbitmq

import (
	"crypto/tls"
	"time"
)

// Option configures what sources and sinks share: how to reach the
// broker.
type Option interface {
	SourceOption
	SinkOption
}

// SourceOption configures a Source.
type SourceOption interface{ applySource(*sourceConfig) }

// SinkOption configures a Sink.
type SinkOption interface{ applySink(*sinkConfig) }

// connConfig is the connection part of both configurations.
type connConfig struct {
	url       string // "": DefaultURL's lookup
	tls       *tls.Config
	heartbeat time.Duration
	// reconnect: backoff bounds and the most attempts in a row.
	minBackoff, maxBackoff time.Duration
	maxReconnects          int
}

func defaultConn() connConfig {
	return connConfig{heartbeat: 10 * time.Second, minBackoff: 100 * time.Millisecond,
		maxBackoff: 5 * time.Second, maxReconnects: 10}
}

type connOpt func(*connConfig)

func (o connOpt) applySource(c *sourceConfig) { o(&c.conn) }
func (o connOpt) applySink(c *sinkConfig)     { o(&c.conn) }

// URL sets the broker's AMQP URL, amqp://user:password@host:5672/vhost, or
// amqps://... for TLS. Default: the environment variable RABBITMQ_URL, or
// else amqp://localhost:5672/. A URL without user and password takes them
// from RABBITMQ_USERNAME and RABBITMQ_PASSWORD when set (else guest/guest,
// which RabbitMQ accepts from localhost only). The password is never
// logged nor shown in an error.
func URL(url string) Option { return connOpt(func(c *connConfig) { c.url = url }) }

// TLS sets the TLS configuration of amqps:// URLs (default: the system's
// CA certificates and the URL's host as server name). Given with an
// amqp:// URL, it turns TLS on.
func TLS(cfg *tls.Config) Option { return connOpt(func(c *connConfig) { c.tls = cfg }) }

// Heartbeat sets the AMQP heartbeat interval (default 10s): a broker that
// stops answering is noticed after two missed heartbeats.
func Heartbeat(d time.Duration) Option { return connOpt(func(c *connConfig) { c.heartbeat = d }) }

// Reconnect sets the backoff between attempts to reconnect after the
// connection or channel was lost (default 100ms doubling up to 5s) and
// how many attempts in a row are made before the error is returned and
// the job restarts from its checkpoint (default 10). The sink does not
// reconnect by itself: its unconfirmed messages are published again by the
// restart.
func Reconnect(minBackoff, maxBackoff time.Duration, maxAttempts int) Option {
	return connOpt(func(c *connConfig) {
		c.minBackoff, c.maxBackoff, c.maxReconnects = minBackoff, max(maxBackoff, minBackoff), maxAttempts
	})
}

type sourceOpt func(*sourceConfig)

func (o sourceOpt) applySource(c *sourceConfig) { o(c) }

type sinkOpt func(*sinkConfig)

func (o sinkOpt) applySink(c *sinkConfig) { o(c) }

// IDField says which message property is a message's id for
// deduplication.
type IDField uint8

const (
	// NoDedupe: no deduplication (the default).
	NoDedupe IDField = iota
	// CorrelationID: the correlation-id property.
	CorrelationID
	// MessageID: the message-id property.
	MessageID
)

func (f IDField) String() string {
	switch f {
	case CorrelationID:
		return "correlation_id"
	case MessageID:
		return "message_id"
	}
	return "none"
}

// sourceConfig is the configuration of a Source.
type sourceConfig struct {
	conn     connConfig
	queue    string
	prefetch int // 0: from the expected rate and checkpoint interval
	autoAck  bool
	dedupe   IDField
	keyed    bool
	horizon  time.Duration
	rate     int
	interval time.Duration // expected checkpoint interval (0: unknown)
	timeout  time.Duration // expected checkpoint timeout (0: unknown)
	consumer string
}

// Default values of the source.
const (
	DefaultRate     = 1000
	DefaultHorizon  = 10 * time.Minute
	MinPrefetch     = 100
	MaxPrefetch     = 65535
	defaultInterval = 10 * time.Second
)

// Queue names the queue to consume (required).
func Queue(name string) SourceOption { return sourceOpt(func(c *sourceConfig) { c.queue = name }) }

// Prefetch sets the most messages delivered to a reader and not yet
// acknowledged (basic.qos prefetch count, at most 65535). Acknowledgements
// are sent when a checkpoint completes, so a reader holds a checkpoint
// interval's worth of messages (and those of a checkpoint in progress)
// unacknowledged: prefetch must be at least rate × (checkpoint interval +
// checkpoint duration), or the reader waits for the broker between
// checkpoints and its throughput is at most prefetch per checkpoint
// interval. This bound is the source's backpressure. Default: twice the
// expected rate (ExpectedRate) times the checkpoint interval
// (ExpectCheckpoints, 10s when not given), at least 100 and at most
// 65535.
func Prefetch(n int) SourceOption { return sourceOpt(func(c *sourceConfig) { c.prefetch = n }) }

// ExpectedRate is the rate of messages per second per reader that the
// default prefetch is sized for (default 1000).
func ExpectedRate(perSecond int) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.rate = perSecond })
}

// ExpectCheckpoints tells the source the job's checkpoint interval and
// timeout (0: the default), to size the default prefetch and to tell,
// when the broker's consumer_timeout closes the channel, whether the
// checkpoint interval is the cause.
func ExpectCheckpoints(interval, timeout time.Duration) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.interval, c.timeout = interval, timeout })
}

// AutoAck makes the broker consider a message acknowledged as soon as it
// is delivered: at-most-once, for jobs without checkpoints (without it,
// messages are acknowledged only when checkpoints complete, so a job
// without checkpoints would stop after prefetch messages). Prefetch does
// not bound auto-acknowledged deliveries; the reader's buffer does.
func AutoAck() SourceOption { return sourceOpt(func(c *sourceConfig) { c.autoAck = true }) }

// DedupeBy makes the source exactly-once with checkpoints by dropping
// redelivered messages, recognized by the id in field (CorrelationID or
// MessageID), which every message must carry: a message without one is
// a bad record (ReaderOutput.Reject: the dead-letter output, or the job
// fails naming the queue).
//
// Without KeyedDedupe the reader keeps the ids of the messages not yet
// acknowledged in its state (as Flink's RabbitMQ source does), which is
// only exactly-once at parallelism 1: at a higher parallelism a
// redelivered message may go to another reader, and the reader refuses
// to start.
func DedupeBy(field IDField) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.dedupe = field })
}

// KeyedDedupe says that the job deduplicates the records in a keyed
// stage after the source (stream.Deduplicate with Message.ID as the id,
// see Deduplicate), which is exactly-once at any parallelism; the
// readers then keep no ids. horizon is the stage's expiry (default
// DefaultHorizon, 10 minutes); it must exceed the longest time from a
// message's first delivery to its last redelivery.
func KeyedDedupe(horizon time.Duration) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.keyed, c.horizon = true, horizon })
}

// DedupeHorizon bounds how long a reader keeps the ids restored from a
// checkpoint whose messages are not delivered again (their
// acknowledgement reached the broker before the failure) without
// KeyedDedupe (default DefaultHorizon, 10 minutes). It must exceed the
// time the broker takes to notice that the failed reader's connection is
// gone (at most two heartbeats) and to deliver its unacknowledged
// messages again.
func DedupeHorizon(d time.Duration) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.horizon = d })
}

// ConsumerTag sets the prefix of the readers' consumer tags (default
// "sluice"); the subtask's number and a random suffix are added.
func ConsumerTag(prefix string) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.consumer = prefix })
}

// prefetchFor returns the prefetch of c.
func (c *sourceConfig) prefetchCount() int {
	if c.prefetch > 0 {
		return min(c.prefetch, MaxPrefetch)
	}
	iv := c.interval
	if iv <= 0 {
		iv = defaultInterval
	}
	n := int(2 * float64(c.rate) * iv.Seconds())
	return min(max(n, MinPrefetch), MaxPrefetch)
}
