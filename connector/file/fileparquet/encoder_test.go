package fileparquet_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/file"
	"github.com/sluicehq/sluice/connector/file/fileparquet"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

type row struct {
	ID    int64   `parquet:"id"`
	Name  string  `parquet:"name"`
	Score float64 `parquet:"score"`
}

type writerCtx struct{}

func (writerCtx) Subtask() int         { return 0 }
func (writerCtx) Parallelism() int     { return 1 }
func (writerCtx) Checkpointing() bool  { return true }
func (writerCtx) Logger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// partFiles lists the finished part files under dir.
func partFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			out = append(out, p)
		}
		return nil
	})
	slices.Sort(out)
	return out
}

// TestRollsAtEveryCheckpoint: a Parquet part file is finished at every
// checkpoint, and a committed file reads back with parquet-go.
func TestRollsAtEveryCheckpoint(t *testing.T) {
	dir := t.TempDir()
	snk := file.NewSink(dir, fileparquet.Encoder[row]())
	w, err := snk.NewWriter(writerCtx{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c, _ := snk.NewCommitter(writerCtx{})
	ctx := context.Background()
	var want []row
	for cp := int64(1); cp <= 3; cp++ {
		for i := range 1000 {
			r := row{ID: cp*1000 + int64(i), Name: "n" + string(rune('a'+i%26)), Score: float64(i) / 3}
			want = append(want, r)
			if err := w.Write(ctx, r, math.MinInt64); err != nil {
				t.Fatal(err)
			}
		}
		committables, err := w.(connector.PreCommitter).PreCommit(ctx, cp)
		if err != nil {
			t.Fatal(err)
		}
		if len(committables) != 1 {
			t.Fatalf("checkpoint %d: %d committables, want the rolled Parquet file", cp, len(committables))
		}
		st, err := w.(connector.StatefulWriter).SnapshotState(cp)
		if err != nil || len(st) != 1 {
			t.Fatal(st, err)
		}
		if len(partFiles(t, dir)) != int(cp-1) {
			t.Fatal("a file is visible before its checkpoint completed")
		}
		if err := c.Commit(ctx, 1, committables); err != nil {
			t.Fatal(err)
		}
	}
	files := partFiles(t, dir)
	if len(files) != 3 || filepath.Ext(files[0]) != ".parquet" {
		t.Fatalf("files %v", files)
	}
	var got []row
	for _, f := range files {
		rows, err := parquet.ReadFile[row](f)
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		got = append(got, rows...)
	}
	slices.SortFunc(got, func(a, b row) int { return int(a.ID - b.ID) })
	if !slices.Equal(got, want) {
		t.Fatalf("read back %d rows, want %d", len(got), len(want))
	}
}

func TestParquetJob(t *testing.T) {
	dir, cps := t.TempDir(), t.TempDir()
	var want []row
	for i := range 20000 {
		want = append(want, row{ID: int64(i), Name: "x", Score: 1.5})
	}
	env := stream.New("parquet", stream.WithParallelism(2), stream.WithCheckpointing(10*time.Millisecond, "file://"+cps),
		stream.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	src := stream.Map(stream.FromSlice(env, want), func(r row) row {
		if r.ID%500 == 0 {
			time.Sleep(time.Millisecond)
		}
		return r
	})
	src.SinkTo("parquet", file.NewSink(dir, fileparquet.Encoder[row](), file.Buckets(file.ByField(func(r row) string { return r.Name }))))
	sluicetest.Run(t, env)
	var got []row
	files := partFiles(t, dir)
	for _, f := range files {
		rows, err := parquet.ReadFile[row](f)
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		got = append(got, rows...)
	}
	slices.SortFunc(got, func(a, b row) int { return int(a.ID - b.ID) })
	if !slices.Equal(got, want) {
		t.Fatalf("read back %d rows from %d files, want %d", len(got), len(files), len(want))
	}
	t.Logf("%d Parquet files", len(files))
}

func TestNotAStruct(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("want a panic for a non-struct type")
		}
	}()
	fileparquet.Encoder[int]()
}

func TestNoResume(t *testing.T) {
	if _, err := fileparquet.Encoder[row]().NewPartWriter(io.Discard, true); err == nil {
		t.Fatal("a Parquet file cannot be resumed")
	}
}
