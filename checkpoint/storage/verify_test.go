package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/checkpoint/storage"
	"github.com/sluicehq/sluice/checkpoint/storage/storagetest"
)

// flipByte changes one byte of a stored file, keeping its size: what List
// and Latest cannot see without reading the file.
func flipByte(t *testing.T, f *fixture, key string) {
	t.Helper()
	b := f.read(t, key)
	b[len(b)/2] ^= 0x01
	f.write(t, key, b)
}

func TestVerify(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, f *fixture)
		// reason is in the error of Verify(chk-3), "" if it must pass.
		reason string
	}{
		{"intact", func(*testing.T, *fixture) {}, ""},
		{"byte flipped", func(t *testing.T, f *fixture) { flipByte(t, f, "chk-3/op-2-0.state") },
			"chk-3/op-2-0.state: checkpoint corrupt: has CRC-32C"},
		{"truncated", func(t *testing.T, f *fixture) {
			f.write(t, "chk-3/op-1-0.state", f.read(t, "chk-3/op-1-0.state")[:5])
		}, "chk-3/op-1-0.state: checkpoint corrupt: has 5 bytes, _metadata says 43"},
		{"extended", func(t *testing.T, f *fixture) {
			f.write(t, "chk-3/op-1-0.state", append(f.read(t, "chk-3/op-1-0.state"), '!'))
		}, "chk-3/op-1-0.state: checkpoint corrupt: is longer than the 43 bytes"},
		{"missing", func(t *testing.T, f *fixture) { f.remove(t, "chk-3/op-1-0.state") },
			"open op-1-0.state in"},
		{"used checkpoint damaged", func(t *testing.T, f *fixture) { flipByte(t, f, "chk-1/op-1-0.state") },
			"it uses chk-1: state file"},
		{"used checkpoint partial", func(t *testing.T, f *fixture) { f.remove(t, "chk-1/_metadata") },
			"uses chk-1, which is partial"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, f *fixture) {
				ctx := context.Background()
				commitUsing(t, f.s, 1)
				commitUsing(t, f.s, 2, "chk-1")
				cp := commitUsing(t, f.s, 3, "chk-1", "chk-2")
				c.damage(t, f)
				err := f.s.Verify(ctx, cp)
				if c.reason == "" {
					if err != nil {
						t.Fatalf("Verify = %v", err)
					}
					return
				}
				if !errors.Is(err, storage.ErrCorrupt) || !strings.Contains(err.Error(), c.reason) ||
					!strings.Contains(err.Error(), cp.Path) {
					t.Fatalf("Verify = %v; want ErrCorrupt naming %s with %q", err, cp.Path, c.reason)
				}
			})
		})
	}
}

// TestLatestVerified: a checkpoint that Latest takes for complete but whose
// state files are damaged, directly or in a checkpoint it uses, is skipped,
// and the previous one returned.
func TestLatestVerified(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		commitUsing(t, f.s, 1)
		commitUsing(t, f.s, 2)
		commitUsing(t, f.s, 3, "chk-1")
		commitUsing(t, f.s, 4)
		f.write(t, "chk-5/op-1-0.state", []byte("partial"))
		flipByte(t, f, "chk-4/op-1-0.state")
		flipByte(t, f, "chk-1/op-2-0.state")

		// Latest sees only the metadata.
		cp, _, err := f.s.Latest(ctx)
		if err != nil || cp == nil || cp.ID != 4 {
			t.Fatalf("Latest = %v, %v; want checkpoint 4", cp, err)
		}
		cp, skipped, err := f.s.LatestVerified(ctx)
		if err != nil || cp == nil || cp.ID != 2 {
			t.Fatalf("LatestVerified = %v, %+v, %v; want checkpoint 2", cp, skipped, err)
		}
		var got []string
		for _, sk := range skipped {
			kind := "incomplete"
			if errors.Is(sk.Err, storage.ErrCorrupt) {
				kind = "corrupt"
			}
			got = append(got, fmt.Sprintf("%s %s", sk.Dir, kind))
			if !strings.HasSuffix(sk.Path, sk.Dir) || sk.Reason != sk.Err.Error() {
				t.Errorf("skipped %+v", sk)
			}
		}
		if want := []string{"chk-5 incomplete", "chk-4 corrupt", "chk-3 corrupt"}; !slices.Equal(got, want) {
			t.Fatalf("skipped %q, want %q", got, want)
		}
		for _, w := range []string{"chk-4/op-1-0.state: checkpoint corrupt: has CRC-32C", "it uses chk-1: state file"} {
			if !strings.Contains(skipped[1].Reason+skipped[2].Reason, w) {
				t.Errorf("reasons %q, %q lack %q", skipped[1].Reason, skipped[2].Reason, w)
			}
		}
		logs := f.logs.String()
		if !strings.Contains(logs, "skipping incomplete or corrupt checkpoint") || !strings.Contains(logs, skipped[1].Path) {
			t.Errorf("the skip of chk-4 is not logged:\n%s", logs)
		}

		flipByte(t, f, "chk-2/op-2-0.state")
		cp, skipped, err = f.s.LatestVerified(ctx)
		if cp != nil || err != nil || len(skipped) != 5 {
			t.Fatalf("all damaged: LatestVerified = %v, %d skipped, %v", cp, len(skipped), err)
		}
	})
}

