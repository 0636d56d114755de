package eventtime

// Generator derives watermarks from the timestamps of the events it sees. The
// runtime keeps one per source split (or one per subtask when the strategy is
// applied after the source) and calls it from one goroutine only.
//
// OnEvent is called for every record with its event timestamp ts. It must be
// cheap and must not allocate.
//
// OnPeriodicEmit is called on every auto-watermark interval and returns the
// current watermark: no more records with a timestamp <= the returned value
// are expected. It returns MinWatermark while nothing is known. The caller
// emits a watermark only when the value exceeds the last one emitted, so a
// generator may return the same or a smaller value again.
type Generator interface {
	OnEvent(ts int64)
	OnPeriodicEmit() int64
}

// boundedGenerator implements bounded out-of-orderness: after seeing a
// maximum timestamp maxTs it declares maxTs - bound - 1, i.e. records up to
// bound milliseconds behind the newest one are still on time.
type boundedGenerator struct {
	maxTs int64 // MinWatermark until the first event
	delay int64 // bound + 1
}

func (g *boundedGenerator) OnEvent(ts int64) {
	if ts > g.maxTs {
		g.maxTs = ts
	}
}

func (g *boundedGenerator) OnPeriodicEmit() int64 { return subSat(g.maxTs, g.delay) }

// noWatermarks is the generator of a strategy without watermarks.
type noWatermarks struct{}

func (noWatermarks) OnEvent(int64)         {}
func (noWatermarks) OnPeriodicEmit() int64 { return MinWatermark }
