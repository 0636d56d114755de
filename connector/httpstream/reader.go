package httpstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// queueSize bounds the messages read ahead of the job: when the job
// applies backpressure the source stops reading the response.
const queueSize = 1024

// pollBatch bounds the messages one PollNext emits: small, so that a
// checkpoint barrier waits little behind a slow chained operator.
const pollBatch = 64

// errStall is the cause of a connection dropped by the stall detector.
var errStall = errors.New("stalled")

// item is what the connection goroutine hands to PollNext.
type item struct {
	ev     Event
	idOnly bool   // only the last event ID changed
	bad    string // the message cannot be a record
	conn   int    // the connection and the line the message ended at
	line   int
	err    error // the source fails
	end    bool  // the stream ended (EndOnClose)
}

// NewReader implements connector.Source.
func (s *Source[T]) NewReader(ctx connector.ReaderContext) (connector.Reader[T], error) {
	c, cancel := context.WithCancel(ctx.Context())
	log := ctx.Logger()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &reader[T]{src: s, log: log.With("source", s.o.name, "url", s.shown), ctx: c, cancel: cancel,
		q: make(chan item, queueSize), avail: make(chan struct{}, 1)}, nil
}

type reader[T any] struct {
	src    *Source[T]
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	q      chan item
	avail  chan struct{}

	// Owned by the subtask's goroutine.
	sp       *split // the split, once assigned
	noMore   bool
	finished bool // EndOfInput was reached
}

func (r *reader[T]) Start() error { return nil }

func (r *reader[T]) AddSplits(splits []connector.Split) error {
	for _, s := range splits {
		sp, ok := s.(split)
		if !ok {
			return fmt.Errorf("%s source: unexpected split %T", r.src.o.name, s)
		}
		if r.sp != nil {
			continue // one stream per source
		}
		if sp.URL != r.src.shown && sp.LastEventID != "" {
			r.log.Warn("the restored last event ID belongs to another URL; starting without it",
				"restored_url", sp.URL)
			sp.LastEventID = ""
		}
		sp.URL = r.src.shown
		r.sp = &sp
		resumeID := ""
		if r.src.o.resume {
			resumeID = sp.LastEventID
		}
		r.wg.Add(1)
		go r.run(resumeID)
	}
	return nil
}

func (r *reader[T]) NoMoreSplits() {
	r.noMore = true
	r.signal()
}

func (r *reader[T]) Available() <-chan struct{} { return r.avail }

func (r *reader[T]) signal() {
	select {
	case r.avail <- struct{}{}:
	default:
	}
}

func (r *reader[T]) PollNext(out connector.ReaderOutput[T]) (connector.InputStatus, error) {
	if r.finished || (r.sp == nil && r.noMore) {
		return connector.EndOfInput, nil
	}
	for range pollBatch {
		var it item
		select {
		case it = <-r.q:
		default:
			return connector.NothingAvailable, nil
		}
		switch {
		case it.err != nil:
			return 0, it.err
		case it.end:
			r.finished = true
			return connector.EndOfInput, nil
		case it.idOnly:
		case it.bad != "":
			if err := out.Reject(r.badRecord(it, it.bad)); err != nil {
				return 0, err
			}
		case len(r.src.o.events) > 0 && !slices.Contains(r.src.o.events, it.ev.Type):
		default:
			v, err := r.src.decode(it.ev)
			if err != nil {
				if err := out.Reject(r.badRecord(it, err.Error())); err != nil {
					return 0, err
				}
				break
			}
			out.Collect(v)
		}
		r.sp.LastEventID = it.ev.ID
	}
	return connector.MoreAvailable, nil
}

func (r *reader[T]) badRecord(it item, why string) connector.BadRecord {
	raw := it.ev.Data
	if len(raw) > 4096 {
		raw = raw[:4096]
	}
	loc := fmt.Sprintf("%s connection %d line %d", r.src.shown, it.conn, it.line)
	if it.ev.ID != "" {
		loc += " (last event ID " + strconv.Quote(it.ev.ID) + ")"
	}
	return connector.BadRecord{Source: r.src.o.name, Location: loc, Raw: raw, Error: why}
}

