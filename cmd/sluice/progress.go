package main

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/runtime"
)

// progress is the status line of a running job on a terminal: elapsed
// time, the last completed checkpoint, restarts, and the records in and
// out of every operator (its subtasks summed), refreshed every second. It
// is also the writer of the logs, so that a log line first clears the
// status line and then redraws it below. Off a terminal it only passes
// writes through; the command logs the counts instead (attrs).
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	shown    bool // the status line is on screen
	// width returns the terminal's columns, 0 when unknown (nil: unknown).
	width func() int

	job        string
	noCheckpts bool // the job takes no checkpoints
	started    time.Time
	lastID     int64
	lastAt     time.Time
	aborted    int
	restarts   int
	stopping   bool
	lastFailed string

	metrics func() []runtime.OperatorMetrics // nil: no counts
	roles   map[string]opRole                // by operator uid
	ops     []runtime.OperatorMetrics        // last read, subtasks summed
}

// opRole says which counts of an operator mean something: a source
// receives no records, a sink emits none.
type opRole uint8

const (
	roleOperator opRole = iota
	roleSource
	roleSink
)

// defaultWidth is the width of the status line when the terminal's is
// unknown.
const defaultWidth = 120

func newProgress(w io.Writer, terminal bool) *progress {
	return &progress{w: w, terminal: terminal}
}

// Write writes p (log lines) above the status line.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	n, err := p.w.Write(b)
	p.drawLocked()
	return n, err
}

// start shows the status line of job. metrics, when not nil, gives the
// record counts of the plan's operators.
func (p *progress) start(job string, plan *runtime.Plan, metrics func() []runtime.OperatorMetrics) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.job, p.started = job, time.Now()
	p.metrics, p.roles = metrics, rolesOf(plan)
	p.refreshLocked()
	p.drawLocked()
}

func rolesOf(plan *runtime.Plan) map[string]opRole {
	roles := map[string]opRole{}
	if plan == nil {
		return roles
	}
	for _, v := range plan.Vertices {
		for i, op := range v.Ops {
			switch {
			case i == 0 && v.Source != nil:
				roles[op.UID] = roleSource
			case op.Out == nil:
				roles[op.UID] = roleSink
			}
		}
	}
	return roles
}

// refreshLocked reads the record counts.
func (p *progress) refreshLocked() {
	if p.metrics != nil {
		p.ops = runtime.SumBySubtask(p.metrics())
	}
}

// attrs reads the record counts and returns them as log attributes:
// elapsed, then the counts of every operator: <operator>.out of a source,
// <operator>.in of a sink, both of the others.
func (p *progress) attrs() []any {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refreshLocked()
	out := []any{slog.String("elapsed", p.elapsedLocked())}
	for i, op := range p.ops {
		l := p.labelLocked(i)
		role := p.roles[op.UID]
		if role != roleSource {
			out = append(out, slog.Int64(l+".in", op.RecordsIn))
		}
		if role != roleSink {
			out = append(out, slog.Int64(l+".out", op.RecordsOut))
		}
	}
	return out
}

// labelLocked names operator i of p.ops: its name, or name[uid] when
// another operator has the same name.
func (p *progress) labelLocked(i int) string {
	for j, op := range p.ops {
		if j != i && op.Operator == p.ops[i].Operator {
			return p.ops[i].Operator + "[" + p.ops[i].UID + "]"
		}
	}
	return p.ops[i].Operator
}

func (p *progress) elapsed() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.elapsedLocked()
}

func (p *progress) elapsedLocked() string {
	if p.started.IsZero() {
		return "0s"
	}
	return time.Since(p.started).Round(time.Millisecond).String()
}

func (p *progress) event(ev runtime.JobEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev.Kind {
	case "checkpoint-completed":
		p.lastID, p.lastAt = ev.CheckpointID, ev.Time
	case "checkpoint-aborted":
		p.aborted++
	case "restarting":
		p.restarts++
		if ev.Err != nil {
			p.lastFailed = ev.Err.Error()
		}
	}
	p.clearLocked()
	p.drawLocked()
}

func (p *progress) setStopping() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopping = true
	p.clearLocked()
	p.drawLocked()
}

// draw reads the record counts and redraws the status line.
func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refreshLocked()
	p.clearLocked()
	p.drawLocked()
}

// finish removes the status line for good.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	p.terminal = false
}

func (p *progress) clearLocked() {
	if p.shown {
		io.WriteString(p.w, "\r\x1b[K")
		p.shown = false
	}
}

func (p *progress) drawLocked() {
	if !p.terminal || p.started.IsZero() {
		return
	}
	width := 0
	if p.width != nil {
		width = p.width()
	}
	if width <= 0 {
		width = defaultWidth
	}
	// One column short of the width: a line that fills it would wrap on
	// some terminals, and clearing it would leave the first part behind.
	io.WriteString(p.w, p.statusLocked(time.Now(), width-1))
	p.shown = true
}

