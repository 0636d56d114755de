package pipeline

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/state"
	"github.com/sluicehq/sluice/stream"
)

// Overrides change a pipeline at build time (the flags of `sluice run`).
type Overrides struct {
	// Parallelism, when > 0, replaces the pipeline's default parallelism.
	Parallelism int
	// Set overrides keys of the file (see WithSet); the pipeline is
	// decoded and validated again.
	Set []string
	// Restore is "" (fresh start), "latest" or the path of a checkpoint or
	// savepoint.
	Restore string
	// AllowNonRestoredState lets a restore drop state of operators the job
	// no longer has.
	AllowNonRestoredState bool
	// Fresh starts over although the checkpoint storage holds checkpoints
	// of an earlier run (see stream.WithFresh).
	Fresh bool
	// Logger is the job's logger (default slog.Default()).
	Logger *slog.Logger
	// Events receives job events.
	Events chan<- runtime.JobEvent
	// Clock is the processing-time clock (default the system clock).
	Clock runtime.Clock
	// Stdout is where stdout sinks write (default os.Stdout).
	Stdout io.Writer
}

// Build turns the pipeline into a job: the same job graph the Go API
// builds, run by the same runtime (env.Start or env.Execute).
func Build(p *Pipeline, o Overrides) (*stream.Env, error) {
	if len(o.Set) > 0 {
		q, err := decode(p.File, clone(p.root), loadOptions{env: p.opts.env, set: append(append([]string(nil), p.opts.set...), o.Set...)}, &errs{file: p.File})
		if err != nil {
			return nil, err
		}
		p = q
	}
	var opts []stream.Option
	par := p.Parallelism
	if o.Parallelism > 0 {
		par = o.Parallelism
	}
	if par > 0 {
		opts = append(opts, stream.WithParallelism(par))
	}
	if p.MaxParallelism > 0 {
		opts = append(opts, stream.WithMaxParallelism(p.MaxParallelism))
	}
	c := p.Checkpoints
	if c.Interval > 0 || c.Storage != "" {
		opts = append(opts, stream.WithCheckpointConfig(runtime.CheckpointConfig{
			Interval: c.Interval, Mode: c.Mode, Unaligned: c.Unaligned, AlignedTimeout: c.AlignedTimeout,
			Timeout: c.Timeout, MinPause: c.MinPause,
			MaxConcurrent: c.MaxConcurrent, TolerableFailures: c.TolerableFailures,
			Storage: c.Storage, Retain: c.Retain, Incremental: c.Incremental, MaxDeltas: c.MaxDeltas,
		}))
	}
	if p.Restart != nil && p.Restart.MaxRepeatedFailures != 0 {
		opts = append(opts, stream.WithMaxRepeatedFailures(p.Restart.MaxRepeatedFailures))
	}
	if p.Checkpoints.StopTimeout > 0 {
		opts = append(opts, stream.WithStopTimeout(p.Checkpoints.StopTimeout))
	}
	if p.Restart != nil && p.Restart.s != nil {
		opts = append(opts, stream.WithRestart(p.Restart.s))
	}
	if o.Restore != "" {
		opts = append(opts, stream.WithRestore(o.Restore))
	}
	if o.Fresh {
		opts = append(opts, stream.WithFresh())
	}
	if o.AllowNonRestoredState {
		opts = append(opts, stream.WithAllowNonRestoredState())
	}
	if o.Logger != nil {
		opts = append(opts, stream.WithLogger(o.Logger))
	}
	if o.Events != nil {
		opts = append(opts, stream.WithEvents(o.Events))
	}
	if o.Clock != nil {
		opts = append(opts, stream.WithClock(o.Clock))
	}
	b := &builder{p: p, env: stream.New(p.Name, opts...), dlq: p.DeadLetter != nil, stdout: o.Stdout, log: o.Logger,
		par: max(par, 1)}
	if b.stdout == nil {
		b.stdout = os.Stdout
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if err := b.build(); err != nil {
		return nil, err
	}
	return b.env, nil
}

// builder builds one job.
type builder struct {
	p      *Pipeline
	env    *stream.Env
	dlq    bool
	bad    []stream.Stream[connector.BadRecord]
	stdout io.Writer
	log    *slog.Logger
	// par is the job's default parallelism.
	par int
}

// keyed is a record on its way to a keyed step: its key (canonical, for
// partitioning and state), the key's values, and the evaluated arguments
// of the step's aggregates.
type keyed struct {
	key  string
	vals []any
	rec  Record
	args []any
}

var badTag = stream.NewOutputTag[connector.BadRecord]("bad-records")

// uid turns a path such as "branches[0].steps[2]" into "branches-0-steps-2".
func uid(path string) string {
	r := strings.NewReplacer("[", "-", "]", "", ".", "-", "_", "-")
	return r.Replace(path)
}

func (b *builder) build() error {
	p := b.p
	s, par, err := b.source(p.Source)
	if err != nil {
		return err
	}
	s, par, err = b.steps(s, par, p.Steps)
	if err != nil {
		return err
	}
	if len(p.Branches) == 0 {
		if err := b.sink(s, par, p.Sink); err != nil {
			return err
		}
	}
	for _, br := range p.Branches {
		bs, bpar, err := b.steps(s, par, br.Steps)
		if err != nil {
			return err
		}
		if err := b.sink(bs, bpar, br.Sink); err != nil {
			return err
		}
	}
	if p.DeadLetter != nil {
		if len(b.bad) == 0 {
			return nil
		}
		all := b.bad[0]
		if len(b.bad) > 1 {
			all = all.Union(b.bad[1:]...).Name("Union(bad records)").UID("dead-letter-union")
		}
		recs := stream.Map(all, badToRecord).Name("BadRecord -> record").UID("dead-letter-map")
		if err := b.sink(recs, 0, p.DeadLetter); err != nil {
			return err
		}
	}
	return nil
}

func badToRecord(br connector.BadRecord) Record {
	return Record{"source": br.Source, "location": br.Location, "raw": string(br.Raw), "error": br.Error}
}

// fail handles a record a step cannot process: to the dead-letter output,
// or, without one, an error that fails the job for good (the record would
// fail every restart again).
func (b *builder) fail(ctx *stream.Context, where string, rec Record, err error) error {
	raw, jerr := json.Marshal(rec)
	if jerr != nil {
		raw = fmt.Appendf(nil, "%v", rec)
	}
	if len(raw) > 4096 {
		raw = append(raw[:4096:4096], "..."...)
	}
	br := connector.BadRecord{Source: b.p.Name, Location: where, Raw: raw, Error: err.Error()}
	if b.dlq {
		stream.Side(ctx, badTag, br)
		return nil
	}
	return connector.Permanent(fmt.Errorf("%w; the record: %s", &connector.BadRecordError{Record: br}, raw))
}

// process adds a step operator whose failures go to fail.
func process[I, O any](b *builder, s stream.Stream[I], name, id string, par int, fn stream.ProcessFunc[I, O]) stream.Stream[O] {
	out := stream.Process(s, fn).Name(name).UID(id)
	if par > 0 {
		out = out.Parallelism(par)
	}
	if b.dlq {
		b.bad = append(b.bad, stream.SideOutput(out, badTag))
	}
	return out
}

// source adds the source and returns its records and the parallelism of
// the operator that emits them.
func (b *builder) source(src *Source) (stream.Stream[Record], int, error) {
	var ws eventtime.Strategy[Record]
	et := src.EventTime
	if et != nil {
		ws = eventtime.BoundedOutOfOrderness[Record](et.MaxOutOfOrderness).WithTimestamps(func(v Record, prev int64) int64 {
			ts, err := et.timestamp(v)
			if err != nil {
				return runtime.NoTimestamp
			}
			return ts
		})
		if et.IdleTimeout > 0 {
			ws = ws.WithIdleness(et.IdleTimeout)
		}
	}
	s, err := src.impl.build(b, src, ws)
	if err != nil {
		return s, 0, fmt.Errorf("%s: source: %w", b.p.File, err)
	}
	if et != nil {
		// Records whose timestamp could not be read are bad records.
		s = process(b, s, "Check event time", "source-event-time", src.Parallelism,
			func(ctx *stream.Context, v Record, out stream.Collector[Record]) error {
				if ctx.Timestamp() == runtime.NoTimestamp {
					_, err := et.timestamp(v)
					if err == nil {
						err = fmt.Errorf("the record has no event timestamp")
					}
					return b.fail(ctx, "source.event_time", v, err)
				}
				out.Collect(v)
				return nil
			})
	}
	if r, ok := src.impl.(*registeredSource); ok {
		if dd, ok := r.cfg.(connector.Deduplicated); ok {
			if field, horizon, on := dd.DedupeBy(); on {
				return b.dedupeSource(s, src, field, horizon), 0, nil
			}
		}
	}
	return s, src.Parallelism, nil
}

// sourceID is the UID of the source.
func sourceID(src *Source) string {
	if src.UID == "" {
		return "source"
	}
	return src.UID
}

// dedupeSource routes the records of src by their id, field, through a
// deduplication stage at the job's parallelism (connector.Deduplicated),
// and removes field after it. A record whose id is missing or not a
// string is a bad record.
func (b *builder) dedupeSource(s stream.Stream[Record], src *Source, field string, horizon time.Duration) stream.Stream[Record] {
	id := sourceID(src)
	where := fmt.Sprintf("source (%s).%s", src.Name, field)
	ids := process(b, s, "Check id ("+field+")", id+"-dedupe-id", src.Parallelism,
		func(ctx *stream.Context, v Record, out stream.Collector[wireRecord]) error {
			x, ok := v[field]
			if str, isStr := x.(string); !ok || !isStr || str == "" {
				what := "missing"
				switch {
				case x == "":
					what = "empty"
				case ok:
					what = typeName(x) + ", not a string"
				}
				return b.fail(ctx, where, v, fmt.Errorf("no id to deduplicate by: the %s source's field %q is %s", src.Type, field, what))
			}
			out.Collect(wireRecord{r: v})
			return nil
		})
	dd := stream.Deduplicate(ids, func(w wireRecord) string { s, _ := w.r[field].(string); return s }, horizon).
		Name(fmt.Sprintf("deduplicate by %s within %v", field, horizon)).UID(id + "-dedupe")
	return stream.Map(dd, func(w wireRecord) Record {
		delete(w.r, field)
		return w.r
	}).Name("Drop " + field).UID(id + "-dedupe-drop")
}

func (et *EventTime) timestamp(v Record) (int64, error) {
	x, err := et.expr.eval(v)
	if err != nil {
		return 0, err
	}
	ts, err := toMillis(x)
	if err != nil {
		return 0, fmt.Errorf("event time %s: %w", et.expr.src, err)
	}
	return ts, nil
}

// sink adds the sink snk reading s, produced by operators of parallelism
// par.
func (b *builder) sink(s stream.Stream[Record], par int, snk *Sink) error {
	id := snk.UID
	if id == "" {
		id = uid(snk.path)
	}
	s = b.exchange(s, par, snk.Parallelism, id)
	out, err := snk.impl.build(b, s, snk)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", b.p.File, snk.path, err)
	}
	out.Name(snk.Name).UID(id)
	if snk.Parallelism > 0 {
		out.Parallelism(snk.Parallelism)
	}
	return nil
}

