package pipeline

import (
	"regexp"
	"strings"
	"time"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/state"
)

// Record is the element of every stream of a YAML pipeline: a JSON-like
// map whose values are nil, bool, int64, float64, string, []any or
// map[string]any. Integers stay int64 from input to output.
type Record = map[string]any

// Pipeline is a loaded and validated YAML pipeline. Build turns it into a
// job.
type Pipeline struct {
	// File is the file the pipeline was loaded from.
	File string
	// Name is the job's name (default: the file's base name).
	Name string
	// Parallelism is the default parallelism (0: 1).
	Parallelism int
	// MaxParallelism is the number of key groups (0: the default, 128).
	MaxParallelism int
	Source         *Source
	Steps          []*Step
	// Sink is the pipeline's sink; nil when Branches are used.
	Sink *Sink
	// Branches each read the output of Steps, with steps and a sink of
	// their own.
	Branches []*Branch
	// DeadLetter receives bad records (undecodable input, records an
	// expression fails on, late records where asked); nil: a bad record
	// fails the job.
	DeadLetter  *Sink
	Checkpoints Checkpoints
	// Restart is the restart strategy; nil: the runtime's default.
	Restart *Restart

	root *node
	opts loadOptions
}

// Checkpoints is the `checkpoints:` section.
type Checkpoints struct {
	Interval time.Duration // 0: no checkpoints
	Mode     runtime.CheckpointMode
	// Unaligned makes exactly-once checkpoints unaligned (see
	// runtime.CheckpointConfig.Unaligned).
	Unaligned bool
	// AlignedTimeout, with Unaligned, starts each checkpoint aligned and
	// switches to unaligned when alignment takes longer (0: unaligned from
	// the first barrier).
	AlignedTimeout    time.Duration
	Storage           string
	Retain            int
	Timeout           time.Duration
	MinPause          time.Duration
	MaxConcurrent     int
	TolerableFailures int
	// Incremental writes only the keyed state changed since the previous
	// checkpoint (see runtime.CheckpointConfig.Incremental); MaxDeltas
	// bounds the chain (0: the default).
	Incremental bool
	MaxDeltas   int
	// StopTimeout bounds the final checkpoint of a stop (0: the runtime's
	// default, see runtime.Config.StopTimeout).
	StopTimeout time.Duration
}

// Restart is the `restart:` section.
type Restart struct {
	Strategy string // none, fixed-delay, exponential-backoff, failure-rate
	// MaxRepeatedFailures ends the job after the same failure this many
	// times in a row from the same checkpoint (0: the runtime's default, 3;
	// -1: no limit).
	MaxRepeatedFailures int
	s                   restart.Strategy
}

// Source is the `source:` section.
type Source struct {
	Type        string
	Name        string
	UID         string
	Parallelism int
	// EventTime assigns event timestamps and watermarks; nil: none.
	EventTime *EventTime
	impl      sourceImpl
	n         *node
	// rec is the type of the records the source emits (nil: not known).
	rec *recordType
}

// EventTime is a source's `event_time:` section.
type EventTime struct {
	// Field or Expression gives the timestamp: unix milliseconds, or an
	// RFC 3339 string.
	Field             string
	Expression        string
	MaxOutOfOrderness time.Duration
	IdleTimeout       time.Duration
	expr              *expr
}

// Sink is a `sink:` (or `dead_letter:`) section.
type Sink struct {
	Type        string
	Name        string
	UID         string
	Parallelism int
	impl        sinkImpl
	path        string
}

// Branch is one item of `branches:`.
type Branch struct {
	Name  string
	Steps []*Step
	Sink  *Sink
	path  string
}

// Step is one item of `steps:`.
type Step struct {
	// Kind is filter, map, key_by, aggregate, window or dedupe.
	Kind        string
	Name        string
	UID         string
	Parallelism int
	// Path is where the step is, e.g. "steps[2]".
	Path string

	// bad marks a step with mistakes (Kind "" when not even its kind is
	// known): checks that depend on what it would do are skipped.
	bad bool

	filter *expr
	fields []field     // map
	key    []field     // key_by
	aggs   []aggSpec   // aggregate, window
	window *windowSpec // window
	dedupe *dedupeSpec // dedupe
	n      *node
}

