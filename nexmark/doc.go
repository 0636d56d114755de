// Package nexmark is the Nexmark benchmark on sluice: a deterministic
// generator of the auction events (people, auctions and bids) that follows
// the reference generator of the nexmark/nexmark project, an exactly-once
// source of those events, the queries q0-q5, q7, q8, q11 and q12 written
// with the public stream API, a sink that reads every field of a result
// and discards it, and RunBench, which runs one query and reports events
// per second and per CPU-second.
//
// The package sits beside the connectors: it uses the stream API and the
// connector contracts only. Hand-written loops that do the same work
// without the engine live in nexmark/baseline; the command
// nexmark/cmd/nexmark-bench runs both and prints the table of
// docs/nexmark.md.
//
// # Events
//
// Event number n (0, 1, 2, ...) is a pure function of the Config (its seed
// included) and n: of every 50 events, 1 is a person, 3 are auctions and 46
// are bids, and event n happens at BaseTime + n*1000/Rate milliseconds of
// event time. A source subtask k of p emits the event numbers k, k+p,
// k+2p, ... (interleaved), so the set of events does not depend on the
// parallelism, each subtask's timestamps increase, and a split's progress
// is one number: the next event number.
//
// Bids are stored in Event by value; people and auctions, one event in 25,
// by pointer. The strings of the events a Generator makes are carved from
// chunks of memory it allocates a few kilobytes at a time, so a string kept
// for long (in state, for example) keeps its chunk alive.
package nexmark
