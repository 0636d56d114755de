package restart

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/connector"
)

// Defaults of [BackoffConfig], used for its zero options.
const (
	DefaultInitial    = time.Second // BackoffConfig.Initial
	DefaultMax        = time.Minute // BackoffConfig.Max, as in Flink since 1.19
	DefaultMultiplier = 2.0         // BackoffConfig.Multiplier
	DefaultJitter     = 0.1         // BackoffConfig.Jitter, as in Flink
	DefaultResetAfter = time.Hour   // BackoffConfig.ResetAfter, as in Flink
)

// BackoffConfig configures [ExponentialBackoff]. The zero BackoffConfig is
// valid and uses every default.
type BackoffConfig struct {
	// Initial is the delay before the first restart, and the first after a
	// reset. 0 means DefaultInitial (1s).
	Initial time.Duration

	// Max caps the delay before jitter (so with jitter a delay may exceed
	// Max by up to Jitter·Max). 0 means DefaultMax (1m), or Initial if
	// Initial is larger. It must not be below Initial.
	Max time.Duration

	// Multiplier is the factor between consecutive delays. 0 means
	// DefaultMultiplier (2); otherwise it must be at least 1.
	Multiplier float64

	// Jitter spreads each delay uniformly over delay·(1±Jitter), so that
	// jobs (or subtasks) failing together do not restart in lockstep. 0
	// means DefaultJitter (0.1); a negative value disables jitter; it must
	// not exceed 1.
	Jitter float64

	// ResetAfter is the quiet period after which the backoff starts over
	// (delay Initial, attempts counted from 0): a failure that comes at
	// least ResetAfter after the previous restart (the previous failure
	// plus its delay) resets it. 0 means DefaultResetAfter (1h, as in
	// Flink); a negative value never resets.
	ResetAfter time.Duration

	// MaxAttempts is the number of restarts allowed since the last reset;
	// the failure after the last allowed restart fails the job. 0, the
	// default, means unlimited.
	MaxAttempts int

	// Rand returns uniformly distributed values in [0, 1) for jitter. nil
	// means math/rand/v2's Float64. Tests inject a deterministic source.
	Rand func() float64
}

// Validate reports every invalid option of c in one error (see
// [errors.Join]), each naming the option and wrapping [ErrInvalidConfig], or
// nil if c is valid.
func (c BackoffConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if c.Initial < 0 {
		bad("BackoffConfig.Initial is %v; it must not be negative", c.Initial)
	}
	if c.Max < 0 {
		bad("BackoffConfig.Max is %v; it must not be negative", c.Max)
	} else if c.Max > 0 && c.Max < c.withDefaults().Initial {
		bad("BackoffConfig.Max is %v; it must not be below Initial (%v)", c.Max, c.withDefaults().Initial)
	}
	if c.Multiplier != 0 && !(c.Multiplier >= 1 && !math.IsInf(c.Multiplier, 1)) {
		bad("BackoffConfig.Multiplier is %v; it must be 0 (the default, %v) or a finite number of at least 1", c.Multiplier, DefaultMultiplier)
	}
	if math.IsNaN(c.Jitter) || c.Jitter > 1 {
		bad("BackoffConfig.Jitter is %v; it must be at most 1 (0 for the default, %v; negative for none)", c.Jitter, DefaultJitter)
	}
	if c.MaxAttempts < 0 {
		bad("BackoffConfig.MaxAttempts is %d; it must be 0 (unlimited) or more", c.MaxAttempts)
	}
	return errors.Join(errs...)
}

// withDefaults returns c with every zero option set to its default and a
// negative Jitter set to 0.
func (c BackoffConfig) withDefaults() BackoffConfig {
	if c.Initial == 0 {
		c.Initial = DefaultInitial
	}
	if c.Max == 0 {
		c.Max = max(DefaultMax, c.Initial)
	}
	if c.Multiplier == 0 {
		c.Multiplier = DefaultMultiplier
	}
	switch {
	case c.Jitter == 0:
		c.Jitter = DefaultJitter
	case c.Jitter < 0:
		c.Jitter = 0
	}
	if c.ResetAfter == 0 {
		c.ResetAfter = DefaultResetAfter
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c
}

// ExponentialBackoff returns a Strategy whose delay starts at cfg.Initial
// and is multiplied by cfg.Multiplier with every failure, up to cfg.Max,
// each delay spread by cfg.Jitter. After a quiet period of cfg.ResetAfter
// the backoff starts over. If cfg.MaxAttempts is not 0 it gives up on the
// failure after MaxAttempts restarts without a reset.
//
// It panics with the error of [BackoffConfig.Validate] if cfg is invalid;
// validate configurations that come from users first.
//
// Its String is, for example, "exponential-backoff(initial 1s, max 1m0s,
// multiplier 2, jitter 0.1, reset after 1h0m0s, unlimited attempts)".
func ExponentialBackoff(cfg BackoffConfig) Strategy {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	return &exponentialBackoff{cfg: cfg.withDefaults()}
}

type exponentialBackoff struct {
	cfg BackoffConfig // defaults applied

	attempts  int           // restarts since the last reset
	backoff   time.Duration // the delay before jitter of the last restart
	restarted time.Time     // when the last restart happened (failure + delay)
}

func (s *exponentialBackoff) Next(now time.Time, err error) (time.Duration, bool) {
	if connector.IsPermanent(err) {
		return 0, false
	}
	if s.attempts > 0 && s.cfg.ResetAfter > 0 && !now.Before(s.restarted.Add(s.cfg.ResetAfter)) {
		s.attempts = 0
	}
	if s.cfg.MaxAttempts > 0 && s.attempts >= s.cfg.MaxAttempts {
		return 0, false
	}
	if s.attempts == 0 {
		s.backoff = s.cfg.Initial
	} else {
		s.backoff = min(scale(s.backoff, s.cfg.Multiplier), s.cfg.Max)
	}
	s.attempts++
	delay := s.backoff
	if j := s.cfg.Jitter; j > 0 {
		delay = scale(delay, 1+j*(2*s.cfg.Rand()-1))
	}
	s.restarted = now.Add(delay)
	return delay, true
}

func (s *exponentialBackoff) String() string {
	reset := "never reset"
	if s.cfg.ResetAfter > 0 {
		reset = "reset after " + s.cfg.ResetAfter.String()
	}
	n := -1
	if s.cfg.MaxAttempts > 0 {
		n = s.cfg.MaxAttempts
	}
	return fmt.Sprintf("exponential-backoff(initial %v, max %v, multiplier %s, jitter %s, %s, %s)",
		s.cfg.Initial, s.cfg.Max, formatFloat(s.cfg.Multiplier), formatFloat(s.cfg.Jitter), reset, attempts(n))
}

// scale returns d·f, f >= 0, saturating at the largest Duration.
func scale(d time.Duration, f float64) time.Duration {
	if p := float64(d) * f; p < math.MaxInt64 {
		return time.Duration(p)
	}
	return math.MaxInt64
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
