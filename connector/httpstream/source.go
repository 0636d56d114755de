package httpstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// Source reads a long-lived HTTP response: newline-delimited JSON or
// server-sent events. It has one split, read by one subtask.
type Source[T any] struct {
	url    *url.URL // the stream's URL
	shown  string   // url as it may be shown: no password, no secret query values
	decode func(Event) (T, error)
	o      options
	client *http.Client
}

// NewSource returns a source of the messages of the stream at rawURL,
// each made a record by decode (an error makes the message a bad record).
// See the package documentation for the options and their defaults.
func NewSource[T any](rawURL string, decode func(Event) (T, error), opts ...Option) (*Source[T], error) {
	o := defaultOptions()
	o.name = "httpstream"
	for _, opt := range opts {
		opt(&o)
	}
	if o.x != nil {
		return nil, fmt.Errorf("httpstream source: %w: Rules, Expansions, Fields and BaseURL are options of NewTwitterSource", connector.ErrConfig)
	}
	return newSource(rawURL, decode, o)
}

func newSource[T any](rawURL string, decode func(Event) (T, error), o options) (*Source[T], error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s source: %w: %v", o.name, connector.ErrConfig, err)
	}
	errs := o.errs
	if decode == nil {
		errs = append(errs, errors.New("no decode function given"))
	}
	if o.resume && o.framing != SSE {
		errs = append(errs, errors.New("ResumeFromLastEventID needs SSE framing: NDJSON has no event IDs"))
	}
	if len(o.events) > 0 && o.framing != SSE {
		errs = append(errs, errors.New("EventTypes needs SSE framing"))
	}
	if o.keepAlive <= 0 || o.stall < 0 || o.retryTimeout <= 0 || o.maxMessage <= 0 {
		errs = append(errs, errors.New("KeepAlive, RetryTimeout and MaxMessageBytes must be positive, StallTimeout not negative"))
	}
	if o.client != nil && o.client.Timeout > 0 {
		errs = append(errs, fmt.Errorf("the HTTP client's Timeout (%v) would cut the stream; use no Timeout (StallTimeout notices a dead stream)", o.client.Timeout))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s source %s: %w: %w", o.name, redactURL(u), connector.ErrConfig, errors.Join(errs...))
	}
	s := &Source[T]{url: u, shown: redactURL(u), decode: decode, o: o, client: o.client}
	if s.client == nil {
		s.client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          4,
			IdleConnTimeout:       90 * time.Second,
		}}
	}
	return s, nil
}

// parseURL checks that s is an absolute http or https URL.
func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		// url.Error quotes the URL, which may hold a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("bad URL: %v; give an absolute http:// or https:// URL", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bad URL %s: give an absolute http:// or https:// URL", redactURL(u))
	}
	return u, nil
}

// secretParams are query parameters whose values are not shown.
var secretParams = []string{"key", "token", "secret", "password", "passwd", "auth", "sig", "signature", "credential"}

// redactURL returns u without its password and with the values of query
// parameters that look like credentials replaced by asterisks.
func redactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User(c.User.Username())
	}
	if c.RawQuery != "" {
		q := c.Query()
		changed := false
		for k, vs := range q {
			lk := strings.ToLower(k)
			for _, s := range secretParams {
				if strings.Contains(lk, s) {
					for i := range vs {
						vs[i] = "********"
					}
					changed = true
					break
				}
			}
		}
		if changed {
			c.RawQuery = strings.ReplaceAll(q.Encode(), "%2A", "*")
		}
	}
	return c.String()
}

// Declare implements connector.Declarer.
func (s *Source[T]) Declare(checkpointing bool) connector.Declaration {
	switch {
	case s.o.x != nil:
		return connector.Declaration{Guarantee: connector.AtMostOnce,
			Reason: "the X filtered stream cannot be replayed from a position: posts delivered while the job restarts or reconnects are lost"}
	case s.o.resume && checkpointing:
		return connector.Declaration{Guarantee: connector.AtLeastOnce,
			Reason: "the last SSE event ID is checkpoint state, sent as Last-Event-ID after a restore and on every reconnect; holds when the server replays the events after that ID"}
	case s.o.resume:
		return connector.Declaration{Guarantee: connector.AtMostOnce,
			Reason: "without checkpoints the last SSE event ID is not kept across a restart: events sent meanwhile are lost"}
	case s.o.framing == SSE:
		return connector.Declaration{Guarantee: connector.AtMostOnce,
			Reason: "the stream is not replayed after a restart (set resume: last_event_id for a server that honours Last-Event-ID)"}
	}
	return connector.Declaration{Guarantee: connector.AtMostOnce,
		Reason: "an NDJSON stream cannot be replayed: messages sent while the job restarts or reconnects are lost"}
}

// Bounded reports whether the source ends when the server ends the
// response (EndOnClose).
func (s *Source[T]) Bounded() bool { return s.o.endOnClose }

// split is the one split of a source: the stream and its last event ID.
type split struct {
	URL         string `json:"url"`
	LastEventID string `json:"last_event_id,omitempty"`
}

func (split) SplitID() string { return "stream" }

type splitCodec struct{}

func (splitCodec) Encode(sp connector.Split) ([]byte, error) {
	s, ok := sp.(split)
	if !ok {
		return nil, fmt.Errorf("httpstream: cannot encode split %T", sp)
	}
	return json.Marshal(s)
}

func (splitCodec) Decode(b []byte) (connector.Split, error) {
	var s split
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("httpstream: bad split state: %w", err)
	}
	return s, nil
}

// SplitCodec implements connector.Source.
func (s *Source[T]) SplitCodec() connector.SplitCodec { return splitCodec{} }

// NewEnumerator gives the one split to subtask 0, unless it was assigned
// before the checkpoint being restored (then it comes back with a
// reader's state).
func (s *Source[T]) NewEnumerator(ctx connector.EnumeratorContext, restored []byte) (connector.Enumerator, error) {
	return &enumerator{ctx: ctx, url: s.shown, assigned: string(restored) == "assigned"}, nil
}

type enumerator struct {
	ctx      connector.EnumeratorContext
	url      string
	assigned bool
}

func (e *enumerator) AddReader(subtask int) error {
	if subtask == 0 && !e.assigned {
		e.assigned = true
		e.ctx.Assign(0, split{URL: e.url})
	}
	e.ctx.NoMoreSplits(subtask)
	return nil
}

func (e *enumerator) HandleSplitRequest(int) error { return nil }

func (e *enumerator) Snapshot(int64) ([]byte, error) {
	if e.assigned {
		return []byte("assigned"), nil
	}
	return []byte{}, nil
}

func (e *enumerator) Close() error { return nil }
