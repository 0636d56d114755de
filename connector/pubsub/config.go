package pubsub

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// The pubsub source and sink of YAML pipelines (type: pubsub).

func init() {
	connector.RegisterSource(connector.SourceType{Name: "pubsub", Formats: []string{"json", "text"},
		Config: func() connector.SourceConfig { return &SourceConfig{} },
		Docs: connector.Info{System: "Google Cloud Pub/Sub",
			Cases: []connector.Case{
				{Guarantee: connector.ExactlyOnce, When: "with checkpoints and dedupe_by_id: acknowledged after checkpoints complete; redeliveries dropped by a keyed deduplication stage on the message id, within dedupe_horizon"},
				{Guarantee: connector.AtLeastOnce, When: "with checkpoints: messages acknowledged only after the checkpoint covering their records completes, deadlines extended meanwhile"},
				{Guarantee: connector.AtMostOnce, When: "without checkpoints, or ack_on_receipt: acknowledged on receipt"},
			}, Test: "in-process Pub/Sub fake (pstest) over gRPC on loopback, SIGKILL torture tests"}})
	connector.RegisterSink(connector.SinkType{Name: "pubsub",
		Config: func() connector.SinkConfig { return &SinkConfig{} },
		Docs: connector.Info{System: "Google Cloud Pub/Sub",
			Cases: []connector.Case{
				{Guarantee: connector.AtLeastOnce, When: "with checkpoints: every barrier waits until Pub/Sub confirmed each message published before it"},
				{Guarantee: connector.AtMostOnce, When: "without checkpoints"},
			}, Test: "in-process Pub/Sub fake (pstest) over gRPC on loopback, SIGKILL torture test"}})
}

// DedupeField is the field the source adds to every record when
// dedupe_by_id is on: the message id, by which the pipeline routes the
// records to its deduplication stage, and which it removes after it.
const DedupeField = "__pubsub_message_id"

// DefaultDedupeHorizon is the default of dedupe_horizon: how long a
// message id is remembered.
const DefaultDedupeHorizon = 2 * time.Hour

// SourceConfig is the configuration of the pubsub source of YAML
// pipelines; see package connector for the meaning of its tags.
type SourceConfig struct {
	Project                string        `yaml:"project" required:"the Google Cloud project of the subscription, e.g. project: ${PUBSUB_PROJECT}"`
	Subscription           string        `yaml:"subscription" required:"the subscription to read (its id, or projects/<project>/subscriptions/<id>)"`
	Endpoint               string        `yaml:"endpoint"`
	CredentialsFile        string        `yaml:"credentials_file"`
	DedupeByID             bool          `yaml:"dedupe_by_id"`
	DedupeHorizon          time.Duration `yaml:"dedupe_horizon" min:"1s"`
	MaxOutstandingMessages int           `yaml:"max_outstanding_messages" min:"1"`
	MaxOutstandingBytes    int           `yaml:"max_outstanding_bytes" min:"1"`
	AckDeadline            time.Duration `yaml:"ack_deadline" min:"1s" max:"10m"`
	MaxExtension           time.Duration `yaml:"max_extension" min:"1s"`
	AckOnReceipt           bool          `yaml:"ack_on_receipt"`
	EndWhenIdle            time.Duration `yaml:"end_when_idle" min:"0"`
}

// SinkConfig is the configuration of the pubsub sink of YAML pipelines.
// Records are published as JSON.
type SinkConfig struct {
	Project                string         `yaml:"project" required:"the Google Cloud project of the topic, e.g. project: ${PUBSUB_PROJECT}"`
	Topic                  string         `yaml:"topic" required:"the topic to publish to (its id, or projects/<project>/topics/<id>)"`
	Endpoint               string         `yaml:"endpoint"`
	CredentialsFile        string         `yaml:"credentials_file"`
	OrderingKey            connector.Expr `yaml:"ordering_key"`
	Attributes             []string       `yaml:"attributes"`
	PublishTimeout         time.Duration  `yaml:"publish_timeout" min:"1s"`
	MaxOutstandingMessages int            `yaml:"max_outstanding_messages" min:"1"`
}

func connOptions(project, endpoint, creds string) []Option {
	opts := []Option{Project(project)}
	if endpoint != "" {
		opts = append(opts, Endpoint(endpoint))
	}
	if creds != "" {
		opts = append(opts, CredentialsFile(creds))
	}
	return opts
}

