package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestSnapshotRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	f := newFixture(t, Options[string]{})
	m := newModel()
	f.mutate(t, m, rng, 20000, 3000)
	s := f.b.Snapshot()
	want := m.clone()
	f.mutate(t, m, rng, 20000, 3000) // after Snapshot: must not show
	data := writeSnapshot(t, s)
	s.Release()
	g := restoreFixture(t, 128, KeyGroupRange{}, data)
	equalModels(t, "restored", g.dump(t), want)
	equalModels(t, "live", f.dump(t), m)
	s2 := f.b.Snapshot()
	writeSnapshot(t, s2)
	if _, err := s2.WriteTo(io.Discard); !errors.Is(err, ErrSnapshotReleased) {
		t.Errorf("second WriteTo: %v", err)
	}
	s2.Release()
	if _, err := s2.WriteTo(io.Discard); !errors.Is(err, ErrSnapshotReleased) {
		t.Errorf("WriteTo after Release: %v", err)
	}
	s2.Release() // twice is fine
}

func TestSnapshotEmptyBackend(t *testing.T) {
	f := newFixture(t, Options[string]{MaxParallelism: 4096})
	s := f.b.Snapshot()
	data := writeSnapshot(t, s)
	s.Release()
	if len(data) > 100 {
		t.Errorf("empty snapshot is %d bytes", len(data))
	}
	g := restoreFixture(t, 4096, KeyGroupRange{}, data)
	equalModels(t, "restored empty", g.dump(t), newModel())
}

// TestSnapshotsIsolated keeps several snapshots alive while state changes,
// and checks each against the state at its Snapshot call.
func TestSnapshotsIsolated(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	f := newFixture(t, Options[string]{MaxParallelism: 32})
	m := newModel()
	type taken struct {
		s    *Snapshot
		want *model
	}
	var live []taken
	for round := range 12 {
		f.mutate(t, m, rng, 3000, 2000)
		live = append(live, taken{f.b.Snapshot(), m.clone()})
		if round%3 == 2 {
			// Write and release the oldest, keep the others.
			s := live[0]
			live = live[1:]
			g := restoreFixture(t, 32, KeyGroupRange{}, writeSnapshot(t, s.s))
			s.s.Release()
			equalModels(t, "snapshot", g.dump(t), s.want)
		}
	}
	for _, s := range live {
		g := restoreFixture(t, 32, KeyGroupRange{}, writeSnapshot(t, s.s))
		s.s.Release()
		equalModels(t, "snapshot", g.dump(t), s.want)
	}
	if h := f.b.v.live.root.Load(); h != 0 {
		t.Errorf("highest pinned epoch %d after releasing all", h)
	}
}

// TestUnregisteredStateCarried restores a snapshot, snapshots again without
// registering anything, and checks that the next restore still has it all.
func TestUnregisteredStateCarried(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	f := newFixture(t, Options[string]{})
	m := newModel()
	f.mutate(t, m, rng, 5000, 1000)
	s := f.b.Snapshot()
	first := writeSnapshot(t, s)
	s.Release()

	b := NewKeyedBackend(Options[string]{})
	if err := b.Restore(bytes.NewReader(first)); err != nil {
		t.Fatal(err)
	}
	// Only the value state is registered this time; it changes.
	vs, err := Value[string, int64](b, "count", nil)
	if err != nil {
		t.Fatal(err)
	}
	mustKey(t, b, "fresh")
	vs.Update(99)
	m.val["fresh"] = 99
	s = b.Snapshot()
	second := writeSnapshot(t, s)
	s.Release()

	g := restoreFixture(t, 128, KeyGroupRange{}, second)
	equalModels(t, "carried", g.dump(t), m)
}

func TestRestoreIntoRegisteredState(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	f := newFixture(t, Options[string]{})
	m := newModel()
	f.mutate(t, m, rng, 3000, 500)
	s := f.b.Snapshot()
	data := writeSnapshot(t, s)
	s.Release()
	g := newFixture(t, Options[string]{})
	if err := g.b.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	equalModels(t, "restored after registration", g.dump(t), m)
	if err := g.b.Restore(bytes.NewReader(data)); !errors.Is(err, ErrDuplicateKeyGroup) {
		t.Errorf("restoring the same key groups again: %v", err)
	}
}

