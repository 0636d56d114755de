package kafka

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// Source reads Kafka topics, exactly-once with checkpoints: every
// partition is a split whose state is the offset of the next record, so a
// restored job continues each partition exactly where the checkpoint left
// it. Records carry their Kafka timestamp as event time, and each
// partition has its own watermark.
type Source[T any] struct {
	cfg sourceConfig
	dec Decoder[T]
}

type sourceConfig struct {
	conn            connConfig
	topics          []string
	regex           string
	re              *regexp.Regexp
	start           StartOffset
	group           string
	readUncommitted bool
	bounded         bool
	discovery       time.Duration
	discoverySet    bool
	maxPoll         int
	name            string
}

// Topics reads the named topics. Topics that do not exist yet are read
// once they appear (partition discovery). Either Topics or TopicRegex is
// required.
func Topics(names ...string) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.topics = append(c.topics, names...) })
}

// TopicRegex reads every topic whose name matches the regular expression
// (Go syntax, matched against the whole name), including topics created
// while the job runs. Internal topics (starting with "__") are never read.
func TopicRegex(expr string) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.regex = expr })
}

// StartFrom sets where partitions are read from when the job starts
// without a checkpoint (default Earliest()).
func StartFrom(s StartOffset) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.start = s })
}

// Group sets the consumer group to which the source commits the offsets of
// every completed checkpoint, so that lag can be monitored with the usual
// Kafka tools, and from which Committed reads start offsets. The group is
// never joined, and recovery never relies on its offsets (they are behind
// the checkpoint's, or ahead of a checkpoint older than the latest). No
// group: nothing is committed.
func Group(id string) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.group = id })
}

// ReadUncommitted reads records of open and aborted transactions too
// (isolation read_uncommitted). The default is read_committed, so that a
// job reading the output of an exactly-once producer (another sluice job's
// exactly-once Kafka sink, Kafka Streams) sees only committed records:
// with read_uncommitted, records of a transaction the producer later aborts
// are read as well and their effects are never taken back, which breaks
// exactly-once end to end. read_committed costs latency only for
// transactional topics (records become readable when their transaction
// commits); for others the last stable offset is the high watermark.
func ReadUncommitted() SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.readUncommitted = true })
}

// Bounded makes the source end: it reads every partition up to the offset
// that was its end when the job first started (the high watermark, or the
// last stable offset with read_committed), and partitions are not
// discovered while it runs. The stop offsets are part of the splits, so a
// restored job stops at the same place.
func Bounded() SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.bounded = true })
}

// DiscoveryInterval sets how often the source looks for new partitions and
// new topics (default 30s); 0 disables discovery after the start.
func DiscoveryInterval(d time.Duration) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.discovery, c.discoverySet = d, true })
}

// MaxPollRecords bounds the records one poll of a reader emits (default
// 512), which bounds how long a checkpoint barrier waits behind records.
func MaxPollRecords(n int) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.maxPoll = n })
}

// SourceName names the source in bad-record reports (default
// "kafka-source").
func SourceName(name string) SourceOption {
	return sourceOpt(func(c *sourceConfig) { c.name = name })
}

// DefaultDiscoveryInterval is the default of DiscoveryInterval.
const DefaultDiscoveryInterval = 30 * time.Second

// NewSource returns a source that decodes records with dec.
func NewSource[T any](dec Decoder[T], opts ...SourceOption) (*Source[T], error) {
	s := &Source[T]{dec: dec, cfg: sourceConfig{maxPoll: 512, name: "kafka-source", start: Earliest()}}
	for _, o := range opts {
		o.applySource(&s.cfg)
	}
	c := &s.cfg
	if !c.discoverySet {
		c.discovery = DefaultDiscoveryInterval
	}
	errs := append([]error(nil), c.conn.errs...)
	if dec == nil {
		errs = append(errs, errors.New("no decoder"))
	}
	if c.conn.sasl != nil {
		c.conn.sasl.setWhat("kafka source " + c.name)
	}
	if len(c.conn.brokers) == 0 {
		errs = append(errs, errors.New("no brokers: use kafka.Brokers"))
	}
	switch {
	case len(c.topics) == 0 && c.regex == "":
		errs = append(errs, errors.New("no topics: use kafka.Topics or kafka.TopicRegex"))
	case len(c.topics) > 0 && c.regex != "":
		errs = append(errs, errors.New("kafka.Topics and kafka.TopicRegex exclude each other"))
	case c.regex != "":
		re, err := regexp.Compile("^(?:" + c.regex + ")$")
		if err != nil {
			errs = append(errs, fmt.Errorf("topic regex: %w", err))
		}
		c.re = re
	}
	for _, t := range c.topics {
		if t == "" || len(t) > 249 {
			errs = append(errs, fmt.Errorf("invalid topic name %q", t))
		}
	}
	if c.start.kind == startCommitted && c.group == "" {
		errs = append(errs, errors.New("kafka.Committed needs a consumer group: use kafka.Group"))
	}
	if c.maxPoll <= 0 {
		errs = append(errs, fmt.Errorf("MaxPollRecords %d must be positive", c.maxPoll))
	}
	if c.discovery < 0 {
		errs = append(errs, fmt.Errorf("DiscoveryInterval %v is negative", c.discovery))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("kafka source: %w", err)
	}
	return s, nil
}

// Bounded reports whether the source was made bounded (see the Bounded
// option).
func (s *Source[T]) Bounded() bool { return s.cfg.bounded }

// SplitCodec encodes partition splits.
func (s *Source[T]) SplitCodec() connector.SplitCodec { return splitCodec{} }

// Declare: exactly-once with checkpoints, because the offsets are
// checkpoint state; without checkpoints a restarted job starts over from
// the configured start position.
func (s *Source[T]) Declare(checkpointing bool) connector.Declaration {
	c := &s.cfg
	if !checkpointing {
		d := connector.Declaration{Guarantee: connector.AtMostOnce}
		from := c.start
		if from.kind == startCommitted {
			// Offsets are committed only after checkpoints: without them
			// the fallback decides.
			from = StartOffset{kind: from.fallback}
		}
		if from.kind == startEarliest {
			d.Guarantee = connector.AtLeastOnce
			d.Reason = "no checkpoints: offsets are not saved, so a job started again reads from the earliest offsets and repeats records"
		} else {
			d.Reason = fmt.Sprintf("no checkpoints: offsets are not saved, so a job started again reads from %v and skips what came before", from)
		}
		return d
	}
	var b strings.Builder
	b.WriteString("partition offsets are checkpoint state and restored on recovery")
	if c.group != "" {
		fmt.Fprintf(&b, "; offsets are committed to group %q only after a checkpoint completes, for monitoring", c.group)
	}
	if c.readUncommitted {
		b.WriteString("; isolation read_uncommitted: records of transactions that are later aborted are read too")
	} else {
		b.WriteString("; isolation read_committed")
	}
	return connector.Declaration{Guarantee: connector.ExactlyOnce, Reason: b.String()}
}

// NewEnumerator discovers partitions and assigns them to readers.
func (s *Source[T]) NewEnumerator(ctx connector.EnumeratorContext, restored []byte) (connector.Enumerator, error) {
	return newEnumerator(&s.cfg, ctx, restored)
}

// NewReader returns the reader of one source subtask.
func (s *Source[T]) NewReader(ctx connector.ReaderContext) (connector.Reader[T], error) {
	return newReader(&s.cfg, s.dec, ctx)
}
