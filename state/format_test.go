package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/v1-fixture.snap")

const goldenFile = "testdata/v1-fixture.snap"

// goldenContent fills f (and returns the model) with the content of the
// golden snapshot file.
func goldenContent(t testing.TB, f *fixture) *model {
	m := newModel()
	for i := range 100 {
		k := fmt.Sprintf("key-%d", i)
		mustKey(t, f.b, k)
		f.val.Update(int64(i) * 1000)
		m.val[k] = int64(i) * 1000
		if i%3 == 0 {
			l := []string{fmt.Sprint("a", i), fmt.Sprint("b", i)}
			f.lst.Update(l)
			m.lst[k] = l
		}
		if i%4 == 0 {
			f.mp.Put("x", float64(i)/2)
			m.mp[k] = map[string]float64{"x": float64(i) / 2}
		}
		if i%5 == 0 {
			f.tm.RegisterEventTime("w", int64(1000+i))
			m.ev[timerKey{k, "w", int64(1000 + i)}] = true
		}
		if i%7 == 0 {
			f.tm.RegisterProcessingTime("", int64(i))
			m.pt[timerKey{k, "", int64(i)}] = true
		}
	}
	return m
}

// TestGoldenSnapshotV1 restores a snapshot file written by an earlier
// build: the format must stay readable. Regenerate only for a new format
// version, never to make the test pass.
func TestGoldenSnapshotV1(t *testing.T) {
	if *update {
		f := newFixture(t, Options[string]{})
		goldenContent(t, f)
		s := f.b.Snapshot()
		if err := os.WriteFile(goldenFile, writeSnapshot(t, s), 0o644); err != nil {
			t.Fatal(err)
		}
		s.Release()
	}
	data, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	want := goldenContent(t, newFixture(t, Options[string]{}))
	g := restoreFixture(t, 128, KeyGroupRange{}, data)
	equalModels(t, "golden file", g.dump(t), want)
	var fired []timerKey
	g.tm.AdvanceProcessingTime(1<<40, func(k, ns string, ts int64) error {
		fired = append(fired, timerKey{k, ns, ts})
		return nil
	})
	if len(fired) != len(want.pt) {
		t.Errorf("fired %d processing timers, want %d", len(fired), len(want.pt))
	}
}

func fixChecksum(data []byte) []byte {
	if len(data) < 4 {
		return data
	}
	out := bytes.Clone(data)
	binary.BigEndian.PutUint32(out[len(out)-4:], crc32.Checksum(out[:len(out)-4], castagnoli))
	return out
}

// FuzzRestore feeds damaged snapshot files to Restore and to the decoding
// at registration. Each input is tried as is and with its checksum
// recomputed, so that mutations reach the structure behind the checksum.
func FuzzRestore(f *testing.F) {
	golden, err := os.ReadFile(goldenFile)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add(golden[:len(golden)/2])
	small := newFixture(f, Options[string]{MaxParallelism: 4})
	mustKey(f, small.b, "k")
	small.val.Update(7)
	small.lst.Add("e")
	small.mp.Put("u", 1.5)
	small.tm.RegisterEventTime("n", -3)
	s := small.b.Snapshot()
	f.Add(writeSnapshot(f, s))
	s.Release()
	// An incremental chain: deltas are restored on top of its base.
	s = small.b.IncrementalSnapshot()
	base := writeSnapshot(f, s)
	s.Release()
	f.Add(base)
	mustKey(f, small.b, "k")
	small.val.Clear()
	small.lst.Add("f")
	small.tm.RegisterProcessingTime("p", 9)
	mustKey(f, small.b, "j")
	small.mp.Put("v", 2)
	s = small.b.IncrementalSnapshot()
	f.Add(writeSnapshot(f, s))
	s.Release()
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRestoreOnce(t, nil, data)
		fuzzRestoreOnce(t, nil, fixChecksum(data))
		fuzzRestoreOnce(t, base, fixChecksum(data))
	})
}

// fuzzRestoreOnce restores base (if not nil) and data, which must be
// accepted or refused with a known error.
func fuzzRestoreOnce(t *testing.T, base, data []byte) {
	known := func(err error) bool {
		for _, e := range []error{ErrCorrupt, ErrIncompatible, ErrStateMismatch, ErrDuplicateKeyGroup} {
			if errors.Is(err, e) {
				return true
			}
		}
		return false
	}
	for _, maxPar := range []int{4, 128} {
		b := NewKeyedBackend(Options[string]{MaxParallelism: maxPar, Range: KeyGroupRange{maxPar / 4, maxPar}})
		if base != nil {
			if err := b.Restore(bytes.NewReader(base)); err != nil {
				continue // another max parallelism
			}
		}
		if err := b.Restore(bytes.NewReader(data)); err != nil {
			if !known(err) {
				t.Fatalf("Restore: unexpected error %v", err)
			}
			continue
		}
		// Register what can be registered; decoding errors must be known.
		_, e1 := Value[string, int64](b, "count", nil)
		_, e2 := List[string, string](b, "events", nil)
		_, e3 := Map[string, string, float64](b, "totals", nil, nil)
		_, e4 := NewTimers[string, string](b, "timers", nil)
		for _, err := range []error{e1, e2, e3, e4} {
			if err != nil && !known(err) {
				t.Fatalf("register: unexpected error %v", err)
			}
		}
		// Whatever was accepted must survive another round trip.
		s := b.Snapshot()
		out := writeSnapshot(t, s)
		s.Release()
		if err := NewKeyedBackend(Options[string]{MaxParallelism: maxPar}).Restore(bytes.NewReader(out)); err != nil {
			t.Fatalf("re-restore: %v", err)
		}
	}
}

func TestGoldenFileIsV1(t *testing.T) {
	data, err := os.ReadFile(filepath.Clean(goldenFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(data[:4]) != fileMagic || binary.BigEndian.Uint16(data[4:]) != 1 {
		t.Errorf("golden file header %x", data[:6])
	}
}