// SnapshotState returns the split with the ID of the last event emitted.
func (r *reader[T]) SnapshotState(int64) ([]connector.Split, error) {
	if r.sp == nil {
		return nil, nil
	}
	return []connector.Split{*r.sp}, nil
}

func (r *reader[T]) Close() error {
	r.cancel()
	r.wg.Wait()
	if r.src.o.client == nil {
		r.src.client.CloseIdleConnections()
	}
	return nil
}

// push hands it to PollNext, waiting while the queue is full; it reports
// false when the reader is closing.
func (r *reader[T]) push(it item) bool {
	select {
	case r.q <- it:
	default:
		select {
		case r.q <- it:
		case <-r.ctx.Done():
			return false
		}
	}
	r.signal()
	return true
}

// fail hands a failure to PollNext; the connection goroutine then ends.
func (r *reader[T]) fail(err error) { r.push(item{err: r.src.redactErr(err)}) }

// attempt is the result of one request.
type attempt struct {
	kind    failKind
	err     error     // what failed (nil: the stream ended cleanly)
	perm    error     // a failure no retry can fix
	reset   time.Time // throttled until (429)
	healthy bool      // the stream was established and lived a keep-alive period
	data    bool      // the stream delivered messages
}

// run is the connection goroutine: it connects, reads, and reconnects
// on the schedule of the options until the reader closes, the stream
// ends (EndOnClose) or a failure is permanent or lasts too long.
func (r *reader[T]) run(lastID string) {
	defer r.wg.Done()
	o := &r.src.o
	token, err := r.src.bearer()
	if err != nil {
		r.fail(err)
		return
	}
	bo := backoffState{b: o.backoff}
	var failingSince time.Time
	var sseRetry time.Duration
	conns := 0
	first := true
	retry := func(what, where string, a attempt) bool {
		now := o.now()
		if a.data || a.healthy {
			failingSince = time.Time{}
		}
		if a.healthy {
			bo.reset()
		}
		var d time.Duration
		if !a.healthy {
			d = bo.next(a.kind, a.reset, now)
			if failingSince.IsZero() {
				failingSince = now
			}
			if since := now.Sub(failingSince); since+d > o.retryTimeout {
				r.fail(fmt.Errorf("%s source: %s (%s) failed for %v in a row, giving up (RetryTimeout %v; the job restarts from its last checkpoint under its restart strategy): last error: %w",
					o.name, what, where, since.Round(time.Millisecond), o.retryTimeout, a.err))
				return false
			}
		}
		// The server's SSE retry field, within the longest HTTP backoff.
		d = max(d, min(sseRetry, o.backoff.HTTPMax))
		r.log.Warn(what+" failed; retrying", "at", where, "kind", a.kind.String(), "err", r.src.redact(errString(a.err)), "in", d)
		select {
		case <-o.wait(d):
			return true
		case <-r.ctx.Done():
			return false
		}
	}
	if o.x != nil && o.x.syncRules {
		for {
			a := r.syncRules(token)
			if r.ctx.Err() != nil {
				return
			}
			if a.perm != nil {
				r.fail(a.perm)
				return
			}
			if a.err == nil {
				break
			}
			if !retry("syncing the stream rules", r.src.shownRules(), a) {
				return
			}
		}
		failingSince = time.Time{}
		bo.reset()
	}
	for r.ctx.Err() == nil {
		conns++
		if !first {
			if o.framing == SSE {
				r.log.Info("reconnecting", "connection", conns, "last_event_id", lastID)
			} else {
				r.log.Info("reconnecting", "connection", conns)
			}
		}
		first = false
		a, id, rt := r.connect(token, lastID, conns)
		lastID = id
		if rt > 0 {
			sseRetry = rt
		}
		if r.ctx.Err() != nil {
			return
		}
		if a.perm != nil {
			r.fail(a.perm)
			return
		}
		if a.err == nil && o.endOnClose {
			r.push(item{end: true})
			return
		}
		if a.err == nil {
			a.err = errors.New("the server ended the response")
		}
		if !retry("streaming", r.src.shown, a) {
			return
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// connect makes one request and reads its response until it ends. It
// returns the outcome, the last event ID, and the SSE reconnection time
// the server set (0: none).
func (r *reader[T]) connect(token connector.Secret, lastID string, conn int) (attempt, string, time.Duration) {
	o := &r.src.o
	ctx, cancel := context.WithCancelCause(r.ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.src.url.String(), nil)
	if err != nil {
		return attempt{perm: fmt.Errorf("%s source: %w: %v", o.name, connector.ErrConfig, err)}, lastID, 0
	}
	r.src.setHeaders(req, token)
	if o.framing == SSE {
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Cache-Control", "no-cache")
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
	} else if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/x-ndjson, application/json")
	}
	started := o.now()
	resp, err := r.src.client.Do(req)
	if err != nil {
		return attempt{kind: failNetwork, err: unwrapURLError(err)}, lastID, 0
	}
	defer resp.Body.Close()
	if a, ok := r.src.checkStatus(resp, "GET"); !ok {
		return a, lastID, 0
	}
	stall := o.stallTimeout()
	timer := time.AfterFunc(stall, func() { cancel(errStall) })
	defer timer.Stop()
	body := &activityReader{r: resp.Body, touch: func() { timer.Reset(stall) }}
	lines := newLineReader(body, o.maxMessage)
	var p parser = &ndjsonParser{max: o.maxMessage}
	var sp *sseParser
	if o.framing == SSE {
		sp = &sseParser{max: o.maxMessage, lastID: lastID, sentID: lastID}
		p = sp
	}
	ret := func(a attempt) (attempt, string, time.Duration) {
		a.healthy = body.n > 0 && o.now().Sub(started) >= o.keepAlive
		if sp != nil {
			lastID = sp.lastID
			if sp.retrySet {
				return a, lastID, max(sp.retry, 1)
			}
		}
		return a, lastID, 0
	}
	data := false
	for n := 1; ; n++ {
		line, tooLong, err := lines.next()
		if err != nil {
			if errors.Is(err, io.EOF) && o.framing == NDJSON && len(line) > 0 {
				// The last line of a response that ended cleanly.
				if f := p.line(line, tooLong); f.ok {
					data = true
					if !r.push(r.item(f, conn, n)) {
						return attempt{}, lastID, 0
					}
				}
			}
			a := attempt{kind: failNetwork, data: data}
			switch cause := context.Cause(ctx); {
			case r.ctx.Err() != nil:
			case errors.Is(cause, errStall):
				a.err = fmt.Errorf("no data and no keep-alive for %v (StallTimeout); reconnecting", stall)
			case errors.Is(err, io.EOF):
				// The server ended the response.
			default:
				a.err = fmt.Errorf("reading the response: %w", err)
			}
			return ret(a)
		}
		f := p.line(line, tooLong)
		if !f.ok {
			continue
		}
		if o.x != nil && !tooLong {
			if stop, err := r.xControl(f.Data); stop {
				// At once after a healthy connection; a server that asks
				// again and again is backed off from as from network errors.
				return ret(attempt{kind: failNetwork, data: data, err: err})
			} else if err == errSkip {
				continue
			}
		}
		data = data || !f.idOnly
		it := r.item(f, conn, n)
		select {
		case r.q <- it:
			r.signal()
			continue
		default:
		}
		// The job applies backpressure: waiting is not a stall.
		timer.Stop()
		if !r.push(it) {
			return attempt{}, lastID, 0
		}
		timer.Reset(stall)
	}
}

// item makes the queue item of frame f, read at line n of connection conn.
func (r *reader[T]) item(f frame, conn, n int) item {
	it := item{ev: f.Event, idOnly: f.idOnly, bad: f.bad, conn: conn, line: n}
	it.ev.Data = slices.Clone(f.Data)
	return it
}

// activityReader calls touch whenever bytes arrive.
type activityReader struct {
	r     io.Reader
	touch func()
	n     int64
}

func (a *activityReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.n += int64(n)
		a.touch()
	}
	return n, err
}

// unwrapURLError drops the url.Error's method and URL (which the log
// names anyway).
func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil && strings.HasPrefix(err.Error(), "Get ") {
			return inner
		}
	}
	return err
}

