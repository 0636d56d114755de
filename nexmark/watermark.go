package nexmark

import (
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/stream"
)

// Watermarks returns the watermark strategy of the reference: per split,
// the newest event time minus cfg.WatermarkDelay (4 s by default). Events
// carry their time as record timestamp already, so the strategy has no
// timestamp assigner.
func Watermarks(cfg Config) eventtime.Strategy[Event] {
	delay := cfg.withDefaults().WatermarkDelay.Milliseconds()
	return eventtime.ForGenerator[Event](func() eventtime.Generator {
		return &delayed{max: eventtime.MinWatermark, delay: delay}
	})
}

// delayed declares the newest timestamp seen minus delay.
type delayed struct {
	max   int64
	delay int64
}

func (d *delayed) OnEvent(ts int64) {
	if ts > d.max {
		d.max = ts
	}
}

func (d *delayed) OnPeriodicEmit() int64 {
	if d.max == eventtime.MinWatermark {
		return eventtime.MinWatermark
	}
	return d.max - d.delay
}

// Events adds the source of cfg's events to env, with Watermarks(cfg).
func Events(env *stream.Env, cfg Config) (stream.Stream[Event], error) {
	src, err := NewSource(cfg)
	if err != nil {
		return stream.Stream[Event]{}, err
	}
	return stream.FromSource(env, "Nexmark", src, Watermarks(cfg)), nil
}
