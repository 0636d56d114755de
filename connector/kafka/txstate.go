package kafka

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/sluicehq/sluice/internal/wire"
)

// transactionalID is the id of slot n of subtask's pool.
func transactionalID(prefix string, subtask, n int) string {
	return prefix + "-" + strconv.Itoa(subtask) + "-" + strconv.Itoa(n)
}

// committable is what the exactly-once writer hands the committer for one
// transaction: enough to end it with EndTxn from any process, without the
// producer that wrote it.
type committable struct {
	TransactionalID string
	ProducerID      int64
	ProducerEpoch   int16
	// Checkpoint is the id of the checkpoint (or savepoint) whose barrier
	// pre-committed the transaction.
	Checkpoint int64
}

const committableVersion = 1

func (c *committable) encode() []byte {
	b := binary.AppendUvarint(nil, committableVersion)
	b = appendString(b, c.TransactionalID)
	b = binary.AppendVarint(b, c.ProducerID)
	b = binary.AppendVarint(b, int64(c.ProducerEpoch))
	return binary.AppendVarint(b, c.Checkpoint)
}

func decodeCommittable(b []byte) (*committable, error) {
	d := wire.NewDecoder(b)
	if v := d.Uvarint(""); d.Err() == nil && v != committableVersion {
		return nil, fmt.Errorf("kafka: unknown committable version %d", v)
	}
	c := &committable{TransactionalID: d.String("", maxName), ProducerID: d.Varint(""), ProducerEpoch: d.Int16(""), Checkpoint: d.Varint("")}
	if err := d.Done(); err != nil {
		return nil, fmt.Errorf("kafka: decode committable: %w", err)
	}
	if c.TransactionalID == "" || c.ProducerID < 0 || c.ProducerEpoch < 0 {
		return nil, fmt.Errorf("kafka: invalid committable %+v", *c)
	}
	return c, nil
}

// slotState is the life of a transactional id of the pool.
type slotState uint8

const (
	// slotFree: never used by this run, or no transaction of the id is
	// held by a checkpoint that may be restored.
	slotFree slotState = iota
	// slotOpen: the current transaction, records are being written.
	slotOpen
	// slotPending: pre-committed at checkpoint (or savepoint) pre, not
	// yet committed.
	slotPending
	// slotCommitted: committed; the checkpoints pre..last hold it as
	// pending, and a restore of one of them commits it again, which must
	// find the transaction unchanged (its id not reused).
	slotCommitted
)

type slot struct {
	state slotState
	// pre is the id of the checkpoint whose barrier pre-committed the
	// transaction; last, once committed, the newest checkpoint id whose
	// snapshot may hold it as pending.
	pre, last int64
	pid       int64
	epoch     int16
}

// pool is the bounded set of transactional ids of one subtask, used in
// turn. An id is reused only when neither of the two latest completed
// checkpoints holds its previous transaction, so that restoring the
// latest checkpoint, or the one before should the latest be unreadable,
// commits transactions whose ids are unchanged. When no id is free that
// way, one that only checkpoints older than the latest hold is reused
// (restoring those would then report data loss where there is none);
// ids that the latest completed checkpoint holds are never reused.
type pool struct {
	slots []slot
	next  int // where the search for a free slot starts
	// l1 and l2 are the latest and the second latest completed
	// checkpoints (0: unknown).
	l1, l2 int64
}

// reusable reports whether slot s may start a new transaction: safe, or
// (degraded) only held by checkpoints older than the latest.
func (p *pool) reusable(s *slot) (safe, degraded bool) {
	switch s.state {
	case slotFree:
		return true, false
	case slotCommitted:
		return p.l2 > s.last, p.l1 > s.last
	}
	return false, false
}

// acquire returns a slot for a new transaction, taking the slots in turn
// so that an id is reused as late as possible, and whether the reuse is
// degraded; -1 when none can be used.
func (p *pool) acquire() (int, bool) {
	best, bestLast := -1, int64(0)
	for i := range p.slots {
		n := (p.next + i) % len(p.slots)
		safe, degraded := p.reusable(&p.slots[n])
		if safe {
			p.take(n)
			return n, false
		}
		if degraded && (best < 0 || p.slots[n].last < bestLast) {
			best, bestLast = n, p.slots[n].last
		}
	}
	if best >= 0 {
		p.take(best)
	}
	return best, best >= 0
}

func (p *pool) take(n int) {
	p.slots[n] = slot{state: slotOpen}
	p.next = (n + 1) % len(p.slots)
}

func (p *pool) count(s slotState) int {
	n := 0
	for _, sl := range p.slots {
		if sl.state == s {
			n++
		}
	}
	return n
}

// completed applies the completion of checkpoint id (subsuming: it covers
// every smaller id), lastBarrier being the newest barrier the writer has
// seen: pending slots that id covers become committed.
func (p *pool) completed(id, lastBarrier int64) {
	if id > p.l1 {
		p.l1, p.l2 = id, p.l1
	}
	for i := range p.slots {
		if s := &p.slots[i]; s.state == slotPending && s.pre <= id {
			s.state, s.last = slotCommitted, max(lastBarrier, id)
		}
	}
}

