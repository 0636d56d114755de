package stream

import (
	"fmt"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/connector/collection"
	"github.com/sluicehq/sluice/connector/stdout"
	"github.com/sluicehq/sluice/eventtime"
	"github.com/sluicehq/sluice/graph"
	"github.com/sluicehq/sluice/runtime"
)

// FromSource adds a source. ws assigns timestamps and generates watermarks
// per split (eventtime.NoWatermarks[T]() when the job does not use event
// time).
func FromSource[T any](env *Env, name string, src connector.Source[T], ws eventtime.Strategy[T]) Stream[T] {
	return add[T](env, &graph.Node{Kind: graph.KindSource, Name: name, Source: runtime.SourceSpecOf(src), Connector: src,
		New: func(main any, side map[string]any) (runtime.Operator, error) {
			return runtime.NewSourceOperator(src, ws, runtime.SourceOptions{}, main.(runtime.Output[T]), side), nil
		}})
}

// DeadLetters returns the bad records a source rejected (undecodable
// input), so they can be written somewhere instead of failing the job.
// Without a call to DeadLetters, a bad record fails the job with its
// location.
func DeadLetters[T any](src Stream[T]) Stream[connector.BadRecord] {
	if src.node.Kind != graph.KindSource {
		panic("stream.DeadLetters: " + src.node.Name + " is not a source")
	}
	return SideOutput(src, NewOutputTag[connector.BadRecord](runtime.DeadLetterTag))
}

// FromSlice adds a bounded source of items (exactly-once).
func FromSlice[T any](env *Env, items []T) Stream[T] {
	return FromSource(env, "Collection", collection.Slice(items), eventtime.NoWatermarks[T]())
}

// Generate adds a source of fn(0), ..., fn(n-1); n < 0 is unbounded.
func Generate[T any](env *Env, n int64, fn func(i int64) T) Stream[T] {
	return FromSource(env, "Generator", collection.Generate(n, fn), eventtime.NoWatermarks[T]())
}

// Sink is the end of a stream.
type Sink struct {
	env  *Env
	node *graph.Node
}

// Name sets the sink's name.
func (s Sink) Name(name string) Sink { s.node.Name = name; return s }

// UID sets the sink's uid.
func (s Sink) UID(uid string) Sink { s.node.UID = uid; return s }

// Parallelism sets the sink's parallelism; n must be at least 1 (Execute
// reports an invalid n).
func (s Sink) Parallelism(n int) Sink {
	if s.env.checkParallelism(s.node, fmt.Sprintf("Parallelism(%d)", n), n) {
		s.node.Parallelism = n
	}
	return s
}

// SinkTo writes the stream to snk.
func (s Stream[T]) SinkTo(name string, snk connector.Sink[T]) Sink {
	n := &graph.Node{Kind: graph.KindSink, Name: name, Connector: snk, Inputs: []*graph.Edge{s.forward()},
		New: func(any, map[string]any) (runtime.Operator, error) { return runtime.NewSinkOperator(snk), nil }}
	s.env.g.Add(n)
	return Sink{env: s.env, node: n}
}

// Print writes every record to standard output, one line per record (fmt
// %v); at-least-once with checkpoints.
func (s Stream[T]) Print() Sink { return s.SinkTo("Print", stdout.New[T]()) }
