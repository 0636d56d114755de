package storage_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/checkpoint/storage"
)

func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "sluice-example")
	defer os.RemoveAll(dir)

	s, err := storage.Open(ctx, filepath.Join(dir, "job-1")) // or "s3://bucket/jobs/job-1?region=..."
	if err != nil {
		panic(err)
	}
	defer s.Close()

	// Write checkpoint 1: state files first, then Commit writes _metadata.
	p, err := s.Begin(ctx, 1, storage.KindCheckpoint)
	if err != nil {
		panic(err)
	}
	w, err := p.Create(ctx, "op-1-0.state")
	if err != nil {
		panic(err)
	}
	io.WriteString(w, "state of operator 1, subtask 0")
	if err := w.Close(); err != nil {
		p.Abort(ctx)
		panic(err)
	}
	if _, err := p.Commit(ctx, []byte("runtime metadata")); err != nil {
		p.Abort(ctx)
		panic(err)
	}

	// Restore: the newest complete checkpoint, its files checked on read.
	cp, skipped, err := s.Latest(ctx)
	if err != nil {
		panic(err)
	}
	r, err := s.OpenFile(ctx, cp, "op-1-0.state")
	if err != nil {
		panic(err)
	}
	state, err := io.ReadAll(r) // an error wrapping storage.ErrCorrupt on damage
	r.Close()
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: %q, payload %q, %d skipped\n", cp.Dir, state, cp.Payload, len(skipped))

	// Keep the newest 3 complete checkpoints; savepoints are never deleted.
	if err := s.Retain(ctx, 3); err != nil {
		panic(err)
	}
	// Output: chk-1: "state of operator 1, subtask 0", payload "runtime metadata", 0 skipped
}

// An incremental checkpoint reads state files of an earlier checkpoint:
// declare that with Use before Commit, and open the earlier checkpoint with
// LoadUsed when restoring. Retain keeps chk-1 as long as a kept checkpoint
// uses it.
func ExamplePending_Use() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "sluice-example")
	defer os.RemoveAll(dir)
	s, err := storage.Open(ctx, filepath.Join(dir, "job-1"))
	if err != nil {
		panic(err)
	}
	defer s.Close()

	write := func(id int64, name, content string, uses ...string) {
		p, err := s.Begin(ctx, id, storage.KindCheckpoint)
		if err != nil {
			panic(err)
		}
		w, err := p.Create(ctx, name)
		if err != nil {
			panic(err)
		}
		io.WriteString(w, content)
		if err := w.Close(); err != nil {
			panic(err)
		}
		p.Use(uses...)
		if _, err := p.Commit(ctx, nil); err != nil {
			p.Abort(ctx)
			panic(err)
		}
	}
	write(1, "base.state", "full state")
	write(2, "delta.state", "changes since checkpoint 1", "chk-1")
	if err := s.Retain(ctx, 1); err != nil {
		panic(err)
	}

	cp, _, err := s.Latest(ctx)
	if err != nil {
		panic(err)
	}
	base, err := s.LoadUsed(ctx, cp, "chk-1") // an error wrapping storage.ErrCorrupt if it is damaged
	if err != nil {
		panic(err)
	}
	r, err := s.OpenFile(ctx, base, "base.state")
	if err != nil {
		panic(err)
	}
	state, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s uses %v; %s/base.state: %q\n", cp.Dir, cp.Uses, base.Dir, state)
	// Output: chk-2 uses [chk-1]; chk-1/base.state: "full state"
}
