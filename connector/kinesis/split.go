package kinesis

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/internal/wire"
)

// Split is one shard of the stream and the reader's progress in it: the
// position of the next user record to emit.
//
//   - Seq empty: nothing was emitted yet; reading starts at Start (the
//     shard's oldest record, or a timestamp).
//   - Seq set, Sub 0: the record with sequence number Seq was emitted
//     whole; reading continues after it (AFTER_SEQUENCE_NUMBER).
//   - Seq set, Sub > 0: the aggregated record Seq was emitted up to user
//     record Sub-1; reading continues at Seq (AT_SEQUENCE_NUMBER),
//     skipping its first Sub user records.
//
// A finished split (Finished) is a shard read to its end that the
// enumerator's state may not hold as finished yet: it is carried in the
// reader's state until a checkpoint's enumerator state does, so that no
// restore reads it again or forgets it (and its children).
type Split struct {
	Stream string
	Shard  string
	// StartAt is the timestamp (unix milliseconds) to start at when Seq is
	// empty; 0: the shard's oldest record (TRIM_HORIZON).
	StartAt  int64
	Seq      string
	Sub      int64
	Finished bool
}

// SplitID is "stream/shard".
func (s *Split) SplitID() string { return s.Stream + "/" + s.Shard }

func (s *Split) validate() error {
	switch {
	case s.Stream == "" || s.Shard == "":
		return fmt.Errorf("kinesis: split without stream or shard (%q/%q)", s.Stream, s.Shard)
	case s.Sub < 0 || s.StartAt < 0:
		return fmt.Errorf("kinesis: split %s: negative position", s.SplitID())
	case s.Sub > 0 && s.Seq == "":
		return fmt.Errorf("kinesis: split %s: sub-sequence number without sequence number", s.SplitID())
	}
	for _, c := range s.Seq {
		if c < '0' || c > '9' {
			return fmt.Errorf("kinesis: split %s: sequence number %q is not decimal", s.SplitID(), s.Seq)
		}
	}
	return nil
}

// maxName bounds decoded names and sequence numbers (Kinesis: stream
// names up to 128 bytes, shard ids and sequence numbers far less).
const maxName = 1024

const splitVersion = 1

type splitCodec struct{}

func (splitCodec) Encode(sp connector.Split) ([]byte, error) {
	s, ok := sp.(*Split)
	if !ok {
		return nil, fmt.Errorf("kinesis: not a kinesis split: %T", sp)
	}
	return appendSplit(nil, s), nil
}

func appendSplit(b []byte, s *Split) []byte {
	b = binary.AppendUvarint(b, splitVersion)
	b = appendString(b, s.Stream)
	b = appendString(b, s.Shard)
	b = binary.AppendVarint(b, s.StartAt)
	b = appendString(b, s.Seq)
	b = binary.AppendVarint(b, s.Sub)
	var flags uint64
	if s.Finished {
		flags |= 1
	}
	return binary.AppendUvarint(b, flags)
}

func (splitCodec) Decode(b []byte) (connector.Split, error) { return decodeSplit(b) }

func decodeSplit(b []byte) (*Split, error) {
	d := wire.NewDecoder(b)
	if v := d.Uvarint(""); d.Err() == nil && v != splitVersion {
		return nil, fmt.Errorf("kinesis: unknown split encoding version %d", v)
	}
	s := &Split{Stream: d.String("", maxName), Shard: d.String("", maxName), StartAt: d.Varint(""),
		Seq: d.String("", maxName), Sub: d.Varint("")}
	flags := d.Uvarint("")
	if err := d.Done(); err != nil {
		return nil, fmt.Errorf("kinesis: decode split: %w", err)
	}
	if flags&^1 != 0 {
		return nil, fmt.Errorf("kinesis: unknown split flags %#x", flags)
	}
	s.Finished = flags&1 != 0
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// shardStatus is where a shard is in the enumerator's bookkeeping.
type shardStatus uint8

const (
	shardWaiting  shardStatus = iota // not assigned: its parents are not finished yet
	shardAssigned                    // handed to a reader (its progress is in the reader's split)
	shardFinished                    // read to its end (or skipped): never read again
)

// shardInfo is the enumerator's knowledge of a shard.
type shardInfo struct {
	parents []string
	status  shardStatus
	// startAt: the timestamp to start a waiting shard at (0: oldest).
	startAt int64
}

// enumState is what the enumerator puts into checkpoints: every shard it
// knows, with its parents and status. Finished shards are remembered (so
// a restore never reads a closed shard again) until the stream no longer
// lists them (their data expired).
type enumState struct {
	initialized bool
	shards      map[string]*shardInfo
}

const enumStateVersion = 1

// maxEntries bounds decoded collections.
const maxEntries = 1 << 20

func (st *enumState) encode() []byte {
	b := binary.AppendUvarint(nil, enumStateVersion)
	var flags uint64
	if st.initialized {
		flags |= 1
	}
	b = binary.AppendUvarint(b, flags)
	ids := make([]string, 0, len(st.shards))
	for id := range st.shards {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		sh := st.shards[id]
		b = appendString(b, id)
		b = binary.AppendUvarint(b, uint64(sh.status))
		b = binary.AppendVarint(b, sh.startAt)
		b = binary.AppendUvarint(b, uint64(len(sh.parents)))
		for _, p := range sh.parents {
			b = appendString(b, p)
		}
	}
	return b
}

func decodeEnumState(b []byte) (*enumState, error) {
	d := wire.NewDecoder(b)
	if v := d.Uvarint(""); d.Err() == nil && v != enumStateVersion {
		return nil, fmt.Errorf("kinesis: unknown enumerator state version %d", v)
	}
	flags := d.Uvarint("")
	if d.Err() == nil && flags&^1 != 0 {
		return nil, fmt.Errorf("kinesis: unknown enumerator state flags %#x", flags)
	}
	st := &enumState{initialized: flags&1 != 0, shards: map[string]*shardInfo{}}
	n := d.Count("", 4, maxEntries)
	for range n {
		id := d.String("", maxName)
		status := d.Uvarint("")
		startAt := d.Varint("")
		np := d.Count("", 1, 2)
		sh := &shardInfo{status: shardStatus(status), startAt: startAt}
		for range np {
			sh.parents = append(sh.parents, d.String("", maxName))
		}
		if d.Err() != nil {
			break
		}
		if id == "" || status > uint64(shardFinished) || startAt < 0 {
			return nil, fmt.Errorf("kinesis: invalid shard %q (status %d) in enumerator state", id, status)
		}
		if _, dup := st.shards[id]; dup {
			return nil, fmt.Errorf("kinesis: shard %q twice in enumerator state", id)
		}
		st.shards[id] = sh
	}
	if err := d.Done(); err != nil {
		return nil, fmt.Errorf("kinesis: decode enumerator state: %w", err)
	}
	return st, nil
}
