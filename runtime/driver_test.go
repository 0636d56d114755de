package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/eventtime"
)

// TestDriver runs the scripts in testdata/driver: the job driver of one
// attempt, taken step by step on a manual driver clock. The tasks do not
// run; the script plays their part and sees what the driver asks of them.
//
//	new sources=2 [interval=10s] [timeout=1m] [tolerable=0] [min-pause=0s] [concurrent=1]
//	tick [advance=10s]            the clock moves on and the driver acts on it
//	ack id=1 task=source/0|all    a task wrote its snapshot of checkpoint 1
//	decline id=1 task=sink/0 [err=...]
//	stored                        waits for the metadata write of a checkpoint
//	source-ended task=source/0|all
//	finish task=sink/0|all        a task ended
//	fail task=sink/0 err=...      a task failed
//	split-request task=source/0   a reader asks for a split (it gets one)
//	savepoint                     a savepoint requested by the user
//	stop                          a stop requested by the user
//	shutdown                      the attempt ends
//	list                          the checkpoint storage's directories
//
// After each command it prints what the driver did: the job events, what
// it asked of which tasks (trigger, complete, abort: the checkpoint's
// barrier at a source, notifications), the calls of
// the split enumerator, replies to requests, the checkpoints in progress,
// and the attempt's result once it is over. The sink vertex is "sink",
// with parallelism 1.
func TestDriver(t *testing.T) {
	datadriven.Walk(t, "testdata/driver", func(t *testing.T, path string) {
		var h *driverHarness
		defer func() {
			if h != nil {
				h.close()
			}
		}()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			args := map[string]string{}
			for _, arg := range d.CmdArgs {
				args[arg.Key] = ""
				if len(arg.Vals) > 0 {
					args[arg.Key] = arg.Vals[0]
				}
			}
			num := func(k string, def int64) int64 {
				v, ok := args[k]
				if !ok {
					return def
				}
				var n int64
				if _, err := fmt.Sscan(v, &n); err != nil {
					t.Fatalf("%s: bad %s=%q", d.Pos, k, v)
				}
				return n
			}
			dur := func(k string, def time.Duration) time.Duration {
				v, ok := args[k]
				if !ok {
					return def
				}
				x, err := time.ParseDuration(v)
				if err != nil {
					t.Fatalf("%s: bad %s=%q", d.Pos, k, v)
				}
				return x
			}
			if d.Cmd == "new" {
				if h != nil {
					h.close()
				}
				h = newDriverHarness(t, int(num("sources", 1)), CheckpointConfig{
					Interval: dur("interval", 10*time.Second), Timeout: dur("timeout", time.Minute),
					MinPause: dur("min-pause", 0), TolerableFailures: int(num("tolerable", 0)),
					MaxConcurrent: int(num("concurrent", 1)),
				})
				return h.report()
			}
			if h == nil {
				t.Fatalf("%s: %s before new", d.Pos, d.Cmd)
			}
			a := h.a
			switch d.Cmd {
			case "tick":
				h.clock.advance(dur("advance", 0))
				if err := a.tick(); err != nil {
					return "tick: " + err.Error()
				}
			case "ack", "decline", "source-ended", "finish", "fail", "split-request":
				kind := map[string]taskEventKind{"ack": evAck, "decline": evDecline, "source-ended": evSourceEnded,
					"finish": evFinished, "fail": evFailed, "split-request": evSplitRequest}[d.Cmd]
				for _, tk := range h.tasks(t, d, args["task"]) {
					ev := taskEvent{kind: kind, vertex: tk.v.ID, subtask: tk.subtask, id: num("id", 0)}
					switch kind {
					case evAck:
						ev.ack = &subtaskState{vertex: tk.v.ID, subtask: tk.subtask}
					case evDecline, evFailed:
						ev.err = errors.New(args["err"])
					}
					a.handle(ev)
				}
			case "stored":
				select {
				case ev := <-a.events:
					if ev.kind != evStored {
						t.Fatalf("%s: event %d while waiting for a stored checkpoint", d.Pos, ev.kind)
					}
					a.handle(ev)
				case <-time.After(time.Minute):
					t.Fatalf("%s: no checkpoint was stored", d.Pos)
				}
			case "savepoint":
				h.request(KindSavepoint)
			case "stop":
				h.request(KindFinal)
			case "shutdown":
				err := a.shutdown(h.result)
				h.done = true
				return fmt.Sprintf("%sresult: %v", h.report(), h.clean(err))
			case "list":
				// The driver deletes aborted checkpoints and applies
				// retention in the background (no task runs here): wait.
				h.a.wg.Wait()
				infos, err := h.a.j.store.List(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				var b strings.Builder
				for _, in := range infos {
					fmt.Fprintf(&b, "%s %s %s\n", h.clean(in.Dir), in.Kind, in.Status)
				}
				return b.String()
			default:
				t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
			}
			return h.report()
		})
	})
}

