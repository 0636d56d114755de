package rabbitmq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// acks is a reader's bookkeeping of acknowledgements and, with
// deduplication, of the ids of the messages that may still be delivered
// again. It does no I/O: the reader feeds it deliveries and checkpoint
// events and sends the acknowledgements it asks for.
//
// Deliveries are grouped in batches, one per checkpoint: the batch open
// when the reader snapshots checkpoint n is closed with n and acknowledged
// once n completes (or a later checkpoint, completion being subsuming).
// Delivery tags belong to one channel; after a reconnect (a new
// generation) the tags of the old channel can no longer be acknowledged,
// and the broker delivers those messages again.
//
// With deduplication every emitted message's id is kept until its
// acknowledgement is known to have reached the broker (a round trip on the
// channel after the ack): until then the broker may deliver it again, and
// the copy is dropped (and acknowledged with the current batch). The ids
// go into the reader's state, so a restored reader drops the copies of
// messages whose effects the restored checkpoint holds. Ids whose
// acknowledgement is unknown (restored ids, ids of a lost channel) are
// orphans: kept until their copy shows up and is acknowledged, or until
// the horizon has passed.
type acks struct {
	dedupe  bool
	horizon time.Duration

	batches []batch // closed, in checkpoint order
	cur     batch
	nextSeq int64
	ids     map[string]idEntry
}

// batch is the deliveries of one checkpoint.
type batch struct {
	seq    int64
	cp     int64  // the checkpoint that closed it
	gen    uint64 // channel generation of maxTag
	maxTag uint64 // 0: nothing to acknowledge
	ids    []string
}

// idEntry is where an id stands: acknowledged with batch seq, or an orphan
// since a time (seq 0).
type idEntry struct {
	seq   int64
	since time.Time
}

func newAcks(dedupe bool, horizon time.Duration) *acks {
	a := &acks{dedupe: dedupe, horizon: horizon, nextSeq: 2}
	a.cur.seq = 1
	if dedupe {
		a.ids = map[string]idEntry{}
	}
	return a
}

// deliver records a delivery with tag on channel generation gen and, with
// deduplication, its id; it reports whether the message is a copy of one
// already emitted (then it must be dropped, but it is acknowledged with the
// current batch all the same).
func (a *acks) deliver(gen, tag uint64, id string) (dup bool) {
	if gen != a.cur.gen || tag > a.cur.maxTag {
		a.cur.gen, a.cur.maxTag = gen, tag
	}
	if !a.dedupe || id == "" {
		return false
	}
	_, dup = a.ids[id]
	a.ids[id] = idEntry{seq: a.cur.seq}
	a.cur.ids = append(a.cur.ids, id)
	return dup
}

// snapshot closes the current batch with checkpoint cp, drops orphans
// older than the horizon, and returns the reader's state: the ids kept.
func (a *acks) snapshot(cp int64, now time.Time) []byte {
	if a.cur.maxTag != 0 || len(a.cur.ids) > 0 {
		a.cur.cp = cp
		a.batches = append(a.batches, a.cur)
	}
	a.cur = batch{seq: a.nextSeq}
	a.nextSeq++
	if !a.dedupe {
		return nil
	}
	for id, e := range a.ids {
		if e.seq == 0 && now.Sub(e.since) > a.horizon {
			delete(a.ids, id)
		}
	}
	return encodeIDs(a.ids)
}

// complete pops the batches that checkpoint cp covers and returns the tag
// to acknowledge (multiple) on channel generation gen, 0 for none. The
// caller reports the outcome with confirmed or lost.
func (a *acks) complete(cp int64, gen uint64) (tag uint64, done []batch) {
	n := 0
	for n < len(a.batches) && a.batches[n].cp <= cp {
		if b := a.batches[n]; b.gen == gen && b.maxTag > tag {
			tag = b.maxTag
		}
		n++
	}
	done = a.batches[:n:n]
	a.batches = a.batches[n:]
	return tag, done
}

// confirmed records that the acknowledgement of done on generation gen
// reached the broker: their ids are dropped. The ids of batches of
// another generation become orphans.
func (a *acks) confirmed(done []batch, gen uint64, now time.Time) {
	for _, b := range done {
		if b.gen != gen && b.maxTag != 0 {
			a.orphan(b, now)
			continue
		}
		for _, id := range b.ids {
			if e, ok := a.ids[id]; ok && e.seq == b.seq {
				delete(a.ids, id)
			}
		}
	}
}

// lost records that the acknowledgement of done may not have reached the
// broker (the channel failed): their ids become orphans.
func (a *acks) lost(done []batch, now time.Time) {
	for _, b := range done {
		a.orphan(b, now)
	}
}

func (a *acks) orphan(b batch, now time.Time) {
	for _, id := range b.ids {
		if e, ok := a.ids[id]; ok && e.seq == b.seq {
			a.ids[id] = idEntry{since: now}
		}
	}
}

// restore adds the ids of restored reader states as orphans.
func (a *acks) restore(states [][]byte, now time.Time) error {
	for i, s := range states {
		ids, err := decodeIDs(s)
		if err != nil {
			return fmt.Errorf("rabbitmq: reader state %d of the checkpoint: %w", i, err)
		}
		if !a.dedupe {
			continue // deduplication was turned off: the ids are not needed
		}
		for _, id := range ids {
			a.ids[id] = idEntry{since: now}
		}
	}
	return nil
}

// pendingIDs is the number of ids kept.
func (a *acks) pendingIDs() int { return len(a.ids) }

// The reader state: version 1, the number of ids, then each id with its
// length, all as uvarints.
const stateVersion = 1

func encodeIDs(ids map[string]idEntry) []byte {
	b := []byte{stateVersion}
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for id := range ids {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
	}
	return b
}

var errState = errors.New("corrupt reader state")

// decodeIDs decodes a reader state; it never panics on bad input. An
// empty state holds no ids.
func decodeIDs(b []byte) ([]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != stateVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", errState, b[0], stateVersion)
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: bad id count", errState)
	}
	b = b[k:]
	ids := make([]string, 0, n)
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, fmt.Errorf("%w: id %d is cut short", errState, i)
		}
		ids = append(ids, string(b[k:k+int(l)]))
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last id", errState, len(b))
	}
	return ids, nil
}