// bearer returns the bearer token: given, or read from the environment.
func (s *Source[T]) bearer() (connector.Secret, error) {
	if s.o.tokenEnv == "" {
		return s.o.token, nil
	}
	v := strings.TrimSpace(os.Getenv(s.o.tokenEnv))
	if v == "" {
		return "", fmt.Errorf("%s source %s: %w: environment variable %s is not set or empty; set it to the bearer token",
			s.o.name, s.shown, connector.ErrConfig, s.o.tokenEnv)
	}
	return connector.Secret(v), nil
}

// setHeaders sets the configured headers and the bearer token.
func (s *Source[T]) setHeaders(req *http.Request, token connector.Secret) {
	for k, vs := range s.o.headers {
		req.Header[k] = slices.Clone(vs)
	}
	for k, v := range s.o.secrets {
		req.Header.Set(k, string(v))
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+string(token))
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "sluice-httpstream")
	}
}

// redact replaces every secret in s by asterisks.
func (s *Source[T]) redact(msg string) string {
	secrets := []string{string(s.o.token)}
	if s.o.tokenEnv != "" {
		secrets = append(secrets, strings.TrimSpace(os.Getenv(s.o.tokenEnv)))
	}
	for _, v := range s.o.secrets {
		secrets = append(secrets, string(v))
	}
	for _, sec := range secrets {
		if len(sec) >= 4 {
			msg = strings.ReplaceAll(msg, sec, "********")
		}
	}
	return msg
}

