// Package baseline holds hand-written Go loops that compute the Nexmark
// queries of package nexmark over the same generator, in one goroutine,
// without the engine: no operators, no exchanges, no keyed state, no
// checkpoints. Each query is a function of the generator, the number of
// events and an emit function; Run measures one the way nexmark.RunBench
// measures the engine, so that the two figures compare.
//
// The loops follow the streaming semantics of the engine's queries:
// event-time windows fire when the watermark (the newest event time minus
// the configured delay) passes their end, so their results, as multisets,
// equal the engine's and those of nexmark/internal/reference. Where the
// engine keeps state in keyed state per key, the loops use the plainest Go
// maps that do the job.
package baseline
