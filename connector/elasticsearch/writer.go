package elasticsearch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/sluicehq/sluice/connector"
)

// rejecter is a writer context that can take documents the target refused
// for good (a sink-side dead-letter output). The runtime does not offer
// one yet; a context that does gets the refused documents instead of
// failing the job.
type rejecter interface {
	Reject(bad connector.BadRecord) error
}

// writer is one sink subtask's writer. Its actions go to lanes by
// document id; a lane has at most one bulk request in flight and sends
// the actions of its failed items again before anything queued after
// them, so the writes of one id keep their order. All state belongs to
// the subtask's goroutine; request goroutines only send and parse, and
// hand their replies back over a channel.
type writer[T any] struct {
	s      *Sink[T]
	cfg    *config
	client *elasticsearch.Client
	log    *slog.Logger
	reject func(connector.BadRecord) error // nil: refused documents fail the job

	lanes   []*lane
	next    int   // lane of the next action without id
	held    int64 // bytes of the actions held: queued, in flight, to retry
	running int   // requests in flight
	replies chan *reply
	ctx     context.Context // of the requests; cancelled by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	err     error // the first failure: every later call returns it
	rnd     *rand.Rand
	now     func() time.Time
}

type lane struct {
	queue     []*action
	bytes     int
	since     time.Time // when the oldest queued action was queued
	busy      bool
	notBefore time.Time // backoff after a failure
	failures  int       // consecutive failed requests or requests with retried items
}

// reply is the outcome of one bulk request.
type reply struct {
	lane  int
	batch []*action
	items []itemResult // nil when the request failed whole
	err   error        // the whole request's failure
	fatal bool         // err will not go away with a retry
}

func newWriter[T any](s *Sink[T], cl *elasticsearch.Client, wctx connector.WriterContext) *writer[T] {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writer[T]{s: s, cfg: &s.cfg, client: cl, log: wctx.Logger(),
		replies: make(chan *reply, s.cfg.concurrency), ctx: ctx, cancel: cancel,
		rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(wctx.Subtask()))), now: time.Now}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if r, ok := wctx.(rejecter); ok {
		w.reject = r.Reject
	}
	for range s.cfg.concurrency {
		w.lanes = append(w.lanes, &lane{})
	}
	return w
}

// Write implements connector.Writer: the element's action joins its
// lane's queue, once the writer holds fewer than MaxInflightBytes.
func (w *writer[T]) Write(ctx context.Context, v T, ts int64) error {
	if w.err != nil {
		return w.err
	}
	w.collect()
	a, err := w.s.build(v, ts)
	if err != nil {
		return w.refuse(a, nil, fmt.Errorf("%s: element cannot be written: %w: %w", w.cfg.name, connector.ErrBadRecord, err))
	}
	size := int64(a.size())
	for w.err == nil && w.held > 0 && w.held+size > w.cfg.maxInflight {
		if err := w.waitOne(ctx); err != nil {
			return err
		}
	}
	if w.err != nil {
		return w.err
	}
	i := w.laneOf(a)
	l := w.lanes[i]
	if len(l.queue) == 0 {
		l.since = w.now()
	}
	l.queue = append(l.queue, a)
	l.bytes += a.size()
	w.held += size
	w.pump(false)
	return w.err
}

// Flush implements connector.Writer: it returns once every action
// written before was answered as written (retries included), or with the
// first failure.
func (w *writer[T]) Flush(ctx context.Context) error {
	for w.err == nil {
		w.pump(true)
		if w.running == 0 && w.held == 0 {
			return nil
		}
		if err := w.waitOne(ctx); err != nil {
			return err
		}
	}
	return w.err
}

// Close implements connector.Writer: it abandons what is not written and
// waits for the request goroutines to end.
func (w *writer[T]) Close() error {
	w.cancel()
	w.wg.Wait()
	if tr, ok := w.s.transport.(interface{ CloseIdleConnections() }); ok && w.s.cfg.transport == nil {
		tr.CloseIdleConnections()
	}
	return nil
}

func (w *writer[T]) laneOf(a *action) int {
	n := len(w.lanes)
	if n == 1 {
		return 0
	}
	if a.id == "" {
		w.next = (w.next + 1) % n
		return w.next
	}
	h := fnv.New32a()
	_, _ = io.WriteString(h, a.index)
	_, _ = h.Write([]byte{0})
	_, _ = io.WriteString(h, a.id)
	return int(h.Sum32() % uint32(n))
}

// collect handles the replies that are there, without waiting.
func (w *writer[T]) collect() {
	for {
		select {
		case r := <-w.replies:
			w.handle(r)
		default:
			return
		}
	}
}

