package file

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/sluicetest"
	"github.com/sluicehq/sluice/stream"
)

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// numbered returns n lines "<prefix>-<i>" and their text.
func numbered(prefix string, n int) ([]string, []byte) {
	var lines []string
	var b []byte
	for i := range n {
		l := fmt.Sprintf("%s-%d", prefix, i)
		lines = append(lines, l)
		b = append(b, l...)
		b = append(b, '\n')
	}
	return lines, b
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestBoundedSourceJob(t *testing.T) {
	dir := t.TempDir()
	a, ab := numbered("a", 100)
	b, bb := numbered("b", 300)
	c, cb := numbered("c", 10)
	writeFile(t, dir, "a.txt", ab, time.Time{})
	writeFile(t, dir, "b.txt.gz", gz(t, bb), time.Time{})
	writeFile(t, dir, "empty.txt", nil, time.Time{})
	writeFile(t, dir, "empty.gz", nil, time.Time{})
	writeFile(t, dir, ".a.txt.inprogress", []byte("hidden\n"), time.Time{})
	writeFile(t, dir, "_tmp", []byte("hidden\n"), time.Time{})
	writeFile(t, dir, "sub/c.txt", cb, time.Time{})
	writeFile(t, dir, "_sub/x.txt", []byte("hidden\n"), time.Time{})

	for _, recursive := range []bool{false, true} {
		t.Run(fmt.Sprint("recursive=", recursive), func(t *testing.T) {
			var opts []SourceOption
			want := append(slices.Clone(a), b...)
			if recursive {
				opts = append(opts, Recursive())
				want = append(want, c...)
			}
			src := NewSource(dir, Lines(), opts...)
			env := stream.New("files", stream.WithParallelism(2), stream.WithLogger(quietLogger()))
			out := sluicetest.NewSink[string]()
			stream.FromSource(env, "files", src, eventtime.NoWatermarks[string]()).SinkTo("out", out)
			sluicetest.Run(t, env)
			if got := sorted(out.Values()); !slices.Equal(got, sorted(want)) {
				t.Fatalf("got %d lines, want %d", len(got), len(want))
			}
		})
	}
}

func TestContinuousSourceJob(t *testing.T) {
	dir := t.TempDir()
	first, fb := numbered("first", 50)
	writeFile(t, dir, "0.txt", fb, time.Time{})
	env := stream.New("monitor", stream.WithParallelism(2), stream.WithLogger(quietLogger()))
	out := sluicetest.NewSink[string]()
	src := NewSource(dir, Lines(), Continuous(10*time.Millisecond))
	if src.Bounded() {
		t.Fatal("a continuous source is unbounded")
	}
	stream.FromSource(env, "files", src, eventtime.NoWatermarks[string]()).SinkTo("out", out)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := env.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := first
	waitFor(t, func() bool { return out.Len() == len(want) }, "the first file")
	for i := 1; i <= 5; i++ {
		lines, b := numbered(fmt.Sprint("f", i), 20*i)
		writeFile(t, dir, fmt.Sprintf("%d.txt", i), b, time.Time{})
		writeFile(t, dir, fmt.Sprintf(".%d.txt.tmp", i), []byte("hidden\n"), time.Time{})
		writeFile(t, dir, fmt.Sprintf("_%d.txt", i), []byte("hidden\n"), time.Time{})
		want = append(want, lines...)
		waitFor(t, func() bool { return out.Len() >= len(want) }, fmt.Sprintf("file %d", i))
	}
	time.Sleep(50 * time.Millisecond) // a few more discovery rounds
	cancel()
	if err := job.Wait(); err == nil {
		t.Fatal("a continuous source never ends by itself")
	}
	if got := sorted(out.Values()); !slices.Equal(got, sorted(want)) {
		t.Fatalf("got %d lines, want %d: %v", len(got), len(want), got)
	}
}

func TestBadRecordFailsJobWithLocation(t *testing.T) {
	dir := t.TempDir()
	type rec struct {
		Key string `json:"key"`
	}
	tests := []struct {
		name, file, data string
		run              func(env *stream.Env, path string)
		where            string
	}{
		{name: "json", file: "in.jsonl", data: "{\"key\":\"a\"}\n{\"key\":\"b\"}\n{\"key\":\n{\"key\":\"d\"}\n", where: "in.jsonl:3",
			run: func(env *stream.Env, path string) {
				stream.FromSource(env, "json", NewSource(path, JSONLines[rec]()), eventtime.NoWatermarks[rec]()).SinkTo("out", sluicetest.NewSink[rec]())
			}},
		{name: "csv", file: "in.csv.gz", data: "k,v\n1,\"two\nlines\"\n3,x\"y\n", where: "in.csv.gz:4",
			run: func(env *stream.Env, path string) {
				src := NewSource(path, CSV(CSVOptions{SkipHeader: true}))
				stream.FromSource(env, "csv", src, eventtime.NoWatermarks[[]string]()).SinkTo("out", sluicetest.NewSink[[]string]())
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.data)
			if strings.HasSuffix(tt.file, ".gz") {
				data = gz(t, data)
			}
			path := writeFile(t, dir, tt.file, data, time.Time{})
			env := stream.New("bad", stream.WithLogger(quietLogger()))
			tt.run(env, path)
			err := sluicetest.RunErr(env, time.Minute)
			if !errors.Is(err, connector.ErrBadRecord) {
				t.Fatalf("want a bad record error, got %v", err)
			}
			var bre *connector.BadRecordError
			if !errors.As(err, &bre) || bre.Record.Location != filepath.Join(dir, tt.where) || !strings.Contains(err.Error(), tt.where) {
				t.Fatalf("error %q does not name %s", err, tt.where)
			}
		})
	}
}

