package storage_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/checkpoint/storage"
	"github.com/sluicehq/sluice/checkpoint/storage/storagetest"
)

// switchHook is a Hook whose behaviour a test changes as it goes.
type switchHook struct {
	mu   sync.Mutex
	hook storagetest.Hook
}

func (s *switchHook) set(h storagetest.Hook) { s.mu.Lock(); s.hook = h; s.mu.Unlock() }

func (s *switchHook) Hook(op storagetest.Op) error {
	s.mu.Lock()
	h := s.hook
	s.mu.Unlock()
	if h == nil {
		return nil
	}
	return h(op)
}

// failAfter returns a Hook failing the first operation matching fail that
// comes after an operation matching after.
func failAfter(after, fail func(storagetest.Op) bool) storagetest.Hook {
	var mu sync.Mutex
	seen := false
	return func(op storagetest.Op) error {
		mu.Lock()
		defer mu.Unlock()
		if seen && fail(op) {
			return storagetest.ErrInjected
		}
		if after(op) {
			seen = true
		}
		return nil
	}
}

func TestCommitFaults(t *testing.T) {
	isKind := func(k storagetest.OpKind, suffix string) func(storagetest.Op) bool {
		return func(op storagetest.Op) bool { return op.Kind == k && strings.HasSuffix(op.Path, suffix) }
	}
	cases := []struct {
		name      string
		hook      storagetest.Hook
		failClose bool // the fault hits a state file's Close, not Commit
	}{
		{"sync state file", storagetest.FailOn(storagetest.OpSync, "op-1-0.state"), true},
		{"write state file", storagetest.FailOn(storagetest.OpWrite, "op-2-0.state"), true},
		{"sync dir before metadata", storagetest.FailOn(storagetest.OpSyncDir, "chk-2"), false},
		{"create metadata", storagetest.FailOn(storagetest.OpCreate, "_metadata.tmp"), false},
		{"write metadata", storagetest.FailOn(storagetest.OpWrite, "_metadata.tmp"), false},
		{"sync metadata", storagetest.FailOn(storagetest.OpSync, "_metadata.tmp"), false},
		{"close metadata", storagetest.FailOn(storagetest.OpClose, "_metadata.tmp"), false},
		{"rename metadata", storagetest.FailOn(storagetest.OpRename, "_metadata.tmp"), false},
		{"sync dir after rename", failAfter(isKind(storagetest.OpRename, "_metadata.tmp"), isKind(storagetest.OpSyncDir, "chk-2")), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			root := filepath.Join(t.TempDir(), "job")
			var faults switchHook
			s, err := storage.Open(ctx, root, storage.WithFS(storagetest.Wrap(storage.OSFS(), faults.Hook)))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			commit(t, s, 1, storage.KindCheckpoint, twoFiles, "one")

			p, err := s.Begin(ctx, 2, storage.KindCheckpoint)
			if err != nil {
				t.Fatal(err)
			}
			faults.set(c.hook)
			var closeErr error
			for _, name := range []string{"op-1-0.state", "op-2-0.state"} {
				w, err := p.Create(ctx, name)
				if err != nil {
					t.Fatal(err)
				}
				w.Write([]byte(twoFiles[name]))
				if err := w.Close(); err != nil {
					closeErr = err
				}
			}
			if c.failClose != (closeErr != nil) {
				t.Fatalf("Close error = %v, want failure %v", closeErr, c.failClose)
			}
			if closeErr != nil && !errors.Is(closeErr, storagetest.ErrInjected) {
				t.Errorf("Close error %v does not wrap the fault", closeErr)
			}
			_, err = p.Commit(ctx, []byte("two"))
			if err == nil {
				t.Fatal("Commit succeeded despite the fault")
			}
			if !c.failClose && !errors.Is(err, storagetest.ErrInjected) {
				t.Errorf("Commit error %v does not wrap the fault", err)
			}
			faults.set(nil)

			// No complete checkpoint 2 is left, on disk or for Latest.
			for _, name := range []string{"_metadata", "_metadata.tmp"} {
				if _, err := os.Stat(filepath.Join(root, "chk-2", name)); err == nil {
					t.Errorf("%s left behind", name)
				}
			}
			cp, skipped, err := s.Latest(ctx)
			if err != nil || cp == nil || cp.ID != 1 {
				t.Fatalf("Latest = %v, %v, %v; want checkpoint 1", cp, skipped, err)
			}
			if !c.failClose {
				if _, err := p.Commit(ctx, []byte("two")); err == nil || !strings.Contains(err.Error(), "abort it") {
					t.Errorf("Commit after failed Commit = %v", err)
				}
			}
			if err := p.Abort(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(root, "chk-2")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("chk-2 after Abort: %v", err)
			}
			commit(t, s, 2, storage.KindCheckpoint, twoFiles, "two again")
		})
	}
}

