package storage_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/checkpoint/storage"
	"github.com/sluicehq/sluice/checkpoint/storage/storagetest"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// mutations keeps the operations that change the file system or make it
// durable, leaving out reads, whose sizes belong to io.ReadAll.
func mutations(op storagetest.Op) bool {
	switch op.Kind {
	case storagetest.OpCreate, storagetest.OpWrite, storagetest.OpSync, storagetest.OpRename,
		storagetest.OpRemove, storagetest.OpRemoveAll, storagetest.OpMkdirAll, storagetest.OpSyncDir:
		return true
	}
	return false
}

// TestGoldenTrace pins the order of file operations: state files written,
// fsynced and closed; the directory fsynced; _metadata written to a
// temporary name, fsynced, renamed, the directory fsynced again; and
// retention renaming the directory to a hidden name, fsyncing the parent,
// then deleting it.
func TestGoldenTrace(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	var log storagetest.Log
	clock := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	s, err := storage.Open(ctx, filepath.Join(tmp, "job"), storage.WithFS(storagetest.Wrap(storage.OSFS(), log.Hook)), storage.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var trace strings.Builder
	section := func(title string, keep func(storagetest.Op) bool) {
		ops := log.Ops()
		if keep != nil {
			ops = slices.DeleteFunc(ops, func(op storagetest.Op) bool { return !keep(op) })
		}
		trace.WriteString("# " + title + "\n" + storagetest.Trace(ops, tmp))
		log.Reset()
	}
	log.Reset()

	p, err := s.Begin(ctx, 1, storage.KindCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	section("begin checkpoint 1", nil)
	for _, name := range []string{"op-1-0.state", "op-2-0.state"} {
		w, err := p.Create(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(twoFiles[name])); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		section("write "+name, nil)
	}
	if _, err := p.Commit(ctx, []byte("payload")); err != nil {
		t.Fatal(err)
	}
	section("commit", nil)

	log.Pause()
	commit(t, s, 2, storage.KindCheckpoint, twoFiles, "")
	log.Resume()
	if err := s.Retain(ctx, 1); err != nil {
		t.Fatal(err)
	}
	section("retain 1 (mutations only)", mutations)

	p, err = s.Begin(ctx, 3, storage.KindCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, p, map[string]string{"op-1-0.state": "x"})
	log.Reset()
	if err := p.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	section("abort checkpoint 3", nil)

	checkGolden(t, "trace.golden", trace.String())
}
