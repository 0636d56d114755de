package state

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks. The default run uses 1M keys (about 16 MiB of raw keys and
// values) at most. Bigger state sizes run only when asked for, in MiB of
// raw int64 keys and values (16 bytes per key):
//
//	SLUICE_STATE_BENCH_MB=100,1000 go test -run '^$' -bench Snapshot ./state

// xorshift is a cheap deterministic key sequence for benchmarks.
type xorshift uint64

func (x *xorshift) next() uint64 {
	v := uint64(*x)
	v ^= v << 13
	v ^= v >> 7
	v ^= v << 17
	*x = xorshift(v)
	return v
}

const benchKeys = 1 << 20

func fillCounts(tb testing.TB, b *KeyedBackend[int64], vs ValueState[int64], n int) {
	for k := range int64(n) {
		if err := b.SetCurrentKey(k); err != nil {
			tb.Fatal(err)
		}
		vs.Update(k)
	}
}

func newCountBackend(tb testing.TB, keys int) (*KeyedBackend[int64], ValueState[int64]) {
	b := NewKeyedBackend(Options[int64]{})
	vs, err := Value[int64, int64](b, "count", nil)
	if err != nil {
		tb.Fatal(err)
	}
	fillCounts(tb, b, vs, keys)
	return b, vs
}

// benchSizes returns the state sizes, as numbers of keys, to benchmark.
func benchSizes() []int {
	sizes := []int{10 << 20 / 16} // 10 MiB
	if env := os.Getenv("SLUICE_STATE_BENCH_MB"); env != "" {
		for _, f := range strings.Split(env, ",") {
			if mb, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && mb > 0 {
				sizes = append(sizes, mb<<20/16)
			}
		}
	}
	return sizes
}

// measureCPU starts measuring the CPU time of the benchmark's goroutine;
// the returned function reports it as cpu-ns/op. Call it after ResetTimer.
func measureCPU(b *testing.B) func() {
	runtime.LockOSThread()
	t0, ok := threadCPU()
	return func() {
		t1, _ := threadCPU()
		runtime.UnlockOSThread()
		if ok {
			b.ReportMetric(float64((t1-t0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

func sizeName(keys int) string { return fmt.Sprintf("state=%dMiB", keys*16>>20) }

// BenchmarkKeyedCount is a keyed running count: SetCurrentKey, Value and
// Update of an int64 per record, uniformly random keys.
func BenchmarkKeyedCount(b *testing.B) {
	for _, keys := range []int{1 << 10, 1 << 16, benchKeys} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			be, vs := newCountBackend(b, keys)
			mask := uint64(keys - 1)
			x := xorshift(88172645463325252)
			b.ReportAllocs()
			b.ResetTimer()
			done := measureCPU(b)
			for range b.N {
				if err := be.SetCurrentKey(int64(x.next() & mask)); err != nil {
					b.Fatal(err)
				}
				v, _ := vs.Value()
				vs.Update(v + 1)
			}
			done()
		})
	}
}

// BenchmarkMapCount is the same count in a plain map[int64]int64, the
// baseline for BenchmarkKeyedCount.
func BenchmarkMapCount(b *testing.B) {
	for _, keys := range []int{1 << 10, 1 << 16, benchKeys} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			m := make(map[int64]int64)
			for k := range int64(keys) {
				m[k] = k
			}
			mask := uint64(keys - 1)
			x := xorshift(88172645463325252)
			b.ReportAllocs()
			b.ResetTimer()
			done := measureCPU(b)
			for range b.N {
				m[int64(x.next()&mask)]++
			}
			done()
		})
	}
}

// BenchmarkCountWithSnapshots measures the keyed count while a checkpoint
// is taken every interval: Snapshot on the processing goroutine, WriteTo
// (to a discarding writer) and Release on another, at most one checkpoint
// in flight (a trigger while one is running is skipped, as with one
// concurrent checkpoint). Compare ns/op with interval=none.
func BenchmarkCountWithSnapshots(b *testing.B) {
	for _, keys := range benchSizes() {
		be, vs := newCountBackend(b, keys)
		for _, interval := range []time.Duration{0, time.Second, 100 * time.Millisecond} {
			name := "interval=none"
			if interval > 0 {
				name = "interval=" + interval.String()
			}
			b.Run(sizeName(keys)+"/"+name, func(b *testing.B) {
				var busy atomic.Bool
				done := make(chan struct{}, 1)
				var snaps, written int64
				var syncTime time.Duration
				x := xorshift(88172645463325252)
				b.ReportAllocs()
				b.ResetTimer()
				cpu := measureCPU(b)
				copied0 := be.v.copied
				last := time.Now()
				for i := range b.N {
					if err := be.SetCurrentKey(int64(x.next() % uint64(keys))); err != nil {
						b.Fatal(err)
					}
					v, _ := vs.Value()
					vs.Update(v + 1)
					if interval > 0 && i&1023 == 0 && time.Since(last) >= interval && !busy.Load() {
						last = time.Now()
						busy.Store(true)
						t0 := time.Now()
						s := be.Snapshot()
						syncTime += time.Since(t0)
						snaps++
						go func() {
							n, err := s.WriteTo(io.Discard)
							if err != nil {
								panic(err)
							}
							atomic.AddInt64(&written, n)
							s.Release()
							busy.Store(false)
							done <- struct{}{}
						}()
					}
				}
				cpu()
				b.StopTimer()
				if busy.Load() {
					<-done
				}
				select {
				case <-done:
				default:
				}
				b.ReportMetric(float64(snaps), "snapshots")
				if snaps > 0 {
					b.ReportMetric(float64(be.v.copied.pages-copied0.pages)/float64(snaps), "pages-copied/snapshot")
					b.ReportMetric(float64(be.v.copied.bytes-copied0.bytes)/float64(snaps)/(1<<20), "MiB-copied/snapshot")
					b.ReportMetric(float64(syncTime.Microseconds())/float64(snaps), "µs-sync/snapshot")
					b.ReportMetric(float64(atomic.LoadInt64(&written))/float64(snaps)/(1<<20), "MiB/snapshot")
				}
			})
		}
	}
}

// BenchmarkSnapshotSync measures the synchronous part of a checkpoint over
// a million keys in four states: Snapshot, then Release. With
// write=first, each round also makes the first write after the snapshot,
// which copies the state's root, the key group's directory and a page.
func BenchmarkSnapshotSync(b *testing.B) {
	be, vs := newCountBackend(b, benchKeys)
	for i := range 3 {
		v2, _ := Value[int64, int64](be, fmt.Sprint("extra", i), nil)
		fillCounts(b, be, v2, benchKeys/8)
	}
	for _, write := range []bool{false, true} {
		b.Run(fmt.Sprintf("write=%v", map[bool]string{false: "none", true: "first"}[write]), func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			cpu := measureCPU(b)
			for i := range b.N {
				s := be.Snapshot()
				if write {
					if err := be.SetCurrentKey(int64(i)); err != nil {
						b.Fatal(err)
					}
					vs.Update(1)
				}
				s.Release()
			}
			cpu()
		})
	}
}