// truncate shortens s to at most n runes, ending it with an ellipsis.
func truncate(s string, n int) string {
	if n < 1 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// shorten shortens s to at most n runes (at least 2) by replacing its
// middle with an ellipsis: the start of an operator's name often says its
// kind, the end which one it is ("file (page-views)": "file (…views)").
func shorten(s string, n int) string {
	n = max(n, 2)
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	head := (n - 1) / 2
	tail := n - 1 - head
	return string(r[:head]) + "…" + string(r[len(r)-tail:])
}

// minLabel is the fewest runes a shortened source or sink name keeps.
const minLabel = 5

// statusLocked renders the status line in at most width runes (without a
// newline). Sources and sinks come first and are never left out. At full
// length the line reads
//
//	job running 1m02s | checkpoint 12 completed 1s ago | generator 1.2M out | file 1.1M in | Filter(x) 1.2M in 1.1M out | Ctrl-C stops
//
// with the other operators, then the hint, added as long as they fit.
// When the sources and sinks do not fit so, the line is compact:
//
//	job running 1m02s | chk 12 1s ago | generator 1.2M → file 1.1M | Filter(x) 1.2M in 1.1M out
//
// and when they still do not fit, it leaves out the job's name and
// shortens theirs in the middle as far as needed.
func (p *progress) statusLocked(now time.Time, width int) string {
	var sources, sinks, others []int // indexes into p.ops
	for i, op := range p.ops {
		switch p.roles[op.UID] {
		case roleSource:
			sources = append(sources, i)
		case roleSink:
			sinks = append(sinks, i)
		default:
			others = append(others, i)
		}
	}
	ends := slices.Concat(sources, sinks)
	fits := func(s string) bool { return utf8.RuneCountInString(s) <= width }
	elapsed := formatElapsed(now.Sub(p.started))
	state := "running"
	if p.stopping {
		state = "stopping"
	}
	head := fmt.Sprintf("%s %s %s", p.job, state, elapsed)
	var notes []string // aborted checkpoints and restarts
	if p.aborted > 0 {
		notes = append(notes, fmt.Sprintf("%d aborted", p.aborted))
	}
	if p.restarts > 0 {
		notes = append(notes, fmt.Sprintf("%d restarts", p.restarts))
	}

	// Full form.
	var chk string
	switch {
	case p.lastID > 0:
		chk = fmt.Sprintf("checkpoint %d completed %s ago", p.lastID, formatElapsed(now.Sub(p.lastAt)))
	case p.noCheckpts:
		chk = "no checkpoints"
	default:
		chk = "no checkpoint completed yet"
	}
	parts := slices.Concat([]string{head, chk}, notes)
	for _, i := range ends {
		parts = append(parts, p.countsLocked(i))
	}
	line := strings.Join(parts, " | ")

	if !fits(line) {
		// Compact form: sources → sinks.
		switch {
		case p.lastID > 0:
			chk = fmt.Sprintf("chk %d %s ago", p.lastID, formatElapsed(now.Sub(p.lastAt)))
		case p.noCheckpts:
			chk = "no chk"
		default:
			chk = "no chk yet"
		}
		labels := map[int]string{}
		for _, i := range ends {
			labels[i] = p.labelLocked(i)
		}
		flow := func() string {
			render := func(ids []int) string {
				s := make([]string, len(ids))
				for j, i := range ids {
					s[j] = labels[i] + " " + humanCount(p.count(i))
				}
				return strings.Join(s, ", ")
			}
			if len(sources) > 0 && len(sinks) > 0 {
				return render(sources) + " → " + render(sinks)
			}
			return render(ends)
		}
		parts = slices.Concat([]string{head, chk}, notes)
		if len(ends) > 0 {
			parts = append(parts, flow())
		}
		line = strings.Join(parts, " | ")
		if !fits(line) {
			// Without the job's name, names shortened.
			parts[0] = elapsed
			if p.stopping {
				parts[0] = "stopping " + elapsed
			}
			if len(ends) > 0 {
				line = strings.Join(parts, " | ")
				over := utf8.RuneCountInString(line) - width
				fitLabels(labels, over)
				parts[len(parts)-1] = flow()
			}
			return truncate(strings.Join(parts, " | "), width)
		}
	}
	for _, i := range others {
		if next := line + " | " + p.countsLocked(i); fits(next) {
			line = next
		}
	}
	if next := line + " | Ctrl-C stops"; fits(next) {
		line = next
	}
	return line
}

// countsLocked renders operator i of p.ops with its counts: a source's
// records out, a sink's records in, both of the others.
func (p *progress) countsLocked(i int) string {
	op := p.ops[i]
	s := p.labelLocked(i)
	role := p.roles[op.UID]
	if role != roleSource {
		s += " " + humanCount(op.RecordsIn) + " in"
	}
	if role != roleSink {
		s += " " + humanCount(op.RecordsOut) + " out"
	}
	return s
}

// count is the one count of a source (out) or a sink (in).
func (p *progress) count(i int) int64 {
	if p.roles[p.ops[i].UID] == roleSource {
		return p.ops[i].RecordsOut
	}
	return p.ops[i].RecordsIn
}

// fitLabels shortens the labels by over runes in all, taking a rune from
// the longest label each time, none below minLabel runes (so the line may
// still be too long).
func fitLabels(labels map[int]string, over int) {
	lens := map[int]int{}
	ids := make([]int, 0, len(labels))
	for i, l := range labels {
		lens[i] = utf8.RuneCountInString(l)
		ids = append(ids, i)
	}
	slices.Sort(ids)
	for ; over > 0; over-- {
		longest := -1
		for _, i := range ids {
			if lens[i] > minLabel && (longest < 0 || lens[i] > lens[longest]) {
				longest = i
			}
		}
		if longest < 0 {
			break
		}
		lens[longest]--
	}
	for i, n := range lens {
		labels[i] = shorten(labels[i], n)
	}
}

func formatElapsed(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}

// humanCount renders n with three significant digits at most and a unit:
// 999, 1.2k, 34k, 567k, 1.2M, 3.4G.
func humanCount(n int64) string {
	if n < 1000 {
		return strconv.FormatInt(n, 10)
	}
	f := float64(n)
	for _, u := range []string{"k", "M", "G", "T", "P", "E"} {
		f /= 1000
		switch {
		case f < 9.95:
			return strconv.FormatFloat(f, 'f', 1, 64) + u
		case f < 999.5:
			return strconv.FormatFloat(f, 'f', 0, 64) + u
		}
	}
	return strconv.FormatInt(n, 10)
}
