package httpstream

import "time"

// Backoff is the reconnection schedule, in the X API's manner: linear
// after network errors, exponential after HTTP errors, exponential from a
// longer first delay after throttling (HTTP 429). A connection that was
// healthy (it delivered data for at least a keep-alive period) and then
// dropped is reconnected at once.
type Backoff struct {
	// NetworkStep is added to the delay after every network error in a
	// row (connection refused or reset, timeouts, a connection that
	// dropped before it was healthy, a stall), up to NetworkMax. X: 250ms
	// up to 16s.
	NetworkStep, NetworkMax time.Duration
	// HTTPFirst is the delay after an HTTP error (5xx, 408), doubled after
	// every further one in a row, up to HTTPMax. X: 5s up to 320s.
	HTTPFirst, HTTPMax time.Duration
	// RateLimitFirst is the delay after HTTP 429 (or 420), doubled after
	// every further one in a row, up to RateLimitMax; a later
	// x-rate-limit-reset (or Retry-After) is waited for instead, within
	// RateLimitMax. X: from 1m; the cap is 15m, X's rate-limit window.
	RateLimitFirst, RateLimitMax time.Duration
}

// XBackoff returns the X API's reconnection schedule, the default.
func XBackoff() Backoff {
	return Backoff{
		NetworkStep: 250 * time.Millisecond, NetworkMax: 16 * time.Second,
		HTTPFirst: 5 * time.Second, HTTPMax: 320 * time.Second,
		RateLimitFirst: time.Minute, RateLimitMax: 15 * time.Minute,
	}
}

// withDefaults fills the zero fields of b from XBackoff.
func (b Backoff) withDefaults() Backoff {
	d := XBackoff()
	if b.NetworkStep <= 0 {
		b.NetworkStep = d.NetworkStep
	}
	if b.NetworkMax <= 0 {
		b.NetworkMax = max(d.NetworkMax, b.NetworkStep)
	}
	if b.HTTPFirst <= 0 {
		b.HTTPFirst = d.HTTPFirst
	}
	if b.HTTPMax <= 0 {
		b.HTTPMax = max(d.HTTPMax, b.HTTPFirst)
	}
	if b.RateLimitFirst <= 0 {
		b.RateLimitFirst = d.RateLimitFirst
	}
	if b.RateLimitMax <= 0 {
		b.RateLimitMax = max(d.RateLimitMax, b.RateLimitFirst)
	}
	return b
}

// failKind is the kind of a failed attempt, which picks the schedule.
type failKind uint8

const (
	failNetwork failKind = iota
	failHTTP
	failRateLimit
)

func (k failKind) String() string {
	switch k {
	case failHTTP:
		return "HTTP error"
	case failRateLimit:
		return "rate limited"
	}
	return "network error"
}

// backoffState counts the failures in a row of each kind. It does no
// I/O: the caller sleeps.
type backoffState struct {
	b Backoff
	n [3]int
}

// reset starts over after a healthy connection.
func (s *backoffState) reset() { s.n = [3]int{} }

// next returns the delay before the next attempt after a failure of
// kind. reset is the time the server named for the end of throttling
// (zero: none), now the current time.
func (s *backoffState) next(kind failKind, reset, now time.Time) time.Duration {
	s.n[kind]++
	n := s.n[kind]
	switch kind {
	case failHTTP:
		return doubled(s.b.HTTPFirst, n, s.b.HTTPMax)
	case failRateLimit:
		d := doubled(s.b.RateLimitFirst, n, s.b.RateLimitMax)
		if !reset.IsZero() {
			d = max(d, reset.Sub(now))
		}
		return min(d, s.b.RateLimitMax)
	}
	if n > int(s.b.NetworkMax/s.b.NetworkStep)+1 {
		return s.b.NetworkMax
	}
	return min(time.Duration(n)*s.b.NetworkStep, s.b.NetworkMax)
}

// doubled returns first doubled n-1 times, at most limit.
func doubled(first time.Duration, n int, limit time.Duration) time.Duration {
	d := first
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}
