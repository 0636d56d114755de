package eventtime

import "time"

// IdlenessTracker decides when a split or subtask has gone idle: it saw no
// record for the idle timeout, in processing time. It reads no clock: the
// caller passes processing time (milliseconds) to both methods.
//
// The time passed to OnEvent may be coarse, e.g. the time the current batch
// of records was polled, or the time of the last periodic tick: idleness is
// then detected up to that coarseness late, which is harmless for timeouts of
// seconds and saves a clock read per record.
//
// Until the first call of either method the tracker has no reference time;
// the first IsIdle call starts the timeout, so an input that never sees a
// record becomes idle one timeout after it was first checked.
//
// An idle tracker becomes active again on the next OnEvent. A tracker with a
// timeout of 0, and the zero IdlenessTracker, never report idle.
type IdlenessTracker struct {
	timeout int64 // milliseconds; 0 disables
	last    int64 // processing time of the last activity, or of the first check
	started bool  // last is set
}

// NewIdlenessTracker returns a tracker with the given idle timeout (see
// [Strategy.IdleTimeout]); 0 disables idleness. It panics if timeout is
// negative or not a whole number of milliseconds.
func NewIdlenessTracker(timeout time.Duration) *IdlenessTracker {
	if err := ValidateIdleTimeout(timeout); err != nil {
		panic("eventtime: " + err.Error())
	}
	return &IdlenessTracker{timeout: millis(timeout)}
}

// OnEvent records activity at processing time nowProc. A time earlier than
// one already seen is ignored (the clock passed in may be coarse).
func (t *IdlenessTracker) OnEvent(nowProc int64) {
	if !t.started || nowProc > t.last {
		t.last = nowProc
		t.started = true
	}
}

// IsIdle reports whether no activity was recorded for at least the timeout
// before processing time nowProc.
func (t *IdlenessTracker) IsIdle(nowProc int64) bool {
	if t.timeout <= 0 {
		return false
	}
	if !t.started {
		t.last = nowProc
		t.started = true
		return false
	}
	if nowProc < t.last {
		return false
	}
	return uint64(nowProc)-uint64(t.last) >= uint64(t.timeout)
}
