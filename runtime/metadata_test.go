package runtime

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/state"
)

func TestJobMetadataRoundTrip(t *testing.T) {
	plan := &Plan{Name: "j", Vertices: []*Vertex{{ID: 0, Name: "v", Parallelism: 2, MaxParallelism: 128,
		Ops: []*OpSpec{{Name: "count", UID: "count"}}}}}
	r := &checkpointRun{id: 3, enums: map[string][]byte{"src": {1, 2}}}
	r.states = []*subtaskState{
		{vertex: 0, subtask: 1, ops: []opStateMeta{{UID: "count", Subtask: 1, KeyedFile: "count-1.keyed", KeyGroupStart: 64, KeyGroupEnd: 128}}},
		{vertex: 0, subtask: 0, ops: []opStateMeta{{UID: "count", Subtask: 0, KeyedFile: "count-0.keyed", KeyGroupStart: 0, KeyGroupEnd: 64,
			Lists: map[string][][]byte{"l": {{1}, {2}, {3}}}}}},
	}
	b, err := encodeJobMetadata(plan, r)
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeJobMetadata(b)
	if err != nil {
		t.Fatal(err)
	}
	om := m.Operators["count"]
	if om == nil || len(om.Subtasks) != 2 || om.Subtasks[0].Subtask != 0 || om.Subtasks[1].KeyedFile != "count-1.keyed" {
		t.Fatalf("round trip: %+v", om)
	}
	// At the same parallelism every subtask gets its own list state back
	// (a sink's committables stay with its writer state), and the keyed
	// files whose key groups overlap its range.
	rj := &restoredJob{id: 3, meta: m}
	s0 := rj.forSubtask("count", 0, 2, state.RangeForSubtask(128, 2, 0))
	s1 := rj.forSubtask("count", 1, 2, state.RangeForSubtask(128, 2, 1))
	if len(s0.Lists["l"]) != 3 || len(s1.Lists["l"]) != 0 || len(s0.KeyedFiles) != 1 || len(s1.KeyedFiles) != 1 {
		t.Fatalf("same parallelism: %+v / %+v", s0, s1)
	}
	// At another parallelism the entries are spread round-robin.
	for i := range 3 {
		if s := rj.forSubtask("count", i, 3, state.RangeForSubtask(128, 3, i)); len(s.Lists["l"]) != 1 {
			t.Fatalf("scale up, subtask %d: %+v", i, s)
		}
	}
	s := rj.forSubtask("count", 0, 1, state.RangeForSubtask(128, 1, 0))
	if len(s.KeyedFiles) != 2 || len(s.Lists["l"]) != 3 {
		t.Fatalf("scale down: %+v", s)
	}
}

