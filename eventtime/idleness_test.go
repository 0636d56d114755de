package eventtime

import (
	"testing"
	"time"
)

func TestIdlenessTracker(t *testing.T) {
	type call struct {
		event bool  // OnEvent, else IsIdle
		now   int64 // processing time
		idle  bool  // IsIdle's expected result
	}
	tests := []struct {
		name    string
		timeout time.Duration
		calls   []call
	}{
		{"idle after timeout without events", 10 * time.Millisecond, []call{
			{event: true, now: 100},
			{now: 105},
			{now: 109},
			{now: 110, idle: true},
			{now: 500, idle: true},
		}},
		{"event makes it active again", 10 * time.Millisecond, []call{
			{event: true, now: 0},
			{now: 20, idle: true},
			{event: true, now: 21},
			{now: 22},
			{now: 30},
			{now: 31, idle: true},
		}},
		{"timeout starts at the first check without events", 10 * time.Millisecond, []call{
			{now: 1000},
			{now: 1009},
			{now: 1010, idle: true},
		}},
		{"coarse or backward event time is ignored", 10 * time.Millisecond, []call{
			{event: true, now: 50},
			{event: true, now: 40},
			{now: 59},
			{now: 60, idle: true},
		}},
		{"clock before last activity is not idle", 10 * time.Millisecond, []call{
			{event: true, now: 50},
			{now: 10},
		}},
		{"disabled", 0, []call{
			{now: 0},
			{now: 1 << 60},
		}},
		{"extreme times do not overflow", time.Second, []call{
			{event: true, now: MinWatermark},
			{now: MaxWatermark, idle: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewIdlenessTracker(tt.timeout)
			for k, c := range tt.calls {
				if c.event {
					tr.OnEvent(c.now)
					continue
				}
				if got := tr.IsIdle(c.now); got != c.idle {
					t.Fatalf("call %d: IsIdle(%d) = %v, want %v", k, c.now, got, c.idle)
				}
			}
		})
	}
}

func TestZeroIdlenessTrackerNeverIdle(t *testing.T) {
	var tr IdlenessTracker
	tr.IsIdle(0)
	if tr.IsIdle(1 << 40) {
		t.Fatal("zero tracker reported idle")
	}
}

func TestIdlenessTrackerFromStrategy(t *testing.T) {
	s := Monotonic[int]().WithIdleness(time.Second)
	tr := NewIdlenessTracker(s.IdleTimeout())
	tr.OnEvent(0)
	if tr.IsIdle(999) || !tr.IsIdle(1000) {
		t.Fatal("tracker does not use the strategy's timeout")
	}
}
