// Package graph is the logical job graph that the typed API (package
// stream) and the YAML pipelines build: operators with their names, uids
// and parallelism, and the edges between them with their partitioning.
//
// Compile turns a Graph into a runtime.Plan: it resolves default
// parallelism, generates uids for operators that have none, turns forward
// edges between operators of different parallelism into rebalancing ones,
// and fuses operators into chains that run in one goroutine. It sits above
// the runtime: it knows the runtime's plan types, the runtime knows nothing
// of it.
package graph
