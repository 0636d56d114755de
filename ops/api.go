package ops

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime"
)

// The JSON documents of the REST API (version 1). Fields are only ever
// added within a version; docs/operations.md describes them.

// JobInfo is GET /api/v1/job.
type JobInfo struct {
	Name string `json:"name"`
	// State is "running", "restarting", "finished" or "failed".
	State         string     `json:"state"`
	Error         string     `json:"error,omitempty"`
	StartTime     time.Time  `json:"start_time"`
	UptimeSeconds float64    `json:"uptime_seconds"`
	Restarts      int        `json:"restarts"`
	Checkpointing Checkpoint `json:"checkpointing"`
	Vertices      []Vertex   `json:"vertices"`
	Edges         []Edge     `json:"edges"`
	Guarantee     *Guarantee `json:"guarantee,omitempty"`
}

// Checkpoint is the job's checkpoint configuration.
type Checkpoint struct {
	Enabled    bool   `json:"enabled"`
	IntervalMS int64  `json:"interval_ms"`
	Mode       string `json:"mode"`
	Unaligned  bool   `json:"unaligned"`
	Storage    string `json:"storage,omitempty"`
	TimeoutMS  int64  `json:"timeout_ms"`
	Retain     int    `json:"retain"`
}

// Vertex is a chain of operators run by Parallelism subtasks.
type Vertex struct {
	ID             int        `json:"id"`
	Name           string     `json:"name"`
	Parallelism    int        `json:"parallelism"`
	MaxParallelism int        `json:"max_parallelism"`
	Source         bool       `json:"source"`
	Operators      []Operator `json:"operators"`
	// Backpressure is the highest share of time any subtask spent
	// backpressured over the last 5 seconds, Level its name: "ok" (up to
	// 10%), "low" (up to 50%), "high".
	Backpressure float64 `json:"backpressure"`
	Level        string  `json:"backpressure_level"`
	Busy         float64 `json:"busy"`
	// Backlog is, for a source whose reader reports it (Kafka), the
	// records waiting for it in the external system, summed over the
	// subtasks that report one; null otherwise.
	Backlog *int64 `json:"backlog,omitempty"`
	// Pending is, for a chain with sinks whose writers report it (Kafka),
	// the records they hold that the external system has not acknowledged,
	// summed over subtasks; null otherwise.
	Pending *int64 `json:"pending,omitempty"`
}

// Operator is one operator of a chain, with its record counts summed over
// subtasks and their rates over the last 5 seconds.
type Operator struct {
	Name                string  `json:"name"`
	UID                 string  `json:"uid"`
	RecordsIn           int64   `json:"records_in"`
	RecordsOut          int64   `json:"records_out"`
	RecordsInPerSecond  float64 `json:"records_in_per_second"`
	RecordsOutPerSecond float64 `json:"records_out_per_second"`
	// DeadLettered is, for a source with a dead-letter output, the bad
	// records it sent there (counted in RecordsOut too); null otherwise.
	DeadLettered *int64 `json:"dead_lettered,omitempty"`
	// Commit is, for an operator that handles completed checkpoints (a
	// two-phase sink's commit, a source's acknowledgements), the time
	// that takes; null for the others.
	Commit *Commit `json:"commit,omitempty"`
}

// Commit is the time an operator spends handling completed checkpoints,
// over its subtasks.
type Commit struct {
	Count int64 `json:"count"` // checkpoints handled, summed over subtasks
	// MeanMS is the mean time per checkpoint and subtask; LastMS the
	// longest time a subtask took for its newest one.
	MeanMS float64 `json:"mean_ms"`
	LastMS float64 `json:"last_ms"`
}

// Edge is a network edge between two vertices.
type Edge struct {
	From         int    `json:"from"`
	To           int    `json:"to"`
	FromOperator string `json:"from_operator"` // uid of the sending operator
	Port         string `json:"port,omitempty"`
	Input        int    `json:"input"`
	Partitioning string `json:"partitioning"`
	Type         string `json:"type"`
	// RecordsPerSecond is the sending operator's output rate.
	RecordsPerSecond float64 `json:"records_per_second"`
}

