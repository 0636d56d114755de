package storage_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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
