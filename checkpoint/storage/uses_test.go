package storage_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/checkpoint/storage"
)

// commitUsing commits checkpoint id with twoFiles, declaring uses.
func commitUsing(t *testing.T, s *storage.Storage, id int64, uses ...string) *storage.Checkpoint {
	t.Helper()
	ctx := context.Background()
	p, err := s.Begin(ctx, id, storage.KindCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, p, twoFiles)
	p.Use(uses...)
	cp, err := p.Commit(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func TestCommitUses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		commitUsing(t, f.s, 1)
		commitUsing(t, f.s, 2, "chk-1")
		committed := commitUsing(t, f.s, 10, "chk-2", "chk-1", "chk-2")
		// Sorted by id, not by name; listed once.
		want := []string{"chk-1", "chk-2"}
		latest, _, err := f.s.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		loaded, err := f.s.Load(ctx, committed.Path)
		if err != nil {
			t.Fatal(err)
		}
		for _, cp := range []*storage.Checkpoint{committed, latest, loaded} {
			if cp.ID != 10 || !slices.Equal(cp.Uses, want) {
				t.Errorf("checkpoint %d uses %q, want %q", cp.ID, cp.Uses, want)
			}
		}
		if cp, err := f.s.Load(ctx, "chk-1"); err != nil || cp.Uses != nil {
			t.Errorf("chk-1 = %+v, %v; want no uses", cp, err)
		}
		infos, err := f.s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, in := range infos {
			got = append(got, in.Dir+":"+strings.Join(in.Uses, ","))
		}
		if w := []string{"chk-1:", "chk-2:chk-1", "chk-10:chk-1,chk-2"}; !slices.Equal(got, w) {
			t.Errorf("List uses %q, want %q", got, w)
		}
		// A checkpoint without uses is written in format version 1.
		for dir, v := range map[string]uint16{"chk-1": 1, "chk-2": 2, "chk-10": 2} {
			if got := binary.LittleEndian.Uint16(f.read(t, dir+"/_metadata")[8:]); got != v {
				t.Errorf("%s: format version %d, want %d", dir, got, v)
			}
		}
	})
}

