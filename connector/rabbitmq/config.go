package rabbitmq

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// The rabbitmq source and sink of YAML pipelines (type: rabbitmq).

func init() {
	connector.RegisterSource(connector.SourceType{Name: "rabbitmq", Formats: []string{"json", "text"},
		Config: func() connector.SourceConfig { return &SourceConfig{} },
		Docs: connector.Info{System: "RabbitMQ queues (AMQP 0-9-1) and streams",
			Cases: []connector.Case{
				{Guarantee: connector.ExactlyOnce, When: "with checkpoints and dedupe_by (correlation_id or message_id on every message): acked when checkpoints complete, redelivered ids dropped by a keyed deduplication stage within dedupe_horizon, at any parallelism"},
				{Guarantee: connector.ExactlyOnce, When: "streams: (RabbitMQ streams, stream protocol) with checkpoints: each stream's offset is checkpoint state, at any parallelism"},
				{Guarantee: connector.AtLeastOnce, When: "with checkpoints, no dedupe_by: acked when the checkpoint holding the messages' effects completes; redelivered after a failure"},
				{Guarantee: connector.AtMostOnce, When: "without checkpoints: auto-ack"},
			}, Test: "RabbitMQ 3.10 server on 127.0.0.1:5672, SIGKILL torture tests"}})
	connector.RegisterSink(connector.SinkType{Name: "rabbitmq",
		Config: func() connector.SinkConfig { return &SinkConfig{Mandatory: true} },
		Docs: connector.Info{System: "RabbitMQ exchanges (AMQP 0-9-1)",
			Cases: []connector.Case{
				{Guarantee: connector.AtLeastOnce, When: "with checkpoints: publisher confirms waited for on every barrier, persistent messages; a failure publishes the messages since the last checkpoint again"},
				{Guarantee: connector.AtMostOnce, When: "without checkpoints: confirms waited for only at the end"},
			}, Test: "RabbitMQ 3.10 server on 127.0.0.1:5672, SIGKILL torture test"}})
}

// IDFieldName is the field that the YAML source adds to every record
// with its id for deduplication (see SourceConfig.DedupeBy).
const IDFieldName = "_rabbitmq_id"

// SourceConfig is the configuration of the rabbitmq source of YAML
// pipelines; see package connector for the meaning of its tags.
type SourceConfig struct {
	URL           connector.Secret `yaml:"url"`
	Queue         string           `yaml:"queue"`
	Streams       []string         `yaml:"streams"`
	Start         string           `yaml:"start" enum:"first,next"`
	Prefetch      int              `yaml:"prefetch" min:"0" max:"65535"`
	ExpectedRate  int              `yaml:"expected_rate" min:"0"`
	IDProperty    string           `yaml:"dedupe_by" enum:"correlation_id,message_id"`
	DedupeHorizon time.Duration    `yaml:"dedupe_horizon" min:"0"`
	Heartbeat     time.Duration    `yaml:"heartbeat" min:"0"`
	TLS           *TLSConfig       `yaml:"tls"`
}

// SinkConfig is the configuration of the rabbitmq sink of YAML pipelines.
type SinkConfig struct {
	URL           connector.Secret `yaml:"url"`
	Exchange      string           `yaml:"exchange"`
	RoutingKey    connector.Expr   `yaml:"routing_key"`
	MessageID     connector.Expr   `yaml:"message_id"`
	CorrelationID connector.Expr   `yaml:"correlation_id"`
	Mandatory     bool             `yaml:"mandatory"`
	MaxInFlight   int              `yaml:"max_in_flight" min:"0" max:"1000000"`
	Heartbeat     time.Duration    `yaml:"heartbeat" min:"0"`
	TLS           *TLSConfig       `yaml:"tls"`
}

