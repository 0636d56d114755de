package file

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// quietLogger keeps warnings and errors.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// fakeEnumContext records what an enumerator does.
type fakeEnumContext struct {
	par      int
	assigned map[int][]*Split
	noMore   map[int]bool
	every    []func() error
}

func newFakeEnumContext(par int) *fakeEnumContext {
	return &fakeEnumContext{par: par, assigned: map[int][]*Split{}, noMore: map[int]bool{}}
}

func (c *fakeEnumContext) Parallelism() int { return c.par }
func (c *fakeEnumContext) Assign(subtask int, splits ...connector.Split) {
	for _, s := range splits {
		c.assigned[subtask] = append(c.assigned[subtask], s.(*Split))
	}
}
func (c *fakeEnumContext) NoMoreSplits(subtask int)               { c.noMore[subtask] = true }
func (c *fakeEnumContext) Every(_ time.Duration, fn func() error) { c.every = append(c.every, fn) }
func (c *fakeEnumContext) Logger() *slog.Logger                   { return discardLogger() }
func (c *fakeEnumContext) tick(t *testing.T) {
	t.Helper()
	for _, fn := range c.every {
		if err := fn(); err != nil {
			t.Fatal(err)
		}
	}
}

func (c *fakeEnumContext) allAssigned() []string {
	var out []string
	for _, l := range c.assigned {
		for _, s := range l {
			out = append(out, s.Path)
		}
	}
	slices.Sort(out)
	return out
}

// fakeWriterContext is a sink subtask's context.
type fakeWriterContext struct{ sub, par int }

func (c fakeWriterContext) Subtask() int         { return c.sub }
func (c fakeWriterContext) Parallelism() int     { return c.par }
func (c fakeWriterContext) Checkpointing() bool  { return true }
func (c fakeWriterContext) Logger() *slog.Logger { return discardLogger() }

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// writeFile writes data to dir/name atomically (under a hidden name
// first), with the given modification time unless zero.
func writeFile(t testing.TB, dir, name string, data []byte, mtime time.Time) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(p), ".tmp-"+filepath.Base(name))
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(tmp, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// visible lists the files under dir whose names do not start with "." or
// "_", relative to dir.
func visible(t testing.TB, dir string) []string {
	t.Helper()
	files, err := listFiles(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		r, _ := filepath.Rel(dir, f.path)
		out = append(out, filepath.ToSlash(r))
	}
	return out
}

// allFiles lists every file under dir, hidden ones too.
func allFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			r, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(r))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
