package rabbitmq

import (
	"slices"
	"testing"
	"time"
)

// TestAcks drives the bookkeeping through scripts of deliveries and
// checkpoint events.
func TestAcks(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type step struct {
		op      string // deliver, snapshot, complete, lost
		gen     uint64
		tag     uint64
		id      string
		cp      int64
		wantDup bool
		wantTag uint64 // complete: the tag to acknowledge
		at      time.Duration
	}
	cases := []struct {
		name    string
		dedupe  bool
		steps   []step
		wantIDs []string
	}{
		{name: "acks per checkpoint", steps: []step{
			{op: "deliver", gen: 1, tag: 1}, {op: "deliver", gen: 1, tag: 2},
			{op: "snapshot", cp: 1},
			{op: "deliver", gen: 1, tag: 3},
			{op: "complete", cp: 1, gen: 1, wantTag: 2},
			{op: "snapshot", cp: 2},
			{op: "complete", cp: 2, gen: 1, wantTag: 3},
			{op: "complete", cp: 2, gen: 1, wantTag: 0},
		}},
		{name: "completion subsumes", steps: []step{
			{op: "deliver", gen: 1, tag: 1}, {op: "snapshot", cp: 1},
			{op: "deliver", gen: 1, tag: 2}, {op: "snapshot", cp: 2},
			{op: "deliver", gen: 1, tag: 3}, {op: "snapshot", cp: 3},
			{op: "complete", cp: 2, gen: 1, wantTag: 2},
			{op: "complete", cp: 3, gen: 1, wantTag: 3},
		}},
		{name: "tags of a lost channel are not acknowledged", steps: []step{
			{op: "deliver", gen: 1, tag: 1}, {op: "deliver", gen: 1, tag: 2}, {op: "snapshot", cp: 1},
			{op: "deliver", gen: 2, tag: 1}, {op: "snapshot", cp: 2},
			{op: "complete", cp: 2, gen: 2, wantTag: 1},
		}},
		{name: "ids dropped once acknowledged", dedupe: true, steps: []step{
			{op: "deliver", gen: 1, tag: 1, id: "a"}, {op: "deliver", gen: 1, tag: 2, id: "b"},
			{op: "snapshot", cp: 1},
			{op: "deliver", gen: 1, tag: 3, id: "c"},
			{op: "complete", cp: 1, gen: 1, wantTag: 2},
		}, wantIDs: []string{"c"}},
		{name: "redelivered copy dropped and acknowledged", dedupe: true, steps: []step{
			{op: "deliver", gen: 1, tag: 1, id: "a"}, {op: "snapshot", cp: 1},
			// the channel is lost before checkpoint 1 completes
			{op: "deliver", gen: 2, tag: 1, id: "a", wantDup: true},
			{op: "deliver", gen: 2, tag: 2, id: "b"},
			{op: "snapshot", cp: 2},
			{op: "complete", cp: 2, gen: 2, wantTag: 2},
		}},
		{name: "lost acknowledgement keeps ids as orphans until the horizon", dedupe: true, steps: []step{
			{op: "deliver", gen: 1, tag: 1, id: "a"}, {op: "snapshot", cp: 1},
			{op: "lost", cp: 1, gen: 1, wantTag: 1},
			{op: "snapshot", cp: 2, at: time.Minute},
		}, wantIDs: []string{"a"}},
		{name: "orphans expire", dedupe: true, steps: []step{
			{op: "deliver", gen: 1, tag: 1, id: "a"}, {op: "snapshot", cp: 1},
			{op: "lost", cp: 1, gen: 1, wantTag: 1},
			{op: "snapshot", cp: 2, at: 11 * time.Minute},
		}},
		{name: "an orphan seen again is dropped after its copy's ack", dedupe: true, steps: []step{
			{op: "deliver", gen: 1, tag: 1, id: "a"}, {op: "snapshot", cp: 1},
			{op: "lost", cp: 1, gen: 1, wantTag: 1},
			{op: "deliver", gen: 2, tag: 1, id: "a", wantDup: true},
			{op: "snapshot", cp: 2},
			{op: "complete", cp: 2, gen: 2, wantTag: 1},
		}},
		{name: "no id, no entry", dedupe: true, steps: []step{
			{op: "deliver", gen: 1, tag: 1, id: ""}, {op: "snapshot", cp: 1},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newAcks(c.dedupe, DefaultHorizon)
			for i, s := range c.steps {
				now := t0.Add(s.at)
				switch s.op {
				case "deliver":
					if dup := a.deliver(s.gen, s.tag, s.id); dup != s.wantDup {
						t.Fatalf("step %d: dup %v", i, dup)
					}
				case "snapshot":
					a.snapshot(s.cp, now)
				case "complete", "lost":
					tag, done := a.complete(s.cp, s.gen)
					if tag != s.wantTag {
						t.Fatalf("step %d: ack tag %d, want %d", i, tag, s.wantTag)
					}
					if s.op == "lost" {
						a.lost(done, now)
					} else {
						a.confirmed(done, s.gen, now)
					}
				}
			}
			var ids []string
			for id := range a.ids {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, c.wantIDs) {
				t.Fatalf("ids kept %v, want %v", ids, c.wantIDs)
			}
		})
	}
}

// TestAcksRestore: restored ids are orphans; copies of them are dropped.
func TestAcksRestore(t *testing.T) {
	now := time.Now()
	a := newAcks(true, time.Minute)
	a.deliver(1, 1, "x")
	a.deliver(1, 2, "y")
	st := a.snapshot(1, now)
	b := newAcks(true, time.Minute)
	if err := b.restore([][]byte{st, encodeIDs(map[string]idEntry{"z": {}})}, now); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"x", "y", "z"} {
		if !b.deliver(1, 1, id) {
			t.Errorf("restored id %s not recognized", id)
		}
	}
	if b.deliver(1, 2, "new") {
		t.Error("a new id taken for a copy")
	}
	if err := b.restore([][]byte{{9}}, now); err == nil {
		t.Error("a state of another version restored")
	}
}

func FuzzDecodeIDs(f *testing.F) {
	f.Add([]byte{})
	f.Add(encodeIDs(map[string]idEntry{"a": {}, "bc": {}}))
	f.Add([]byte{1, 200, 1})
	f.Add([]byte{1, 1, 255, 255, 255, 255, 15})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, err := decodeIDs(b)
		if err != nil {
			return
		}
		m := map[string]idEntry{}
		for _, id := range ids {
			m[id] = idEntry{}
		}
		again, err := decodeIDs(encodeIDs(m))
		if err != nil || len(again) != len(m) {
			t.Fatalf("round trip of %d ids: %d, %v", len(m), len(again), err)
		}
	})
}
