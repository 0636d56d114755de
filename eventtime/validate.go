package eventtime

import (
	"fmt"
	"time"
)

// ValidateTumbling reports whether [Tumbling] accepts its arguments: size
// must be a positive whole number of milliseconds, and an offset (at most
// one) a whole number of milliseconds with |offset| < size.
func ValidateTumbling(size time.Duration, offset ...time.Duration) error {
	if err := positiveMillis("tumbling window size", size); err != nil {
		return err
	}
	return validOffset("tumbling window", "size", size, offset)
}

// ValidateSliding reports whether [Sliding] accepts its arguments: size and
// slide must be positive whole numbers of milliseconds, and an offset (at
// most one) a whole number of milliseconds with |offset| < slide. A slide
// larger than size is allowed (elements between windows belong to none).
func ValidateSliding(size, slide time.Duration, offset ...time.Duration) error {
	if err := positiveMillis("sliding window size", size); err != nil {
		return err
	}
	if err := positiveMillis("sliding window slide", slide); err != nil {
		return err
	}
	return validOffset("sliding window", "slide", slide, offset)
}

// ValidateSession reports whether [Session] accepts gap: a positive whole
// number of milliseconds.
func ValidateSession(gap time.Duration) error {
	return positiveMillis("session window gap", gap)
}

// ValidateOutOfOrderness reports whether [BoundedOutOfOrderness] accepts d:
// a non-negative whole number of milliseconds.
func ValidateOutOfOrderness(d time.Duration) error {
	return nonNegativeMillis("max out-of-orderness", d)
}

// ValidateIdleTimeout reports whether [Strategy.WithIdleness] and
// [NewIdlenessTracker] accept timeout: a non-negative whole number of
// milliseconds (0 disables idleness).
func ValidateIdleTimeout(timeout time.Duration) error {
	return nonNegativeMillis("idle timeout", timeout)
}

func positiveMillis(what string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%s must be positive, got %v", what, d)
	}
	return wholeMillis(what, d)
}

func nonNegativeMillis(what string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%s must not be negative, got %v", what, d)
	}
	return wholeMillis(what, d)
}

func wholeMillis(what string, d time.Duration) error {
	if d%time.Millisecond != 0 {
		return fmt.Errorf("%s must be a whole number of milliseconds, got %v", what, d)
	}
	return nil
}

// validOffset checks the optional offset of a window assigner against its
// period (size for tumbling windows, slide for sliding ones).
func validOffset(what, periodName string, period time.Duration, offset []time.Duration) error {
	switch len(offset) {
	case 0:
		return nil
	case 1:
	default:
		return fmt.Errorf("%s takes at most one offset, got %d: %v", what, len(offset), offset)
	}
	off := offset[0]
	if err := wholeMillis(what+" offset", off); err != nil {
		return err
	}
	if off <= -period || off >= period {
		return fmt.Errorf("%s offset must satisfy |offset| < %s (%v), got %v", what, periodName, period, off)
	}
	return nil
}
