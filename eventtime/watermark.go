package eventtime

import (
	"math"
	"time"
)

const (
	// MinWatermark means "no watermark yet": nothing is known about the
	// progress of event time. It is also the timestamp of a record that has
	// none.
	MinWatermark int64 = math.MinInt64

	// MaxWatermark is the final watermark: the input has ended and every
	// event-time timer and window may fire.
	MaxWatermark int64 = math.MaxInt64
)

// millis converts a duration already validated to be whole milliseconds.
func millis(d time.Duration) int64 { return int64(d / time.Millisecond) }

// addSat returns a+b, saturated to the int64 range.
func addSat(a, b int64) int64 {
	s := a + b
	if (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0) {
		if a >= 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}

// subSat returns a-b, saturated to the int64 range.
func subSat(a, b int64) int64 {
	s := a - b
	if (a >= 0) != (b >= 0) && (s >= 0) != (a >= 0) {
		if a >= 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}
