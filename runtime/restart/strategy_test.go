package restart

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
)

var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	errTransient = errors.New("connection reset")
	errFatal     = fmt.Errorf("commit checkpoint 7: %w", connector.Permanent(errors.New("transaction expired: data may be lost")))
)

// failure is one call of Next and what it must return.
type failure struct {
	at    time.Duration // since epoch
	err   error
	delay time.Duration
	ok    bool
}

// restartAfter and giveUp build failures for the tables.
func restartAfter(at time.Duration, delay time.Duration) failure {
	return failure{at: at, err: errTransient, delay: delay, ok: true}
}

func giveUp(at time.Duration) failure { return failure{at: at, err: errTransient} }

func unrecoverable(at time.Duration) failure { return failure{at: at, err: errFatal} }

// fixedRand returns the values in turn, forever.
func fixedRand(vals ...float64) func() float64 {
	i := 0
	return func() float64 {
		v := vals[i%len(vals)]
		i++
		return v
	}
}

func TestStrategies(t *testing.T) {
	const s, m, h = time.Second, time.Minute, time.Hour
	for _, tc := range []struct {
		name     string
		strategy Strategy
		str      string
		failures []failure
	}{
		{
			name: "none", strategy: None(), str: "none",
			failures: []failure{giveUp(0)},
		},
		{
			name: "fixed delay gives up after its attempts", strategy: FixedDelay(3, s), str: "fixed-delay(3 attempts, 1s)",
			failures: []failure{restartAfter(0, s), restartAfter(h, s), restartAfter(100*h, s), giveUp(1000 * h)},
		},
		{
			name: "fixed delay, nil cause", strategy: FixedDelay(1, 2*s), str: "fixed-delay(1 attempt, 2s)",
			failures: []failure{{at: 0, err: nil, delay: 2 * s, ok: true}, {at: s, err: nil}},
		},
		{
			name: "fixed delay, zero attempts", strategy: FixedDelay(0, s), str: "fixed-delay(0 attempts, 1s)",
			failures: []failure{giveUp(0)},
		},
		{
			name: "fixed delay, unlimited", strategy: FixedDelay(-1, 0), str: "fixed-delay(unlimited attempts, 0s)",
			failures: []failure{restartAfter(0, 0), restartAfter(0, 0), restartAfter(0, 0), restartAfter(0, 0), unrecoverable(0)},
		},
		{
			name: "fixed delay, unrecoverable first", strategy: FixedDelay(3, s), str: "fixed-delay(3 attempts, 1s)",
			failures: []failure{unrecoverable(0)},
		},
		{
			name: "failure rate: more than max within the interval", strategy: FailureRate(3, m, 5*s), str: "failure-rate(3 failures per 1m0s, 5s)",
			failures: []failure{restartAfter(0, 5*s), restartAfter(10*s, 5*s), restartAfter(20*s, 5*s), giveUp(30 * s)},
		},
		{
			name: "failure rate: the window slides", strategy: FailureRate(2, m, s), str: "failure-rate(2 failures per 1m0s, 1s)",
			failures: []failure{
				restartAfter(0, s), restartAfter(30*s, s),
				// The failure at 0 is exactly interval old: still within.
				giveUp(60 * s),
			},
		},
		{
			name: "failure rate: old failures leave the window", strategy: FailureRate(2, m, s), str: "failure-rate(2 failures per 1m0s, 1s)",
			failures: []failure{
				restartAfter(0, s), restartAfter(30*s, s),
				restartAfter(60*s+1, s), // 0 has left; 30s, 60s+1ns within
				giveUp(61 * s),          // 30s, 60s+1ns, 61s: three within
			},
		},
		{
			name: "failure rate: steady failures below the rate run forever", strategy: FailureRate(1, m, s), str: "failure-rate(1 failures per 1m0s, 1s)",
			failures: []failure{restartAfter(0, s), restartAfter(2*m, s), restartAfter(4*m, s), restartAfter(6*m, s), restartAfter(8*m, s)},
		},
		{
			name: "failure rate: zero failures allowed", strategy: FailureRate(0, m, s), str: "failure-rate(0 failures per 1m0s, 1s)",
			failures: []failure{giveUp(0)},
		},
		{
			name: "failure rate: unrecoverable", strategy: FailureRate(10, m, s), str: "failure-rate(10 failures per 1m0s, 1s)",
			failures: []failure{restartAfter(0, s), unrecoverable(s)},
		},
		{
			name:     "exponential: grows to max, no jitter",
			strategy: ExponentialBackoff(BackoffConfig{Initial: s, Max: 10 * s, Jitter: -1}),
			str:      "exponential-backoff(initial 1s, max 10s, multiplier 2, jitter 0, reset after 1h0m0s, unlimited attempts)",
			failures: []failure{
				restartAfter(0, s), restartAfter(2*s, 2*s), restartAfter(5*s, 4*s), restartAfter(10*s, 8*s),
				restartAfter(20*s, 10*s), restartAfter(40*s, 10*s), unrecoverable(m),
			},
		},
		{
			name:     "exponential: defaults, with jitter from an injected source",
			strategy: ExponentialBackoff(BackoffConfig{Rand: fixedRand(0, 0.5, 0.75)}),
			str:      "exponential-backoff(initial 1s, max 1m0s, multiplier 2, jitter 0.1, reset after 1h0m0s, unlimited attempts)",
			failures: []failure{
				restartAfter(0, 900*time.Millisecond),    // 1s·0.9
				restartAfter(s, 2*s),                     // 2s·1.0
				restartAfter(5*s, 4200*time.Millisecond), // 4s·1.05
			},
		},
		{
			name:     "exponential: resets after a quiet period counted from the restart",
			strategy: ExponentialBackoff(BackoffConfig{Initial: s, Max: m, Multiplier: 3, Jitter: -1, ResetAfter: 10 * m}),
			str:      "exponential-backoff(initial 1s, max 1m0s, multiplier 3, jitter 0, reset after 10m0s, unlimited attempts)",
			failures: []failure{
				restartAfter(0, s), restartAfter(m, 3*s), restartAfter(2*m, 9*s), // restarted at 2m9s
				restartAfter(12*m+8*s, 27*s), // 1s short of the quiet period: grows; restarted at 12m35s
				restartAfter(13*m, m),        // 81s, capped; restarted at 14m
				restartAfter(24*m, s),        // quiet for 10m since the restart: reset
				restartAfter(24*m+s, 3*s),
			},
		},
		{
			name:     "exponential: max attempts, counted since the last reset",
			strategy: ExponentialBackoff(BackoffConfig{Initial: s, Max: m, Jitter: -1, ResetAfter: m, MaxAttempts: 2}),
			str:      "exponential-backoff(initial 1s, max 1m0s, multiplier 2, jitter 0, reset after 1m0s, 2 attempts)",
			failures: []failure{
				restartAfter(0, s), restartAfter(10*s, 2*s),
				restartAfter(72*s, s), // restarted at 12s; quiet for 1m: reset
				restartAfter(80*s, 2*s),
				giveUp(90 * s),
			},
		},
		{
			name:     "exponential: never reset",
			strategy: ExponentialBackoff(BackoffConfig{Initial: s, Max: 4 * s, Jitter: -1, ResetAfter: -1}),
			str:      "exponential-backoff(initial 1s, max 4s, multiplier 2, jitter 0, never reset, unlimited attempts)",
			failures: []failure{restartAfter(0, s), restartAfter(1000*h, 2*s), restartAfter(2000*h, 4*s)},
		},
		{
			name:     "exponential: full jitter range",
			strategy: ExponentialBackoff(BackoffConfig{Initial: 10 * s, Max: 10 * s, Jitter: 1, Rand: fixedRand(0, 0.25, 0.999)}),
			str:      "exponential-backoff(initial 10s, max 10s, multiplier 2, jitter 1, reset after 1h0m0s, unlimited attempts)",
			failures: []failure{restartAfter(0, 0), restartAfter(s, 5*s), restartAfter(2*s, 19980*time.Millisecond)},
		},
		{
			name:     "exponential: a huge max saturates instead of overflowing",
			strategy: ExponentialBackoff(BackoffConfig{Initial: 1 << 61, Max: 1<<63 - 1, Jitter: -1, ResetAfter: -1}),
			str:      "exponential-backoff(initial 640511h56m49.213693952s, max 2562047h47m16.854775807s, multiplier 2, jitter 0, never reset, unlimited attempts)",
			failures: []failure{restartAfter(0, 1<<61), restartAfter(0, 1<<62), restartAfter(0, 1<<63-1), restartAfter(0, 1<<63-1)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.strategy.String(); got != tc.str {
				t.Errorf("String() = %q, want %q", got, tc.str)
			}
			for i, f := range tc.failures {
				delay, ok := tc.strategy.Next(epoch.Add(f.at), f.err)
				if delay != f.delay || ok != f.ok {
					t.Fatalf("failure %d at %v (%v): Next = %v, %t; want %v, %t", i, f.at, f.err, delay, ok, f.delay, f.ok)
				}
			}
		})
	}
}

func TestConstructorsPanicOnInvalidArguments(t *testing.T) {
	for _, tc := range []struct {
		name string
		new  func() Strategy
		want string
	}{
		{"fixed negative delay", func() Strategy { return FixedDelay(1, -time.Second) }, "FixedDelay delay is -1s"},
		{"rate negative max", func() Strategy { return FailureRate(-1, time.Minute, 0) }, "FailureRate maxFailures is -1"},
		{"rate zero interval", func() Strategy { return FailureRate(1, 0, 0) }, "FailureRate interval is 0s"},
		{"rate negative delay", func() Strategy { return FailureRate(1, time.Minute, -1) }, "FailureRate delay is -1ns"},
		{"backoff invalid", func() Strategy { return ExponentialBackoff(BackoffConfig{Multiplier: 0.5}) }, "BackoffConfig.Multiplier is 0.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				err, _ := recover().(error)
				if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("panic %v, want an error wrapping ErrInvalidConfig containing %q", err, tc.want)
				}
			}()
			tc.new()
		})
	}
}
