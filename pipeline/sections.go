package pipeline

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/restart"
	"github.com/sluicehq/sluice/state"
)

func (d *decoder) decodeSource(n *node, path string) *Source {
	if n.kind != kindMap {
		d.fail(n, path, "expected a mapping with type: and its options, got %s; types: %s", describe(n), strings.Join(sourceTypeNames(), ", "))
		return nil
	}
	typ := ""
	if tn := n.get("type"); tn != nil && tn.kind == kindScalar {
		typ = tn.text
	}
	st, ok := lookupSourceType(typ)
	if !ok {
		tn := n.get("type")
		if tn == nil || tn.kind == kindNull {
			d.fail(n, sub(path, "type"), "missing; use one of: %s", strings.Join(sourceTypeNames(), ", "))
		} else {
			d.fail(tn, sub(path, "type"), "unknown source type %s%s; use one of: %s", describe(tn), suggest(typ, sourceTypeNames()), strings.Join(sourceTypeNames(), ", "))
		}
		return nil
	}
	allowed := append(slices.Clone(sourceCommon), st.keys...)
	o := d.object(n, path, allowed...)
	if o == nil {
		return nil
	}
	s := &Source{Type: typ, n: n}
	s.Name = d.str(o, "name", typ)
	s.UID = d.str(o, "uid", "")
	s.Parallelism = int(d.integer(o, "parallelism", 0, 1, state.MaxMaxParallelism))
	// The type of the records is known only when the schema and the
	// source's options have no mistake (no mistakes that would follow
	// from those); mistakes recordType finds (a record that does not fit
	// the schema) leave it known.
	before := d.errs.count()
	schema := d.decodeSchema(o.get("schema"), o.at("schema"))
	s.impl = st.decode(d, o)
	if s.impl != nil && d.errs.count() == before {
		s.rec = s.impl.recordType(d, o, schema)
	}
	if en := o.get("event_time"); en != nil {
		d.rec = s.rec
		s.EventTime = d.decodeEventTime(en, o.at("event_time"))
	}
	// A source with mistakes is still returned (without impl when its
	// options are wrong), so that the steps are checked against what is
	// known of it (event_time) and not against a missing source.
	return s
}

func (d *decoder) decodeEventTime(n *node, path string) *EventTime {
	o := d.object(n, path, "field", "expression", "max_out_of_orderness", "idle_timeout")
	if o == nil {
		return &EventTime{}
	}
	et := &EventTime{}
	et.Field = d.str(o, "field", "")
	et.Expression = d.str(o, "expression", "")
	switch {
	case et.Field != "" && et.Expression != "":
		d.fail(o.get("expression"), o.at("expression"), "give field or expression, not both")
	case et.Field != "":
		if !identRE.MatchString(et.Field) {
			d.fail(o.get("field"), o.at("field"), "%q is not a field name; use expression: for a CEL expression", et.Field)
			break
		}
		e, err := compile("record."+et.Field, d.scope(), outTime)
		if err != nil {
			d.fail(o.get("field"), o.at("field"), "%v", err)
			break
		}
		et.expr = e
	case et.Expression != "":
		et.expr = d.expression(o.get("expression"), o.at("expression"), d.scope(), outTime)
	default:
		d.fail(n, path, "give field: (a field holding unix milliseconds or an RFC 3339 time) or expression: (CEL)")
	}
	et.MaxOutOfOrderness = d.duration(o, "max_out_of_orderness", 0, 0)
	if err := eventtime.ValidateOutOfOrderness(et.MaxOutOfOrderness); err != nil && !d.bad(o.get("max_out_of_orderness")) {
		d.fail(o.get("max_out_of_orderness"), o.at("max_out_of_orderness"), "%v", err)
	}
	et.IdleTimeout = d.duration(o, "idle_timeout", 0, 0)
	return et
}