// horizon returns the deduplication horizon.
func (s *SourceConfig) horizon() time.Duration {
	if s.DedupeHorizon > 0 {
		return s.DedupeHorizon
	}
	return DefaultDedupeHorizon
}

// Check implements connector.Checker.
func (s *SourceConfig) Check(c connector.ConfigCheck) {
	if c.Has("dedupe_horizon") && !s.DedupeByID && !c.Bad("dedupe_by_id") {
		c.FailAt("dedupe_horizon", "dedupe_by_id", "dedupe_horizon goes with dedupe_by_id: true")
	}
	if s.AckOnReceipt && s.DedupeByID {
		c.Fail("dedupe_by_id", "ack_on_receipt is at-most-once: there is nothing to deduplicate; drop one of them")
	}
	if s.DedupeByID && !c.Bad("dedupe_horizon", "max_extension", "ack_deadline") {
		if need := s.maxExtension() + s.ackDeadline(); s.horizon() < need {
			key := "dedupe_horizon"
			if !c.Has(key) {
				key = "dedupe_by_id"
			}
			c.Fail(key, "dedupe horizon %v is shorter than max_extension %v + ack_deadline %v = %v: a message held that long is redelivered after its id was forgotten; raise dedupe_horizon",
				s.horizon(), s.maxExtension(), s.ackDeadline(), need)
		}
	}
	if s.MaxExtension > 0 && s.MaxExtension < s.ackDeadline() && !c.Bad("max_extension", "ack_deadline") {
		c.Fail("max_extension", "%v is shorter than ack_deadline %v", s.MaxExtension, s.ackDeadline())
	}
	if s.AckDeadline%time.Second != 0 && !c.Bad("ack_deadline") {
		c.Fail("ack_deadline", "%v is not whole seconds", s.AckDeadline)
	}
}

func (s *SourceConfig) maxExtension() time.Duration {
	if s.MaxExtension > 0 {
		return s.MaxExtension
	}
	return DefaultMaxExtension
}

func (s *SourceConfig) ackDeadline() time.Duration {
	if s.AckDeadline > 0 {
		return s.AckDeadline
	}
	return DefaultAckDeadline
}

// options returns the source's options; interval 0 means the job takes
// no checkpoints, so messages are acknowledged on receipt.
func (s *SourceConfig) options(name string, interval, timeout time.Duration) []SourceOption {
	opts := []SourceOption{Subscription(s.Subscription), SourceName(name)}
	for _, o := range connOptions(s.Project, s.Endpoint, s.CredentialsFile) {
		opts = append(opts, o)
	}
	if s.MaxOutstandingMessages > 0 {
		opts = append(opts, MaxOutstandingMessages(s.MaxOutstandingMessages))
	}
	if s.MaxOutstandingBytes > 0 {
		opts = append(opts, MaxOutstandingBytes(s.MaxOutstandingBytes))
	}
	if s.AckDeadline > 0 {
		opts = append(opts, AckDeadline(s.AckDeadline))
	}
	if s.MaxExtension > 0 {
		opts = append(opts, MaxExtension(s.MaxExtension))
	}
	if s.EndWhenIdle > 0 {
		opts = append(opts, EndWhenIdle(s.EndWhenIdle))
	}
	if s.AckOnReceipt || interval <= 0 {
		opts = append(opts, AckOnReceipt())
	} else {
		opts = append(opts, ExpectCheckpoints(interval, timeout))
	}
	if _, h, ok := s.DedupeBy(); ok {
		// The pipeline puts the deduplication stage after the source.
		opts = append(opts, sourceOpt(func(c *sourceConfig) { c.dedupe = h }))
	}
	return opts
}

// NewSource implements connector.SourceConfig: each message's data is
// decoded in the source's format (json: an object; text: a line), and
// with dedupe_by_id the message id is added as DedupeField.
func (s *SourceConfig) NewSource(ctx connector.BuildContext) (connector.Source[connector.Record], error) {
	interval, timeout := ctx.Checkpoints()
	if s.DedupeByID && interval > 0 {
		t := timeout
		if t <= 0 {
			t = assumedCheckpointTimeout
		}
		if s.horizon() < interval+t+s.ackDeadline() {
			return nil, fmt.Errorf("pubsub source: dedupe horizon %v is shorter than checkpoint interval %v + checkpoint timeout %v + ack_deadline %v: "+
				"a message redelivered after a failure could come after its id was forgotten; raise dedupe_horizon (%w)",
				s.horizon(), interval, t, s.ackDeadline(), connector.ErrConfig)
		}
	}
	dedupe := s.DedupeByID
	dec := func(m *Message) (connector.Record, error) {
		r, err := ctx.DecodeRecord(m.Data)
		if err != nil {
			return nil, err
		}
		if dedupe {
			if r == nil {
				r = connector.Record{}
			}
			r[DedupeField] = m.ID
		}
		return r, nil
	}
	return NewSource(dec, s.options(ctx.Name(), interval, timeout)...)
}

