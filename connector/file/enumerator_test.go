package file

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestBoundedEnumerator(t *testing.T) {
	dir := t.TempDir()
	base := time.Now().Add(-time.Hour)
	writeFile(t, dir, "b.txt", []byte("b\n"), base.Add(2*time.Second))
	writeFile(t, dir, "a.txt", []byte("a\n"), base.Add(time.Second))
	writeFile(t, dir, "c.txt", []byte("c\n"), base.Add(2*time.Second))
	writeFile(t, dir, ".hidden", []byte("x\n"), time.Time{})
	writeFile(t, dir, "_SUCCESS", nil, time.Time{})
	writeFile(t, dir, "sub/d.txt", []byte("d\n"), time.Time{})

	src := NewSource(dir, Lines())
	ctx := newFakeEnumContext(2)
	en, err := src.NewEnumerator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ctx.every) != 0 {
		t.Fatal("a bounded enumerator must not schedule discovery")
	}
	// Pull-based, oldest first (then by path).
	for _, sub := range []int{1, 0, 1} {
		if err := en.HandleSplitRequest(sub); err != nil {
			t.Fatal(err)
		}
	}
	names := func(l []*Split) (out []string) {
		for _, s := range l {
			out = append(out, filepath.Base(s.Path))
		}
		return out
	}
	if got := names(ctx.assigned[1]); !reflect.DeepEqual(got, []string{"a.txt", "c.txt"}) {
		t.Fatalf("subtask 1 got %v", got)
	}
	if got := names(ctx.assigned[0]); !reflect.DeepEqual(got, []string{"b.txt"}) {
		t.Fatalf("subtask 0 got %v", got)
	}
	// A snapshot now restores into an enumerator that does not list again.
	writeFile(t, dir, "e.txt", []byte("e\n"), time.Time{})
	snap, _ := en.Snapshot(1)
	en2, err := src.NewEnumerator(newFakeEnumContext(2), snap)
	if err != nil {
		t.Fatal(err)
	}
	if p := en2.(*enumerator).pending; len(p) != 0 {
		t.Fatalf("restored bounded enumerator found %v", names(p))
	}
	en.HandleSplitRequest(0)
	if !ctx.noMore[0] || len(ctx.assigned[0]) != 1 {
		t.Fatalf("want NoMoreSplits for subtask 0, got %+v", ctx)
	}

	// Recursive.
	ctx = newFakeEnumContext(1)
	en, err = NewSource(src.path, src.format, Recursive()).NewEnumerator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		en.HandleSplitRequest(0)
	}
	if got := names(ctx.assigned[0]); len(got) != 5 || !slices.Contains(got, "d.txt") {
		t.Fatalf("recursive got %v", got)
	}
}

func TestSingleFileAndMissingPath(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, ".only-by-name", []byte("x\n"), time.Time{})
	ctx := newFakeEnumContext(1)
	en, err := NewSource(p, Lines()).NewEnumerator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	en.HandleSplitRequest(0)
	if len(ctx.assigned[0]) != 1 || ctx.assigned[0][0].Path != p {
		t.Fatalf("got %+v", ctx.assigned)
	}
	if _, err := NewSource(filepath.Join(dir, "nope"), Lines()).NewEnumerator(newFakeEnumContext(1), nil); err == nil {
		t.Fatal("a missing path must fail the start")
	}
}

