package redis

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/sluicehq/sluice/connector"
)

// writer is the at-least-once writer: commands go into a pipeline, sent
// when BatchSize commands are buffered and on every Flush (checkpoint
// barrier, end of input), which returns once every reply is in.
type writer[T any] struct {
	s     *Sink[T]
	cl    redis.UniversalClient
	pipe  redis.Pipeliner
	queue [][]string // the commands in pipe, for error messages
}

func newWriter[T any](s *Sink[T], _ connector.WriterContext) (*writer[T], error) {
	cl := s.spec.new()
	return &writer[T]{s: s, cl: cl, pipe: cl.Pipeline()}, nil
}

func (w *writer[T]) Write(ctx context.Context, v T, _ int64) error {
	cmds, err := w.s.commands(v)
	if err != nil {
		return err
	}
	for _, c := range cmds {
		w.pipe.Do(ctx, anyArgs(c)...)
		w.queue = append(w.queue, c)
	}
	if len(w.queue) >= w.s.cfg.batch {
		return w.send(ctx)
	}
	return nil
}

// send sends the pipeline and checks every reply. go-redis retries a
// pipeline that fails on the network (MaxRetries, 3 by default); what
// still fails is returned, transient or permanent (classify), and the
// job restarts from its checkpoint.
func (w *writer[T]) send(ctx context.Context) error {
	if len(w.queue) == 0 {
		return nil
	}
	cmds, err := w.pipe.Exec(ctx)
	queue := w.queue
	w.queue = w.queue[:0]
	if err == nil {
		return nil
	}
	for i, c := range cmds {
		if cerr := c.Err(); cerr != nil && cerr != redis.Nil {
			var cmd []string
			if i < len(queue) {
				cmd = queue[i]
			}
			return classify(cerr, cmd, w.s.spec.where)
		}
	}
	return classify(err, nil, w.s.spec.where)
}

func (w *writer[T]) Flush(ctx context.Context) error { return w.send(ctx) }

func (w *writer[T]) Close() error {
	w.pipe.Discard()
	return w.cl.Close()
}
