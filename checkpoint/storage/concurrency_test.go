package storage_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/checkpoint/storage"
)

// TestConcurrentPending writes several checkpoints at once, each with files
// written from their own goroutines, while Latest, List and Retain run.
func TestConcurrentPending(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for id := int64(1); id <= 4; id++ {
			wg.Go(func() {
				p, err := f.s.Begin(ctx, id, storage.KindCheckpoint)
				if err != nil {
					errs <- err
					return
				}
				files := map[string]string{}
				for i := range 3 {
					files[fmt.Sprintf("op-%d.state", i)] = fmt.Sprintf("checkpoint %d file %d", id, i)
				}
				writeFiles(t, p, files)
				if _, err := p.Commit(ctx, []byte(fmt.Sprint(id))); err != nil {
					errs <- err
				}
			})
		}
		wg.Go(func() {
			for range 3 {
				if _, _, err := f.s.Latest(ctx); err != nil {
					errs <- err
				}
				if _, err := f.s.List(ctx); err != nil {
					errs <- err
				}
				if err := f.s.Retain(ctx, 4); err != nil {
					errs <- err
				}
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		cp, skipped, err := f.s.Latest(ctx)
		if err != nil || cp == nil || cp.ID != 4 || len(skipped) != 0 {
			t.Fatalf("Latest = %+v, %+v, %v", cp, skipped, err)
		}
		if got := dirs(t, f.s); len(got) != 4 {
			t.Fatalf("directories %v", got)
		}
	})
}

// TestAbortWhileWriting aborts a checkpoint while goroutines are writing its
// files: every writer ends with ErrAborted (or had closed before), and no
// file is left behind.
func TestAbortWhileWriting(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		p, err := f.s.Begin(ctx, 1, storage.KindCheckpoint)
		if err != nil {
			t.Fatal(err)
		}
		chunk := make([]byte, 4096)
		var started, wg sync.WaitGroup
		for i := range 4 {
			w, err := p.Create(ctx, fmt.Sprintf("f%d", i))
			if err != nil {
				t.Fatal(err)
			}
			started.Add(1)
			wg.Go(func() {
				var err error
				for n := 0; err == nil; n++ {
					if n == 1 {
						started.Done()
					}
					if n == 64 && i%2 == 0 {
						err = w.Close() // some writers finish before the abort
						if err == nil {
							return
						}
						break
					}
					_, err = w.Write(chunk)
				}
				if !errors.Is(err, storage.ErrAborted) {
					t.Errorf("writer %d: %v, want ErrAborted", i, err)
				}
			})
		}
		started.Wait()
		if err := p.Abort(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for i := range 4 {
			if f.exists(t, fmt.Sprintf("chk-1/f%d", i)) {
				t.Errorf("f%d left behind", i)
			}
		}
	})
}
