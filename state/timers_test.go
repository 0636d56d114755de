package state

import (
	"cmp"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

type firedTimer struct {
	key int
	ns  string
	ts  int64
}

func collect(t *testing.T, b *KeyedBackend[int], out *[]firedTimer) func(int, string, int64) error {
	return func(k int, ns string, ts int64) error {
		if b.CurrentKey() != k {
			t.Errorf("fire(%d): current key is %d", k, b.CurrentKey())
		}
		*out = append(*out, firedTimer{k, ns, ts})
		return nil
	}
}

func TestEventTimers(t *testing.T) {
	b := NewKeyedBackend(Options[int]{})
	tm, err := NewTimers[int, string](b, "timers", nil)
	if err != nil {
		t.Fatal(err)
	}
	mustKey(t, b, 1)
	tm.RegisterEventTime("w1", 10)
	tm.RegisterEventTime("w1", 10) // same timer
	tm.RegisterEventTime("w2", 10)
	tm.RegisterEventTime("w1", 30)
	mustKey(t, b, 2)
	tm.RegisterEventTime("w1", 5)
	tm.RegisterEventTime("w1", 20)
	tm.DeleteEventTime("w1", 20)
	tm.DeleteEventTime("w1", 99) // absent
	if n := tm.NumEventTimers(); n != 4 {
		t.Fatalf("NumEventTimers = %d, want 4", n)
	}
	var fired []firedTimer
	if err := tm.AdvanceWatermark(10, collect(t, b, &fired)); err != nil {
		t.Fatal(err)
	}
	want := []firedTimer{{2, "w1", 5}, {1, "w1", 10}, {1, "w2", 10}}
	if !slices.Equal(fired, want) {
		t.Fatalf("fired %v, want %v", fired, want)
	}
	fired = nil
	// A timer registered while firing, at or before the watermark, fires in
	// the same advance; one after it does not. The fired timer is removed
	// before fire, so registering it again makes a new timer.
	again := true
	err = tm.AdvanceWatermark(40, func(k int, ns string, ts int64) error {
		fired = append(fired, firedTimer{k, ns, ts})
		if ts == 30 && again {
			again = false
			tm.RegisterEventTime("late", 35)
			tm.RegisterEventTime("later", 41)
			tm.RegisterEventTime("w1", 30)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want = []firedTimer{{1, "w1", 30}, {1, "w1", 30}, {1, "late", 35}}
	if !slices.Equal(fired, want) {
		t.Fatalf("fired %v, want %v", fired, want)
	}
	if n := tm.NumEventTimers(); n != 1 {
		t.Errorf("NumEventTimers = %d, want 1 (later@41)", n)
	}
}

func TestProcessingTimers(t *testing.T) {
	b := NewKeyedBackend(Options[int]{})
	tm, _ := NewTimers[int, string](b, "timers", nil)
	if _, ok := tm.NextProcessingTime(); ok {
		t.Error("NextProcessingTime on no timers")
	}
	mustKey(t, b, 7)
	tm.RegisterProcessingTime("", 100)
	tm.RegisterProcessingTime("", 50)
	tm.RegisterEventTime("", 1)
	if ts, ok := tm.NextProcessingTime(); !ok || ts != 50 {
		t.Errorf("NextProcessingTime = %d %v", ts, ok)
	}
	tm.DeleteProcessingTime("", 50)
	if ts, ok := tm.NextProcessingTime(); !ok || ts != 100 {
		t.Errorf("NextProcessingTime after delete = %d %v", ts, ok)
	}
	var fired []firedTimer
	if err := tm.AdvanceProcessingTime(99, collect(t, b, &fired)); err != nil || len(fired) != 0 {
		t.Fatalf("fired %v, %v", fired, err)
	}
	if err := tm.AdvanceProcessingTime(100, collect(t, b, &fired)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fired, []firedTimer{{7, "", 100}}) || tm.NumProcessingTimers() != 0 || tm.NumEventTimers() != 1 {
		t.Errorf("fired %v; %d processing, %d event timers left", fired, tm.NumProcessingTimers(), tm.NumEventTimers())
	}
}

func TestTimerFireError(t *testing.T) {
	b := NewKeyedBackend(Options[int]{})
	tm, _ := NewTimers[int, struct{}](b, "timers", nil)
	for k := range 3 {
		mustKey(t, b, k)
		tm.RegisterEventTime(struct{}{}, int64(k))
	}
	boom := errors.New("boom")
	calls := 0
	err := tm.AdvanceWatermark(10, func(k int, _ struct{}, ts int64) error {
		calls++
		if ts == 1 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || calls != 2 || tm.NumEventTimers() != 1 {
		t.Errorf("err %v after %d calls, %d timers left", err, calls, tm.NumEventTimers())
	}
}

// TestTimersModel runs random registrations, deletions and advances against
// a model, with many timers per key so that both the list and the indexed
// timer sets are used, and enough churn to compact the heap.
func TestTimersModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	b := NewKeyedBackend(Options[int]{MaxParallelism: 16})
	tm, _ := NewTimers[int, string](b, "timers", nil)
	type id struct {
		key int
		ns  string
		ts  int64
	}
	model := map[id]bool{}
	var wm int64
	nss := []string{"a", "b", "c"}
	for i := range 20000 {
		k := rng.IntN(40)
		ns := nss[rng.IntN(len(nss))]
		ts := wm + 1 + int64(rng.IntN(60))
		switch op := rng.IntN(100); {
		case op < 50:
			mustKey(t, b, k)
			tm.RegisterEventTime(ns, ts)
			model[id{k, ns, ts}] = true
		case op < 90:
			mustKey(t, b, k)
			tm.DeleteEventTime(ns, ts)
			delete(model, id{k, ns, ts})
		default:
			wm += int64(rng.IntN(20))
			var want []id
			for x := range model {
				if x.ts <= wm {
					want = append(want, x)
					delete(model, x)
				}
			}
			var got []id
			err := tm.AdvanceWatermark(wm, func(k int, ns string, ts int64) error {
				got = append(got, id{k, ns, ts})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.IsSortedFunc(got, func(a, b id) int { return cmp.Compare(a.ts, b.ts) }) {
				t.Fatalf("op %d: fired out of order: %v", i, got)
			}
			byAll := func(a, b id) int {
				return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.key, b.key), cmp.Compare(a.ns, b.ns))
			}
			slices.SortFunc(got, byAll)
			slices.SortFunc(want, byAll)
			if !slices.Equal(got, want) {
				t.Fatalf("op %d: fired %v, want %v", i, got, want)
			}
		}
		if tm.NumEventTimers() != len(model) {
			t.Fatalf("op %d: %d timers, model has %d", i, tm.NumEventTimers(), len(model))
		}
		if len(tm.event.heap) > 2*len(model)+64+1 {
			t.Fatalf("op %d: heap of %d items for %d timers", i, len(tm.event.heap), len(model))
		}
	}
}

func TestTimerTiesFireInRegistrationOrder(t *testing.T) {
	b := NewKeyedBackend(Options[int]{})
	tm, _ := NewTimers[int, int](b, "timers", nil)
	var want []firedTimer
	for i := range 50 {
		k := (i * 7) % 13
		mustKey(t, b, k)
		tm.RegisterEventTime(i, 5)
		want = append(want, firedTimer{k, "", int64(i)})
	}
	var got []firedTimer
	tm.AdvanceWatermark(5, func(k, ns int, ts int64) error {
		got = append(got, firedTimer{k, "", int64(ns)})
		return nil
	})
	if !slices.Equal(got, want) {
		t.Errorf("ties fired as %v, want %v", got, want)
	}
}

func TestTimerKeys(t *testing.T) {
	b := NewKeyedBackend(Options[int]{})
	tm, _ := NewTimers[int, struct{}](b, "timers", nil)
	mustKey(t, b, 1)
	tm.RegisterEventTime(struct{}{}, 5)
	tm.RegisterProcessingTime(struct{}{}, 5)
	mustKey(t, b, 2)
	tm.RegisterProcessingTime(struct{}{}, 6)
	mustKey(t, b, 3)
	tm.RegisterEventTime(struct{}{}, 7)
	got := slices.Sorted(b.Keys("timers"))
	if !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("Keys = %v, want [1 2 3]", got)
	}
}
