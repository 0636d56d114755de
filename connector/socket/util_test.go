package socket_test

import (
	"context"
	"time"

	"github.com/sluicehq/sluice/eventtime"
)

func noWM() eventtime.Strategy[string] { return eventtime.NoWatermarks[string]() }

func ctxTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
