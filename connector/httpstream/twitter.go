package httpstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// The X API v2 filtered stream (GET /2/tweets/search/stream): NDJSON
// framed by CRLF, a CRLF keep-alive every 20 seconds, rules managed at
// /2/tweets/search/stream/rules, and operational-disconnect messages in
// the stream that ask the client to reconnect.

// DefaultXBaseURL is the X API's base URL.
const DefaultXBaseURL = "https://api.x.com"

const (
	xStreamPath = "/2/tweets/search/stream"
	xRulesPath  = "/2/tweets/search/stream/rules"
)

// Rule is a filtered stream rule: a query, and a tag that the matching
// posts carry in matching_rules.
type Rule struct {
	Value string `json:"value"`
	Tag   string `json:"tag,omitempty"`
}

// xOptions are the settings of the X filtered stream.
type xOptions struct {
	baseURL   string
	streamURL string // "": baseURL + xStreamPath
	rules     []Rule
	syncRules bool
	params    url.Values
}

func (o *options) xopts() *xOptions {
	if o.x == nil {
		o.x = &xOptions{params: url.Values{}}
	}
	return o.x
}

// Rules keeps the stream's rules in sync when the source starts: rules
// missing from the stream are added, rules of the stream not given here
// are deleted (default: the stream's rules are left as they are). A rule
// is the same when its value and tag are. X only.
func Rules(rules ...Rule) Option {
	return func(o *options) {
		x := o.xopts()
		x.rules, x.syncRules = append(x.rules, rules...), true
	}
}

// Expansions sets the expansions parameter (default none), e.g.
// "author_id", "attachments.media_keys". X only.
func Expansions(names ...string) Option {
	return func(o *options) { o.xopts().addParam("expansions", names) }
}

// Fields sets a fields parameter (default none): param is one of
// tweet.fields, user.fields, media.fields, place.fields, poll.fields,
// e.g. Fields("tweet.fields", "created_at", "lang"). X only.
func Fields(param string, names ...string) Option {
	return func(o *options) {
		switch param {
		case "tweet.fields", "user.fields", "media.fields", "place.fields", "poll.fields":
			o.xopts().addParam(param, names)
		default:
			o.errs = append(o.errs, fmt.Errorf("fields parameter %q: use one of tweet.fields, user.fields, media.fields, place.fields, poll.fields", param))
		}
	}
}

// BaseURL sets the API's base URL, for the stream and its rules (default
// DefaultXBaseURL). X only.
func BaseURL(u string) Option { return func(o *options) { o.xopts().baseURL = u } }

// StreamURL sets the stream's URL (default BaseURL +
// /2/tweets/search/stream); Expansions and Fields are added to its
// query. X only.
func StreamURL(u string) Option { return func(o *options) { o.xopts().streamURL = u } }

func (x *xOptions) addParam(name string, values []string) {
	for _, v := range values {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" && !slices.Contains(x.params[name], p) {
				x.params[name] = append(x.params[name], p)
			}
		}
	}
}

// NewTwitterSource returns a source of the X API v2 filtered stream, each
// post (a JSON object with data, includes and matching_rules) made a
// record by decode. It is at-most-once: the stream cannot be replayed. It
// reconnects on the X API's schedule, and when the stream sends an
// operational-disconnect message; a bearer token is required
// (BearerTokenEnv or BearerToken).
func NewTwitterSource[T any](decode func(Event) (T, error), opts ...Option) (*Source[T], error) {
	o := defaultOptions()
	o.name = "twitter"
	o.x = &xOptions{params: url.Values{}}
	for _, opt := range opts {
		opt(&o)
	}
	if o.framing != NDJSON || o.resume || len(o.events) > 0 {
		o.errs = append(o.errs, errors.New("the X stream is NDJSON: WithFraming, ResumeFromLastEventID and EventTypes do not apply"))
	}
	if o.token == "" && o.tokenEnv == "" {
		o.errs = append(o.errs, errors.New("no bearer token: give BearerTokenEnv (e.g. X_BEARER_TOKEN) or BearerToken"))
	}
	x := o.x
	if x.baseURL == "" {
		x.baseURL = DefaultXBaseURL
	}
	x.baseURL = strings.TrimRight(x.baseURL, "/")
	if _, err := parseURL(x.baseURL); err != nil {
		return nil, fmt.Errorf("twitter source: %w: base URL: %v", connector.ErrConfig, err)
	}
	for i, r := range x.rules {
		if strings.TrimSpace(r.Value) == "" {
			o.errs = append(o.errs, fmt.Errorf("rule %d has no value", i+1))
		}
	}
	stream := x.streamURL
	if stream == "" {
		stream = x.baseURL + xStreamPath
	}
	u, err := parseURL(stream)
	if err != nil {
		return nil, fmt.Errorf("twitter source: %w: stream URL: %v", connector.ErrConfig, err)
	}
	q := u.Query()
	for k, vs := range x.params {
		q.Set(k, strings.Join(vs, ","))
	}
	u.RawQuery = q.Encode()
	return newSource(u.String(), decode, o)
}

// errSkip marks a stream message that is neither a record nor a request
// to reconnect.
var errSkip = errors.New("skip")

