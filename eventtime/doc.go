// Package eventtime holds the event-time building blocks of sluice:
// watermark strategies and generators, idleness tracking, the combining of
// watermarks across inputs, and window assigners including the merging of
// session windows.
//
// It sits below runtime and stream in the layers: it is pure logic, with no
// goroutines, no I/O and no clock reads. The runtime passes processing time
// in wherever a decision depends on it (idleness), calls generators on its
// auto-watermark interval, and keeps timers itself.
//
// # Time
//
// Times are int64 milliseconds since the Unix epoch. A watermark W says that
// no more records with a timestamp <= W are expected on that stream; records
// that still come are late. [MinWatermark] means "no watermark yet" and
// [MaxWatermark] is the final watermark sent at end of input. Durations in the
// API are [time.Duration] values that must be whole milliseconds.
//
// # Watermarks
//
// A [Strategy] describes how a source (or an operator after it) derives
// timestamps and watermarks: an optional timestamp assigner, a [Generator]
// factory (one generator per source split, or per subtask when the strategy
// is applied after the source), and an optional idle timeout measured by an
// [IdlenessTracker]. Generators are periodic, as in Flink: they see every
// event's timestamp and are asked for the current watermark on each
// auto-watermark interval.
//
// A [Combiner] merges the watermarks of several inputs into one: the
// watermarks of the splits of a source subtask, or of the input channels of a
// subtask. Idle inputs do not hold the combined watermark back, and the
// combined watermark never goes backwards.
//
// # Windows
//
// An [Assigner] maps a timestamp to the windows ([TimeWindow]) it belongs
// to: [Tumbling], [Sliding] and [Session]. Session windows are merging: per
// key, a [MergingSet] keeps the disjoint windows and tells which windows an
// element's window absorbed, so that the window operator can merge their
// state. [IsLate] and [CleanupTime] give the allowed-lateness rules.
//
// The same assigners serve processing-time windows: the caller passes the
// processing time of the element instead of its event timestamp, and fires
// windows from processing-time timers instead of watermarks.
//
// Invalid arguments to the constructors (a non-positive size, an offset not
// smaller than the size) are programming errors and panic with a message that
// names the argument; [ValidateTumbling], [ValidateSliding],
// [ValidateSession], [ValidateOutOfOrderness] and [ValidateIdleTimeout] return
// the same conditions as errors, for configuration layers.
package eventtime
