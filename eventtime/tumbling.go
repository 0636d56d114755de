package eventtime

import "time"

// tumbling assigns each timestamp to exactly one window of a fixed size.
type tumbling struct {
	size, offset   int64 // milliseconds
	sizeD, offsetD time.Duration
	hasOffset      bool
}

// Tumbling returns an assigner of fixed-size, non-overlapping windows. An
// element with timestamp ts belongs to the window that starts at
// ts - mod(ts - offset, size), as in Flink, for negative timestamps too. The
// optional offset shifts the windows: Tumbling(24*time.Hour, -8*time.Hour)
// gives the days of UTC+8, which start at 16:00 UTC. Tumbling panics if size is not
// positive, if more than one offset is given, if |offset| >= size, or if
// a duration is not a whole number of milliseconds; see [ValidateTumbling].
func Tumbling(size time.Duration, offset ...time.Duration) Assigner {
	if err := ValidateTumbling(size, offset...); err != nil {
		panic("eventtime: " + err.Error())
	}
	t := &tumbling{size: millis(size), sizeD: size}
	if len(offset) == 1 {
		t.offset, t.offsetD, t.hasOffset = millis(offset[0]), offset[0], true
	}
	return t
}

func (t *tumbling) Assign(ts int64, dst []TimeWindow) []TimeWindow {
	r := periodRemainder(ts, t.size, t.offset)
	return append(dst, TimeWindow{Start: subSat(ts, r), End: addSat(ts, t.size-r)})
}

func (t *tumbling) IsMerging() bool { return false }

func (t *tumbling) String() string {
	if t.hasOffset {
		return "Tumbling(size=" + t.sizeD.String() + ", offset=" + t.offsetD.String() + ")"
	}
	return "Tumbling(size=" + t.sizeD.String() + ")"
}
