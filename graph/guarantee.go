package graph

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/runtime"
)

// Link is one part of the job that bounds its end-to-end guarantee: a
// source, a sink, or the checkpointing itself.
type Link struct {
	Name        string // operator name, or "checkpointing"
	Role        string // "source", "sink", "checkpoints"
	Declaration connector.Declaration
}

// GuaranteeReport is the job's end-to-end guarantee and why.
type GuaranteeReport struct {
	Guarantee connector.Guarantee
	// Weakest are the links that limit the guarantee.
	Weakest []Link
	// Links are all the links considered.
	Links []Link
	// Downgrades name sinks and sources that would give a stronger
	// guarantee with checkpoints.
	Downgrades []string
}

// Guarantee composes the declarations of the graph's sources and sinks with
// the checkpoint mode into the end-to-end guarantee.
func (g *Graph) Guarantee(checkpointing bool, mode runtime.CheckpointMode) GuaranteeReport {
	var r GuaranteeReport
	cp := Link{Name: "checkpointing", Role: "checkpoints"}
	switch {
	case !checkpointing:
		cp.Declaration = connector.Declaration{Guarantee: connector.AtMostOnce,
			Reason: "no checkpoints: state is lost on failure and the job starts over or stops"}
	case mode == runtime.AtLeastOnce:
		cp.Declaration = connector.Declaration{Guarantee: connector.AtLeastOnce,
			Reason: "at-least-once checkpoints (no barrier alignment): after a restore some records may count twice in state"}
	default:
		cp.Declaration = connector.Declaration{Guarantee: connector.ExactlyOnce,
			Reason: "exactly-once checkpoints (aligned barriers)"}
	}
	r.Links = append(r.Links, cp)
	for _, n := range g.Nodes {
		if n.Kind != KindSource && n.Kind != KindSink {
			continue
		}
		role := "source"
		if n.Kind == KindSink {
			role = "sink"
		}
		l := Link{Name: n.Name, Role: role}
		if d, ok := n.Declaration(checkpointing); ok {
			l.Declaration = d
			if !checkpointing {
				if withCP, _ := n.Declaration(true); withCP.Guarantee > d.Guarantee {
					r.Downgrades = append(r.Downgrades, fmt.Sprintf("%s %q gives %s only with checkpoints (now %s): %s",
						role, n.Name, withCP.Guarantee, d.Guarantee, d.Reason))
				}
			}
		} else {
			l.Declaration = connector.Declaration{Guarantee: connector.AtMostOnce,
				Reason: "the connector declares no guarantee, so none is assumed"}
		}
		r.Links = append(r.Links, l)
	}
	r.Guarantee = connector.ExactlyOnce
	for _, l := range r.Links {
		r.Guarantee = min(r.Guarantee, l.Declaration.Guarantee)
	}
	for _, l := range r.Links {
		if l.Declaration.Guarantee == r.Guarantee {
			r.Weakest = append(r.Weakest, l)
		}
	}
	return r
}

// String renders the report in a few lines.
func (r GuaranteeReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "end-to-end guarantee: %s\n", r.Guarantee)
	if r.Guarantee < connector.ExactlyOnce {
		for _, l := range r.Weakest {
			fmt.Fprintf(&b, "  weakest link: %s %q: %s\n", l.Role, l.Name, l.Declaration.Reason)
		}
	}
	for _, l := range r.Links {
		fmt.Fprintf(&b, "  %-11s %-24q %-13s %s\n", l.Role, l.Name, l.Declaration.Guarantee, l.Declaration.Reason)
	}
	for _, d := range r.Downgrades {
		fmt.Fprintf(&b, "  downgraded: %s\n", d)
	}
	return b.String()
}
