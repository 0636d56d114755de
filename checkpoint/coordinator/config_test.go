package coordinator

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for valid
	}{
		{"zero", Config{}, ""},
		{"typical", Config{Interval: time.Minute, Timeout: 5 * time.Minute, MinPause: 10 * time.Second, TolerableFailures: 3}, ""},
		{"minimums", Config{Interval: MinInterval, Timeout: MinInterval}, ""},
		{"unlimited failures", Config{TolerableFailures: UnlimitedFailures}, ""},
		{"restored", Config{FirstID: 42}, ""},
		{"concurrent with pause", Config{MaxConcurrent: 3, MinPause: time.Second}, ""},
		{"negative interval", Config{Interval: -time.Second}, "Interval is -1s"},
		{"interval in wrong unit", Config{Interval: 1000}, "Interval is 1µs; it must be 0 (no periodic checkpoints) or at least 10ms"},
		{"negative timeout", Config{Timeout: -1}, "Timeout is -1ns"},
		{"tiny timeout", Config{Timeout: time.Millisecond}, "Timeout is 1ms; it must be 0 (the default, 10m0s) or at least 10ms"},
		{"negative pause", Config{MinPause: -time.Second}, "MinPause is -1s"},
		{"negative concurrency", Config{MaxConcurrent: -1}, "MaxConcurrent is -1"},
		{"failures below -1", Config{TolerableFailures: -2}, "TolerableFailures is -2; it must be -1 (unlimited) or more"},
		{"negative first id", Config{FirstID: -5}, "FirstID is -5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, does not wrap ErrInvalidConfig", err)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	got := Config{}.withDefaults()
	want := Config{Timeout: DefaultTimeout, MaxConcurrent: DefaultMaxConcurrent, FirstID: 1}
	if got != want {
		t.Fatalf("defaults = %+v, want %+v", got, want)
	}
	set := Config{Interval: time.Second, Timeout: time.Minute, MinPause: time.Second, MaxConcurrent: 2, TolerableFailures: -1, FirstID: 7}
	if got := set.withDefaults(); got != set {
		t.Fatalf("withDefaults changed set options: %+v", got)
	}
}

func TestReasonsWrapSentinels(t *testing.T) {
	c, err := New(Config{Interval: time.Second, Timeout: time.Minute, MaxConcurrent: 3, TolerableFailures: -1}, []TaskID{{0, 0}}, epoch)
	if err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) time.Time { return epoch.Add(d) }
	cause := errors.New("disk full")
	c.Tick(at(time.Second))     // 1
	c.Tick(at(2 * time.Second)) // 2
	c.Tick(at(3 * time.Second)) // 3
	c.Decline(1, TaskID{0, 0}, cause, at(3*time.Second))
	c.Ack(2, TaskID{0, 0}, at(3*time.Second))
	c.Stored(2, cause, at(3*time.Second))
	c.Tick(at(4 * time.Second)) // 4
	c.Ack(4, TaskID{0, 0}, at(4*time.Second))
	c.Stored(4, nil, at(4*time.Second)) // subsumes 3
	c.Tick(at(5 * time.Second))         // 5
	c.Tick(at(65 * time.Second))        // 5 times out, 6 triggers
	c.Stop(cause)
	var reasons []error
	for _, a := range c.Ready() {
		if a, ok := a.(Abort); ok {
			reasons = append(reasons, a.Reason)
		}
	}
	want := []struct {
		sentinel error
		cause    bool
	}{{ErrDeclined, true}, {ErrStoreFailed, true}, {ErrSubsumed, false}, {ErrTimeout, false}, {ErrStopped, true}}
	if len(reasons) != len(want) {
		t.Fatalf("got %d aborts (%v), want %d", len(reasons), reasons, len(want))
	}
	for i, w := range want {
		if !errors.Is(reasons[i], w.sentinel) || errors.Is(reasons[i], cause) != w.cause {
			t.Errorf("abort %d: reason %v: want wrapping %v (and cause: %t)", i, reasons[i], w.sentinel, w.cause)
		}
	}
}
