package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/checkpoint/storage"
)

var twoFiles = map[string]string{
	"op-1-0.state": "the quick brown fox jumps over the lazy dog",
	"op-2-0.state": "lorem ipsum dolor sit amet",
}

func TestWriteCommitLoadRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		committed := commit(t, f.s, 7, storage.KindCheckpoint, twoFiles, "runtime payload")
		if committed.Dir != "chk-7" || !strings.HasSuffix(committed.Path, "/chk-7") {
			t.Errorf("Dir %q, Path %q", committed.Dir, committed.Path)
		}
		latest, skipped, err := f.s.Latest(ctx)
		if err != nil || len(skipped) != 0 || latest == nil {
			t.Fatalf("Latest = %v, %v, %v", latest, skipped, err)
		}
		byDir, err := f.s.Load(ctx, "chk-7")
		if err != nil {
			t.Fatal(err)
		}
		byPath, err := f.s.Load(ctx, committed.Path)
		if err != nil {
			t.Fatal(err)
		}
		for _, cp := range []*storage.Checkpoint{committed, latest, byDir, byPath} {
			if cp.ID != 7 || cp.Kind != storage.KindCheckpoint || string(cp.Payload) != "runtime payload" ||
				!cp.Created.Equal(committed.Created) || len(cp.Files) != 2 || cp.Path != committed.Path {
				t.Errorf("checkpoint = %+v", cp)
			}
			if !slices.Equal(cp.Files, committed.Files) {
				t.Errorf("files %v, committed %v", cp.Files, committed.Files)
			}
			for name, want := range twoFiles {
				got, err := readFile(f.s, cp, name)
				if err != nil || string(got) != want {
					t.Errorf("read %s = %q, %v; want %q", name, got, err, want)
				}
			}
		}
		if got := committed.Size(); got != int64(len(twoFiles["op-1-0.state"])+len(twoFiles["op-2-0.state"])) {
			t.Errorf("Size = %d", got)
		}
		if _, err := f.s.OpenFile(ctx, latest, "nope"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("OpenFile(unlisted) = %v, want ErrNotFound", err)
		}
	})
}

func TestLatestNone(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		cp, skipped, err := f.s.Latest(context.Background())
		if cp != nil || skipped != nil || err != nil {
			t.Fatalf("Latest = %v, %v, %v", cp, skipped, err)
		}
		infos, err := f.s.List(context.Background())
		if err != nil || len(infos) != 0 {
			t.Fatalf("List = %v, %v", infos, err)
		}
	})
}

// damage describes how a test breaks checkpoint 2 after committing
// checkpoints 1 and 2, and what Latest must say about it.
var damages = []struct {
	name   string
	damage func(t *testing.T, f *fixture)
	want   error
	reason string
}{
	{
		name:   "no metadata",
		damage: func(t *testing.T, f *fixture) { f.remove(t, "chk-2/_metadata") },
		want:   storage.ErrIncomplete,
		reason: "no _metadata",
	},
	{
		name: "metadata byte flipped",
		damage: func(t *testing.T, f *fixture) {
			b := f.read(t, "chk-2/_metadata")
			b[len(b)/2] ^= 0x40
			f.write(t, "chk-2/_metadata", b)
		},
		want:   storage.ErrCorrupt,
		reason: "checksum mismatch",
	},
	{
		name: "metadata truncated",
		damage: func(t *testing.T, f *fixture) {
			b := f.read(t, "chk-2/_metadata")
			f.write(t, "chk-2/_metadata", b[:len(b)-3])
		},
		want:   storage.ErrCorrupt,
		reason: "checksum mismatch",
	},
	{
		name:   "metadata empty",
		damage: func(t *testing.T, f *fixture) { f.write(t, "chk-2/_metadata", nil) },
		want:   storage.ErrCorrupt,
		reason: "too short",
	},
	{
		name: "state file truncated",
		damage: func(t *testing.T, f *fixture) {
			b := f.read(t, "chk-2/op-1-0.state")
			f.write(t, "chk-2/op-1-0.state", b[:10])
		},
		want:   storage.ErrCorrupt,
		reason: "state file op-1-0.state has 10 bytes, _metadata says 43",
	},
	{
		name:   "state file missing",
		damage: func(t *testing.T, f *fixture) { f.remove(t, "chk-2/op-2-0.state") },
		want:   storage.ErrCorrupt,
		reason: "state file op-2-0.state is missing",
	},
	{
		name: "metadata of another checkpoint",
		damage: func(t *testing.T, f *fixture) {
			f.write(t, "chk-2/_metadata", f.read(t, "chk-1/_metadata"))
		},
		want:   storage.ErrCorrupt,
		reason: "_metadata is of checkpoint 1 but the directory name says checkpoint 2",
	},
}