func (d *decoder) decodeSink(n *node, path string) *Sink {
	if n.kind != kindMap {
		d.fail(n, path, "expected a mapping with type: and its options, got %s; types: %s", describe(n), strings.Join(sinkTypeNames(), ", "))
		return nil
	}
	typ := ""
	if tn := n.get("type"); tn != nil && tn.kind == kindScalar {
		typ = tn.text
	}
	st, ok := lookupSinkType(typ)
	if !ok {
		tn := n.get("type")
		if tn == nil || tn.kind == kindNull {
			d.fail(n, sub(path, "type"), "missing; use one of: %s", strings.Join(sinkTypeNames(), ", "))
		} else {
			d.fail(tn, sub(path, "type"), "unknown sink type %s%s; use one of: %s", describe(tn), suggest(typ, sinkTypeNames()), strings.Join(sinkTypeNames(), ", "))
		}
		return nil
	}
	o := d.object(n, path, append(slices.Clone(sinkCommon), st.keys...)...)
	if o == nil {
		return nil
	}
	s := &Sink{Type: typ, path: path}
	s.Name = d.str(o, "name", typ)
	s.UID = d.str(o, "uid", "")
	s.Parallelism = int(d.integer(o, "parallelism", 0, 1, state.MaxMaxParallelism))
	s.impl = st.decode(d, o)
	if s.impl == nil {
		return nil
	}
	return s
}

// checkpointsSection is the checkpoints: section, decoded strictly by its
// tags as the options of connectors are (config.go). Timeout's minimum is
// minCheckpointInterval.
type checkpointsSection struct {
	Interval          time.Duration `yaml:"interval" min:"0" required:"checkpoints need an interval, e.g. interval: 10s"`
	Mode              string        `yaml:"mode" enum:"exactly-once,at-least-once"`
	Storage           string        `yaml:"storage"`
	Retain            int           `yaml:"retain" min:"1"`
	Timeout           time.Duration `yaml:"timeout" min:"10ms"`
	MinPause          time.Duration `yaml:"min_pause" min:"0"`
	MaxConcurrent     int           `yaml:"max_concurrent" min:"1" max:"1000"`
	TolerableFailures int           `yaml:"tolerable_failures" min:"-1"`
	Unaligned         bool          `yaml:"unaligned"`
	AlignedTimeout    time.Duration `yaml:"aligned_timeout" min:"0"`
	Incremental       bool          `yaml:"incremental"`
	MaxDeltas         int           `yaml:"max_deltas" min:"1" max:"100000"`
	StopTimeout       time.Duration `yaml:"stop_timeout" min:"1ms"`
}

func (d *decoder) decodeCheckpoints(n *node) Checkpoints {
	s := checkpointsSection{Mode: "exactly-once"}
	v := reflect.ValueOf(&s).Elem()
	o := d.object(n, "checkpoints", configKeys(v.Type())...)
	if o == nil || n == nil {
		return Checkpoints{}
	}
	d.decodeStruct(o, v, false)
	c := Checkpoints{Interval: s.Interval, Unaligned: s.Unaligned, AlignedTimeout: s.AlignedTimeout, Storage: s.Storage,
		Retain: s.Retain, Timeout: s.Timeout, MinPause: s.MinPause, MaxConcurrent: s.MaxConcurrent,
		TolerableFailures: s.TolerableFailures, StopTimeout: s.StopTimeout, Incremental: s.Incremental, MaxDeltas: s.MaxDeltas}
	if c.Interval > 0 && c.Interval < minCheckpointInterval {
		d.fail(o.get("interval"), o.at("interval"), "%v is too short; it must be 0s (no checkpoints) or at least %v", c.Interval, minCheckpointInterval)
	}
	if s.Mode == "at-least-once" {
		c.Mode = runtime.AtLeastOnce
	}
	if c.Unaligned && c.Mode == runtime.AtLeastOnce {
		d.fail(o.get("unaligned"), o.at("unaligned"), "unaligned checkpoints are a kind of exactly-once checkpoint, "+
			"and mode: at-least-once does not align barriers at all; drop unaligned: or use mode: exactly-once")
	}
	if o.has("aligned_timeout") && !c.Unaligned && !d.bad(o.get("unaligned")) {
		d.fail(o.get("aligned_timeout"), o.at("aligned_timeout"), "goes with unaligned: true (checkpoints start aligned "+
			"and switch to unaligned after this long); add unaligned: true or drop aligned_timeout:")
	}
	if o.has("max_deltas") && !c.Incremental && !d.bad(o.get("incremental")) {
		d.fail(o.get("max_deltas"), o.at("max_deltas"), "bounds the chain of incremental checkpoints; add incremental: true or drop max_deltas:")
	}
	return c
}

