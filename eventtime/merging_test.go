package eventtime

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestMergingSet(t *testing.T) {
	type add struct {
		w      TimeWindow
		result TimeWindow
		merged []TimeWindow
		after  []TimeWindow // the set after the call
	}
	tests := []struct {
		name  string
		start []TimeWindow
		adds  []add
	}{
		{"new windows", nil, []add{
			{w(10, 20), w(10, 20), nil, []TimeWindow{w(10, 20)}},
			{w(30, 40), w(30, 40), nil, []TimeWindow{w(10, 20), w(30, 40)}},
			{w(0, 5), w(0, 5), nil, []TimeWindow{w(0, 5), w(10, 20), w(30, 40)}},
			{w(21, 29), w(21, 29), nil, []TimeWindow{w(0, 5), w(10, 20), w(21, 29), w(30, 40)}},
		}},
		{"chain of in-order events extends the session", nil, []add{
			{w(0, 10), w(0, 10), nil, []TimeWindow{w(0, 10)}},
			{w(5, 15), w(0, 15), []TimeWindow{w(0, 10)}, []TimeWindow{w(0, 15)}},
			{w(12, 22), w(0, 22), []TimeWindow{w(0, 15)}, []TimeWindow{w(0, 22)}},
			{w(22, 32), w(0, 32), []TimeWindow{w(0, 22)}, []TimeWindow{w(0, 32)}}, // touching merges
			{w(33, 43), w(33, 43), nil, []TimeWindow{w(0, 32), w(33, 43)}},        // a gap does not
		}},
		{"contained window changes nothing", []TimeWindow{w(0, 100)}, []add{
			{w(10, 20), w(0, 100), nil, []TimeWindow{w(0, 100)}},
			{w(0, 100), w(0, 100), nil, []TimeWindow{w(0, 100)}},
			{w(90, 100), w(0, 100), nil, []TimeWindow{w(0, 100)}},
		}},
		{"bridging window merges its neighbours", []TimeWindow{w(0, 10), w(20, 30), w(40, 50)}, []add{
			{w(8, 22), w(0, 30), []TimeWindow{w(0, 10), w(20, 30)}, []TimeWindow{w(0, 30), w(40, 50)}},
			{w(30, 40), w(0, 50), []TimeWindow{w(0, 30), w(40, 50)}, []TimeWindow{w(0, 50)}},
		}},
		{"window covering several", []TimeWindow{w(10, 12), w(14, 16), w(18, 20), w(30, 40)}, []add{
			{w(0, 25), w(0, 25), []TimeWindow{w(10, 12), w(14, 16), w(18, 20)}, []TimeWindow{w(0, 25), w(30, 40)}},
		}},
		{"out-of-order events", nil, []add{
			{w(50, 60), w(50, 60), nil, []TimeWindow{w(50, 60)}},
			{w(10, 20), w(10, 20), nil, []TimeWindow{w(10, 20), w(50, 60)}},
			{w(45, 55), w(45, 60), []TimeWindow{w(50, 60)}, []TimeWindow{w(10, 20), w(45, 60)}},
			{w(15, 25), w(10, 25), []TimeWindow{w(10, 20)}, []TimeWindow{w(10, 25), w(45, 60)}},
			{w(25, 45), w(10, 60), []TimeWindow{w(10, 25), w(45, 60)}, []TimeWindow{w(10, 60)}},
		}},
		{"negative times", nil, []add{
			{w(-30, -20), w(-30, -20), nil, []TimeWindow{w(-30, -20)}},
			{w(-20, -10), w(-30, -10), []TimeWindow{w(-30, -20)}, []TimeWindow{w(-30, -10)}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMergingSet(tt.start)
			for k, a := range tt.adds {
				result, merged := m.Add(a.w)
				if result != a.result || !slices.Equal(merged, a.merged) {
					t.Fatalf("add %d: Add(%v) = (%v, %v), want (%v, %v)", k, a.w, result, merged, a.result, a.merged)
				}
				if got := m.Windows(); !slices.Equal(got, a.after) || m.Len() != len(a.after) {
					t.Fatalf("add %d: windows %v (Len %d), want %v", k, got, m.Len(), a.after)
				}
			}
		})
	}
}

func TestMergingSetRemove(t *testing.T) {
	var m MergingSet // the zero value is ready to use
	m.Add(w(0, 10))
	m.Add(w(20, 30))
	m.Add(w(40, 50))
	m.Remove(w(20, 31)) // not in the set
	m.Remove(w(21, 30)) // not in the set
	m.Remove(w(20, 30))
	m.Remove(w(20, 30))
	if got := m.Windows(); !slices.Equal(got, []TimeWindow{w(0, 10), w(40, 50)}) {
		t.Fatalf("windows after Remove: %v", got)
	}
	// The removed window's time range is free again.
	if result, merged := m.Add(w(25, 27)); result != w(25, 27) || len(merged) != 0 {
		t.Fatalf("Add after Remove = (%v, %v)", result, merged)
	}
}

func TestNewMergingSet(t *testing.T) {
	in := []TimeWindow{w(40, 50), w(0, 10), w(20, 30)}
	m := NewMergingSet(in)
	in[0] = w(1000, 2000)
	if got := m.Windows(); !slices.Equal(got, []TimeWindow{w(0, 10), w(20, 30), w(40, 50)}) {
		t.Fatalf("windows %v", got)
	}
	// Windows returns a copy.
	m.Windows()[0] = w(-1, -1)
	if got := m.Windows()[0]; got != w(0, 10) {
		t.Fatalf("Windows aliases the set: %v", got)
	}

	for _, bad := range [][]TimeWindow{
		{w(0, 10), w(5, 15)},
		{w(10, 20), w(0, 10)}, // touching
		{w(0, 10), w(0, 10)},
	} {
		func() {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, "intersect") {
					t.Errorf("NewMergingSet(%v): panic %q, want one about intersecting windows", bad, msg)
				}
			}()
			NewMergingSet(bad)
		}()
	}
}

