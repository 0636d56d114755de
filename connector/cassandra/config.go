package cassandra

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gocql/gocql"

	"github.com/sluicehq/sluice/connector"
)

// The cassandra sink of YAML pipelines (type: cassandra).

func init() {
	connector.RegisterSink(connector.SinkType{Name: "cassandra",
		Config: func() connector.SinkConfig {
			return &SinkConfig{Delivery: "at-least-once", Consistency: "local_quorum"}
		},
		Docs: connector.Info{System: "Apache Cassandra / ScyllaDB (gocql)",
			Cases: []connector.Case{
				{Guarantee: connector.ExactlyOnce, When: "with checkpoints and an idempotent statement (INSERT, UPDATE ... SET col = value, DELETE, by a primary key from the record): in-flight writes drained on every barrier, replays rewrite the same rows"},
				{Guarantee: connector.ExactlyOnce, When: "delivery: exactly-once with checkpoints, any statement (counters, list appends): write-ahead, rows applied when the checkpoint completes in batches with markers in a commit table; except a batch Cassandra reports timed out and applies after the sink checked its marker"},
				{Guarantee: connector.AtLeastOnce, When: "a non-idempotent statement (counter update, list append) without delivery: exactly-once, or no checkpoints: in-flight writes drained on every barrier and at the end"},
			}, Test: "CQL native-protocol v4 stand-in server (cqltest) with the real gocql driver, fault injection, SIGKILL torture tests"}})
}

// SinkConfig is the configuration of the cassandra sink of YAML
// pipelines; see package connector for the meaning of its tags.
type SinkConfig struct {
	Hosts              []string      `yaml:"hosts" required:"the contact points, e.g. hosts: 10.0.0.1,10.0.0.2:9042 (comma-separated or a list)"`
	Keyspace           string        `yaml:"keyspace"`
	Statement          string        `yaml:"statement" required:"the CQL INSERT, UPDATE or DELETE whose markers the record's fields bind, e.g. statement: INSERT INTO t (id, n) VALUES (:id, :n)"`
	Consistency        string        `yaml:"consistency" enum:"any,one,two,three,quorum,all,local_quorum,each_quorum,local_one"`
	Delivery           string        `yaml:"delivery" enum:"exactly-once,at-least-once"`
	LocalDC            string        `yaml:"local_dc"`
	MaxInFlight        int           `yaml:"max_inflight" min:"1" max:"100000"`
	Retries            int           `yaml:"retries" min:"0" max:"1000"`
	RetryBackoff       time.Duration `yaml:"retry_backoff" min:"1ms"`
	Timeout            time.Duration `yaml:"timeout" min:"1ms"`
	ConnectTimeout     time.Duration `yaml:"connect_timeout" min:"1ms"`
	Username           string        `yaml:"username"`
	PasswordEnv        string        `yaml:"password_env"`
	TLS                *TLSConfig    `yaml:"tls"`
	SinkID             string        `yaml:"sink_id"`
	CommitKeyspace     string        `yaml:"commit_keyspace"`
	CommitTable        string        `yaml:"commit_table"`
	CommitChunk        int           `yaml:"commit_chunk" min:"1" max:"1000"`
	CreateCommitTables *bool         `yaml:"create_commit_tables"`
	MarkerTTL          time.Duration `yaml:"marker_ttl" min:"1s"`
}

// TLSConfig is the tls: option: true, false, or a mapping.
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