// xControl looks at a message of the X stream: an error object without
// data is not a record. It reports whether the connection should be
// dropped (operational-disconnect, or an error that names a disconnect
// type), with the reason, or errSkip for another error message.
func (r *reader[T]) xControl(msg []byte) (bool, error) {
	if !bytes.Contains(msg, []byte(`"errors"`)) {
		return false, nil
	}
	var m struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Title          string `json:"title"`
			Detail         string `json:"detail"`
			DisconnectType string `json:"disconnect_type"`
			Type           string `json:"type"`
		} `json:"errors"`
	}
	if json.Unmarshal(msg, &m) != nil || len(m.Data) > 0 || len(m.Errors) == 0 {
		return false, nil
	}
	for _, e := range m.Errors {
		if e.Title == "operational-disconnect" || e.DisconnectType != "" {
			return true, fmt.Errorf("the server asked to reconnect: %s (%s): %s", e.Title, e.DisconnectType, e.Detail)
		}
	}
	e := m.Errors[0]
	r.log.Warn("error message in the stream", "title", e.Title, "detail", r.src.redact(e.Detail), "type", e.Type)
	return false, errSkip
}

// syncRules makes the stream's rules those of the options: it lists
// them, deletes the others, and adds the missing ones.
func (r *reader[T]) syncRules(token connector.Secret) attempt {
	x := r.src.o.x
	rulesURL := x.baseURL + xRulesPath
	var list struct {
		Data []struct {
			ID    string `json:"id"`
			Value string `json:"value"`
			Tag   string `json:"tag"`
		} `json:"data"`
	}
	if a, ok := r.xCall(token, http.MethodGet, rulesURL, nil, &list); !ok {
		return a
	}
	var del []string
	have := map[Rule]bool{}
	for _, d := range list.Data {
		rule := Rule{Value: d.Value, Tag: d.Tag}
		if slices.Contains(x.rules, rule) && !have[rule] {
			have[rule] = true
			continue
		}
		del = append(del, d.ID)
	}
	var add []Rule
	for _, rule := range x.rules {
		if !have[rule] && !slices.Contains(add, rule) {
			add = append(add, rule)
		}
	}
	if len(del) > 0 {
		body := map[string]any{"delete": map[string]any{"ids": del}}
		var res rulesResult
		if a, ok := r.xCall(token, http.MethodPost, rulesURL, body, &res); !ok {
			return a
		}
		if err := res.err("deleting", r.src.shownRules()); err != nil {
			return attempt{perm: err}
		}
	}
	if len(add) > 0 {
		body := map[string]any{"add": add}
		var res rulesResult
		if a, ok := r.xCall(token, http.MethodPost, rulesURL, body, &res); !ok {
			return a
		}
		if err := res.err("adding", r.src.shownRules()); err != nil {
			return attempt{perm: err}
		}
	}
	r.log.Info("stream rules in sync", "rules", len(x.rules), "added", len(add), "deleted", len(del))
	return attempt{}
}

// rulesResult is the answer of POST /2/tweets/search/stream/rules.
type rulesResult struct {
	Errors []struct {
		Value   string   `json:"value"`
		ID      string   `json:"id"`
		Title   string   `json:"title"`
		Detail  string   `json:"detail"`
		Details []string `json:"details"`
	} `json:"errors"`
}

// err returns a permanent error for the rules the API refused; a
// duplicate rule is no error.
func (res *rulesResult) err(doing, where string) error {
	var msgs []string
	for _, e := range res.Errors {
		if e.Title == "DuplicateRule" || e.Title == "Duplicate Rule" {
			continue
		}
		what := e.Value
		if what == "" {
			what = "id " + e.ID
		}
		msg := fmt.Sprintf("%q: %s", what, e.Title)
		if len(e.Details) > 0 {
			msg += ": " + strings.Join(e.Details, "; ")
		} else if e.Detail != "" {
			msg += ": " + e.Detail
		}
		msgs = append(msgs, msg)
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("twitter source: %s rules at %s: %w: %s; change rules", doing, where, connector.ErrRejected, strings.Join(msgs, ", "))
}

func (s *Source[T]) shownRules() string {
	u, err := url.Parse(s.o.x.baseURL + xRulesPath)
	if err != nil {
		return s.o.x.baseURL + xRulesPath
	}
	return redactURL(u)
}

// xCall makes one request to the rules endpoint and decodes its JSON
// answer into out. It reports false with the failure.
func (r *reader[T]) xCall(token connector.Secret, method, u string, body, out any) (attempt, bool) {
	ctx, cancel := context.WithTimeout(r.ctx, time.Minute)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return attempt{perm: err}, false
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return attempt{perm: fmt.Errorf("twitter source: %w: rules URL: %v", connector.ErrConfig, err)}, false
	}
	r.src.setHeaders(req, token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.src.client.Do(req)
	if err != nil {
		return attempt{kind: failNetwork, err: unwrapURLError(err)}, false
	}
	defer resp.Body.Close()
	if a, ok := r.src.checkRulesStatus(resp, method); !ok {
		return a, false
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out); err != nil {
		return attempt{kind: failHTTP, err: fmt.Errorf("twitter source: %s %s: bad answer: %v", method, r.src.shownRules(), err)}, false
	}
	return attempt{}, true
}

// checkRulesStatus is checkStatus for the rules endpoint, whose URL it
// names.
func (s *Source[T]) checkRulesStatus(resp *http.Response, method string) (attempt, bool) {
	c := *s
	c.shown = s.shownRules()
	return c.checkStatus(resp, method)
}
