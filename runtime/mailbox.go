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
	queue    []mail
	n        atomic.Int32
	doorbell chan struct{}
}

// mail is one action. what and id say what it is ("trigger", 7), so that
// a mailbox's content can be told apart without running it.
type mail struct {
	what string
	id   int64 // the checkpoint the action is about; 0 if none
	fn   func() error
}

func newMailbox(doorbell chan struct{}) *mailbox {
	return &mailbox{doorbell: doorbell}
}

func (m *mailbox) post(what string, id int64, fn func() error) {
	m.mu.Lock()
	m.queue = append(m.queue, mail{what: what, id: id, fn: fn})
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
		for _, a := range q {
			if err := a.fn(); err != nil {
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
