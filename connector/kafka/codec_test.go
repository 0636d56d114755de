package kafka

import (
	"bytes"
	"reflect"
	"testing"
)

func TestCodecsRoundTrip(t *testing.T) {
	s := &Split{Topic: "orders", Partition: 7, Next: 1 << 40, Stop: -1}
	b, err := splitCodec{}.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := splitCodec{}.Decode(b)
	if err != nil || *got.(*Split) != *s {
		t.Fatalf("split: %+v, %v", got, err)
	}
	if _, err := (splitCodec{}).Encode(fakeSplit{}); err == nil {
		t.Fatal("encoded a foreign split")
	}

	es := &enumState{initialized: true, known: map[string]int32{"a": 3, "b": 1}, unassigned: []*Split{s}}
	es2, err := decodeEnumState(es.encode())
	if err != nil || !reflect.DeepEqual(es, es2) {
		t.Fatalf("enumerator state: %+v, %v", es2, err)
	}

	ws := &writerState{Prefix: "job", Subtask: 2, Parallelism: 3, PoolSize: 8, Next: 5, Checkpoint: 42,
		Reserved: []reservedSlot{{Slot: 3, At: 41, PID: 99, Epoch: 7}, {Slot: 4, Committed: true, At: 40, PID: 98, Epoch: 1}}}
	ws2, err := decodeWriterState(ws.encode())
	if err != nil || !reflect.DeepEqual(ws, ws2) {
		t.Fatalf("writer state: %+v, %v", ws2, err)
	}

	c := &committable{TransactionalID: "job-2-3", ProducerID: 99, ProducerEpoch: 7, Checkpoint: 41}
	c2, err := decodeCommittable(c.encode())
	if err != nil || *c != *c2 {
		t.Fatalf("committable: %+v, %v", c2, err)
	}
}

type fakeSplit struct{}

func (fakeSplit) SplitID() string { return "x" }

// The fuzz targets check that decoders of checkpoint data never panic, and
// that whatever they accept encodes back to an equivalent value.

func FuzzSplitCodec(f *testing.F) {
	for _, s := range []*Split{{Topic: "t", Partition: 0, Next: 0, Stop: -1}, {Topic: "orders", Partition: 12, Next: 1234567, Stop: 2345678}} {
		f.Add(appendSplit(nil, s))
	}
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSplit(b)
		if err != nil {
			return
		}
		s2, err := decodeSplit(appendSplit(nil, s))
		if err != nil || *s2 != *s {
			t.Fatalf("round trip of %+v: %+v, %v", *s, s2, err)
		}
	})
}

func FuzzEnumState(f *testing.F) {
	f.Add((&enumState{known: map[string]int32{}}).encode())
	f.Add((&enumState{initialized: true, known: map[string]int32{"a": 3}, unassigned: []*Split{{Topic: "a", Partition: 2, Next: 5, Stop: 9}}}).encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeEnumState(b)
		if err != nil {
			return
		}
		st2, err := decodeEnumState(st.encode())
		if err != nil || !reflect.DeepEqual(st, st2) {
			t.Fatalf("round trip of %+v: %+v, %v", st, st2, err)
		}
	})
}

func FuzzWriterState(f *testing.F) {
	f.Add((&writerState{Prefix: "p", Parallelism: 1, PoolSize: 3}).encode())
	f.Add((&writerState{Prefix: "job", Subtask: 2, Parallelism: 3, PoolSize: 8, Next: 5, Checkpoint: 42,
		Reserved: []reservedSlot{{Slot: 3, At: 41, PID: 99, Epoch: 7}, {Slot: 4, Committed: true, At: 40, PID: 98, Epoch: 1}}}).encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeWriterState(b)
		if err != nil {
			return
		}
		enc := st.encode()
		st2, err := decodeWriterState(enc)
		if err != nil || !reflect.DeepEqual(st, st2) || !bytes.Equal(enc, st2.encode()) {
			t.Fatalf("round trip of %+v: %+v, %v", st, st2, err)
		}
	})
}

func FuzzCommittable(f *testing.F) {
	f.Add((&committable{TransactionalID: "p-0-1", ProducerID: 5, ProducerEpoch: 2, Checkpoint: 9}).encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCommittable(b)
		if err != nil {
			return
		}
		c2, err := decodeCommittable(c.encode())
		if err != nil || *c2 != *c {
			t.Fatalf("round trip of %+v: %+v, %v", *c, c2, err)
		}
	})
}