func TestLatestSkipsDamaged(t *testing.T) {
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, f *fixture) {
				ctx := context.Background()
				commit(t, f.s, 1, storage.KindCheckpoint, twoFiles, "one")
				commit(t, f.s, 2, storage.KindCheckpoint, twoFiles, "two")
				d.damage(t, f)

				cp, skipped, err := f.s.Latest(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if cp == nil || cp.ID != 1 || string(cp.Payload) != "one" {
					t.Fatalf("Latest = %+v, want checkpoint 1", cp)
				}
				if len(skipped) != 1 {
					t.Fatalf("skipped = %+v, want chk-2", skipped)
				}
				sk := skipped[0]
				if sk.ID != 2 || sk.Dir != "chk-2" || !strings.HasSuffix(sk.Path, "chk-2") ||
					!errors.Is(sk.Err, d.want) || !strings.Contains(sk.Reason, d.reason) {
					t.Errorf("skipped = %+v, want %v with reason %q", sk, d.want, d.reason)
				}
				logs := f.logs.String()
				if !strings.Contains(logs, "skipping incomplete or corrupt checkpoint") ||
					!strings.Contains(logs, sk.Path) || !strings.Contains(logs, d.reason) {
					t.Errorf("log does not name directory and reason:\n%s", logs)
				}
				if _, err := f.s.Load(ctx, "chk-2"); !errors.Is(err, d.want) {
					t.Errorf("Load(chk-2) = %v, want %v", err, d.want)
				}
			})
		})
	}
}

func TestLatestAllDamaged(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		commit(t, f.s, 1, storage.KindCheckpoint, twoFiles, "one")
		f.remove(t, "chk-1/op-1-0.state")
		cp, skipped, err := f.s.Latest(context.Background())
		if cp != nil || err != nil || len(skipped) != 1 {
			t.Fatalf("Latest = %v, %v, %v", cp, skipped, err)
		}
	})
}

func TestReadDetectsCorruption(t *testing.T) {
	cases := []struct {
		name   string
		damage func([]byte) []byte
		reason string
	}{
		{"byte flipped", func(b []byte) []byte { b[3] ^= 1; return b }, "has CRC-32C"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, "has 42 bytes, _metadata says 43"},
		{"extended", func(b []byte) []byte { return append(b, '!') }, "is longer than the 43 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, f *fixture) {
				cp := commit(t, f.s, 1, storage.KindCheckpoint, twoFiles, "")
				f.write(t, "chk-1/op-1-0.state", c.damage(f.read(t, "chk-1/op-1-0.state")))
				_, err := readFile(f.s, cp, "op-1-0.state")
				if !errors.Is(err, storage.ErrCorrupt) || !strings.Contains(err.Error(), c.reason) {
					t.Fatalf("read = %v, want ErrCorrupt with %q", err, c.reason)
				}
				if got, err := readFile(f.s, cp, "op-2-0.state"); err != nil || string(got) != twoFiles["op-2-0.state"] {
					t.Fatalf("undamaged file: %q, %v", got, err)
				}
			})
		})
	}
}

func TestOpenFileMissing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		cp := commit(t, f.s, 1, storage.KindCheckpoint, twoFiles, "")
		f.remove(t, "chk-1/op-1-0.state")
		if _, err := f.s.OpenFile(context.Background(), cp, "op-1-0.state"); !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("OpenFile = %v, want ErrCorrupt", err)
		}
	})
}

