package httpstream

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

func text(e Event) (string, error) { return string(e.Data), nil }

func number(e Event) (int, error) { return strconv.Atoi(string(e.Data)) }

// fast is a reconnection schedule for tests: milliseconds, not seconds.
var fast = ReconnectBackoff(Backoff{NetworkStep: time.Millisecond, NetworkMax: 5 * time.Millisecond,
	HTTPFirst: time.Millisecond, HTTPMax: 5 * time.Millisecond, RateLimitFirst: time.Millisecond, RateLimitMax: 5 * time.Millisecond})

// job is a running job reading src into a collecting sink.
type job[T any] struct {
	out    *sluicetest.Sink[T]
	log    *sluicetest.Buffer
	cancel context.CancelFunc
	done   chan error
}

func start[T any](t *testing.T, src connector.Source[T], opts ...stream.Option) *job[T] {
	t.Helper()
	log := &sluicetest.Buffer{}
	logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env := stream.New("httpstream-test", append([]stream.Option{stream.WithLogger(logger), stream.WithRestart(restart.None())}, opts...)...)
	out := sluicetest.NewSink[T]()
	stream.FromSource(env, "src", src, eventtime.NoWatermarks[T]()).SinkTo("out", out)
	j := startEnv[T](t, env)
	j.out, j.log = out, log
	return j
}

// startEnv starts the job of env.
func startEnv[T any](t *testing.T, env *stream.Env) *job[T] {
	t.Helper()
	j := &job[T]{log: &sluicetest.Buffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	j.cancel = cancel
	jb, err := env.Start(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { j.done <- jb.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-j.done
		if t.Failed() {
			t.Logf("job log:\n%s", j.log.String())
		}
		j.done <- nil
	})
	return j
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func lookup(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

// wait waits for the job to end by itself and returns its error.
func (j *job[T]) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-j.done:
		j.done <- err
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the job did not end within 30s")
		return nil
	}
}

// stop cancels the job and waits for it to end.
func (j *job[T]) stop(t *testing.T) {
	t.Helper()
	j.cancel()
	select {
	case err := <-j.done:
		j.done <- err
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not end within 10s of its cancellation")
	}
}

// eventually polls cond until it holds or 10s passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNDJSONReadsTheStreamAndEnds(t *testing.T) {
	long := strings.Repeat("L", 300<<10)
	msgs := []string{"a", "b", long, "c"}
	srv := newStreamServer(t, NDJSON, msgs, func(s *streamServer) { s.eol = "\r\n" })
	src, err := NewSource(srv.URL, text, EndOnClose())
	if err != nil {
		t.Fatal(err)
	}
	j := start(t, src)
	if err := j.wait(t); err != nil {
		t.Fatal(err)
	}
	if got := j.out.Values(); !slices.Equal(got, msgs) {
		t.Fatalf("got %d records, want %v", len(got), len(msgs))
	}
}

func TestSSEReconnectsWithLastEventID(t *testing.T) {
	srv := newStreamServer(t, SSE, numbered(10), func(s *streamServer) {
		s.perConn, s.keepAlive = 3, 10*time.Millisecond
	})
	src, err := NewSource(srv.URL, number, WithFraming(SSE), fast)
	if err != nil {
		t.Fatal(err)
	}
	j := start(t, src)
	eventually(t, "10 records", func() bool { return j.out.Len() >= 10 })
	j.stop(t)
	if got := j.out.Values(); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("got %v", got)
	}
	if _, ids, _ := srv.seen(); !slices.Equal(ids[:4], []string{"", "2", "5", "8"}) {
		t.Fatalf("Last-Event-ID of the requests: %q, want \"\", 2, 5, 8", ids)
	}
}

func TestStallDetectorReconnects(t *testing.T) {
	var mu sync.Mutex
	requests := 0
	srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		n := requests
		mu.Unlock()
		f := w.(http.Flusher)
		w.WriteHeader(http.StatusOK)
		if n == 1 {
			w.Write([]byte("a\r\n"))
			f.Flush()
			<-r.Context().Done() // silent: no keep-alive
			return
		}
		w.Write([]byte("b\r\n"))
		f.Flush()
		for { // keep-alives, more often than the stall timeout
			select {
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			if _, err := w.Write([]byte("\r\n")); err != nil {
				return
			}
			f.Flush()
		}
	})
	src, err := NewSource(srv.URL, text, KeepAlive(50*time.Millisecond), StallTimeout(150*time.Millisecond), fast)
	if err != nil {
		t.Fatal(err)
	}
	j := start(t, src)
	eventually(t, "both records", func() bool { return j.out.Len() >= 2 })
	// Keep-alives every 10ms keep the second connection: no third request
	// in ten stall timeouts.
	time.Sleep(1500 * time.Millisecond)
	j.stop(t)
	mu.Lock()
	defer mu.Unlock()
	if requests != 2 {
		t.Fatalf("%d requests, want 2 (one reconnect after the stall)", requests)
	}
	if !strings.Contains(j.log.String(), "no data and no keep-alive for 150ms") {
		t.Fatalf("the log does not tell of the stall:\n%s", j.log.String())
	}
}

