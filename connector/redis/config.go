package redis

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// The redis sink of YAML pipelines (type: redis).

func init() {
	connector.RegisterSink(connector.SinkType{Name: "redis", Formats: []string{"json"},
		Config: func() connector.SinkConfig { return &SinkConfig{Delivery: "at-least-once", Mode: "standalone"} },
		Docs: connector.Info{System: "Redis (go-redis): standalone, Sentinel, Cluster",
			Cases: []connector.Case{
				{Guarantee: connector.ExactlyOnce, When: "delivery: exactly-once with checkpoints: a checkpoint's commands applied when it completes, in Lua scripts fenced per (writer lineage, checkpoint, chunk; on Cluster per hash slot)"},
				{Guarantee: connector.ExactlyOnce, When: "set, hset, sadd, zadd, del whose key, field, member, score and value depend only on the record: replays overwrite with the same values"},
				{Guarantee: connector.AtLeastOnce, When: "xadd, lpush, rpush, incrby, hincrby, publish, expire: pipelined, drained on every barrier"},
			}, Test: "real Redis server (redis-server 7), SIGKILL torture tests (INCRBY exactly-once, RPUSH at-least-once)"}})
}

// SinkConfig is the configuration of the redis sink of YAML pipelines;
// see package connector for the meaning of its tags.
type SinkConfig struct {
	URL      connector.Secret `yaml:"url"`
	Mode     string           `yaml:"mode" enum:"standalone,sentinel,cluster"`
	Username string           `yaml:"username"`
	Password connector.Secret `yaml:"password"`
	TLS      *TLSConfig       `yaml:"tls"`
	Command  string           `yaml:"command" required:"the command to send for every record: set, hset, sadd, zadd, xadd, lpush, rpush, incrby, hincrby, publish, del or expire" enum:"set,hset,sadd,zadd,xadd,lpush,rpush,incrby,hincrby,publish,del,expire"`
	Key      connector.Expr   `yaml:"key"`
	Field    connector.Expr   `yaml:"field"`
	Value    connector.Expr   `yaml:"value"`
	Score    connector.Expr   `yaml:"score"`
	Member   connector.Expr   `yaml:"member"`
	TTL      time.Duration    `yaml:"ttl" min:"1ms"`
	Delivery string           `yaml:"delivery" enum:"exactly-once,at-least-once"`

	BatchSize              int           `yaml:"batch_size" min:"1" max:"1000000"`
	MaxTransactionCommands int           `yaml:"max_transaction_commands" min:"1" max:"1000000"`
	MaxPendingBytes        int           `yaml:"max_pending_bytes" min:"1024"`
	FenceTTL               time.Duration `yaml:"fence_ttl" min:"1m"`
}

// TLSConfig is the tls: option: true, false, or a mapping. A rediss://
// URL turns TLS on with the system's CA certificates without it.
type TLSConfig struct {
	Enabled            *bool  `yaml:"enabled"` // nil: true
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SetBool implements connector.BoolForm: tls: true or false.
func (t *TLSConfig) SetBool(on bool) { t.Enabled = &on }

// BoolHint implements connector.BoolForm.
func (t *TLSConfig) BoolHint() string {
	return "use true (TLS, the system's CA certificates), false, or a mapping, e.g. {ca_file: ca.pem, cert_file: client.pem, key_file: client-key.pem}"
}

// load returns the TLS configuration; nil when off. Mistakes go to fail
// with the key of the option.
func (t *TLSConfig) load(fail func(key, format string, args ...any)) *tls.Config {
	if t == nil || (t.Enabled != nil && !*t.Enabled) {
		return nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		b, err := os.ReadFile(t.CAFile)
		if err != nil {
			fail("tls.ca_file", "%v", err)
			return nil
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			fail("tls.ca_file", "%s holds no PEM certificate; give the PEM file of the CA that signed the server's certificate", t.CAFile)
			return nil
		}
		cfg.RootCAs = pool
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		fail("tls.cert_file", "cert_file and key_file go together (a client certificate and its key)")
		return nil
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			fail("tls.cert_file", "cannot load the client certificate and key (key_file %s): %v", t.KeyFile, err)
			return nil
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg
}

// Check implements connector.Checker.
func (s *SinkConfig) Check(c connector.ConfigCheck) {
	if c.Bad("command") {
		return
	}
	op := Op(s.Command)
	field, member, score, _, _ := op.needs()
	if !s.Key.IsSet() {
		c.Fail("key", "missing; give the key (the channel for publish) as a field name or an expression, e.g. key: \"'user:' + string(id)\"")
	}
	if (op == HSet || op == HIncrBy) && !s.Field.IsSet() {
		c.Fail("field", "missing; %s needs the hash field, e.g. field: name", s.Command)
	}
	if !field && op != XAdd && s.Field.IsSet() {
		c.Fail("field", "%s takes no field", s.Command)
	}
	if op == ZAdd && !s.Score.IsSet() {
		c.Fail("score", "missing; zadd needs the score, e.g. score: ts")
	}
	if !score && s.Score.IsSet() {
		c.Fail("score", "%s takes no score", s.Command)
	}
	if !member && s.Member.IsSet() {
		c.Fail("member", "%s takes no member", s.Command)
	}
	if (op == Del || op == Expire) && s.Value.IsSet() {
		c.Fail("value", "%s takes no value", s.Command)
	}
	if op == Expire && !c.Has("ttl") {
		c.Fail("ttl", "missing; expire needs the time to live, e.g. ttl: 1h")
	}
	if (op == Del || op == Publish) && c.Has("ttl") {
		c.Fail("ttl", "%s takes no ttl", s.Command)
	}
	if s.Delivery != "exactly-once" {
		for _, k := range []string{"max_transaction_commands", "max_pending_bytes", "fence_ttl"} {
			if c.Has(k) {
				c.Fail(k, "goes with delivery: exactly-once")
			}
		}
	}
	if s.TLS != nil {
		s.TLS.load(c.Fail)
	}
	cfg := config{url: string(s.URL), mode: Mode(s.Mode)}
	if _, err := cfg.parseClient(); err != nil && !c.Bad("url", "mode") {
		c.Fail("url", "%v", err)
	}
}

// options returns the sink's options; errs collects a TLS mistake.
func (s *SinkConfig) options(fence string) ([]Option, error) {
	var opts []Option
	if s.URL != "" {
		opts = append(opts, URL(string(s.URL)))
	}
	if s.Mode != "" {
		opts = append(opts, WithMode(Mode(s.Mode)))
	}
	if s.Username != "" || s.Password != "" {
		opts = append(opts, Credentials(s.Username, s.Password))
	}
	var tlsErr error
	if t := s.TLS.load(func(key, format string, args ...any) {
		if tlsErr == nil {
			tlsErr = fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...))
		}
	}); t != nil {
		opts = append(opts, TLS(t))
	}
	if s.TTL > 0 {
		opts = append(opts, TTL(s.TTL))
	}
	if s.Delivery == "exactly-once" {
		opts = append(opts, ExactlyOnce())
	}
	if s.BatchSize > 0 {
		opts = append(opts, BatchSize(s.BatchSize))
	}
	if s.MaxTransactionCommands > 0 {
		opts = append(opts, MaxTransactionCommands(s.MaxTransactionCommands))
	}
	if s.MaxPendingBytes > 0 {
		opts = append(opts, MaxPendingBytes(s.MaxPendingBytes))
	}
	if s.FenceTTL > 0 {
		opts = append(opts, FenceTTL(s.FenceTTL))
	}
	if fence != "" {
		opts = append(opts, FenceName(fence))
	}
	return opts, tlsErr
}

