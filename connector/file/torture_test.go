package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/internal/crashtest"
	"github.com/sluicehq/sluice/stream"
)

func TestMain(m *testing.M) { crashtest.Main(m) }

func init() {
	crashtest.Register("file-keyed-count", fileKeyedCountJob)
}

// Parameters of the torture job.
const (
	tortureKeys    = 17
	torturePerFile = 100 // records per input file
	tortureRate    = 10  // input files per second
)

// tortureInput is input file i: torturePerFile JSON lines {"key": ...},
// the same in every run and in the parent.
func tortureInput(i int) (data []byte, keys []string) {
	rng := rand.New(rand.NewPCG(uint64(i), 0x5eed))
	for range torturePerFile {
		k := "k" + strconv.Itoa(rng.IntN(tortureKeys))
		keys = append(keys, k)
		data = fmt.Appendf(data, "{\"key\":%q}\n", k)
	}
	return data, keys
}

// produce writes the input files that are missing, one every interval (all
// at once when interval is 0), each under a hidden name first.
func produce(ctx context.Context, dir string, files int, interval time.Duration) error {
	for i := range files {
		name := filepath.Join(dir, fmt.Sprintf("in-%05d.jsonl", i))
		if _, err := os.Stat(name); err == nil {
			continue // written by an earlier run
		}
		data, _ := tortureInput(i)
		tmp := filepath.Join(dir, fmt.Sprintf(".in-%05d.jsonl.tmp", i))
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, name); err != nil {
			return err
		}
		if interval > 0 {
			select {
			case <-time.After(interval):
			case <-ctx.Done():
				return nil
			}
		}
	}
	return nil
}

// countOutput counts the lines of the visible files under dir.
func countOutput(dir string) int {
	files, err := listFiles(dir, true)
	if err != nil {
		return 0
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f.path)
		if err == nil {
			n += bytes.Count(b, []byte{'\n'})
		}
	}
	return n
}

// fileKeyedCountJob: a producer writes JSON-lines input files into in/
// over time (at once in a run that should finish); a continuous file
// source reads them -> key by key -> running count -> {"key","count"}
// lines into the exactly-once file sink in out/, bucketed and rolled by
// size, age and inactivity so that part files span checkpoints. The source
// never ends: the job stops (with a final checkpoint) once the output
// holds a line per input record, all committed.
func fileKeyedCountJob(ctx context.Context, e *crashtest.ChildEnv) error {
	files := int(e.Int("files", 0))
	in, out := filepath.Join(e.Dir, "in"), filepath.Join(e.Dir, "out")
	if err := os.MkdirAll(in, 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	interval := time.Second / tortureRate
	if e.Finish {
		interval = 0
	}
	prodErr := make(chan error, 1)
	go func() { prodErr <- produce(ctx, in, files, interval) }()

	env := stream.New("crashtest-file-keyed-count", append(e.Options(100*time.Millisecond), stream.WithParallelism(2))...)
	src := NewSource(in, JSONLines[keyRec](), Continuous(20*time.Millisecond))
	recs := stream.FromSource(env, "in", src, eventtime.NoWatermarks[keyRec]()).UID("in")
	counts := stream.Reduce(stream.KeyBy(stream.Map(recs, func(r keyRec) countRec { return countRec{Key: r.Key, Count: 1} }).UID("one"),
		func(c countRec) string { return c.Key }), func(a, b countRec) countRec { return countRec{a.Key, a.Count + b.Count} }).UID("count")
	snk := NewSink(out, JSONLinesEncoder[countRec](),
		Rolling(RollingPolicy{MaxSize: 4 << 10, MaxAge: 400 * time.Millisecond, Inactivity: 200 * time.Millisecond}),
		Buckets(ByField(func(c countRec) string { return "b" + c.Key[len(c.Key)-1:] })))
	counts.SinkTo("out", snk).UID("out")

	job, err := env.Start(ctx)
	if err != nil {
		return err
	}
	want := files * torturePerFile
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-prodErr:
			if err != nil {
				return fmt.Errorf("produce input: %w", err)
			}
		case <-job.Done():
			return fmt.Errorf("the job ended by itself: %w", job.Wait())
		case <-tick.C:
			if countOutput(out) >= want {
				// End as a user would: a final checkpoint that commits
				// what is left (the harness may kill the process when it
				// completes, before the commit).
				e.Logger.Info("output complete: stopping", "lines", want)
				if _, err := job.Stop(ctx); err != nil {
					return fmt.Errorf("stop: %w", err)
				}
				return job.Wait()
			}
		}
	}
}

// TestTortureFileKeyedCount SIGKILLs the file-to-file keyed count again
// and again (also between checkpoint completion and commit) and checks
// every committed output file record by record: for each key the counts
// 1..n exactly once, no partial line, no visible file the job did not
// finish.
func TestTortureFileKeyedCount(t *testing.T) {
	cfg := crashtest.Resolve(t, crashtest.Config{Job: "file-keyed-count", Kills: 6})
	files := int(cfg.JobDuration().Seconds() * tortureRate)
	cfg.Params = map[string]string{"files": strconv.Itoa(files)}
	res := crashtest.Run(t, cfg)

	if res.Restores == 0 {
		t.Errorf("no run restored a checkpoint")
	}
	if last := res.Runs[len(res.Runs)-1]; last.Killed || last.Restored == 0 {
		t.Errorf("the last run (%v) should have restored a checkpoint and finished", last)
	}
	want := map[string]int{}
	var expected []string
	for i := range files {
		_, keys := tortureInput(i)
		for _, k := range keys {
			want[k]++
			expected = append(expected, fmt.Sprintf("%s=%d", k, want[k]))
		}
	}
	out := filepath.Join(res.Dir, "out")
	var got []string
	where := map[string][]string{}
	for _, f := range visible(t, out) {
		if !strings.HasPrefix(filepath.Base(f), "part-") || filepath.Ext(f) != ".jsonl" {
			t.Errorf("unexpected visible file %s", f)
			continue
		}
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 || b[len(b)-1] != '\n' {
			t.Errorf("%s is empty or ends in the middle of a line", f)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for line := 1; sc.Scan(); line++ {
			var r countRec
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s:%d: %v (%q)", f, line, err, sc.Text())
			}
			l := fmt.Sprintf("%s=%d", r.Key, r.Count)
			got = append(got, l)
			where[l] = append(where[l], f)
		}
	}
	if d := crashtest.Compare(got, expected); !d.OK() {
		var b strings.Builder
		for i, dup := range d.Duplicated {
			if i == 10 {
				break
			}
			fmt.Fprintf(&b, "\n  %q is in %s", dup.Line, strings.Join(where[dup.Line], ", "))
		}
		t.Errorf("committed output of %d input records is not exactly once: %v%s", len(expected), d, b.String())
	}
	hidden := 0
	for _, f := range allFiles(t, out) {
		if strings.HasPrefix(filepath.Base(f), ".") {
			hidden++
		}
	}
	t.Logf("%s; %d lines in %d visible files, %d hidden files left", res.Summary(), len(got), len(visible(t, out)), hidden)
}