func FuzzDecodeJobMetadata(f *testing.F) {
	f.Add([]byte(`{"version":1,"job":"j","operators":{"a":{"name":"a","parallelism":1,"maxParallelism":128,"subtasks":[{"subtask":0,"keyedFile":"a-0.keyed","kgEnd":128}]}}}`))
	f.Add([]byte(`{"version":1,"operators":{"a":null}}`))
	f.Add([]byte(`{"version":2,"job":"j","operators":{"a":{"name":"a","parallelism":2,"maxParallelism":128,"subtasks":[{"subtask":1,"inflightFile":"a-1.inflight","inflight":[{"from":"u","input":0,"partitioning":3,"type":"string","records":4},{"from":"w","port":"x","input":1,"partitioning":2,"type":"int64","records":1}]}]}}}`))
	f.Add([]byte(`{"version":2,"operators":{"a":{"name":"a","parallelism":1,"maxParallelism":1,"subtasks":[{"subtask":0,"inflightFile":"f","inflight":[{"from":"u","partitioning":4,"records":-1}]}]}}}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeJobMetadata(b)
		if err != nil {
			return
		}
		// Whatever decodes must be safe to map onto any parallelism,
		// in-flight records included (onto a vertex with every edge the
		// sections name).
		rj := &restoredJob{meta: m}
		for uid, om := range m.Operators {
			for p := 1; p <= 3 && p <= om.MaxParallelism; p++ {
				v := &Vertex{Name: uid, Parallelism: p, MaxParallelism: om.MaxParallelism, Ops: []*OpSpec{{Name: uid, UID: uid}}}
				for _, s := range om.Subtasks {
					for _, sec := range s.Inflight {
						from := &Vertex{Parallelism: 1, MaxParallelism: 1, Ops: []*OpSpec{{UID: sec.From}}}
						v.Inputs = append(v.Inputs, &NetEdge{From: from, To: v, Port: sec.Port, Input: sec.Input, Spec: NewEdge[string](sec.Part, state.Hasher[string]())})
					}
				}
				plan := &Plan{Name: "j", Vertices: []*Vertex{v}}
				rj.check(plan, true)
				for s := range p {
					rj.forSubtask(uid, s, p, state.RangeForSubtask(om.MaxParallelism, p, s))
					rj.inflightFor(v, s)
				}
			}
		}
	})
}

// inflightPlan is a plan whose vertex "count" (parallelism par) reads a
// hash edge from "up" and a broadcast and a rebalance edge from "side".
func inflightPlan(par int) (*Plan, *Vertex) {
	up := &Vertex{ID: 0, Name: "up", Parallelism: 2, MaxParallelism: 128, Ops: []*OpSpec{{Name: "up", UID: "up"}}}
	side := &Vertex{ID: 1, Name: "side", Parallelism: 2, MaxParallelism: 128, Ops: []*OpSpec{{Name: "side", UID: "side"}}}
	v := &Vertex{ID: 2, Name: "count", Parallelism: par, MaxParallelism: 128, Ops: []*OpSpec{{Name: "count", UID: "count"}, {Name: "fmt", UID: "fmt"}}}
	v.Inputs = []*NetEdge{
		{From: up, To: v, Input: 0, Spec: NewEdge[string](Hash, state.Hasher[string]())},
		{From: side, To: v, Input: 1, Spec: NewEdge[int64](Broadcast, nil)},
		{From: side, To: v, Input: 1, Port: "extra", Spec: NewEdge[int64](Rebalance, nil)},
	}
	return &Plan{Name: "j", Vertices: []*Vertex{up, side, v}}, v
}

func inflightMetadata(t *testing.T, broadcastRecords int64) *jobMetadata {
	t.Helper()
	plan, _ := inflightPlan(2)
	r := &checkpointRun{id: 9}
	for s := range 2 {
		r.states = append(r.states, &subtaskState{vertex: 2, subtask: s, ops: []opStateMeta{{
			UID: "count", Subtask: s, InflightFile: fmt.Sprintf("count-%d.inflight", s),
			Inflight: []inflightMeta{
				{From: "up", Input: 0, Part: Hash, Type: "string", Records: 10},
				{From: "side", Input: 1, Part: Broadcast, Type: "int64", Records: broadcastRecords},
				{From: "side", Port: "extra", Input: 1, Part: Rebalance, Type: "int64", Records: 3},
			}}}})
	}
	b, err := encodeJobMetadata(plan, r)
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeJobMetadata(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != jobMetadataVersionInflight {
		t.Fatalf("metadata with in-flight records has version %d", m.Version)
	}
	return m
}

func TestInflightRestorePlan(t *testing.T) {
	m := inflightMetadata(t, 0)
	rj := &restoredJob{id: 9, meta: m}
	describe := func(parts [][]inflightPart) string {
		var out []string
		for gi, ps := range parts {
			for _, p := range ps {
				s := fmt.Sprintf("%d:%s#%d", gi, p.file, p.section)
				if p.filter {
					s += p.kgs.String()
				}
				out = append(out, s)
			}
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		par  int
		want []string
	}{
		// Same parallelism: each subtask its own file.
		{2, []string{"0:count-0.inflight#0 2:count-0.inflight#2", "0:count-1.inflight#0 2:count-1.inflight#2"}},
		// Rescale: hash sections of every old file filtered by the new
		// key groups, rebalance files round-robin.
		{3, []string{
			"0:count-0.inflight#0[0, 43) 0:count-1.inflight#0[0, 43) 2:count-0.inflight#2",
			"0:count-0.inflight#0[43, 86) 0:count-1.inflight#0[43, 86) 2:count-1.inflight#2",
			"0:count-0.inflight#0[86, 128) 0:count-1.inflight#0[86, 128)",
		}},
		{1, []string{"0:count-0.inflight#0[0, 128) 0:count-1.inflight#0[0, 128) 2:count-0.inflight#2 2:count-1.inflight#2"}},
	} {
		plan, v := inflightPlan(tc.par)
		if err := rj.check(plan, false); err != nil {
			t.Fatalf("p=%d: %v", tc.par, err)
		}
		for s := range tc.par {
			if got := describe(rj.inflightFor(v, s)); got != tc.want[s] {
				t.Errorf("p=%d subtask %d: got %q, want %q", tc.par, s, got, tc.want[s])
			}
		}
	}
}

func TestInflightRestoreRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		par    int
		bc     int64
		change func(v *Vertex)
		want   string
	}{
		{"broadcast rescaled", 3, 1, nil, "broadcast"},
		{"broadcast same parallelism", 2, 1, nil, ""},
		{"broadcast rescaled without records", 3, 0, nil, ""},
		{"edge gone", 2, 0, func(v *Vertex) { v.Inputs = v.Inputs[1:] }, "no longer has"},
		{"partitioning changed", 2, 0, func(v *Vertex) { v.Inputs[0].Spec = NewEdge[string](Rebalance, nil) }, "over a hash edge"},
		{"pointwise change is fine", 2, 0, func(v *Vertex) { v.Inputs[2].Spec = NewEdge[int64](Forward, nil) }, ""},
		{"type changed", 2, 0, func(v *Vertex) { v.Inputs[0].Spec = NewEdge[int](Hash, state.Hasher[int]()) }, "of type string"},
		{"chained now", 2, 0, func(v *Vertex) { v.Ops[0], v.Ops[1] = v.Ops[1], v.Ops[0] }, "no longer reads from the network"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rj := &restoredJob{id: 9, meta: inflightMetadata(t, tc.bc)}
			plan, v := inflightPlan(tc.par)
			if tc.change != nil {
				tc.change(v)
			}
			err := rj.check(plan, false)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrStateMismatch) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "aligned") {
				t.Fatalf("got %v, want ErrStateMismatch about %q", err, tc.want)
			}
		})
	}
}