// redactErr returns err with every secret in its message replaced, the
// classification kept.
func (s *Source[T]) redactErr(err error) error {
	msg := s.redact(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// checkStatus classifies a response that is not 200: a permanent
// failure, throttling, or a failure worth a retry. It reports whether
// the response is a success.
func (s *Source[T]) checkStatus(resp *http.Response, method string) (attempt, bool) {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return attempt{}, true
	}
	detail := errorDetail(resp)
	what := fmt.Sprintf("%s source: %s %s: %s", s.o.name, method, s.shown, resp.Status)
	if detail != "" {
		what += " (" + s.redact(detail) + ")"
	}
	switch code := resp.StatusCode; {
	case code == 429 || code == 420:
		return attempt{kind: failRateLimit, err: errors.New(what), reset: rateLimitReset(resp.Header, s.o.now())}, false
	case code == 408 || code == 425 || code >= 500:
		return attempt{kind: failHTTP, err: errors.New(what)}, false
	case code == 401:
		return attempt{perm: fmt.Errorf("%s: %w: the server refused the credentials; %s", what, connector.ErrRejected, s.credentialHint())}, false
	case code == 403:
		return attempt{perm: fmt.Errorf("%s: %w: access forbidden; check that the credentials may read this stream (%s)", what, connector.ErrRejected, s.credentialHint())}, false
	case code == 404 || code == 410:
		return attempt{perm: fmt.Errorf("%s: %w: no stream at this URL; check url", what, connector.ErrRejected)}, false
	}
	return attempt{perm: fmt.Errorf("%s: %w: the server refused the request; check url, headers and parameters", what, connector.ErrRejected)}, false
}

func (s *Source[T]) credentialHint() string {
	switch {
	case s.o.tokenEnv != "":
		return "check the bearer token in environment variable " + s.o.tokenEnv
	case s.o.token != "":
		return "check the bearer token"
	case len(s.o.secrets) > 0:
		return "check the secret headers"
	}
	return "give credentials (bearer_token_env or headers)"
}

// errorDetail returns the start of an error response's body, on one line.
func errorDetail(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	msg := strings.Join(strings.Fields(string(b)), " ")
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return msg
}

// rateLimitReset returns when throttling ends, from x-rate-limit-reset
// (unix seconds) or Retry-After (seconds or an HTTP date); zero when the
// response names no time.
func rateLimitReset(h http.Header, now time.Time) time.Time {
	if v := h.Get("X-Rate-Limit-Reset"); v != "" {
		if sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && sec > 0 {
			return time.Unix(sec, 0)
		}
	}
	if v := h.Get("Retry-After"); v != "" {
		if sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && sec >= 0 {
			return now.Add(time.Duration(sec) * time.Second)
		}
		if t, err := http.ParseTime(v); err == nil {
			return t
		}
	}
	return time.Time{}
}