func newTestServer(t *testing.T, h http.HandlerFunc) *streamServer {
	s := &streamServer{}
	s.Server = httptestServer(t, h)
	return s
}

// clock is a fake clock: waiting advances it at once, and the waits are
// recorded.
type clock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) wait(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func (c *clock) recorded() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

func withClock(c *clock) Option {
	return func(o *options) { o.now, o.wait = c.Now, c.wait }
}

func TestReconnectScheduleOfHTTPErrors(t *testing.T) {
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	srv := newStreamServer(t, NDJSON, []string{"x"}, func(s *streamServer) {
		s.status = []int{503, 500, 429, 502, 429}
		s.header = http.Header{"X-Rate-Limit-Reset": {strconv.FormatInt(c.now.Unix()+90, 10)}}
	})
	src, err := NewSource(srv.URL, text, EndOnClose(), withClock(c))
	if err != nil {
		t.Fatal(err)
	}
	j := start(t, src)
	if err := j.wait(t); err != nil {
		t.Fatal(err)
	}
	if got := j.out.Values(); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("got %v", got)
	}
	// 5s, 10s (HTTP errors), 75s (429: x-rate-limit-reset, 90s after the
	// start, is later than the first minute), 20s (a third HTTP error), 2m
	// (a second 429: the reset has passed on the clock).
	want := []time.Duration{5 * time.Second, 10 * time.Second, 75 * time.Second, 20 * time.Second, 2 * time.Minute}
	if got := c.recorded(); !slices.Equal(got, want) {
		t.Fatalf("waits %v, want %v", got, want)
	}
}

func TestNetworkErrorsBackOffLinearlyAndGiveUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // connection refused from now on
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	src, err := NewSource("http://"+addr+"/stream", text, RetryTimeout(10*time.Second), withClock(c))
	if err != nil {
		t.Fatal(err)
	}
	j := start(t, src, stream.WithRestart(restart.FixedDelay(3, time.Millisecond)))
	err = j.wait(t)
	if err == nil || connector.IsPermanent(err) || !strings.Contains(err.Error(), "giving up") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("the job ended with %v; want a transient error that gives up on %s", err, addr)
	}
	// 250ms, 500ms, ... in every attempt of the job: 0.25+0.5+...+2.25 = 11.25s > 10s.
	got := c.recorded()
	want := []time.Duration{250, 500, 750, 1000, 1250, 1500, 1750, 2000}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Fatalf("waits %v, want %v first", got, want)
	}
}

func TestUnauthorizedEndsTheJobWithoutTheToken(t *testing.T) {
	const token = "s3cr3t-t0ken-value"
	t.Setenv("HS_TEST_TOKEN", token)
	srv := newStreamServer(t, NDJSON, []string{"x"}, func(s *streamServer) {
		s.status = []int{503, 401}
		s.body = `{"title":"Unauthorized","detail":"bearer ` + token + ` refused"}`
	})
	src, err := NewSource(srv.URL+"/stream?api_key="+token, text, BearerTokenEnv("HS_TEST_TOKEN"), fast)
	if err != nil {
		t.Fatal(err)
	}
	j := start(t, src, stream.WithRestart(restart.FixedDelay(100, time.Millisecond)))
	err = j.wait(t)
	if !connector.IsPermanent(err) || !errors.Is(err, connector.ErrRejected) {
		t.Fatalf("the job ended with %v; want a permanent rejection", err)
	}
	msg := err.Error()
	for _, want := range []string{srv.URL + "/stream", "401", "HS_TEST_TOKEN"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not name %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, token) || strings.Contains(j.log.String(), token) {
		t.Fatalf("the token appears in the error or the log:\n%s\n%s", msg, j.log.String())
	}
	requests, _, auth := srv.seen()
	if requests != 2 {
		t.Fatalf("%d requests, want 2: a 401 is not retried", requests)
	}
	if auth[0] != "Bearer "+token {
		t.Fatalf("Authorization %q", auth[0])
	}
}

