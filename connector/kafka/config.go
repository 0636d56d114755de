package kafka

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connector"
)

// The kafka source and sink of YAML pipelines (type: kafka).

func init() {
	connector.RegisterSource(connector.SourceType{Name: "kafka", Formats: []string{"json", "text"},
		Config: func() connector.SourceConfig { return &SourceConfig{Start: "earliest"} },
		Docs: connector.Info{System: "Apache Kafka (franz-go)",
			Cases: []connector.Case{
				{Guarantee: connector.ExactlyOnce, When: "with checkpoints: partition offsets are state; group offsets committed after checkpoints complete, for monitoring only"},
				{Guarantee: connector.AtLeastOnce, When: "without checkpoints, starting from earliest: a restart reads everything again"},
				{Guarantee: connector.AtMostOnce, When: "without checkpoints, starting from latest or a timestamp"},
			}, Test: "in-process Kafka-protocol broker (kfake), conformance suite, SIGKILL torture test"}})
	connector.RegisterSink(connector.SinkType{Name: "kafka",
		Config: func() connector.SinkConfig { return &SinkConfig{Delivery: "at-least-once"} },
		Docs: connector.Info{System: "Apache Kafka (franz-go)",
			Cases: []connector.Case{
				{Guarantee: connector.ExactlyOnce, When: "exactly-once delivery with checkpoints: one transaction per checkpoint per subtask, committed when the checkpoint completes; read with read_committed"},
				{Guarantee: connector.AtLeastOnce, When: "at-least-once delivery, or exactly-once delivery without checkpoints (downgraded loudly): flushed on every barrier and at the end"},
			}, Test: "in-process Kafka-protocol broker (kfake), conformance suite, SIGKILL torture test"}})
}

// SourceConfig is the configuration of the kafka source of YAML
// pipelines; see package connector for the meaning of its tags.
type SourceConfig struct {
	Brokers           []string      `yaml:"brokers" required:"the seed brokers, e.g. brokers: localhost:9092 (comma-separated or a list)"`
	Topics            []string      `yaml:"topics"`
	Topic             string        `yaml:"topic"`
	TopicRegex        string        `yaml:"topic_regex"`
	Group             string        `yaml:"group"`
	Start             string        `yaml:"start" enum:"earliest,latest,committed,timestamp"`
	StartTime         string        `yaml:"start_time"`
	ReadUncommitted   bool          `yaml:"read_uncommitted"`
	Bounded           bool          `yaml:"bounded"`
	DiscoveryInterval time.Duration `yaml:"discovery_interval" min:"0"`
	TLS               *TLSConfig    `yaml:"tls"`
	SASL              *SASLConfig   `yaml:"sasl"`
}

// SinkConfig is the configuration of the kafka sink of YAML pipelines.
type SinkConfig struct {
	Brokers               []string       `yaml:"brokers" required:"the seed brokers, e.g. brokers: localhost:9092 (comma-separated or a list)"`
	Topic                 string         `yaml:"topic" required:"the topic to write to, e.g. topic: out"`
	Key                   connector.Expr `yaml:"key"`
	Delivery              string         `yaml:"delivery" enum:"exactly-once,at-least-once"`
	TransactionalIDPrefix string         `yaml:"transactional_id_prefix"`
	TransactionTimeout    time.Duration  `yaml:"transaction_timeout" min:"1ms"`
	TransactionPoolSize   int            `yaml:"transaction_pool_size" min:"4" max:"4096"`
	DeliveryTimeout       time.Duration  `yaml:"delivery_timeout" min:"1s"`
	TLS                   *TLSConfig     `yaml:"tls"`
	SASL                  *SASLConfig    `yaml:"sasl"`
}

