package runtime

import (
	"slices"
	"testing"
)

// TestIncrementalState: a delta builds on the file written for the
// checkpoint chosen as its base, by every operator of the task; a chain
// too long or not completed starts anew; a late write of an older
// checkpoint does not replace a newer one.
func TestIncrementalState(t *testing.T) {
	var s incrementalState
	done := map[int64]bool{}
	completed := func(id int64) bool { return done[id] }

	if !s.next(1, completed) {
		t.Fatal("the first snapshot must start a chain")
	}
	for op := range 2 {
		s.wrote(op, 1, "chk-1", "f", nil, keyedChain{}, 10, 10, 100)
	}
	if !s.next(2, completed) {
		t.Fatal("a delta on a checkpoint that did not complete")
	}
	for op := range 2 {
		s.wrote(op, 2, "chk-2", "f", nil, keyedChain{}, 10, 10, 100)
	}
	done[2] = true
	if s.next(3, completed) {
		t.Fatal("no delta on a completed checkpoint")
	}
	for op := range 2 { // both operators of the task find their base
		chain, prev, err := s.base(op, 3)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(chain, []keyedRef{{"chk-2", "f"}}) {
			t.Fatalf("op %d: chain %v", op, chain)
		}
		s.wrote(op, 3, "chk-3", "f", chain, prev, 5, 10, 100)
	}
	s.wrote(0, 2, "chk-2", "late", nil, keyedChain{}, 10, 10, 100) // older: ignored
	done[3] = true
	if s.next(4, completed) {
		t.Fatal("no delta on a completed checkpoint")
	}
	chain, prev, err := s.base(0, 4)
	if err != nil || !slices.Equal(chain, []keyedRef{{"chk-2", "f"}, {"chk-3", "f"}}) {
		t.Fatalf("chain %v, %v", chain, err)
	}
	// 10 + 5 + 6 entries written for 10 live: more than twice; a new chain.
	s.wrote(0, 4, "chk-4", "f", chain, prev, 6, 10, 100)
	done[4] = true
	if !s.next(5, completed) {
		t.Fatal("a chain holding more than twice the live entries goes on")
	}
	if _, _, err := s.base(0, 5); err == nil {
		t.Fatal("a base for a checkpoint that starts a chain")
	}
}