// Guarantee is the job's end-to-end guarantee with each component's.
type Guarantee struct {
	Guarantee  string          `json:"guarantee"`
	Links      []GuaranteeLink `json:"links"`
	Weakest    []string        `json:"weakest"`
	Downgrades []string        `json:"downgrades,omitempty"`
}

// GuaranteeLink is a source, sink or the checkpointing with its guarantee.
type GuaranteeLink struct {
	Role      string `json:"role"`
	Name      string `json:"name"`
	Guarantee string `json:"guarantee"`
	Reason    string `json:"reason"`
}

// Checkpoints is GET /api/v1/checkpoints.
type Checkpoints struct {
	Completed int64             `json:"completed"`
	Failed    int64             `json:"failed"`
	Restores  int64             `json:"restores"`
	History   []CheckpointEntry `json:"history"` // oldest first, up to 100
}

// CheckpointEntry is one checkpoint or savepoint.
type CheckpointEntry struct {
	ID              int64     `json:"id"`
	Kind            string    `json:"kind"`
	Status          string    `json:"status"`
	Path            string    `json:"path,omitempty"`
	Time            time.Time `json:"time"`
	DurationMS      float64   `json:"duration_ms"`
	SizeBytes       int64     `json:"size_bytes"`
	Unaligned       int       `json:"unaligned_subtasks"`
	InflightRecords int64     `json:"inflight_records"`
	Error           string    `json:"error,omitempty"`
	// Subtasks are the acknowledgements of a completed checkpoint's
	// subtasks, in the order they came.
	Subtasks []CheckpointSubtask `json:"subtasks,omitempty"`
}

// CheckpointSubtask is one subtask's part of a checkpoint.
type CheckpointSubtask struct {
	Vertex          int     `json:"vertex"`
	Subtask         int     `json:"subtask"`
	AckMS           float64 `json:"ack_ms"` // from the trigger to the acknowledgement
	Unaligned       bool    `json:"unaligned"`
	InflightRecords int64   `json:"inflight_records"`
}

// Backpressure is GET /api/v1/backpressure.
type Backpressure struct {
	Vertices []VertexBackpressure `json:"vertices"`
}

// VertexBackpressure is the shares of time of each subtask of a vertex
// over the last 5 seconds.
type VertexBackpressure struct {
	ID       int               `json:"id"`
	Name     string            `json:"name"`
	Level    string            `json:"level"`
	Subtasks []SubtaskBusyness `json:"subtasks"`
}

// SubtaskBusyness is one subtask's shares of time (0 to 1).
type SubtaskBusyness struct {
	Subtask       int     `json:"subtask"`
	Busy          float64 `json:"busy"`
	Idle          float64 `json:"idle"`
	Backpressured float64 `json:"backpressured"`
}

// Watermarks is GET /api/v1/watermarks.
type Watermarks struct {
	Vertices []VertexWatermarks `json:"vertices"`
}

// VertexWatermarks are the watermarks of a vertex's subtasks.
type VertexWatermarks struct {
	ID       int                `json:"id"`
	Name     string             `json:"name"`
	Subtasks []SubtaskWatermark `json:"subtasks"`
}

// SubtaskWatermark is one subtask's watermark in milliseconds of event
// time and its lag behind the wall clock; both null when it has none, and
// when its input ended (EndOfInput: the final watermark passed).
type SubtaskWatermark struct {
	Subtask     int      `json:"subtask"`
	WatermarkMS *int64   `json:"watermark_ms"`
	LagMS       *float64 `json:"lag_ms"`
	EndOfInput  bool     `json:"end_of_input,omitempty"`
}

// Exceptions is GET /api/v1/exceptions.
type Exceptions struct {
	Restarts int             `json:"restarts"`
	Failures []FailureEntry  `json:"failures"` // newest first, up to 100
	Final    *FinalException `json:"final,omitempty"`
}

// FailureEntry is one failure with its causes and what followed.
type FailureEntry struct {
	Time           time.Time `json:"time"`
	Error          string    `json:"error"`
	Causes         []string  `json:"causes"`
	Permanent      bool      `json:"permanent"`
	Restarted      bool      `json:"restarted"`
	RestartDelayMS int64     `json:"restart_delay_ms"`
}