func TestContinuousEnumerator(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "1.txt", []byte("1\n"), time.Time{})
	ctx := newFakeEnumContext(2)
	en, err := NewSource(dir, Lines(), Continuous(time.Second)).NewEnumerator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ctx.every) != 1 {
		t.Fatal("a continuous enumerator must schedule discovery")
	}
	en.HandleSplitRequest(0)
	en.HandleSplitRequest(1) // nothing yet: waits
	en.HandleSplitRequest(1) // asking twice is one request
	if ctx.noMore[1] || len(ctx.assigned[1]) != 0 {
		t.Fatal("a continuous enumerator never says no more")
	}
	writeFile(t, dir, ".2.txt", []byte("in progress\n"), time.Time{})
	writeFile(t, dir, "3.txt", []byte("3\n"), time.Time{})
	writeFile(t, dir, "4.txt", []byte("4\n"), time.Time{})
	ctx.tick(t)
	if len(ctx.assigned[1]) != 1 || filepath.Base(ctx.assigned[1][0].Path) != "3.txt" {
		t.Fatalf("waiting reader got %+v", ctx.assigned[1])
	}
	ctx.tick(t) // no duplicate discovery
	snap, _ := en.Snapshot(1)
	en.HandleSplitRequest(0)
	if got := ctx.allAssigned(); len(got) != 3 {
		t.Fatalf("assigned %v", got)
	}

	// Restored from the snapshot, 4.txt is still pending, the others are
	// remembered.
	ctx2 := newFakeEnumContext(2)
	en2, err := NewSource(dir, Lines(), Continuous(time.Second)).NewEnumerator(ctx2, snap)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		en2.HandleSplitRequest(0)
	}
	if got := ctx2.allAssigned(); len(got) != 1 || filepath.Base(got[0]) != "4.txt" {
		t.Fatalf("restored enumerator assigned %v", got)
	}
}

// TestProcessedRecordStaysBounded runs discovery over a directory where
// files keep arriving: the record of processed files must not grow with
// the number of files ever seen, and no file may be handed out twice or
// missed.
func TestProcessedRecordStaysBounded(t *testing.T) {
	for _, deleteOld := range []bool{true, false} {
		t.Run(fmt.Sprint("delete=", deleteOld), func(t *testing.T) {
			dir := t.TempDir()
			const n, keep, perTick = 600, 20, 3
			tolerance := 30 * time.Second
			if deleteOld {
				tolerance = 24 * time.Hour // only deletion bounds the record
			}
			base := time.Now().Add(-48 * time.Hour)
			ctx := newFakeEnumContext(1)
			src := NewSource(dir, Lines(), Continuous(time.Second), LateFileTolerance(tolerance))
			en, err := src.NewEnumerator(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			maxRecord := 0
			var written []string
			for i := range n {
				name := fmt.Sprintf("f%04d.txt", i)
				// Out of order within a tick: modification times go back a
				// little, well within the tolerance.
				mt := base.Add(time.Duration(i)*time.Second - time.Duration(i%perTick)*500*time.Millisecond)
				written = append(written, writeFile(t, dir, name, []byte("x\n"), mt))
				if deleteOld && i >= keep {
					os.Remove(written[i-keep])
				}
				if i%perTick != perTick-1 {
					continue
				}
				ctx.tick(t)
				for range perTick + 1 {
					en.HandleSplitRequest(0)
				}
				e := en.(*enumerator)
				maxRecord = max(maxRecord, len(e.processed))
				if i%100 == 2 {
					// Survives a checkpoint and restore.
					snap, _ := en.Snapshot(int64(i))
					if en, err = src.NewEnumerator(ctx, snap); err != nil {
						t.Fatal(err)
					}
					ctx.every = ctx.every[1:]
				}
			}
			got := ctx.allAssigned()
			if !slices.Equal(got, written) {
				t.Fatalf("assigned %d files, wrote %d (duplicates or gaps)", len(got), len(written))
			}
			limit := keep + perTick
			if !deleteOld {
				limit = int(tolerance/time.Second) + perTick + 1
			}
			if maxRecord > limit {
				t.Fatalf("record of processed files grew to %d entries (limit %d) over %d files", maxRecord, limit, n)
			}
			t.Logf("record peaked at %d entries over %d files", maxRecord, n)
		})
	}
}

func TestLateFileBeyondToleranceIsSkipped(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	writeFile(t, dir, "new.txt", []byte("x\n"), now)
	ctx := newFakeEnumContext(1)
	en, err := NewSource(dir, Lines(), Continuous(time.Second), LateFileTolerance(time.Minute)).NewEnumerator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "late-but-ok.txt", []byte("x\n"), now.Add(-30*time.Second))
	writeFile(t, dir, "too-late.txt", []byte("x\n"), now.Add(-2*time.Minute))
	ctx.tick(t)
	for range 4 {
		en.HandleSplitRequest(0)
	}
	var got []string
	for _, s := range ctx.assigned[0] {
		got = append(got, filepath.Base(s.Path))
	}
	if !reflect.DeepEqual(got, []string{"new.txt", "late-but-ok.txt"}) {
		t.Fatalf("got %v", got)
	}
}
