package elasticsearch

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/elasticsearch/estest"
)

// All tests of this package run against estest, the protocol-level
// stand-in of Elasticsearch's _bulk endpoint: no Elasticsearch server can
// be had on the machines the project is tested on.

// wctx is a connector.WriterContext for writers made by hand.
type wctx struct {
	subtask int
	log     *slog.Logger
}

func (c wctx) Subtask() int        { return c.subtask }
func (c wctx) Parallelism() int    { return 1 }
func (c wctx) Checkpointing() bool { return true }
func (c wctx) Logger() *slog.Logger {
	if c.log != nil {
		return c.log
	}
	return slog.New(slog.DiscardHandler)
}

// rejectCtx is a writer context with a dead-letter output.
type rejectCtx struct {
	wctx
	mu  sync.Mutex
	bad []connector.BadRecord
}

func (c *rejectCtx) Reject(b connector.BadRecord) error {
	c.mu.Lock()
	c.bad = append(c.bad, b)
	c.mu.Unlock()
	return nil
}

// doc is the element type of most tests.
type doc struct {
	ID    string `json:"id"`
	N     int64  `json:"n"`
	Value string `json:"value,omitempty"`
}

func docID(d doc) (string, error) { return d.ID, nil }

func newServer(t *testing.T, opts ...estest.Option) *estest.Server {
	t.Helper()
	s := estest.NewServer(opts...)
	t.Cleanup(s.Close)
	return s
}

// fast are options that keep retries quick in tests.
func fast() []Option {
	return []Option{Retries(5, time.Millisecond, 5*time.Millisecond), RequestTimeout(5 * time.Second)}
}

func mustSink[T any](t *testing.T, docFn func(T) ([]byte, error), opts ...Option) *Sink[T] {
	t.Helper()
	s, err := NewSink(docFn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustWriter[T any](t *testing.T, s *Sink[T], ctx connector.WriterContext) connector.Writer[T] {
	t.Helper()
	if ctx == nil {
		ctx = wctx{}
	}
	w, err := s.NewWriter(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// writeAll writes vs and flushes; the first error is returned.
func writeAll[T any](w connector.Writer[T], vs ...T) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, v := range vs {
		if err := w.Write(ctx, v, math.MinInt64); err != nil {
			return err
		}
	}
	return w.Flush(ctx)
}

func docs(n int) []doc {
	out := make([]doc, n)
	for i := range out {
		out[i] = doc{ID: "d" + strconv.Itoa(i), N: int64(i)}
	}
	return out
}

// source returns a stored document decoded.
func source(t *testing.T, s *estest.Server, index, id string) (doc, bool) {
	t.Helper()
	d, ok := s.Get(index, id)
	if !ok {
		return doc{}, false
	}
	var v doc
	if err := json.Unmarshal(d.Source, &v); err != nil {
		t.Fatalf("%s/%s: %v", index, id, err)
	}
	return v, true
}
