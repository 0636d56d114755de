package httpstream

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// The httpstream and twitter sources of YAML pipelines.

func init() {
	connector.RegisterSource(connector.SourceType{Name: "httpstream", Formats: []string{"ndjson", "sse"},
		Config: func() connector.SourceConfig { return &SourceConfig{Format: "ndjson", Resume: "none"} },
		Docs: connector.Info{System: "long-lived HTTP responses: NDJSON, server-sent events",
			Cases: []connector.Case{
				{Guarantee: connector.AtLeastOnce, When: "format: sse with resume: last_event_id and checkpoints: the last event ID is state, sent as Last-Event-ID after a restore; the server must replay the events after it"},
				{Guarantee: connector.AtMostOnce, When: "otherwise: the stream cannot be replayed"},
			}, Test: "httptest servers (NDJSON, SSE with Last-Event-ID replay), SIGKILL torture test"}})
	connector.RegisterSource(connector.SourceType{Name: "twitter", Formats: []string{"json"},
		Config: func() connector.SourceConfig { return &TwitterConfig{} },
		Docs: connector.Info{System: "X API v2 filtered stream",
			Cases: []connector.Case{
				{Guarantee: connector.AtMostOnce, When: "always: the stream cannot be replayed from a position"},
			}, Test: "httptest stand-in for the X filtered stream and rules endpoints (CRLF framing, keep-alives, disconnect messages, 429)"}})
}

// SourceConfig is the configuration of the httpstream source of YAML
// pipelines.
type SourceConfig struct {
	URL string `yaml:"url" required:"the stream's URL, e.g. url: https://example.com/events"`
	// Format is the framing (set by YAML pipelines from format:); every
	// message is a JSON object.
	Format          string            `yaml:"format" enum:"ndjson,sse"`
	Headers         map[string]string `yaml:"headers" mapping:"header names to values"`
	HeadersEnv      map[string]string `yaml:"headers_env" mapping:"header names to environment variables"`
	BearerTokenEnv  string            `yaml:"bearer_token_env"`
	Resume          string            `yaml:"resume" enum:"none,last_event_id"`
	Events          []string          `yaml:"events"`
	KeepAlive       time.Duration     `yaml:"keep_alive" min:"1ms"`
	StallTimeout    time.Duration     `yaml:"stall_timeout" min:"0"`
	RetryTimeout    time.Duration     `yaml:"retry_timeout" min:"1ms"`
	MaxMessageBytes int               `yaml:"max_message_bytes" min:"1"`
	EndOnClose      bool              `yaml:"end_on_close"`
}

// TwitterConfig is the configuration of the twitter source of YAML
// pipelines.
type TwitterConfig struct {
	BearerTokenEnv string `yaml:"bearer_token_env" required:"the environment variable holding the bearer token, e.g. bearer_token_env: X_BEARER_TOKEN"`
	// Rules are {value, tag} mappings.
	Rules        []connector.Record `yaml:"rules"`
	Expansions   []string           `yaml:"expansions"`
	TweetFields  []string           `yaml:"tweet_fields"`
	UserFields   []string           `yaml:"user_fields"`
	MediaFields  []string           `yaml:"media_fields"`
	PlaceFields  []string           `yaml:"place_fields"`
	PollFields   []string           `yaml:"poll_fields"`
	URL          string             `yaml:"url"`
	BaseURL      string             `yaml:"base_url"`
	KeepAlive    time.Duration      `yaml:"keep_alive" min:"1ms"`
	StallTimeout time.Duration      `yaml:"stall_timeout" min:"0"`
	RetryTimeout time.Duration      `yaml:"retry_timeout" min:"1ms"`
}

// Check implements connector.Checker.
func (c *SourceConfig) Check(ck connector.ConfigCheck) {
	if !ck.Bad("url") {
		if _, err := parseURL(c.URL); err != nil {
			ck.Fail("url", "%v", err)
		}
	}
	checkHeaders(ck, "headers", c.Headers, false)
	checkHeaders(ck, "headers_env", c.HeadersEnv, true)
	for name, env := range c.HeadersEnv {
		if !validEnvName(env) {
			ck.Fail("headers_env."+name, "%q is not an environment variable name; give the name of the variable holding the value", env)
		}
	}
	checkEnvName(ck, "bearer_token_env", c.BearerTokenEnv)
	if c.Resume == "last_event_id" && c.Format != "sse" && !ck.Bad("resume", "format") {
		ck.FailAt("resume", "resume", "last_event_id needs format: sse (NDJSON has no event IDs)")
	}
	if len(c.Events) > 0 && c.Format != "sse" && !ck.Bad("format") {
		ck.Fail("events", "events: selects server-sent events by type; it needs format: sse")
	}
}

// Check implements connector.Checker.
func (c *TwitterConfig) Check(ck connector.ConfigCheck) {
	checkEnvName(ck, "bearer_token_env", c.BearerTokenEnv)
	for i, r := range c.Rules {
		if _, err := parseRule(r); err != nil {
			ck.Fail(fmt.Sprintf("rules[%d]", i), "%v", err)
		}
	}
	for _, k := range []string{"url", "base_url"} {
		v := c.URL
		if k == "base_url" {
			v = c.BaseURL
		}
		if v != "" && !ck.Bad(k) {
			if _, err := parseURL(v); err != nil {
				ck.Fail(k, "%v", err)
			}
		}
	}
}

