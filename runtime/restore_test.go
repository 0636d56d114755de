package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/checkpoint/storage"
	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/runtime/restart"
)

// logBuffer collects log output; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func bufferLogger() (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(lb, nil)), lb
}

// commitRestorable writes checkpoint id into dir: metadata the runtime
// reads, with keyed state of an operator "gone" that the test plans do not
// have (restored with AllowNonRestoredState), in a state file that
// verification reads.
func commitRestorable(t *testing.T, dir string, id int64) {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := st.Begin(ctx, id, storage.KindCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	w, err := p.Create(ctx, "gone-0.keyed")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "keyed state of checkpoint %d, %s", id, strings.Repeat("x", 1000))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(jobMetadata{Version: jobMetadataVersion, Job: "metrics", Operators: map[string]*opMetadata{
		"gone": {Name: "gone", Parallelism: 1, MaxParallelism: 128,
			Subtasks: []opStateMeta{{Subtask: 0, KeyedFile: "gone-0.keyed", KeyGroupEnd: 128}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Commit(ctx, payload); err != nil {
		t.Fatal(err)
	}
}

// flipStateByte changes one byte of a state file of checkpoint dir/chk-id,
// keeping its size: the checkpoint still lists as complete.
func flipStateByte(t *testing.T, dir string, id int64) {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("chk-%d", id), "gone-0.keyed")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x20
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// refusingSink refuses any restore the way the file sink refuses a
// checkpoint older than output it committed.
type refusingSink struct{ countSink }

func (s *refusingSink) NewWriter(connector.WriterContext, [][]byte) (connector.Writer[string], error) {
	return nil, fmt.Errorf("file sink: in-progress part file /out/.part-0-7.inprogress of the restored checkpoint was committed as /out/part-0-7 by a later checkpoint: %w", connector.ErrDataLoss)
}

// runRestore runs metricsPlan (or with a refusing sink) restoring from,
// and returns the job's error, its events and its log.
func runRestore(t *testing.T, dir, from string, refuse bool) ([]JobEvent, string, error) {
	t.Helper()
	var snk connector.Sink[string] = &countSink{}
	if refuse {
		snk = &refusingSink{}
	}
	plan := metricsPlan(1000, 1, func(int) error { return nil }, nil)
	plan.Vertices[1].Ops[1].New = func(any, map[string]any) (Operator, error) { return NewSinkOperator[string](snk), nil }
	logger, logs := bufferLogger()
	events := make(chan JobEvent, 256)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	j, err := Start(ctx, plan, Config{BatchSize: 64, Logger: logger, Events: events, Restore: from, AllowNonRestoredState: true,
		Checkpoint: CheckpointConfig{Storage: dir}, Restart: restart.FixedDelay(3, time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	err = j.Wait()
	close(events)
	var evs []JobEvent
	for ev := range events {
		evs = append(evs, ev)
	}
	return evs, logs.String(), err
}

func restoredIDs(evs []JobEvent) (ids []int64, restarts int) {
	for _, ev := range evs {
		switch ev.Kind {
		case "restored":
			ids = append(ids, ev.CheckpointID)
		case "restarting":
			restarts++
		}
	}
	return ids, restarts
}

// TestRestoreSkipsCorruptLatest: the newest checkpoint lists as complete
// but a state file has other bytes; the restore of the latest checkpoint
// names it in the log and restores the previous one.
func TestRestoreSkipsCorruptLatest(t *testing.T) {
	dir := t.TempDir()
	for id := int64(1); id <= 3; id++ {
		commitRestorable(t, dir, id)
	}
	flipStateByte(t, dir, 3)
	evs, logs, err := runRestore(t, dir, "latest", false)
	if err != nil {
		t.Fatalf("job: %v\n%s", err, logs)
	}
	if ids, _ := restoredIDs(evs); len(ids) != 1 || ids[0] != 2 {
		t.Fatalf("restored %v, want checkpoint 2", ids)
	}
	for _, w := range []string{"level=WARN msg=\"checkpoint is corrupt; trying the previous one\"", filepath.Join(dir, "chk-3"),
		"gone-0.keyed: checkpoint corrupt: has CRC-32C", "msg=restoring job=metrics checkpoint=2"} {
		if !strings.Contains(logs, w) {
			t.Errorf("log lacks %q:\n%s", w, logs)
		}
	}
}

// TestRestoreCorruptFails: a corrupt checkpoint named by path, and a
// location whose checkpoints are all corrupt, end the job at once with a
// permanent error that names them and the choices.
func TestRestoreCorruptFails(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
		from   func(dir string) string
		want   []string
	}{
		{
			name:   "path",
			damage: func(t *testing.T, dir string) { flipStateByte(t, dir, 2) },
			from:   func(dir string) string { return filepath.Join(dir, "chk-2") },
			want:   []string{"restore " + "DIR/chk-2: verify checkpoint DIR/chk-2: state file DIR/chk-2/gone-0.keyed: checkpoint corrupt: has CRC-32C", "--restore PATH", "--fresh"},
		},
		{
			name: "all corrupt",
			damage: func(t *testing.T, dir string) {
				flipStateByte(t, dir, 2)
				if err := os.WriteFile(filepath.Join(dir, "chk-1", storage.MetadataName), []byte("garbage"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(filepath.Join(dir, "chk-3"), 0o755); err != nil { // partial
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "chk-3", "gone-0.keyed"), []byte("half"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			from: func(string) string { return "latest" },
			want: []string{"restore the latest checkpoint in DIR: checkpoint corrupt: chk-2 (state file DIR/chk-2/gone-0.keyed: checkpoint corrupt: has CRC-32C",
				"; chk-1 (checkpoint corrupt: metadata too short", "there is no older complete checkpoint", "the output that these checkpoints committed", "starting over would deliver again", "--restore PATH", "--fresh"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			commitRestorable(t, dir, 1)
			commitRestorable(t, dir, 2)
			c.damage(t, dir)
			evs, logs, err := runRestore(t, dir, c.from(dir), false)
			if err == nil {
				t.Fatalf("the job ran:\n%s", logs)
			}
			if !connector.IsPermanent(err) || !errors.Is(err, storage.ErrCorrupt) {
				t.Errorf("error %v: permanent %t, want a permanent error wrapping ErrCorrupt", err, connector.IsPermanent(err))
			}
			for _, w := range c.want {
				if w = strings.ReplaceAll(w, "DIR", dir); !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if ids, restarts := restoredIDs(evs); len(ids) != 0 || restarts != 0 {
				t.Errorf("restored %v, %d restarts; want neither", ids, restarts)
			}
			if strings.Contains(logs, "starting fresh") {
				t.Errorf("the job started fresh:\n%s", logs)
			}
		})
	}
}

// TestRestoreRefusedBySink: after skipping a corrupt checkpoint the job
// restores the previous one, an exactly-once sink refuses it, the job
// ends at once, and explain (which the job's restart loop applies to an
// attempt's error) names the corrupt checkpoint, the sink's output in the
// way and the choices.
func TestRestoreRefusedBySink(t *testing.T) {
	dir := t.TempDir()
	for id := int64(1); id <= 3; id++ {
		commitRestorable(t, dir, id)
	}
	flipStateByte(t, dir, 3)
	evs, logs, jobErr := runRestore(t, dir, "latest", true)
	if jobErr == nil || !errors.Is(jobErr, connector.ErrDataLoss) {
		t.Fatalf("job error %v, want the sink's ErrDataLoss", jobErr)
	}
	if ids, restarts := restoredIDs(evs); len(ids) != 1 || ids[0] != 2 || restarts != 0 {
		t.Fatalf("restored %v with %d restarts, want checkpoint 2 once\n%s", ids, restarts, logs)
	}

	// The restored job as an attempt of that job loads it.
	st, err := storage.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	plan := metricsPlan(1000, 1, func(int) error { return nil }, nil)
	cfg := Config{AllowNonRestoredState: true}
	a := &attempt{j: &Job{plan: plan, store: st}, cfg: &cfg, ctx: t.Context(), logger: quiet()}
	r, err := a.loadRestore("latest")
	if err != nil {
		t.Fatal(err)
	}
	if r.id != 2 || len(r.skippedCorrupt) != 1 || r.skippedCorrupt[0].Dir != "chk-3" {
		t.Fatalf("restored %d, skipped %+v", r.id, r.skippedCorrupt)
	}
	got := r.explain(jobErr)
	for _, w := range []string{
		"the job restored checkpoint 2 (" + filepath.Join(dir, "chk-2") + ") because the newer checkpoint chk-3 (state file " + filepath.Join(dir, "chk-3", "gone-0.keyed") + ": checkpoint corrupt: has CRC-32C",
		"a sink cannot go back to checkpoint 2",
		"was committed as /out/part-0-7 by a later checkpoint",
		"output committed after checkpoint 2 stands in the way",
		"restore a savepoint or another checkpoint (--restore PATH",
		"remove that output, then restore again (--restore latest)",
		"start fresh (--fresh",
	} {
		if !strings.Contains(got.Error(), w) {
			t.Errorf("explained error lacks %q:\n%v", w, got)
		}
	}
	if !connector.IsPermanent(got) || !errors.Is(got, connector.ErrDataLoss) {
		t.Errorf("explained error: permanent %t, ErrDataLoss %t", connector.IsPermanent(got), errors.Is(got, connector.ErrDataLoss))
	}
}

func TestExplain(t *testing.T) {
	skipped := []storage.Skipped{{ID: 9, Dir: "chk-9", Path: "/ck/chk-9", Reason: "state file /ck/chk-9/a: checkpoint corrupt: has CRC-32C 1, _metadata says 2",
		Err: storage.ErrCorrupt}}
	fell := &restoredJob{id: 8, path: "/ck/chk-8", skippedCorrupt: skipped}
	loss := &OperatorError{Operator: "out", Err: fmt.Errorf("file sink: commit /out/part-3: the file exists with 10 bytes: %w", connector.ErrDataLoss)}
	badRecord := connector.Permanent(errors.New("bad record at in.json:2"))
	transient := errors.New("connection refused")
	cases := []struct {
		name string
		r    *restoredJob
		err  error
		want []string // nil: err unchanged
	}{
		{"no restore", nil, loss, nil},
		{"nothing skipped", &restoredJob{id: 8, path: "/ck/chk-8"}, loss, nil},
		{"transient", fell, transient, nil},
		{"nil error", fell, nil, nil},
		{"data loss", fell, loss, []string{
			"the job restored checkpoint 8 (/ck/chk-8) because the newer checkpoint chk-9 (state file /ck/chk-9/a: checkpoint corrupt: has CRC-32C 1, _metadata says 2) is corrupt, and a sink cannot go back to checkpoint 8: operator \"out\" (subtask 0): file sink: commit /out/part-3",
			"output committed after checkpoint 8 stands in the way. Choose one: restore a savepoint",
		}},
		{"other permanent", fell, badRecord, []string{
			"bad record at in.json:2 (the job had restored checkpoint 8 (/ck/chk-8) because the newer checkpoint chk-9",
			"if this failure comes from output committed after checkpoint 8, choose one: restore a savepoint",
		}},
		{"two skipped", &restoredJob{id: 8, path: "/ck/chk-8", skippedCorrupt: append([]storage.Skipped{{Dir: "chk-10", Reason: "r10"}}, skipped...)},
			loss, []string{"because the newer checkpoints chk-10 (r10); chk-9 (state file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.r.explain(c.err)
			if c.want == nil {
				if got != c.err {
					t.Fatalf("explain(%v) = %v, want it unchanged", c.err, got)
				}
				return
			}
			for _, w := range c.want {
				if !strings.Contains(got.Error(), w) {
					t.Errorf("explain lacks %q:\n%v", w, got)
				}
			}
			var oe *OperatorError
			if !connector.IsPermanent(got) || !errors.Is(got, c.err) || (c.err == loss && !errors.As(got, &oe)) {
				t.Errorf("explain(%v) = %v: not permanent or not wrapping it", c.err, got)
			}
			if again := c.r.explain(fmt.Errorf("job failed: %w", got)); strings.Count(again.Error(), "restored checkpoint 8") != 1 {
				t.Errorf("explained twice: %v", again)
			}
		})
	}
}
