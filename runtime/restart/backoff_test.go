package restart

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestBackoffConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  BackoffConfig
		want string // substring of the error; "" for valid
	}{
		{"zero", BackoffConfig{}, ""},
		{"flink-like", BackoffConfig{Initial: time.Second, Max: 5 * time.Minute, Multiplier: 1.5, Jitter: 0.1, ResetAfter: time.Hour}, ""},
		{"no jitter, never reset", BackoffConfig{Jitter: -1, ResetAfter: -1}, ""},
		{"initial above default max", BackoffConfig{Initial: 2 * time.Minute}, ""},
		{"max equals initial", BackoffConfig{Initial: time.Second, Max: time.Second, Multiplier: 1}, ""},
		{"negative initial", BackoffConfig{Initial: -1}, "BackoffConfig.Initial is -1ns"},
		{"negative max", BackoffConfig{Max: -time.Second}, "BackoffConfig.Max is -1s"},
		{"max below initial", BackoffConfig{Initial: 10 * time.Second, Max: time.Second}, "BackoffConfig.Max is 1s; it must not be below Initial (10s)"},
		{"max below default initial", BackoffConfig{Max: time.Millisecond}, "must not be below Initial (1s)"},
		{"shrinking", BackoffConfig{Multiplier: 0.9}, "BackoffConfig.Multiplier is 0.9"},
		{"infinite multiplier", BackoffConfig{Multiplier: math.Inf(1)}, "BackoffConfig.Multiplier is +Inf"},
		{"NaN multiplier", BackoffConfig{Multiplier: math.NaN()}, "BackoffConfig.Multiplier is NaN"},
		{"jitter above 1", BackoffConfig{Jitter: 1.5}, "BackoffConfig.Jitter is 1.5"},
		{"NaN jitter", BackoffConfig{Jitter: math.NaN()}, "BackoffConfig.Jitter is NaN"},
		{"negative attempts", BackoffConfig{MaxAttempts: -1}, "BackoffConfig.MaxAttempts is -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want an error wrapping ErrInvalidConfig containing %q", err, tc.want)
			}
		})
	}
}

func TestBackoffConfigValidateReportsAll(t *testing.T) {
	err := BackoffConfig{Initial: -1, Multiplier: 0.5, Jitter: 2, MaxAttempts: -1}.Validate()
	for _, want := range []string{"Initial", "Multiplier", "Jitter", "MaxAttempts"} {
		if err == nil || !strings.Contains(err.Error(), "BackoffConfig."+want) {
			t.Errorf("Validate() = %v, does not name %s", err, want)
		}
	}
}

// TestBackoffDefaultRand checks that the default jitter source stays within
// its bounds; the values themselves are random.
func TestBackoffDefaultRand(t *testing.T) {
	s := ExponentialBackoff(BackoffConfig{Initial: time.Second, Max: time.Second})
	for i := range 100 {
		d, ok := s.Next(epoch.Add(time.Duration(i)*time.Second), errTransient)
		if !ok || d < 900*time.Millisecond || d > 1100*time.Millisecond {
			t.Fatalf("Next = %v, %t; want 1s±10%%", d, ok)
		}
	}
}