func TestUseRefused(t *testing.T) {
	cases := []struct {
		name   string
		kind   storage.Kind
		uses   []string
		setup  func(t *testing.T, f *fixture)
		want   error
		reason string
	}{
		{"savepoint dir", storage.KindCheckpoint, []string{"savepoint-1-abcdef"}, nil, nil, "not a checkpoint directory name"},
		{"path", storage.KindCheckpoint, []string{"../job-2/chk-1"}, nil, nil, "not a checkpoint directory name"},
		{"itself", storage.KindCheckpoint, []string{"chk-5"}, nil, nil, `uses "chk-5": not older than checkpoint 5`},
		{"newer", storage.KindCheckpoint, []string{"chk-1", "chk-6"}, nil, nil, "not older than checkpoint 5"},
		{"by a savepoint", storage.KindSavepoint, []string{"chk-1"}, nil, nil, "savepoints must be self-contained"},
		{"missing", storage.KindCheckpoint, []string{"chk-1", "chk-3"}, nil, storage.ErrNotFound, "chk-3, which is missing"},
		{"partial", storage.KindCheckpoint, []string{"chk-2"}, func(t *testing.T, f *fixture) {
			f.write(t, "chk-2/op-1-0.state", []byte("half"))
		}, storage.ErrIncomplete, "chk-2, which is partial"},
		// Written by someone else (a Storage trusts the checkpoints it
		// committed itself): chk-1's metadata in chk-2.
		{"corrupt", storage.KindCheckpoint, []string{"chk-2"}, func(t *testing.T, f *fixture) {
			for _, name := range []string{"op-1-0.state", "op-2-0.state", "_metadata"} {
				f.write(t, "chk-2/"+name, f.read(t, "chk-1/"+name))
			}
		}, storage.ErrCorrupt, "chk-2, which is corrupt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, f *fixture) {
				ctx := context.Background()
				commit(t, f.s, 1, storage.KindCheckpoint, twoFiles, "")
				if c.setup != nil {
					c.setup(t, f)
				}
				p, err := f.s.Begin(ctx, 5, c.kind)
				if err != nil {
					t.Fatal(err)
				}
				writeFiles(t, p, twoFiles)
				p.Use(c.uses...)
				_, err = p.Commit(ctx, nil)
				if err == nil || !strings.Contains(err.Error(), c.reason) || !strings.Contains(err.Error(), p.Path()) ||
					(c.want != nil && !errors.Is(err, c.want)) {
					t.Fatalf("Commit = %v, want an error naming %s with %q", err, p.Path(), c.reason)
				}
				// The Pending stays open; Abort cleans up.
				if err := p.Abort(ctx); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// TestUsePending: a checkpoint pending in the storage cannot be used.
func TestUsePending(t *testing.T) {
	ctx := context.Background()
	f := newLocalFixture(t)
	p1, err := f.s.Begin(ctx, 1, storage.KindCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, p1, twoFiles)
	p2, err := f.s.Begin(ctx, 2, storage.KindCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	p2.Use("chk-1")
	if _, err := p2.Commit(ctx, nil); err == nil || !strings.Contains(err.Error(), "pending") {
		t.Fatalf("Commit using a pending checkpoint = %v", err)
	}
	if _, err := p1.Commit(ctx, nil); err != nil {
		t.Fatal(err)
	}
	cp, err := p2.Commit(ctx, nil)
	if err != nil || !slices.Equal(cp.Uses, []string{"chk-1"}) {
		t.Fatalf("Commit = %+v, %v", cp, err)
	}
	p2.Use("chk-0") // after Commit: no effect
	if got, err := f.s.Load(ctx, "chk-2"); err != nil || !slices.Equal(got.Uses, []string{"chk-1"}) {
		t.Fatalf("Load = %+v, %v", got, err)
	}
}

// retainCheckpoint is a checkpoint committed by a TestRetainUses case.
type retainCheckpoint struct {
	id   int64
	kind storage.Kind // default KindCheckpoint
	uses []string
}

func TestRetainUses(t *testing.T) {
	cp := func(id int64, uses ...string) retainCheckpoint { return retainCheckpoint{id: id, uses: uses} }
	sp := func(id int64) retainCheckpoint { return retainCheckpoint{id: id, kind: storage.KindSavepoint} }
	type step struct {
		commit  []retainCheckpoint
		damage  map[string]string // directory -> partial, corrupt, missing or newer
		pending []string          // uses of a checkpoint pending during Retain
		n       int
		want    []string // directories after Retain, savepoint suffixes cut off
		logs    []string // in the log of Retain
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"no uses", []step{{
			commit: []retainCheckpoint{cp(1), cp(2), cp(3), cp(4)}, n: 2,
			want: []string{"chk-3", "chk-4"},
		}}},
		{"use keeps an old checkpoint", []step{{
			commit: []retainCheckpoint{cp(1), cp(2), cp(3), cp(4, "chk-1")}, n: 2,
			want: []string{"chk-1", "chk-3", "chk-4"},
		}}},
		{"use among the newest n", []step{{
			commit: []retainCheckpoint{cp(1), cp(2), cp(3, "chk-2")}, n: 2,
			want: []string{"chk-2", "chk-3"},
		}}},
		{"use by a deleted checkpoint", []step{{
			commit: []retainCheckpoint{cp(1), cp(2, "chk-1"), cp(3), cp(4)}, n: 2,
			want: []string{"chk-3", "chk-4"},
		}}},
		{"transitive", []step{{
			commit: []retainCheckpoint{cp(1), cp(2, "chk-1"), cp(3, "chk-2"), cp(4), cp(5, "chk-3")}, n: 1,
			want: []string{"chk-1", "chk-2", "chk-3", "chk-5"},
		}}},
		{"transitive through the newest n", []step{{
			commit: []retainCheckpoint{cp(1), cp(2), cp(3, "chk-1"), cp(4), cp(5, "chk-3")}, n: 2,
			want: []string{"chk-1", "chk-3", "chk-4", "chk-5"},
		}}},
		{"no longer used", []step{
			{
				commit: []retainCheckpoint{cp(1), cp(2), cp(3, "chk-1", "chk-2")}, n: 1,
				want: []string{"chk-1", "chk-2", "chk-3"},
			},
			{
				commit: []retainCheckpoint{cp(4, "chk-2")}, n: 1,
				want: []string{"chk-2", "chk-4"},
				logs: []string{"deleted checkpoint", "chk-1", "chk-3"},
			},
			{
				commit: []retainCheckpoint{cp(5)}, n: 1,
				want: []string{"chk-5"},
			},
		}},
		{"savepoints untouched", []step{{
			commit: []retainCheckpoint{cp(1), sp(1), cp(2), sp(2), cp(3, "chk-1"), sp(4), cp(5)}, n: 1,
			want: []string{"savepoint-1", "savepoint-2", "savepoint-4", "chk-5"},
		}, {
			commit: []retainCheckpoint{cp(6, "chk-5")}, n: 1,
			want: []string{"savepoint-1", "savepoint-2", "savepoint-4", "chk-5", "chk-6"},
		}}},
		{"used partial kept", []step{{
			commit: []retainCheckpoint{cp(1), cp(2), cp(3, "chk-1")}, damage: map[string]string{"chk-1": "partial"}, n: 1,
			want: []string{"chk-1", "chk-3"},
			logs: []string{"level=WARN", "keeping a used checkpoint that is partial", "chk-1", "used_by=chk-3"},
		}}},
		{"used corrupt kept", []step{{
			commit: []retainCheckpoint{cp(1), cp(2), cp(3, "chk-1"), cp(4)}, damage: map[string]string{"chk-1": "corrupt"}, n: 2,
			want: []string{"chk-1", "chk-3", "chk-4"},
			logs: []string{"level=WARN", "keeping a used checkpoint that is corrupt", "used_by=chk-3", "op-1-0.state is missing"},
		}}},
		{"used transitively partial kept", []step{{
			commit: []retainCheckpoint{cp(1), cp(2, "chk-1"), cp(3, "chk-2")}, damage: map[string]string{"chk-1": "partial"}, n: 1,
			want: []string{"chk-1", "chk-2", "chk-3"},
			logs: []string{"used_by=chk-2"},
		}}},
		{"unused partial deleted", []step{{
			commit: []retainCheckpoint{cp(1), cp(2), cp(3, "chk-1")}, damage: map[string]string{"chk-2": "partial"}, n: 2,
			want: []string{"chk-1", "chk-3"},
		}}},
		{"used missing", []step{{
			commit: []retainCheckpoint{cp(1), cp(2, "chk-1"), cp(3)}, damage: map[string]string{"chk-1": "missing"}, n: 2,
			want: []string{"chk-2", "chk-3"},
			logs: []string{"level=WARN", "uses a checkpoint that is missing", "chk-1", "used_by=chk-2"},
		}}},
		{"pending use", []step{{
			commit: []retainCheckpoint{cp(1), cp(2, "chk-1"), cp(3)}, pending: []string{"chk-2"}, n: 1,
			want: []string{"chk-1", "chk-2", "chk-3", "chk-4"},
		}}},
		{"newer version keeps every older", []step{{
			commit: []retainCheckpoint{cp(1), cp(2), cp(3), cp(4)}, damage: map[string]string{"chk-3": "newer"}, n: 2,
			want: []string{"chk-1", "chk-2", "chk-3", "chk-4"},
			logs: []string{"level=WARN", "keeping every older checkpoint", "chk-3"},
		}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			f := newLocalFixture(t)
			for i, st := range c.steps {
				for _, r := range st.commit {
					if r.kind == storage.KindSavepoint {
						commit(t, f.s, r.id, storage.KindSavepoint, twoFiles, "")
					} else {
						commitUsing(t, f.s, r.id, r.uses...)
					}
				}
				for dir, how := range st.damage {
					switch how {
					case "partial":
						f.remove(t, dir+"/_metadata")
					case "corrupt":
						f.remove(t, dir+"/op-1-0.state")
					case "missing":
						if err := os.RemoveAll(filepath.Join(f.s.Location(), dir)); err != nil {
							t.Fatal(err)
						}
					case "newer":
						f.write(t, dir+"/_metadata", withVersion(f.read(t, dir+"/_metadata"), unsupportedVersion))
					default:
						t.Fatalf("damage %q", how)
					}
				}
				var p *storage.Pending
				if st.pending != nil {
					infos, err := f.s.List(ctx)
					if err != nil {
						t.Fatal(err)
					}
					var err2 error
					p, err2 = f.s.Begin(ctx, infos[len(infos)-1].ID+1, storage.KindCheckpoint)
					if err2 != nil {
						t.Fatal(err2)
					}
					writeFiles(t, p, twoFiles)
					p.Use(st.pending...)
				}
				before := len(f.logs.String())
				if err := f.s.Retain(ctx, st.n); err != nil {
					t.Fatalf("step %d: Retain: %v", i, err)
				}
				if got := dirs(t, f.s); !slices.Equal(got, st.want) {
					t.Fatalf("step %d: after Retain(%d): %v, want %v\n%s", i, st.n, got, st.want, f.logs.String()[before:])
				}
				logs := f.logs.String()[before:]
				for _, w := range st.logs {
					if !strings.Contains(logs, w) {
						t.Errorf("step %d: log lacks %q:\n%s", i, w, logs)
					}
				}
				if p != nil {
					if _, err := p.Commit(ctx, nil); err != nil {
						t.Fatalf("step %d: commit of the pending checkpoint: %v", i, err)
					}
				}
			}
		})
	}
}

// TestRetainUseDeclaredDuringRetain: a use declared while Retain runs, after
// it looked at the pending checkpoints, still keeps the checkpoint, or the
// commit fails. Either way no committed checkpoint uses a deleted one.
func TestRetainUseDeclaredDuringRetain(t *testing.T) {
	ctx := context.Background()
	for range 20 {
		f := newLocalFixture(t)
		commitUsing(t, f.s, 1)
		commitUsing(t, f.s, 2)
		p, err := f.s.Begin(ctx, 3, storage.KindCheckpoint)
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, p, twoFiles)
		done := make(chan error)
		go func() { done <- f.s.Retain(ctx, 1) }()
		p.Use("chk-1")
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		cp, err := p.Commit(ctx, nil)
		if err != nil {
			if !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrIncomplete) && !strings.Contains(err.Error(), "being deleted") {
				t.Fatalf("Commit = %v", err)
			}
			continue
		}
		if _, err := f.s.LoadUsed(ctx, cp, "chk-1"); err != nil {
			t.Fatalf("committed checkpoint uses a deleted one: %v", err)
		}
	}
}

func TestLoadUsed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		commit(t, f.s, 1, storage.KindCheckpoint, map[string]string{"base.state": "base of 1"}, "one")
		p, err := f.s.Begin(ctx, 2, storage.KindCheckpoint)
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, p, map[string]string{"delta.state": "delta of 2"})
		p.Use("chk-1")
		if _, err := p.Commit(ctx, []byte("two")); err != nil {
			t.Fatal(err)
		}
		commitUsing(t, f.s, 3, "chk-2", "chk-1")
		cp3, _, err := f.s.Latest(ctx)
		if err != nil || cp3.ID != 3 {
			t.Fatalf("Latest = %+v, %v", cp3, err)
		}
		cp2, err := f.s.LoadUsed(ctx, cp3, "chk-2")
		if err != nil {
			t.Fatal(err)
		}
		if cp2.ID != 2 || cp2.Dir != "chk-2" || string(cp2.Payload) != "two" || !slices.Equal(cp2.Uses, []string{"chk-1"}) ||
			cp2.Path != strings.TrimSuffix(cp3.Path, "chk-3")+"chk-2" {
			t.Errorf("LoadUsed(chk-2) = %+v", cp2)
		}
		if got, err := readFile(f.s, cp2, "delta.state"); err != nil || string(got) != "delta of 2" {
			t.Errorf("read delta.state = %q, %v", got, err)
		}
		// Following the uses of a used checkpoint.
		cp1, err := f.s.LoadUsed(ctx, cp2, "chk-1")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := readFile(f.s, cp1, "base.state"); err != nil || string(got) != "base of 1" {
			t.Errorf("read base.state = %q, %v", got, err)
		}
		// Only listed directories.
		for _, dir := range []string{"chk-3", "chk-0", "../chk-1", "savepoint-1-abcdef"} {
			if _, err := f.s.LoadUsed(ctx, cp2, dir); !errors.Is(err, storage.ErrNotFound) || !strings.Contains(err.Error(), cp2.Path) {
				t.Errorf("LoadUsed(%s) = %v, want ErrNotFound naming %s", dir, err, cp2.Path)
			}
		}
		// A damaged used checkpoint is reported as ErrCorrupt.
		b := f.read(t, "chk-1/base.state")
		f.write(t, "chk-1/base.state", []byte("base"))
		_, err = f.s.LoadUsed(ctx, cp2, "chk-1")
		checkUsedErr(t, err, cp2, "chk-1, which is corrupt", "state file base.state has 4 bytes")
		f.write(t, "chk-1/base.state", append(b[:0:0], b...))
		md := f.read(t, "chk-1/_metadata")
		f.remove(t, "chk-1/_metadata")
		_, err = f.s.LoadUsed(ctx, cp2, "chk-1")
		checkUsedErr(t, err, cp2, "chk-1, which is partial", "no _metadata")
		if !errors.Is(err, storage.ErrIncomplete) {
			t.Errorf("partial: %v does not wrap ErrIncomplete", err)
		}
		f.write(t, "chk-1/_metadata", withVersion(md, unsupportedVersion))
		if _, err := f.s.LoadUsed(ctx, cp2, "chk-1"); !errors.Is(err, storage.ErrUnsupportedVersion) {
			t.Errorf("newer version: %v", err)
		}
		f.remove(t, "chk-1/_metadata")
		f.remove(t, "chk-1/base.state")
		_, err = f.s.LoadUsed(ctx, cp2, "chk-1")
		checkUsedErr(t, err, cp2, "chk-1, which is missing", "")
	})
}