// Declare implements connector.Declarer.
func (s *SourceConfig) Declare(checkpointing bool) connector.Declaration {
	interval := time.Duration(0)
	if checkpointing {
		interval = time.Second // any: the source checks its timing when built
	}
	src, err := NewSource(Messages(), s.options("pubsub", interval, 0)...)
	if err != nil {
		return connector.Declaration{Guarantee: connector.AtMostOnce, Reason: err.Error()}
	}
	if !checkpointing && !s.AckOnReceipt {
		return connector.Declaration{Guarantee: connector.AtMostOnce,
			Reason: "no checkpoints: messages are acknowledged on receipt, so a failure loses the messages in flight"}
	}
	return src.Declare(checkpointing)
}

// DedupeBy names the field holding each record's message id, and the
// horizon, when dedupe_by_id is on (connector.Deduplicated).
func (s *SourceConfig) DedupeBy() (field string, horizon time.Duration, ok bool) {
	if !s.DedupeByID || s.AckOnReceipt {
		return "", 0, false
	}
	return DedupeField, s.horizon(), true
}

// Check implements connector.Checker.
func (s *SinkConfig) Check(c connector.ConfigCheck) {
	for i, a := range s.Attributes {
		if a == "" {
			c.Fail("attributes", "attribute %d is empty: name a field of the records", i)
		}
	}
}

func (s *SinkConfig) options() []SinkOption {
	opts := []SinkOption{Topic(s.Topic)}
	for _, o := range connOptions(s.Project, s.Endpoint, s.CredentialsFile) {
		opts = append(opts, o)
	}
	if s.PublishTimeout > 0 {
		opts = append(opts, PublishTimeout(s.PublishTimeout))
	}
	if s.MaxOutstandingMessages > 0 {
		opts = append(opts, MaxOutstandingPublishes(s.MaxOutstandingMessages))
	}
	return opts
}

// NewSink implements connector.SinkConfig: each record is published as
// JSON, with the ordering key ordering_key evaluates to and the fields
// named by attributes as attributes (a string as it is, other values as
// JSON; a missing field or null is no attribute).
func (s *SinkConfig) NewSink(ctx connector.BuildContext) (connector.Sink[connector.Record], error) {
	key, attrs := s.OrderingKey, s.Attributes
	ser := func(r connector.Record) (*Message, error) {
		data, err := ctx.EncodeRecord(r)
		if err != nil {
			return nil, err
		}
		m := &Message{Data: data}
		if key.IsSet() {
			v, err := key.Eval(r)
			if err != nil {
				return nil, fmt.Errorf("ordering_key %s: %w", key.Source, err)
			}
			if m.OrderingKey, err = text(v); err != nil {
				return nil, fmt.Errorf("ordering_key %s: %w", key.Source, err)
			}
		}
		for _, a := range attrs {
			v, ok := r[a]
			if !ok || v == nil {
				continue
			}
			t, err := text(v)
			if err != nil {
				return nil, fmt.Errorf("attribute %s: %w", a, err)
			}
			if m.Attributes == nil {
				m.Attributes = map[string]string{}
			}
			m.Attributes[a] = t
		}
		return m, nil
	}
	return NewSink(ser, s.options()...)
}

// text is v as an attribute or ordering key: a string as it is, other
// values as JSON, null as "".
func text(v any) (string, error) {
	switch t := v.(type) {
	case nil:
		return "", nil
	case string:
		return t, nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// Declare implements connector.Declarer.
func (s *SinkConfig) Declare(checkpointing bool) connector.Declaration {
	snk, err := NewSink(StringSerializer(), s.options()...)
	if err != nil {
		return connector.Declaration{Guarantee: connector.AtMostOnce, Reason: err.Error()}
	}
	return snk.Declare(checkpointing)
}

var _ connector.Deduplicated = (*SourceConfig)(nil)
