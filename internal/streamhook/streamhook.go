// Package streamhook reaches the parts of a stream job that are not
// public API: its compiled physical plan and logical graph (for the
// CLI's `sluice plan` and progress display, and for tests of the
// layers below stream), and the runtime's test hooks in the checkpoint
// protocol (crash tests). Package stream fills the functions in when it
// is initialised; env is a *stream.Env.
package streamhook

import (
	"github.com/sluicehq/sluice/graph"
	"github.com/sluicehq/sluice/runtime"
)

var (
	// Plan compiles the job of env into its physical plan, with the
	// errors Execute would return for its settings and graph.
	Plan func(env any) (*runtime.Plan, error)
	// Graph returns the logical graph of env built so far.
	Graph func(env any) *graph.Graph
	// SetHooks installs h into env's checkpoint protocol.
	SetHooks func(env any, h runtime.Hooks)
)
