package crashtest_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/internal/crashtest"
)

type writerCtx struct{ subtask int }

func (w writerCtx) Subtask() int         { return w.subtask }
func (w writerCtx) Parallelism() int     { return 2 }
func (w writerCtx) Checkpointing() bool  { return true }
func (w writerCtx) Logger() *slog.Logger { return slog.Default() }

func openTxFile(t *testing.T, s *crashtest.TxFileSink, subtask int) (connector.Writer[string], connector.PreCommitter, connector.Committer) {
	t.Helper()
	w, err := s.NewWriter(writerCtx{subtask}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.NewCommitter(writerCtx{subtask})
	if err != nil {
		t.Fatal(err)
	}
	return w, w.(connector.PreCommitter), c
}

func write(t *testing.T, w connector.Writer[string], lines ...string) {
	t.Helper()
	for _, l := range lines {
		if err := w.Write(context.Background(), l, 0); err != nil {
			t.Fatal(err)
		}
	}
}

func preCommit(t *testing.T, p connector.PreCommitter, id int64) [][]byte {
	t.Helper()
	c, err := p.PreCommit(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTxFileSinkTwoPhase(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "out")
	s := crashtest.NewTxFileSink(dir)
	var _ connector.TwoPhaseSink[string] = s
	w, p, c := openTxFile(t, s, 0)

	if got := preCommit(t, p, 1); got != nil {
		t.Fatalf("pre-commit of nothing returned %q", got)
	}
	write(t, w, "a", "b")
	c2 := preCommit(t, p, 2)
	write(t, w, "c")
	c3 := preCommit(t, p, 3)
	write(t, w, "lost") // never pre-committed
	if len(c2) != 1 || len(c3) != 1 {
		t.Fatalf("committables %q %q", c2, c3)
	}
	if got, _ := crashtest.ReadCommitted(dir); len(got) != 0 {
		t.Fatalf("visible before commit: %q", got)
	}
	if err := c.Commit(ctx, 1, c2); err != nil {
		t.Fatal(err)
	}
	// A restore commits again what was committed already.
	if err := c.Commit(ctx, 1, slices.Concat(c2, c3)); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(ctx, 1, c3); err != nil {
		t.Fatal(err)
	}
	got, err := crashtest.ReadCommitted(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("committed %q, want %q", got, want)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if pend, _ := crashtest.PendingFiles(dir); len(pend) != 0 {
		t.Fatalf("pending after commit: %q", pend)
	}
}

func TestTxFileSinkUncommittedStaysPending(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	s := crashtest.NewTxFileSink(dir)
	w, p, _ := openTxFile(t, s, 1)
	write(t, w, "x")
	cs := preCommit(t, p, 7)
	// A second writer (a later run) pre-commits the same checkpoint id.
	w2, p2, c2 := openTxFile(t, s, 1)
	write(t, w2, "y")
	cs2 := preCommit(t, p2, 7)
	if string(cs[0]) == string(cs2[0]) {
		t.Fatalf("two pre-commits of checkpoint 7 share the name %s", cs[0])
	}
	if err := c2.Commit(context.Background(), 1, cs2); err != nil {
		t.Fatal(err)
	}
	got, _ := crashtest.ReadCommitted(dir)
	if !slices.Equal(got, []string{"y"}) {
		t.Fatalf("committed %q", got)
	}
	pend, _ := crashtest.PendingFiles(dir)
	if !slices.Equal(pend, []string{string(cs[0])}) {
		t.Fatalf("pending %q, want %q", pend, cs[0])
	}
}

func TestTxFileSinkLossAndMisuse(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "out")
	s := crashtest.NewTxFileSink(dir)
	w, p, c := openTxFile(t, s, 0)
	write(t, w, "x")
	cs := preCommit(t, p, 1)
	if err := os.Remove(filepath.Join(dir, crashtest.PendingDir, string(cs[0]))); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(ctx, 1, cs); !errors.Is(err, connector.ErrDataLoss) {
		t.Fatalf("commit of a vanished file: %v, want ErrDataLoss", err)
	}
	for _, bad := range []string{"", "..", "../x", "a/b"} {
		err := c.Commit(ctx, 1, [][]byte{[]byte(bad)})
		if err == nil || errors.Is(err, connector.ErrDataLoss) {
			t.Errorf("commit of %q: %v, want a malformed-committable error", bad, err)
		}
	}
	if err := w.Write(ctx, "two\nlines", 0); err == nil {
		t.Error("a line with a newline was accepted")
	}
	// A torn committed file is reported.
	if err := os.WriteFile(filepath.Join(dir, crashtest.CommittedDir, "torn"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := crashtest.ReadCommitted(dir); err == nil {
		t.Error("torn committed file not reported")
	}
}
