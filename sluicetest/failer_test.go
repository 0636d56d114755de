package sluicetest_test

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/sluicetest"
)

func TestFailerFailsOnceAtEachPoint(t *testing.T) {
	f := sluicetest.NewFailer(3, 5, 5).Pause(0, 0)
	var failed []int
	for i := 1; i <= 10; i++ {
		if err := f.Check(); err != nil {
			if !errors.Is(err, sluicetest.ErrInjected) {
				t.Fatalf("record %d: %v", i, err)
			}
			failed = append(failed, i)
		}
	}
	if len(failed) != 2 || failed[0] != 3 || failed[1] != 5 || f.Failures() != 2 || f.Seen() != 10 {
		t.Fatalf("failed at %v (%d failures, %d seen), want [3 5]", failed, f.Failures(), f.Seen())
	}
}

func TestRandomFailer(t *testing.T) {
	for _, tc := range []struct{ n, total, want int64 }{{5, 1000, 5}, {10, 10, 10}, {20, 10, 10}, {0, 10, 0}} {
		f := sluicetest.RandomFailer(rand.New(rand.NewPCG(1, 2)), tc.n, tc.total).Pause(0, 0)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range tc.total / 4 {
					_ = f.Check()
				}
			})
		}
		wg.Wait()
		for f.Seen() < tc.total {
			_ = f.Check()
		}
		if f.Failures() != tc.want {
			t.Errorf("RandomFailer(%d, %d): %d failures in %d records, want %d", tc.n, tc.total, f.Failures(), f.Seen(), tc.want)
		}
	}
}

func TestFailNext(t *testing.T) {
	f := sluicetest.NewFailer().Pause(0, 0)
	if err := f.Check(); err != nil {
		t.Fatal(err)
	}
	f.FailNext()
	if err := f.Check(); !errors.Is(err, sluicetest.ErrInjected) {
		t.Fatalf("after FailNext: %v, want ErrInjected", err)
	}
	if err := f.Check(); err != nil || f.Failures() != 1 {
		t.Fatalf("FailNext failed more than once: %v, %d failures", err, f.Failures())
	}
}
