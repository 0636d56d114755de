package runtime

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// This file holds what a running job shows to operators beyond record
// counts (metrics.go): the time each subtask spends busy, idle and
// backpressured, the watermark of each subtask, the history of
// checkpoints, and the recent failures with the restarts they caused.
//
// Nothing here is touched per record. Tasks account their time at the
// moments they already handle per batch or per wait: when they flush their
// output (about every buffer timeout while busy), when they start and end a
// wait for input, and when a network send finds its channel full.

// NoWatermark is the watermark of a subtask that has seen none.
const NoWatermark = math.MinInt64

// SubtaskTimes are the cumulative times of one vertex subtask over the life
// of the Job (across in-process restarts) and its current watermark.
//
// Busy is time spent processing (records, timers, checkpoints); Idle is
// time spent waiting for input (or, at a source, for the reader to have
// data); Backpressured is time spent waiting for room in a full network
// channel downstream. Their rate per second of wall time is the share of
// each: Flink's busyTimeMsPerSecond, idleTimeMsPerSecond and
// backPressuredTimeMsPerSecond. They are published by the task when it
// flushes its output and when it wakes from a wait, so they lag a little
// behind (about a buffer timeout while busy).
type SubtaskTimes struct {
	// Vertex is the vertex's name (its chain of operators), VertexID its id.
	Vertex        string
	VertexID      int
	Subtask       int
	Busy          time.Duration
	Idle          time.Duration
	Backpressured time.Duration
	// Watermark is the highest watermark that reached the subtask's head or
	// that an operator of its chain emitted, in milliseconds of event time;
	// NoWatermark if none did.
	Watermark int64
	// Backlog is, for a source whose reader reports it (Backlog), the
	// records waiting in the external system when it last flushed; -1 if
	// unknown.
	Backlog int64
	// Pending is, for a chain with sinks whose writers report it (Pending),
	// the records they hold that the external system has not acknowledged;
	// -1 if unknown.
	Pending int64
}

// subtaskCell is what a vertex subtask publishes for SubtaskTimes.
type subtaskCell struct {
	busy, idle, bp atomic.Int64 // nanoseconds
	wm             atomic.Int64
	commits        []commitCell // per operator of the chain
	backlog        atomic.Int64 // a source's Backlog, -1 unknown
	pending        atomic.Int64 // the Pending of the chain's sinks, -1 unknown
}

// Pending is an optional interface of sink writers (connector.Writer) that
// know how many records they hold that the external system has not
// acknowledged yet (buffered, in flight). The runtime asks when the task
// flushes its output, in the task goroutine, so it must be cheap and must
// not block.
type Pending interface {
	// Pending returns the records written to the writer and not yet
	// acknowledged by the external system; ok is false while unknown.
	Pending() (records int64, ok bool)
}

// pendingSink is implemented by the sink operator.
type pendingSink interface {
	pendingRecords() (int64, bool)
}

func (s *sinkOperator[T]) pendingRecords() (int64, bool) {
	if p, ok := s.w.(Pending); ok {
		return p.Pending()
	}
	return 0, false
}

// Backlog is an optional interface of source readers (connector.Reader)
// that know how much input waits for them in the external system: Kafka's
// consumer lag, a queue's depth. The runtime asks when the task flushes its
// output (about every buffer timeout while busy, and before it waits for
// input), in the task goroutine, so it must be cheap and must not block.
type Backlog interface {
	// Backlog returns the number of records waiting to be read by this
	// reader; ok is false while it is not known.
	Backlog() (records int64, ok bool)
}

// backlogSource is implemented by the source operator.
type backlogSource interface {
	backlog() (int64, bool)
}

func (s *sourceOperator[T]) backlog() (int64, bool) {
	if b, ok := s.reader.(Backlog); ok {
		return b.Backlog()
	}
	return 0, false
}

