package kafka

import (
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Option configures what sources and sinks share: how to reach the
// cluster.
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
	brokers []string
	client  []kgo.Opt
	tls     *tls.Config
	sasl    *saslGuard // nil: no SASL
	// errs are mistakes of options, reported by NewSource and NewSink.
	errs []error
}

// clientOpts are the kgo options of every client the connector creates,
// before the role's own options. The client logs its warnings and errors
// to log (nil: nowhere).
func (c *connConfig) clientOpts(log *slog.Logger) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(c.brokers...), kgo.DisableClientMetrics()}
	if log != nil {
		opts = append(opts, kgo.WithLogger(kgoLogger{log}))
	}
	opts = append(opts, c.securityOpts(log)...)
	return append(opts, c.client...)
}

type connOpt func(*connConfig)

func (o connOpt) applySource(c *sourceConfig) { o(&c.conn) }
func (o connOpt) applySink(c *sinkConfig)     { o(&c.conn) }

// Brokers sets the seed brokers ("host:port"). Required.
func Brokers(addrs ...string) Option {
	return connOpt(func(c *connConfig) { c.brokers = append(c.brokers, addrs...) })
}

// ClientOptions adds franz-go client options (dialer, client id,
// batching...; TLS and SASL have options of their own) to every client
// the connector creates. They apply after the connector's own, so they
// can override them; do not set consumer group, transactional or topic
// options here, the connector manages those.
func ClientOptions(opts ...kgo.Opt) Option {
	return connOpt(func(c *connConfig) { c.client = append(c.client, opts...) })
}

type sourceOpt func(*sourceConfig)

func (o sourceOpt) applySource(c *sourceConfig) { o(c) }

type sinkOpt func(*sinkConfig)

func (o sinkOpt) applySink(c *sinkConfig) { o(c) }

// StartOffset says where a partition is read from when the job starts
// without a checkpoint. After a restore every partition continues from the
// offset in the checkpoint, and partitions discovered while the job runs
// are read from their earliest offset (so that nothing written to them
// before their discovery is missed).
type StartOffset struct {
	kind     startKind
	millis   int64
	fallback startKind
}

type startKind uint8

const (
	startEarliest startKind = iota
	startLatest
	startTimestamp
	startCommitted
)

// Earliest starts at the first offset still in the log (the default).
func Earliest() StartOffset { return StartOffset{kind: startEarliest} }

// Latest starts after the last offset at the time the job starts: the
// high watermark, or with read_committed isolation the last stable offset.
func Latest() StartOffset { return StartOffset{kind: startLatest} }

// AtTimestamp starts at the first record whose timestamp is at or after t;
// a partition without such a record starts at its end.
func AtTimestamp(t time.Time) StartOffset {
	return StartOffset{kind: startTimestamp, millis: t.UnixMilli()}
}

// Committed starts at the offsets the consumer group (Group) committed,
// and partitions without a committed offset at fallback (Earliest or
// Latest; anything else means Earliest). The source commits offsets only
// after checkpoints complete, so this resumes a job that was started over
// without its checkpoints.
func Committed(fallback StartOffset) StartOffset {
	fb := fallback.kind
	if fb != startLatest {
		fb = startEarliest
	}
	return StartOffset{kind: startCommitted, fallback: fb}
}

// String describes the start position.
func (s StartOffset) String() string {
	switch s.kind {
	case startLatest:
		return "latest"
	case startTimestamp:
		return "timestamp " + time.UnixMilli(s.millis).UTC().Format(time.RFC3339Nano)
	case startCommitted:
		if s.fallback == startLatest {
			return "committed offsets (else latest)"
		}
		return "committed offsets (else earliest)"
	}
	return "earliest"
}