// NewSink implements connector.SinkConfig. Every part is the value of
// its expression over the record: strings as they are, numbers in their
// shortest form, other values as JSON. The value defaults to the record
// in the sink's format (JSON), the increment of incrby and hincrby to 1,
// the member of sadd and zadd to the value.
func (s *SinkConfig) NewSink(ctx connector.BuildContext) (connector.Sink[connector.Record], error) {
	opts, err := s.options(ctx.Job() + ":" + ctx.ID())
	if err != nil {
		return nil, fmt.Errorf("redis sink: %w: %w", connector.ErrConfig, err)
	}
	op := Op(s.Command)
	_, _, _, _, incr := op.needs()
	str := func(e connector.Expr, r connector.Record, what string) (string, error) {
		v, err := e.Eval(r)
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", what, e.Source, err)
		}
		out, err := toString(v)
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", what, e.Source, err)
		}
		return out, nil
	}
	value := func(r connector.Record) (string, error) {
		if s.Value.IsSet() {
			return str(s.Value, r, "value")
		}
		b, err := ctx.EncodeRecord(r)
		if err != nil {
			return "", err
		}
		return string(bytes.TrimRight(b, "\n")), nil
	}
	build := func(r connector.Record) (Command, error) {
		var c Command
		var err error
		if c.Key, err = str(s.Key, r, "key"); err != nil {
			return c, err
		}
		if s.Field.IsSet() {
			if c.Field, err = str(s.Field, r, "field"); err != nil {
				return c, err
			}
		}
		if s.Score.IsSet() {
			v, err := s.Score.Eval(r)
			if err != nil {
				return c, fmt.Errorf("score %s: %w", s.Score.Source, err)
			}
			if c.Score, err = toFloat(v); err != nil {
				return c, fmt.Errorf("score %s: %w", s.Score.Source, err)
			}
		}
		switch {
		case incr:
			c.By = 1
			if s.Value.IsSet() {
				v, err := s.Value.Eval(r)
				if err != nil {
					return c, fmt.Errorf("value %s: %w", s.Value.Source, err)
				}
				if c.By, err = toInt(v); err != nil {
					return c, fmt.Errorf("value %s: %w", s.Value.Source, err)
				}
			}
		case op == Del || op == Expire:
		case op == SAdd || op == ZAdd:
			if s.Member.IsSet() {
				c.Member, err = str(s.Member, r, "member")
			} else {
				c.Member, err = value(r)
			}
		default:
			c.Value, err = value(r)
		}
		return c, err
	}
	return NewSink(op, build, opts...)
}

// Declare implements connector.Declarer: the guarantee of the sink so
// configured.
func (s *SinkConfig) Declare(checkpointing bool) connector.Declaration {
	opts, _ := s.options("")
	snk, err := NewSink(Op(s.Command), func(connector.Record) (Command, error) { return Command{}, nil }, opts...)
	if err != nil {
		return connector.Declaration{Guarantee: connector.AtMostOnce, Reason: err.Error()}
	}
	return snk.Declare(checkpointing)
}

func toString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", fmt.Errorf("is null")
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int:
		return strconv.Itoa(x), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case int64:
		return float64(x), nil
	case int:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case float64:
		if math.IsNaN(x) {
			return 0, fmt.Errorf("is NaN")
		}
		return x, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil || math.IsNaN(f) {
			return 0, fmt.Errorf("%q is not a number", x)
		}
		return f, nil
	}
	return 0, fmt.Errorf("%T is not a number", v)
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("%d is out of range", x)
		}
		return int64(x), nil
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, fmt.Errorf("%v is not an integer", x)
		}
		return int64(x), nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", x)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%T is not an integer", v)
}
