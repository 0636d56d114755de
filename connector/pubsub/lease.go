package pubsub

import (
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
)

// leases is a reader's bookkeeping of the messages it received and has
// not acknowledged, shared by the subtask's goroutine (take, snapshot,
// complete) and the reader's pulling, extending and acknowledging
// goroutines. It does no I/O.
//
// A message goes through: buffered (received, waiting to be emitted) ->
// emitted (its record went downstream since the last snapshot) -> tagged
// with checkpoint n (emitted before the snapshot of n) -> acking (n
// completed; handed to the acknowledging goroutine) -> gone (acknowledged,
// or given up). Only emitted messages are ever acknowledged, and only once
// a checkpoint taken after their emission completed. Without holding
// (AckOnReceipt) messages are only buffered.
type leases struct {
	mu   sync.Mutex
	hold bool
	held map[string]*lease // by ack id
	// queue is what was received and not emitted yet, in order.
	queue  []*pubsubpb.ReceivedMessage
	qBytes int
	// untagged were emitted since the last snapshot; tagged before the
	// snapshot of their checkpoint.
	untagged []string
	tagged   []tagBatch
	// toAck waits for the acknowledging goroutine; inflight is what it
	// was handed and has not confirmed (restored ack ids too).
	toAck    []string
	inflight map[string]struct{}

	maxMsgs, maxBytes int
	room              chan struct{} // signalled when outstanding messages or bytes drop
	ackWake           chan struct{} // signalled when toAck grows
}

type lease struct {
	received time.Time
	state    leaseState
	lost     bool // the deadline can no longer be extended: Pub/Sub redelivers it
}

type leaseState uint8

const (
	buffered leaseState = iota
	emitted
	acking
)

type tagBatch struct {
	id     int64
	ackIDs []string
}

func newLeases(hold bool, maxMsgs, maxBytes int) *leases {
	return &leases{hold: hold, held: map[string]*lease{}, inflight: map[string]struct{}{},
		maxMsgs: maxMsgs, maxBytes: maxBytes, room: make(chan struct{}, 1), ackWake: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// space returns how many more messages may be pulled now (0: wait for
// room).
func (l *leases) space() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.queue)
	if l.hold {
		n = len(l.held)
	}
	if l.qBytes >= l.maxBytes {
		return 0
	}
	return max(l.maxMsgs-n, 0)
}

// add records received messages.
func (l *leases) add(msgs []*pubsubpb.ReceivedMessage, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range msgs {
		if l.hold {
			l.held[m.AckId] = &lease{received: now}
		}
		l.queue = append(l.queue, m)
		l.qBytes += receivedSize(m)
	}
}

// buffered reports whether messages wait to be emitted.
func (l *leases) pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}

// take removes up to n messages from the queue for emission; they count
// as emitted. Messages whose lease was lost while they waited are dropped
// (Pub/Sub redelivers them).
func (l *leases) take(n int) []*pubsubpb.ReceivedMessage {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*pubsubpb.ReceivedMessage
	i := 0
	for ; i < len(l.queue) && len(out) < n; i++ {
		m := l.queue[i]
		l.qBytes -= receivedSize(m)
		l.queue[i] = nil
		if !l.hold {
			out = append(out, m)
			continue
		}
		ls := l.held[m.AckId]
		if ls == nil || ls.lost {
			delete(l.held, m.AckId)
			continue
		}
		ls.state = emitted
		l.untagged = append(l.untagged, m.AckId)
		out = append(out, m)
	}
	l.queue = l.queue[i:]
	if len(l.queue) == 0 {
		l.queue = nil
	}
	if i > 0 {
		signal(l.room)
	}
	return out
}

// snapshot tags what was emitted since the last snapshot with checkpoint
// id and returns every ack id to acknowledge once a checkpoint up to id
// completes (restored as complete): the tagged and the in-flight ones.
func (l *leases) snapshot(id int64) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.untagged) > 0 {
		l.tagged = append(l.tagged, tagBatch{id: id, ackIDs: l.untagged})
		l.untagged = nil
	}
	var out []string
	for _, b := range l.tagged {
		out = append(out, b.ackIDs...)
	}
	out = append(out, l.toAck...)
	for id := range l.inflight {
		out = append(out, id)
	}
	return out
}

// complete queues for acknowledgement what was tagged with checkpoints
// up to id (completion is subsuming). It returns how many were queued.
func (l *leases) complete(id int64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	i := 0
	for ; i < len(l.tagged) && l.tagged[i].id <= id; i++ {
		for _, a := range l.tagged[i].ackIDs {
			if ls := l.held[a]; ls != nil {
				ls.state = acking
			}
			l.toAck = append(l.toAck, a)
			n++
		}
	}
	l.tagged = l.tagged[i:]
	if n > 0 {
		signal(l.ackWake)
	}
	return n
}

// queueAcks queues ack ids that are not leases of this reader (restored
// from a checkpoint) for acknowledgement.
func (l *leases) queueAcks(ids []string) {
	if len(ids) == 0 {
		return
	}
	l.mu.Lock()
	l.toAck = append(l.toAck, ids...)
	l.mu.Unlock()
	signal(l.ackWake)
}

// nextAcks hands the acknowledging goroutine up to n queued ack ids.
func (l *leases) nextAcks(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := min(n, len(l.toAck))
	out := append([]string(nil), l.toAck[:k]...)
	l.toAck = l.toAck[k:]
	for _, a := range out {
		l.inflight[a] = struct{}{}
	}
	return out
}

// retryAcks puts ack ids back in front of the queue.
func (l *leases) retryAcks(ids []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range ids {
		delete(l.inflight, a)
	}
	l.toAck = append(append([]string(nil), ids...), l.toAck...)
}

// done forgets ack ids: acknowledged, or given up (Pub/Sub redelivers
// their messages).
func (l *leases) done(ids []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range ids {
		delete(l.inflight, a)
		delete(l.held, a)
	}
	signal(l.room)
}

// acksPending reports whether acknowledgements wait or are in flight.
func (l *leases) acksPending() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.toAck) > 0 || len(l.inflight) > 0
}

// extendable returns the ack ids whose deadline is to be extended: held,
// not lost, not being acknowledged, received less than maxExt ago. Those
// that reached maxExt are marked lost; newlyLost counts them.
func (l *leases) extendable(now time.Time, maxExt time.Duration) (ids []string, newlyLost int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for a, ls := range l.held {
		if ls.lost || ls.state == acking {
			continue
		}
		if now.Sub(ls.received) >= maxExt {
			ls.lost = true
			newlyLost++
			continue
		}
		ids = append(ids, a)
	}
	return ids, newlyLost
}

// lose marks leases whose deadline Pub/Sub refused to extend.
func (l *leases) lose(ids []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range ids {
		if ls := l.held[a]; ls != nil {
			ls.lost = true
		}
	}
}

// unsnapshotted returns the ack ids that no snapshot holds (buffered, or
// emitted since the last snapshot): no checkpoint covers their records,
// so they can be handed back to Pub/Sub for redelivery at once.
func (l *leases) unsnapshotted() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]string(nil), l.untagged...)
	for _, m := range l.queue {
		if l.hold {
			out = append(out, m.AckId)
		}
	}
	return out
}

func receivedSize(m *pubsubpb.ReceivedMessage) int {
	if m.Message == nil {
		return 0
	}
	return messageSize(m.Message.Data, m.Message.Attributes)
}
