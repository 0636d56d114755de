package graph

import (
	"fmt"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/state"
)

// Compile validates the graph and turns it into a runtime plan.
func (g *Graph) Compile() (*runtime.Plan, error) {
	if len(g.Nodes) == 0 {
		return nil, fmt.Errorf("job %q has no operators: add a source", g.Name)
	}
	if g.MaxParallelism < 0 || g.MaxParallelism > state.MaxMaxParallelism {
		return nil, fmt.Errorf("max parallelism %d out of range [1, %d]", g.MaxParallelism, state.MaxMaxParallelism)
	}
	outs := make([][]*Edge, len(g.Nodes)) // outgoing edges by node
	for _, n := range g.Nodes {
		p, mp := g.parallelism(n), g.maxParallelism(n)
		if p > mp {
			return nil, fmt.Errorf("operator %q: parallelism %d exceeds max parallelism %d; raise the max parallelism (it cannot change later without losing keyed state)", n.Name, p, mp)
		}
		if mp > state.MaxMaxParallelism {
			return nil, fmt.Errorf("operator %q: max parallelism %d exceeds %d", n.Name, mp, state.MaxMaxParallelism)
		}
		if n.Kind == KindSource || n.Kind == KindSink {
			if _, ok := n.Connector.(connector.Declarer); !ok {
				role := "source"
				if n.Kind == KindSink {
					role = "sink"
				}
				return nil, fmt.Errorf("%s %q (%T) declares no delivery guarantee, so the job's guarantee cannot be known: "+
					"the connector must implement connector.Declarer", role, n.Name, n.Connector)
			}
		}
		if n.Kind == KindSource && len(n.Inputs) > 0 {
			return nil, fmt.Errorf("source %q cannot have inputs", n.Name)
		}
		if n.Kind != KindSource && len(n.Inputs) == 0 {
			return nil, fmt.Errorf("operator %q has no input", n.Name)
		}
		for _, e := range n.Inputs {
			if e.From.ID >= n.ID {
				return nil, fmt.Errorf("operator %q: input from %q is not earlier in the graph (cycles are not supported)", n.Name, e.From.Name)
			}
			outs[e.From.ID] = append(outs[e.From.ID], e)
		}
	}
	// Resolve partitioning: forward needs equal parallelism.
	type resolved struct {
		e    *Edge
		to   *Node
		spec runtime.EdgeSpec
	}
	var edges []*resolved
	for _, n := range g.Nodes {
		for _, e := range n.Inputs {
			spec := e.Spec
			if spec.Partitioning() == runtime.Forward && g.parallelism(e.From) != g.parallelism(n) {
				spec = spec.WithPartitioning(runtime.Rebalance)
			}
			edges = append(edges, &resolved{e: e, to: n, spec: spec})
		}
	}
	// Chaining: a node joins its predecessor's chain when it has exactly one
	// input, over a forward edge, with the same parallelism.
	head := make([]int, len(g.Nodes)) // chain head of each node
	for _, n := range g.Nodes {
		head[n.ID] = n.ID
		if g.DisableChaining || n.Chaining != ChainAlways || len(n.Inputs) != 1 {
			continue
		}
		e := n.Inputs[0]
		if e.Spec.Partitioning() != runtime.Forward || e.From.Chaining == ChainNever ||
			g.parallelism(e.From) != g.parallelism(n) || g.maxParallelism(e.From) != g.maxParallelism(n) {
			continue
		}
		head[n.ID] = head[e.From.ID]
	}
	plan := &runtime.Plan{Name: g.Name}
	vertexOf := map[int]*runtime.Vertex{} // by head node id
	opIndex := make([]int, len(g.Nodes))
	specs := make([]*runtime.OpSpec, len(g.Nodes))
	for _, n := range g.Nodes { // node order is topological
		h := head[n.ID]
		v := vertexOf[h]
		if v == nil {
			v = &runtime.Vertex{ID: len(plan.Vertices), Parallelism: g.parallelism(n), MaxParallelism: g.maxParallelism(n), Source: n.Source}
			vertexOf[h] = v
			plan.Vertices = append(plan.Vertices, v)
		}
		spec := &runtime.OpSpec{Name: n.Name, UID: g.UID(n), Out: n.Out, Side: n.Side, New: n.New, Keyed: n.Keyed}
		opIndex[n.ID] = len(v.Ops)
		v.Ops = append(v.Ops, spec)
		specs[n.ID] = spec
		if v.Name == "" {
			v.Name = n.Name
		} else {
			v.Name += " -> " + n.Name
		}
	}
	for _, r := range edges {
		from, to := r.e.From, r.to
		if head[to.ID] == head[from.ID] && head[to.ID] != to.ID {
			specs[from.ID].Chained = append(specs[from.ID].Chained, runtime.ChainedEdge{Port: r.e.Port, To: opIndex[to.ID], Spec: r.spec})
			continue
		}
		if head[to.ID] != to.ID {
			return nil, fmt.Errorf("internal: operator %q is chained but has a network input", to.Name)
		}
		ne := &runtime.NetEdge{From: vertexOf[head[from.ID]], FromOp: opIndex[from.ID], Port: r.e.Port, To: vertexOf[to.ID], Input: r.e.Input, Spec: r.spec}
		specs[from.ID].Net = append(specs[from.ID].Net, ne)
		ne.To.Inputs = append(ne.To.Inputs, ne)
	}
	if err := plan.Validate(); err != nil {
		return nil, err
	}
	return plan, nil
}