// BenchmarkWriteTo measures the asynchronous part: serialising the state.
func BenchmarkWriteTo(b *testing.B) {
	for _, keys := range benchSizes() {
		b.Run(sizeName(keys), func(b *testing.B) {
			be, _ := newCountBackend(b, keys)
			b.SetBytes(int64(keys) * 16)
			b.ResetTimer()
			cpu := measureCPU(b)
			var n int64
			for range b.N {
				s := be.Snapshot()
				var err error
				if n, err = s.WriteTo(io.Discard); err != nil {
					b.Fatal(err)
				}
				s.Release()
			}
			cpu()
			b.ReportMetric(float64(n)/(1<<20), "MiB-file")
		})
	}
}

// BenchmarkRestore measures Restore plus the decoding at registration.
func BenchmarkRestore(b *testing.B) {
	for _, keys := range benchSizes() {
		b.Run(sizeName(keys), func(b *testing.B) {
			be, _ := newCountBackend(b, keys)
			s := be.Snapshot()
			var buf bytes.Buffer
			if _, err := s.WriteTo(&buf); err != nil {
				b.Fatal(err)
			}
			s.Release()
			be = nil
			data := buf.Bytes()
			b.SetBytes(int64(keys) * 16)
			b.ResetTimer()
			cpu := measureCPU(b)
			for range b.N {
				r := NewKeyedBackend(Options[int64]{})
				if err := r.Restore(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
				if _, err := Value[int64, int64](r, "count", nil); err != nil {
					b.Fatal(err)
				}
			}
			cpu()
			b.ReportMetric(float64(len(data))/(1<<20), "MiB-file")
		})
	}
}

// BenchmarkCopyPath prices the copy on write: the keyed count over 1M keys
// with a snapshot pinning the state (pinned) or not (unpinned), a new
// snapshot every 16384 updates, so that most updates copy a page.
func BenchmarkCopyPath(b *testing.B) {
	for _, pinned := range []bool{false, true} {
		b.Run(map[bool]string{false: "unpinned", true: "pinned"}[pinned], func(b *testing.B) {
			be, vs := newCountBackend(b, benchKeys)
			b.ResetTimer()
			cpu := measureCPU(b)
			var s *Snapshot
			for i := range b.N {
				if i%16384 == 0 {
					if s != nil {
						s.Release()
					}
					if pinned {
						s = be.Snapshot()
					}
				}
				// Stride over pages: consecutive keys land on different pages.
				k := int64((uint64(i) * 0x9E3779B97F4A7C15) % benchKeys)
				be.SetCurrentKey(k)
				v, _ := vs.Value()
				vs.Update(v + 1)
			}
			cpu()
			if s != nil {
				s.Release()
			}
			b.ReportMetric(float64(be.v.copied.pages)/float64(b.N), "pages-copied/op")
		})
	}
}

// BenchmarkWriteToStrings writes a snapshot of 1M keys with 92-byte string
// values made in random key order, as a job replacing values leaves them:
// each value is a separate object away from its slot, so encoding is
// bound by the latency of loading it.
func BenchmarkWriteToStrings(b *testing.B) {
	const keys = 1 << 20
	be := NewKeyedBackend(Options[int64]{})
	st, err := Value[int64, string](be, "v", nil)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pad := strings.Repeat("x", 84)
	for _, k := range rng.Perm(keys) {
		if err := be.SetCurrentKey(int64(k)); err != nil {
			b.Fatal(err)
		}
		st.Update(fmt.Sprintf("%08d", k) + pad)
	}
	b.SetBytes(keys * 100)
	b.ResetTimer()
	cpu := measureCPU(b)
	for range b.N {
		s := be.Snapshot()
		if _, err := s.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
		s.Release()
	}
	cpu()
}

// BenchmarkDeltaSync measures an incremental snapshot's synchronous part,
// which copies the entries changed since its base, and the asynchronous
// write of the delta, over 1M int64 counts of which changed% were written
// since the base (changed% random writes: fewer distinct keys). The
// changed keys are spread over all pages. Reported per checkpoint: sync-ns
// (IncrementalSnapshot), write-ns (WriteTo), the entries in the delta, and
// sync-ns/entry.
func BenchmarkDeltaSync(b *testing.B) {
	for _, pct := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("changed=%d%%", pct), func(b *testing.B) {
			be, vs := newCountBackend(b, benchKeys)
			base := be.IncrementalSnapshot()
			if _, err := base.WriteTo(io.Discard); err != nil {
				b.Fatal(err)
			}
			base.Release()
			changed := benchKeys * pct / 100
			x := xorshift(1)
			var syncT, writeT time.Duration
			var entries int64
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				for range changed {
					if err := be.SetCurrentKey(int64(x.next() % benchKeys)); err != nil {
						b.Fatal(err)
					}
					vs.Update(1)
				}
				b.StartTimer()
				t0 := time.Now()
				s := be.IncrementalSnapshot()
				t1 := time.Now()
				if _, err := s.WriteTo(io.Discard); err != nil {
					b.Fatal(err)
				}
				s.Release()
				syncT += t1.Sub(t0)
				writeT += time.Since(t1)
				if !s.Delta() {
					b.Fatal("not a delta")
				}
				written, _ := s.Entries()
				entries += written
			}
			b.ReportMetric(float64(syncT.Nanoseconds())/float64(b.N), "sync-ns")
			b.ReportMetric(float64(writeT.Nanoseconds())/float64(b.N), "write-ns")
			b.ReportMetric(float64(entries)/float64(b.N), "entries")
			b.ReportMetric(float64(syncT.Nanoseconds())/float64(entries), "sync-ns/entry")
		})
	}
}
