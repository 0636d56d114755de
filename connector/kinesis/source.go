package kinesis

import (
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// Record is a user record read from Kinesis: a Kinesis record, or one of
// the user records of a KPL aggregated record (which share the sequence
// number and differ in SubSequence). Data shares memory with the fetched
// response: a decoder may keep it.
type Record struct {
	Data         []byte
	PartitionKey string
	Stream       string
	Shard        string
	Sequence     string
	// SubSequence is the index of the user record in its aggregated
	// record; 0 for a plain record.
	SubSequence int64
	// Arrival is the record's ApproximateArrivalTimestamp, its event time.
	Arrival time.Time
}

// Location is "stream/shard@sequence" or, for a user record of an
// aggregated record, "stream/shard@sequence:sub".
func (r *Record) Location() string {
	loc := r.Stream + "/" + r.Shard + "@" + r.Sequence
	if r.SubSequence > 0 {
		loc += fmt.Sprintf(":%d", r.SubSequence)
	}
	return loc
}

// Decoder turns a record into the source's element. An error rejects the
// record as undecodable: it goes to the job's dead-letter output, or
// fails the job naming its location.
type Decoder[T any] func(r *Record) (T, error)

// Bytes is the decoder that returns the record's data.
func Bytes() Decoder[[]byte] { return func(r *Record) ([]byte, error) { return r.Data, nil } }

// String is the decoder that returns the record's data as a string.
func String() Decoder[string] { return func(r *Record) (string, error) { return string(r.Data), nil } }

// Records is the decoder that returns the record itself.
func Records() Decoder[Record] { return func(r *Record) (Record, error) { return *r, nil } }

// Source reads a Kinesis data stream, exactly-once with checkpoints:
// every shard is a split whose state is the position of the next user
// record (sequence and sub-sequence number), a shard is read only once
// all its parents are finished, and finished shards are remembered. See
// the package documentation.
type Source[T any] struct {
	cfg sourceConfig
	dec Decoder[T]
	mb  mailbox
}

type sourceConfig struct {
	conn      connConfig
	start     StartPosition
	discovery time.Duration
	poll      time.Duration
	fetch     int
	retries   int
	end       func([]byte) bool
	name      string
}

// Defaults of the source's options.
const (
	DefaultDiscoveryInterval = 10 * time.Second
	DefaultPollInterval      = 200 * time.Millisecond
	DefaultMaxRecords        = 1000
	DefaultMaxRetries        = 20
)

// NewSource returns a source of stream (Stream option) that decodes
// records with dec.
func NewSource[T any](dec Decoder[T], opts ...SourceOption) (*Source[T], error) {
	s := &Source[T]{dec: dec, cfg: sourceConfig{discovery: DefaultDiscoveryInterval, poll: DefaultPollInterval,
		fetch: DefaultMaxRecords, retries: DefaultMaxRetries, name: "kinesis-source"}}
	for _, o := range opts {
		o.applySource(&s.cfg)
	}
	c := &s.cfg
	errs := append([]error(nil), c.conn.errs...)
	if dec == nil {
		errs = append(errs, errors.New("no decoder"))
	}
	if c.conn.stream == "" {
		errs = append(errs, errors.New("no stream: use kinesis.Stream"))
	}
	if c.discovery < 0 {
		errs = append(errs, fmt.Errorf("DiscoveryInterval %v is negative", c.discovery))
	}
	if c.poll < 0 {
		errs = append(errs, fmt.Errorf("PollInterval %v is negative", c.poll))
	}
	if c.fetch < 1 || c.fetch > 10000 {
		errs = append(errs, fmt.Errorf("MaxRecordsPerFetch %d is not in 1..10000", c.fetch))
	}
	if c.retries < 0 {
		errs = append(errs, fmt.Errorf("MaxRetries %d is negative", c.retries))
	}
	if c.start.kind == startTimestamp && c.start.at.IsZero() {
		errs = append(errs, errors.New("AtTimestamp needs a time"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("kinesis source: %w", err)
	}
	return s, nil
}

// Bounded reports whether the source ends by itself (EndOfStream).
func (s *Source[T]) Bounded() bool { return s.cfg.end != nil }

// SplitCodec encodes shard splits.
func (s *Source[T]) SplitCodec() connector.SplitCodec { return splitCodec{} }

// Declare: exactly-once with checkpoints; without, a restarted job starts
// over from the configured start position.
func (s *Source[T]) Declare(checkpointing bool) connector.Declaration {
	return declareSource(checkpointing, s.cfg.start)
}

func declareSource(checkpointing bool, start StartPosition) connector.Declaration {
	if !checkpointing {
		if start.kind == startTrimHorizon {
			return connector.Declaration{Guarantee: connector.AtLeastOnce,
				Reason: "no checkpoints: shard positions are not saved, so a job started again reads from the trim horizon and repeats records"}
		}
		return connector.Declaration{Guarantee: connector.AtMostOnce,
			Reason: fmt.Sprintf("no checkpoints: shard positions are not saved, so a job started again reads from %v and skips what came before", start)}
	}
	return connector.Declaration{Guarantee: connector.ExactlyOnce,
		Reason: "shard positions (sequence and sub-sequence numbers) are checkpoint state; a shard is read only after its parents finished, and finished shards are in the checkpoint, never read again"}
}

// NewEnumerator lists shards and assigns them to readers. A Source value
// serves one job at a time: its enumerator and readers share a mailbox of
// finished shards.
func (s *Source[T]) NewEnumerator(ctx connector.EnumeratorContext, restored []byte) (connector.Enumerator, error) {
	return newEnumerator(&s.cfg, &s.mb, ctx, restored)
}

// NewReader returns the reader of one source subtask.
func (s *Source[T]) NewReader(ctx connector.ReaderContext) (connector.Reader[T], error) {
	return newReader(&s.cfg, &s.mb, s.dec, ctx)
}
