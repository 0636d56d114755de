package rabbitmq

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"sync"

	samqp "github.com/rabbitmq/rabbitmq-stream-go-client/pkg/amqp"
	rstream "github.com/rabbitmq/rabbitmq-stream-go-client/pkg/stream"

	"github.com/sluicehq/sluice/connector"
)

// EnvStreamURL is the environment variable with the default stream URL.
const EnvStreamURL = "RABBITMQ_STREAM_URL"

// StreamOption configures a StreamSource.
type StreamOption func(*streamConfig)

type streamConfig struct {
	url     string
	streams []string
	first   bool
	buffer  int
}

// StreamURL sets the broker's stream-protocol URL,
// rabbitmq-stream://user:password@host:5552/vhost (default: the
// environment variable RABBITMQ_STREAM_URL, else
// rabbitmq-stream://localhost:5552/, with RABBITMQ_USERNAME and
// RABBITMQ_PASSWORD when the URL has no credentials). The password is
// never logged nor shown in an error.
func StreamURL(u string) StreamOption { return func(c *streamConfig) { c.url = u } }

// Streams names the streams to read (required). Each stream is a split:
// at most one reader per stream works.
func Streams(names ...string) StreamOption {
	return func(c *streamConfig) { c.streams = append(c.streams, names...) }
}

// StartAtNext starts a stream that the job has no offset for at the next
// message published, instead of its first message (the default).
func StartAtNext() StreamOption { return func(c *streamConfig) { c.first = false } }

// StreamSource reads RabbitMQ streams (queues of type stream) over the
// stream protocol. Each stream is a split whose state is the offset of
// the next message, so the source is exactly-once with checkpoints at any
// parallelism without ids, and acknowledges nothing. A job restores each
// stream at its offset; a failure of a consumer (a lost connection, a
// deleted stream) fails the reader, and the job restarts from its
// checkpoint.
type StreamSource[T any] struct {
	cfg streamConfig
	de  Deserializer[T]
}

var _ connector.Source[string] = (*StreamSource[string])(nil)

// NewStreamSource returns a source of the streams that Streams names, their
// messages turned into records by de (Message.Queue is the stream,
// Message.Offset the message's offset).
func NewStreamSource[T any](de Deserializer[T], opts ...StreamOption) (*StreamSource[T], error) {
	cfg := streamConfig{first: true, buffer: 1024}
	for _, o := range opts {
		o(&cfg)
	}
	var errs []error
	if de == nil {
		errs = append(errs, errors.New("no deserializer"))
	}
	if len(cfg.streams) == 0 {
		errs = append(errs, errors.New("no stream: give Streams(names...)"))
	}
	seen := map[string]bool{}
	for _, s := range cfg.streams {
		if s == "" || seen[s] {
			errs = append(errs, fmt.Errorf("stream %q named twice or empty", s))
		}
		seen[s] = true
	}
	if _, err := resolveStreamURL(cfg.url); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("rabbitmq stream source: %w: %w", connector.ErrConfig, err)
	}
	return &StreamSource[T]{cfg: cfg, de: de}, nil
}

// resolveStreamURL returns the stream URL to use.
func resolveStreamURL(given string) (string, error) {
	raw := given
	if raw == "" {
		raw = os.Getenv(EnvStreamURL)
	}
	if raw == "" {
		raw = "rabbitmq-stream://localhost:5552/"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "rabbitmq-stream" && u.Scheme != "rabbitmq-stream+tls") || u.Host == "" {
		return "", fmt.Errorf("rabbitmq: stream URL %s is not a stream URL; use rabbitmq-stream://user:password@host:5552/vhost: %w",
			redact(raw), connector.ErrConfig)
	}
	if u.User == nil {
		if user := os.Getenv(EnvUsername); user != "" {
			u.User = url.UserPassword(user, os.Getenv(EnvPassword))
		} else {
			u.User = url.UserPassword("guest", "guest")
		}
	}
	return u.String(), nil
}

