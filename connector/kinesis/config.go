package kinesis

import (
	"bytes"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// The kinesis source and sink of YAML pipelines (type: kinesis).

const testedAgainst = "kinesis-local 0.6.2 (kinesis-mock for Node, from npm) started by the tests; SIGKILL torture with resharding; enumerator against a fake of the shard API"

func init() {
	connector.RegisterSource(connector.SourceType{Name: "kinesis", Formats: []string{"json", "text"},
		Config: func() connector.SourceConfig { return &SourceConfig{Start: "trim-horizon"} },
		Docs: connector.Info{System: "AWS Kinesis Data Streams",
			Cases: []connector.Case{
				{Guarantee: connector.ExactlyOnce, When: "with checkpoints: shard sequence (and KPL sub-sequence) numbers are state; children read after their parents; finished shards remembered"},
				{Guarantee: connector.AtLeastOnce, When: "without checkpoints, start: trim-horizon: a restart reads everything again"},
				{Guarantee: connector.AtMostOnce, When: "without checkpoints, start: latest or at-timestamp"},
			}, Test: testedAgainst}})
	connector.RegisterSink(connector.SinkType{Name: "kinesis",
		Config: func() connector.SinkConfig { return &SinkConfig{} },
		Docs: connector.Info{System: "AWS Kinesis Data Streams",
			Cases: []connector.Case{
				{Guarantee: connector.AtLeastOnce, When: "with checkpoints: PutRecords drained on every barrier, failed entries retried, AIMD on throttling"},
				{Guarantee: connector.AtMostOnce, When: "without checkpoints"},
			}, Test: testedAgainst}})
}

// connCreds are the connection options the source and sink share. The
// secret key and session token are never shown.
type connCreds struct {
	Region          string           `yaml:"region"`
	Endpoint        string           `yaml:"endpoint"`
	Profile         string           `yaml:"profile"`
	AccessKeyID     string           `yaml:"access_key_id"`
	SecretAccessKey connector.Secret `yaml:"secret_access_key"`
	SessionToken    connector.Secret `yaml:"session_token"`
}

func (cr *connCreds) check(c connector.ConfigCheck) {
	if (cr.AccessKeyID == "") != (cr.SecretAccessKey == "") {
		if cr.AccessKeyID == "" {
			c.FailAt("secret_access_key", "access_key_id", "missing; static credentials need access_key_id and secret_access_key (or leave both out to use the AWS credential chain)")
		} else {
			c.FailAt("access_key_id", "secret_access_key", "missing; static credentials need access_key_id and secret_access_key (or leave both out to use the AWS credential chain)")
		}
	}
	if cr.SessionToken != "" && cr.AccessKeyID == "" {
		c.Fail("session_token", "goes with access_key_id and secret_access_key")
	}
}

func (cr *connCreds) options() []Option {
	var opts []Option
	if cr.Region != "" {
		opts = append(opts, Region(cr.Region))
	}
	if cr.Endpoint != "" {
		opts = append(opts, Endpoint(cr.Endpoint))
	}
	if cr.Profile != "" {
		opts = append(opts, Profile(cr.Profile))
	}
	if cr.AccessKeyID != "" {
		opts = append(opts, StaticCredentials(cr.AccessKeyID, cr.SecretAccessKey, cr.SessionToken))
	}
	return opts
}

// SourceConfig is the configuration of the kinesis source of YAML
// pipelines; see package connector for the meaning of its tags.
type SourceConfig struct {
	Stream            string           `yaml:"stream" required:"the stream to read, e.g. stream: events"`
	Region            string           `yaml:"region"`
	Endpoint          string           `yaml:"endpoint"`
	Profile           string           `yaml:"profile"`
	AccessKeyID       string           `yaml:"access_key_id"`
	SecretAccessKey   connector.Secret `yaml:"secret_access_key"`
	SessionToken      connector.Secret `yaml:"session_token"`
	Start             string           `yaml:"start" enum:"trim-horizon,latest,at-timestamp"`
	StartTime         string           `yaml:"start_time"`
	DiscoveryInterval time.Duration    `yaml:"discovery_interval" min:"0"`
	PollInterval      time.Duration    `yaml:"poll_interval" min:"0"`
	MaxRecords        int              `yaml:"max_records" min:"1" max:"10000"`
}

// Check implements connector.Checker.
func (s *SourceConfig) Check(c connector.ConfigCheck) {
	s.creds().check(c)
	if s.Start == "at-timestamp" {
		if !c.Has("start_time") {
			c.FailAt("start", "start_time", "missing; start: at-timestamp needs start_time: an RFC 3339 time, e.g. 2024-05-01T00:00:00Z")
		} else if _, err := time.Parse(time.RFC3339, s.StartTime); err != nil {
			c.Fail("start_time", "%q is not an RFC 3339 time; use e.g. 2024-05-01T00:00:00Z", s.StartTime)
		}
	} else if c.Has("start_time") && !c.Bad("start") {
		c.Fail("start_time", "goes with start: at-timestamp")
	}
}

func (s *SourceConfig) options(name string) []SourceOption {
	opts := []SourceOption{Stream(s.Stream), SourceName(name)}
	for _, o := range s.creds().options() {
		opts = append(opts, o)
	}
	switch s.Start {
	case "latest":
		opts = append(opts, StartFrom(Latest()))
	case "at-timestamp":
		t, _ := time.Parse(time.RFC3339, s.StartTime) // Check reports a mistake
		opts = append(opts, StartFrom(AtTimestamp(t)))
	}
	if s.DiscoveryInterval > 0 {
		opts = append(opts, DiscoveryInterval(s.DiscoveryInterval))
	}
	if s.PollInterval > 0 {
		opts = append(opts, PollInterval(s.PollInterval))
	}
	if s.MaxRecords > 0 {
		opts = append(opts, MaxRecordsPerFetch(s.MaxRecords))
	}
	return opts
}

// NewSource implements connector.SourceConfig: every user record's data
// is decoded in the source's format.
func (s *SourceConfig) NewSource(ctx connector.BuildContext) (connector.Source[connector.Record], error) {
	dec := func(r *Record) (connector.Record, error) { return ctx.DecodeRecord(r.Data) }
	return NewSource(Decoder[connector.Record](dec), s.options(ctx.Name())...)
}

// Declare implements connector.Declarer.
func (s *SourceConfig) Declare(checkpointing bool) connector.Declaration {
	start := TrimHorizon()
	switch s.Start {
	case "latest":
		start = Latest()
	case "at-timestamp":
		start = StartPosition{kind: startTimestamp}
	}
	return declareSource(checkpointing, start)
}

// SinkConfig is the configuration of the kinesis sink of YAML pipelines.
type SinkConfig struct {
	Stream          string           `yaml:"stream" required:"the stream to write to, e.g. stream: events"`
	Region          string           `yaml:"region"`
	Endpoint        string           `yaml:"endpoint"`
	Profile         string           `yaml:"profile"`
	AccessKeyID     string           `yaml:"access_key_id"`
	SecretAccessKey connector.Secret `yaml:"secret_access_key"`
	SessionToken    connector.Secret `yaml:"session_token"`
	PartitionKey    connector.Expr   `yaml:"partition_key"`
	MaxInFlight     int              `yaml:"max_in_flight" min:"1" max:"1024"`
	Linger          time.Duration    `yaml:"linger" min:"0"`
}

// Check implements connector.Checker.
func (s *SinkConfig) Check(c connector.ConfigCheck) { s.creds().check(c) }

func (s *SinkConfig) options() []SinkOption {
	opts := []SinkOption{Stream(s.Stream)}
	for _, o := range s.creds().options() {
		opts = append(opts, o)
	}
	if s.MaxInFlight > 0 {
		opts = append(opts, MaxInFlight(s.MaxInFlight))
	}
	if s.Linger > 0 {
		opts = append(opts, Linger(s.Linger))
	}
	return opts
}

// NewSink implements connector.SinkConfig: records are written in the
// sink's format (JSON), with the partition key partition_key gives (a
// string as it is, anything else as JSON), or a random one.
func (s *SinkConfig) NewSink(ctx connector.BuildContext) (connector.Sink[connector.Record], error) {
	key := s.PartitionKey
	ser := func(r connector.Record) ([]byte, string, error) {
		data, err := ctx.EncodeRecord(r)
		if err != nil {
			return nil, "", err
		}
		if !key.IsSet() {
			return data, "", nil
		}
		kv, err := key.Eval(r)
		if err != nil {
			return nil, "", fmt.Errorf("partition_key %s: %w", key.Source, err)
		}
		if str, ok := kv.(string); ok {
			return data, str, nil
		}
		b, err := ctx.EncodeRecord(connector.Record{"": kv})
		if err != nil {
			return nil, "", err
		}
		return data, string(bytes.TrimSuffix(bytes.TrimPrefix(bytes.TrimSpace(b), []byte(`{"":`)), []byte("}"))), nil
	}
	return NewSink(Serializer[connector.Record](ser), s.options()...)
}

// Declare implements connector.Declarer.
func (s *SinkConfig) Declare(checkpointing bool) connector.Declaration {
	return declareSink(checkpointing)
}

func (s *SourceConfig) creds() *connCreds {
	return &connCreds{s.Region, s.Endpoint, s.Profile, s.AccessKeyID, s.SecretAccessKey, s.SessionToken}
}

func (s *SinkConfig) creds() *connCreds {
	return &connCreds{s.Region, s.Endpoint, s.Profile, s.AccessKeyID, s.SecretAccessKey, s.SessionToken}
}