// naiveMerge adds w to a set of disjoint windows the slow way.
func naiveMerge(set []TimeWindow, nw TimeWindow) (rest []TimeWindow, result TimeWindow, merged []TimeWindow) {
	result = nw
	for _, x := range set {
		if x.Intersects(nw) {
			merged = append(merged, x)
			result = result.Cover(x)
		} else {
			rest = append(rest, x)
		}
	}
	if len(merged) == 1 && merged[0] == result {
		merged = nil
	}
	rest = append(rest, result)
	slices.SortFunc(rest, func(a, b TimeWindow) int { return int(a.Start - b.Start) })
	return rest, result, merged
}

func TestMergingSetRandomAgainstNaive(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			gap := 1 + rng.Int64N(20)
			var m MergingSet
			var model []TimeWindow
			for k := range 500 {
				if len(model) > 0 && rng.IntN(10) == 0 {
					x := model[rng.IntN(len(model))]
					m.Remove(x)
					model = slices.DeleteFunc(model, func(y TimeWindow) bool { return y == x })
				} else {
					ts := rng.Int64N(1000) - 500
					nw := w(ts, ts+gap)
					var wantRes TimeWindow
					var wantMerged []TimeWindow
					model, wantRes, wantMerged = naiveMerge(model, nw)
					res, merged := m.Add(nw)
					if res != wantRes || !slices.Equal(merged, wantMerged) {
						t.Fatalf("op %d: Add(%v) = (%v, %v), want (%v, %v)", k, nw, res, merged, wantRes, wantMerged)
					}
				}
				if got := m.Windows(); !slices.Equal(got, model) {
					t.Fatalf("op %d: windows %v, want %v", k, got, model)
				}
			}
		})
	}
}

func TestMergingSetAddDoesNotAllocate(t *testing.T) {
	m := NewMergingSet([]TimeWindow{w(0, 10), w(100, 110), w(200, 210)})
	m.Add(w(5, 15)) // grow the merged buffer
	var end int64 = 15
	allocs := testing.AllocsPerRun(100, func() {
		m.Add(w(end-5, end+5)) // extends the first session
		end += 5
	})
	if allocs != 0 {
		t.Fatalf("Add allocates %v times", allocs)
	}
}

func BenchmarkMergingSetAdd(b *testing.B) {
	// One key's session extended by in-order events, the common case.
	var m MergingSet
	var ts int64
	for b.Loop() {
		m.Add(w(ts, ts+30_000))
		ts += 10
	}
}