// Bounded implements connector.Source.
func (s *StreamSource[T]) Bounded() bool { return false }

// Declare implements connector.Declarer.
func (s *StreamSource[T]) Declare(checkpointing bool) connector.Declaration {
	switch {
	case checkpointing:
		return connector.Declaration{Guarantee: connector.ExactlyOnce,
			Reason: "RabbitMQ stream offsets are checkpoint state; nothing is acknowledged"}
	case s.cfg.first:
		return connector.Declaration{Guarantee: connector.AtLeastOnce,
			Reason: "no checkpoints: a restart reads every stream again from its first message"}
	}
	return connector.Declaration{Guarantee: connector.AtMostOnce,
		Reason: "no checkpoints: a restart starts at the next message published"}
}

// SplitCodec implements connector.Source.
func (s *StreamSource[T]) SplitCodec() connector.SplitCodec { return streamCodec{} }

// NewEnumerator implements connector.Source: the streams not assigned yet
// are its state; reader r gets the streams whose index in Streams is r
// modulo the parallelism.
func (s *StreamSource[T]) NewEnumerator(ctx connector.EnumeratorContext, restored []byte) (connector.Enumerator, error) {
	e := &streamEnum{ctx: ctx, order: s.cfg.streams}
	if restored == nil {
		for _, name := range s.cfg.streams {
			e.pending = append(e.pending, &streamSplit{Stream: name, Next: -1})
		}
		return e, nil
	}
	if len(restored) == 0 || restored[0] != 1 {
		return nil, fmt.Errorf("rabbitmq stream source: corrupt enumerator state (version)")
	}
	for b := restored[1:]; len(b) > 0; {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, fmt.Errorf("rabbitmq stream source: corrupt enumerator state")
		}
		sp, err := decodeStreamSplit(b[k : k+int(n)])
		if err != nil {
			return nil, err
		}
		e.pending = append(e.pending, sp)
		b = b[k+int(n):]
	}
	return e, nil
}

// streamSplit is a stream and the offset of its next message (-1: none
// read yet).
type streamSplit struct {
	Stream string
	Next   int64
}

func (s *streamSplit) SplitID() string { return s.Stream }

type streamCodec struct{}

func (streamCodec) Encode(s connector.Split) ([]byte, error) {
	sp, ok := s.(*streamSplit)
	if !ok {
		return nil, fmt.Errorf("rabbitmq: not a stream split: %T", s)
	}
	return encodeStreamSplit(sp), nil
}

func (streamCodec) Decode(b []byte) (connector.Split, error) { return decodeStreamSplit(b) }

func encodeStreamSplit(sp *streamSplit) []byte {
	b := []byte{1}
	b = binary.AppendVarint(b, sp.Next)
	return append(b, sp.Stream...)
}

// decodeStreamSplit never panics on bad input.
func decodeStreamSplit(b []byte) (*streamSplit, error) {
	if len(b) < 2 || b[0] != 1 {
		return nil, fmt.Errorf("rabbitmq: corrupt stream split")
	}
	next, k := binary.Varint(b[1:])
	if k <= 0 || next < -1 || len(b) == 1+k {
		return nil, fmt.Errorf("rabbitmq: corrupt stream split")
	}
	return &streamSplit{Stream: string(b[1+k:]), Next: next}, nil
}

type streamEnum struct {
	ctx     connector.EnumeratorContext
	order   []string
	pending []*streamSplit
}

func (e *streamEnum) AddReader(subtask int) error {
	par := e.ctx.Parallelism()
	var mine []connector.Split
	e.pending = slices.DeleteFunc(e.pending, func(sp *streamSplit) bool {
		i := slices.Index(e.order, sp.Stream)
		if i < 0 || i%par == subtask {
			mine = append(mine, sp)
			return true
		}
		return false
	})
	if len(mine) > 0 {
		e.ctx.Assign(subtask, mine...)
	}
	return nil
}

