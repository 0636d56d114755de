package eventtime

import "time"

// Strategy describes how a stream of T gets its timestamps and watermarks:
// an optional timestamp assigner, a factory of watermark [Generator]s and an
// optional idle timeout. It has the shape of Flink's WatermarkStrategy.
//
// A Strategy is an immutable value: the With methods return a modified copy.
// The zero value has no timestamp assigner and generates no watermarks, like
// [NoWatermarks].
type Strategy[T any] struct {
	newGen func() Generator
	assign func(v T, prevTs int64) int64
	idle   time.Duration
}

// BoundedOutOfOrderness returns a strategy whose generators allow records to
// arrive up to maxOutOfOrderness behind the newest timestamp seen: after a
// maximum timestamp maxTs the watermark is maxTs - maxOutOfOrderness - 1 (in
// milliseconds), as in Flink. It panics if maxOutOfOrderness is negative or
// not a whole number of milliseconds; see [ValidateOutOfOrderness].
func BoundedOutOfOrderness[T any](maxOutOfOrderness time.Duration) Strategy[T] {
	if err := ValidateOutOfOrderness(maxOutOfOrderness); err != nil {
		panic("eventtime: " + err.Error())
	}
	delay := millis(maxOutOfOrderness) + 1
	return Strategy[T]{newGen: func() Generator {
		return &boundedGenerator{maxTs: MinWatermark, delay: delay}
	}}
}

// Monotonic returns a strategy for streams whose timestamps never decrease
// (per split): the watermark trails the newest timestamp by one millisecond.
// It is BoundedOutOfOrderness(0).
func Monotonic[T any]() Strategy[T] { return BoundedOutOfOrderness[T](0) }

// NoWatermarks returns a strategy that generates no watermarks. It equals the
// zero Strategy.
func NoWatermarks[T any]() Strategy[T] { return Strategy[T]{} }

// ForGenerator returns a strategy whose generators are made by newGen, which
// must return a new, non-nil Generator on each call. It panics if newGen is
// nil.
func ForGenerator[T any](newGen func() Generator) Strategy[T] {
	if newGen == nil {
		panic("eventtime: ForGenerator: newGen is nil")
	}
	return Strategy[T]{newGen: newGen}
}

// WithTimestamps returns a copy of s with the timestamp assigner fn. fn gets
// the record and its current timestamp (MinWatermark if it has none, e.g.
// the timestamp a source read from the external system) and returns the
// record's event timestamp in milliseconds. A nil fn removes the assigner.
func (s Strategy[T]) WithTimestamps(fn func(v T, prevTs int64) int64) Strategy[T] {
	s.assign = fn
	return s
}

// WithIdleness returns a copy of s with an idle timeout: a split or subtask
// that sees no record for timeout (in processing time) is marked idle, so it
// no longer holds back the watermark downstream, until its next record. A
// timeout of 0 disables idleness. It panics if timeout is negative or not a
// whole number of milliseconds; see [ValidateIdleTimeout].
func (s Strategy[T]) WithIdleness(timeout time.Duration) Strategy[T] {
	if err := ValidateIdleTimeout(timeout); err != nil {
		panic("eventtime: " + err.Error())
	}
	s.idle = timeout
	return s
}

// NewGenerator returns a new watermark generator. It never returns nil: for a
// strategy without watermarks it returns a generator that always reports
// MinWatermark, so callers may consult [Strategy.HasWatermarks] to skip the
// calls altogether.
func (s Strategy[T]) NewGenerator() Generator {
	if s.newGen == nil {
		return noWatermarks{}
	}
	return s.newGen()
}

// Timestamp returns the event timestamp of v, whose current timestamp is
// prev: the assigner's result, or prev when s has no assigner.
func (s Strategy[T]) Timestamp(v T, prev int64) int64 {
	if s.assign == nil {
		return prev
	}
	return s.assign(v, prev)
}

// HasTimestamps reports whether s has a timestamp assigner.
func (s Strategy[T]) HasTimestamps() bool { return s.assign != nil }

// HasWatermarks reports whether s generates watermarks.
func (s Strategy[T]) HasWatermarks() bool { return s.newGen != nil }

// IdleTimeout returns the idle timeout, 0 when idleness is disabled. Pass it
// to [NewIdlenessTracker].
func (s Strategy[T]) IdleTimeout() time.Duration { return s.idle }