// waitOne sends what can be sent and waits for one reply, or for the end
// of the nearest backoff when no request is in flight.
func (w *writer[T]) waitOne(ctx context.Context) error {
	w.pump(true)
	if w.err != nil {
		return w.err
	}
	if w.running > 0 {
		select {
		case r := <-w.replies:
			w.handle(r)
			return w.err
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", w.cfg.name, ctx.Err())
		}
	}
	var wake time.Time
	for _, l := range w.lanes {
		if len(l.queue) > 0 && (wake.IsZero() || l.notBefore.Before(wake)) {
			wake = l.notBefore
		}
	}
	if wake.IsZero() {
		return nil
	}
	t := time.NewTimer(max(wake.Sub(w.now()), 0))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", w.cfg.name, ctx.Err())
	}
}

// pump sends a batch on every idle lane that has one due: all queued
// actions when force, else a full batch, a batch older than
// FlushInterval, or actions to retry.
func (w *writer[T]) pump(force bool) {
	now := w.now()
	for i, l := range w.lanes {
		if l.busy || len(l.queue) == 0 || now.Before(l.notBefore) {
			continue
		}
		due := force || l.failures > 0 || l.bytes >= w.cfg.batchBytes || len(l.queue) >= w.cfg.batchActions ||
			now.Sub(l.since) >= w.cfg.flushInterval
		if due {
			w.dispatch(i)
		}
	}
}

// dispatch sends the first batch of lane i. A batch holds at most one
// action per document id that is not versioned: if an earlier action of
// an id failed with a retryable status and a later one in the same
// request succeeded, the retry would overwrite the later write. A later
// index or delete of an id whose index or delete is already in the batch
// replaces it instead (only the last write of an id is visible in the
// end); any other repeat of an id ends the batch. Versioned actions need
// neither: Elasticsearch keeps the highest version whatever the order.
func (w *writer[T]) dispatch(i int) {
	l := w.lanes[i]
	var batch []*action
	var seen map[string]int
	size, taken := 0, 0
	for _, a := range l.queue {
		if len(batch) >= w.cfg.batchActions || (len(batch) > 0 && size+a.size() > w.cfg.batchBytes) {
			break
		}
		if a.id != "" && !a.versioned {
			if seen == nil {
				seen = map[string]int{}
			}
			key := a.index + "\x00" + a.id
			if j, dup := seen[key]; dup {
				prev := batch[j]
				if !overwrites(prev.op) || !overwrites(a.op) {
					break
				}
				// prev is superseded: it counts as written.
				size -= prev.size()
				w.held -= int64(prev.size())
				l.bytes -= prev.size()
				batch[j] = a
				size += a.size()
				taken++
				continue
			}
			seen[key] = len(batch)
		}
		batch = append(batch, a)
		size += a.size()
		taken++
	}
	l.queue = l.queue[taken:]
	l.bytes -= size
	l.since = w.now()
	body := make([]byte, 0, size)
	for _, a := range batch {
		body = append(append(body, a.meta...), a.body...)
	}
	l.busy = true
	w.running++
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.replies <- w.send(i, batch, body)
	}()
}

// overwrites reports whether an action's effect replaces whatever an
// earlier action of the same id did.
func overwrites(op Op) bool { return op == OpIndex || op == OpDelete }

// send makes one bulk request (in its own goroutine).
func (w *writer[T]) send(lane int, batch []*action, body []byte) *reply {
	r := &reply{lane: lane, batch: batch}
	ctx, cancel := context.WithTimeout(w.ctx, w.cfg.requestTimeout)
	defer cancel()
	res, err := esapi.BulkRequest{Body: bytes.NewReader(body)}.Do(ctx, w.client)
	if err != nil {
		switch {
		case isProductError(err):
			r.err, r.fatal = fmt.Errorf("%s: %s did not identify itself as Elasticsearch (no X-Elastic-Product: Elasticsearch header), and the official client refuses such a server: "+
				"OpenSearch and other look-alikes cannot be used with this sink: %w", w.cfg.name, w.where(), connector.ErrRejected), true
		case isCertError(err):
			r.err, r.fatal = fmt.Errorf("%s: %s: the server's certificate is not trusted (%v): give the CA certificate that signed it (ca_file): %w",
				w.cfg.name, w.where(), err, connector.ErrRejected), true
		case w.ctx.Err() != nil:
			r.err = fmt.Errorf("%s: writer closed: %w", w.cfg.name, w.ctx.Err())
		default:
			r.err = fmt.Errorf("%s: bulk request to %s: %w", w.cfg.name, w.where(), err)
		}
		return r
	}
	defer res.Body.Close()
	resBody, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		r.err = fmt.Errorf("%s: reading the bulk response of %s: %w", w.cfg.name, w.where(), err)
		return r
	}
	if res.StatusCode != http.StatusOK {
		r.err, r.fatal = w.statusError(res.StatusCode, resBody)
		return r
	}
	ops := make([]Op, len(batch))
	for i, a := range batch {
		ops[i] = a.op
	}
	if r.items, err = parseBulkResponse(resBody, ops); err != nil {
		// The outcome of the actions is not known: sending them again is
		// safe (at-least-once; with ids, an overwrite).
		r.err = fmt.Errorf("%s: %s: %w", w.cfg.name, w.where(), err)
	}
	return r
}