// steps adds the steps after s, produced by operators of parallelism par
// (0: the default), and returns their output and its parallelism.
func (b *builder) steps(s stream.Stream[Record], par int, steps []*Step) (stream.Stream[Record], int, error) {
	var (
		ks    stream.Stream[keyed] // keyed records after key_by or dedupe
		key   []field
		keyOn bool
	)
	for i, st := range steps {
		id := st.UID
		if id == "" {
			id = uid(st.Path)
		}
		where := st.Path + "." + st.Kind
		if st.Kind == "filter" || st.Kind == "map" || st.Kind == "key_by" {
			s = b.exchange(s, par, st.Parallelism, id)
			par = st.Parallelism
		}
		switch st.Kind {
		case "filter":
			e := st.filter
			s = process(b, s, st.Name, id, st.Parallelism, func(ctx *stream.Context, v Record, out stream.Collector[Record]) error {
				ok, err := e.evalBool(v)
				if err != nil {
					return b.fail(ctx, where, v, err)
				}
				if ok {
					out.Collect(v)
				}
				return nil
			})
		case "map":
			fields := st.fields
			s = process(b, s, st.Name, id, st.Parallelism, func(ctx *stream.Context, v Record, out stream.Collector[Record]) error {
				rec := make(Record, len(fields))
				for _, f := range fields {
					x, err := f.e.eval(v)
					if err != nil {
						return b.fail(ctx, where+"."+f.name, v, err)
					}
					rec[f.name] = x
				}
				out.Collect(rec)
				return nil
			})
		case "key_by":
			key = st.key
			var next *Step
			if i+1 < len(steps) {
				next = steps[i+1]
			}
			ks = prepareRecords(b, s, st, id, key, next)
			keyOn = true
		case "aggregate", "window", "dedupe":
			if !keyOn {
				return s, par, fmt.Errorf("%s: %s needs a key_by before it", b.p.File, st.Path)
			}
			if i > 0 && steps[i-1].Kind == "dedupe" && hasArgs(st.aggs) {
				ks = prepareKeyed(b, ks, st, id+"-args")
			}
			kst := stream.KeyBy(ks, func(k keyed) string { return k.key })
			switch st.Kind {
			case "aggregate":
				s = b.runningAggregate(kst, st, id, key)
				par, keyOn = st.Parallelism, false
			case "window":
				s = b.window(kst, st, id, key)
				par, keyOn = st.Parallelism, false
			case "dedupe":
				ks = b.dedupe(kst, st, id)
				if i+1 < len(steps) && keyedStepKind[steps[i+1].Kind] {
					continue // the next step is keyed by the same key
				}
				s = stream.Map(ks, func(k keyed) Record { return k.rec }).Name(st.Name + " (records)").UID(id + "-records")
				if st.Parallelism > 0 {
					s = s.Parallelism(st.Parallelism)
				}
				par, keyOn = st.Parallelism, false
			}
		}
	}
	return s, par, nil
}

