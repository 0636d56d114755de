package runtime

import (
	"fmt"
	"strings"
)

// Plan is a physical job: vertices (operator chains) with their
// parallelism and the network edges between them. The graph package
// compiles a logical graph into a Plan.
type Plan struct {
	Name string
	// Vertices in topological order.
	Vertices []*Vertex
}

// Vertex is a chain of operators run by Parallelism subtasks.
type Vertex struct {
	ID             int
	Name           string
	Parallelism    int
	MaxParallelism int
	// Ops is the chain in topological order; Ops[0] is the head.
	Ops []*OpSpec
	// Inputs are the network edges into the head.
	Inputs []*NetEdge
	// Source is set when the head is a source operator.
	Source SourceSpec
}

// OpSpec describes one operator of a chain.
type OpSpec struct {
	Name string
	// UID identifies the operator's state in checkpoints. It must be stable
	// across versions of the job for a restore to find the state.
	UID string
	// Out is the type of the main output; nil for sinks.
	Out TypeHandle
	// Side holds the types of side outputs by tag.
	Side map[string]TypeHandle
	// New creates the operator for one subtask. main is an Output[T] for
	// Out (a discarding one when nothing consumes it); side holds one
	// Output per side-output tag.
	New func(main any, side map[string]any) (Operator, error)
	// Chained are the outputs to later operators of the same chain.
	Chained []ChainedEdge
	// Net are the outputs over the network.
	Net []*NetEdge
	// Keyed operators get a key-group range.
	Keyed bool
}

// ChainedEdge connects an operator to a later one in the same chain.
type ChainedEdge struct {
	Port string // "" for the main output, else a side-output tag
	To   int    // index in Vertex.Ops
	Spec EdgeSpec
}

// NetEdge connects an operator's output port to the head of another
// vertex.
type NetEdge struct {
	From   *Vertex
	FromOp int
	Port   string
	To     *Vertex
	Input  int
	Spec   EdgeSpec
}

// Validate checks the plan's internal consistency.
func (p *Plan) Validate() error {
	if len(p.Vertices) == 0 {
		return fmt.Errorf("job %q has no operators", p.Name)
	}
	uids := map[string]string{}
	for _, v := range p.Vertices {
		if v.Parallelism < 1 {
			return fmt.Errorf("vertex %q: parallelism %d, must be at least 1", v.Name, v.Parallelism)
		}
		if v.MaxParallelism < v.Parallelism {
			return fmt.Errorf("vertex %q: parallelism %d exceeds max parallelism %d", v.Name, v.Parallelism, v.MaxParallelism)
		}
		for _, op := range v.Ops {
			if prev, ok := uids[op.UID]; ok {
				return fmt.Errorf("operators %q and %q have the same uid %q; uids must be unique", prev, op.Name, op.UID)
			}
			uids[op.UID] = op.Name
		}
		for _, e := range v.Inputs {
			if e.Spec.Partitioning() == Forward && e.From.Parallelism != v.Parallelism {
				return fmt.Errorf("forward edge from %q (parallelism %d) to %q (parallelism %d): forward needs equal parallelism",
					e.From.Name, e.From.Parallelism, v.Name, v.Parallelism)
			}
		}
	}
	return nil
}

// String renders the plan for humans.
// linearChain reports whether each operator of ops feeds the next one's
// main input and nothing else in the chain.
func linearChain(ops []*OpSpec) bool {
	for i, op := range ops {
		switch {
		case i == len(ops)-1 && len(op.Chained) == 0:
		case len(op.Chained) == 1 && op.Chained[0].To == i+1 && op.Chained[0].Port == "":
		default:
			return false
		}
	}
	return true
}

func (p *Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "job %q\n", p.Name)
	for _, v := range p.Vertices {
		if linearChain(v.Ops) {
			names := make([]string, len(v.Ops))
			for i, op := range v.Ops {
				names[i] = op.Name
			}
			fmt.Fprintf(&b, "  [%d] %s  parallelism=%d\n", v.ID, strings.Join(names, " -> "), v.Parallelism)
		} else {
			// A chain that forks: each operator with the ones it feeds.
			fmt.Fprintf(&b, "  [%d] parallelism=%d\n", v.ID, v.Parallelism)
			for i, op := range v.Ops {
				var to []string
				for _, c := range op.Chained {
					t := fmt.Sprintf("(%d)", c.To)
					if c.Port != "" {
						t += " side-output " + c.Port
					}
					to = append(to, t)
				}
				arrow := ""
				if len(to) > 0 {
					arrow = " -> " + strings.Join(to, ", ")
				}
				fmt.Fprintf(&b, "      (%d) %s%s\n", i, op.Name, arrow)
			}
		}
		for _, e := range v.Inputs {
			port := ""
			if e.Port != "" {
				port = " side-output " + e.Port
			}
			fmt.Fprintf(&b, "      <- [%d]%s %s (%s)\n", e.From.ID, port, e.Spec.Partitioning(), e.Spec.Type().TypeName())
		}
	}
	return b.String()
}
