package runtime

import "sync/atomic"

// OperatorMetrics are the record counts of one operator subtask, or of all
// subtasks of an operator ([SumBySubtask]).
//
// RecordsIn counts the records delivered to the operator's ProcessRecord,
// from the network (in-flight records replayed after a restore included)
// or from its predecessor in the chain. A source has none: it counts only
// what it emits.
//
// RecordsOut counts the records the operator emitted through its outputs:
// the main output and side outputs alike (a source's dead-letter output
// too), also when nothing consumes them. A record emitted once counts once,
// however many consumers receive it (several successors, a broadcast
// edge). A sink emits nothing.
//
// The counts are work counters, not output counts: they are cumulative
// over the life of the [Job] in this process, across in-process restarts,
// so records processed again after a restore (replayed from the source's
// checkpointed position) are counted again, and a job restored in a new
// process starts from zero.
//
// Each task publishes its counts when it flushes its output batches (about
// every buffer timeout while it is busy, and whenever it runs out of
// input) and when it ends, so the figures of a running job lag a little
// behind, more so under backpressure; once [Job.Wait] returned they are
// final.
type OperatorMetrics struct {
	// Operator is the operator's name in the plan.
	Operator string
	UID      string
	// Subtask is the subtask index, -1 for a sum over subtasks.
	Subtask    int
	RecordsIn  int64
	RecordsOut int64
}

// Metrics returns the record counts of every operator subtask: vertices
// in plan order, the operators of a chain in chain order, then subtasks in
// order. It may be called at any time from any goroutine, also after the
// job ended (the final counts).
func (j *Job) Metrics() []OperatorMetrics {
	var out []OperatorMetrics
	for vi, v := range j.plan.Vertices {
		for oi, op := range v.Ops {
			for s := range v.Parallelism {
				c := j.counters.cell(vi, oi, s)
				out = append(out, OperatorMetrics{Operator: op.Name, UID: op.UID, Subtask: s,
					RecordsIn: c.in.Load(), RecordsOut: c.out.Load()})
			}
		}
	}
	return out
}

// SumBySubtask folds the entries of the same operator (by UID) into one
// with Subtask -1, in the order in which the operators first appear in m.
func SumBySubtask(m []OperatorMetrics) []OperatorMetrics {
	var out []OperatorMetrics
	at := map[string]int{}
	for _, e := range m {
		i, ok := at[e.UID]
		if !ok {
			at[e.UID] = len(out)
			e.Subtask = -1
			out = append(out, e)
			continue
		}
		out[i].RecordsIn += e.RecordsIn
		out[i].RecordsOut += e.RecordsOut
	}
	return out
}

// opCells are the published counts of one operator subtask. They live on
// the Job, so that they outlive attempts: the tasks of every attempt add to
// them.
type opCells struct {
	in, out atomic.Int64
}

// jobCounters holds the cells of every operator subtask of a plan.
type jobCounters struct {
	cells [][][]opCells // [vertex index][operator index][subtask]
}

func newJobCounters(p *Plan) jobCounters {
	c := jobCounters{cells: make([][][]opCells, len(p.Vertices))}
	for vi, v := range p.Vertices {
		c.cells[vi] = make([][]opCells, len(v.Ops))
		for oi := range v.Ops {
			c.cells[vi][oi] = make([]opCells, v.Parallelism)
		}
	}
	return c
}

func (c *jobCounters) cell(vertex, op, subtask int) *opCells {
	return &c.cells[vertex][op][subtask]
}

// counting is implemented by the outputs the runtime hands to operators
// (chained calls, network writers, fan-outs, discards): count is the
// number of records collected through the output, kept in plain fields
// that only the task goroutine touches, and called only by it.
type counting interface {
	count() int64
}

// countFunc adapts a function to counting.
type countFunc func() int64

func (f countFunc) count() int64 { return f() }

// opMeter gathers the counts of one operator of a task's chain. The task
// goroutine sums its sources and adds what changed since the last publish
// to the Job's cells.
type opMeter struct {
	in, out       []counting
	inPub, outPub int64 // the sums last published
	cells         *opCells
}

func (m *opMeter) publish() {
	var in, out int64
	for _, c := range m.in {
		in += c.count()
	}
	for _, c := range m.out {
		out += c.count()
	}
	if d := in - m.inPub; d != 0 {
		m.cells.in.Add(d)
		m.inPub = in
	}
	if d := out - m.outPub; d != 0 {
		m.cells.out.Add(d)
		m.outPub = out
	}
}

// publishMetrics makes the task's counts visible to Job.Metrics. It runs in
// the task goroutine.
func (t *task) publishMetrics() {
	for i := range t.meters {
		t.meters[i].publish()
	}
}

// countOf returns the counter of an output the runtime created.
func countOf(out any) counting { return out.(counting) }
