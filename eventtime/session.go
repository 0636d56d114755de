package eventtime

import "time"

// session assigns each timestamp the window [ts, ts+gap), to be merged with
// the intersecting windows of the same key.
type session struct {
	gap  int64 // milliseconds
	gapD time.Duration
}

// Session returns a merging assigner of session windows: an element with
// timestamp ts gets the window [ts, ts+gap), and the windows of a key that
// intersect (or touch) merge, so a session ends after a gap of inactivity.
// The caller merges the windows of each key with a [MergingSet]. Session
// panics if gap is not positive or not a whole number of milliseconds; see
// [ValidateSession].
func Session(gap time.Duration) Assigner {
	if err := ValidateSession(gap); err != nil {
		panic("eventtime: " + err.Error())
	}
	return &session{gap: millis(gap), gapD: gap}
}

func (s *session) Assign(ts int64, dst []TimeWindow) []TimeWindow {
	return append(dst, TimeWindow{Start: ts, End: addSat(ts, s.gap)})
}

func (s *session) IsMerging() bool { return true }

func (s *session) String() string { return "Session(gap=" + s.gapD.String() + ")" }
