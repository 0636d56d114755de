package httpstream

import (
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// Framing is how a stream's messages are delimited.
type Framing uint8

const (
	// NDJSON: one message per line (LF or CRLF); blank lines are
	// keep-alives. The X API's streams are framed so.
	NDJSON Framing = iota
	// SSE: server-sent events (text/event-stream), parsed as the WHATWG
	// HTML standard says.
	SSE
)

func (f Framing) String() string {
	if f == SSE {
		return "sse"
	}
	return "ndjson"
}

// options are the settings of a source; the defaults are set by
// defaultOptions.
type options struct {
	framing      Framing
	headers      http.Header
	secrets      map[string]connector.Secret // headers whose values are secret
	token        connector.Secret
	tokenEnv     string
	resume       bool
	keepAlive    time.Duration
	stall        time.Duration // 0: 3 keep-alive periods
	backoff      Backoff
	retryTimeout time.Duration
	maxMessage   int
	endOnClose   bool
	client       *http.Client
	name         string
	events       []string // SSE event types kept; none: all

	// The X filtered stream.
	x *xOptions

	now  func() time.Time                       // the clock (tests)
	wait func(d time.Duration) <-chan time.Time // sleeping (tests)

	errs []error
}

func defaultOptions() options {
	return options{
		headers:      http.Header{},
		secrets:      map[string]connector.Secret{},
		keepAlive:    20 * time.Second,
		backoff:      XBackoff(),
		retryTimeout: 30 * time.Minute,
		maxMessage:   1 << 20,
		now:          time.Now,
		wait:         time.After,
	}
}

// Option configures a source.
type Option func(*options)

// Framing sets how messages are delimited (default NDJSON; NewTwitterSource:
// NDJSON, always).
func WithFraming(f Framing) Option { return func(o *options) { o.framing = f } }

// Header adds a request header (none by default besides Accept, and
// Authorization with a bearer token). Its value appears in no message;
// still, use SecretHeader for credentials.
func Header(name, value string) Option {
	return func(o *options) {
		if !validHeaderName(name) {
			o.errs = append(o.errs, fmt.Errorf("header name %q is not a valid HTTP header name", name))
			return
		}
		o.headers.Add(name, value)
	}
}

// SecretHeader adds a request header whose value is a secret: it never
// appears in logs or errors.
func SecretHeader(name string, value connector.Secret) Option {
	return func(o *options) {
		if !validHeaderName(name) {
			o.errs = append(o.errs, fmt.Errorf("header name %q is not a valid HTTP header name", name))
			return
		}
		o.secrets[textproto.CanonicalMIMEHeaderKey(name)] = value
	}
}

// BearerToken sends "Authorization: Bearer <token>" (default: no
// Authorization header).
func BearerToken(token connector.Secret) Option { return func(o *options) { o.token = token } }

// BearerTokenEnv sends "Authorization: Bearer <token>" with the token read
// from the environment variable name when the source starts (so that
// building and planning a job need no token). An unset or empty variable
// then ends the job with a message naming it.
func BearerTokenEnv(name string) Option { return func(o *options) { o.tokenEnv = name } }

// ResumeFromLastEventID makes the last event ID of server-sent events the
// split's checkpoint state, sent as Last-Event-ID after a restore (default:
// the ID is sent on reconnects within a run only, as browsers do). With
// checkpoints and a server that replays the events after the ID it names,
// the source is at-least-once. SSE framing only.
func ResumeFromLastEventID() Option { return func(o *options) { o.resume = true } }

// KeepAlive is the period of the server's keep-alive messages (a blank
// line, or an SSE comment; default 20s, X's).
func KeepAlive(d time.Duration) Option { return func(o *options) { o.keepAlive = d } }

// StallTimeout is how long the source waits for data or a keep-alive
// before it drops the connection and reconnects (default three
// keep-alive periods, 60s with the default KeepAlive). Time during which
// the job applies backpressure does not count.
func StallTimeout(d time.Duration) Option { return func(o *options) { o.stall = d } }

// ReconnectBackoff sets the reconnection schedule (default XBackoff();
// zero fields keep their defaults).
func ReconnectBackoff(b Backoff) Option { return func(o *options) { o.backoff = b.withDefaults() } }

// RetryTimeout bounds the time the source keeps failing to connect in a
// row (default 30m): it then fails with the last error, and the job
// restarts from its last checkpoint under its restart strategy (which
// ends the job when the same failure repeats). Permanent errors (401, 403,
// 404, other 4xx, bad URL) end the job at once.
func RetryTimeout(d time.Duration) Option { return func(o *options) { o.retryTimeout = d } }

// MaxMessageBytes bounds a line (NDJSON) or an event's data (SSE)
// (default 1 MiB); a longer one is a bad record.
func MaxMessageBytes(n int) Option { return func(o *options) { o.maxMessage = n } }

// EndOnClose ends the source (bounded input) when the server ends the
// response cleanly, instead of reconnecting (default: reconnect,
// unbounded). A connection that breaks is reconnected either way.
func EndOnClose() Option { return func(o *options) { o.endOnClose = true } }

// HTTPClient sets the client for requests (default: a client of its own
// with a 10s connect and TLS handshake timeout and a 30s timeout for
// response headers, proxies from the environment). The client must not
// set a Timeout, which would cut the stream.
func HTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// Name names the source in bad records and logs (default "httpstream",
// NewTwitterSource: "twitter").
func Name(name string) Option { return func(o *options) { o.name = name } }

// EventTypes keeps only server-sent events of these types (default: all;
// an event without an event field has type "message"). SSE framing only.
func EventTypes(types ...string) Option {
	return func(o *options) { o.events = append(o.events, types...) }
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", c) {
			return false
		}
	}
	return true
}

// stallTimeout returns the stall timeout in effect.
func (o *options) stallTimeout() time.Duration {
	if o.stall > 0 {
		return o.stall
	}
	return 3 * o.keepAlive
}
