package httpstream

import (
	"net/http"
	"testing"
	"time"
)

func TestXBackoffSchedules(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name string
		kind failKind
		want []time.Duration
	}{
		{"network errors: linear by 250ms up to 16s", failNetwork,
			[]time.Duration{250 * ms, 500 * ms, 750 * ms, time.Second}},
		{"HTTP errors: exponential from 5s up to 320s", failHTTP,
			[]time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 320 * time.Second, 320 * time.Second}},
		{"429: exponential from 1m", failRateLimit,
			[]time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := backoffState{b: XBackoff()}
			for i, want := range c.want {
				if got := s.next(c.kind, time.Time{}, time.Now()); got != want {
					t.Fatalf("attempt %d: %v, want %v", i+1, got, want)
				}
			}
		})
	}
	s := backoffState{b: XBackoff()}
	var last time.Duration
	for range 100 {
		last = s.next(failNetwork, time.Time{}, time.Now())
	}
	if last != 16*time.Second {
		t.Fatalf("network backoff after 100 errors: %v, want 16s", last)
	}
	s.reset()
	if d := s.next(failNetwork, time.Time{}, time.Now()); d != 250*ms {
		t.Fatalf("after reset: %v", d)
	}
	// Kinds count separately: an HTTP error after network errors starts at 5s.
	if d := s.next(failHTTP, time.Time{}, time.Now()); d != 5*time.Second {
		t.Fatalf("first HTTP error after network errors: %v", d)
	}
}

func TestRateLimitResetIsWaitedFor(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	h := http.Header{}
	h.Set("x-rate-limit-reset", "1700000300") // in 5 minutes
	reset := rateLimitReset(h, now)
	s := backoffState{b: XBackoff()}
	if d := s.next(failRateLimit, reset, now); d != 5*time.Minute {
		t.Fatalf("first 429 with reset in 5m: %v, want 5m", d)
	}
	// A reset in the past: the schedule's own delay.
	h.Set("x-rate-limit-reset", "1699999000")
	if d := s.next(failRateLimit, rateLimitReset(h, now), now); d != 2*time.Minute {
		t.Fatalf("second 429 with a past reset: %v, want 2m", d)
	}
	// A reset beyond the cap is capped.
	h.Set("x-rate-limit-reset", "1700009999")
	if d := s.next(failRateLimit, rateLimitReset(h, now), now); d != 15*time.Minute {
		t.Fatalf("429 with a reset in hours: %v, want 15m", d)
	}
	h = http.Header{}
	h.Set("Retry-After", "7")
	if got := rateLimitReset(h, now); !got.Equal(now.Add(7 * time.Second)) {
		t.Fatalf("Retry-After: %v", got)
	}
}

func TestBackoffDefaults(t *testing.T) {
	b := Backoff{NetworkStep: time.Millisecond}.withDefaults()
	if b.NetworkMax != 16*time.Second || b.HTTPFirst != 5*time.Second || b.RateLimitFirst != time.Minute {
		t.Fatalf("%+v", b)
	}
}