func TestBadRecordsToDeadLetters(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.jsonl", []byte("{\"n\":1}\nnot json\n{\"n\":3}\n"), time.Time{})
	writeFile(t, dir, "b.jsonl", []byte("{\"n\":4}\n{\"n\":\"five\"}\n"), time.Time{})
	env := stream.New("dlq", stream.WithParallelism(2), stream.WithLogger(quietLogger()))
	type rec struct{ N int }
	src := stream.FromSource(env, "json", NewSource(dir, JSONLines[rec](), SourceName("events")), eventtime.NoWatermarks[rec]())
	good := sluicetest.NewSink[rec]()
	bad := sluicetest.NewSink[connector.BadRecord]()
	src.SinkTo("good", good)
	stream.DeadLetters(src).SinkTo("bad", bad)
	sluicetest.Run(t, env)
	var ns []int
	for _, r := range good.Values() {
		ns = append(ns, r.N)
	}
	slices.Sort(ns)
	if !slices.Equal(ns, []int{1, 3, 4}) {
		t.Fatalf("good records %v", ns)
	}
	got := bad.Values()
	slices.SortFunc(got, func(a, b connector.BadRecord) int { return strings.Compare(a.Location, b.Location) })
	if len(got) != 2 ||
		got[0].Location != filepath.Join(dir, "a.jsonl:2") || string(got[0].Raw) != "not json" || got[0].Source != "events" || got[0].Error == "" ||
		got[1].Location != filepath.Join(dir, "b.jsonl:2") || string(got[1].Raw) != `{"n":"five"}` {
		t.Fatalf("dead letters %+v", got)
	}
}

// slowMap slows records down so that a checkpoint lands in the middle of
// the files, and counts them.
func slowMap[T any](s stream.Stream[T], seen *atomic.Int64) stream.Stream[T] {
	return stream.Map(s, func(v T) T {
		if seen.Add(1)%50 == 0 {
			time.Sleep(time.Millisecond)
		}
		return v
	})
}

// TestRestoreMidFile takes a savepoint while files are half read, stops
// the job, and finishes from the savepoint: every line exactly once, for
// plain and gzip files.
func TestRestoreMidFile(t *testing.T) {
	dir, cps := t.TempDir(), t.TempDir()
	var want []string
	for i, name := range []string{"a.txt", "b.txt.gz", "c.txt", "d.gz"} {
		lines, b := numbered(name, 4000+i*500)
		if strings.HasSuffix(name, ".gz") {
			b = gz(t, b)
		}
		writeFile(t, dir, name, b, time.Time{})
		want = append(want, lines...)
	}
	sink := sluicetest.NewTxSink[string]()
	build := func(env *stream.Env, seen *atomic.Int64) {
		src := stream.FromSource(env, "files", NewSource(dir, Lines()), eventtime.NoWatermarks[string]()).UID("files")
		slowMap(src, seen).SinkTo("out", sink).UID("out")
	}
	var seen atomic.Int64
	env := stream.New("restore", stream.WithParallelism(2), stream.WithLogger(quietLogger()),
		stream.WithCheckpointConfig(runtime.CheckpointConfig{Storage: "file://" + cps}))
	build(env, &seen)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := env.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return seen.Load() > int64(len(want)/4) }, "a quarter of the input")
	sp, err := job.Savepoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	atSavepoint := seen.Load()
	cancel()
	job.Wait()
	if atSavepoint >= int64(len(want)) {
		t.Fatalf("the savepoint came after the whole input (%d records)", atSavepoint)
	}

	var seen2 atomic.Int64
	env2 := stream.New("restore", stream.WithParallelism(2), stream.WithLogger(quietLogger()),
		stream.WithCheckpointing(20*time.Millisecond, "file://"+cps), stream.WithRestore(sp))
	build(env2, &seen2)
	sluicetest.Run(t, env2)
	got := sorted(sink.Values())
	if !slices.Equal(got, sorted(want)) {
		t.Fatalf("got %d lines, want %d (first run saw %d before the savepoint, second %d)", len(got), len(want), atSavepoint, seen2.Load())
	}
	if seen2.Load() >= int64(len(want)) {
		t.Fatalf("the restored job read everything again (%d records)", seen2.Load())
	}
}