func TestRetain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		for _, id := range []int64{1, 2, 3, 5, 7} {
			commit(t, f.s, id, storage.KindCheckpoint, twoFiles, "")
		}
		sp := commit(t, f.s, 2, storage.KindSavepoint, twoFiles, "savepoint")
		// chk-4: partial, older than the newest complete one: deleted.
		f.write(t, "chk-4/op-1-0.state", []byte("partial"))
		// chk-6: corrupt, older than the newest complete one: deleted.
		commit(t, f.s, 6, storage.KindCheckpoint, twoFiles, "")
		f.remove(t, "chk-6/op-1-0.state")
		// chk-8: partial, newer: kept.
		f.write(t, "chk-8/op-1-0.state", []byte("partial"))
		// chk-0: pending in this process: kept.
		pending, err := f.s.Begin(ctx, 0, storage.KindCheckpoint)
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, pending, map[string]string{"x": "pending"})

		if err := f.s.Retain(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if got, want := dirs(t, f.s), []string{"chk-0", "savepoint-2", "chk-5", "chk-7", "chk-8"}; !slices.Equal(got, want) {
			t.Fatalf("after Retain(2): %v, want %v", got, want)
		}
		if _, err := f.s.Load(ctx, sp.Dir); err != nil {
			t.Fatalf("savepoint: %v", err)
		}
		if !strings.Contains(f.logs.String(), "deleted checkpoint") {
			t.Errorf("no deletion logged:\n%s", f.logs)
		}
		if _, err := pending.Commit(ctx, nil); err != nil {
			t.Fatal(err)
		}

		if err := f.s.Retain(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if got, want := dirs(t, f.s), []string{"savepoint-2", "chk-7", "chk-8"}; !slices.Equal(got, want) {
			t.Fatalf("after Retain(1): %v, want %v", got, want)
		}
		if err := f.s.Retain(ctx, 0); err == nil {
			t.Fatal("Retain(0) succeeded")
		}
		cp, _, err := f.s.Latest(ctx)
		if err != nil || cp.ID != 7 {
			t.Fatalf("Latest after retention = %v, %v", cp, err)
		}
	})
}

// dirs lists the storage's directories with savepoint suffixes cut off.
func dirs(t *testing.T, s *storage.Storage) []string {
	t.Helper()
	infos, err := s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range infos {
		name := in.Dir
		if in.Kind == storage.KindSavepoint {
			name = name[:strings.LastIndexByte(name, '-')]
		}
		names = append(names, name)
	}
	return names
}

func TestList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		commit(t, f.s, 10, storage.KindCheckpoint, twoFiles, "")
		commit(t, f.s, 9, storage.KindCheckpoint, twoFiles, "")
		commit(t, f.s, 9, storage.KindSavepoint, map[string]string{"a": "abc"}, "")
		commit(t, f.s, 2, storage.KindCheckpoint, twoFiles, "")
		b := f.read(t, "chk-2/_metadata")
		b[0] = 'X'
		f.write(t, "chk-2/_metadata", b)
		f.write(t, "chk-11/x", []byte("12345"))
		f.write(t, "not-a-checkpoint/x", []byte("ignored"))
		f.write(t, "chk-011/x", []byte("ignored: not canonical"))

		infos, err := f.s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, in := range infos {
			line := fmt.Sprintf("%d %s %s files=%d", in.ID, in.Kind, in.Status, in.Files)
			if in.Reason != "" {
				line += " (" + in.Reason + ")"
			}
			got = append(got, line)
			if !strings.HasSuffix(in.Path, "/"+in.Dir) || in.Size <= 0 || in.Modified.IsZero() {
				t.Errorf("info %+v", in)
			}
			if (in.Status == storage.StatusComplete) == in.Created.IsZero() {
				t.Errorf("info %+v: Created set iff complete", in)
			}
		}
		want := []string{
			"2 checkpoint corrupt files=3 (checkpoint corrupt: metadata has wrong magic bytes \"XLUICECP\")",
			"9 checkpoint complete files=3",
			"9 savepoint complete files=2",
			"10 checkpoint complete files=3",
			"11 checkpoint partial files=1 (checkpoint incomplete: no _metadata)",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("List:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		mdSize := int64(len(f.read(t, "chk-10/_metadata")))
		if in := infos[3]; in.Size != 43+26+mdSize {
			t.Errorf("size of chk-10 = %d, want %d", in.Size, 43+26+mdSize)
		}
	})
}

