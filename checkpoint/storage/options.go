package storage

import (
	"log/slog"
	"time"
)

// Option configures a Storage opened by Open or OpenBucket.
type Option func(*config)

type config struct {
	logger *slog.Logger
	fs     FS
	now    func() time.Time
}

func defaultConfig() config {
	return config{logger: slog.New(slog.DiscardHandler), now: time.Now}
}

// WithLogger sets the logger for skipped checkpoints, removed leftovers and
// retention. Default: a logger that discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithFS sets the file system of the local backend, for tests that record
// operations or inject faults. Default: OSFS(). Open refuses it for a
// location that is not local.
func WithFS(fs FS) Option {
	return func(c *config) { c.fs = fs }
}

// WithClock sets the clock that stamps the creation time of checkpoints, for
// reproducible tests. Default: time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}