// sampleConnectors publishes the backlog of the task's source reader and
// the records its sinks' writers hold, where they report them.
func (t *task) sampleConnectors() {
	if t.clock.cell == nil {
		return
	}
	if b, ok := t.src.(backlogSource); ok {
		if n, ok := b.backlog(); ok {
			t.clock.cell.backlog.Store(n)
		}
	}
	var pending int64
	known := false
	for _, op := range t.ops {
		if s, ok := op.(pendingSink); ok {
			if n, ok := s.pendingRecords(); ok {
				pending += n
				known = true
			}
		}
	}
	if known {
		t.clock.cell.pending.Store(pending)
	}
}

// commitCell is the time one operator subtask spent handling completed
// checkpoints (NotifyCheckpointComplete: a two-phase sink's commit, a
// source's acknowledgements).
type commitCell struct {
	n, total, last atomic.Int64 // count, nanoseconds
}

// CommitTimes is the time an operator spent handling completed
// checkpoints (connector.CheckpointListener.NotifyCheckpointComplete): for
// a two-phase sink the commit of what it pre-committed, for a source its
// acknowledgements to the external system. Only operators that listen to
// checkpoints have them.
type CommitTimes struct {
	Operator string
	UID      string
	Subtask  int
	// Count is how many completed checkpoints it handled, Total the time
	// that took, Last the time the newest took.
	Count int64
	Total time.Duration
	Last  time.Duration
}

// taskClock accounts the time of one task. Only the task goroutine touches
// it (the writers of the task run in the task goroutine too).
type taskClock struct {
	cell *subtaskCell
	mark time.Time     // start of the period being accounted
	bp   time.Duration // time blocked on full channels within the period
	wm   int64         // highest watermark published
}

// start begins the accounting of subtask s of the vertex with id vertex.
func (c *taskClock) start(o *observer, vertex, s int) {
	c.cell = o.cell(o.index[vertex], s)
	c.mark = time.Now()
	c.wm = NoWatermark
}

// active ends a period of work at now: what was not spent blocked on a
// full channel was busy.
func (c *taskClock) active(now time.Time) {
	if c.cell == nil {
		return
	}
	d := now.Sub(c.mark) - c.bp
	if d > 0 {
		c.cell.busy.Add(int64(d))
	}
	if c.bp > 0 {
		c.cell.bp.Add(int64(c.bp))
		c.bp = 0
	}
	c.mark = now
}

// woke ends a wait for input.
func (c *taskClock) woke() {
	if c.cell == nil {
		return
	}
	now := time.Now()
	c.cell.idle.Add(int64(now.Sub(c.mark)))
	c.mark = now
}

// committed records that operator op of the chain took d to handle a
// completed checkpoint.
func (c *taskClock) committed(op int, d time.Duration) {
	if c.cell == nil || op >= len(c.cell.commits) {
		return
	}
	cc := &c.cell.commits[op]
	cc.n.Add(1)
	cc.total.Add(int64(d))
	cc.last.Store(int64(d))
}

// blocked adds time a send waited for room in a full channel.
func (c *taskClock) blocked(d time.Duration) { c.bp += d }

// watermark records a watermark seen in the chain.
func (c *taskClock) watermark(wm int64) {
	if c.cell != nil && wm > c.wm {
		c.wm = wm
		c.cell.wm.Store(wm)
	}
}

// woke ends the task's wait for input.
func (t *task) woke() { t.clock.woke() }

// CheckpointRecord is one entry of the checkpoint history.
type CheckpointRecord struct {
	ID int64
	// Kind is "checkpoint", "final" (the checkpoint of a stop or of the
	// end of bounded input) or "savepoint" (taken through Job.Savepoint).
	Kind string
	// Status is "completed" or "failed".
	Status string
	Path   string
	// Time is when the checkpoint ended (completed or failed).
	Time     time.Time
	Duration time.Duration
	// KeyedBytes is the size of the keyed state the checkpoint wrote.
	KeyedBytes int64
	// Unaligned is the number of subtasks that took it unaligned.
	Unaligned int
	// InflightRecords is the number of in-flight records stored.
	InflightRecords int64
	// Err is why it failed.
	Err string
	// Subtasks are the acknowledgements of the subtasks, in the order
	// they came, for a completed checkpoint (not a savepoint).
	Subtasks []SubtaskAck
}

