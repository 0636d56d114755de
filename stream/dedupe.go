package stream

import (
	"errors"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/state"
)

// Deduplicate drops the records whose id was already seen within horizon
// (processing time since the id was first seen). The records are routed
// by id, so it works at any parallelism: a message queue's redelivered
// messages, read by any subtask of the source, meet the first delivery's
// entry at the same subtask. The ids seen are keyed state, in checkpoints
// and restored with them (at any parallelism), and expire after horizon
// by a processing-time timer each.
//
// It is how sources that redeliver (RabbitMQ, Pub/Sub) become
// exactly-once: with the source acknowledging on checkpoint completion,
// a message redelivered after a failure is either in the restored state
// (its first delivery's effects are in the checkpoint: dropped) or not
// (they are not: processed as new). horizon must exceed the longest time
// from a message's first delivery to its last redelivery: a checkpoint
// interval and timeout, the restart delays, and the broker's redelivery
// delay.
//
// Every record needs an id: a record whose id is empty fails the job
// (permanently, as a retry would meet it again). A source reports
// messages without an id as bad records instead, before this stage.
func Deduplicate[T any](s Stream[T], id func(T) string, horizon time.Duration) Stream[T] {
	ttl := horizon.Milliseconds()
	if ttl < 1 {
		ttl = 1
	}
	return ProcessKeyed(KeyBy(s, id), func() KeyedProcessFunction[string, T, T] {
		var until state.ValueState[int64]
		return KeyedProcessFuncs[string, T, T]{
			OpenFn: func(rt *KeyedRuntime[string]) error {
				var err error
				until, err = ValueState[int64](rt, "dedupe-until")
				return err
			},
			ProcessFn: func(ctx *KeyedContext[string], v T, c Collector[T]) error {
				if ctx.Key() == "" {
					return connector.Permanent(errors.New("deduplication: a record has no id (the source must give every record an id, or report those without one as bad records)"))
				}
				now := ctx.ProcessingTime()
				if u, ok := until.Value(); ok && now < u {
					return nil // a repeat within the horizon
				}
				exp := now + ttl
				until.Update(exp)
				ctx.RegisterProcessingTimeTimer(exp)
				c.Collect(v)
				return nil
			},
			OnTimerFn: func(_ *KeyedContext[string], ts int64, _ Collector[T]) error {
				if u, ok := until.Value(); ok && u <= ts {
					until.Clear()
				}
				return nil
			},
		}
	}).Name("Deduplicate")
}
