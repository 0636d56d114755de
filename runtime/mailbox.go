package runtime

import (
	"sync"
	"sync/atomic"
)

// mailbox carries actions into a task goroutine: processing-time timers,
// checkpoint triggers (sources), split assignments, checkpoint
// notifications. Actions run in the order they were posted. Posting never
// blocks; it rings the task's doorbell.
type mailbox struct {
	mu       sync.Mutex
	queue    []func() error
	n        atomic.Int32
	doorbell chan struct{}
}

func newMailbox(doorbell chan struct{}) *mailbox {
	return &mailbox{doorbell: doorbell}
}

func (m *mailbox) post(fn func() error) {
	m.mu.Lock()
	m.queue = append(m.queue, fn)
	m.n.Add(1)
	m.mu.Unlock()
	ring(m.doorbell)
}

// pending is cheap enough to call once per batch.
func (m *mailbox) pending() bool { return m.n.Load() > 0 }

// run executes every queued action, including those posted meanwhile.
func (m *mailbox) run() error {
	for m.pending() {
		m.mu.Lock()
		q := m.queue
		m.queue = nil
		m.n.Store(0)
		m.mu.Unlock()
		for _, fn := range q {
			if err := fn(); err != nil {
				return err
			}
		}
	}
	return nil
}

// ring wakes the owner of a doorbell without blocking.
func ring(doorbell chan struct{}) {
	select {
	case doorbell <- struct{}{}:
	default:
	}
}
