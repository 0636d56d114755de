package storagetest_test

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/checkpoint/storage"
	"github.com/sluicehq/sluice/checkpoint/storage/storagetest"
)

func TestWrapRecordsAndFails(t *testing.T) {
	dir := t.TempDir()
	var log storagetest.Log
	fs := storagetest.Wrap(storage.OSFS(), storagetest.Chain(log.Hook, storagetest.FailOn(storagetest.OpRename, "b")))

	f, err := fs.Create(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	err = fs.Rename(filepath.Join(dir, "a"), filepath.Join(dir, "b"))
	if !errors.Is(err, storagetest.ErrInjected) {
		t.Fatalf("Rename = %v, want injected fault", err)
	}
	if err := fs.Rename(filepath.Join(dir, "a"), filepath.Join(dir, "c")); err != nil {
		t.Fatal(err)
	}
	log.Pause()
	if _, err := fs.Stat(filepath.Join(dir, "c")); err != nil {
		t.Fatal(err)
	}
	log.Resume()
	r, err := fs.Open(filepath.Join(dir, "c"))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 5)
	if _, err := io.ReadFull(r, b); err != nil || string(b) != "hello" {
		t.Fatalf("read %q, %v", b, err)
	}
	r.Close()
	names, err := fs.List(dir)
	if err != nil || len(names) != 1 {
		t.Fatalf("List = %v, %v", names, err)
	}
	if err := fs.MkdirAll(filepath.Join(dir, "d", "e"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := fs.SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	if err := fs.Remove(filepath.Join(dir, "c")); err != nil {
		t.Fatal(err)
	}
	if err := fs.RemoveAll(filepath.Join(dir, "d")); err != nil {
		t.Fatal(err)
	}

	want := `create a
write a 5
sync a
close a
rename a b
rename a c
open c
read c 5
close c
list .
mkdirall d/e
syncdir .
remove c
removeall d
`
	if got := log.Trace(dir); got != want {
		t.Errorf("trace:\n%s\nwant:\n%s", got, want)
	}
	log.Reset()
	if len(log.Ops()) != 0 {
		t.Error("Reset kept operations")
	}
}

func TestCloseFailsButReleases(t *testing.T) {
	dir := t.TempDir()
	fs := storagetest.Wrap(storage.OSFS(), storagetest.FailOn(storagetest.OpClose, ""))
	f, err := fs.Create(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); !errors.Is(err, storagetest.ErrInjected) {
		t.Fatalf("Close = %v", err)
	}
	if err := f.Close(); err == nil {
		t.Fatal("file still open after failed Close")
	}
}

func TestOpString(t *testing.T) {
	for op, want := range map[storagetest.Op]string{
		{Kind: storagetest.OpSyncDir, Path: "/a"}:               "syncdir /a",
		{Kind: storagetest.OpRename, Path: "/a", NewPath: "/b"}: "rename /a /b",
		{Kind: storagetest.OpWrite, Path: "/a", N: 3}:           "write /a 3",
		{Kind: 99, Path: "/a"}:                                  "op(99) /a",
	} {
		if got := op.String(); got != want {
			t.Errorf("%#v: %q, want %q", op, got, want)
		}
	}
}