// SubtaskAck is one subtask's part of a checkpoint.
type SubtaskAck struct {
	VertexID, Subtask int
	// Acked is the time from the trigger to the subtask's acknowledgement
	// (its state written).
	Acked time.Duration
	// Unaligned is set when the subtask took the checkpoint unaligned,
	// storing InflightRecords.
	Unaligned       bool
	InflightRecords int64
}

// Failure is one failure of the job: an attempt that ended with an error
// (other than a stop or a cancellation).
type Failure struct {
	Time time.Time
	// Err is the failure as returned by the attempt; Causes is its chain of
	// wrapped errors, outermost first (Err's message is Causes[0]).
	Err    error
	Causes []string
	// Permanent is set when a retry cannot help (connector.IsPermanent):
	// the job ended without restarting.
	Permanent bool
	// Restarted is set when the restart strategy restarted the job after
	// it, after RestartDelay.
	Restarted    bool
	RestartDelay time.Duration
}

// JobStatus sums up a job for monitoring.
type JobStatus struct {
	// Started is when Start was called.
	Started time.Time
	// Restarts is how many times the job restarted after a failure.
	Restarts int
	// Restarting is set while the job waits to restart after a failure;
	// RestartAt is when it will.
	Restarting bool
	RestartAt  time.Time
	// CheckpointsCompleted and CheckpointsFailed count checkpoints (and
	// savepoints taken through Job.Savepoint) over the life of the Job.
	CheckpointsCompleted int64
	CheckpointsFailed    int64
	// Restores counts restores from a checkpoint or savepoint.
	Restores int64
	// Failures counts the failures of the job (Job.Failures keeps the
	// newest), PermanentFailures those a retry could not help.
	Failures, PermanentFailures int64
	// CheckpointDurations is the distribution of the durations of the
	// completed checkpoints (savepoints not included).
	CheckpointDurations DurationHistogram
}

// DurationHistogram counts durations into buckets.
type DurationHistogram struct {
	// Bounds are the buckets' upper bounds, ascending; Counts[i] is the
	// number of durations up to Bounds[i] (cumulative, as Prometheus
	// histograms count).
	Bounds []time.Duration
	Counts []uint64
	Count  uint64
	Sum    time.Duration
}

// checkpointDurationBounds are the buckets of checkpoint durations.
var checkpointDurationBounds = []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
	30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute}

func (h *DurationHistogram) observe(d time.Duration) {
	if h.Bounds == nil {
		h.Bounds = checkpointDurationBounds
		h.Counts = make([]uint64, len(h.Bounds))
	}
	for i, b := range h.Bounds {
		if d <= b {
			h.Counts[i]++
		}
	}
	h.Count++
	h.Sum += d
}

func (h DurationHistogram) clone() DurationHistogram {
	if h.Bounds == nil {
		h.Bounds = checkpointDurationBounds
		h.Counts = make([]uint64, len(h.Bounds))
		return h
	}
	h.Counts = append([]uint64(nil), h.Counts...)
	return h
}

// historyLen bounds the checkpoint history and the failure list.
const historyLen = 100

// observer holds what the job shows beyond record counts.
type observer struct {
	cells   [][]subtaskCell // [vertex index][subtask]
	index   map[int]int     // vertex id -> index
	started time.Time

	mu         sync.Mutex
	history    []CheckpointRecord // ring, oldest first once full
	failures   []Failure
	restarts   int
	restartAt  time.Time
	completed  int64
	nfailed    int64
	restores   int64
	nfailures  [2]int64 // transient, permanent
	durations  DurationHistogram
	lastFailed int // index in failures of the newest, -1: none
	// pending holds what the driver told of a checkpoint about to be
	// reported complete (completing), for event to add to its record.
	pending struct {
		id   int64
		kind string
		acks []SubtaskAck
	}
}