// driverHarness holds an attempt whose driver a script takes step by step.
type driverHarness struct {
	t       *testing.T
	dir     string
	clock   *testClock
	a       *attempt
	events  chan JobEvent
	enum    *scriptLog
	replies []chan savepointResult
	over    bool  // settle said the attempt is over
	result  error // with this result
	done    bool  // shut down
}

func newDriverHarness(t *testing.T, sources int, cp CheckpointConfig) *driverHarness {
	dir := t.TempDir()
	cp.Storage = dir
	h := &driverHarness{t: t, dir: dir, clock: &testClock{now: time.Unix(1_000_000, 0)}, events: make(chan JobEvent, 100), enum: &scriptLog{}}
	src := &Vertex{ID: 0, Name: "source", Parallelism: sources, MaxParallelism: 128, Source: SourceSpecOf[int](scriptSource{h.enum})}
	src.Ops = []*OpSpec{{Name: "source", UID: "source", Out: TypeOf[int](), New: func(main any, side map[string]any) (Operator, error) {
		return NewSourceOperator[int](scriptSource{h.enum}, eventtime.NoWatermarks[int](), SourceOptions{}, main.(Output[int]), side), nil
	}}}
	snk := &Vertex{ID: 1, Name: "sink", Parallelism: 1, MaxParallelism: 128}
	snk.Ops = []*OpSpec{{Name: "sink", UID: "sink", New: func(any, map[string]any) (Operator, error) {
		return NewSinkOperator[int](discardSink{}), nil
	}}}
	e := &NetEdge{From: src, FromOp: 0, To: snk, Spec: NewEdge[int](Rebalance, nil)}
	src.Ops[0].Net = []*NetEdge{e}
	snk.Inputs = []*NetEdge{e}
	plan := &Plan{Name: "driver", Vertices: []*Vertex{src, snk}}
	j, err := newJob(t.Context(), plan, Config{Logger: quiet(), Events: h.events, DriverClock: h.clock, Checkpoint: cp})
	if err != nil {
		t.Fatal(err)
	}
	a, err := j.newAttempt(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	h.a = a
	if err := a.start(); err != nil {
		t.Fatal(err)
	}
	return h
}

// tasks returns the tasks named by spec: "all", or vertex/subtask.
func (h *driverHarness) tasks(t *testing.T, d *datadriven.TestData, spec string) []*task {
	var out []*task
	h.a.allTasks(func(tk *task) {
		if spec == "all" || spec == fmt.Sprintf("%s/%d", tk.v.Name, tk.subtask) {
			out = append(out, tk)
		}
	})
	if len(out) == 0 {
		t.Fatalf("%s: no task %q", d.Pos, spec)
	}
	return out
}

// request sends a savepoint or stop request to the driver.
func (h *driverHarness) request(kind CheckpointKind) {
	req := controlReq{kind: kind, reply: make(chan savepointResult, 1)}
	h.replies = append(h.replies, req.reply)
	h.a.control(req)
}

// report lets the driver settle and prints what it did since the last
// report.
func (h *driverHarness) report() string {
	a := h.a
	var b strings.Builder
	if !h.over && !h.done {
		if over, err := a.settle(); over {
			h.over, h.result = true, err
			fmt.Fprintf(&b, "over: %v\n", h.clean(err))
		}
	}
	for {
		select {
		case ev := <-h.events:
			fmt.Fprintf(&b, "event: %s %d", ev.Kind, ev.CheckpointID)
			if ev.Err != nil {
				fmt.Fprintf(&b, " (%v)", h.clean(ev.Err))
			}
			b.WriteString("\n")
			continue
		default:
		}
		break
	}
	// What the tasks were asked to do, in the order first asked.
	var order []string
	posted := map[string][]string{}
	a.allTasks(func(tk *task) {
		m := tk.mail
		m.mu.Lock()
		q := m.queue
		m.queue = nil
		m.n.Store(0)
		m.mu.Unlock()
		for _, x := range q {
			what := x.what
			if x.id != 0 {
				what = fmt.Sprintf("%s %d", x.what, x.id)
			}
			if _, ok := posted[what]; !ok {
				order = append(order, what)
			}
			posted[what] = append(posted[what], fmt.Sprintf("%s/%d", tk.v.Name, tk.subtask))
		}
	})
	for _, what := range order {
		fmt.Fprintf(&b, "%s: %s\n", what, strings.Join(posted[what], " "))
	}
	for _, l := range h.enum.take() {
		fmt.Fprintf(&b, "enumerator: %s\n", l)
	}
	for i, r := range h.replies {
		select {
		case res := <-r:
			h.replies[i] = nil
			switch {
			case res.err != nil:
				fmt.Fprintf(&b, "reply: %v\n", h.clean(res.err))
			case strings.Contains(res.path, "savepoint-"):
				b.WriteString("reply: savepoint stored\n")
			default:
				fmt.Fprintf(&b, "reply: %s\n", h.clean(res.path))
			}
		default:
		}
	}
	h.replies = slices.DeleteFunc(h.replies, func(r chan savepointResult) bool { return r == nil })
	if a.coord != nil {
		fmt.Fprintf(&b, "in progress: %v\n", a.coord.Pending())
	}
	return b.String()
}

func (h *driverHarness) clean(v any) string {
	if v == nil {
		return "ok"
	}
	return strings.ReplaceAll(fmt.Sprint(v), h.dir, "DIR")
}

func (h *driverHarness) close() {
	if !h.done {
		h.a.shutdown(nil)
		h.done = true
	}
	h.a.j.store.Close()
}

// testClock is a driver clock that moves only when told to. The driver
// under test is taken step by step, so nothing waits on its timers.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *testClock) AfterFunc(time.Duration, func()) Stopper { return stopped{} }

type stopped struct{}

func (stopped) Stop() bool { return false }

// scriptLog collects lines written by one goroutine at a time.
type scriptLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *scriptLog) add(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *scriptLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

// scriptSource is a bounded source whose enumerator logs its calls. Its
// readers are never created: the tasks do not run.
type scriptSource struct{ log *scriptLog }

func (scriptSource) Bounded() bool { return true }
func (s scriptSource) NewEnumerator(ctx connector.EnumeratorContext, _ []byte) (connector.Enumerator, error) {
	return &scriptEnum{log: s.log, ctx: ctx}, nil
}
func (scriptSource) NewReader(connector.ReaderContext) (connector.Reader[int], error) {
	return nil, errors.New("not in a driver script")
}
func (scriptSource) SplitCodec() connector.SplitCodec { return nil }

type scriptEnum struct {
	log *scriptLog
	ctx connector.EnumeratorContext
	n   int
}

type scriptSplit string

func (s scriptSplit) SplitID() string { return string(s) }

func (e *scriptEnum) AddReader(s int) error { e.log.add("add reader %d", s); return nil }
func (e *scriptEnum) HandleSplitRequest(s int) error {
	e.n++
	e.log.add("split request of %d: assign split-%d", s, e.n)
	e.ctx.Assign(s, scriptSplit(fmt.Sprint("split-", e.n)))
	return nil
}
func (e *scriptEnum) Snapshot(id int64) ([]byte, error) {
	e.log.add("snapshot %d", id)
	return []byte("enum"), nil
}
func (e *scriptEnum) NotifyCheckpointComplete(id int64) error {
	e.log.add("checkpoint %d complete", id)
	return nil
}
func (e *scriptEnum) NotifyCheckpointAborted(id int64) error {
	e.log.add("checkpoint %d aborted", id)
	return nil
}
func (e *scriptEnum) Close() error { e.log.add("close"); return nil }

// discardSink drops what it receives.
type discardSink struct{}

func (discardSink) NewWriter(connector.WriterContext, [][]byte) (connector.Writer[int], error) {
	return discardSink{}, nil
}
func (discardSink) Write(context.Context, int, int64) error { return nil }
func (discardSink) Flush(context.Context) error             { return nil }
func (discardSink) Close() error                            { return nil }