// field is an output field and the expression that computes it.
type field struct {
	name string
	e    *expr
}

type windowSpec struct {
	assigner eventtime.Assigner // nil when size, slide or gap is a mistake
	procTime bool
	// timeUnknown: time: is a mistake, so procTime is a guess.
	timeUnknown bool
	lateness    time.Duration
	lateToDLQ   bool
	startField  string
	endField    string
	millis      bool
}

type dedupeSpec struct {
	ttl         time.Duration
	eventTime   bool
	timeUnknown bool // time: is a mistake
}

var (
	topKeys = []string{"name", "parallelism", "max_parallelism", "source", "steps", "sink", "branches",
		"dead_letter", "checkpoints", "restart"}
	stepKinds     = []string{"filter", "map", "key_by", "aggregate", "window", "dedupe"}
	stepCommon    = []string{"name", "uid", "parallelism"}
	sourceCommon  = []string{"type", "name", "uid", "parallelism", "event_time", "schema"}
	sinkCommon    = []string{"type", "name", "uid", "parallelism"}
	identRE       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	keyedStepKind = map[string]bool{"aggregate": true, "window": true, "dedupe": true}
)

// decodePipeline decodes and validates the whole document.
func (d *decoder) decodePipeline(root *node, p *Pipeline) {
	top := d.object(root, "", topKeys...)
	if top == nil {
		return
	}
	if root.kind == kindNull {
		d.fail(root, "", "the pipeline is empty; it needs at least source: and sink:")
		return
	}
	p.Name = d.str(top, "name", p.Name)
	p.Parallelism = int(d.integer(top, "parallelism", 0, 1, state.MaxMaxParallelism))
	p.MaxParallelism = int(d.integer(top, "max_parallelism", 0, 1, state.MaxMaxParallelism))
	if p.MaxParallelism > 0 && p.Parallelism > p.MaxParallelism {
		d.fail(top.get("parallelism"), "parallelism", "%d exceeds max_parallelism %d", p.Parallelism, p.MaxParallelism)
	}
	if n := top.get("source"); n != nil {
		p.Source = d.decodeSource(n, "source")
	} else {
		d.fail(root, "source", "missing; every pipeline reads from one source, e.g. source: {type: generator, count: 10, fields: {n: i}}; types: %s", strings.Join(sourceTypeNames(), ", "))
	}
	var rec *recordType
	if p.Source != nil {
		rec = p.Source.rec
	}
	p.Steps, rec = d.decodeSteps(top.get("steps"), "steps", p.Source, rec)
	keyedAtEnd := len(p.Steps) > 0 && p.Steps[len(p.Steps)-1].Kind == "key_by"
	if n := top.get("branches"); n != nil {
		if top.has("sink") {
			d.fail(top.get("sink"), "sink", "give either sink: or branches: (each branch has its own sink), not both")
		}
		if keyedAtEnd {
			d.fail(p.Steps[len(p.Steps)-1].n, p.Steps[len(p.Steps)-1].Path, "key_by cannot be the last shared step; put it in each branch")
		}
		items := d.list(n, "branches")
		if n.kind == kindSeq && len(items) == 0 {
			d.fail(n, "branches", "is empty; give at least one branch with steps: and sink:")
		}
		names := map[string]bool{}
		for i, it := range items {
			b := d.decodeBranch(it, index("branches", i), p.Source, rec)
			if b != nil {
				if names[b.Name] {
					d.fail(it, index("branches", i)+".name", "%q is used by another branch; branch names must be unique", b.Name)
				}
				names[b.Name] = true
				p.Branches = append(p.Branches, b)
			}
		}
	} else {
		if keyedAtEnd {
			last := p.Steps[len(p.Steps)-1]
			d.fail(last.n, last.Path, "key_by must be followed by aggregate, window or dedupe")
		}
		if n := top.get("sink"); n != nil {
			d.rec = rec
			p.Sink = d.decodeSink(n, "sink")
		} else {
			d.fail(root, "sink", "missing; every pipeline writes to a sink, e.g. sink: {type: stdout}; types: %s", strings.Join(sinkTypeNames(), ", "))
		}
	}
	if n := top.get("dead_letter"); n != nil {
		d.rec = deadLetterRecord
		p.DeadLetter = d.decodeSink(n, "dead_letter")
		if p.DeadLetter != nil && n.get("name") == nil {
			p.DeadLetter.Name = p.DeadLetter.Type + " (dead letters)"
		}
	}
	p.Checkpoints = d.decodeCheckpoints(top.get("checkpoints"))
	if n := top.get("restart"); n != nil {
		p.Restart = d.decodeRestart(n)
	}
	for _, st := range p.allSteps() {
		if st.window != nil && st.window.lateToDLQ && !top.has("dead_letter") {
			d.fail(st.n, st.Path+".window.late", "late: dead_letter needs a dead_letter: sink")
		}
	}
}

