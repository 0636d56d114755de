package sluicetest

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/stream"
)

// ErrInjected is the error Failer.Check returns at a failure point.
var ErrInjected = errors.New("sluicetest: injected failure")

// Failer injects failures into a job to test its recovery. Check counts
// records over all attempts and subtasks of the job and fails once at each
// of the Failer's failure points (the first record is 1), so a job with
// unlimited restarts gets past every point and ends. It also pauses now and
// then (Pause), so that checkpoints complete between failures even over a
// fast in-memory source. A Failer with no failure points only slows the job
// down and counts its records.
//
//	f := sluicetest.RandomFailer(rand.New(rand.NewPCG(1, 2)), 5, n)
//	s = sluicetest.InjectFailures(s, f)
//	...
//	sluicetest.Run(t, env) // with restarts: stream.WithRestart(...)
//	t.Logf("%d failures", f.Failures())
type Failer struct {
	every int64 // pause after every every-th record; 0: never
	pause time.Duration

	seen  atomic.Int64
	fails atomic.Int64
	next  atomic.Bool // FailNext was called
	mu    sync.Mutex
	at    map[int64]bool // failure points not reached yet
}

// NewFailer returns a Failer that fails at each of the record counts at,
// and pauses 200µs after every 200 records.
func NewFailer(at ...int64) *Failer {
	f := &Failer{every: 200, pause: 200 * time.Microsecond, at: map[int64]bool{}}
	for _, n := range at {
		f.at[n] = true
	}
	return f
}

// RandomFailer returns a Failer, as NewFailer, that fails at n different
// record counts drawn from [1, total] by rng (at all of them when n >=
// total). A seeded rng makes the failure points the same in every run.
func RandomFailer(rng *rand.Rand, n, total int64) *Failer {
	f := NewFailer()
	for int64(len(f.at)) < min(n, total) {
		f.at[1+rng.Int64N(total)] = true
	}
	return f
}

// Pause makes Check sleep for d after every every-th record (no pause when
// every or d is 0) and returns f. Call it before the job starts.
func (f *Failer) Pause(every int64, d time.Duration) *Failer {
	f.every, f.pause = every, d
	return f
}

// Check counts a record and returns ErrInjected if its count is a failure
// point. It is safe for concurrent use.
func (f *Failer) Check() error {
	n := f.seen.Add(1)
	if f.every > 0 && n%f.every == 0 && f.pause > 0 {
		time.Sleep(f.pause)
	}
	f.mu.Lock()
	hit := f.at[n]
	delete(f.at, n)
	f.mu.Unlock()
	hit = f.next.CompareAndSwap(true, false) || hit
	if hit {
		f.fails.Add(1)
		return ErrInjected
	}
	return nil
}

// FailNext makes the next record checked (by any subtask) a failure point,
// for tests that fail a job right after something happened, such as a
// checkpoint that completed with the property under test.
func (f *Failer) FailNext() {
	f.next.Store(true)
}

// Seen is the number of records checked so far, over all attempts.
func (f *Failer) Seen() int64 { return f.seen.Load() }

// Failures is the number of failures injected so far.
func (f *Failer) Failures() int64 { return f.fails.Load() }

// InjectFailures passes the records of s through f.Check: a failure point
// fails the subtask that sees it, and with it the attempt of the job.
// Give the result a UID where the job is restored from a savepoint.
func InjectFailures[T any](s stream.Stream[T], f *Failer) stream.Stream[T] {
	return stream.TryMap(s, func(v T) (T, error) { return v, f.Check() })
}
