package graph

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/state"
)

// Graph is a logical job graph.
type Graph struct {
	Name string
	// Parallelism is the default parallelism of operators (default 1).
	Parallelism int
	// MaxParallelism is the default number of key groups (default
	// state.DefaultMaxParallelism). It cannot change between a checkpoint
	// and its restore.
	MaxParallelism int
	// Chaining fuses operators into chains where possible (default on;
	// set DisableChaining to turn it off for the whole job).
	DisableChaining bool
	Nodes           []*Node
}

// Chaining says how a node may be fused with its neighbours.
type Chaining uint8

const (
	// ChainAlways fuses the node with its predecessor when possible.
	ChainAlways Chaining = iota
	// ChainHead starts a new chain at the node (successors may chain to it).
	ChainHead
	// ChainNever puts the node alone in its chain.
	ChainNever
)

// Kind is what a node is, for plans and the guarantee model.
type Kind uint8

const (
	KindOperator Kind = iota
	KindSource
	KindSink
)

// Node is one operator.
type Node struct {
	ID   int
	Kind Kind
	Name string
	// UID identifies the node's state in checkpoints; generated from the
	// name and position when empty (set it to keep state across changes of
	// the job's shape).
	UID            string
	Parallelism    int // 0: the graph's default
	MaxParallelism int // 0: the graph's default
	Chaining       Chaining
	Out            runtime.TypeHandle
	Side           map[string]runtime.TypeHandle
	New            func(main any, side map[string]any) (runtime.Operator, error)
	Source         runtime.SourceSpec
	Keyed          bool
	Inputs         []*Edge
	// Connector is the source or sink behind a source or sink node, for the
	// guarantee model (a connector.Declarer when it declares one).
	Connector any
}

// Edge is an input of a node.
type Edge struct {
	From  *Node
	Port  string // "" main output, else side-output tag
	Input int    // input index at the receiving node
	Spec  runtime.EdgeSpec
}

// Add appends a node and gives it its id.
func (g *Graph) Add(n *Node) *Node {
	n.ID = len(g.Nodes)
	g.Nodes = append(g.Nodes, n)
	return n
}

func (g *Graph) parallelism(n *Node) int {
	if n.Parallelism > 0 {
		return n.Parallelism
	}
	if g.Parallelism > 0 {
		return g.Parallelism
	}
	return 1
}

func (g *Graph) maxParallelism(n *Node) int {
	if n.MaxParallelism > 0 {
		return n.MaxParallelism
	}
	if g.MaxParallelism > 0 {
		return g.MaxParallelism
	}
	return state.DefaultMaxParallelism
}

// UID returns the node's uid, generated when the user set none.
func (g *Graph) UID(n *Node) string {
	if n.UID != "" {
		return n.UID
	}
	return fmt.Sprintf("%s-%d", slug(n.Name), n.ID)
}

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
				b.WriteByte('-')
			}
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// Sources returns the source connectors of the graph.
func (g *Graph) Sources() []*Node { return g.byKind(KindSource) }

// Sinks returns the sink nodes of the graph.
func (g *Graph) Sinks() []*Node { return g.byKind(KindSink) }

func (g *Graph) byKind(k Kind) []*Node {
	var out []*Node
	for _, n := range g.Nodes {
		if n.Kind == k {
			out = append(out, n)
		}
	}
	return out
}

// Declaration returns the guarantee the node's connector declares, if any.
func (n *Node) Declaration(checkpointing bool) (connector.Declaration, bool) {
	if d, ok := n.Connector.(connector.Declarer); ok {
		return d.Declare(checkpointing), true
	}
	return connector.Declaration{}, false
}
