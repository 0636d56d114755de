package eventtime

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// step is one call on a Combiner and what it must return.
type step struct {
	op      string // "update", "idle", "active", "remove", "add"
	i       int
	wm      int64
	want    int64 // combined watermark after the call
	adv     bool  // whether the call advanced it
	allIdle bool
}

func (s step) apply(c *Combiner) (int64, bool) {
	switch s.op {
	case "update":
		return c.Update(s.i, s.wm)
	case "idle":
		return c.SetIdle(s.i, true)
	case "active":
		return c.SetIdle(s.i, false)
	case "remove":
		return c.Remove(s.i)
	case "add":
		i := c.Add()
		if i != s.i {
			panic(fmt.Sprintf("Add returned %d, want %d", i, s.i))
		}
		return c.Current(), false
	}
	panic("unknown op " + s.op)
}

func TestCombiner(t *testing.T) {
	const none = MinWatermark
	tests := []struct {
		name  string
		n     int
		steps []step
	}{
		{"single input", 1, []step{
			{op: "update", i: 0, wm: 5, want: 5, adv: true},
			{op: "update", i: 0, wm: 7, want: 7, adv: true},
			{op: "update", i: 0, wm: 7, want: 7},
		}},
		{"min of inputs", 3, []step{
			{op: "update", i: 0, wm: 10, want: none},
			{op: "update", i: 1, wm: 20, want: none},
			{op: "update", i: 2, wm: 5, want: 5, adv: true},
			{op: "update", i: 2, wm: 30, want: 10, adv: true},
			{op: "update", i: 1, wm: 40, want: 10},
			{op: "update", i: 0, wm: 50, want: 30, adv: true},
		}},
		{"non-monotonic update ignored", 2, []step{
			{op: "update", i: 0, wm: 10, want: none},
			{op: "update", i: 1, wm: 10, want: 10, adv: true},
			{op: "update", i: 0, wm: 3, want: 10},
			{op: "update", i: 1, wm: 20, want: 10},
			{op: "update", i: 0, wm: 15, want: 15, adv: true},
		}},
		{"idle input does not hold back", 2, []step{
			{op: "update", i: 0, wm: 10, want: none},
			{op: "idle", i: 1, want: 10, adv: true},
			{op: "update", i: 0, wm: 20, want: 20, adv: true},
			{op: "idle", i: 1, want: 20},
		}},
		{"idle input back with lower watermark holds but never lowers", 2, []step{
			{op: "update", i: 0, wm: 10, want: none},
			{op: "update", i: 1, wm: 5, want: 5, adv: true},
			{op: "idle", i: 1, want: 10, adv: true},
			{op: "update", i: 0, wm: 30, want: 30, adv: true},
			{op: "active", i: 1, want: 30},
			{op: "update", i: 0, wm: 40, want: 30},
			{op: "update", i: 1, wm: 35, want: 35, adv: true},
			{op: "update", i: 1, wm: 50, want: 40, adv: true},
		}},
		{"update reactivates idle input", 2, []step{
			{op: "update", i: 0, wm: 10, want: none},
			{op: "idle", i: 1, want: 10, adv: true},
			{op: "update", i: 1, wm: 12, want: 10},
			{op: "update", i: 0, wm: 20, want: 12, adv: true},
		}},
		{"lower update on idle input reactivates it", 2, []step{
			{op: "update", i: 1, wm: 50, want: none},
			{op: "idle", i: 1, want: none},
			{op: "update", i: 0, wm: 20, want: 20, adv: true},
			{op: "update", i: 1, wm: 10, want: 20},
			{op: "update", i: 0, wm: 60, want: 50, adv: true},
		}},
		{"all idle stays put", 2, []step{
			{op: "update", i: 0, wm: 10, want: none},
			{op: "update", i: 1, wm: 20, want: 10, adv: true},
			{op: "idle", i: 1, want: 10},
			{op: "idle", i: 0, want: 10, allIdle: true},
			{op: "idle", i: 0, want: 10, allIdle: true},
			{op: "update", i: 1, wm: 25, want: 25, adv: true},
		}},
		{"active after all idle may advance", 2, []step{
			{op: "update", i: 0, wm: 100, want: none},
			{op: "update", i: 1, wm: 50, want: 50, adv: true},
			{op: "idle", i: 0, want: 50},
			{op: "idle", i: 1, want: 50, allIdle: true},
			{op: "active", i: 0, want: 100, adv: true},
		}},
		{"remove the minimum", 3, []step{
			{op: "update", i: 0, wm: 10, want: none},
			{op: "update", i: 1, wm: 20, want: none},
			{op: "update", i: 2, wm: 30, want: 10, adv: true},
			{op: "remove", i: 0, want: 20, adv: true},
			{op: "remove", i: 0, want: 20},
			{op: "update", i: 0, wm: 99, want: 20},
			{op: "idle", i: 0, want: 20},
			{op: "remove", i: 2, want: 20},
			{op: "remove", i: 1, want: 20, allIdle: true},
		}},
		{"remove idle input", 2, []step{
			{op: "update", i: 0, wm: 10, want: none},
			{op: "idle", i: 1, want: 10, adv: true},
			{op: "remove", i: 1, want: 10},
			{op: "update", i: 0, wm: 11, want: 11, adv: true},
		}},
		{"added input holds back but does not lower", 1, []step{
			{op: "update", i: 0, wm: 10, want: 10, adv: true},
			{op: "add", i: 1, want: 10},
			{op: "update", i: 0, wm: 20, want: 10},
			{op: "update", i: 1, wm: 15, want: 15, adv: true},
		}},
		{"add reuses removed index", 2, []step{
			{op: "update", i: 0, wm: 10, want: none},
			{op: "update", i: 1, wm: 5, want: 5, adv: true},
			{op: "remove", i: 0, want: 5},
			{op: "add", i: 0, want: 5},
			{op: "update", i: 1, wm: 8, want: 5},
			{op: "update", i: 0, wm: 7, want: 7, adv: true},
			{op: "add", i: 2, want: 7},
		}},
		{"no inputs", 0, []step{
			{op: "add", i: 0, want: none},
			{op: "update", i: 0, wm: 3, want: 3, adv: true},
		}},
		{"final watermark", 2, []step{
			{op: "update", i: 0, wm: MaxWatermark, want: none},
			{op: "update", i: 1, wm: MaxWatermark, want: MaxWatermark, adv: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCombiner(tt.n)
			if got := c.Current(); got != MinWatermark {
				t.Fatalf("initial Current() = %d, want MinWatermark", got)
			}
			if got, want := c.AllIdle(), tt.n == 0; got != want {
				t.Fatalf("initial AllIdle() = %v, want %v", got, want)
			}
			for k, s := range tt.steps {
				got, adv := s.apply(c)
				if got != s.want || adv != s.adv {
					t.Fatalf("step %d %+v: got (%d, %v), want (%d, %v)", k, s, got, adv, s.want, s.adv)
				}
				if cur := c.Current(); cur != s.want {
					t.Fatalf("step %d %+v: Current() = %d, want %d", k, s, cur, s.want)
				}
				if ai := c.AllIdle(); ai != s.allIdle {
					t.Fatalf("step %d %+v: AllIdle() = %v, want %v", k, s, ai, s.allIdle)
				}
			}
		})
	}
}

func TestCombinerPanics(t *testing.T) {
	tests := []struct {
		name string
		fn   func()
	}{
		{"negative n", func() { NewCombiner(-1) }},
		{"index too large", func() { NewCombiner(2).Update(2, 0) }},
		{"negative index", func() { NewCombiner(2).SetIdle(-1, true) }},
		{"remove out of range", func() { NewCombiner(0).Remove(0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tt.fn()
		})
	}
}

// combinerModel is the obvious O(n) implementation the Combiner must agree
// with.
type combinerModel struct {
	wm       []int64
	status   []inputStatus
	combined int64
}

func (m *combinerModel) recompute() (int64, bool) {
	lo, some := MaxWatermark, false
	for i, st := range m.status {
		if st == statusActive {
			lo, some = min(lo, m.wm[i]), true
		}
	}
	if some && lo > m.combined {
		m.combined = lo
		return lo, true
	}
	return m.combined, false
}

func (m *combinerModel) allIdle() bool {
	for _, st := range m.status {
		if st == statusActive {
			return false
		}
	}
	return true
}

func TestCombinerRandomAgainstModel(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0x5eed))
			n := rng.IntN(12)
			c := NewCombiner(n)
			m := &combinerModel{
				wm:       make([]int64, n),
				status:   make([]inputStatus, n),
				combined: MinWatermark,
			}
			for i := range m.wm {
				m.wm[i] = MinWatermark
			}
			for k := range 3000 {
				var got, want int64
				var gotAdv, wantAdv bool
				var desc string
				op := rng.IntN(100)
				switch {
				case len(m.wm) == 0 || op < 3:
					i := c.Add()
					desc = fmt.Sprintf("Add() = %d", i)
					switch {
					case i == len(m.wm):
						m.wm = append(m.wm, MinWatermark)
						m.status = append(m.status, statusActive)
					case i < len(m.wm) && m.status[i] == statusRemoved:
						m.wm[i], m.status[i] = MinWatermark, statusActive
					default:
						t.Fatalf("op %d: Add returned %d, neither new nor removed", k, i)
					}
					got, gotAdv = c.Current(), false
					want, wantAdv = m.combined, false
				case op < 8:
					i := rng.IntN(len(m.wm))
					desc = fmt.Sprintf("Remove(%d)", i)
					got, gotAdv = c.Remove(i)
					m.status[i] = statusRemoved
					want, wantAdv = m.recompute()
				case op < 25:
					i, idle := rng.IntN(len(m.wm)), rng.IntN(2) == 0
					desc = fmt.Sprintf("SetIdle(%d, %v)", i, idle)
					got, gotAdv = c.SetIdle(i, idle)
					switch {
					case idle && m.status[i] == statusActive:
						m.status[i] = statusIdle
					case !idle && m.status[i] == statusIdle:
						m.status[i] = statusActive
					}
					want, wantAdv = m.recompute()
				default:
					i := rng.IntN(len(m.wm))
					// Mostly small steps forward, sometimes backwards.
					wm := max(m.wm[i], 0) + int64(rng.IntN(20)) - 4
					desc = fmt.Sprintf("Update(%d, %d)", i, wm)
					got, gotAdv = c.Update(i, wm)
					if m.status[i] != statusRemoved {
						m.wm[i] = max(m.wm[i], wm)
						m.status[i] = statusActive
					}
					want, wantAdv = m.recompute()
				}
				if got != want || gotAdv != wantAdv {
					t.Fatalf("op %d %s: got (%d, %v), model (%d, %v)", k, desc, got, gotAdv, want, wantAdv)
				}
				if c.AllIdle() != m.allIdle() {
					t.Fatalf("op %d %s: AllIdle() = %v, model %v", k, desc, c.AllIdle(), m.allIdle())
				}
				checkHeap(t, c)
			}
		})
	}
}