// TestLatestIOError: an I/O error must stop Latest, not make it fall back to
// an older checkpoint.
func TestLatestIOError(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "job")
	var faults switchHook
	s, err := storage.Open(ctx, root, storage.WithFS(storagetest.Wrap(storage.OSFS(), faults.Hook)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	commit(t, s, 1, storage.KindCheckpoint, twoFiles, "")
	commit(t, s, 2, storage.KindCheckpoint, twoFiles, "")
	for _, fault := range []storagetest.Hook{
		storagetest.FailOn(storagetest.OpOpen, filepath.Join("chk-2", "_metadata")),
		storagetest.FailOn(storagetest.OpRead, filepath.Join("chk-2", "_metadata")),
		storagetest.FailOn(storagetest.OpList, "chk-2"),
		storagetest.FailOn(storagetest.OpList, "job"),
	} {
		faults.set(fault)
		cp, _, err := s.Latest(ctx)
		if cp != nil || !errors.Is(err, storagetest.ErrInjected) {
			t.Errorf("Latest = %v, %v; want the injected error", cp, err)
		}
		if err := s.Retain(ctx, 1); !errors.Is(err, storagetest.ErrInjected) {
			t.Errorf("Retain = %v; want the injected error", err)
		}
		if _, err := s.List(ctx); !errors.Is(err, storagetest.ErrInjected) {
			t.Errorf("List = %v; want the injected error", err)
		}
	}
	faults.set(nil)
	if got := dirs(t, s); len(got) != 2 {
		t.Errorf("directories after failed retention: %v", got)
	}
}

// TestRetainInterrupted: a deletion that fails part way, on the local
// backend, leaves either the complete checkpoint or nothing that any
// listing shows; the next Retain finishes the deletion.
func TestRetainInterrupted(t *testing.T) {
	isOp := func(k storagetest.OpKind, suffix string) func(storagetest.Op) bool {
		return func(op storagetest.Op) bool { return op.Kind == k && strings.HasSuffix(op.Path, suffix) }
	}
	cases := []struct {
		name     string
		hook     storagetest.Hook
		leftover bool // chk-1 is gone from listings but its files are on disk
	}{
		{"rename", storagetest.FailOn(storagetest.OpRename, ".deleting-chk-1"), false},
		{"sync dir after rename", failAfter(isOp(storagetest.OpRename, "chk-1"), isOp(storagetest.OpSyncDir, "job")), true},
		{"remove renamed", failAfter(isOp(storagetest.OpRename, "chk-1"), isOp(storagetest.OpRemoveAll, ".deleting-chk-1")), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			root := filepath.Join(t.TempDir(), "job")
			var faults switchHook
			logger, logs := newLogger()
			s, err := storage.Open(ctx, root, storage.WithLogger(logger), storage.WithFS(storagetest.Wrap(storage.OSFS(), faults.Hook)))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			commit(t, s, 1, storage.KindCheckpoint, twoFiles, "")
			commit(t, s, 2, storage.KindCheckpoint, twoFiles, "")
			faults.set(c.hook)
			if err := s.Retain(ctx, 1); !errors.Is(err, storagetest.ErrInjected) || !strings.Contains(err.Error(), "delete checkpoint") {
				t.Fatalf("Retain = %v; want the injected error", err)
			}
			faults.set(nil)
			got := dirs(t, s)
			switch {
			case c.leftover && !slices.Equal(got, []string{"chk-2"}):
				t.Errorf("after the failed deletion: %v, want chk-2 alone", got)
			case !c.leftover && !slices.Equal(got, []string{"chk-1", "chk-2"}):
				t.Errorf("after the failed rename: %v, want chk-1 still complete", got)
			}
			if c.leftover {
				if _, err := os.Stat(filepath.Join(root, ".deleting-chk-1")); err != nil {
					t.Fatalf("no leftover: %v", err)
				}
			} else if _, err := s.Load(ctx, "chk-1"); err != nil {
				t.Fatalf("chk-1 after the failed rename: %v", err)
			}
			if err := s.Retain(ctx, 1); err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(root)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Name() != "chk-2" {
				t.Errorf("after the next Retain: %v, want chk-2 alone", entries)
			}
			if c.leftover && !strings.Contains(logs.String(), "deleted the leftover of an interrupted checkpoint deletion") {
				t.Errorf("removal of the leftover not logged:\n%s", logs)
			}
		})
	}
}