// completing is called by the driver just before it reports checkpoint id
// complete, with the subtasks' acknowledgements.
func (o *observer) completing(id int64, kind CheckpointKind, states []*subtaskState) {
	acks := make([]SubtaskAck, 0, len(states))
	for _, st := range states {
		acks = append(acks, SubtaskAck{VertexID: st.vertex, Subtask: st.subtask, Acked: st.acked, Unaligned: st.unaligned, InflightRecords: st.inflight})
	}
	k := "checkpoint"
	if kind == KindFinal {
		k = "final"
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pending.id, o.pending.kind, o.pending.acks = id, k, acks
}

func newObserver(p *Plan) *observer {
	o := &observer{cells: make([][]subtaskCell, len(p.Vertices)), index: map[int]int{}, started: time.Now(), lastFailed: -1}
	for vi, v := range p.Vertices {
		o.index[v.ID] = vi
		o.cells[vi] = make([]subtaskCell, v.Parallelism)
		for s := range o.cells[vi] {
			o.cells[vi][s].wm.Store(NoWatermark)
			o.cells[vi][s].commits = make([]commitCell, len(v.Ops))
			o.cells[vi][s].backlog.Store(-1)
			o.cells[vi][s].pending.Store(-1)
		}
	}
	return o
}

func (o *observer) cell(vi, s int) *subtaskCell { return &o.cells[vi][s] }

// event records what a job event says about checkpoints.
func (o *observer) event(ev JobEvent) {
	var rec CheckpointRecord
	switch ev.Kind {
	case "checkpoint-completed":
		rec = CheckpointRecord{ID: ev.CheckpointID, Kind: "checkpoint", Status: "completed", Path: ev.Path, Duration: ev.Duration,
			KeyedBytes: ev.KeyedBytes, Unaligned: ev.Unaligned, InflightRecords: ev.InflightRecords}
	case "checkpoint-aborted":
		rec = CheckpointRecord{ID: ev.CheckpointID, Kind: "checkpoint", Status: "failed"}
		if ev.Err != nil {
			rec.Err = ev.Err.Error()
		}
	case "restored":
		o.mu.Lock()
		o.restores++
		o.mu.Unlock()
		return
	default:
		return
	}
	rec.Time = ev.Time
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	o.mu.Lock()
	if rec.Status == "completed" && o.pending.id == rec.ID {
		rec.Kind, rec.Subtasks = o.pending.kind, o.pending.acks
		o.pending.acks = nil
	}
	o.mu.Unlock()
	o.add(rec)
}

func (o *observer) add(rec CheckpointRecord) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if rec.Status == "completed" {
		o.completed++
		if rec.Kind != "savepoint" {
			o.durations.observe(rec.Duration)
		}
	} else {
		o.nfailed++
	}
	if len(o.history) == historyLen {
		copy(o.history, o.history[1:])
		o.history = o.history[:historyLen-1]
	}
	o.history = append(o.history, rec)
}

// savepoint records the outcome of a savepoint request.
func (o *observer) savepoint(path string, took time.Duration, err error) {
	rec := CheckpointRecord{ID: savepointID(path), Kind: "savepoint", Status: "completed", Path: path, Time: time.Now(), Duration: took}
	if err != nil {
		if errors.Is(err, errJobEnded) || errors.Is(err, ErrConfig) {
			return // nothing was attempted
		}
		rec.Status, rec.Err = "failed", err.Error()
	}
	o.add(rec)
}

