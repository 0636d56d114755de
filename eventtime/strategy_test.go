package eventtime

import (
	"strings"
	"testing"
	"time"
)

type event struct {
	ts int64
}

func TestBoundedOutOfOrderness(t *testing.T) {
	const none = MinWatermark
	tests := []struct {
		name   string
		s      Strategy[event]
		events []int64 // timestamps; each followed by an emit
		want   []int64 // watermark after each event
	}{
		{"bounded 5ms", BoundedOutOfOrderness[event](5 * time.Millisecond),
			[]int64{100, 90, 120, 119, 200},
			[]int64{94, 94, 114, 114, 194}},
		{"monotonic", Monotonic[event](),
			[]int64{0, 1, 1, 10},
			[]int64{-1, 0, 0, 9}},
		{"negative timestamps", BoundedOutOfOrderness[event](time.Second),
			[]int64{-5000, -6000, -100},
			[]int64{-6001, -6001, -1101}},
		{"saturates near MinInt64", BoundedOutOfOrderness[event](time.Second),
			[]int64{MinWatermark + 3, MinWatermark + 1001, MinWatermark + 2000},
			[]int64{none, none, MinWatermark + 999}},
		{"MaxInt64 timestamp is not the final watermark", Monotonic[event](),
			[]int64{MaxWatermark},
			[]int64{MaxWatermark - 1}},
		{"no watermarks", NoWatermarks[event](),
			[]int64{1, 2, 3},
			[]int64{none, none, none}},
		{"zero strategy", Strategy[event]{},
			[]int64{1},
			[]int64{none}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.s.NewGenerator()
			if got := g.OnPeriodicEmit(); got != none {
				t.Fatalf("before any event: %d, want MinWatermark", got)
			}
			for k, ts := range tt.events {
				g.OnEvent(ts)
				if got := g.OnPeriodicEmit(); got != tt.want[k] {
					t.Fatalf("after event %d (ts %d): watermark %d, want %d", k, ts, got, tt.want[k])
				}
			}
		})
	}
}

func TestGeneratorsAreIndependent(t *testing.T) {
	s := Monotonic[event]()
	a, b := s.NewGenerator(), s.NewGenerator()
	a.OnEvent(100)
	if got := b.OnPeriodicEmit(); got != MinWatermark {
		t.Fatalf("second generator saw the first one's event: %d", got)
	}
}

type countingGen struct{ n int64 }

func (g *countingGen) OnEvent(int64)         { g.n++ }
func (g *countingGen) OnPeriodicEmit() int64 { return g.n }

func TestStrategyOptions(t *testing.T) {
	byTs := func(v event, _ int64) int64 { return v.ts }

	var zero Strategy[event]
	if zero.HasWatermarks() || zero.HasTimestamps() || zero.IdleTimeout() != 0 {
		t.Fatal("zero strategy has options")
	}
	if got := zero.Timestamp(event{ts: 5}, 42); got != 42 {
		t.Fatalf("Timestamp without assigner = %d, want prev 42", got)
	}

	base := BoundedOutOfOrderness[event](time.Second)
	s := base.WithTimestamps(byTs).WithIdleness(30 * time.Second)
	if !s.HasWatermarks() || !s.HasTimestamps() || s.IdleTimeout() != 30*time.Second {
		t.Fatalf("options not set: %+v", s)
	}
	if got := s.Timestamp(event{ts: 7}, 42); got != 7 {
		t.Fatalf("Timestamp = %d, want 7", got)
	}
	// Strategies are values: base is unchanged.
	if base.HasTimestamps() || base.IdleTimeout() != 0 {
		t.Fatal("With methods modified the receiver")
	}
	if s.WithTimestamps(nil).HasTimestamps() {
		t.Fatal("WithTimestamps(nil) kept the assigner")
	}
	if s.WithIdleness(0).IdleTimeout() != 0 {
		t.Fatal("WithIdleness(0) kept the timeout")
	}
	// The assigner sees the previous timestamp.
	keep := zero.WithTimestamps(func(_ event, prev int64) int64 { return prev + 1 })
	if got := keep.Timestamp(event{}, MinWatermark); got != MinWatermark+1 {
		t.Fatalf("assigner got wrong prev: %d", got)
	}

	custom := ForGenerator[event](func() Generator { return &countingGen{} })
	g := custom.NewGenerator()
	g.OnEvent(1)
	g.OnEvent(1)
	if !custom.HasWatermarks() || g.OnPeriodicEmit() != 2 {
		t.Fatal("ForGenerator does not use the given generator")
	}
}

func TestStrategyPanics(t *testing.T) {
	tests := []struct {
		name string
		fn   func()
		msg  string
	}{
		{"negative bound", func() { BoundedOutOfOrderness[event](-time.Second) }, "max out-of-orderness must not be negative, got -1s"},
		{"sub-millisecond bound", func() { BoundedOutOfOrderness[event](1500 * time.Microsecond) }, "got 1.5ms"},
		{"negative idleness", func() { NoWatermarks[event]().WithIdleness(-time.Millisecond) }, "idle timeout must not be negative, got -1ms"},
		{"nil generator factory", func() { ForGenerator[event](nil) }, "newGen is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if !strings.HasPrefix(msg, "eventtime: ") || !strings.Contains(msg, tt.msg) {
					t.Fatalf("panic %q, want one containing %q", r, tt.msg)
				}
			}()
			tt.fn()
		})
	}
}