func (p *Pipeline) allSteps() []*Step {
	out := append([]*Step(nil), p.Steps...)
	for _, b := range p.Branches {
		out = append(out, b.Steps...)
	}
	return out
}

// decodeBranch decodes a branch reading records of type rec.
func (d *decoder) decodeBranch(n *node, path string, src *Source, rec *recordType) *Branch {
	o := d.object(n, path, "name", "steps", "sink")
	if o == nil {
		return nil
	}
	b := &Branch{path: path}
	b.Name = d.str(o, "name", strings.ReplaceAll(strings.ReplaceAll(path, "[", "-"), "]", ""))
	b.Steps, rec = d.decodeSteps(o.get("steps"), o.at("steps"), src, rec)
	if len(b.Steps) > 0 && b.Steps[len(b.Steps)-1].Kind == "key_by" {
		last := b.Steps[len(b.Steps)-1]
		d.fail(last.n, last.Path, "key_by must be followed by aggregate, window or dedupe")
	}
	if sn := o.get("sink"); sn != nil {
		d.rec = rec
		b.Sink = d.decodeSink(sn, o.at("sink"))
		if b.Sink != nil && sn.get("name") == nil {
			b.Sink.Name = b.Sink.Type + " (" + b.Name + ")"
		}
	} else {
		d.fail(n, o.at("sink"), "missing; every branch writes to a sink, e.g. sink: {type: stdout}")
	}
	return b
}

// decodeSteps decodes the steps at path, which read records of type rec,
// and returns them and the type of the records they emit.
func (d *decoder) decodeSteps(n *node, path string, src *Source, rec *recordType) ([]*Step, *recordType) {
	var out []*Step
	var prev *Step
	var key []field
	keyKnown := false
	for i, it := range d.list(n, path) {
		st := d.decodeStep(it, index(path, i), src, rec)
		if st == nil {
			// Not even its kind is known: no check about its neighbours.
			st = &Step{Path: index(path, i), n: it, bad: true}
		}
		if st.Kind == "key_by" {
			key, keyKnown = st.key, !st.bad
		}
		rec = st.output(rec, key, keyKnown)
		if st.Kind == "aggregate" || st.Kind == "window" {
			d.checkOutputs(st, key)
		}
		if keyedStepKind[st.Kind] && (prev == nil || (prev.Kind != "" && prev.Kind != "key_by" && prev.Kind != "dedupe")) {
			d.fail(it, st.Path, "%s works per key: put a key_by step right before it (e.g. - key_by: user)", st.Kind)
		}
		if prev != nil && prev.Kind == "key_by" && st.Kind != "" && !keyedStepKind[st.Kind] {
			d.fail(it, st.Path, "%s cannot follow key_by; key_by must be followed by aggregate, window or dedupe", st.Kind)
		}
		if st.Kind == "window" && st.window != nil && !st.window.procTime && !st.window.timeUnknown && src != nil && src.EventTime == nil {
			d.fail(it, st.Path+".window", "an event-time window needs event timestamps: add source.event_time "+
				"(e.g. event_time: {field: ts, max_out_of_orderness: 5s}), or window on processing time (time: processing)")
		}
		if st.Kind == "dedupe" && st.dedupe != nil && st.dedupe.eventTime && !st.dedupe.timeUnknown && src != nil && src.EventTime == nil {
			d.fail(it, st.Path+".dedupe.time", "event-time dedupe needs event timestamps: add source.event_time, or use time: processing")
		}
		out = append(out, st)
		prev = st
	}
	return out, rec
}
