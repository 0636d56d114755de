package eventtime

import (
	"math"
	"testing"
)

func TestTimeWindow(t *testing.T) {
	w := TimeWindow{Start: 0, End: 10}
	if got := w.MaxTimestamp(); got != 9 {
		t.Fatalf("MaxTimestamp = %d, want 9", got)
	}
	if got := (TimeWindow{End: math.MinInt64}).MaxTimestamp(); got != math.MinInt64 {
		t.Fatalf("MaxTimestamp at MinInt64 = %d, want saturation", got)
	}
	if got := w.String(); got != "[0, 10)" {
		t.Fatalf("String = %q", got)
	}
	if got := (TimeWindow{-5, 5}).String(); got != "[-5, 5)" {
		t.Fatalf("String = %q", got)
	}

	intersects := []struct {
		a, b TimeWindow
		want bool
	}{
		{TimeWindow{0, 10}, TimeWindow{5, 15}, true},
		{TimeWindow{0, 10}, TimeWindow{10, 20}, true}, // touching, as in Flink
		{TimeWindow{10, 20}, TimeWindow{0, 10}, true},
		{TimeWindow{0, 10}, TimeWindow{11, 20}, false},
		{TimeWindow{11, 20}, TimeWindow{0, 10}, false},
		{TimeWindow{0, 10}, TimeWindow{2, 3}, true},
		{TimeWindow{2, 3}, TimeWindow{0, 10}, true},
		{TimeWindow{-10, -5}, TimeWindow{-5, 0}, true},
	}
	for _, tt := range intersects {
		if got := tt.a.Intersects(tt.b); got != tt.want {
			t.Errorf("%v.Intersects(%v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
	if got := (TimeWindow{0, 10}).Cover(TimeWindow{-3, 5}); got != (TimeWindow{-3, 10}) {
		t.Errorf("Cover = %v", got)
	}
	if got := (TimeWindow{0, 10}).Cover(TimeWindow{20, 30}); got != (TimeWindow{0, 30}) {
		t.Errorf("Cover of disjoint windows = %v", got)
	}
}

func TestLateness(t *testing.T) {
	tests := []struct {
		name     string
		w        TimeWindow
		lateness int64
		wm       int64
		cleanup  int64
		late     bool
	}{
		{"before max timestamp", TimeWindow{0, 10}, 0, 8, 9, false},
		{"at max timestamp", TimeWindow{0, 10}, 0, 9, 9, true},
		{"within lateness", TimeWindow{0, 10}, 5, 13, 14, false},
		{"lateness passed", TimeWindow{0, 10}, 5, 14, 14, true},
		{"no watermark yet", TimeWindow{0, 10}, 0, MinWatermark, 9, false},
		{"overflow saturates", TimeWindow{0, math.MaxInt64}, 100, math.MaxInt64 - 1, math.MaxInt64, false},
		{"huge lateness", TimeWindow{0, 10}, math.MaxInt64, math.MaxInt64 - 1, math.MaxInt64, false},
		{"final watermark", TimeWindow{0, math.MaxInt64}, 100, MaxWatermark, math.MaxInt64, true},
		{"negative lateness saturates", TimeWindow{math.MinInt64, math.MinInt64 + 1}, -10, MinWatermark, math.MinInt64, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CleanupTime(tt.w, tt.lateness); got != tt.cleanup {
				t.Errorf("CleanupTime = %d, want %d", got, tt.cleanup)
			}
			if got := IsLate(tt.w, tt.wm, tt.lateness); got != tt.late {
				t.Errorf("IsLate = %v, want %v", got, tt.late)
			}
		})
	}
}

func TestSaturatingArithmetic(t *testing.T) {
	const lo, hi = math.MinInt64, math.MaxInt64
	tests := []struct{ a, b, add, sub int64 }{
		{1, 2, 3, -1},
		{hi, 1, hi, hi - 1},
		{lo, 1, lo + 1, lo},
		{lo, -1, lo, lo + 1},
		{0, lo, lo, hi},
		{-1, lo, lo, hi},
		{hi, hi, hi, 0},
		{lo, lo, lo, 0},
		{hi, lo, -1, hi},
		{lo, hi, -1, lo},
	}
	for _, tt := range tests {
		if got := addSat(tt.a, tt.b); got != tt.add {
			t.Errorf("addSat(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.add)
		}
		if got := subSat(tt.a, tt.b); got != tt.sub {
			t.Errorf("subSat(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.sub)
		}
	}
}