func checkEnvName(ck connector.ConfigCheck, key, name string) {
	if name != "" && !ck.Bad(key) && !validEnvName(name) {
		ck.Fail(key, "%q is not an environment variable name; give the name of the variable holding the token, e.g. X_BEARER_TOKEN, not the token", name)
	}
}

func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// checkHeaders checks the header names of a headers option.
func checkHeaders(ck connector.ConfigCheck, key string, hs map[string]string, env bool) {
	for name := range hs {
		if !validHeaderName(name) {
			ck.Fail(key+"."+name, "%q is not a valid HTTP header name", name)
		}
	}
}

// parseRule reads a rule of YAML pipelines: {value: ..., tag: ...}.
func parseRule(r connector.Record) (Rule, error) {
	var rule Rule
	for k, v := range r {
		s, ok := v.(string)
		if !ok && v != nil {
			s = fmt.Sprint(v)
		}
		switch k {
		case "value":
			rule.Value = strings.TrimSpace(s)
		case "tag":
			rule.Tag = s
		default:
			return rule, fmt.Errorf("unknown key %q; a rule is {value: <query>, tag: <tag>}", k)
		}
	}
	if rule.Value == "" {
		return rule, fmt.Errorf("the rule has no value; give {value: <query>, tag: <tag>}, e.g. {value: \"cat has:images\", tag: cats}")
	}
	return rule, nil
}

// Declare implements connector.Declarer.
func (c *SourceConfig) Declare(checkpointing bool) connector.Declaration {
	s := &Source[connector.Record]{o: defaultOptions()}
	for _, opt := range c.options() {
		opt(&s.o)
	}
	return s.Declare(checkpointing)
}

func (c *SourceConfig) options() []Option {
	var opts []Option
	if c.Format == "sse" {
		opts = append(opts, WithFraming(SSE))
	}
	for _, name := range slices.Sorted(maps.Keys(c.Headers)) {
		opts = append(opts, Header(name, c.Headers[name]))
	}
	if c.BearerTokenEnv != "" {
		opts = append(opts, BearerTokenEnv(c.BearerTokenEnv))
	}
	if c.Resume == "last_event_id" {
		opts = append(opts, ResumeFromLastEventID())
	}
	if len(c.Events) > 0 {
		opts = append(opts, EventTypes(c.Events...))
	}
	opts = append(opts, common(c.KeepAlive, c.StallTimeout, c.RetryTimeout)...)
	if c.MaxMessageBytes > 0 {
		opts = append(opts, MaxMessageBytes(c.MaxMessageBytes))
	}
	if c.EndOnClose {
		opts = append(opts, EndOnClose())
	}
	return opts
}

func common(keepAlive, stall, retry time.Duration) []Option {
	var opts []Option
	if keepAlive > 0 {
		opts = append(opts, KeepAlive(keepAlive))
	}
	if stall > 0 {
		opts = append(opts, StallTimeout(stall))
	}
	if retry > 0 {
		opts = append(opts, RetryTimeout(retry))
	}
	return opts
}

// NewSource implements connector.SourceConfig. Header values from
// headers_env are read when the source is built.
func (c *SourceConfig) NewSource(ctx connector.BuildContext) (connector.Source[connector.Record], error) {
	opts := append(c.options(), Name(ctx.Name()))
	for _, name := range slices.Sorted(maps.Keys(c.HeadersEnv)) {
		env := c.HeadersEnv[name]
		v, ok := os.LookupEnv(env)
		if !ok {
			return nil, fmt.Errorf("%s: %w: headers_env: environment variable %s (header %s) is not set", ctx.Name(), connector.ErrConfig, env, name)
		}
		opts = append(opts, SecretHeader(name, connector.Secret(v)))
	}
	return NewSource(c.URL, func(e Event) (connector.Record, error) { return decodeJSONRecord(e.Data) }, opts...)
}

func (c *TwitterConfig) options() []Option {
	opts := []Option{BearerTokenEnv(c.BearerTokenEnv)}
	if len(c.Rules) > 0 {
		rules := make([]Rule, len(c.Rules))
		for i, r := range c.Rules {
			rules[i], _ = parseRule(r) // checked by Check
		}
		opts = append(opts, Rules(rules...))
	}
	if len(c.Expansions) > 0 {
		opts = append(opts, Expansions(c.Expansions...))
	}
	for param, fs := range map[string][]string{"tweet.fields": c.TweetFields, "user.fields": c.UserFields,
		"media.fields": c.MediaFields, "place.fields": c.PlaceFields, "poll.fields": c.PollFields} {
		if len(fs) > 0 {
			opts = append(opts, Fields(param, fs...))
		}
	}
	if c.BaseURL != "" {
		opts = append(opts, BaseURL(c.BaseURL))
	}
	if c.URL != "" {
		opts = append(opts, StreamURL(c.URL))
	}
	return append(opts, common(c.KeepAlive, c.StallTimeout, c.RetryTimeout)...)
}

// Declare implements connector.Declarer.
func (c *TwitterConfig) Declare(checkpointing bool) connector.Declaration {
	s := &Source[connector.Record]{o: defaultOptions()}
	s.o.x = &xOptions{}
	return s.Declare(checkpointing)
}

// NewSource implements connector.SourceConfig.
func (c *TwitterConfig) NewSource(ctx connector.BuildContext) (connector.Source[connector.Record], error) {
	opts := append(c.options(), Name(ctx.Name()))
	return NewTwitterSource(func(e Event) (connector.Record, error) { return ctx.DecodeRecord(e.Data) }, opts...)
}