func hasArgs(aggs []aggSpec) bool {
	for _, a := range aggs {
		if a.arg != nil {
			return true
		}
	}
	return false
}

// evalArgs evaluates the arguments of aggs over rec.
func evalArgs(aggs []aggSpec, rec Record) ([]any, string, error) {
	if !hasArgs(aggs) {
		return nil, "", nil
	}
	args := make([]any, len(aggs))
	for j, a := range aggs {
		if a.arg == nil {
			continue
		}
		x, err := a.arg.eval(rec)
		if err != nil {
			return nil, a.out, err
		}
		if a.fn == "sum" || a.fn == "avg" {
			switch x.(type) {
			case int64, uint64, float64:
			default:
				return nil, a.out, fmt.Errorf("%s(%s): got %s, want a number", a.fn, a.arg.src, typeName(x))
			}
		}
		args[j] = x
	}
	return args, "", nil
}

// prepareRecords evaluates the key (and the next step's aggregate
// arguments) of every record.
func prepareRecords(b *builder, s stream.Stream[Record], st *Step, id string, key []field, next *Step) stream.Stream[keyed] {
	where := st.Path + ".key_by"
	var aggs []aggSpec
	if next != nil {
		aggs = next.aggs
	}
	return process(b, s, st.Name, id, st.Parallelism, func(ctx *stream.Context, v Record, out stream.Collector[keyed]) error {
		vals := make([]any, len(key))
		for j, f := range key {
			x, err := f.e.eval(v)
			if err != nil {
				return b.fail(ctx, where+"."+f.name, v, err)
			}
			vals[j] = x
		}
		args, which, err := evalArgs(aggs, v)
		if err != nil {
			return b.fail(ctx, aggPath(next, which), v, err)
		}
		out.Collect(keyed{key: canonicalKey(vals), vals: vals, rec: v, args: args})
		return nil
	})
}