func (e *streamEnum) HandleSplitRequest(int) error { return nil }

// Snapshot returns the streams not assigned yet: a version byte (1), then
// each split's encoding with its length (never empty, so that a restore
// with every stream assigned is told from a fresh start).
func (e *streamEnum) Snapshot(int64) ([]byte, error) {
	b := []byte{1}
	for _, sp := range e.pending {
		enc := encodeStreamSplit(sp)
		b = binary.AppendUvarint(b, uint64(len(enc)))
		b = append(b, enc...)
	}
	return b, nil
}

func (e *streamEnum) Close() error { return nil }

// NewReader implements connector.Source.
func (s *StreamSource[T]) NewReader(ctx connector.ReaderContext) (connector.Reader[T], error) {
	log := ctx.Logger()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &streamReader[T]{src: s, rctx: ctx, log: log.With("connector", "rabbitmq-stream", "subtask", ctx.Subtask()),
		splits: map[string]*streamSplit{}, buf: make(chan streamMsg, s.cfg.buffer), avail: make(chan struct{}, 1)}, nil
}

type streamMsg struct {
	stream string
	offset int64
	m      *samqp.Message
}

type streamReader[T any] struct {
	src    *StreamSource[T]
	rctx   connector.ReaderContext
	log    *slog.Logger
	splits map[string]*streamSplit
	buf    chan streamMsg
	avail  chan struct{}

	ctx     context.Context
	cancel  context.CancelFunc
	env     *rstream.Environment
	mu      sync.Mutex
	err     error
	cons    []*rstream.Consumer
	started bool
	wg      sync.WaitGroup
}

func (r *streamReader[T]) Start() error {
	r.ctx, r.cancel = context.WithCancel(r.rctx.Context())
	raw, err := resolveStreamURL(r.src.cfg.url)
	if err != nil {
		return err
	}
	env, err := rstream.NewEnvironment(rstream.NewEnvironmentOptions().SetUri(raw))
	if err != nil {
		return classifyStream(fmt.Errorf("rabbitmq stream source: connect to %s: %w", redact(raw), scrub(err, raw)), "")
	}
	r.env = env
	r.started = true
	for _, sp := range r.splits {
		if err := r.subscribe(sp); err != nil {
			return err
		}
	}
	return nil
}

// classifyStream marks the stream client's errors that a retry cannot fix.
func classifyStream(err error, what string) error {
	switch {
	case errors.Is(err, rstream.StreamDoesNotExist):
		return fmt.Errorf("%w: %w (create the stream first, or correct its name%s)", err, connector.ErrRejected, forWhat(what))
	case errors.Is(err, rstream.AuthenticationFailure), errors.Is(err, rstream.AuthenticationFailureLoopbackError),
		errors.Is(err, rstream.VirtualHostAccessFailure), errors.Is(err, rstream.CodeAccessRefused):
		return fmt.Errorf("%w: %w (check the user and password of the URL, or %s and %s, and the user's permissions)",
			err, connector.ErrRejected, EnvUsername, EnvPassword)
	}
	return err
}

func (r *streamReader[T]) subscribe(sp *streamSplit) error {
	spec := rstream.OffsetSpecification{}.First()
	switch {
	case sp.Next >= 0:
		spec = rstream.OffsetSpecification{}.Offset(sp.Next)
	case !r.src.cfg.first:
		spec = rstream.OffsetSpecification{}.Next()
	}
	name := sp.Stream
	ctx := r.ctx
	handler := func(cc rstream.ConsumerContext, m *samqp.Message) {
		select {
		case r.buf <- streamMsg{stream: name, offset: cc.Consumer.GetOffset(), m: m}:
			r.wake()
		case <-ctx.Done():
		}
	}
	c, err := r.env.NewConsumer(name, handler, rstream.NewConsumerOptions().SetOffset(spec).SetManualCommit().
		SetClientProvidedName(fmt.Sprintf("sluice source %s/%d", name, r.rctx.Subtask())))
	if err != nil {
		return classifyStream(fmt.Errorf("rabbitmq stream source: consume stream %q: %w", name, err), "stream "+name)
	}
	r.mu.Lock()
	r.cons = append(r.cons, c)
	r.mu.Unlock()
	closed := c.NotifyClose()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		select {
		case ev := <-closed:
			if ctx.Err() == nil {
				err := fmt.Errorf("rabbitmq stream source: stream %q: the consumer was closed: %s", name, ev.Reason)
				if ev.Err != nil {
					err = fmt.Errorf("%w: %w", err, ev.Err)
				}
				r.fail(classifyStream(err, "stream "+name))
			}
		case <-ctx.Done():
		}
	}()
	return nil
}