// load returns the TLS configuration (nil: off); mistakes are reported
// at key.
func (t *TLSConfig) load() (*tls.Config, string, error) {
	if t == nil || (t.Enabled != nil && !*t.Enabled) {
		return nil, "", nil
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		if t.CertFile == "" {
			return nil, "key_file", fmt.Errorf("key_file goes with cert_file (a client certificate)")
		}
		return nil, "cert_file", fmt.Errorf("cert_file goes with key_file (a client certificate)")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		b, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, "ca_file", err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, "ca_file", fmt.Errorf("%s holds no PEM certificate; give the CA certificate(s) that signed the nodes' certificates", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, "cert_file", fmt.Errorf("cannot load the client certificate and key: %v", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, "", nil
}

// Check implements connector.Checker.
func (s *SinkConfig) Check(c connector.ConfigCheck) {
	if c.Has("hosts") && !c.Bad("hosts") {
		var n int
		for _, h := range s.Hosts {
			for p := range strings.SplitSeq(h, ",") {
				if strings.TrimSpace(p) != "" {
					n++
				}
			}
		}
		if n == 0 {
			c.Fail("hosts", "no host given; e.g. hosts: 127.0.0.1:9042")
		}
	}
	if s.Statement != "" && !c.Bad("statement") {
		st, err := ParseStatement(s.Statement)
		switch {
		case err != nil:
			c.Fail("statement", "%v", err)
		case st.Keyspace == "" && s.Keyspace == "" && !c.Bad("keyspace"):
			c.FailAt("statement", "keyspace", "missing; the statement names table %s without keyspace: set keyspace:, or write keyspace.%s", st.Table, st.Table)
		}
	}
	if (s.Username == "") != (s.PasswordEnv == "") && !c.Bad("username", "password_env") {
		if s.Username == "" {
			c.FailAt("password_env", "username", "missing; password_env goes with username")
		} else {
			c.FailAt("username", "password_env", "missing; give the name of the environment variable holding the password, e.g. password_env: CASSANDRA_PASSWORD")
		}
	}
	wa := s.Delivery == "exactly-once"
	for _, k := range []string{"sink_id", "commit_keyspace", "commit_table", "commit_chunk", "create_commit_tables", "marker_ttl"} {
		if c.Has(k) && !wa && !c.Bad("delivery") {
			c.Fail(k, "goes with delivery: exactly-once")
		}
	}
	if s.CommitTable != "" && !validName(s.CommitTable) {
		c.Fail("commit_table", "%q is not a CQL name (letters, digits, _)", s.CommitTable)
	}
	if s.CommitKeyspace != "" && !validName(s.CommitKeyspace) {
		c.Fail("commit_keyspace", "%q is not a CQL name (letters, digits, _)", s.CommitKeyspace)
	}
	if s.TLS != nil && !c.Bad("tls") {
		if _, key, err := s.TLS.load(); err != nil {
			c.Fail("tls."+key, "%v", err)
		}
	}
}

// options returns the sink's options; the password is read from the
// environment when password is true.
func (s *SinkConfig) options(job, id string, password bool) ([]Option, error) {
	opts := []Option{Hosts(s.Hosts...), Keyspace(s.Keyspace)}
	if s.Consistency != "" {
		cl, err := gocql.ParseConsistencyWrapper(strings.ToUpper(s.Consistency))
		if err != nil {
			return nil, err
		}
		opts = append(opts, Consistency(cl))
	}
	if s.LocalDC != "" {
		opts = append(opts, LocalDC(s.LocalDC))
	}
	if s.MaxInFlight > 0 {
		opts = append(opts, MaxInFlight(s.MaxInFlight))
	}
	if s.Retries > 0 {
		opts = append(opts, Retries(s.Retries))
	}
	if s.RetryBackoff > 0 {
		opts = append(opts, RetryBackoff(s.RetryBackoff, max(s.RetryBackoff, DefaultMaxRetryBackoff)))
	}
	if s.Timeout > 0 {
		opts = append(opts, Timeout(s.Timeout))
	}
	if s.ConnectTimeout > 0 {
		opts = append(opts, ConnectTimeout(s.ConnectTimeout))
	}
	if s.Username != "" && password {
		pw, ok := os.LookupEnv(s.PasswordEnv)
		if !ok {
			return nil, fmt.Errorf("cassandra sink: %w: password_env: the environment variable %s is not set: set it to the password of %s",
				connector.ErrConfig, s.PasswordEnv, s.Username)
		}
		opts = append(opts, Credentials(s.Username, pw))
	}
	if s.TLS != nil {
		cfg, key, err := s.TLS.load()
		if err != nil {
			return nil, fmt.Errorf("cassandra sink: %w: tls.%s: %v", connector.ErrConfig, key, err)
		}
		if cfg != nil {
			opts = append(opts, TLS(cfg))
		}
	}
	if s.Delivery == "exactly-once" {
		st, err := ParseStatement(s.Statement)
		if err == nil && !st.Idempotent {
			sinkID := s.SinkID
			if sinkID == "" {
				sinkID = job + "/" + id
			}
			opts = append(opts, WriteAhead(sinkID))
			if s.CommitKeyspace != "" || s.CommitTable != "" {
				t := s.CommitTable
				if t == "" {
					t = DefaultCommitTable
				}
				opts = append(opts, CommitTable(s.CommitKeyspace, t))
			}
			if s.CommitChunk > 0 {
				opts = append(opts, CommitChunk(s.CommitChunk))
			}
			if s.CreateCommitTables != nil {
				opts = append(opts, CreateCommitTables(*s.CreateCommitTables))
			}
			if s.MarkerTTL > 0 {
				opts = append(opts, MarkerTTL(s.MarkerTTL))
			}
		}
	}
	return opts, nil
}

func (s *SinkConfig) build(job, id string, password bool) (*Sink[connector.Record], error) {
	bind, err := RecordBinder(s.Statement)
	if err != nil {
		return nil, fmt.Errorf("cassandra sink: %w: statement: %v", connector.ErrConfig, err)
	}
	opts, err := s.options(job, id, password)
	if err != nil {
		return nil, err
	}
	return NewSink(s.Statement, bind, opts...)
}

// NewSink implements connector.SinkConfig: the statement's markers are
// bound from the records' fields (see RecordBinder).
func (s *SinkConfig) NewSink(ctx connector.BuildContext) (connector.Sink[connector.Record], error) {
	return s.build(ctx.Job(), ctx.ID(), true)
}

// Declare implements connector.Declarer.
func (s *SinkConfig) Declare(checkpointing bool) connector.Declaration {
	snk, err := s.build("job", "sink", false)
	if err != nil {
		return connector.Declaration{Guarantee: connector.AtMostOnce, Reason: err.Error()}
	}
	return snk.Declare(checkpointing)
}
