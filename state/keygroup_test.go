package state

import "testing"

func TestRangeForSubtaskPartitions(t *testing.T) {
	for maxPar := 1; maxPar <= 160; maxPar++ {
		for par := 1; par <= maxPar; par++ {
			next := 0
			for i := range par {
				r := RangeForSubtask(maxPar, par, i)
				if r.Start != next || r.Len() == 0 {
					t.Fatalf("max %d par %d subtask %d: range %v, want start %d and non-empty", maxPar, par, i, r, next)
				}
				for kg := r.Start; kg < r.End; kg++ {
					if s := SubtaskForKeyGroup(maxPar, par, kg); s != i {
						t.Fatalf("max %d par %d: key group %d in range %v of subtask %d, SubtaskForKeyGroup says %d", maxPar, par, kg, r, i, s)
					}
				}
				next = r.End
			}
			if next != maxPar {
				t.Fatalf("max %d par %d: ranges end at %d", maxPar, par, next)
			}
		}
	}
}

func TestRangeForSubtaskKnown(t *testing.T) {
	tests := []struct {
		maxPar, par, subtask int
		want                 KeyGroupRange
	}{
		{128, 1, 0, KeyGroupRange{0, 128}},
		{128, 3, 0, KeyGroupRange{0, 43}},
		{128, 3, 1, KeyGroupRange{43, 86}},
		{128, 3, 2, KeyGroupRange{86, 128}},
		{128, 2, 1, KeyGroupRange{64, 128}},
		{32768, 7, 6, KeyGroupRange{28087, 32768}},
	}
	for _, tt := range tests {
		if got := RangeForSubtask(tt.maxPar, tt.par, tt.subtask); got != tt.want {
			t.Errorf("RangeForSubtask(%d, %d, %d) = %v, want %v", tt.maxPar, tt.par, tt.subtask, got, tt.want)
		}
	}
}

func TestKeyGroupRange(t *testing.T) {
	r := KeyGroupRange{3, 7}
	for kg, want := range map[int]bool{2: false, 3: true, 6: true, 7: false} {
		if r.Contains(kg) != want {
			t.Errorf("%v.Contains(%d) = %v", r, kg, !want)
		}
	}
	if r.Len() != 4 || (KeyGroupRange{}).Len() != 0 {
		t.Errorf("Len wrong")
	}
	if KeyGroupOf(130, 128) != 2 || KeyGroupOf(1<<63, 100) != int((1<<63)%100) {
		t.Errorf("KeyGroupOf wrong")
	}
}

func TestRangeForSubtaskPanics(t *testing.T) {
	for _, args := range [][3]int{{0, 1, 0}, {128, 0, 0}, {128, 129, 0}, {128, 2, 2}, {128, 2, -1}, {MaxMaxParallelism + 1, 1, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RangeForSubtask%v did not panic", args)
				}
			}()
			RangeForSubtask(args[0], args[1], args[2])
		}()
	}
}