// TestVerifyNotCorrupt: I/O errors and cancellation while verifying are
// not corruption, and LatestVerified does not fall back on them.
func TestVerifyNotCorrupt(t *testing.T) {
	ctx := context.Background()
	var faults switchHook
	s, err := storage.Open(ctx, filepath.Join(t.TempDir(), "job"), storage.WithFS(storagetest.Wrap(storage.OSFS(), faults.Hook)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	commit(t, s, 1, storage.KindCheckpoint, twoFiles, "")
	cp := commit(t, s, 2, storage.KindCheckpoint, twoFiles, "")
	for _, fault := range []storagetest.Hook{
		storagetest.FailOn(storagetest.OpOpen, filepath.Join("chk-2", "op-2-0.state")),
		storagetest.FailOn(storagetest.OpRead, filepath.Join("chk-2", "op-1-0.state")),
	} {
		faults.set(fault)
		if err := s.Verify(ctx, cp); !errors.Is(err, storagetest.ErrInjected) || errors.Is(err, storage.ErrCorrupt) {
			t.Errorf("Verify = %v; want the injected error, not ErrCorrupt", err)
		}
		if got, _, err := s.LatestVerified(ctx); got != nil || !errors.Is(err, storagetest.ErrInjected) {
			t.Errorf("LatestVerified = %v, %v; want the injected error", got, err)
		}
		if _, err := s.ListVerified(ctx); !errors.Is(err, storagetest.ErrInjected) {
			t.Errorf("ListVerified = %v; want the injected error", err)
		}
	}
	faults.set(nil)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Verify(canceled, cp); !errors.Is(err, context.Canceled) || errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("Verify(canceled) = %v", err)
	}
	// Canceled while reading a local file: Verify stops without reading
	// the rest.
	reading, cancel := context.WithCancel(ctx)
	defer cancel()
	faults.set(func(op storagetest.Op) error {
		if op.Kind == storagetest.OpRead && strings.Contains(op.Path, "chk-2") {
			cancel()
		}
		return nil
	})
	if err := s.Verify(reading, cp); !errors.Is(err, context.Canceled) || errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("Verify canceled while reading = %v", err)
	}
}

func TestListVerified(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		commitUsing(t, f.s, 1)
		f.write(t, "chk-2/op-1-0.state", []byte("abandoned"))
		commitUsing(t, f.s, 3, "chk-1")
		commitUsing(t, f.s, 4)
		commit(t, f.s, 4, storage.KindSavepoint, twoFiles, "")
		f.write(t, "chk-5/op-1-0.state", []byte("in progress"))
		flipByte(t, f, "chk-1/op-1-0.state")

		plain, err := f.s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		infos, err := f.s.ListVerified(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i, in := range infos {
			line := fmt.Sprintf("%s %s %s verified=%t", in.Kind, in.Dir, in.Status, in.Verified)
			if i < len(plain) && plain[i].Status == storage.StatusComplete && in.Created.IsZero() {
				t.Errorf("%s: Created not set", in.Dir)
			}
			got = append(got, line)
		}
		want := []string{
			"checkpoint chk-1 corrupt verified=false",
			"checkpoint chk-2 partial verified=false",
			"checkpoint chk-3 corrupt verified=false",
			"checkpoint chk-4 complete verified=true",
			"savepoint " + infos[4].Dir + " complete verified=true",
			"checkpoint chk-5 partial verified=false",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("ListVerified:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if r := infos[0].Reason; !strings.Contains(r, "chk-1/op-1-0.state: checkpoint corrupt: has CRC-32C") {
			t.Errorf("reason of chk-1: %q", r)
		}
		if r := infos[2].Reason; !strings.Contains(r, "it uses chk-1") {
			t.Errorf("reason of chk-3: %q", r)
		}
		// chk-2 is older than a complete checkpoint that does not use
		// it: never restored. chk-5 is newer: perhaps in progress.
		for _, in := range [][]storage.Info{plain, infos} {
			if r := in[1].Reason; !strings.Contains(r, "no _metadata; older than complete checkpoint chk-4, so never restored") {
				t.Errorf("reason of chk-2: %q", r)
			}
			if r := in[5].Reason; r != "checkpoint incomplete: no _metadata" {
				t.Errorf("reason of chk-5: %q", r)
			}
		}
	})
}

// TestListPartialUsed: a partial checkpoint that a complete one uses is
// not called harmless.
func TestListPartialUsed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		commitUsing(t, f.s, 1)
		commitUsing(t, f.s, 2, "chk-1")
		f.remove(t, "chk-1/_metadata")
		infos, err := f.s.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if r := infos[0].Reason; r != "checkpoint incomplete: no _metadata" {
			t.Errorf("reason of chk-1: %q", r)
		}
	})
}

// BenchmarkVerify reads a checkpoint of 100 MB in four state files on the
// local backend, the files in the page cache.
func BenchmarkVerify(b *testing.B) {
	s, cp, _ := bigCheckpoint(b)
	b.SetBytes(cp.Size())
	for b.Loop() {
		if err := s.Verify(context.Background(), cp); err != nil {
			b.Fatal(err)
		}
	}
}

// bigCheckpoint commits a checkpoint of 100 MB in four state files on the
// local backend and returns its storage, the checkpoint and the root.
func bigCheckpoint(b *testing.B) (*storage.Storage, *storage.Checkpoint, string) {
	ctx := context.Background()
	root := filepath.Join(b.TempDir(), "job")
	s, err := storage.Open(ctx, root)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	p, err := s.Begin(ctx, 1, storage.KindCheckpoint)
	if err != nil {
		b.Fatal(err)
	}
	const files, size = 4, 25 << 20
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	for i := range files {
		w, err := p.Create(ctx, fmt.Sprintf("op-%d.state", i))
		if err != nil {
			b.Fatal(err)
		}
		for j := 0; j < size/len(chunk); j++ {
			chunk[0] = byte(j)
			if _, err := w.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	cp, err := p.Commit(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	return s, cp, root
}