// checkUsedErr checks the error of LoadUsed for a missing, partial or
// corrupt used checkpoint.
func checkUsedErr(t *testing.T, err error, cp *storage.Checkpoint, what, reason string) {
	t.Helper()
	if !errors.Is(err, storage.ErrCorrupt) || !strings.Contains(err.Error(), "checkpoint "+cp.Path+" uses "+what) ||
		!strings.Contains(err.Error(), reason) {
		t.Errorf("LoadUsed = %v, want ErrCorrupt: checkpoint %s uses %s ... %s", err, cp.Path, what, reason)
	}
}

// TestLoadUsedElsewhere: the used checkpoints of a checkpoint loaded by path
// from another location are looked for in that location, whatever the
// storage's backend.
func TestLoadUsedElsewhere(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	a, err := storage.Open(ctx, filepath.Join(tmp, "job-a"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	commit(t, a, 1, storage.KindCheckpoint, map[string]string{"base.state": "base in a"}, "")
	cpA := commitUsing(t, a, 2, "chk-1")

	b, err := storage.Open(ctx, filepath.Join(tmp, "job-b"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// job-b has a chk-1 of its own, which must not be used.
	commit(t, b, 1, storage.KindCheckpoint, map[string]string{"base.state": "base in b"}, "")
	mem, err := storage.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	for _, s := range []*storage.Storage{b, mem} {
		for _, path := range []string{cpA.Path, "file://" + filepath.ToSlash(cpA.Path)} {
			cp, err := s.Load(ctx, path)
			if err != nil {
				t.Fatalf("%s: Load(%s): %v", s.Location(), path, err)
			}
			used, err := s.LoadUsed(ctx, cp, "chk-1")
			if err != nil {
				t.Fatalf("%s: LoadUsed: %v", s.Location(), err)
			}
			if want := filepath.Join(tmp, "job-a", "chk-1"); used.Path != want {
				t.Errorf("%s: used checkpoint at %s, want %s", s.Location(), used.Path, want)
			}
			if got, err := readFile(s, used, "base.state"); err != nil || string(got) != "base in a" {
				t.Errorf("%s: read = %q, %v", s.Location(), got, err)
			}
		}
	}
	if err := os.RemoveAll(filepath.Join(tmp, "job-a", "chk-1")); err != nil {
		t.Fatal(err)
	}
	cp, err := b.Load(ctx, cpA.Path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.LoadUsed(ctx, cp, "chk-1")
	checkUsedErr(t, err, cp, "chk-1, which is missing", filepath.Join(tmp, "job-a", "chk-1"))
}
