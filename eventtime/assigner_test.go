package eventtime

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

const ms = time.Millisecond

func w(start, end int64) TimeWindow { return TimeWindow{Start: start, End: end} }

func TestTumbling(t *testing.T) {
	tests := []struct {
		a    Assigner
		ts   int64
		want TimeWindow
	}{
		{Tumbling(5 * time.Second), 0, w(0, 5000)},
		{Tumbling(5 * time.Second), 4999, w(0, 5000)},
		{Tumbling(5 * time.Second), 5000, w(5000, 10000)},
		{Tumbling(5 * time.Second), -1, w(-5000, 0)},
		{Tumbling(5 * time.Second), -4999, w(-5000, 0)},
		{Tumbling(5 * time.Second), -5000, w(-5000, 0)},
		{Tumbling(5 * time.Second), -5001, w(-10000, -5000)},
		{Tumbling(5*time.Second, time.Second), 0, w(-4000, 1000)},
		{Tumbling(5*time.Second, time.Second), 999, w(-4000, 1000)},
		{Tumbling(5*time.Second, time.Second), 1000, w(1000, 6000)},
		{Tumbling(5*time.Second, -time.Second), 0, w(-1000, 4000)},
		{Tumbling(5*time.Second, -time.Second), 4000, w(4000, 9000)},
		{Tumbling(5*time.Second, -time.Second), -1001, w(-6000, -1000)},
		{Tumbling(5*time.Second, 4999*ms), -1, w(-1, 4999)},
		{Tumbling(5*time.Second, -4999*ms), -4999, w(-4999, 1)},
		{Tumbling(ms), 7, w(7, 8)},
		{Tumbling(ms), -7, w(-7, -6)},
		// UTC+8 days: Tumbling(24h, -8h) starts days at 16:00 UTC.
		{Tumbling(24*time.Hour, -8*time.Hour), 0, w(-8*3600_000, 16*3600_000)},
		// Near the ends of the int64 range the windows saturate.
		{Tumbling(5 * time.Second), math.MaxInt64, w(math.MaxInt64-807, math.MaxInt64)},
		{Tumbling(5 * time.Second), math.MinInt64, w(math.MinInt64, math.MinInt64+808)},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v/%d", tt.a, tt.ts), func(t *testing.T) {
			got := tt.a.Assign(tt.ts, nil)
			if len(got) != 1 || got[0] != tt.want {
				t.Fatalf("Assign(%d) = %v, want [%v]", tt.ts, got, tt.want)
			}
			if tt.a.IsMerging() {
				t.Fatal("tumbling windows are not merging")
			}
		})
	}
}

func TestSliding(t *testing.T) {
	tests := []struct {
		a    Assigner
		ts   int64
		want []TimeWindow
	}{
		{Sliding(10*time.Second, 5*time.Second), 0, []TimeWindow{w(-5000, 5000), w(0, 10000)}},
		{Sliding(10*time.Second, 5*time.Second), 4999, []TimeWindow{w(-5000, 5000), w(0, 10000)}},
		{Sliding(10*time.Second, 5*time.Second), 5000, []TimeWindow{w(0, 10000), w(5000, 15000)}},
		{Sliding(10*time.Second, 5*time.Second), -1, []TimeWindow{w(-10000, 0), w(-5000, 5000)}},
		{Sliding(10*time.Second, 5*time.Second, time.Second), 0, []TimeWindow{w(-9000, 1000), w(-4000, 6000)}},
		{Sliding(10*time.Second, 5*time.Second, -time.Second), 0, []TimeWindow{w(-6000, 4000), w(-1000, 9000)}},
		// size not a multiple of slide: 4 or 3 windows.
		{Sliding(10*ms, 3*ms), 0, []TimeWindow{w(-9, 1), w(-6, 4), w(-3, 7), w(0, 10)}},
		{Sliding(10*ms, 3*ms), 1, []TimeWindow{w(-6, 4), w(-3, 7), w(0, 10)}},
		{Sliding(10*ms, 3*ms), -1, []TimeWindow{w(-9, 1), w(-6, 4), w(-3, 7)}},
		// slide > size: gaps between windows.
		{Sliding(5*ms, 10*ms), 0, []TimeWindow{w(0, 5)}},
		{Sliding(5*ms, 10*ms), 4, []TimeWindow{w(0, 5)}},
		{Sliding(5*ms, 10*ms), 5, nil},
		{Sliding(5*ms, 10*ms), -1, nil},
		{Sliding(5*ms, 10*ms), -6, []TimeWindow{w(-10, -5)}},
		// size == slide is tumbling.
		{Sliding(5*time.Second, 5*time.Second), -1, []TimeWindow{w(-5000, 0)}},
		// Saturation at the ends of the int64 range.
		{Sliding(10*ms, 5*ms), math.MaxInt64, []TimeWindow{w(math.MaxInt64-7, math.MaxInt64), w(math.MaxInt64-2, math.MaxInt64)}},
		{Sliding(10*ms, 5*ms), math.MinInt64, []TimeWindow{w(math.MinInt64, math.MinInt64+3), w(math.MinInt64, math.MinInt64+8)}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v/%d", tt.a, tt.ts), func(t *testing.T) {
			got := tt.a.Assign(tt.ts, nil)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Assign(%d) = %v, want %v", tt.ts, got, tt.want)
			}
			if tt.a.IsMerging() {
				t.Fatal("sliding windows are not merging")
			}
		})
	}
}