func TestSavepoint(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		commit(t, f.s, 3, storage.KindCheckpoint, twoFiles, "chk")
		sp := commit(t, f.s, 4, storage.KindSavepoint, twoFiles, "sp")
		if !regexp.MustCompile(`^savepoint-4-[0-9a-f]{6}$`).MatchString(sp.Dir) {
			t.Fatalf("savepoint dir %q", sp.Dir)
		}
		sp2 := commit(t, f.s, 4, storage.KindSavepoint, twoFiles, "sp2")
		if sp2.Dir == sp.Dir {
			t.Fatal("two savepoints in one directory")
		}
		cp, _, err := f.s.Latest(ctx)
		if err != nil || cp.ID != 3 {
			t.Fatalf("Latest = %v, %v; savepoints must not count", cp, err)
		}
		for _, p := range []string{sp.Dir, sp.Path} {
			got, err := f.s.Load(ctx, p)
			if err != nil || got.Kind != storage.KindSavepoint || string(got.Payload) != "sp" {
				t.Fatalf("Load(%s) = %+v, %v", p, got, err)
			}
		}
	})
}

func TestLoadErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		if _, err := f.s.Load(ctx, "chk-1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Load(missing) = %v, want ErrNotFound", err)
		}
		f.write(t, "chk-1/a", []byte("x"))
		if _, err := f.s.Load(ctx, "chk-1"); !errors.Is(err, storage.ErrIncomplete) {
			t.Errorf("Load(partial) = %v, want ErrIncomplete", err)
		}
		if _, err := f.s.Load(ctx, ""); err == nil {
			t.Error("Load(\"\") succeeded")
		}
		if _, err := f.s.Load(ctx, "gs://elsewhere/jobs/chk-1"); err == nil {
			t.Error("Load(other object store) succeeded")
		}
	})
}

func TestAbort(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		p, err := f.s.Begin(ctx, 1, storage.KindCheckpoint)
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, p, map[string]string{"closed": "done"})
		open, err := p.Create(ctx, "open")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := open.Write([]byte("half")); err != nil {
			t.Fatal(err)
		}
		if err := p.Abort(ctx); err != nil {
			t.Fatal(err)
		}
		if f.exists(t, "chk-1/closed") || f.exists(t, "chk-1/open") {
			t.Error("files left after Abort")
		}
		if got := dirs(t, f.s); len(got) != 0 {
			t.Errorf("directories after Abort: %v", got)
		}
		if _, err := open.Write([]byte("more")); !errors.Is(err, storage.ErrAborted) {
			t.Errorf("Write after Abort = %v", err)
		}
		if err := open.Close(); !errors.Is(err, storage.ErrAborted) {
			t.Errorf("Close after Abort = %v", err)
		}
		if _, err := p.Create(ctx, "late"); !errors.Is(err, storage.ErrAborted) {
			t.Errorf("Create after Abort = %v", err)
		}
		if _, err := p.Commit(ctx, nil); !errors.Is(err, storage.ErrAborted) {
			t.Errorf("Commit after Abort = %v", err)
		}
		if err := p.Abort(ctx); err != nil {
			t.Errorf("second Abort = %v", err)
		}
		// The id can be used again.
		commit(t, f.s, 1, storage.KindCheckpoint, twoFiles, "")
		if f.exists(t, "chk-1/open") {
			t.Error("aborted upload appeared")
		}
	})
}