// TestRestoreLatestAfterStop checkpoints a continuous job into file://
// storage, stops it, and restarts it from the latest checkpoint while
// more files arrive.
func TestRestoreLatestAfterStop(t *testing.T) {
	dir, cps := t.TempDir(), t.TempDir()
	var want []string
	addFile := func(i int) {
		lines, b := numbered(fmt.Sprint("f", i), 3000)
		name := fmt.Sprintf("%02d.txt", i)
		if i%2 == 1 {
			b, name = gz(t, b), name+".gz"
		}
		writeFile(t, dir, name, b, time.Time{})
		want = append(want, lines...)
	}
	for i := range 3 {
		addFile(i)
	}
	sink := sluicetest.NewTxSink[string]()
	run := func(restore string, seen *atomic.Int64, until func() bool) {
		events := make(chan runtime.JobEvent, 1024)
		env := stream.New("latest", stream.WithParallelism(2), stream.WithLogger(quietLogger()), stream.WithEvents(events),
			stream.WithCheckpointing(15*time.Millisecond, "file://"+cps), stream.WithRestore(restore))
		src := stream.FromSource(env, "files", NewSource(dir, Lines(), Continuous(10*time.Millisecond)), eventtime.NoWatermarks[string]()).UID("files")
		slowMap(src, seen).SinkTo("out", sink).UID("out")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		job, err := env.Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var completed atomic.Int64
		go func() {
			for ev := range events {
				if ev.Kind == "checkpoint-completed" {
					completed.Add(1)
				}
			}
		}()
		waitFor(t, func() bool { return completed.Load() >= 3 && until() }, "progress")
		cancel()
		job.Wait()
		close(events)
	}
	var seen1 atomic.Int64
	run("", &seen1, func() bool { return seen1.Load() > int64(len(want)/3) })
	for i := 3; i < 5; i++ {
		addFile(i)
	}
	var seen2 atomic.Int64
	run("latest", &seen2, func() bool { return len(sink.Values()) == len(want) })
	if got := sorted(sink.Values()); !slices.Equal(got, sorted(want)) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
}

// TestSourceExactlyOnceUnderFailures injects failures after random records
// of a job reading plain and gzip files into an exactly-once sink, with
// checkpoints in file:// storage and in-process restarts.
func TestSourceExactlyOnceUnderFailures(t *testing.T) {
	dir, cps := t.TempDir(), t.TempDir()
	var want []string
	for i := range 6 {
		lines, b := numbered(fmt.Sprint("f", i), 2500)
		name := fmt.Sprintf("%d.txt", i)
		if i%3 == 0 {
			b, name = gz(t, b), name+".gz"
		}
		writeFile(t, dir, name, b, time.Time{})
		want = append(want, lines...)
	}
	f := newFailer(rand.New(rand.NewPCG(1, 2)), 5, int64(len(want)))
	defer f.close()
	sink := sluicetest.NewTxSink[string]()
	env := stream.New("failures", stream.WithParallelism(2), stream.WithLogger(quietLogger()), stream.WithEvents(f.events),
		stream.WithCheckpointing(10*time.Millisecond, "file://"+cps), stream.WithRestart(restart.FixedDelay(-1, time.Millisecond)))
	src := stream.FromSource(env, "files", NewSource(dir, Lines()), eventtime.NoWatermarks[string]()).UID("files")
	stream.TryMap(src, func(v string) (string, error) { return v, f.check() }).SinkTo("out", sink).UID("out")
	sluicetest.Run(t, env)
	if got := sorted(sink.Values()); !slices.Equal(got, sorted(want)) {
		t.Fatalf("after %d failures: got %d lines, want %d", f.fails.Load(), len(got), len(want))
	}
	t.Logf("%d injected failures, %d restores, %d records read in all", f.fails.Load(), f.restores.Load(), f.seen.Load())
}

func TestSourceDeclare(t *testing.T) {
	s := NewSource("/x", Lines())
	if d := s.Declare(true); d.Guarantee != connector.ExactlyOnce || d.Reason == "" {
		t.Fatalf("with checkpoints: %+v", d)
	}
	if d := s.Declare(false); d.Guarantee != connector.AtLeastOnce || !strings.Contains(d.Reason, "again") {
		t.Fatalf("without checkpoints: %+v", d)
	}
}
