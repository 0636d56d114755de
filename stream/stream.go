package stream

import (
	"fmt"

	"github.com/sluicehq/sluice/graph"
	"github.com/sluicehq/sluice/runtime"
)

// Stream is a stream of records of type T: the main output or a side
// output of one operator.
type Stream[T any] struct {
	env  *Env
	node *graph.Node
	port string
}

// Env returns the environment the stream belongs to.
func (s Stream[T]) Env() *Env { return s.env }

// Name sets the name of the operator that produces the stream.
func (s Stream[T]) Name(name string) Stream[T] {
	if s.own(fmt.Sprintf("Name(%q)", name)) {
		s.node.Name = name
	}
	return s
}

// UID sets the stable id that maps the operator's state in checkpoints.
// Set it on every stateful operator of a job that must survive changes.
func (s Stream[T]) UID(uid string) Stream[T] {
	if s.own(fmt.Sprintf("UID(%q)", uid)) {
		s.node.UID = uid
	}
	return s
}

// Parallelism sets the number of subtasks of the operator; n must be at
// least 1 (Execute reports an invalid n).
func (s Stream[T]) Parallelism(n int) Stream[T] {
	if setting := fmt.Sprintf("Parallelism(%d)", n); s.own(setting) && s.env.checkParallelism(s.node, setting, n) {
		s.node.Parallelism = n
	}
	return s
}

// MaxParallelism sets the operator's number of key groups, from 1 to
// state.MaxMaxParallelism (Execute reports an invalid n).
func (s Stream[T]) MaxParallelism(n int) Stream[T] {
	if setting := fmt.Sprintf("MaxParallelism(%d)", n); s.own(setting) && s.env.checkMaxParallelism(s.node, setting, n) {
		s.node.MaxParallelism = n
	}
	return s
}

// StartNewChain keeps the operator out of its predecessor's chain.
func (s Stream[T]) StartNewChain() Stream[T] {
	if s.own("StartNewChain()") {
		s.node.Chaining = graph.ChainHead
	}
	return s
}

// DisableChaining runs the operator alone in its goroutine.
func (s Stream[T]) DisableChaining() Stream[T] {
	if s.own("DisableChaining()") {
		s.node.Chaining = graph.ChainNever
	}
	return s
}

// own reports whether the stream's settings are its operator's: a side
// output has no operator of its own, so a setting on it (which would
// change the operator that produces the main stream too) is refused.
func (s Stream[T]) own(setting string) bool {
	if s.port != "" {
		s.env.refuse(s.node, "SideOutput(...)."+setting, "a side output has no operator of its own: set this on the stream of the operator that produces it")
		return false
	}
	return true
}

// Rebalance spreads the stream round-robin over the next operator's
// subtasks.
func (s Stream[T]) Rebalance() Stream[T] {
	return s.repartition("Rebalance", runtime.Rebalance)
}

// Broadcast sends every record to every subtask of the next operator.
func (s Stream[T]) Broadcast() Stream[T] {
	return s.repartition("Broadcast", runtime.Broadcast)
}

// repartition inserts a pass-through operator fed over a partitioned edge.
func (s Stream[T]) repartition(name string, p runtime.Partitioning) Stream[T] {
	return add[T](s.env, &graph.Node{Name: name, Chaining: graph.ChainHead,
		New: func(main any, _ map[string]any) (runtime.Operator, error) {
			return &passOp[T]{base[T]{out: main.(runtime.Output[T])}}, nil
		},
		Inputs: []*graph.Edge{s.edge(runtime.NewEdge[T](p, nil), 0)},
	})
}

// Union merges streams of the same type.
func (s Stream[T]) Union(others ...Stream[T]) Stream[T] {
	inputs := []*graph.Edge{s.edge(runtime.NewEdge[T](runtime.Rebalance, nil), 0)}
	for _, o := range others {
		inputs = append(inputs, o.edge(runtime.NewEdge[T](runtime.Rebalance, nil), 0))
	}
	return add[T](s.env, &graph.Node{Name: "Union", Chaining: graph.ChainHead,
		New: func(main any, _ map[string]any) (runtime.Operator, error) {
			return &passOp[T]{base[T]{out: main.(runtime.Output[T])}}, nil
		},
		Inputs: inputs,
	})
}

func (s Stream[T]) edge(spec runtime.EdgeSpec, input int) *graph.Edge {
	return &graph.Edge{From: s.node, Port: s.port, Input: input, Spec: spec}
}

func (s Stream[T]) forward() *graph.Edge {
	return s.edge(runtime.NewEdge[T](runtime.Forward, nil), 0)
}

// add appends node with main output type O and returns its stream.
func add[O any](env *Env, n *graph.Node) Stream[O] {
	if n.Out == nil && n.Kind != graph.KindSink {
		n.Out = runtime.TypeOf[O]()
	}
	env.g.Add(n)
	return Stream[O]{env: env, node: n}
}

// OutputTag names a side output carrying T.
type OutputTag[T any] struct{ id string }

// NewOutputTag returns the tag of a side output called id.
func NewOutputTag[T any](id string) OutputTag[T] { return OutputTag[T]{id: id} }

// ID is the tag's name.
func (t OutputTag[T]) ID() string { return t.id }

// SideOutput returns the side output tag of the operator producing s.
func SideOutput[T, X any](s Stream[X], tag OutputTag[T]) Stream[T] {
	n := s.node
	if n.Side == nil {
		n.Side = map[string]runtime.TypeHandle{}
	}
	n.Side[tag.id] = runtime.TypeOf[T]()
	return Stream[T]{env: s.env, node: n, port: tag.id}
}
