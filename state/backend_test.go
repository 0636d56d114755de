package state

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func mustKey[K comparable](t testing.TB, b *KeyedBackend[K], k K) {
	t.Helper()
	if err := b.SetCurrentKey(k); err != nil {
		t.Fatal(err)
	}
}

func TestSetCurrentKey(t *testing.T) {
	b := NewKeyedBackend(Options[string]{Range: KeyGroupRange{0, 64}})
	h := Hasher[string]()
	var in, out string
	for i := 0; in == "" || out == ""; i++ {
		k := strings.Repeat("k", i)
		if KeyGroupOf(h(k), 128) < 64 {
			in = k
		} else {
			out = k
		}
	}
	mustKey(t, b, in)
	if b.CurrentKey() != in || b.CurrentKeyGroup() != KeyGroupOf(h(in), 128) {
		t.Errorf("current key %q group %d", b.CurrentKey(), b.CurrentKeyGroup())
	}
	err := b.SetCurrentKey(out)
	if !errors.Is(err, ErrKeyGroupOutOfRange) {
		t.Fatalf("out-of-range key: %v", err)
	}
	kg := KeyGroupOf(h(out), 128)
	if !strings.Contains(err.Error(), "[0, 64)") || !strings.Contains(err.Error(), "key group "+strconv.Itoa(kg)) {
		t.Errorf("error %q does not name key group %d and range", err, kg)
	}
	vs, err := Value[string, int](b, "v", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Error("state use after a failed SetCurrentKey did not panic")
		}
	}()
	vs.Update(1)
}

func TestStateBeforeKeyPanics(t *testing.T) {
	b := NewKeyedBackend(Options[int]{})
	vs, _ := Value[int, int](b, "v", nil)
	defer func() {
		if recover() == nil {
			t.Error("Value without a current key did not panic")
		}
	}()
	vs.Value()
}

func TestRegistration(t *testing.T) {
	b := NewKeyedBackend(Options[int]{})
	v1, err := Value[int, int](b, "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := Value[int, int](b, "a", nil)
	if err != nil || v1 != v2 {
		t.Fatalf("second Value: %v, same handle %v", err, v1 == v2)
	}
	tests := []struct {
		name string
		err  error
	}{
		{"value of other type", func() error { _, err := Value[int, string](b, "a", nil); return err }()},
		{"list", func() error { _, err := List[int, int](b, "a", nil); return err }()},
		{"map", func() error { _, err := Map[int, int, int](b, "a", nil, nil); return err }()},
		{"timers", func() error { _, err := NewTimers[int, struct{}](b, "a", nil); return err }()},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, ErrStateMismatch) || !strings.Contains(tt.err.Error(), `"a"`) {
			t.Errorf("%s: error %v, want ErrStateMismatch naming the state", tt.name, tt.err)
		}
	}
	l1, _ := List[int, string](b, "l", nil)
	l2, _ := List[int, string](b, "l", nil)
	m1, _ := Map[int, string, int](b, "m", nil, nil)
	m2, _ := Map[int, string, int](b, "m", nil, nil)
	t1, _ := NewTimers[int, string](b, "t", nil)
	t2, _ := NewTimers[int, string](b, "t", nil)
	if l1 != l2 || m1 != m2 || t1 != t2 {
		t.Error("registering twice returned another handle")
	}
	if _, err := Map[int, string, string](b, "m", nil, nil); !errors.Is(err, ErrStateMismatch) {
		t.Errorf("map of other value type: %v", err)
	}
	if _, err := NewTimers[int, int](b, "t", nil); !errors.Is(err, ErrStateMismatch) {
		t.Errorf("timers of other namespace: %v", err)
	}
}

func TestValueState(t *testing.T) {
	b := NewKeyedBackend(Options[string]{})
	vs, _ := Value[string, int64](b, "count", nil)
	mustKey(t, b, "a")
	if v, ok := vs.Value(); ok || v != 0 {
		t.Errorf("empty state: %v %v", v, ok)
	}
	vs.Update(5)
	mustKey(t, b, "b")
	vs.Update(7)
	vs.Update(8)
	mustKey(t, b, "a")
	if v, ok := vs.Value(); !ok || v != 5 {
		t.Errorf("a = %v %v", v, ok)
	}
	vs.Clear()
	if _, ok := vs.Value(); ok {
		t.Error("cleared value present")
	}
	vs.Clear() // clearing an absent value is fine
	mustKey(t, b, "b")
	if v, _ := vs.Value(); v != 8 {
		t.Errorf("b = %v", v)
	}
	if got := slices.Collect(b.Keys("count")); !slices.Equal(got, []string{"b"}) {
		t.Errorf("Keys = %v", got)
	}
	if got := slices.Collect(b.Keys("nope")); len(got) != 0 {
		t.Errorf("Keys of unknown state = %v", got)
	}
}

