package elasticsearch

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// The elasticsearch sink of YAML pipelines (type: elasticsearch).

func init() {
	connector.RegisterSink(connector.SinkType{Name: "elasticsearch",
		Config: func() connector.SinkConfig { return &SinkConfig{OpType: "index", VersionType: "external"} },
		Docs: connector.Info{System: "Elasticsearch 8 and 9 (go-elasticsearch v8 bulk API; not OpenSearch)",
			Cases: []connector.Case{
				{Guarantee: connector.ExactlyOnce, When: "with checkpoints and a document id (id:) for op_type index, update or delete: bulk requests drained on every barrier, replays overwrite the same documents (with version: external versions, any order)"},
				{Guarantee: connector.AtLeastOnce, When: "without id (Elasticsearch assigns ids, replays add documents), with op_type create (data streams), or without checkpoints"},
			}, Test: "protocol-level _bulk stand-in (estest), with the official client's BulkIndexer; SIGKILL torture tests with and without ids"}})
}

// SinkConfig is the configuration of the elasticsearch sink of YAML
// pipelines; see package connector for the meaning of its tags, and the
// package documentation for each option.
type SinkConfig struct {
	URLs      []string       `yaml:"urls" required:"the nodes' URLs, e.g. urls: https://localhost:9200 (comma-separated or a list)"`
	Index     string         `yaml:"index"`
	IndexExpr connector.Expr `yaml:"index_expr"`
	IndexTime connector.Expr `yaml:"index_time"`
	ID        connector.Expr `yaml:"id"`
	OpType    string         `yaml:"op_type" enum:"index,create,update,delete"`
	DeleteIf  connector.Expr `yaml:"delete_if"`
	Version   connector.Expr `yaml:"version"`
	// VersionType is the version type of version: external or external_gte.
	VersionType string `yaml:"version_type" enum:"external,external_gte"`

	Username       string           `yaml:"username"`
	UsernameEnv    string           `yaml:"username_env"`
	Password       connector.Secret `yaml:"password"`
	PasswordEnv    string           `yaml:"password_env"`
	APIKey         connector.Secret `yaml:"api_key"`
	APIKeyEnv      string           `yaml:"api_key_env"`
	BearerToken    connector.Secret `yaml:"bearer_token"`
	BearerTokenEnv string           `yaml:"bearer_token_env"`
	CAFile         string           `yaml:"ca_file"`

	MaxInflightBytes int64         `yaml:"max_inflight_bytes" min:"1024"`
	BatchBytes       int           `yaml:"batch_bytes" min:"1024"`
	BatchActions     int           `yaml:"batch_actions" min:"1"`
	Concurrency      int           `yaml:"concurrency" min:"1" max:"64"`
	FlushInterval    time.Duration `yaml:"flush_interval" min:"0"`
	MaxRetries       int           `yaml:"max_retries" min:"0" max:"100"`
	RequestTimeout   time.Duration `yaml:"request_timeout" min:"1s"`
}

func splitURLs(given []string) []string {
	var out []string
	for _, s := range given {
		for u := range strings.SplitSeq(s, ",") {
			if u = strings.TrimSpace(u); u != "" {
				out = append(out, u)
			}
		}
	}
	return out
}