// TLSConfig is the tls: option: true, false, or a mapping. An amqps://
// URL turns TLS on by itself.
type TLSConfig struct {
	Enabled            *bool  `yaml:"enabled"` // nil: true
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SetBool implements connector.BoolForm.
func (t *TLSConfig) SetBool(on bool) { t.Enabled = &on }

// BoolHint implements connector.BoolForm.
func (t *TLSConfig) BoolHint() string {
	return "use true (TLS, the system's CA certificates), false, or a mapping, e.g. {ca_file: ca.pem}"
}

// load returns the TLS configuration, nil when off.
func (t *TLSConfig) load() (*tls.Config, error) {
	if t == nil || (t.Enabled != nil && !*t.Enabled) {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		b, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("tls.ca_file: %s holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, fmt.Errorf("tls: cert_file and key_file go together")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file: cannot load the client certificate and key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// check reports the mistakes of the tls: option.
func (t *TLSConfig) check(c connector.ConfigCheck) {
	if t == nil || c.Bad("tls.enabled", "tls.ca_file", "tls.cert_file", "tls.key_file") {
		return
	}
	if _, err := t.load(); err != nil {
		c.Fail("tls", "%v", err)
	}
}

func connOptions(url connector.Secret, hb time.Duration, t *TLSConfig) ([]Option, error) {
	opts := []Option{URL(string(url))}
	if hb > 0 {
		opts = append(opts, Heartbeat(hb))
	}
	cfg, err := t.load()
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: %w: %w", connector.ErrConfig, err)
	}
	if cfg != nil {
		opts = append(opts, TLS(cfg))
	}
	return opts, nil
}

// checkURL reports a url: that is not an AMQP URL, without showing it.
func checkURL(c connector.ConfigCheck, url connector.Secret) {
	if c.Bad("url") {
		return
	}
	if _, err := resolveURL(string(url)); err != nil {
		c.Fail("url", "not an AMQP URL; use amqp://user:password@host:5672/vhost or amqps://... (or leave it out: %s, else amqp://localhost:5672/)", EnvURL)
	}
}

// Check implements connector.Checker.
func (s *SourceConfig) Check(c connector.ConfigCheck) {
	switch {
	case s.Queue == "" && len(s.Streams) == 0:
		c.Fail("queue", "missing; give queue: (a classic or quorum queue) or streams: (RabbitMQ streams)")
	case s.Queue != "" && len(s.Streams) > 0:
		c.Fail("streams", "give queue: or streams:, not both")
	case len(s.Streams) > 0:
		for _, k := range []string{"prefetch", "expected_rate", "dedupe_by", "dedupe_horizon", "heartbeat", "tls"} {
			if c.Has(k) {
				c.Fail(k, "goes with queue:, not streams: (a stream's offset is checkpoint state: streams are exactly-once without ids)")
			}
		}
		if !c.Bad("url") {
			if _, err := resolveStreamURL(string(s.URL)); err != nil {
				c.Fail("url", "not a stream URL; streams: are read over the stream protocol: use rabbitmq-stream://user:password@host:5552/vhost (or leave it out: %s, else rabbitmq-stream://localhost:5552/)", EnvStreamURL)
			}
		}
		return
	}
	if c.Has("start") {
		c.Fail("start", "goes with streams: (a queue is read from its head)")
	}
	checkURL(c, s.URL)
	if c.Has("dedupe_horizon") && s.IDProperty == "" && !c.Bad("dedupe_by") {
		c.FailAt("dedupe_horizon", "dedupe_by", "missing; dedupe_horizon goes with dedupe_by: correlation_id or message_id")
	}
	s.TLS.check(c)
}

var _ connector.Deduplicated = (*SourceConfig)(nil)

// DedupeBy names the field holding each record's id and the horizon of
// the keyed deduplication stage (the connector.Deduplicated capability of
// YAML source configurations); ok is false without dedupe_by.
func (s *SourceConfig) DedupeBy() (field string, horizon time.Duration, ok bool) {
	if s.IDProperty == "" || len(s.Streams) > 0 {
		return "", 0, false
	}
	return IDFieldName, s.horizon(), true
}

func (s *SourceConfig) horizon() time.Duration {
	if s.DedupeHorizon > 0 {
		return s.DedupeHorizon
	}
	return DefaultHorizon
}

func (s *SourceConfig) options(interval, timeout time.Duration) ([]SourceOption, error) {
	conn, err := connOptions(s.URL, s.Heartbeat, s.TLS)
	if err != nil {
		return nil, err
	}
	opts := []SourceOption{Queue(s.Queue), Prefetch(s.Prefetch)}
	for _, o := range conn {
		opts = append(opts, o)
	}
	if s.ExpectedRate > 0 {
		opts = append(opts, ExpectedRate(s.ExpectedRate))
	}
	if interval <= 0 {
		return append(opts, AutoAck()), nil
	}
	opts = append(opts, ExpectCheckpoints(interval, timeout))
	switch s.IDProperty {
	case "correlation_id":
		opts = append(opts, DedupeBy(CorrelationID))
	case "message_id":
		opts = append(opts, DedupeBy(MessageID))
	}
	if s.IDProperty != "" {
		opts = append(opts, KeyedDedupe(s.horizon()))
	}
	return opts, nil
}

func (s *SourceConfig) streamOptions() []StreamOption {
	opts := []StreamOption{StreamURL(string(s.URL)), Streams(s.Streams...)}
	if s.Start == "next" {
		opts = append(opts, StartAtNext())
	}
	return opts
}

// NewSource implements connector.SourceConfig: a job without checkpoints
// reads a queue with auto-ack (at-most-once).
func (s *SourceConfig) NewSource(ctx connector.BuildContext) (connector.Source[connector.Record], error) {
	if len(s.Streams) > 0 {
		de := func(m *Message) (connector.Record, error) { return ctx.DecodeRecord(m.Body) }
		return NewStreamSource(Deserializer[connector.Record](de), s.streamOptions()...)
	}
	interval, timeout := ctx.Checkpoints()
	opts, err := s.options(interval, timeout)
	if err != nil {
		return nil, err
	}
	keyed := s.IDProperty != "" && interval > 0
	de := func(m *Message) (connector.Record, error) {
		r, err := ctx.DecodeRecord(m.Body)
		if err == nil && keyed {
			r[IDFieldName] = m.ID
		}
		return r, err
	}
	return NewSource(Deserializer[connector.Record](de), opts...)
}

// Declare implements connector.Declarer.
func (s *SourceConfig) Declare(checkpointing bool) connector.Declaration {
	if len(s.Streams) > 0 {
		src, err := NewStreamSource(Bytes(), s.streamOptions()...)
		if err != nil {
			return connector.Declaration{Guarantee: connector.AtMostOnce, Reason: err.Error()}
		}
		return src.Declare(checkpointing)
	}
	interval := time.Duration(0)
	if checkpointing {
		interval = defaultInterval
	}
	opts, err := s.options(interval, 0)
	if err == nil {
		var src *Source[[]byte]
		if src, err = NewSource(Bytes(), opts...); err == nil {
			return src.Declare(checkpointing)
		}
	}
	return connector.Declaration{Guarantee: connector.AtMostOnce, Reason: err.Error()}
}

// Check implements connector.Checker.
func (s *SinkConfig) Check(c connector.ConfigCheck) {
	checkURL(c, s.URL)
	s.TLS.check(c)
}

func (s *SinkConfig) options() ([]SinkOption, error) {
	conn, err := connOptions(s.URL, s.Heartbeat, s.TLS)
	if err != nil {
		return nil, err
	}
	opts := []SinkOption{Exchange(s.Exchange)}
	for _, o := range conn {
		opts = append(opts, o)
	}
	if !s.Mandatory {
		opts = append(opts, Unroutable())
	}
	if s.MaxInFlight > 0 {
		opts = append(opts, MaxInFlight(s.MaxInFlight))
	}
	return opts, nil
}

// NewSink implements connector.SinkConfig: records are published as JSON,
// with the routing key, message id and correlation id their expressions
// give (a value that is not a string is formatted as JSON would show it).
func (s *SinkConfig) NewSink(ctx connector.BuildContext) (connector.Sink[connector.Record], error) {
	opts, err := s.options()
	if err != nil {
		return nil, err
	}
	str := func(e connector.Expr, r connector.Record, what string) (string, error) {
		if !e.IsSet() {
			return "", nil
		}
		v, err := e.Eval(r)
		if err != nil {
			return "", fmt.Errorf("%s %q: %w", what, e.Source, err)
		}
		if sv, ok := v.(string); ok {
			return sv, nil
		}
		return fmt.Sprint(v), nil
	}
	ser := func(r connector.Record) (Publishing, error) {
		body, err := ctx.EncodeRecord(r)
		if err != nil {
			return Publishing{}, err
		}
		p := Publishing{Body: body, ContentType: "application/json"}
		if p.RoutingKey, err = str(s.RoutingKey, r, "routing_key"); err != nil {
			return p, err
		}
		if p.MessageID, err = str(s.MessageID, r, "message_id"); err != nil {
			return p, err
		}
		p.CorrelationID, err = str(s.CorrelationID, r, "correlation_id")
		return p, err
	}
	return NewSink(Serializer[connector.Record](ser), opts...)
}

// Declare implements connector.Declarer.
func (s *SinkConfig) Declare(checkpointing bool) connector.Declaration {
	opts, err := s.options()
	if err == nil {
		var snk *Sink[string]
		if snk, err = NewSink(StringSerializer(), opts...); err == nil {
			return snk.Declare(checkpointing)
		}
	}
	return connector.Declaration{Guarantee: connector.AtMostOnce, Reason: err.Error()}
}
