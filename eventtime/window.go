package eventtime

import "strconv"

// TimeWindow is the half-open time interval [Start, End) in milliseconds.
type TimeWindow struct {
	Start, End int64
}

// MaxTimestamp returns the largest timestamp that belongs to w, End-1. The
// window fires when the watermark reaches it.
func (w TimeWindow) MaxTimestamp() int64 { return subSat(w.End, 1) }

// Intersects reports whether w and o overlap or touch: as in Flink, windows
// [a, b) and [b, c) intersect, so session windows that touch merge.
func (w TimeWindow) Intersects(o TimeWindow) bool {
	return w.Start <= o.End && w.End >= o.Start
}

// Cover returns the smallest window that contains both w and o.
func (w TimeWindow) Cover(o TimeWindow) TimeWindow {
	return TimeWindow{Start: min(w.Start, o.Start), End: max(w.End, o.End)}
}

// String returns w as "[Start, End)".
func (w TimeWindow) String() string {
	b := make([]byte, 0, 48)
	b = append(b, '[')
	b = strconv.AppendInt(b, w.Start, 10)
	b = append(b, ", "...)
	b = strconv.AppendInt(b, w.End, 10)
	b = append(b, ')')
	return string(b)
}

// CleanupTime returns the time at which the state of w can be dropped: its
// max timestamp plus allowedLateness (milliseconds), saturated at
// MaxWatermark and MinWatermark instead of overflowing.
func CleanupTime(w TimeWindow, allowedLateness int64) int64 {
	return addSat(w.MaxTimestamp(), allowedLateness)
}

// IsLate reports whether w is late at watermark wm: its cleanup time has
// passed (w.MaxTimestamp()+allowedLateness <= wm, without overflow), so an
// element assigned to it must be dropped or sent to the late output.
func IsLate(w TimeWindow, wm int64, allowedLateness int64) bool {
	return CleanupTime(w, allowedLateness) <= wm
}