// isCertError reports a failed verification of the server's certificate.
func isCertError(err error) bool {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &host) || errors.As(err, &verify)
}

func (w *writer[T]) where() string {
	u := make([]string, len(w.cfg.urls))
	for i, s := range w.cfg.urls {
		u[i] = redact(s)
	}
	return strings.Join(u, ",")
}

// statusError is the error of a bulk request answered with status, and
// whether a retry cannot help.
func (w *writer[T]) statusError(status int, body []byte) (error, bool) {
	msg := requestError(body)
	base := fmt.Sprintf("%s: bulk request to %s refused with status %d: %s", w.cfg.name, w.where(), status, msg)
	switch {
	case status == http.StatusUnauthorized:
		return fmt.Errorf("%s: authentication refused: check the credentials (username/password, api_key or bearer_token): %w", base, connector.ErrRejected), true
	case status == http.StatusForbidden:
		return fmt.Errorf("%s: not allowed: grant the user the privilege to write to the indices (index, create_doc or write): %w", base, connector.ErrRejected), true
	case status == http.StatusRequestEntityTooLarge:
		return fmt.Errorf("%s: the request is larger than the cluster takes (http.max_content_length): lower batch_bytes: %w", base, connector.ErrRejected), true
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500:
		return errors.New(base), false
	case status == http.StatusNotFound:
		return fmt.Errorf("%s: no _bulk endpoint there: check the URLs: %w", base, connector.ErrRejected), true
	}
	return fmt.Errorf("%s: %w", base, connector.ErrRejected), true
}

// handle applies a reply: written actions are let go, transient failures
// queued again in front of their lane after a backoff, refused ones
// rejected or the writer failed.
func (w *writer[T]) handle(r *reply) {
	w.running--
	l := w.lanes[r.lane]
	l.busy = false
	var again []*action
	var lastErr string
	if r.err != nil {
		if r.fatal {
			w.fail(r.err)
			return
		}
		again, lastErr = r.batch, r.err.Error()
	} else {
		for i, a := range r.batch {
			it := r.items[i]
			switch judge(a, it) {
			case written:
				w.held -= int64(a.size())
			case retry:
				again = append(again, a)
				lastErr = fmt.Sprintf("index %q, document id %q: status %d %s: %s", a.index, a.id, it.Status, it.Type, it.Reason)
			case refused:
				rej := &RejectedError{Sink: w.cfg.name, Index: a.index, ID: a.id, Op: a.op, Status: it.Status, Type: it.Type, Reason: it.Reason, Cause: it.Cause}
				if err := w.refuse(a, rej, rej); err != nil {
					return
				}
			}
		}
	}
	if len(again) == 0 {
		l.failures = 0
		return
	}
	for _, a := range again {
		a.attempts++
		if a.attempts > w.cfg.maxRetries {
			w.fail(fmt.Errorf("%s: %d actions still failing after %d retries (last: %s): %w; the job restarts from its latest checkpoint",
				w.cfg.name, len(again), w.cfg.maxRetries, lastErr, errRetriesExhausted))
			return
		}
	}
	l.failures++
	l.notBefore = w.now().Add(w.backoff(l.failures))
	size := 0
	for _, a := range again {
		size += a.size()
	}
	l.queue = append(again[:len(again):len(again)], l.queue...)
	l.bytes += size
	if l.failures == 1 || l.failures%4 == 0 {
		w.log.Warn(w.cfg.name+": retrying", "actions", len(again), "attempt", l.failures, "backoff", l.notBefore.Sub(w.now()).Round(time.Millisecond), "last", lastErr)
	}
}

// refuse handles an action that cannot be written: to the context's
// dead-letter output when it has one, else the writer fails with err.
// rej is the target's refusal (nil when the element could not be made
// into an action).
func (w *writer[T]) refuse(a *action, rej *RejectedError, err error) error {
	if a != nil && rej != nil {
		w.held -= int64(a.size())
	}
	if w.reject != nil && (rej == nil || !errors.Is(rej, connector.ErrRejected)) {
		bad := connector.BadRecord{Source: w.cfg.name, Error: err.Error()}
		if a != nil {
			bad.Location = a.index + "/_doc/" + a.id
			if a.body != nil {
				bad.Raw = a.body[:len(a.body)-1]
			}
		}
		if rerr := w.reject(bad); rerr == nil {
			return nil
		} else {
			err = rerr
		}
	}
	w.fail(err)
	return err
}

func (w *writer[T]) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// backoff is the wait after the n-th consecutive failure: base doubled
// per failure up to the limit, with up to 50% jitter.
func (w *writer[T]) backoff(n int) time.Duration {
	d := w.cfg.backoff
	for i := 1; i < n && d < w.cfg.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.cfg.maxBackoff)
	if d <= 0 {
		return 0
	}
	return d/2 + time.Duration(w.rnd.Int64N(int64(d/2)+1))
}