func TestPendingRules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		p, err := f.s.Begin(ctx, 1, storage.KindCheckpoint)
		if err != nil {
			t.Fatal(err)
		}
		if p.ID() != 1 || p.Kind() != storage.KindCheckpoint || p.Dir() != "chk-1" || !strings.HasSuffix(p.Path(), "/chk-1") {
			t.Errorf("pending %d %v %s %s", p.ID(), p.Kind(), p.Dir(), p.Path())
		}
		if _, err := f.s.Begin(ctx, 1, storage.KindCheckpoint); !errors.Is(err, storage.ErrExists) {
			t.Errorf("Begin(pending id) = %v, want ErrExists", err)
		}
		for _, name := range []string{"", "_metadata", ".hidden", "a/b", "../x", "é", strings.Repeat("a", 256)} {
			if _, err := p.Create(ctx, name); err == nil {
				t.Errorf("Create(%q) succeeded", name)
			}
		}
		w, err := p.Create(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Create(ctx, "a"); err == nil {
			t.Error("Create twice succeeded")
		}
		if _, err := p.Commit(ctx, nil); err == nil || !strings.Contains(err.Error(), "not closed") {
			t.Errorf("Commit with open file = %v", err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err == nil {
			t.Error("second Close succeeded")
		}
		if _, err := w.Write([]byte("x")); err == nil {
			t.Error("Write after Close succeeded")
		}
		cp, err := p.Commit(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if f := cp.Files; len(f) != 1 || f[0].Size != 0 || f[0].CRC32C != 0 {
			t.Errorf("empty file recorded as %+v", f)
		}
		if _, err := p.Commit(ctx, nil); err == nil {
			t.Error("second Commit succeeded")
		}
		if err := p.Abort(ctx); err == nil {
			t.Error("Abort after Commit succeeded")
		}
		if _, err := f.s.Begin(ctx, 1, storage.KindCheckpoint); !errors.Is(err, storage.ErrExists) {
			t.Errorf("Begin(complete id) = %v, want ErrExists", err)
		}
		if _, err := f.s.Begin(ctx, -1, storage.KindCheckpoint); err == nil {
			t.Error("Begin(-1) succeeded")
		}
		if _, err := f.s.Begin(ctx, 2, storage.Kind(9)); err == nil {
			t.Error("Begin(kind 9) succeeded")
		}
	})
}

func TestBeginRemovesLeftover(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		f.write(t, "chk-3/stale.state", []byte("from a crashed attempt"))
		commit(t, f.s, 3, storage.KindCheckpoint, twoFiles, "")
		if f.exists(t, "chk-3/stale.state") {
			t.Error("leftover file kept")
		}
		if !strings.Contains(f.logs.String(), "removing leftover files") {
			t.Errorf("removal not logged:\n%s", f.logs)
		}
	})
}

func TestLatestRefusesNewerVersion(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		commit(t, f.s, 1, storage.KindCheckpoint, twoFiles, "")
		commit(t, f.s, 2, storage.KindCheckpoint, twoFiles, "")
		f.write(t, "chk-2/_metadata", withVersion(f.read(t, "chk-2/_metadata"), unsupportedVersion))
		cp, _, err := f.s.Latest(context.Background())
		if cp != nil || !errors.Is(err, storage.ErrUnsupportedVersion) {
			t.Fatalf("Latest = %v, %v; want ErrUnsupportedVersion", cp, err)
		}
		infos, err := f.s.List(context.Background())
		if err != nil || infos[1].Status != storage.StatusUnsupported {
			t.Fatalf("List = %+v, %v", infos, err)
		}
	})
}

func TestLargeFile(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		p, err := f.s.Begin(ctx, 1, storage.KindCheckpoint)
		if err != nil {
			t.Fatal(err)
		}
		w, err := p.Create(ctx, "big")
		if err != nil {
			t.Fatal(err)
		}
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
		const chunks = 128                                      // 8 MiB
		for i := range chunks {
			chunk[0] = byte(i)
			if _, err := w.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		cp, err := p.Commit(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := f.s.OpenFile(ctx, cp, "big")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		n, err := io.Copy(io.Discard, r)
		if err != nil || n != chunks*int64(len(chunk)) {
			t.Fatalf("read %d bytes, %v", n, err)
		}
	})
}
