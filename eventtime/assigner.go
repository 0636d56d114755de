package eventtime

// Assigner maps an element's timestamp to the windows it belongs to.
//
// Assign appends to dst the windows that contain timestamp ts, in increasing
// order of Start, and returns the extended slice; it does not allocate when
// dst has the capacity. It may append none (sliding windows whose slide
// exceeds their size leave gaps). Near the ends of the int64 range, Start
// and End saturate at math.MinInt64 and math.MaxInt64 instead of
// overflowing.
//
// IsMerging reports whether the windows of one key must be merged when they
// intersect (session windows), with a [MergingSet].
//
// String describes the assigner, e.g. "Tumbling(size=5s)".
//
// An Assigner is immutable and safe for concurrent use.
type Assigner interface {
	Assign(ts int64, dst []TimeWindow) []TimeWindow
	IsMerging() bool
	String() string
}

// periodRemainder returns how far ts lies after the start of its period: the
// value r in [0, period) with ts - r ≡ offset (mod period). It does not
// overflow for any ts as long as |offset| < period.
func periodRemainder(ts, period, offset int64) int64 {
	r := (ts%period - offset) % period
	if r < 0 {
		r += period
	}
	return r
}