func (r *streamReader[T]) wake() {
	select {
	case r.avail <- struct{}{}:
	default:
	}
}

func (r *streamReader[T]) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
	r.wake()
}

func (r *streamReader[T]) PollNext(out connector.ReaderOutput[T]) (connector.InputStatus, error) {
	for range maxPoll {
		var sm streamMsg
		select {
		case sm = <-r.buf:
		default:
			r.mu.Lock()
			err := r.err
			r.mu.Unlock()
			if err != nil {
				return 0, err
			}
			return connector.NothingAvailable, nil
		}
		sp := r.splits[sm.stream]
		if sp == nil || sm.offset < sp.Next {
			continue // before the restored offset (chunks start earlier)
		}
		m := streamMessage(sm)
		v, err := r.src.de(&m)
		sp.Next = sm.offset + 1
		if err != nil {
			if err := out.Reject(connector.BadRecord{Source: "rabbitmq-stream", Location: fmt.Sprintf("stream %s, offset %d", sm.stream, sm.offset),
				Raw: truncate(m.Body), Error: err.Error()}); err != nil {
				return 0, err
			}
			continue
		}
		so := out.Split(sp.Stream)
		if !m.Timestamp.IsZero() {
			so.CollectAt(v, m.Timestamp.UnixMilli())
		} else {
			so.Collect(v)
		}
	}
	return connector.MoreAvailable, nil
}

// streamMessage returns the Message of a stream message.
func streamMessage(sm streamMsg) Message {
	m := Message{Queue: sm.stream, Offset: sm.offset, Body: sm.m.GetData()}
	if p := sm.m.Properties; p != nil {
		m.MessageID, m.CorrelationID = idString(p.MessageID), idString(p.CorrelationID)
		m.ContentType, m.Timestamp = p.ContentType, p.CreationTime
	}
	if len(sm.m.ApplicationProperties) > 0 {
		m.Headers = sm.m.ApplicationProperties
	}
	return m
}

func idString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

func (r *streamReader[T]) Available() <-chan struct{} { return r.avail }

func (r *streamReader[T]) AddSplits(splits []connector.Split) error {
	for _, s := range splits {
		sp, ok := s.(*streamSplit)
		if !ok {
			return fmt.Errorf("rabbitmq stream source: not a stream split: %T", s)
		}
		cp := *sp
		r.splits[sp.Stream] = &cp
		if r.started {
			if err := r.subscribe(&cp); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *streamReader[T]) NoMoreSplits() {}

func (r *streamReader[T]) SnapshotState(int64) ([]connector.Split, error) {
	out := make([]connector.Split, 0, len(r.splits))
	for _, sp := range r.splits {
		cp := *sp
		out = append(out, &cp)
	}
	return out, nil
}

func (r *streamReader[T]) Close() error {
	if r.cancel != nil {
		r.cancel()
	}
	r.mu.Lock()
	cons := r.cons
	r.cons = nil
	r.mu.Unlock()
	for _, c := range cons {
		_ = c.Close()
	}
	if r.env != nil {
		_ = r.env.Close()
	}
	r.wg.Wait()
	return nil
}
