package kinesis

import (
	"time"

	"github.com/sluicehq/sluice/connector"
)

// Option configures what sources and sinks share: the stream and how to
// reach it.
type Option interface {
	SourceOption
	SinkOption
}

// SourceOption configures a Source.
type SourceOption interface{ applySource(*sourceConfig) }

// SinkOption configures a Sink.
type SinkOption interface{ applySink(*sinkConfig) }

type connOpt func(*connConfig)

func (o connOpt) applySource(c *sourceConfig) { o(&c.conn) }
func (o connOpt) applySink(c *sinkConfig)     { o(&c.conn) }

// Stream names the stream to read or write. Required.
func Stream(name string) Option { return connOpt(func(c *connConfig) { c.stream = name }) }

// Region sets the AWS region (default: the AWS way, AWS_REGION or the
// profile's region).
func Region(r string) Option { return connOpt(func(c *connConfig) { c.region = r }) }

// Endpoint sets the service's URL, e.g. "http://127.0.0.1:4568" for an
// emulator (default: the region's endpoint).
func Endpoint(url string) Option { return connOpt(func(c *connConfig) { c.endpoint = url }) }

// Profile selects a profile of the shared AWS configuration files
// (default: AWS_PROFILE, or "default").
func Profile(name string) Option { return connOpt(func(c *connConfig) { c.profile = name }) }

// StaticCredentials sets an access key instead of the AWS credential
// chain (default: environment, shared files, profile, container or
// instance role). Meant for tests against emulators: the secret is never
// logged or shown.
func StaticCredentials(accessKeyID string, secret, sessionToken connector.Secret) Option {
	return connOpt(func(c *connConfig) { c.keyID, c.secret, c.session = accessKeyID, secret, sessionToken })
}

// Client makes the connector use api instead of an SDK client built from
// the other options (which then only name the stream in messages).
func Client(api API) Option { return connOpt(func(c *connConfig) { c.api = api }) }

type sourceOpt func(*sourceConfig)

func (o sourceOpt) applySource(c *sourceConfig) { o(c) }

type sinkOpt func(*sinkConfig)

func (o sinkOpt) applySink(c *sinkConfig) { o(c) }

// StartPosition is where shards are read from when a job starts without
// a checkpoint.
type StartPosition struct {
	kind startKind
	at   time.Time
}

type startKind uint8

const (
	startTrimHorizon startKind = iota
	startLatest
	startTimestamp
)

// TrimHorizon reads every shard from its oldest record (the default).
func TrimHorizon() StartPosition { return StartPosition{kind: startTrimHorizon} }

// Latest reads what is written after the job first started: the
// enumerator takes the time of its first shard listing, and open shards
// are read from that time on (AT_TIMESTAMP), so that a restart before the
// first checkpoint loses nothing written since; closed shards are
// skipped.
func Latest() StartPosition { return StartPosition{kind: startLatest} }

// AtTimestamp reads every record that arrived at t or later.
func AtTimestamp(t time.Time) StartPosition { return StartPosition{kind: startTimestamp, at: t} }

func (p StartPosition) String() string {
	switch p.kind {
	case startLatest:
		return "latest"
	case startTimestamp:
		return "at-timestamp " + p.at.UTC().Format(time.RFC3339Nano)
	}
	return "trim-horizon"
}

// StartFrom sets where shards are read from without a checkpoint
// (default TrimHorizon()). Shards that appear while the job runs
// (children of a split or merge) are always read from their oldest
// record.
func StartFrom(p StartPosition) SourceOption { return sourceOpt(func(c *sourceConfig) { c.start = p }) }

// DiscoveryInterval sets how often the source lists the stream's shards
// to find the children of splits and merges (default 10s). Children are
// also looked for at once when a reader finishes a closed shard.
func DiscoveryInterval(d time.Duration) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.discovery = d })
}

// PollInterval sets the least time between two GetRecords calls of one
// shard (default 200ms: Kinesis allows 5 per second and shard, shared by
// every consumer of the stream).
func PollInterval(d time.Duration) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.poll = d })
}

// MaxRecordsPerFetch sets GetRecords' Limit (default 1000, at most
// 10000).
func MaxRecordsPerFetch(n int) SourceOption { return sourceOpt(func(c *sourceConfig) { c.fetch = n }) }

// MaxRetries bounds the retries of one failing call (throttled, network
// errors, 5xx) with exponential backoff up to 10s, after which the error
// fails the job, which restarts from its checkpoint (default 20).
func MaxRetries(n int) Option {
	return retriesOpt(n)
}

type retriesOpt int

func (o retriesOpt) applySource(c *sourceConfig) { c.retries = int(o) }
func (o retriesOpt) applySink(c *sinkConfig)     { c.retries = int(o) }

// EndOfStream makes the source bounded: a record for which end returns
// true (its data, after de-aggregation) is not emitted and ends the
// reading of its shard, and the source ends once every shard it knows
// has ended and a listing of the stream finds no other. Without it the
// source never ends.
func EndOfStream(end func(data []byte) bool) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.end = end })
}

// SourceName names the source in bad-record reports and logs (default
// "kinesis-source").
func SourceName(name string) SourceOption { return sourceOpt(func(c *sourceConfig) { c.name = name }) }