// Check implements connector.Checker.
func (s *SinkConfig) Check(c connector.ConfigCheck) {
	if c.Has("urls") && !c.Bad("urls") {
		urls := splitURLs(s.URLs)
		if len(urls) == 0 {
			c.Fail("urls", "no URL given; e.g. urls: https://localhost:9200")
		}
		for _, u := range urls {
			if err := checkURL(u); err != nil {
				c.Fail("urls", "%v", err)
				break
			}
		}
	}
	switch {
	case s.Index == "" && !s.IndexExpr.IsSet() && !c.Bad("index", "index_expr"):
		c.Fail("index", "missing; give index: (a name, or a pattern such as logs-{yyyy.MM.dd}) or index_expr: (an expression)")
	case s.Index != "" && s.IndexExpr.IsSet():
		c.Fail("index_expr", "give index or index_expr, not both")
	case s.Index != "":
		if p, err := parseIndex(s.Index); err != nil {
			c.Fail("index", "%v", err)
		} else if !p.timed && s.IndexTime.IsSet() {
			c.Fail("index_time", "goes with a time pattern in index, e.g. index: logs-{yyyy.MM.dd}")
		}
	case s.IndexTime.IsSet():
		c.Fail("index_time", "goes with a time pattern in index, e.g. index: logs-{yyyy.MM.dd}")
	}
	if !c.Bad("op_type") {
		op := s.OpType
		if !s.ID.IsSet() {
			switch {
			case op == "update" || op == "delete":
				c.FailAt("op_type", "id", "missing; op_type %s needs the document id: id: <field or expression>", op)
			case s.DeleteIf.IsSet():
				c.FailAt("delete_if", "id", "missing; delete_if needs the document id: id: <field or expression>")
			case s.Version.IsSet():
				c.FailAt("version", "id", "missing; version needs the document id: id: <field or expression>")
			}
		}
		if s.Version.IsSet() && (op == "update" || op == "create") {
			c.Fail("version", "works with op_type index and delete; Elasticsearch takes no external version with %s", op)
		}
	}
	if c.Has("version_type") && !s.Version.IsSet() {
		c.Fail("version_type", "goes with version:")
	}
	pairs := [][2]string{{"username", "username_env"}, {"password", "password_env"}, {"api_key", "api_key_env"}, {"bearer_token", "bearer_token_env"}}
	methods := 0
	for i, p := range pairs {
		if c.Has(p[0]) && c.Has(p[1]) {
			c.Fail(p[1], "give %s or %s, not both", p[0], p[1])
		}
		if (c.Has(p[0]) || c.Has(p[1])) && i != 1 {
			methods++
		}
	}
	if methods > 1 {
		c.Fail("api_key", "give one way to authenticate: username and password, api_key, or bearer_token")
	}
	user, pass := c.Has("username") || c.Has("username_env"), c.Has("password") || c.Has("password_env")
	if user != pass {
		if user {
			c.FailAt("username", "password", "missing; username needs a password (password_env: VAR, or password: ${VAR})")
		} else {
			c.FailAt("password", "username", "missing; a password needs username")
		}
	}
	if s.CAFile != "" && !c.Bad("ca_file") {
		cfg := defaults()
		cfg.caFile = s.CAFile
		if _, err := cfg.httpTransport(); err != nil {
			c.Fail("ca_file", "%v", err)
		}
	}
}