// restore loads the reserved slots of the state of checkpoint n, after
// which the committers commit the pending ones: n holds them all.
func (p *pool) restore(st *writerState) {
	p.l1, p.l2 = st.Checkpoint, 0
	if st.PoolSize == len(p.slots) {
		p.next = st.Next
	}
	for _, r := range st.Reserved {
		if r.Slot >= len(p.slots) {
			continue
		}
		s := slot{state: slotCommitted, pre: r.At, last: st.Checkpoint, pid: r.PID, epoch: r.Epoch}
		if r.Committed {
			s.pre, s.last = 0, r.At
		}
		p.slots[r.Slot] = s
	}
}

// reserved lists the slots a snapshot must hold: pending ones (At is the
// pre-commit's checkpoint) and committed ones an older checkpoint may
// hold (At is the newest such checkpoint).
func (p *pool) reserved() []reservedSlot {
	var out []reservedSlot
	for i, s := range p.slots {
		switch s.state {
		case slotPending:
			out = append(out, reservedSlot{Slot: i, At: s.pre, PID: s.pid, Epoch: s.epoch})
		case slotCommitted:
			if safe, _ := p.reusable(&s); !safe {
				out = append(out, reservedSlot{Slot: i, Committed: true, At: s.last, PID: s.pid, Epoch: s.epoch})
			}
		}
	}
	return out
}

// writerState is the exactly-once writer's checkpoint state, one entry per
// subtask: the pool's position and its ids that a restore of this
// checkpoint must not touch (pending: the checkpoint's committables;
// committed: possibly pending in the previous checkpoint).
type writerState struct {
	Prefix      string
	Subtask     int
	Parallelism int
	PoolSize    int
	Next        int
	Checkpoint  int64
	Reserved    []reservedSlot
}

type reservedSlot struct {
	Slot      int
	Committed bool // else pending
	// At is the checkpoint that pre-committed a pending transaction, or
	// the newest checkpoint that may hold a committed one as pending.
	At    int64
	PID   int64
	Epoch int16
}

const writerStateVersion = 1

func (s *writerState) encode() []byte {
	b := binary.AppendUvarint(nil, writerStateVersion)
	b = appendString(b, s.Prefix)
	b = binary.AppendUvarint(b, uint64(s.Subtask))
	b = binary.AppendUvarint(b, uint64(s.Parallelism))
	b = binary.AppendUvarint(b, uint64(s.PoolSize))
	b = binary.AppendUvarint(b, uint64(s.Next))
	b = binary.AppendVarint(b, s.Checkpoint)
	b = binary.AppendUvarint(b, uint64(len(s.Reserved)))
	for _, r := range s.Reserved {
		b = binary.AppendUvarint(b, uint64(r.Slot))
		var kind uint64 = 1
		if r.Committed {
			kind = 2
		}
		b = binary.AppendUvarint(b, kind)
		b = binary.AppendVarint(b, r.At)
		b = binary.AppendVarint(b, r.PID)
		b = binary.AppendVarint(b, int64(r.Epoch))
	}
	return b
}

// Limits of decoded writer state.
const (
	maxParallelism = 1 << 15
	maxPoolSize    = 1 << 12
)

func decodeWriterState(b []byte) (*writerState, error) {
	d := wire.NewDecoder(b)
	if v := d.Uvarint(""); d.Err() == nil && v != writerStateVersion {
		return nil, fmt.Errorf("kafka: unknown sink writer state version %d", v)
	}
	s := &writerState{Prefix: d.String("", maxName)}
	s.Subtask = d.Uint("", maxParallelism)
	s.Parallelism = d.Uint("", maxParallelism)
	s.PoolSize = d.Uint("", maxPoolSize)
	s.Next = d.Uint("", maxPoolSize)
	s.Checkpoint = d.Varint("")
	n := d.Count("", 1, maxPoolSize)
	for range n {
		r := reservedSlot{Slot: d.Uint("", maxPoolSize)}
		kind := d.Uvarint("")
		r.At, r.PID, r.Epoch = d.Varint(""), d.Varint(""), d.Int16("")
		if d.Err() != nil {
			break
		}
		if kind != 1 && kind != 2 {
			return nil, fmt.Errorf("kafka: sink writer state: unknown slot kind %d", kind)
		}
		r.Committed = kind == 2
		s.Reserved = append(s.Reserved, r)
	}
	if err := d.Done(); err != nil {
		return nil, fmt.Errorf("kafka: decode sink writer state: %w", err)
	}
	switch {
	case s.Prefix == "":
		return nil, fmt.Errorf("kafka: sink writer state without transactional id prefix")
	case s.Parallelism < 1 || s.Subtask >= s.Parallelism:
		return nil, fmt.Errorf("kafka: sink writer state of subtask %d of %d", s.Subtask, s.Parallelism)
	case s.PoolSize < 1 || s.Next >= s.PoolSize:
		return nil, fmt.Errorf("kafka: sink writer state with pool size %d and next slot %d", s.PoolSize, s.Next)
	}
	seen := make([]bool, s.PoolSize)
	for _, r := range s.Reserved {
		if r.Slot >= s.PoolSize || seen[r.Slot] {
			return nil, fmt.Errorf("kafka: sink writer state: slot %d out of range or twice", r.Slot)
		}
		seen[r.Slot] = true
	}
	return s, nil
}

// reservedSet is the set of slots of a restored entry.
func (s *writerState) reservedSet() map[int]bool {
	m := make(map[int]bool, len(s.Reserved))
	for _, r := range s.Reserved {
		m[r.Slot] = true
	}
	return m
}
