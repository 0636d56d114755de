// Package ops serves a running job to the people and tools that operate
// it: Prometheus metrics at /metrics, a versioned JSON REST API under
// /api/v1 (the job graph and its guarantee, checkpoints, backpressure,
// watermarks, failures and restarts; savepoint and stop with the job's
// token), and a small web dashboard at / whose assets are embedded in the
// binary.
//
// It sits beside cmd/sluice and the stream API, above the runtime: it
// reads a *runtime.Job (and the graph's guarantee report) and never
// reaches into the data path. Everything it shows is read at request time
// from counters the tasks publish per batch or per wait, or sampled once a
// second for rates, so serving it costs the records nothing.
//
// Start a server with Serve; docs/operations.md lists the endpoints and
// metric names.
package ops