// TestRetainAfterCrash: what a process killed during a deletion leaves (a
// renamed directory, part of it deleted) is invisible to a new Storage and
// deleted by its first Retain.
func TestRetainAfterCrash(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "job")
	s, err := storage.Open(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	commit(t, s, 1, storage.KindCheckpoint, twoFiles, "")
	commit(t, s, 2, storage.KindCheckpoint, twoFiles, "")
	s.Close()
	if err := os.Rename(filepath.Join(root, "chk-1"), filepath.Join(root, ".deleting-chk-1")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, ".deleting-chk-1", "op-1-0.state")); err != nil {
		t.Fatal(err)
	}

	s, err = storage.Open(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := dirs(t, s); !slices.Equal(got, []string{"chk-2"}) {
		t.Errorf("List: %v, want chk-2 alone", got)
	}
	if cp, skipped, err := s.Latest(ctx); err != nil || cp.ID != 2 || len(skipped) != 0 {
		t.Errorf("Latest = %v, %v, %v", cp, skipped, err)
	}
	commit(t, s, 3, storage.KindCheckpoint, twoFiles, "")
	if err := s.Retain(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, ".deleting-chk-1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover after Retain: %v", err)
	}
	// A leftover of the same name does not stop a later deletion.
	if err := os.MkdirAll(filepath.Join(root, ".deleting-chk-2", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	commit(t, s, 4, storage.KindCheckpoint, twoFiles, "")
	if err := s.Retain(ctx, 1); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 || entries[0].Name() != "chk-4" {
		t.Errorf("after Retain(1): %v, want chk-4 alone", entries)
	}
}

// TestRetainObjectStoreInterrupted: on an object store, a deletion cut
// short after _metadata leaves a partial directory that List calls never
// restored and the next Retain deletes.
func TestRetainObjectStoreInterrupted(t *testing.T) {
	f := newMemFixture(t)
	ctx := context.Background()
	commit(t, f.s, 1, storage.KindCheckpoint, twoFiles, "")
	commit(t, f.s, 2, storage.KindCheckpoint, twoFiles, "")
	f.remove(t, "chk-1/_metadata") // what the interrupted deletion did
	infos, err := f.s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if infos[0].Status != storage.StatusPartial || !strings.Contains(infos[0].Reason, "never restored") {
		t.Errorf("chk-1: %+v", infos[0])
	}
	if err := f.s.Retain(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := dirs(t, f.s); !slices.Equal(got, []string{"chk-2"}) || f.exists(t, "chk-1/op-1-0.state") {
		t.Errorf("after Retain: %v", got)
	}
}
