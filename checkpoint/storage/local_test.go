package storage_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/checkpoint/storage"
	"github.com/sluicehq/sluice/checkpoint/storage/storagetest"
)

// TestReopen: a checkpoint committed before a restart is found after it.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "job")
	s, err := storage.Open(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	commit(t, s, 1, storage.KindCheckpoint, twoFiles, "p")
	p, err := s.Begin(ctx, 2, storage.KindCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, p, twoFiles) // crash before Commit
	s.Close()

	s, err = storage.Open(ctx, "file://"+filepath.ToSlash(root))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cp, skipped, err := s.Latest(ctx)
	if err != nil || cp == nil || cp.ID != 1 || len(skipped) != 1 || skipped[0].ID != 2 {
		t.Fatalf("Latest = %+v, %+v, %v", cp, skipped, err)
	}
	if b, err := readFile(s, cp, "op-1-0.state"); err != nil || string(b) != twoFiles["op-1-0.state"] {
		t.Fatalf("read = %q, %v", b, err)
	}
	commit(t, s, 2, storage.KindCheckpoint, twoFiles, "again") // replaces the leftover
}

// TestLoadElsewhere loads another job's savepoint by absolute path and by
// file URL, also after it was moved to a directory of another name, from a
// local and from an object store storage.
func TestLoadElsewhere(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	a, err := storage.Open(ctx, filepath.Join(tmp, "job-a"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sp := commit(t, a, 5, storage.KindSavepoint, twoFiles, "from a")
	moved := filepath.Join(tmp, "kept", "my-savepoint")
	if err := os.MkdirAll(filepath.Dir(moved), 0o755); err != nil {
		t.Fatal(err)
	}
	copyDir(t, sp.Path, moved)

	b, err := storage.Open(ctx, filepath.Join(tmp, "job-b"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mem, err := storage.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	for _, s := range []*storage.Storage{b, mem} {
		for path, wantPath := range map[string]string{sp.Path: sp.Path, "file://" + filepath.ToSlash(sp.Path): sp.Path, moved: moved} {
			cp, err := s.Load(ctx, path)
			if err != nil {
				t.Fatalf("%s: Load(%s): %v", s.Location(), path, err)
			}
			if cp.ID != 5 || cp.Kind != storage.KindSavepoint || string(cp.Payload) != "from a" || cp.Path != wantPath {
				t.Errorf("Load(%s) = %+v", path, cp)
			}
			for name, want := range twoFiles {
				if got, err := readFile(s, cp, name); err != nil || string(got) != want {
					t.Errorf("read %s = %q, %v", name, got, err)
				}
			}
		}
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Mkdir(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLocalStreams: a large state file reaches the file system in bounded
// writes as it is written, not in one piece at Close.
func TestLocalStreams(t *testing.T) {
	ctx := context.Background()
	var log storagetest.Log
	s, err := storage.Open(ctx, filepath.Join(t.TempDir(), "job"), storage.WithFS(storagetest.Wrap(storage.OSFS(), log.Hook)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := s.Begin(ctx, 1, storage.KindCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	w, err := p.Create(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{'x'}, 32<<10)
	const total = 16 << 20
	for range total / len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	var written, largest int
	for _, op := range log.Ops() {
		if op.Kind == storagetest.OpWrite {
			written += op.N
			largest = max(largest, op.N)
		}
	}
	if written < total-(1<<20) || largest > 1<<20 {
		t.Errorf("before Close: %d of %d bytes reached the file system, largest write %d", written, total, largest)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Abort(ctx); err != nil {
		t.Fatal(err)
	}
}