func TestPermanentStatuses(t *testing.T) {
	for _, code := range []int{403, 404, 400, 410} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			srv := newStreamServer(t, NDJSON, nil, func(s *streamServer) { s.status = []int{code} })
			src, err := NewSource(srv.URL, text, fast)
			if err != nil {
				t.Fatal(err)
			}
			err = start(t, src).wait(t)
			if !connector.IsPermanent(err) || !strings.Contains(err.Error(), srv.URL) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestBadURLAndOptions(t *testing.T) {
	for _, c := range []struct {
		url  string
		opts []Option
	}{
		{"ftp://example.com/x", nil},
		{"example.com/stream", nil},
		{"http://user:pa55word@%zz", nil},
		{"http://example.com", []Option{ResumeFromLastEventID()}},
		{"http://example.com", []Option{Header("Bad Name", "x")}},
		{"http://example.com", []Option{Rules(Rule{Value: "cat"})}},
		{"http://example.com", []Option{HTTPClient(&http.Client{Timeout: time.Second})}},
	} {
		_, err := NewSource(c.url, text, c.opts...)
		if !errors.Is(err, connector.ErrConfig) || strings.Contains(err.Error(), "pa55word") {
			t.Errorf("%s: got %v", c.url, err)
		}
	}
}

func TestStopDuringBackoffStops(t *testing.T) {
	srv := newStreamServer(t, NDJSON, nil, func(s *streamServer) { s.status = []int{503, 503, 503} })
	src, err := NewSource(srv.URL, text, ReconnectBackoff(Backoff{HTTPFirst: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	j := start(t, src)
	eventually(t, "the first request", func() bool { n, _, _ := srv.seen(); return n >= 1 })
	began := time.Now()
	j.stop(t)
	if d := time.Since(began); d > 5*time.Second {
		t.Fatalf("the stop took %v", d)
	}
}

func TestBadRecordFailsWithItsLocation(t *testing.T) {
	srv := newStreamServer(t, NDJSON, []string{"0", "x", "2"}, nil)
	src, err := NewSource(srv.URL, number, EndOnClose())
	if err != nil {
		t.Fatal(err)
	}
	err = start(t, src).wait(t)
	if !errors.Is(err, connector.ErrBadRecord) || !strings.Contains(err.Error(), srv.URL+" connection 1 line 2") {
		t.Fatalf("got %v", err)
	}
}

func TestEventTypes(t *testing.T) {
	srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("event: ping\ndata: p\n\nevent: tick\ndata: 1\n\ndata: 2\n\n"))
	})
	src, err := NewSource(srv.URL, text, WithFraming(SSE), EventTypes("tick", "message"), EndOnClose())
	if err != nil {
		t.Fatal(err)
	}
	j := start(t, src)
	if err := j.wait(t); err != nil {
		t.Fatal(err)
	}
	if got := j.out.Values(); !slices.Equal(got, []string{"1", "2"}) {
		t.Fatalf("got %v", got)
	}
}

func TestRedactURL(t *testing.T) {
	src, err := NewSource("https://bob:pw@example.com/s?access_token=abc&lang=en", text)
	if err != nil {
		t.Fatal(err)
	}
	if src.shown != "https://bob@example.com/s?access_token=********&lang=en" {
		t.Fatalf("shown %q", src.shown)
	}
}

func TestHealthyConnectionIsMadeAgainAtOnce(t *testing.T) {
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	var mu sync.Mutex
	n := 0
	srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		i := n
		mu.Unlock()
		if i > 3 {
			<-r.Context().Done()
			return
		}
		w.Write([]byte(strconv.Itoa(i) + "\n"))
		w.(http.Flusher).Flush()
		if i == 1 {
			c.mu.Lock()
			c.now = c.now.Add(time.Minute) // the first connection lived a minute
			c.mu.Unlock()
		}
	})
	src, err := NewSource(srv.URL, text, withClock(c))
	if err != nil {
		t.Fatal(err)
	}
	j := start(t, src)
	eventually(t, "3 records", func() bool { return j.out.Len() >= 3 })
	j.stop(t)
	// After the healthy first connection at once; the second, which ended
	// at once, counts as a network error.
	if got := c.recorded(); len(got) < 2 || !slices.Equal(got[:2], []time.Duration{0, 250 * time.Millisecond}) {
		t.Fatalf("waits %v, want 0, 250ms first", got)
	}
}

// TestBackpressureIsNoStall: while the job applies backpressure the
// source does not read, and that time does not count as a stall.
func TestBackpressureIsNoStall(t *testing.T) {
	const n = 3000
	srv := newStreamServer(t, NDJSON, numbered(n), func(s *streamServer) { s.keepAlive = 10 * time.Millisecond })
	src, err := NewSource(srv.URL, number, KeepAlive(30*time.Millisecond), StallTimeout(100*time.Millisecond), fast)
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("backpressure", stream.WithRestart(restart.None()), stream.WithLogger(slog.New(slog.DiscardHandler)))
	out := sluicetest.NewSink[int]()
	slow := stream.Map(stream.FromSource(env, "src", src, eventtime.NoWatermarks[int]()), func(v int) int {
		if v == 500 || v == 1500 {
			// The job stops taking records for three stall timeouts, with
			// the source's queue full.
			time.Sleep(300 * time.Millisecond)
		}
		return v
	})
	slow.SinkTo("out", out)
	j := startEnv[int](t, env)
	j.out = out
	eventually(t, "every record", func() bool { return out.Len() >= n })
	j.stop(t)
	if requests, _, _ := srv.seen(); requests != 1 {
		t.Fatalf("%d requests: the source reconnected while it waited on backpressure", requests)
	}
}
