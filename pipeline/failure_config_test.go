package pipeline

import (
	"strings"
	"testing"
	"time"
)

// TestFailureSettings: checkpoints.stop_timeout and
// restart.max_repeated_failures reach the runtime's configuration, and
// wrong values are reported with their key.
func TestFailureSettings(t *testing.T) {
	for _, c := range []struct {
		yaml     string
		stop     time.Duration
		repeated int
		err      string
	}{
		{yaml: "checkpoints: {interval: 1s, stop_timeout: 20s}\n", stop: 20 * time.Second},
		{yaml: "restart: {strategy: fixed-delay, max_repeated_failures: 5}\n", repeated: 5},
		{yaml: "restart: {strategy: exponential-backoff, max_repeated_failures: -1}\n", repeated: -1},
		{yaml: "restart: {strategy: none}\n"},
		{yaml: "restart: {strategy: fixed-delay, max_repeated_failures: -2}\n", err: "restart.max_repeated_failures"},
		{yaml: "checkpoints: {interval: 1s, stop_timeout: -1s}\n", err: "checkpoints.stop_timeout"},
	} {
		p, err := Parse("t.yaml", []byte(minimal+c.yaml))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err = %v, want one naming %s", c.yaml, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.yaml, err)
		}
		e, err := Build(p, Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := e.Config()
		if cfg.StopTimeout != c.stop || cfg.MaxRepeatedFailures != c.repeated {
			t.Errorf("%s: stop timeout %v, max repeated failures %d; want %v, %d", c.yaml, cfg.StopTimeout, cfg.MaxRepeatedFailures, c.stop, c.repeated)
		}
	}
}