// aggPath is the path of the aggregate out of step st.
func aggPath(st *Step, out string) string {
	if st.Kind == "window" {
		return st.Path + ".window.aggregate." + out
	}
	return st.Path + ".aggregate." + out
}

// prepareKeyed evaluates the aggregate arguments of st over keyed records.
func prepareKeyed(b *builder, ks stream.Stream[keyed], st *Step, id string) stream.Stream[keyed] {
	aggs := st.aggs
	return process(b, ks, st.Name+" (arguments)", id, st.Parallelism, func(ctx *stream.Context, v keyed, out stream.Collector[keyed]) error {
		args, which, err := evalArgs(aggs, v.rec)
		if err != nil {
			return b.fail(ctx, aggPath(st, which), v.rec, err)
		}
		v.args = args
		out.Collect(v)
		return nil
	})
}

// output builds the record of a key's aggregates.
func output(key []field, keyVals []any, aggs []aggSpec, a acc, extra func(Record)) Record {
	rec := make(Record, len(key)+len(aggs)+2)
	for j, f := range key {
		if j < len(keyVals) {
			rec[f.name] = keyVals[j]
		}
	}
	if extra != nil {
		extra(rec)
	}
	for j, ag := range aggs {
		var v aggVal
		if j < len(a.Vals) {
			v = a.Vals[j]
		}
		rec[ag.out] = v.result(ag.fn)
	}
	return rec
}

func (b *builder) runningAggregate(k stream.KeyedStream[string, keyed], st *Step, id string, key []field) stream.Stream[Record] {
	aggs := st.aggs
	out := stream.ProcessKeyed(k, func() stream.KeyedProcessFunction[string, keyed, Record] {
		var vs state.ValueState[acc]
		return stream.KeyedProcessFuncs[string, keyed, Record]{
			OpenFn: func(rt *stream.KeyedRuntime[string]) error {
				var err error
				vs, err = stream.ValueStateWith(rt, "aggregate", state.JSONCodec[acc]())
				return err
			},
			ProcessFn: func(_ *stream.KeyedContext[string], v keyed, c stream.Collector[Record]) error {
				cur, _ := vs.Value()
				next := cur.add(aggs, v)
				vs.Update(next)
				c.Collect(output(key, v.vals, aggs, next, nil))
				return nil
			},
		}
	}).Name(st.Name).UID(id)
	if st.Parallelism > 0 {
		out = out.Parallelism(st.Parallelism)
	}
	return out
}