func TestRestoreErrors(t *testing.T) {
	f := newFixture(t, Options[string]{})
	mustKey(t, f.b, "k")
	f.val.Update(1)
	f.tm.RegisterEventTime("", 5)
	s := f.b.Snapshot()
	good := writeSnapshot(t, s)
	s.Release()

	t.Run("max parallelism", func(t *testing.T) {
		b := NewKeyedBackend(Options[string]{MaxParallelism: 256})
		if err := b.Restore(bytes.NewReader(good)); !errors.Is(err, ErrIncompatible) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("version", func(t *testing.T) {
		bad := bytes.Clone(good)
		bad[5] = 9
		err := NewKeyedBackend(Options[string]{}).Restore(bytes.NewReader(bad))
		if !errors.Is(err, ErrIncompatible) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("kind mismatch", func(t *testing.T) {
		b := NewKeyedBackend(Options[string]{})
		if err := b.Restore(bytes.NewReader(good)); err != nil {
			t.Fatal(err)
		}
		_, err := List[string, int64](b, "count", nil)
		if !errors.Is(err, ErrStateMismatch) || !strings.Contains(err.Error(), `"count"`) {
			t.Errorf("err = %v", err)
		}
		b2 := NewKeyedBackend(Options[string]{})
		if _, err := Map[string, int, int](b2, "count", nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := b2.Restore(bytes.NewReader(good)); !errors.Is(err, ErrStateMismatch) {
			t.Errorf("restore over another kind: %v", err)
		}
	})
	t.Run("value codec mismatch", func(t *testing.T) {
		b := NewKeyedBackend(Options[string]{})
		if err := b.Restore(bytes.NewReader(good)); err != nil {
			t.Fatal(err)
		}
		_, err := Value[string, string](b, "count", nil)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `"count"`) {
			t.Errorf("err = %v", err)
		}
	})
	corruptions := []struct {
		name   string
		mangle func([]byte) []byte
	}{
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }},
		{"flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }},
		{"checksum", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-5] }},
		{"no trailer", func(b []byte) []byte { return b[:len(b)-4] }},
		{"empty", func(b []byte) []byte { return nil }},
	}
	for _, c := range corruptions {
		t.Run(c.name, func(t *testing.T) {
			b := NewKeyedBackend(Options[string]{})
			err := b.Restore(bytes.NewReader(c.mangle(bytes.Clone(good))))
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v", err)
			}
			if len(b.pending) != 0 {
				t.Error("a failed restore left state behind")
			}
		})
	}
}

// TestRestoreErrorNamesStateAndKeyGroup damages an entry (with a valid
// checksum) and checks the error says where.
func TestRestoreErrorNamesStateAndKeyGroup(t *testing.T) {
	b := NewKeyedBackend(Options[string]{})
	vs, _ := Value[string, string](b, "names", nil)
	mustKey(t, b, "k")
	vs.Update("hello")
	s := b.Snapshot()
	data := writeSnapshot(t, s)
	s.Release()
	i := bytes.Index(data, []byte("hello"))
	data[i-1] = 50 // string length beyond the section
	binary.BigEndian.PutUint32(data[len(data)-4:], crc32.Checksum(data[:len(data)-4], castagnoli))
	r := NewKeyedBackend(Options[string]{})
	if err := r.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err) // entries are decoded at registration
	}
	_, err := Value[string, string](r, "names", nil)
	kg := KeyGroupOf(Hasher[string]()("k"), 128)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `"names"`) || !strings.Contains(err.Error(), "key group "+strconv.Itoa(kg)) {
		t.Errorf("err = %v, want ErrCorrupt naming state and key group %d", err, kg)
	}
}

func TestReleaseDuringWrite(t *testing.T) {
	f := newFixture(t, Options[string]{})
	m := newModel()
	f.mutate(t, m, rand.New(rand.NewPCG(1, 1)), 5000, 5000)
	s := f.b.Snapshot()
	w := &stallWriter{started: make(chan struct{}), proceed: make(chan struct{})}
	done := make(chan error)
	go func() {
		_, err := s.WriteTo(w)
		done <- err
	}()
	<-w.started
	released := make(chan struct{})
	go func() {
		s.Release()
		close(released)
	}()
	close(w.proceed)
	if err := <-done; !errors.Is(err, ErrSnapshotReleased) && err != nil {
		t.Errorf("WriteTo: %v", err)
	}
	<-released
	if h := f.b.v.live.root.Load(); h != 0 {
		t.Errorf("epoch still pinned after Release")
	}
}

type stallWriter struct {
	once    sync.Once
	started chan struct{}
	proceed chan struct{}
}

