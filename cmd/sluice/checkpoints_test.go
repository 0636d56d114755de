package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/checkpoint/storage"
)

// writeCheckpoint commits checkpoint (or savepoint) id with one state file
// into dir, using the checkpoints in uses; it returns the directory name.
func writeCheckpoint(t *testing.T, dir string, id int64, kind storage.Kind, uses ...string) string {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := st.Begin(ctx, id, kind)
	if err != nil {
		t.Fatal(err)
	}
	w, err := p.Create(ctx, "op-0.state")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "state of %d: %s", id, strings.Repeat("s", 500))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	p.Use(uses...)
	cp, err := p.Commit(ctx, []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	return cp.Dir
}

// damage flips a byte of the state file of dir/cpDir, keeping its size, so
// that only reading it shows the damage.
func damage(t *testing.T, dir, cpDir string) {
	t.Helper()
	path := filepath.Join(dir, cpDir, "op-0.state")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCheckpointsVerify(t *testing.T) {
	cp := func(id int64, uses ...string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) { writeCheckpoint(t, dir, id, storage.KindCheckpoint, uses...) }
	}
	bad := func(cpDir string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) { damage(t, dir, cpDir) }
	}
	cases := []struct {
		name  string
		setup []func(t *testing.T, dir string)
		code  int
		// status is the STATUS column by directory.
		status map[string]string
		want   []string // in the output, DIR standing for the location
	}{
		{
			name:   "intact",
			setup:  []func(*testing.T, string){cp(1), cp(2)},
			code:   exitOK,
			status: map[string]string{"chk-1": "ok", "chk-2": "ok"},
			want:   []string{"--restore latest restores chk-2: every file verified"},
		},
		{
			name:   "newest corrupt",
			setup:  []func(*testing.T, string){cp(1), cp(2), bad("chk-2")},
			code:   exitFailed,
			status: map[string]string{"chk-1": "ok", "chk-2": "corrupt"},
			want: []string{
				"chk-2 (corrupt): state file DIR/chk-2/op-0.state: checkpoint corrupt: has CRC-32C",
				"--restore latest would skip chk-2 (corrupt) and restore chk-1: an exactly-once sink that committed output after checkpoint 1 refuses that",
			},
		},
		{
			name:   "all corrupt",
			setup:  []func(*testing.T, string){cp(1), cp(2), bad("chk-1"), bad("chk-2")},
			code:   exitFailed,
			status: map[string]string{"chk-1": "corrupt", "chk-2": "corrupt"},
			want:   []string{"--restore latest would fail: chk-2, chk-1 are corrupt and no older checkpoint is complete; restore a savepoint (--restore PATH) or start fresh (--fresh)"},
		},
		{
			name:   "older corrupt",
			setup:  []func(*testing.T, string){cp(1), cp(2), bad("chk-1")},
			code:   exitOK,
			status: map[string]string{"chk-1": "corrupt", "chk-2": "ok"},
			want:   []string{"chk-1 (corrupt): state file DIR/chk-1/op-0.state", "--restore latest restores chk-2"},
		},
		{
			name:   "used checkpoint corrupt",
			setup:  []func(*testing.T, string){cp(1), cp(2), cp(3, "chk-1"), bad("chk-1")},
			code:   exitFailed,
			status: map[string]string{"chk-1": "corrupt", "chk-2": "ok", "chk-3": "corrupt"},
			want:   []string{"chk-3 (corrupt): it uses chk-1: state file DIR/chk-1/op-0.state", "would skip chk-3 (corrupt) and restore chk-2"},
		},
		{
			name: "partial",
			setup: []func(*testing.T, string){cp(1), func(t *testing.T, dir string) {
				os.MkdirAll(filepath.Join(dir, "chk-2"), 0o755)
				os.WriteFile(filepath.Join(dir, "chk-2", "op-0.state"), []byte("half"), 0o644)
			}},
			code:   exitOK,
			status: map[string]string{"chk-1": "ok", "chk-2": "partial"},
			want:   []string{"chk-2 (partial): checkpoint incomplete: no _metadata", "--restore latest restores chk-1"},
		},
		{
			name: "savepoint corrupt",
			setup: []func(*testing.T, string){cp(1), func(t *testing.T, dir string) {
				damage(t, dir, writeCheckpoint(t, dir, 1, storage.KindSavepoint))
			}},
			code:   exitFailed,
			status: map[string]string{"chk-1": "ok"},
			want:   []string{"--restore latest restores chk-1", "savepoint savepoint-1-", "is corrupt: --restore DIR/savepoint-1-"},
		},
		{
			name:   "no complete checkpoint",
			setup:  []func(*testing.T, string){func(t *testing.T, dir string) { os.MkdirAll(filepath.Join(dir, "chk-1"), 0o755) }},
			code:   exitOK,
			status: map[string]string{"chk-1": "partial"},
			want:   []string{"--restore latest finds no complete checkpoint and starts fresh"},
		},
		{
			name: "empty",
			code: exitOK,
			want: []string{"no checkpoints or savepoints in DIR"},
		},
	}
	row := regexp.MustCompile(`(?m)^\d+\s+\w+\s+(?:\S+ \S+|-)\s+[\d.]+ \w?i?B\s+\d+\s+(\w+)\s+\S+\s+\S+/([\w-]+)$`)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range c.setup {
				f(t, dir)
			}
			out, errOut, code := sluice(t, nil, nil, "checkpoints", "--verify", dir)
			if code != c.code {
				t.Errorf("exit %d, want %d\n%s%s", code, c.code, out, errOut)
			}
			for _, w := range c.want {
				if w = strings.ReplaceAll(w, "DIR", dir); !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			missing := maps.Clone(c.status)
			for _, m := range row.FindAllStringSubmatch(out, -1) {
				if want, ok := c.status[m[2]]; ok && m[1] != want {
					t.Errorf("%s: status %s, want %s\n%s", m[2], m[1], want, out)
				}
				delete(missing, m[2])
			}
			for d := range missing {
				t.Errorf("no row for %s:\n%s", d, out)
			}
		})
	}
}

// TestCheckpointsWithoutVerify: without --verify a state file with changed
// bytes goes unnoticed (only its size is checked), and the exit code is 0.
func TestCheckpointsWithoutVerify(t *testing.T) {
	dir := t.TempDir()
	writeCheckpoint(t, dir, 1, storage.KindCheckpoint)
	damage(t, dir, "chk-1")
	out, errOut, code := sluice(t, nil, nil, "checkpoints", dir)
	if code != exitOK || !regexp.MustCompile(`(?m)^1\s+checkpoint\s.*\scomplete\s`).MatchString(out) || strings.Contains(out, "--restore latest") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestCheckpointsUsage(t *testing.T) {
	for _, args := range [][]string{{"checkpoints", "--verify"}, {"checkpoints", "--verify", "a", "b"}, {"checkpoints", "--verfy", "a"}} {
		if _, errOut, code := sluice(t, nil, nil, args...); code != exitUsage || !strings.Contains(errOut, "--verify") && !strings.Contains(errOut, "-verify") {
			t.Errorf("%q: exit %d\n%s", args, code, errOut)
		}
	}
}