// savepointID is n of a savepoint path ending in savepoint-<n>-<suffix>, 0
// if path has no such form.
func savepointID(path string) int64 {
	base := path[strings.LastIndexAny(path, "/\\")+1:]
	rest, ok := strings.CutPrefix(base, "savepoint-")
	if !ok {
		return 0
	}
	num, _, _ := strings.Cut(rest, "-")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// failed records a failure of an attempt.
func (o *observer) failed(err error, permanent bool) {
	f := Failure{Time: time.Now(), Err: err, Permanent: permanent}
	for e := err; e != nil; {
		f.Causes = append(f.Causes, e.Error())
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			e = u.Unwrap()
		case interface{ Unwrap() []error }:
			if errs := u.Unwrap(); len(errs) > 0 {
				e = errs[len(errs)-1] // fmt.Errorf("%w: %w") puts the cause last
			} else {
				e = nil
			}
		default:
			e = nil
		}
		if len(f.Causes) == 16 {
			break
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.failures) == historyLen {
		copy(o.failures, o.failures[1:])
		o.failures = o.failures[:historyLen-1]
	}
	o.failures = append(o.failures, f)
	if permanent {
		o.nfailures[1]++
	} else {
		o.nfailures[0]++
	}
	o.lastFailed = len(o.failures) - 1
}

// restarting marks the newest failure as restarted after delay.
func (o *observer) restarting(delay time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.restarts++
	o.restartAt = time.Now().Add(delay)
	if o.lastFailed >= 0 {
		o.failures[o.lastFailed].Restarted = true
		o.failures[o.lastFailed].RestartDelay = delay
	}
}

// Plan returns the job's physical plan. It must not be modified.
func (j *Job) Plan() *Plan { return j.plan }

// CheckpointSettings returns the job's checkpoint configuration, defaults
// applied.
func (j *Job) CheckpointSettings() CheckpointConfig { return j.cfg.Checkpoint }

// Times returns the busy, idle and backpressured time and the watermark of
// every vertex subtask, vertices in plan order, then subtasks in order. It
// may be called at any time from any goroutine.
func (j *Job) Times() []SubtaskTimes {
	var out []SubtaskTimes
	for vi, v := range j.plan.Vertices {
		for s := range v.Parallelism {
			c := j.obs.cell(vi, s)
			out = append(out, SubtaskTimes{Vertex: v.Name, VertexID: v.ID, Subtask: s,
				Busy: time.Duration(c.busy.Load()), Idle: time.Duration(c.idle.Load()), Backpressured: time.Duration(c.bp.Load()),
				Watermark: c.wm.Load(), Backlog: c.backlog.Load(), Pending: c.pending.Load()})
		}
	}
	return out
}

// Commits returns the time every operator subtask that handled a completed
// checkpoint spent doing so, in plan order.
func (j *Job) Commits() []CommitTimes {
	var out []CommitTimes
	for vi, v := range j.plan.Vertices {
		for oi, op := range v.Ops {
			for s := range v.Parallelism {
				c := &j.obs.cell(vi, s).commits[oi]
				if n := c.n.Load(); n > 0 {
					out = append(out, CommitTimes{Operator: op.Name, UID: op.UID, Subtask: s, Count: n,
						Total: time.Duration(c.total.Load()), Last: time.Duration(c.last.Load())})
				}
			}
		}
	}
	return out
}

// Checkpoints returns the newest checkpoints (up to 100), oldest first.
func (j *Job) Checkpoints() []CheckpointRecord {
	j.obs.mu.Lock()
	defer j.obs.mu.Unlock()
	return append([]CheckpointRecord(nil), j.obs.history...)
}

// Failures returns the job's newest failures (up to 100), oldest first.
func (j *Job) Failures() []Failure {
	j.obs.mu.Lock()
	defer j.obs.mu.Unlock()
	return append([]Failure(nil), j.obs.failures...)
}

// Status returns a summary of the job for monitoring.
func (j *Job) Status() JobStatus {
	j.obs.mu.Lock()
	defer j.obs.mu.Unlock()
	s := JobStatus{Started: j.obs.started, Restarts: j.obs.restarts, RestartAt: j.obs.restartAt,
		CheckpointsCompleted: j.obs.completed, CheckpointsFailed: j.obs.nfailed, Restores: j.obs.restores,
		Failures: j.obs.nfailures[0] + j.obs.nfailures[1], PermanentFailures: j.obs.nfailures[1],
		CheckpointDurations: j.obs.durations.clone()}
	select {
	case <-j.done:
	default:
		s.Restarting = time.Now().Before(j.obs.restartAt)
	}
	return s
}

// Err returns the job's result once it ended (nil while it runs or when it
// ended cleanly).
func (j *Job) Err() error {
	select {
	case <-j.done:
		return j.err
	default:
		return nil
	}
}
