package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/internal/wire"
)

// Split is one partition of a topic and the reader's progress in it: the
// split's state is the offset of the next record to emit, so a checkpoint
// holds exactly where every partition continues.
type Split struct {
	Topic     string
	Partition int32
	// Next is the offset of the next record to emit.
	Next int64
	// Stop is where a bounded source stops (exclusive): the partition's
	// end when the job first started. -1: never.
	Stop int64
}

// SplitID is "topic/partition".
func (s *Split) SplitID() string { return splitID(s.Topic, s.Partition) }

func splitID(topic string, partition int32) string {
	return topic + "/" + strconv.FormatInt(int64(partition), 10)
}

// done reports whether a bounded split has nothing left.
func (s *Split) done() bool { return s.Stop >= 0 && s.Next >= s.Stop }

func (s *Split) validate() error {
	switch {
	case s.Topic == "" || len(s.Topic) > 249:
		return fmt.Errorf("kafka: invalid topic name %q in split", s.Topic)
	case s.Partition < 0:
		return fmt.Errorf("kafka: negative partition %d in split", s.Partition)
	case s.Next < 0:
		return fmt.Errorf("kafka: negative offset %d in split %s", s.Next, s.SplitID())
	case s.Stop < -1:
		return fmt.Errorf("kafka: invalid stop offset %d in split %s", s.Stop, s.SplitID())
	}
	return nil
}

const splitVersion = 1

type splitCodec struct{}

func (splitCodec) Encode(sp connector.Split) ([]byte, error) {
	s, ok := sp.(*Split)
	if !ok {
		return nil, fmt.Errorf("kafka: not a kafka split: %T", sp)
	}
	return appendSplit(nil, s), nil
}

func appendSplit(b []byte, s *Split) []byte {
	b = binary.AppendUvarint(b, splitVersion)
	b = appendString(b, s.Topic)
	b = binary.AppendVarint(b, int64(s.Partition))
	b = binary.AppendVarint(b, s.Next)
	return binary.AppendVarint(b, s.Stop)
}

func (splitCodec) Decode(b []byte) (connector.Split, error) { return decodeSplit(b) }

func decodeSplit(b []byte) (*Split, error) {
	d := wire.NewDecoder(b)
	if v := d.Uvarint(""); d.Err() == nil && v != splitVersion {
		return nil, fmt.Errorf("kafka: unknown split encoding version %d", v)
	}
	s := &Split{Topic: d.String("", maxName), Partition: d.Int32(""), Next: d.Varint(""), Stop: d.Varint("")}
	if err := d.Done(); err != nil {
		return nil, fmt.Errorf("kafka: decode split: %w", err)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// enumState is what the enumerator puts into checkpoints: the partitions
// it already discovered (so that a restored job reads partitions that
// appear later from their start, and known ones only from the readers'
// splits), and the splits it has not handed out yet.
type enumState struct {
	// initialized is set once the first discovery resolved the start
	// offsets.
	initialized bool
	// known maps a topic to the number of its partitions discovered.
	known map[string]int32
	// unassigned splits, in discovery order.
	unassigned []*Split
}

const enumStateVersion = 1

func (st *enumState) encode() []byte {
	b := binary.AppendUvarint(nil, enumStateVersion)
	var flags uint64
	if st.initialized {
		flags |= 1
	}
	b = binary.AppendUvarint(b, flags)
	topics := make([]string, 0, len(st.known))
	for t := range st.known {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	b = binary.AppendUvarint(b, uint64(len(topics)))
	for _, t := range topics {
		b = appendString(b, t)
		b = binary.AppendVarint(b, int64(st.known[t]))
	}
	b = binary.AppendUvarint(b, uint64(len(st.unassigned)))
	for _, s := range st.unassigned {
		b = appendBytes(b, appendSplit(nil, s))
	}
	return b
}

// maxEntries bounds decoded collections (topics, splits, slots).
const maxEntries = 1 << 20

func decodeEnumState(b []byte) (*enumState, error) {
	d := wire.NewDecoder(b)
	if v := d.Uvarint(""); d.Err() == nil && v != enumStateVersion {
		return nil, fmt.Errorf("kafka: unknown enumerator state version %d", v)
	}
	flags := d.Uvarint("")
	if d.Err() == nil && flags&^1 != 0 {
		return nil, fmt.Errorf("kafka: unknown enumerator state flags %#x", flags)
	}
	st := &enumState{initialized: flags&1 != 0, known: map[string]int32{}}
	n := d.Count("", 1, maxEntries)
	for range n {
		t := d.String("", maxName)
		p := d.Int32("")
		if d.Err() != nil {
			break
		}
		if t == "" || p < 0 {
			return nil, fmt.Errorf("kafka: invalid topic %q with %d partitions in enumerator state", t, p)
		}
		if _, dup := st.known[t]; dup {
			return nil, fmt.Errorf("kafka: topic %q twice in enumerator state", t)
		}
		st.known[t] = p
	}
	n = d.Count("", 1, maxEntries)
	for range n {
		raw := d.Bytes("", 1<<12)
		if d.Err() != nil {
			break
		}
		s, err := decodeSplit(raw)
		if err != nil {
			return nil, err
		}
		st.unassigned = append(st.unassigned, s)
	}
	if err := d.Done(); err != nil {
		return nil, fmt.Errorf("kafka: decode enumerator state: %w", err)
	}
	return st, nil
}

var errNotKafkaSplit = errors.New("kafka: not a kafka split")
