package state

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestSnapshotStressLikeRuntime uses a backend the way a keyed operator in
// a job does, across restarts: per record SetCurrentKey, Value and Update
// (sometimes Clear); a snapshot at random points with up to three alive,
// written on other goroutines at random speeds, some released unwritten
// (aborted checkpoints) or while being written; and now and then a
// "restart" that restores the newest written snapshot into a new backend
// and goes on from its content. Every written snapshot must restore to
// exactly the state at its Snapshot call. Run it with -race.
func TestSnapshotStressLikeRuntime(t *testing.T) {
	rounds := 40
	if testing.Short() {
		rounds = 10
	}
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			stressRun(t, rand.New(rand.NewPCG(seed, 99)), rounds)
		})
	}
}

type stressSnap struct {
	s    *Snapshot
	want map[string]int64
	mode int // 0 write, 1 release unwritten, 2 release while writing
}

type stressResult struct {
	data    []byte
	want    map[string]int64
	err     error
	skipped bool // released before it was written
}

func stressRun(t *testing.T, rng *rand.Rand, rounds int) {
	const maxPar = 128
	rangeOf := KeyGroupRange{Start: 64, End: 128}
	newBackend := func() (*KeyedBackend[string], ValueState[int64]) {
		b := NewKeyedBackend(Options[string]{MaxParallelism: maxPar, Range: rangeOf})
		v, err := Value[string, int64](b, "reduce", nil)
		if err != nil {
			t.Fatal(err)
		}
		return b, v
	}
	b, val := newBackend()
	model := map[string]int64{}
	var keys []string
	for i := 0; len(keys) < 3000; i++ {
		k := fmt.Sprint("k", i)
		if rangeOf.Contains(KeyGroupOf(Hasher[string]()(k), maxPar)) {
			keys = append(keys, k)
		}
	}

	jobs := make(chan stressSnap, 8)
	results := make(chan stressResult, 1024)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wrng := rand.New(rand.NewPCG(uint64(w), 7))
			for j := range jobs {
				switch j.mode {
				case 1:
					j.s.Release()
					results <- stressResult{skipped: true}
					continue
				case 2:
					go func() {
						time.Sleep(time.Duration(wrng.IntN(200)) * time.Microsecond)
						j.s.Release()
					}()
				}
				var buf bytes.Buffer
				_, err := j.s.WriteTo(&slowWriter{w: &buf, rng: rand.New(rand.NewPCG(wrng.Uint64(), 1))})
				j.s.Release()
				if j.mode == 2 && err == ErrSnapshotReleased {
					results <- stressResult{skipped: true}
					continue
				}
				results <- stressResult{data: buf.Bytes(), want: j.want, err: err}
			}
		}()
	}

	var lastData []byte
	var lastWant map[string]int64
	alive := 0
	for round := range rounds {
		for range rng.IntN(3000) {
			k := keys[rng.IntN(len(keys))]
			if err := b.SetCurrentKey(k); err != nil {
				t.Fatal(err)
			}
			if rng.IntN(50) == 0 {
				val.Clear()
				delete(model, k)
				continue
			}
			v, ok := val.Value()
			if ok != (model[k] != 0) || v != model[k] {
				t.Fatalf("round %d key %s: value %d,%v, model %d", round, k, v, ok, model[k])
			}
			val.Update(v + 1)
			model[k] = v + 1
		}
		if alive < 3 {
			jobs <- stressSnap{b.Snapshot(), maps.Clone(model), rng.IntN(6) / 4}
			alive++
		}
		// Collect what was written so far.
	drain:
		for {
			select {
			case r := <-results:
				alive--
				if r.skipped {
					continue
				}
				if r.err != nil {
					t.Fatalf("write: %v", r.err)
				}
				got := restoreValues(t, maxPar, rangeOf, r.data)
				if !maps.Equal(got, r.want) {
					t.Fatalf("round %d: snapshot restored %d keys, want %d (or values differ)", round, len(got), len(r.want))
				}
				lastData, lastWant = r.data, r.want
			default:
				break drain
			}
		}
		// A restart from the newest written snapshot.
		if lastData != nil && rng.IntN(8) == 0 {
			b, val = newBackend()
			if err := b.Restore(bytes.NewReader(lastData)); err != nil {
				t.Fatalf("round %d: restart: %v", round, err)
			}
			model = maps.Clone(lastWant)
		}
	}
	close(jobs)
	wg.Wait()
	close(results)
	for r := range results {
		if r.skipped {
			continue
		}
		if r.err != nil {
			t.Fatalf("write: %v", r.err)
		}
		if got := restoreValues(t, maxPar, rangeOf, r.data); !maps.Equal(got, r.want) {
			t.Fatalf("final: snapshot restored %d keys, want %d (or values differ)", len(got), len(r.want))
		}
	}
}

func restoreValues(t *testing.T, maxPar int, r KeyGroupRange, data []byte) map[string]int64 {
	t.Helper()
	b := NewKeyedBackend(Options[string]{MaxParallelism: maxPar, Range: r})
	if err := b.Restore(bytes.NewReader(data)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	v, err := Value[string, int64](b, "reduce", nil)
	if err != nil {
		t.Fatalf("register restored state: %v", err)
	}
	got := map[string]int64{}
	for k := range b.Keys("reduce") {
		if err := b.SetCurrentKey(k); err != nil {
			t.Fatal(err)
		}
		x, _ := v.Value()
		got[k] = x
	}
	return got
}

// slowWriter writes in small pieces with pauses, so that processing goes
// on while a snapshot is half written.
type slowWriter struct {
	w   *bytes.Buffer
	rng *rand.Rand
}

func (s *slowWriter) Write(p []byte) (int, error) {
	if s.rng.IntN(4) == 0 {
		time.Sleep(time.Duration(s.rng.IntN(50)) * time.Microsecond)
	}
	return s.w.Write(p)
}