// TLSConfig is the tls: option: true, false, or a mapping.
type TLSConfig struct {
	Enabled            *bool  `yaml:"enabled"` // nil: true
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`

	loaded *tls.Config
}

// Config returns the TLS configuration that the check of the options
// loaded (certificate files are read then, so that a missing or bad file
// is a mistake of the pipeline file, with its line); nil when TLS is off.
func (t *TLSConfig) Config() *tls.Config {
	if t == nil {
		return nil
	}
	return t.loaded
}

// SetBool implements connector.BoolForm: tls: true or false.
func (t *TLSConfig) SetBool(on bool) { t.Enabled = &on }

// BoolHint implements connector.BoolForm.
func (t *TLSConfig) BoolHint() string {
	return "use true (TLS, the system's CA certificates), false, " +
		"or a mapping, e.g. {ca_file: ca.pem, cert_file: client.pem, key_file: client-key.pem}"
}

// SASLConfig is the sasl: option. The password never appears in a
// message.
type SASLConfig struct {
	Mechanism string           `yaml:"mechanism" enum:"PLAIN,SCRAM-SHA-256,SCRAM-SHA-512" required:"use one of: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"`
	Username  string           `yaml:"username" required:"the SASL user name"`
	Password  connector.Secret `yaml:"password" required:"the SASL password, e.g. password: ${KAFKA_PASSWORD}"`
}

// splitBrokers splits comma-separated brokers.
func splitBrokers(given []string) []string {
	var out []string
	for _, s := range given {
		for b := range strings.SplitSeq(s, ",") {
			if b = strings.TrimSpace(b); b != "" {
				out = append(out, b)
			}
		}
	}
	return out
}

// checkBrokers reports a list of brokers without any.
func checkBrokers(c connector.ConfigCheck, given []string) {
	if len(splitBrokers(given)) == 0 && c.Has("brokers") && !c.Bad("brokers") {
		c.Fail("brokers", "no broker given; e.g. brokers: localhost:9092")
	}
}

// check checks the tls: option at key and loads its files (see Config).
func (t *TLSConfig) check(c connector.ConfigCheck, key string) {
	if t == nil {
		return
	}
	t.loaded = t.load(c, key)
}

func (t *TLSConfig) load(c connector.ConfigCheck, key string) *tls.Config {
	at := func(k string) string { return key + "." + k }
	if c.Bad(at("enabled"), at("ca_file"), at("cert_file"), at("key_file")) {
		return nil // the files to read are not known
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		missing, given := "key_file", "cert_file"
		if t.CertFile == "" {
			missing, given = "cert_file", "key_file"
		}
		c.FailAt(at(given), at(missing), "missing; %s (a client certificate) needs %s too", given, missing)
		return nil
	}
	if t.Enabled != nil && !*t.Enabled {
		return nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		b, err := os.ReadFile(t.CAFile)
		if err != nil {
			c.Fail(at("ca_file"), "%v", err)
			return nil
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			what := "no PEM certificate"
			if blk, _ := pem.Decode(b); blk != nil {
				what = "no valid certificate (PEM block " + blk.Type + ")"
			}
			c.Fail(at("ca_file"), "%s holds %s; give the PEM file of the CA certificate(s) that signed the brokers' certificates", t.CAFile, what)
			return nil
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			c.Fail(at("cert_file"), "cannot load the client certificate and key (key_file %s): %v", t.KeyFile, err)
			return nil
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg
}

// option returns the TLS option of t: the configuration its check
// loaded or, for a configuration built without the check, one loaded now,
// a failure then being an error of NewSource or NewSink.
func (t *TLSConfig) option() []Option {
	if t == nil {
		return nil
	}
	if t.loaded == nil && (t.Enabled == nil || *t.Enabled) {
		var ec errCheck
		t.loaded = t.load(&ec, "tls")
		if ec.err != nil {
			return []Option{connOpt(func(c *connConfig) { c.errs = append(c.errs, ec.err) })}
		}
	}
	if t.loaded == nil {
		return nil
	}
	return []Option{TLS(t.loaded)}
}

// errCheck is a connector.ConfigCheck keeping the first mistake as an
// error.
type errCheck struct{ err error }

func (e *errCheck) Fail(key, format string, args ...any) {
	if e.err == nil {
		e.err = fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...))
	}
}
func (e *errCheck) FailAt(_, key, format string, args ...any) { e.Fail(key, format, args...) }
func (e *errCheck) Has(string) bool                           { return true }
func (e *errCheck) Bad(...string) bool                        { return false }

// security returns the TLS and SASL options.
func security(t *TLSConfig, s *SASLConfig) []Option {
	opts := t.option()
	if s != nil && s.Mechanism != "" {
		opts = append(opts, SASL(SASLMechanism(s.Mechanism), s.Username, string(s.Password)))
	}
	return opts
}

// Check implements connector.Checker.
func (s *SourceConfig) Check(c connector.ConfigCheck) {
	checkBrokers(c, s.Brokers)
	topics := s.topics()
	switch {
	case len(topics) == 0 && s.TopicRegex == "":
		c.Fail("topic", "missing; give topic:, topics: or topic_regex:")
	case len(topics) > 0 && s.TopicRegex != "":
		c.Fail("topic_regex", "give topic(s) or topic_regex, not both")
	}
	switch s.Start {
	case "committed":
		if s.Group == "" && !c.Bad("group") {
			c.Fail("start", "start: committed needs group:")
		}
	case "timestamp":
		if !c.Has("start_time") {
			c.FailAt("start", "start_time", "missing; start: timestamp needs start_time: an RFC 3339 time, e.g. 2024-05-01T00:00:00Z")
			break
		}
		if _, err := time.Parse(time.RFC3339, s.StartTime); err != nil {
			c.Fail("start_time", "%q is not an RFC 3339 time; use e.g. 2024-05-01T00:00:00Z", s.StartTime)
		}
	}
	s.TLS.check(c, "tls")
}

func (s *SourceConfig) topics() []string {
	var topics []string
	if s.Topic != "" {
		topics = append(topics, s.Topic)
	}
	return append(topics, s.Topics...)
}

func (s *SourceConfig) options(name string) []SourceOption {
	opts := []SourceOption{Brokers(splitBrokers(s.Brokers)...), SourceName(name)}
	if s.TopicRegex != "" {
		opts = append(opts, TopicRegex(s.TopicRegex))
	} else {
		opts = append(opts, Topics(s.topics()...))
	}
	if s.Group != "" {
		opts = append(opts, Group(s.Group))
	}
	switch s.Start {
	case "latest":
		opts = append(opts, StartFrom(Latest()))
	case "committed":
		opts = append(opts, StartFrom(Committed(Earliest())))
	case "timestamp":
		t, _ := time.Parse(time.RFC3339, s.StartTime) // Check reports a mistake
		opts = append(opts, StartFrom(AtTimestamp(t)))
	}
	if s.ReadUncommitted {
		opts = append(opts, ReadUncommitted())
	}
	if s.Bounded {
		opts = append(opts, Bounded())
	}
	if s.DiscoveryInterval > 0 {
		opts = append(opts, DiscoveryInterval(s.DiscoveryInterval))
	}
	for _, o := range security(s.TLS, s.SASL) {
		opts = append(opts, o)
	}
	return opts
}

// NewSource implements connector.SourceConfig.
func (s *SourceConfig) NewSource(ctx connector.BuildContext) (connector.Source[connector.Record], error) {
	return NewSource(ValueDecoder(ctx.DecodeRecord), s.options(ctx.Name())...)
}

// Declare implements connector.Declarer: the guarantee of the source so
// configured.
func (s *SourceConfig) Declare(checkpointing bool) connector.Declaration {
	src, err := NewSource(ValueDecoder(func([]byte) (connector.Record, error) { return nil, nil }), s.options("kafka")...)
	if err != nil {
		return connector.Declaration{Guarantee: connector.AtMostOnce, Reason: err.Error()}
	}
	return src.Declare(checkpointing)
}

// Check implements connector.Checker.
func (s *SinkConfig) Check(c connector.ConfigCheck) {
	checkBrokers(c, s.Brokers)
	if s.TransactionalIDPrefix != "" && s.Delivery != "exactly-once" && !c.Bad("delivery") {
		c.Fail("transactional_id_prefix", "goes with delivery: exactly-once")
	}
	s.TLS.check(c, "tls")
}

func (s *SinkConfig) options(job, id string, interval, timeout time.Duration) []SinkOption {
	opts := []SinkOption{Brokers(splitBrokers(s.Brokers)...), DefaultTopic(s.Topic)}
	for _, o := range security(s.TLS, s.SASL) {
		opts = append(opts, o)
	}
	if s.DeliveryTimeout > 0 {
		opts = append(opts, DeliveryTimeout(s.DeliveryTimeout))
	}
	if s.Delivery == "exactly-once" {
		prefix := s.TransactionalIDPrefix
		if prefix == "" {
			prefix = "sluice-" + job + "-" + id
		}
		opts = append(opts, ExactlyOnce(prefix), ExpectCheckpoints(interval, timeout))
		if s.TransactionTimeout > 0 {
			opts = append(opts, TransactionTimeout(s.TransactionTimeout))
		}
		if s.TransactionPoolSize > 0 {
			opts = append(opts, TransactionPoolSize(s.TransactionPoolSize))
		}
	}
	return opts
}

// NewSink implements connector.SinkConfig: the records are written as
// values in the sink's format, the key (if given) as a string or, when it
// is not one, as JSON.
func (s *SinkConfig) NewSink(ctx connector.BuildContext) (connector.Sink[connector.Record], error) {
	topic, key := s.Topic, s.Key
	ser := func(r connector.Record) (*kgo.Record, error) {
		val, err := ctx.EncodeRecord(r)
		if err != nil {
			return nil, err
		}
		rec := &kgo.Record{Topic: topic, Value: val}
		if key.IsSet() {
			kv, err := key.Eval(r)
			if err != nil {
				return nil, err
			}
			if str, ok := kv.(string); ok {
				rec.Key = []byte(str)
			} else {
				// Encoded as the record encoder encodes a field's value.
				b, err := ctx.EncodeRecord(connector.Record{"": kv})
				if err != nil {
					return nil, err
				}
				rec.Key = bytes.TrimSuffix(bytes.TrimPrefix(bytes.TrimSpace(b), []byte(`{"":`)), []byte("}"))
			}
		}
		return rec, nil
	}
	interval, timeout := ctx.Checkpoints()
	return NewSink(Serializer[connector.Record](ser), s.options(ctx.Job(), ctx.ID(), interval, timeout)...)
}

// Declare implements connector.Declarer: the guarantee of the sink so
// configured, in a job whose checkpoints are taken at least as often as
// the transaction timeout allows.
func (s *SinkConfig) Declare(checkpointing bool) connector.Declaration {
	ser := Serializer[connector.Record](func(connector.Record) (*kgo.Record, error) { return nil, nil })
	snk, err := NewSink(ser, s.options("job", "sink", 0, 0)...)
	if err != nil {
		return connector.Declaration{Guarantee: connector.AtMostOnce, Reason: err.Error()}
	}
	return snk.Declare(checkpointing)
}