// bruteForce lists the windows of length size starting at offset + k*period
// that contain ts, in increasing order.
func bruteForce(ts, size, period, offset int64) []TimeWindow {
	var out []TimeWindow
	for s := ts - size - period; s <= ts; s++ {
		if ((s-offset)%period+period)%period == 0 && s <= ts && ts < s+size {
			out = append(out, TimeWindow{s, s + size})
		}
	}
	return out
}

func TestAssignersAgainstBruteForce(t *testing.T) {
	type params struct{ size, slide, offset int64 }
	var cases []params
	for _, size := range []int64{1, 2, 3, 7, 10} {
		for _, slide := range []int64{1, 2, 3, 4, 10, 13} {
			for _, offset := range []int64{0, 1, -1, slide - 1, 1 - slide} {
				if offset > -slide && offset < slide {
					cases = append(cases, params{size, slide, offset})
				}
			}
		}
	}
	for _, p := range cases {
		sl := Sliding(time.Duration(p.size)*ms, time.Duration(p.slide)*ms, time.Duration(p.offset)*ms)
		var tu Assigner
		if p.offset > -p.size && p.offset < p.size {
			tu = Tumbling(time.Duration(p.size)*ms, time.Duration(p.offset)*ms)
		}
		for ts := int64(-40); ts <= 40; ts++ {
			want := bruteForce(ts, p.size, p.slide, p.offset)
			if got := sl.Assign(ts, nil); !slices.Equal(got, want) {
				t.Fatalf("%v.Assign(%d) = %v, want %v", sl, ts, got, want)
			}
			// Count: size/slide windows per element when slide divides size,
			// else the floor or ceiling of it.
			lo, hi := p.size/p.slide, (p.size+p.slide-1)/p.slide
			if n := int64(len(want)); n < lo || n > hi {
				t.Fatalf("%v: %d windows for ts %d, want between %d and %d", sl, n, ts, lo, hi)
			}
			if tu != nil {
				want := bruteForce(ts, p.size, p.size, p.offset)
				if got := tu.Assign(ts, nil); !slices.Equal(got, want) {
					t.Fatalf("%v.Assign(%d) = %v, want %v", tu, ts, got, want)
				}
			}
		}
	}
}

func TestSession(t *testing.T) {
	a := Session(30 * time.Second)
	if !a.IsMerging() {
		t.Fatal("session windows are merging")
	}
	tests := []struct {
		ts   int64
		want TimeWindow
	}{
		{0, w(0, 30000)},
		{-1, w(-1, 29999)},
		{123, w(123, 30123)},
		{math.MaxInt64 - 10, w(math.MaxInt64-10, math.MaxInt64)},
	}
	for _, tt := range tests {
		got := a.Assign(tt.ts, nil)
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("Assign(%d) = %v, want [%v]", tt.ts, got, tt.want)
		}
	}
}

func TestAssignAppends(t *testing.T) {
	prefix := []TimeWindow{w(1, 2)}
	for _, a := range []Assigner{Tumbling(time.Second), Sliding(time.Second, 500*ms), Session(time.Second)} {
		got := a.Assign(0, slices.Clone(prefix))
		if got[0] != prefix[0] || len(got) < 2 {
			t.Errorf("%v: Assign did not append: %v", a, got)
		}
	}
}

func TestAssignDoesNotAllocate(t *testing.T) {
	dst := make([]TimeWindow, 0, 16)
	for _, a := range []Assigner{Tumbling(time.Second), Sliding(time.Minute, 5*time.Second), Session(time.Second)} {
		var ts int64
		allocs := testing.AllocsPerRun(100, func() {
			ts += 777
			dst = a.Assign(ts, dst[:0])
		})
		if allocs != 0 {
			t.Errorf("%v: Assign allocates %v times", a, allocs)
		}
	}
}

func TestAssignerString(t *testing.T) {
	tests := []struct {
		a    Assigner
		want string
	}{
		{Tumbling(5 * time.Second), "Tumbling(size=5s)"},
		{Tumbling(time.Hour, -15*time.Minute), "Tumbling(size=1h0m0s, offset=-15m0s)"},
		{Sliding(time.Minute, 10*time.Second), "Sliding(size=1m0s, slide=10s)"},
		{Sliding(time.Minute, 10*time.Second, time.Second), "Sliding(size=1m0s, slide=10s, offset=1s)"},
		{Session(30 * time.Second), "Session(gap=30s)"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func BenchmarkAssign(b *testing.B) {
	for _, a := range []Assigner{
		Tumbling(time.Minute),
		Tumbling(time.Hour, -15*time.Minute),
		Sliding(time.Hour, 5*time.Minute),
		Session(30 * time.Second),
	} {
		b.Run(a.String(), func(b *testing.B) {
			dst := make([]TimeWindow, 0, 16)
			var ts int64 = 1_700_000_000_000
			for b.Loop() {
				dst = a.Assign(ts, dst[:0])
				ts += 13
			}
		})
	}
}
