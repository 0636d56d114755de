package runtime

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime/restart"
)

// TestObserveFailuresAndTimes runs a job that fails once, restarts and
// then a second time for good, and checks the failures, restarts and the
// time accounting it reports.
func TestObserveFailuresAndTimes(t *testing.T) {
	const n, p = 20011, 2
	var first, second sync.Once
	fail := func(v int) error {
		var err error
		if v == n/3 {
			first.Do(func() { err = errors.New("injected: connection reset") })
			if err == nil {
				second.Do(func() { err = connector.Permanent(errors.New("injected: bad record")) })
			}
		}
		return err
	}
	plan := metricsPlan(n, p, fail, &countSink{})
	j, err := Start(t.Context(), plan, Config{BatchSize: 64, ChannelCapacity: 1, Logger: quiet(),
		Restart: restart.FixedDelay(3, 10*time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Wait(); err == nil || !connector.IsPermanent(err) {
		t.Fatalf("job ended with %v, want the permanent failure", err)
	}
	fs := j.Failures()
	if len(fs) != 2 {
		t.Fatalf("%d failures, want 2: %+v", len(fs), fs)
	}
	if f := fs[0]; f.Permanent || !f.Restarted || f.RestartDelay != 10*time.Millisecond || !strings.Contains(f.Err.Error(), "connection reset") {
		t.Errorf("first failure %+v", f)
	}
	if f := fs[1]; !f.Permanent || f.Restarted || len(f.Causes) < 2 || !strings.Contains(f.Causes[len(f.Causes)-1], "bad record") {
		t.Errorf("second failure %+v (causes %q)", f, f.Causes)
	}
	st := j.Status()
	if st.Restarts != 1 || st.Failures != 2 || st.PermanentFailures != 1 || st.Restarting {
		t.Errorf("status %+v", st)
	}
	if j.Err() == nil {
		t.Error("Err is nil after the job failed")
	}
	times := j.Times()
	if len(times) != 2*p {
		t.Fatalf("%d subtask times, want %d", len(times), 2*p)
	}
	var busy time.Duration
	for _, x := range times {
		if x.Busy < 0 || x.Idle < 0 || x.Backpressured < 0 {
			t.Errorf("negative time %+v", x)
		}
		busy += x.Busy
	}
	if busy == 0 {
		t.Errorf("no busy time: %+v", times)
	}
	if c := j.Commits(); len(c) != 0 {
		t.Errorf("commits without checkpoints: %+v", c)
	}
}

func TestObserveCheckpointHistoryBounded(t *testing.T) {
	o := newObserver(&Plan{Vertices: []*Vertex{{ID: 3, Parallelism: 1}}})
	for i := range historyLen + 10 {
		kind := "checkpoint-completed"
		if i%2 == 1 {
			kind = "checkpoint-aborted"
		}
		o.event(JobEvent{Kind: kind, CheckpointID: int64(i + 1), Err: errors.New("declined")})
	}
	o.event(JobEvent{Kind: "restored"})
	o.savepoint("/x/savepoint-7-a1b2c3", time.Millisecond, nil)
	o.savepoint("", 0, errJobEnded) // nothing attempted: not recorded
	if len(o.history) != historyLen {
		t.Fatalf("history of %d, want %d", len(o.history), historyLen)
	}
	if last := o.history[historyLen-1]; last.Kind != "savepoint" || last.Path != "/x/savepoint-7-a1b2c3" || last.ID != 7 {
		t.Errorf("newest entry %+v", last)
	}
	if first := o.history[0]; first.ID != 12 {
		t.Errorf("oldest entry %+v, want checkpoint 12", first)
	}
	if o.completed != historyLen/2+5+1 || o.nfailed != historyLen/2+5 || o.restores != 1 {
		t.Errorf("completed %d failed %d restores %d", o.completed, o.nfailed, o.restores)
	}
	if h := o.durations; h.Count != uint64(o.completed-1) || h.Counts[0] != h.Count || len(h.Bounds) != len(h.Counts) {
		t.Errorf("durations %+v, want every completed checkpoint (not the savepoint) in the first bucket", h)
	}
	var h DurationHistogram
	for _, d := range []time.Duration{5 * time.Millisecond, 70 * time.Millisecond, time.Hour} {
		h.observe(d)
	}
	if h.Count != 3 || h.Sum != time.Hour+75*time.Millisecond || h.Counts[0] != 1 || h.Counts[2] != 2 || h.Counts[len(h.Counts)-1] != 2 {
		t.Errorf("histogram %+v", h)
	}
	if o.cells[o.index[3]][0].wm.Load() != NoWatermark {
		t.Error("a fresh cell has a watermark")
	}
}

func TestSavepointID(t *testing.T) {
	for path, want := range map[string]int64{
		"/data/job/savepoint-11-3fe139":      11,
		"s3://bucket/job/savepoint-7-a1b2c3": 7,
		"savepoint-3-x":                      3,
		"/data/job/chk-4":                    0,
		"":                                   0,
		"/x/savepoint-y-z":                   0,
	} {
		if got := savepointID(path); got != want {
			t.Errorf("savepointID(%q) = %d, want %d", path, got, want)
		}
	}
}

// backlogRange is rangeSource whose readers report a backlog.
type backlogRange struct{ rangeSource }

func (s backlogRange) NewReader(connector.ReaderContext) (connector.Reader[int], error) {
	return &backlogReader{}, nil
}

type backlogReader struct{ rangeReader }

func (r *backlogReader) Backlog() (int64, bool) { return 42, true }

// pendingCountSink is countSink whose writers report records pending.
type pendingCountSink struct{ *countSink }

func (s pendingCountSink) NewWriter(connector.WriterContext, [][]byte) (connector.Writer[string], error) {
	return s, nil
}

func (s pendingCountSink) Pending() (int64, bool) { return 7, true }

func TestObserveBacklog(t *testing.T) {
	const n, p = 1000, 2
	plan := metricsPlan(n, p, func(int) error { return nil }, &countSink{})
	src := backlogRange{rangeSource{n}}
	plan.Vertices[0].Source = SourceSpecOf[int](src)
	plan.Vertices[0].Ops[0].New = func(main any, side map[string]any) (Operator, error) {
		return NewSourceOperator[int](src, eventtime.NoWatermarks[int](), SourceOptions{}, main.(Output[int]), side), nil
	}
	snk := pendingCountSink{&countSink{}}
	sinkOps := plan.Vertices[1].Ops
	sinkOps[len(sinkOps)-1].New = func(any, map[string]any) (Operator, error) { return NewSinkOperator[string](snk), nil }
	j, err := Start(t.Context(), plan, Config{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, x := range j.Times() {
		backlog, pending := int64(-1), int64(7) // the sink's vertex
		if x.VertexID == plan.Vertices[0].ID {
			backlog, pending = 42, -1 // the source's
		}
		if x.Backlog != backlog || x.Pending != pending {
			t.Errorf("vertex %d subtask %d: backlog %d pending %d, want %d and %d", x.VertexID, x.Subtask, x.Backlog, x.Pending, backlog, pending)
		}
	}
}
