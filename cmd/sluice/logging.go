package main

import (
	"context"
	"log/slog"
)

// routine are the runtime's per-checkpoint messages. On a terminal the
// progress line shows the last checkpoint, so at level info they are left
// out of the log there (they stay in JSON logs, and with --log-level debug).
var routine = map[string]bool{
	"checkpoint completed":                   true,
	"checkpoint storage: deleted checkpoint": true,
}

// terminalHandler drops routine messages below debug level.
type terminalHandler struct {
	slog.Handler
	debug bool
}

func (h terminalHandler) Handle(ctx context.Context, r slog.Record) error {
	if !h.debug && r.Level == slog.LevelInfo && routine[r.Message] {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h terminalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return terminalHandler{h.Handler.WithAttrs(attrs), h.debug}
}

func (h terminalHandler) WithGroup(name string) slog.Handler {
	return terminalHandler{h.Handler.WithGroup(name), h.debug}
}