// FinalException is the error the job ended with.
type FinalException struct {
	Error string `json:"error"`
}

// Throughput is GET /api/v1/throughput: records out per second of every
// operator, once per sample over the last 5 minutes.
type Throughput struct {
	Times     []time.Time      `json:"times"`
	Operators []OperatorSeries `json:"operators"`
}

// OperatorSeries is one operator's rates, one per time.
type OperatorSeries struct {
	UID              string    `json:"uid"`
	Name             string    `json:"name"`
	RecordsInPerSec  []float64 `json:"records_in_per_second"`
	RecordsOutPerSec []float64 `json:"records_out_per_second"`
}

// ActionResult is the answer to POST /api/v1/savepoints and /api/v1/stop.
type ActionResult struct {
	Path string `json:"path"`
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error string `json:"error"`
}

func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/job", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.jobInfo()) })
	mux.HandleFunc("GET /api/v1/checkpoints", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.checkpoints()) })
	mux.HandleFunc("GET /api/v1/backpressure", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.backpressure()) })
	mux.HandleFunc("GET /api/v1/watermarks", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.watermarks()) })
	mux.HandleFunc("GET /api/v1/exceptions", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.exceptions()) })
	mux.HandleFunc("GET /api/v1/throughput", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.throughput()) })
	mux.HandleFunc("POST /api/v1/savepoints", s.action(func(r *http.Request) (string, error) { return s.job.Savepoint(r.Context()) }))
	mux.HandleFunc("POST /api/v1/stop", s.action(func(r *http.Request) (string, error) { return s.job.Stop(r.Context()) }))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, ErrorBody{Error: "no such endpoint: " + r.Method + " " + r.URL.Path + " (see docs/operations.md)"})
	})
}