// minCheckpointInterval is the shortest checkpoint interval and timeout
// the runtime accepts (checkpoint/coordinator.MinInterval, which the
// runtime checks again when the job starts); it is here so that a shorter
// one is a mistake with its line.
const minCheckpointInterval = 10 * time.Millisecond

var restartStrategies = []string{"none", "fixed-delay", "exponential-backoff", "failure-rate"}

func (d *decoder) decodeRestart(n *node) *Restart {
	keys := map[string][]string{
		"none":                {},
		"fixed-delay":         {"attempts", "delay"},
		"exponential-backoff": {"initial", "max", "multiplier", "jitter", "reset_after", "max_attempts"},
		"failure-rate":        {"max_failures", "interval", "delay"},
	}
	if n.kind != kindMap {
		d.fail(n, "restart", "expected a mapping with strategy: (%s) and its options, got %s", strings.Join(restartStrategies, ", "), describe(n))
		return nil
	}
	name := ""
	if sn := n.get("strategy"); sn != nil && sn.kind == kindScalar {
		name = sn.text
	}
	allowed, ok := keys[name]
	if !ok {
		sn := n.get("strategy")
		if sn == nil {
			d.fail(n, "restart.strategy", "missing; use one of: %s", strings.Join(restartStrategies, ", "))
		} else {
			d.fail(sn, "restart.strategy", "%s is not a restart strategy%s; use one of: %s", describe(sn), suggest(name, restartStrategies), strings.Join(restartStrategies, ", "))
		}
		return nil
	}
	o := d.object(n, "restart", append([]string{"strategy", "max_repeated_failures"}, allowed...)...)
	if o == nil {
		return nil
	}
	r := &Restart{Strategy: name}
	r.MaxRepeatedFailures = int(d.integer(o, "max_repeated_failures", 0, -1, math.MaxInt32))
	before := d.errs.count()
	switch name {
	case "none":
		r.s = restart.None()
	case "fixed-delay":
		attempts := d.integer(o, "attempts", 3, -1, math.MaxInt32)
		delay := d.duration(o, "delay", time.Second, 0)
		if d.errs.count() == before {
			r.s = restart.FixedDelay(int(attempts), delay)
		}
	case "failure-rate":
		maxF := d.integer(o, "max_failures", 3, 0, math.MaxInt32)
		interval := d.duration(o, "interval", time.Minute, time.Millisecond)
		delay := d.duration(o, "delay", time.Second, 0)
		if d.errs.count() == before {
			r.s = restart.FailureRate(int(maxF), interval, delay)
		}
	case "exponential-backoff":
		cfg := restart.BackoffConfig{
			Initial:     d.duration(o, "initial", 0, 0),
			Max:         d.duration(o, "max", 0, 0),
			Multiplier:  d.number(o, "multiplier", 0, 0),
			Jitter:      d.number(o, "jitter", 0, 0),
			ResetAfter:  d.duration(o, "reset_after", 0, 0),
			MaxAttempts: int(d.integer(o, "max_attempts", 0, 0, math.MaxInt32)),
		}
		if o.has("jitter") && cfg.Jitter == 0 {
			cfg.Jitter = -1 // jitter: 0 means none
		}
		if d.errs.count() > before {
			break // Validate would see defaults in place of the mistakes
		}
		if err := cfg.Validate(); err != nil {
			d.fail(n, "restart", "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
		} else {
			r.s = restart.ExponentialBackoff(cfg)
		}
	}
	return r
}
