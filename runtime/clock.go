package runtime

import (
	"container/heap"
	"time"
)

// Clock is the source of processing time. The default is the system clock;
// tests use a manual clock (sluicetest) to control processing time.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d; Stop cancels it.
	AfterFunc(d time.Duration, f func()) Stopper
}

// Stopper cancels a scheduled callback.
type Stopper interface{ Stop() bool }

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Stopper { return time.AfterFunc(d, f) }

// timerService is a task's processing-time service: a heap of callbacks and
// one clock timer for the earliest. Callbacks run in the task goroutine,
// posted through the mailbox.
type timerService struct {
	clock   Clock
	mail    *mailbox
	h       timerHeap
	seq     uint64
	armedAt int64 // the deadline the clock timer is armed for; 0 when not armed
	stop    Stopper
}

type timerEntry struct {
	ts  int64
	seq uint64
	fn  func(now int64) error
}

type timerHeap []timerEntry

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].ts != h[j].ts {
		return h[i].ts < h[j].ts
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func (s *timerService) Now() int64 { return s.clock.Now().UnixMilli() }

func (s *timerService) Schedule(ts int64, fn func(now int64) error) {
	s.seq++
	heap.Push(&s.h, timerEntry{ts: ts, seq: s.seq, fn: fn})
	s.arm()
}

// arm makes sure the clock timer fires for the earliest deadline.
func (s *timerService) arm() {
	if len(s.h) == 0 {
		return
	}
	next := s.h[0].ts
	if s.armedAt != 0 && s.armedAt <= next {
		return
	}
	if s.stop != nil {
		s.stop.Stop()
	}
	s.armedAt = next
	d := time.Duration(next-s.Now()) * time.Millisecond
	if d < 0 {
		d = 0
	}
	s.stop = s.clock.AfterFunc(d, func() { s.mail.post("timers", 0, s.fire) })
}

// fire runs due callbacks; it runs in the task goroutine.
func (s *timerService) fire() error {
	s.armedAt = 0
	s.stop = nil
	now := s.Now()
	for len(s.h) > 0 && s.h[0].ts <= now {
		e := heap.Pop(&s.h).(timerEntry)
		if err := e.fn(now); err != nil {
			return err
		}
	}
	s.arm()
	return nil
}

func (s *timerService) close() {
	if s.stop != nil {
		s.stop.Stop()
	}
}