// windowAgg adapts the aggregates to stream.AggregateFunction.
type windowAgg struct{ aggs []aggSpec }

func (w windowAgg) CreateAccumulator() acc { return acc{} }
func (w windowAgg) Add(a acc, v keyed) acc { return a.add(w.aggs, v) }
func (w windowAgg) Result(a acc) acc       { return a }
func (w windowAgg) Merge(a, other acc) acc { return mergeAcc(w.aggs, a, other) }

func formatWindowTime(ms int64, millis bool) any {
	if millis {
		return ms
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func (b *builder) window(k stream.KeyedStream[string, keyed], st *Step, id string, key []field) stream.Stream[Record] {
	ws := st.window
	aggs := st.aggs
	w := stream.Window(k, ws.assigner)
	if ws.procTime {
		w = w.ProcessingTime()
	}
	if ws.lateness > 0 {
		w = w.AllowedLateness(ws.lateness)
	}
	lateTag := stream.NewOutputTag[keyed]("late-records")
	if ws.lateToDLQ {
		w = w.LateRecords(lateTag)
	}
	out := stream.AggregateWindowWith(w, stream.AggregateFunction[keyed, acc, acc](windowAgg{aggs: aggs}),
		func(_ string, win eventtime.TimeWindow, a acc, c stream.Collector[Record]) error {
			c.Collect(output(key, a.Key, aggs, a, func(r Record) {
				r[ws.startField] = formatWindowTime(win.Start, ws.millis)
				r[ws.endField] = formatWindowTime(win.End, ws.millis)
			}))
			return nil
		}).Name(st.Name).UID(id)
	if st.Parallelism > 0 {
		out = out.Parallelism(st.Parallelism)
	}
	if ws.lateToDLQ && b.dlq {
		where := st.Path + ".window"
		late := stream.Map(stream.SideOutput(out, lateTag), func(k keyed) connector.BadRecord {
			raw, _ := json.Marshal(k.rec)
			return connector.BadRecord{Source: b.p.Name, Location: where, Raw: raw,
				Error: "late record: its windows were already fired and purged (raise allowed_lateness or max_out_of_orderness)"}
		}).Name(st.Name + " (late records)").UID(id + "-late")
		b.bad = append(b.bad, late)
	}
	return out
}

func (b *builder) dedupe(k stream.KeyedStream[string, keyed], st *Step, id string) stream.Stream[keyed] {
	ttl := st.dedupe.ttl.Milliseconds()
	eventTime := st.dedupe.eventTime
	where := st.Path + ".dedupe"
	out := stream.ProcessKeyed(k, func() stream.KeyedProcessFunction[string, keyed, keyed] {
		var until state.ValueState[int64]
		return stream.KeyedProcessFuncs[string, keyed, keyed]{
			OpenFn: func(rt *stream.KeyedRuntime[string]) error {
				var err error
				until, err = stream.ValueState[int64](rt, "dedupe-until")
				return err
			},
			ProcessFn: func(ctx *stream.KeyedContext[string], v keyed, c stream.Collector[keyed]) error {
				now := ctx.ProcessingTime()
				if eventTime {
					now = ctx.Timestamp()
					if now == runtime.NoTimestamp {
						return b.fail(&ctx.Context, where, v.rec, fmt.Errorf("event-time dedupe got a record without an event timestamp"))
					}
				}
				if u, ok := until.Value(); ok && now < u {
					return nil // a repeat within the ttl
				}
				exp := now + ttl
				until.Update(exp)
				if eventTime {
					ctx.RegisterEventTimeTimer(exp)
				} else {
					ctx.RegisterProcessingTimeTimer(exp)
				}
				c.Collect(v)
				return nil
			},
			OnTimerFn: func(_ *stream.KeyedContext[string], ts int64, _ stream.Collector[keyed]) error {
				if u, ok := until.Value(); ok && u <= ts {
					until.Clear()
				}
				return nil
			},
		}
	}).Name(st.Name).UID(id)
	if st.Parallelism > 0 {
		out = out.Parallelism(st.Parallelism)
	}
	if b.dlq {
		b.bad = append(b.bad, stream.SideOutput(out, badTag))
	}
	return out
}