func (w *stallWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.started); <-w.proceed })
	return len(p), nil
}

func TestWriteToErrors(t *testing.T) {
	f := newFixture(t, Options[string]{})
	mustKey(t, f.b, "k")
	f.val.Update(1)
	s := f.b.Snapshot()
	defer s.Release()
	boom := errors.New("disk full")
	if _, err := s.WriteTo(failWriter{boom}); !errors.Is(err, boom) {
		t.Errorf("err = %v", err)
	}

	b := NewKeyedBackend(Options[string]{})
	vs, _ := Value[string, float64](b, "v", JSONCodec[float64]())
	mustKey(t, b, "k")
	vs.Update(nan())
	s2 := b.Snapshot()
	defer s2.Release()
	if _, err := s2.WriteTo(io.Discard); err == nil || !strings.Contains(err.Error(), "JSON") {
		t.Errorf("unencodable value: %v", err)
	}
}

func nan() float64 { var z float64; return z / z }

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

// TestRescale fills all 128 key groups in one backend, restores its
// snapshot into 3 backends, then the 3 snapshots into 2.
func TestRescale(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const maxPar = 128
	src := newFixture(t, Options[string]{MaxParallelism: maxPar})
	m := newModel()
	src.mutate(t, m, rng, 30000, 4000)
	s := src.b.Snapshot()
	one := writeSnapshot(t, s)
	s.Release()

	var three [][]byte
	for i := range 3 {
		r := RangeForSubtask(maxPar, 3, i)
		g := restoreFixture(t, maxPar, r, one)
		equalModels(t, "3-way subtask", g.dump(t), m.filter(r, maxPar))
		// Keep working in the new subtask before the next checkpoint.
		g.mutate(t, m, rng, 2000, 4000)
		s := g.b.Snapshot()
		three = append(three, writeSnapshot(t, s))
		s.Release()
	}
	for i := range 2 {
		r := RangeForSubtask(maxPar, 2, i)
		g := restoreFixture(t, maxPar, r, three...)
		equalModels(t, "2-way subtask", g.dump(t), m.filter(r, maxPar))
		var fired []timerKey
		if err := g.tm.AdvanceWatermark(1<<40, func(k, ns string, ts int64) error {
			fired = append(fired, timerKey{k, ns, ts})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if want := len(m.filter(r, maxPar).ev); len(fired) != want {
			t.Errorf("subtask %d fired %d restored timers, want %d", i, len(fired), want)
		}
	}
}

// TestSnapshotConcurrentWithProcessing updates state continuously on one
// goroutine while snapshots are written on others; every written snapshot
// must equal the model at its Snapshot call. Run it with -race.
func TestSnapshotConcurrentWithProcessing(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	f := newFixture(t, Options[string]{MaxParallelism: 64})
	m := newModel()
	type job struct {
		s    *Snapshot
		want *model
	}
	jobs := make(chan job, 4)
	type result struct {
		data []byte
		want *model
	}
	results := make(chan result, 64)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				var buf bytes.Buffer
				if _, err := j.s.WriteTo(&buf); err != nil {
					t.Error(err)
				}
				j.s.Release()
				results <- result{buf.Bytes(), j.want}
			}
		}()
	}
	rounds := 30
	if testing.Short() {
		rounds = 10
	}
	for range rounds {
		f.mutate(t, m, rng, 1500, 3000)
		jobs <- job{f.b.Snapshot(), m.clone()}
	}
	close(jobs)
	wg.Wait()
	close(results)
	n := 0
	for r := range results {
		g := restoreFixture(t, 64, KeyGroupRange{}, r.data)
		equalModels(t, "concurrent snapshot", g.dump(t), r.want)
		n++
	}
	if n != rounds {
		t.Errorf("%d snapshots checked, want %d", n, rounds)
	}
}

// TestSnapshotWithoutReleaseStaysConsistent writes a snapshot long after
// it was taken, while it is still pinned.
func TestSnapshotWithoutReleaseStaysConsistent(t *testing.T) {
	f := newFixture(t, Options[string]{})
	m := newModel()
	rng := rand.New(rand.NewPCG(15, 16))
	f.mutate(t, m, rng, 1000, 100)
	want := m.clone()
	s := f.b.Snapshot()
	f.mutate(t, m, rng, 1000, 100)
	g := restoreFixture(t, 128, KeyGroupRange{}, writeSnapshot(t, s))
	equalModels(t, "unreleased snapshot", g.dump(t), want)
	s.Release()
}