func TestValueStateNoAlloc(t *testing.T) {
	b := NewKeyedBackend(Options[int64]{})
	vs, _ := Value[int64, int64](b, "count", nil)
	for k := range int64(1000) {
		mustKey(t, b, k)
		vs.Update(k)
	}
	k := int64(0)
	n := testing.AllocsPerRun(1000, func() {
		k = (k + 7) % 1000
		_ = b.SetCurrentKey(k)
		v, _ := vs.Value()
		vs.Update(v + 1)
	})
	if n != 0 {
		t.Errorf("running count allocates %v times per record", n)
	}
}

func TestListState(t *testing.T) {
	b := NewKeyedBackend(Options[int]{})
	ls, _ := List[int, string](b, "l", nil)
	mustKey(t, b, 1)
	if ls.Get() != nil {
		t.Error("empty list not nil")
	}
	ls.Add("a")
	ls.AddAll([]string{"b", "c"})
	ls.AddAll(nil)
	got := ls.Get()
	if !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("Get = %v", got)
	}
	_ = append(got, "caller") // must not write into the state
	ls.Add("d")
	if g := ls.Get(); !slices.Equal(g, []string{"a", "b", "c", "d"}) {
		t.Fatalf("Get = %v", g)
	}
	in := []string{"x", "y"}
	ls.Update(in)
	in[0] = "changed"
	if g := ls.Get(); !slices.Equal(g, []string{"x", "y"}) {
		t.Fatalf("Update did not copy: %v", g)
	}
	mustKey(t, b, 2)
	ls.Add("z")
	mustKey(t, b, 1)
	ls.Update(nil)
	if ls.Get() != nil {
		t.Error("Update(nil) did not clear")
	}
	if got := slices.Collect(b.Keys("l")); !slices.Equal(got, []int{2}) {
		t.Errorf("Keys = %v", got)
	}
	mustKey(t, b, 2)
	ls.Clear()
	if got := slices.Collect(b.Keys("l")); len(got) != 0 {
		t.Errorf("Keys after clear = %v", got)
	}
}

func TestMapState(t *testing.T) {
	b := NewKeyedBackend(Options[int]{})
	ms, _ := Map[int, string, int](b, "m", nil, nil)
	mustKey(t, b, 1)
	if !ms.IsEmpty() || ms.Len() != 0 || ms.Contains("a") {
		t.Error("new map not empty")
	}
	if _, ok := ms.Get("a"); ok {
		t.Error("Get on empty map found a value")
	}
	ms.Put("a", 1)
	ms.Put("b", 2)
	ms.Put("a", 3)
	if v, ok := ms.Get("a"); !ok || v != 3 || ms.Len() != 2 || ms.IsEmpty() || !ms.Contains("b") {
		t.Errorf("map after puts: a=%v %v len %d", v, ok, ms.Len())
	}
	if got := maps.Collect(ms.All()); !maps.Equal(got, map[string]int{"a": 3, "b": 2}) {
		t.Errorf("All = %v", got)
	}
	ms.Remove("zz")
	ms.Remove("a")
	mustKey(t, b, 2)
	if !ms.IsEmpty() {
		t.Error("key 2 sees key 1's map")
	}
	ms.Put("q", 9)
	mustKey(t, b, 1)
	ms.Remove("b")
	if !ms.IsEmpty() {
		t.Error("map not empty after removing all")
	}
	if got := slices.Collect(b.Keys("m")); !slices.Equal(got, []int{2}) {
		t.Errorf("Keys = %v: removing the last entry must drop the key", got)
	}
	mustKey(t, b, 2)
	ms.Clear()
	if ms.Len() != 0 {
		t.Error("Clear left entries")
	}
}

// TestKeysWhileModifying checks that Keys iterates a frozen version while
// the caller changes state, the "apply to all keys" pattern.
func TestKeysWhileModifying(t *testing.T) {
	b := NewKeyedBackend(Options[int]{})
	vs, _ := Value[int, int](b, "v", nil)
	for k := range 500 {
		mustKey(t, b, k)
		vs.Update(k)
	}
	seen := 0
	for k := range b.Keys("v") {
		seen++
		mustKey(t, b, k)
		if k%2 == 0 {
			vs.Clear()
		} else {
			mustKey(t, b, k+1000)
			vs.Update(-1)
		}
	}
	if seen != 500 {
		t.Errorf("Keys yielded %d keys, want 500", seen)
	}
	n := 0
	for k := range b.Keys("v") {
		mustKey(t, b, k)
		v, _ := vs.Value()
		if k < 1000 && (k%2 == 0 || v != k) || k >= 1000 && v != -1 {
			t.Fatalf("key %d = %d", k, v)
		}
		n++
	}
	if n != 500 {
		t.Errorf("%d keys after the pass, want 500", n)
	}
	for range b.Keys("v") {
		break // stopping early is fine
	}
}

func TestNewKeyedBackendPanics(t *testing.T) {
	for _, o := range []Options[int]{
		{MaxParallelism: -1},
		{MaxParallelism: MaxMaxParallelism + 1},
		{MaxParallelism: 8, Range: KeyGroupRange{4, 9}},
		{MaxParallelism: 8, Range: KeyGroupRange{5, 5}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewKeyedBackend(%+v) did not panic", o)
				}
			}()
			NewKeyedBackend(o)
		}()
	}
}
