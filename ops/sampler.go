package ops

import (
	"sync"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// rateWindow is the span rates and shares of time are computed over.
const rateWindow = 5 * time.Second

// sample is the job's counters at one moment.
type sample struct {
	at    time.Time
	ops   []runtime.OperatorMetrics // per operator, summed over subtasks
	times []runtime.SubtaskTimes
}

// sampler keeps the last samples of a job's counters, for rates and the
// dashboard's throughput chart.
type sampler struct {
	job *runtime.Job
	max int

	mu  sync.Mutex
	buf []sample // oldest first
}

func newSampler(job *runtime.Job, max int) *sampler {
	return &sampler{job: job, max: max}
}

func (s *sampler) take(now time.Time) {
	smp := sample{at: now, ops: runtime.SumBySubtask(s.job.Metrics()), times: s.job.Times()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf) >= s.max {
		copy(s.buf, s.buf[1:])
		s.buf = s.buf[:len(s.buf)-1]
	}
	s.buf = append(s.buf, smp)
}

// window returns the newest sample and the oldest one at most rateWindow
// before it (ok false when there are fewer than two samples).
func (s *sampler) window() (old, cur sample, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf) < 2 {
		return sample{}, sample{}, false
	}
	cur = s.buf[len(s.buf)-1]
	old = s.buf[len(s.buf)-2]
	for i := len(s.buf) - 2; i >= 0; i-- {
		if cur.at.Sub(s.buf[i].at) > rateWindow {
			break
		}
		old = s.buf[i]
	}
	return old, cur, true
}

// all returns a copy of the samples, oldest first.
func (s *sampler) all() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sample(nil), s.buf...)
}

// opRates returns records in and out per second by operator UID.
func (s *sampler) opRates() map[string][2]float64 {
	old, cur, ok := s.window()
	out := map[string][2]float64{}
	if !ok {
		return out
	}
	secs := cur.at.Sub(old.at).Seconds()
	if secs <= 0 {
		return out
	}
	prev := map[string]runtime.OperatorMetrics{}
	for _, m := range old.ops {
		prev[m.UID] = m
	}
	for _, m := range cur.ops {
		p := prev[m.UID]
		out[m.UID] = [2]float64{float64(m.RecordsIn-p.RecordsIn) / secs, float64(m.RecordsOut-p.RecordsOut) / secs}
	}
	return out
}

// shares are the shares of busy, idle and backpressured time of a subtask
// over the rate window.
type shares struct{ busy, idle, bp float64 }

// timeShares returns the shares of every vertex subtask, keyed by vertex id
// and subtask; the shares are of wall time, so that a subtask that has not
// run (during a restart) shows none.
func (s *sampler) timeShares() map[[2]int]shares {
	old, cur, ok := s.window()
	out := map[[2]int]shares{}
	if !ok {
		return out
	}
	wall := cur.at.Sub(old.at)
	if wall <= 0 {
		return out
	}
	prev := map[[2]int]runtime.SubtaskTimes{}
	for _, t := range old.times {
		prev[[2]int{t.VertexID, t.Subtask}] = t
	}
	for _, t := range cur.times {
		k := [2]int{t.VertexID, t.Subtask}
		p := prev[k]
		out[k] = shares{
			busy: clamp01(float64(t.Busy-p.Busy) / float64(wall)),
			idle: clamp01(float64(t.Idle-p.Idle) / float64(wall)),
			bp:   clamp01(float64(t.Backpressured-p.Backpressured) / float64(wall)),
		}
	}
	return out
}

func clamp01(f float64) float64 { return min(max(f, 0), 1) }