// options returns the sink's options (not the document function).
func (s *SinkConfig) options(name string) []Option {
	opts := []Option{URLs(splitURLs(s.URLs)...), Name(name), Operation(Op(s.OpType))}
	if s.Index != "" {
		opts = append(opts, Index(s.Index))
	}
	if e := s.IndexExpr; e.IsSet() {
		opts = append(opts, IndexFunc(func(r connector.Record) (string, error) {
			v, err := e.Eval(r)
			if err != nil {
				return "", err
			}
			str, ok := v.(string)
			if !ok {
				return "", fmt.Errorf("index_expr %q gave %s, not a string", e.Source, describe(v))
			}
			return str, nil
		}))
	}
	if e := s.IndexTime; e.IsSet() {
		opts = append(opts, IndexTime(func(r connector.Record) (time.Time, error) {
			v, err := e.Eval(r)
			if err != nil {
				return time.Time{}, err
			}
			t, err := toTime(v)
			if err != nil {
				return t, fmt.Errorf("index_time %q: %w", e.Source, err)
			}
			return t, nil
		}))
	}
	if e := s.ID; e.IsSet() {
		opts = append(opts, ID(func(r connector.Record) (string, error) {
			v, err := e.Eval(r)
			if err != nil {
				return "", err
			}
			id, err := toID(v)
			if err != nil {
				return "", fmt.Errorf("id %q: %w", e.Source, err)
			}
			return id, nil
		}))
	}
	if e := s.DeleteIf; e.IsSet() {
		opts = append(opts, DeleteIf(func(r connector.Record) (bool, error) {
			v, err := e.Eval(r)
			if err != nil {
				return false, err
			}
			b, ok := v.(bool)
			if !ok {
				return false, fmt.Errorf("delete_if %q gave %s, not a boolean", e.Source, describe(v))
			}
			return b, nil
		}))
	}
	if e := s.Version; e.IsSet() {
		opts = append(opts, VersionType(s.VersionType), Version(func(r connector.Record) (int64, error) {
			v, err := e.Eval(r)
			if err != nil {
				return 0, err
			}
			n, err := toInt(v)
			if err != nil {
				return 0, fmt.Errorf("version %q: %w", e.Source, err)
			}
			return n, nil
		}))
	}
	if s.Username != "" || s.Password != "" {
		opts = append(opts, BasicAuth(s.Username, string(s.Password)))
	}
	if s.APIKey != "" {
		opts = append(opts, APIKey(string(s.APIKey)))
	}
	if s.BearerToken != "" {
		opts = append(opts, BearerToken(string(s.BearerToken)))
	}
	if s.UsernameEnv != "" || s.PasswordEnv != "" || s.APIKeyEnv != "" || s.BearerTokenEnv != "" {
		opts = append(opts, fromEnv(s.UsernameEnv, s.PasswordEnv, s.APIKeyEnv, s.BearerTokenEnv))
	}
	if s.CAFile != "" {
		opts = append(opts, CAFile(s.CAFile))
	}
	if s.MaxInflightBytes > 0 {
		opts = append(opts, MaxInflightBytes(s.MaxInflightBytes))
	}
	if s.BatchBytes > 0 {
		opts = append(opts, BatchBytes(s.BatchBytes))
	}
	if s.BatchActions > 0 {
		opts = append(opts, BatchActions(s.BatchActions))
	}
	if s.Concurrency > 0 {
		opts = append(opts, Concurrency(s.Concurrency))
	}
	if s.FlushInterval > 0 {
		opts = append(opts, FlushInterval(s.FlushInterval))
	}
	if s.MaxRetries > 0 {
		opts = append(opts, Retries(s.MaxRetries, DefaultRetryBackoff, DefaultMaxRetryBackoff))
	}
	if s.RequestTimeout > 0 {
		opts = append(opts, RequestTimeout(s.RequestTimeout))
	}
	return opts
}

// NewSink implements connector.SinkConfig: each record is written as its
// JSON encoding.
func (s *SinkConfig) NewSink(ctx connector.BuildContext) (connector.Sink[connector.Record], error) {
	return NewSink(ctx.EncodeRecord, s.options(ctx.Name())...)
}

// Declare implements connector.Declarer.
func (s *SinkConfig) Declare(checkpointing bool) connector.Declaration {
	snk, err := NewSink(func(connector.Record) ([]byte, error) { return nil, nil }, s.options("elasticsearch sink")...)
	if err != nil {
		return connector.Declaration{Guarantee: connector.AtMostOnce, Reason: err.Error()}
	}
	return snk.Declare(checkpointing)
}

// toID turns an id expression's value into a document id.
func toID(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int:
		return strconv.Itoa(x), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10), nil
		}
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", fmt.Errorf("gave %s, not a string or number", describe(v))
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), nil
		}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
			return int64(x), nil
		}
	case string:
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("gave %s, not a whole number", describe(v))
}

// toTime reads a time: an RFC 3339 string (or a date), or milliseconds
// since the epoch.
func toTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case int64:
		return time.UnixMilli(x), nil
	case float64:
		return time.UnixMilli(int64(x)), nil
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, x); err == nil {
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (e.g. 2024-05-01T12:00:00Z)", x)
	}
	return time.Time{}, fmt.Errorf("gave %s, not a time (an RFC 3339 string or epoch milliseconds)", describe(v))
}

func describe(v any) string {
	if v == nil {
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil || len(b) > 60 {
		return fmt.Sprintf("a %T", v)
	}
	return string(b)
}