func (s *Server) action(do func(r *http.Request) (string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
			writeJSON(w, http.StatusUnauthorized, ErrorBody{Error: "this request needs the job's token (Authorization: Bearer TOKEN), printed when the job started or set with " + TokenEnv})
			return
		}
		path, err := do(r)
		switch {
		case err == nil:
			writeJSON(w, http.StatusOK, ActionResult{Path: path})
		case errors.Is(err, runtime.ErrConfig):
			writeJSON(w, http.StatusConflict, ErrorBody{Error: err.Error()})
		case errors.Is(err, runtime.ErrStopIncomplete):
			// The job stopped all the same, without its final checkpoint.
			writeJSON(w, http.StatusInternalServerError, ErrorBody{Error: err.Error()})
		default:
			select {
			case <-s.job.Done():
				writeJSON(w, http.StatusConflict, ErrorBody{Error: err.Error()})
			default:
				writeJSON(w, http.StatusInternalServerError, ErrorBody{Error: err.Error()})
			}
		}
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (s *Server) state() (string, string) {
	select {
	case <-s.job.Done():
		if err := s.job.Err(); err != nil {
			return "failed", err.Error()
		}
		return "finished", ""
	default:
	}
	if s.job.Status().Restarting {
		return "restarting", ""
	}
	return "running", ""
}

func level(bp float64) string {
	switch {
	case bp <= 0.1:
		return "ok"
	case bp <= 0.5:
		return "low"
	}
	return "high"
}

func (s *Server) jobInfo() JobInfo {
	plan := s.job.Plan()
	st := s.job.Status()
	cp := s.job.CheckpointSettings()
	info := JobInfo{Name: plan.Name, StartTime: st.Started, UptimeSeconds: time.Since(st.Started).Seconds(), Restarts: st.Restarts,
		Checkpointing: Checkpoint{Enabled: cp.Interval > 0, IntervalMS: cp.Interval.Milliseconds(), Mode: cp.Mode.String(),
			Unaligned: cp.Unaligned, TimeoutMS: cp.Timeout.Milliseconds(), Retain: cp.Retain},
		Vertices: []Vertex{}, Edges: []Edge{}}
	if cp.Interval > 0 {
		info.Checkpointing.Storage = cp.Storage
	}
	info.State, info.Error = s.state()
	counts := map[string]runtime.OperatorMetrics{}
	for _, m := range runtime.SumBySubtask(s.job.Metrics()) {
		counts[m.UID] = m
	}
	rates := s.samples.opRates()
	sh := s.samples.timeShares()
	dead := deadLettered(s.deadLetters, counts)
	backlogs, pendings := map[int]int64{}, map[int]int64{}
	for _, t := range s.job.Times() {
		if t.Backlog >= 0 {
			backlogs[t.VertexID] += t.Backlog
		}
		if t.Pending >= 0 {
			pendings[t.VertexID] += t.Pending
		}
	}
	commits := map[string]*Commit{}
	totals := map[string]time.Duration{}
	for _, c := range s.job.Commits() {
		x := commits[c.UID]
		if x == nil {
			x = &Commit{}
			commits[c.UID] = x
		}
		x.Count += c.Count
		totals[c.UID] += c.Total
		x.LastMS = max(x.LastMS, float64(c.Last)/float64(time.Millisecond))
	}
	for uid, x := range commits {
		x.MeanMS = float64(totals[uid]) / float64(time.Millisecond) / float64(x.Count)
	}
	for _, v := range plan.Vertices {
		vx := Vertex{ID: v.ID, Name: v.Name, Parallelism: v.Parallelism, MaxParallelism: v.MaxParallelism, Source: v.Source != nil}
		for _, op := range v.Ops {
			c := counts[op.UID]
			r := rates[op.UID]
			o := Operator{Name: op.Name, UID: op.UID, RecordsIn: c.RecordsIn, RecordsOut: c.RecordsOut,
				RecordsInPerSecond: r[0], RecordsOutPerSecond: r[1]}
			if n, ok := dead[op.UID]; ok {
				o.DeadLettered = &n
			}
			o.Commit = commits[op.UID]
			vx.Operators = append(vx.Operators, o)
		}
		for sub := range v.Parallelism {
			x := sh[[2]int{v.ID, sub}]
			vx.Backpressure = max(vx.Backpressure, x.bp)
			vx.Busy = max(vx.Busy, x.busy)
		}
		if n, ok := backlogs[v.ID]; ok {
			vx.Backlog = &n
		}
		if n, ok := pendings[v.ID]; ok {
			vx.Pending = &n
		}
		vx.Level = level(vx.Backpressure)
		info.Vertices = append(info.Vertices, vx)
		for _, e := range v.Inputs {
			from := e.From.Ops[e.FromOp]
			info.Edges = append(info.Edges, Edge{From: e.From.ID, To: v.ID, FromOperator: from.UID, Port: e.Port, Input: e.Input,
				Partitioning: e.Spec.Partitioning().String(), Type: e.Spec.Type().TypeName(), RecordsPerSecond: rates[from.UID][1]})
		}
	}
	if g := s.opts.Guarantee; g != nil {
		gj := &Guarantee{Guarantee: g.Guarantee.String(), Links: []GuaranteeLink{}, Weakest: []string{}, Downgrades: g.Downgrades}
		for _, l := range g.Links {
			gj.Links = append(gj.Links, GuaranteeLink{Role: l.Role, Name: l.Name, Guarantee: l.Declaration.Guarantee.String(), Reason: l.Declaration.Reason})
		}
		for _, l := range g.Weakest {
			gj.Weakest = append(gj.Weakest, l.Name)
		}
		info.Guarantee = gj
	}
	return info
}

func (s *Server) checkpoints() Checkpoints {
	st := s.job.Status()
	out := Checkpoints{Completed: st.CheckpointsCompleted, Failed: st.CheckpointsFailed, Restores: st.Restores, History: []CheckpointEntry{}}
	for _, c := range s.job.Checkpoints() {
		e := CheckpointEntry{ID: c.ID, Kind: c.Kind, Status: c.Status, Path: c.Path, Time: c.Time,
			DurationMS: float64(c.Duration) / float64(time.Millisecond), SizeBytes: c.KeyedBytes, Unaligned: c.Unaligned,
			InflightRecords: c.InflightRecords, Error: c.Err}
		for _, a := range c.Subtasks {
			e.Subtasks = append(e.Subtasks, CheckpointSubtask{Vertex: a.VertexID, Subtask: a.Subtask,
				AckMS: float64(a.Acked) / float64(time.Millisecond), Unaligned: a.Unaligned, InflightRecords: a.InflightRecords})
		}
		out.History = append(out.History, e)
	}
	return out
}

func (s *Server) backpressure() Backpressure {
	sh := s.samples.timeShares()
	out := Backpressure{Vertices: []VertexBackpressure{}}
	for _, v := range s.job.Plan().Vertices {
		vb := VertexBackpressure{ID: v.ID, Name: v.Name}
		worst := 0.0
		for sub := range v.Parallelism {
			x := sh[[2]int{v.ID, sub}]
			worst = max(worst, x.bp)
			vb.Subtasks = append(vb.Subtasks, SubtaskBusyness{Subtask: sub, Busy: x.busy, Idle: x.idle, Backpressured: x.bp})
		}
		vb.Level = level(worst)
		out.Vertices = append(out.Vertices, vb)
	}
	return out
}

func (s *Server) watermarks() Watermarks {
	now := time.Now().UnixMilli()
	out := Watermarks{Vertices: []VertexWatermarks{}}
	byVertex := map[int][]SubtaskWatermark{}
	for _, t := range s.job.Times() {
		sw := SubtaskWatermark{Subtask: t.Subtask}
		switch t.Watermark {
		case runtime.NoWatermark:
		case eventtime.MaxWatermark:
			sw.EndOfInput = true
		default:
			wm := t.Watermark
			lag := float64(now - wm)
			sw.WatermarkMS, sw.LagMS = &wm, &lag
		}
		byVertex[t.VertexID] = append(byVertex[t.VertexID], sw)
	}
	for _, v := range s.job.Plan().Vertices {
		out.Vertices = append(out.Vertices, VertexWatermarks{ID: v.ID, Name: v.Name, Subtasks: byVertex[v.ID]})
	}
	return out
}

func (s *Server) exceptions() Exceptions {
	fs := s.job.Failures()
	out := Exceptions{Restarts: s.job.Status().Restarts, Failures: []FailureEntry{}}
	for i := len(fs) - 1; i >= 0; i-- {
		f := fs[i]
		out.Failures = append(out.Failures, FailureEntry{Time: f.Time, Error: f.Err.Error(), Causes: f.Causes, Permanent: f.Permanent,
			Restarted: f.Restarted, RestartDelayMS: f.RestartDelay.Milliseconds()})
	}
	if st, msg := s.state(); st == "failed" {
		out.Final = &FinalException{Error: msg}
	}
	return out
}

func (s *Server) throughput() Throughput {
	smps := s.samples.all()
	out := Throughput{Times: []time.Time{}, Operators: []OperatorSeries{}}
	if len(smps) < 2 {
		return out
	}
	idx := map[string]int{}
	for _, m := range smps[len(smps)-1].ops {
		idx[m.UID] = len(out.Operators)
		out.Operators = append(out.Operators, OperatorSeries{UID: m.UID, Name: m.Operator})
	}
	for i := 1; i < len(smps); i++ {
		prev := map[string]runtime.OperatorMetrics{}
		for _, m := range smps[i-1].ops {
			prev[m.UID] = m
		}
		secs := smps[i].at.Sub(smps[i-1].at).Seconds()
		if secs <= 0 {
			continue
		}
		out.Times = append(out.Times, smps[i].at)
		for _, m := range smps[i].ops {
			k, ok := idx[m.UID]
			if !ok {
				continue
			}
			p := prev[m.UID]
			o := &out.Operators[k]
			o.RecordsInPerSec = append(o.RecordsInPerSec, float64(m.RecordsIn-p.RecordsIn)/secs)
			o.RecordsOutPerSec = append(o.RecordsOutPerSec, float64(m.RecordsOut-p.RecordsOut)/secs)
		}
	}
	return out
}