// checkHeap verifies the Combiner's internal invariants.
func checkHeap(t *testing.T, c *Combiner) {
	t.Helper()
	for j, e := range c.heap {
		if j > 0 && c.heap[(j-1)/2].wm > e.wm {
			t.Fatalf("heap order broken at %d", j)
		}
		in := c.inputs[e.input]
		if int(in.pos) != j || in.status != statusActive || in.wm != e.wm {
			t.Fatalf("heap entry %d %+v disagrees with input %+v", j, e, in)
		}
	}
	active := 0
	for _, in := range c.inputs {
		if in.status == statusActive {
			active++
		} else if in.pos != -1 {
			t.Fatalf("inactive input %+v has a heap position", in)
		}
	}
	if active != len(c.heap) {
		t.Fatalf("%d active inputs, %d in heap", active, len(c.heap))
	}
}

func TestCombinerUpdateDoesNotAllocate(t *testing.T) {
	c := NewCombiner(64)
	var wm int64
	allocs := testing.AllocsPerRun(100, func() {
		for i := range 64 {
			wm++
			c.Update(i, wm)
		}
	})
	if allocs != 0 {
		t.Fatalf("Update allocates: %v allocs per run", allocs)
	}
}

func BenchmarkCombinerUpdate(b *testing.B) {
	for _, n := range []int{1, 16, 1024, 4096} {
		// Round robin: every update raises the input holding the minimum,
		// the worst case of the heap.
		b.Run(fmt.Sprintf("roundrobin/n=%d", n), func(b *testing.B) {
			c := NewCombiner(n)
			var wm int64
			i := 0
			for b.Loop() {
				c.Update(i, wm)
				wm++
				if i++; i == n {
					i = 0
				}
			}
		})
		// Random inputs advancing by random steps.
		b.Run(fmt.Sprintf("random/n=%d", n), func(b *testing.B) {
			c := NewCombiner(n)
			rng := rand.New(rand.NewPCG(1, 2))
			idx := make([]int, 1<<12)
			for k := range idx {
				idx[k] = rng.IntN(n)
			}
			wms := make([]int64, n)
			k := 0
			for b.Loop() {
				i := idx[k&(len(idx)-1)]
				wms[i] += int64(k & 15)
				c.Update(i, wms[i])
				k++
			}
		})
	}
}
