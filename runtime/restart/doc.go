// Package restart holds sluice's restart strategies: given that a job
// failed at some time, for some cause, should it restart, and after what
// delay?
//
// It sits in the runtime layer and depends on nothing else in sluice. The
// runtime asks its job's [Strategy] once per failure; the strategies are
// pure (no I/O, no goroutines, no clock: the time of the failure is an
// argument), so they are tested, and reasoned about, with injected times.
//
// The strategies follow Flink's:
//
//   - [None]: never restart.
//   - [FixedDelay]: restart a fixed number of times, each after the same
//     delay, then give up.
//   - [FailureRate]: restart after a fixed delay unless more than a given
//     number of failures happened within a sliding interval.
//   - [ExponentialBackoff]: restart after a delay that grows with each
//     failure up to a maximum, with jitter, and starts over after the job
//     ran without failure for a while.
//
// Some failures must never be retried, whatever the strategy: a
// configuration error, or a committer reporting that data may have been
// lost (an expired or fenced transaction). Such errors are permanent in the
// project's one failure classification ([connector.Permanent],
// [connector.IsPermanent]); every strategy here gives up on them.
package restart
