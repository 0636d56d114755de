package eventtime

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name string
		err  error
		want string // "" for no error, else a substring of the message
	}{
		{"tumbling ok", ValidateTumbling(time.Second), ""},
		{"tumbling offsets ok", ValidateTumbling(time.Second, -999*ms), ""},
		{"tumbling zero size", ValidateTumbling(0), "tumbling window size must be positive, got 0s"},
		{"tumbling negative size", ValidateTumbling(-time.Second), "tumbling window size must be positive, got -1s"},
		{"tumbling sub-ms size", ValidateTumbling(time.Microsecond), "tumbling window size must be a whole number of milliseconds, got 1µs"},
		{"tumbling offset = size", ValidateTumbling(time.Second, time.Second), "tumbling window offset must satisfy |offset| < size (1s), got 1s"},
		{"tumbling offset = -size", ValidateTumbling(time.Second, -time.Second), "got -1s"},
		{"tumbling two offsets", ValidateTumbling(time.Second, ms, ms), "at most one offset, got 2"},
		{"tumbling sub-ms offset", ValidateTumbling(time.Second, time.Microsecond), "tumbling window offset must be a whole number of milliseconds"},
		{"sliding ok", ValidateSliding(10*time.Second, 5*time.Second, -4*time.Second), ""},
		{"sliding slide > size ok", ValidateSliding(time.Second, time.Minute), ""},
		{"sliding zero size", ValidateSliding(0, time.Second), "sliding window size must be positive, got 0s"},
		{"sliding zero slide", ValidateSliding(time.Second, 0), "sliding window slide must be positive, got 0s"},
		{"sliding offset = slide", ValidateSliding(time.Minute, time.Second, time.Second), "sliding window offset must satisfy |offset| < slide (1s), got 1s"},
		{"session ok", ValidateSession(time.Minute), ""},
		{"session zero gap", ValidateSession(0), "session window gap must be positive, got 0s"},
		{"session sub-ms gap", ValidateSession(1500 * time.Microsecond), "session window gap must be a whole number of milliseconds, got 1.5ms"},
		{"out-of-orderness zero ok", ValidateOutOfOrderness(0), ""},
		{"out-of-orderness negative", ValidateOutOfOrderness(-ms), "max out-of-orderness must not be negative, got -1ms"},
		{"idle timeout zero ok", ValidateIdleTimeout(0), ""},
		{"idle timeout sub-ms", ValidateIdleTimeout(time.Nanosecond), "idle timeout must be a whole number of milliseconds, got 1ns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			switch {
			case tt.want == "" && tt.err != nil:
				t.Fatalf("unexpected error: %v", tt.err)
			case tt.want != "" && tt.err == nil:
				t.Fatalf("no error, want one containing %q", tt.want)
			case tt.want != "" && !strings.Contains(tt.err.Error(), tt.want):
				t.Fatalf("error %q, want one containing %q", tt.err, tt.want)
			}
		})
	}
}

func TestAssignerConstructorsPanic(t *testing.T) {
	tests := []struct {
		name string
		fn   func()
		want string
	}{
		{"tumbling", func() { Tumbling(-5 * time.Second) }, "eventtime: tumbling window size must be positive, got -5s"},
		{"tumbling offset", func() { Tumbling(time.Second, 2*time.Second) }, "eventtime: tumbling window offset must satisfy |offset| < size (1s), got 2s"},
		{"sliding", func() { Sliding(time.Second, 0) }, "eventtime: sliding window slide must be positive, got 0s"},
		{"session", func() { Session(0) }, "eventtime: session window gap must be positive, got 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != tt.want {
					t.Fatalf("panic %q, want %q", r, tt.want)
				}
			}()
			tt.fn()
		})
	}
}
